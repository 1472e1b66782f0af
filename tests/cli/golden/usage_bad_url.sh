$ARGOT --base-url ftp://x files list
