# --limit-rate caps the receive speed (libcurl's); the bytes are the same.
$ARGOT files download file-canned2 --limit-rate 1M
