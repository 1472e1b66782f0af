$ARGOT files list --purpose
