printf 'hello world\n' > "$T/hello.txt"
$ARGOT files upload "$T/hello.txt" --purpose batch --parts --json
$ARGOT files upload "$T/hello.txt" --purpose batch --parts -q
