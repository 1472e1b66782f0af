$ARGOT --base-url "$MURL/m/r7/badjson/v1" files get x
