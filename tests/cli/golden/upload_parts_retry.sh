# A part failing once with 503 is retried alone: 4 parts, 5 part requests, P0000002 twice.
for t in P0000001 P0000002 P0000003 P0000004; do printf '%s%0503d\n' $t 0; done > "$T/f.bin"
$ARGOT files upload "$T/f.bin" --purpose user_data --filename failpart_P0000002_1_f.bin --parts --part-size 512 -q
for k in parts P0000001 P0000002 P0000003 P0000004 complete cancel; do
    printf '%s ' $k; curl -s "$MURL/_stats/up:failpart_P0000002_1_f.bin:$k" | grep -o "\"attempts\":[0-9]*"
done
