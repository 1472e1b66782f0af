$ARGOT files get file-canned3
