$ARGOT --timeout 0.3 --max-retries 1 --base-url "$MURL/m/r5/stall/v1" files list || echo "exit $?"
curl -s "$MURL/_stats/r5" | grep -o "\"attempts\":[0-9]*"
