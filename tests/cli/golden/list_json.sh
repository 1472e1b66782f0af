$ARGOT files list --json --limit 2 --order asc
