$ARGOT files retrieve file-canned4 --json
