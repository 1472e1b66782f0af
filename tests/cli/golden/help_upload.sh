$ARGOT --help files create
