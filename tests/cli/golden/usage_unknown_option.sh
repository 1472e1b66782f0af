$ARGOT files list --bogus
