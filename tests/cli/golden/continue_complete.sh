# --continue on a complete file: the server answers 416 with the same size; nothing changes.
printf 'canned file 2\n' >"$T/out"
$ARGOT files download file-canned2 -o "$T/out" --continue
cat "$T/out"
