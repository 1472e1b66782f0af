printf "bye" > "$T/b"
id=$($ARGOT files upload "$T/b" --purpose assistants -q)
$ARGOT files delete "$id"
$ARGOT files delete "$id" --json || echo "exit $?"
$ARGOT files get "$id"
