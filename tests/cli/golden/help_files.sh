$ARGOT files --help
