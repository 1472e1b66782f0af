$ARGOT files download file-canned5 -o "$T/out"
cat "$T/out"
