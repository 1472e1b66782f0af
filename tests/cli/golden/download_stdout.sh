$ARGOT files download file-canned2
$ARGOT files content file-canned2 -o -
