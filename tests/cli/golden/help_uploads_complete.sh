$ARGOT uploads complete --help
