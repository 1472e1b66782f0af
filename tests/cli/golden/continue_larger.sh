# --continue on a file larger than the remote one: refused (416), the file left as it is.
printf 'canned file 2\nand more\n' >"$T/out"
$ARGOT files download file-canned2 -o "$T/out" --continue || echo "exit $?"
cat "$T/out"
