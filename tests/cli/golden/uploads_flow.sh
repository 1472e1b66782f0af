# The raw calls, human output: create, two parts (one a range of a file), complete, download.
printf 'xx{"a":1}\n{"b":2}\nyy' > "$T/src.jsonl"
$ARGOT uploads create --filename data.jsonl --purpose fine-tune --bytes 16 --expires-after 7200
p1=$($ARGOT uploads add-part upload_mock0001 "$T/src.jsonl" --offset 2 --length 8 -q)
$ARGOT uploads add-part upload_mock0001 "$T/src.jsonl" --offset 10 --length 8
$ARGOT uploads complete upload_mock0001 "$p1" part_mock000002
$ARGOT files download file-mock0001
