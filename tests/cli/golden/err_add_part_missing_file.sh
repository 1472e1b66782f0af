$ARGOT uploads add-part upload_abc "$T/nope"
