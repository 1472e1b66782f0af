$ARGOT files download file-canned2 -o "$T/no/such/dir/out" --continue
