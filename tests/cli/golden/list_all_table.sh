$ARGOT files list --all --limit 2
