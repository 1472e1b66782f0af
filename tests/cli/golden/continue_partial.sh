# --continue on a partial file: only the rest is asked for (Range: bytes=123457-) and appended.
seq 1 50000 >"$T/src"
id=$($ARGOT files upload "$T/src" --purpose batch -q)
head -c 123457 "$T/src" >"$T/out"
$ARGOT --base-url "$MURL/m/cp/ok/v1" files download "$id" -o "$T/out" --continue
curl -s "$MURL/_stats/cp" | grep -o 'Range: bytes=[0-9]*-'
sha256sum <"$T/out" | cut -d' ' -f1
sha256sum <"$T/src" | cut -d' ' -f1
