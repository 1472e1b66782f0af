$ARGOT --max-retries 3 --base-url "$MURL/m/r3/429+rams=10/v1" files list || echo "exit $?"
curl -s "$MURL/_stats/r3" | grep -o "\"attempts\":[0-9]*"
