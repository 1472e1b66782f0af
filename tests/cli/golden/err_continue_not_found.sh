# --continue of a file that does not exist on the server: no empty file is left behind.
$ARGOT files download file-nope -o "$T/out" --continue || echo "exit $?"
ls "$T/out" 2>/dev/null || echo "no file"
