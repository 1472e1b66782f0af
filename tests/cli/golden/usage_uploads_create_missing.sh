$ARGOT uploads create --filename a.jsonl --purpose batch
