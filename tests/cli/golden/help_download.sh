$ARGOT files download -h
