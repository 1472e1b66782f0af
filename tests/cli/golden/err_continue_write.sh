# A write error while resuming names the path and keeps the bytes written (RLIMIT_FSIZE of
# 100 blocks of 512 bytes, SIGXFSZ ignored: write() fails with EFBIG past 51200 bytes).
seq 1 50000 >"$T/src"
id=$($ARGOT files upload "$T/src" --purpose batch -q)
head -c 1000 "$T/src" >"$T/out"
(trap '' XFSZ; ulimit -f 100; $ARGOT files download "$id" -o "$T/out" --continue) || echo "exit $?"
wc -c <"$T/out"
cmp -s "$T/out" "$T/src" || echo "a prefix: $(head -c 51200 "$T/src" | cmp - "$T/out" && echo yes)"
