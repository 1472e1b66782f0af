$ARGOT --json files list --all --limit 2 --order asc
