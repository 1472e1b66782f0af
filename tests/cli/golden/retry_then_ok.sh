$ARGOT --base-url "$MURL/m/r1/503,429+rams=10,ok/v1" files get file-canned1 -q
curl -s "$MURL/_stats/r1" | grep -o "\"attempts\":[0-9]*"
