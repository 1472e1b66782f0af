$ARGOT --base-url "$MURL/m/r4/drop,ok/v1" files get file-canned2 -q
