# files upload --parts: the Uploads API, output identical to a single-request upload.
i=0
while [ $i -lt 100 ]; do printf 'line %04d of the parts test\n' $i; i=$((i + 1)); done > "$T/p.txt"
$ARGOT files upload "$T/p.txt" --purpose user_data --expires-after 3600 --parts --part-size 1K --parallel 4
$ARGOT files download file-mock0001 | cmp - "$T/p.txt" && echo same
curl -s "$MURL/_stats/up:p.txt:parts" | grep -o "\"attempts\":[0-9]*"
