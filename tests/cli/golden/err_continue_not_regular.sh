mkdir "$T/dir"
$ARGOT files download file-canned2 -o "$T/dir" --continue
