$ARGOT files list --purpose nothing
$ARGOT files list --purpose nothing --json
