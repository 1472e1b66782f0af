$ARGOT files frobnicate
