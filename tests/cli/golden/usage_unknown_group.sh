$ARGOT models list
