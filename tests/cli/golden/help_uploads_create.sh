$ARGOT uploads create --help
