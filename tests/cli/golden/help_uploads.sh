$ARGOT uploads --help
