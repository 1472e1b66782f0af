$ARGOT files get
