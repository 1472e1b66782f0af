$ARGOT files list --after file-canned3 --order=desc
