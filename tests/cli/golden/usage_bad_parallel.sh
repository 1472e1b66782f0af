printf 'x' > "$T/x"
$ARGOT files upload "$T/x" --purpose batch --parallel 0
