$ARGOT --max-retries 0 --base-url "$MURL/m/r2/503,ok/v1" files get file-canned1 || echo "exit $?"
curl -s "$MURL/_stats/r2" | grep -o "\"attempts\":[0-9]*"
