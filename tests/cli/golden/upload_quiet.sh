printf "x" > "$T/x"
$ARGOT files upload "$T/x" --purpose evals -q
