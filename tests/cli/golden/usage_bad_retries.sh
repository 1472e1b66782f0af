$ARGOT --max-retries -1 files list
