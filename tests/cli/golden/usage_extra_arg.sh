$ARGOT files get a b
