$ARGOT files get file-canned1 --all
