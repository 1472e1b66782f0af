$ARGOT files download file-canned5 --output "$T/out" --quiet
cat "$T/out"
