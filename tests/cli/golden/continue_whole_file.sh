# --continue against a server that ignores Range (as api.openai.com): 200, the file rewritten.
printf 'XXXXXXXX' >"$T/out"
$ARGOT --base-url "$MURL/m/cw/norange/v1" files download file-canned2 -o "$T/out" --continue
cat "$T/out"
