printf 'x' > "$T/x"
$ARGOT files upload "$T/x" --purpose batch --parts --part-size 65M
