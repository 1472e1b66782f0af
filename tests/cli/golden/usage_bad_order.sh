$ARGOT files list --order up
