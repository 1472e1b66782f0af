$ARGOT files download file-canned2 --limit-rate 0
