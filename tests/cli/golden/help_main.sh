$ARGOT --help
