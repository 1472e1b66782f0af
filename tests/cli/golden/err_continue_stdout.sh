$ARGOT files download file-canned2 --continue
