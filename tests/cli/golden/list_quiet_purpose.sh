$ARGOT files list -q --purpose batch
