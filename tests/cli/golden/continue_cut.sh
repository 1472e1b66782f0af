# --continue whose transfer is cut mid-way: the retry resumes again (bytes=6-, then bytes=10-).
printf 'canned' >"$T/out"
$ARGOT --base-url "$MURL/m/cc/cut,ok/v1" files download file-canned2 -o "$T/out" --continue
curl -s "$MURL/_stats/cc" | grep -o '"attempts":[0-9]*\|Range: bytes=[0-9]*-\|If-Range: [^\\]*\\"[^\\]*\\"'
cat "$T/out"
