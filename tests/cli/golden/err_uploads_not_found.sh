$ARGOT uploads cancel upload_nope
