$ARGOT files get file-nope
