$ARGOT --version
