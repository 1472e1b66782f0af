# The raw calls with --json and -q; complete checks the md5; cancel, human and --json.
printf 'hello world\n' > "$T/h.txt"
$ARGOT --json uploads create --filename h.txt --purpose assistants --bytes 12 --mime-type text/plain
$ARGOT uploads add-part upload_mock0001 "$T/h.txt" --json
$ARGOT uploads complete upload_mock0001 part_mock000001 --md5 6f5902ac237024bdd0c176cb93063dc4 --json
$ARGOT uploads create --filename c.txt --purpose assistants --bytes 1 -q
$ARGOT uploads cancel upload_mock0002
$ARGOT uploads create --filename d.txt --purpose assistants --bytes 1 -q
$ARGOT uploads cancel upload_mock0003 --json
$ARGOT uploads complete upload_mock0001 part_mock000001 -q
