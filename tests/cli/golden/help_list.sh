$ARGOT files list --help
