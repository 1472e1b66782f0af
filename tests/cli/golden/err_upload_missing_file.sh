$ARGOT files upload "$T/nope" --purpose batch
