# A part that keeps failing: the upload is cancelled, argot reports the part's error, exit 1.
for t in P0000001 P0000002; do printf '%s%0503d\n' $t 0; done > "$T/f.bin"
$ARGOT files upload "$T/f.bin" --purpose user_data --filename failpart_P0000001_99_g.bin --parts --part-size 512 --max-retries 1 || code=$?
curl -s "$MURL/_stats/up:failpart_P0000001_99_g.bin:cancel" | grep -o "\"attempts\":[0-9]*"
exit $code
