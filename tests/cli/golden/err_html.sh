$ARGOT --max-retries 0 --base-url "$MURL/m/r6/html/v1" files list
