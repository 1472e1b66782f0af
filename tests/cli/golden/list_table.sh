$ARGOT files list
