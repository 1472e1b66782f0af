printf "bye" > "$T/b"
$ARGOT files delete "$($ARGOT files upload "$T/b" --purpose assistants -q)" --json
