unset ARGOT_BASE_URL ARGOT_API_KEY
# No key and no server named: said at once, no request to api.openai.com (this machine
# is offline, so a request would end as a network error).
$ARGOT --max-retries 0 files list
