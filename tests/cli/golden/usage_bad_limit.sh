$ARGOT files list --limit 0
