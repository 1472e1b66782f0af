$ARGOT --max-retries 0 --base-url http://127.0.0.1:1/v1 files list
