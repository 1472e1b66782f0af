$ARGOT uploads cancel upload_x --md5 00
