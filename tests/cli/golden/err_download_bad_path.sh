$ARGOT files download file-canned1 -o "$T/no/such/dir/x"
