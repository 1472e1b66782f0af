#!/usr/bin/env bash
# The S3 client's streaming writer and reader against plain curl PUT/GET of the same bytes to
# the same Swift, in one run (ratios only mean something within a run). Not a test.
#   tests/s3/bench_vs_curl.sh BUILD_DIR [MIB] [ROUNDS]
# Each round times curl PUT, the writer, curl GET and the reader, one after the other; the
# ratio is curl's time over ours (1.00x: as fast as curl). The summary gives min and median
# over the rounds. S3BENCH_PART_MIB and S3BENCH_INFLIGHT set the writer's part size and parts
# in flight (the client's defaults otherwise).
set -euo pipefail
build=$(cd "${1:?usage: bench_vs_curl.sh BUILD_DIR [MIB] [ROUNDS]}" && pwd)
mib=${2:-512}
rounds=${3:-5}
here=$(cd "$(dirname "$0")/../.." && pwd)
dir=$(mktemp -d /tmp/argot-s3bench-XXXXXX)
chmod 755 "$dir" # the servers run as user swift
trap '"$here"/scripts/testsrv/swift-down.sh "$dir/swift"; rm -rf "$dir"' EXIT
ep=$("$here"/scripts/testsrv/swift-up.sh "$dir/swift")
[ -f "$dir/swift/skip" ] && exit 0
bench=$build/s3bench
"$bench" mkbucket "$ep" bench
data=/dev/shm/argot-s3bench-$$
[ -d /dev/shm ] || data=$dir/data
head -c $((mib << 20)) /dev/urandom >"$data"
trap '"$here"/scripts/testsrv/swift-down.sh "$dir/swift"; rm -rf "$dir" "$data"' EXIT

curl_put() {
    mapfile -t s < <("$bench" sign "$ep" bench PUT "$1")
    local t0=$(date +%s.%N)
    curl -sSf -o /dev/null -T "$data" -H "Expect:" -H "${s[1]}" -H "${s[2]}" -H "${s[3]}" "${s[0]}"
    echo "$(date +%s.%N) - $t0" | bc
}
curl_get() {
    mapfile -t s < <("$bench" sign "$ep" bench GET "$1")
    local t0=$(date +%s.%N)
    curl -sSf -o /dev/null -H "${s[1]}" -H "${s[2]}" -H "${s[3]}" "${s[0]}"
    echo "$(date +%s.%N) - $t0" | bc
}
mbs() { echo "scale=1; $mib * 1.048576 / $1" | bc; }
# min and median of the numbers on stdin
minmed() { sort -g | awk '{v[NR] = $1} END {m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "min %.2fx, median %.2fx", v[1], m}'; }
echo "writer: part ${S3BENCH_PART_MIB:-default} MiB, ${S3BENCH_INFLIGHT:-default} parts in flight; $mib MiB, $rounds rounds"
put_ratios=() get_ratios=()
for r in $(seq 1 "$rounds"); do
    cp_=$(curl_put "curl-$r")
    read -r wp wrss < <("$bench" write "$ep" bench "argot-$r" "$mib")
    cg=$(curl_get "curl-$r")
    read -r rg rrss < <("$bench" read "$ep" bench "argot-$r")
    put_ratios+=("$(echo "$cp_ / $wp" | bc -l)")
    get_ratios+=("$(echo "$cg / $rg" | bc -l)")
    printf 'round %d: PUT curl %s MB/s, writer %s MB/s (%.2fx, peak RSS %d KiB); GET curl %s MB/s, reader %s MB/s (%.2fx, peak RSS %d KiB)\n' \
        "$r" "$(mbs "$cp_")" "$(mbs "$wp")" "${put_ratios[-1]}" "$wrss" \
        "$(mbs "$cg")" "$(mbs "$rg")" "${get_ratios[-1]}" "$rrss"
done
echo "writer vs curl PUT: $(printf '%s\n' "${put_ratios[@]}" | minmed); reader vs curl GET: $(printf '%s\n' "${get_ratios[@]}" | minmed)"
echo "swift start: $(cat "$dir/swift/start_seconds") s"
