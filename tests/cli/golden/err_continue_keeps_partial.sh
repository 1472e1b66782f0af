# A --continue that fails mid-way keeps what it wrote; the next --continue finishes it.
printf 'ca' >"$T/out"
$ARGOT --max-retries 0 --base-url "$MURL/m/ck/cut/v1" files download file-canned2 -o "$T/out" -c || echo "exit $?"
cat "$T/out"; echo
$ARGOT -q files download file-canned2 -o "$T/out" -c
cat "$T/out"
