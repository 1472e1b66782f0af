unset ARGOT_API_KEY
$ARGOT files list
