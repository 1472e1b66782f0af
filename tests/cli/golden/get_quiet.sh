$ARGOT -q files get file-canned1
