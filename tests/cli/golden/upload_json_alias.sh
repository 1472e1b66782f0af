printf "{}\n" > "$T/a.jsonl"
$ARGOT files create "$T/a.jsonl" --purpose batch --filename renamed.jsonl --json
