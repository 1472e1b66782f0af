$ARGOT uploads complete
