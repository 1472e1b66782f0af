printf 'hello world\n' > "$T/h.txt"
$ARGOT uploads create --filename h.txt --purpose assistants --bytes 12 -q
$ARGOT uploads add-part upload_mock0001 "$T/h.txt" -q
$ARGOT uploads complete upload_mock0001 part_mock000001 --md5 00000000000000000000000000000000
