printf "hello world\n" > "$T/hello.txt"
$ARGOT files upload "$T/hello.txt" --purpose user_data --expires-after 3600
