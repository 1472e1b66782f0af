# --continue with no file yet: a plain download.
$ARGOT files download file-canned2 -o "$T/out" -c
cat "$T/out"
