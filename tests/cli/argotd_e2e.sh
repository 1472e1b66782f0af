#!/bin/sh
# argot against a real argotd on loopback: every command, JSON and human output, exit codes,
# and the memory test: a 512 MiB pseudo-random file is uploaded and downloaded through argot,
# whose peak RSS must stay under 32 MiB, and the bytes must round-trip exactly (SHA-256).
# Then resumed downloads: --continue on a partial, a complete, a larger and a missing file, and
# a 64 MiB download (at --limit-rate 8M) killed with SIGKILL mid-way, then finished by
# --continue byte-exact (SHA-256) under 32 MiB peak RSS. Then the Uploads API: `files upload --parts` of a 200 MiB file in 16 MiB parts over 4
# connections (round trip by SHA-256, argot and argotd peak RSS < 64 MiB, throughput printed next
# to a single-request upload of the same file). With ARGOT_LONG=1 the same with a 6 GiB file in
# 64 MiB parts (generated streamed in the temp dir; needs ~18 GiB of disk: source, blob, copy).
# usage: argotd_e2e.sh ARGOT ARGOTD PEAKRSS     (exit 77 = skipped: no argotd)
# ARGOT_BIG_MIB overrides the size of the big file (default 512); ARGOT_PARTS_MIB the parts one.
set -u
ARGOT=$1 ARGOTD=$2 PEAK=$3
[ -x "$ARGOTD" ] || { echo "argotd not built: skipped"; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/argot-e2e-XXXXXX")
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
expect_exit() { want=$1; shift; "$@"; got=$?; [ "$got" = "$want" ] || fail "exit $got (want $want): $*"; }
gen() { # gen MIB PATH: pseudo-random bytes, streamed
    if command -v openssl >/dev/null 2>&1; then
        openssl enc -aes-128-ctr -nosalt -pass pass:"argot-$1" -pbkdf2 </dev/zero 2>/dev/null |
            head -c $(($1 * 1048576)) >"$2"
    else
        head -c $(($1 * 1048576)) /dev/urandom >"$2"
    fi
}

KEY=$("$ARGOTD" keys create --data "$T/data" --org org-a) || fail "keys create"
"$ARGOTD" --listen 127.0.0.1:0 --data "$T/data" --port-file "$T/port" >"$T/argotd.log" 2>&1 &
pid=$!
i=0
while [ ! -s "$T/port" ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i + 1)); done
[ -s "$T/port" ] || fail "argotd did not start"
unset OPENAI_BASE_URL OPENAI_API_KEY ARGOT_BASE_URL ARGOT_API_KEY
export ARGOT_BASE_URL="http://127.0.0.1:$(cat "$T/port")/v1" ARGOT_API_KEY="$KEY"

# --- every command, human and --json output ---
printf '{"a":1}\n' >"$T/small.jsonl"
id=$("$ARGOT" files upload "$T/small.jsonl" --purpose fine-tune -q) || fail "upload"
case "$id" in file-*) ;; *) fail "upload printed '$id'" ;; esac
"$ARGOT" files get "$id" >"$T/get.txt" || fail "get"
grep -q "^filename  *small.jsonl$" "$T/get.txt" || fail "get output: $(cat "$T/get.txt")"
grep -q "^bytes  *8$" "$T/get.txt" || fail "get bytes"
"$ARGOT" files retrieve "$id" --json | grep -q "\"id\":\"$id\"" || fail "get --json"
"$ARGOT" --json files create "$T/small.jsonl" --purpose batch --filename b.jsonl \
    --expires-after 3600 >"$T/up.json" || fail "upload --json"
grep -q '"filename":"b.jsonl"' "$T/up.json" || fail "filename override"
grep -q '"expires_at":[0-9]' "$T/up.json" || fail "expires_after"
"$ARGOT" files list >"$T/list.txt" || fail "list"
head -1 "$T/list.txt" | grep -q "^ID  *BYTES  *CREATED  *PURPOSE  *FILENAME$" || fail "list header"
[ "$(wc -l <"$T/list.txt")" = 3 ] || fail "list rows: $(cat "$T/list.txt")"
"$ARGOT" files list --purpose fine-tune -q >"$T/ids" || fail "list --purpose"
[ "$(cat "$T/ids")" = "$id" ] || fail "list --purpose gave $(cat "$T/ids")"
"$ARGOT" files list --json --limit 1 --order asc | grep -q '"has_more":true' || fail "list --limit"
[ "$("$ARGOT" files list --all --limit 1 -q | wc -l)" = 2 ] || fail "list --all"
"$ARGOT" files download "$id" | cmp -s - "$T/small.jsonl" || fail "download to stdout"
"$ARGOT" files content "$id" -o "$T/dl" -q && cmp -s "$T/dl" "$T/small.jsonl" || fail "download -o"
[ "$("$ARGOT" files delete "$id")" = "deleted $id" ] || fail "delete"
expect_exit 1 "$ARGOT" files get "$id" 2>"$T/err"
grep -q "^argot: No such File object: $id (HTTP 404, request req_[0-9a-f]*)$" "$T/err" ||
    fail "404 line: $(cat "$T/err")"
expect_exit 1 "$ARGOT" files delete "$id" 2>/dev/null
expect_exit 1 "$ARGOT" --api-key sk-argot-wrong files list 2>"$T/err"
grep -q "(HTTP 401, request req_" "$T/err" || fail "401 line: $(cat "$T/err")"
expect_exit 1 "$ARGOT" files upload "$T/small.jsonl" --purpose world_domination 2>"$T/err"
grep -q "world_domination.*(HTTP 400, request" "$T/err" || fail "400 line: $(cat "$T/err")"
expect_exit 2 "$ARGOT" files upload "$T/small.jsonl" 2>/dev/null
echo "commands: ok"

# --- 512 MiB through argot: RSS and exact round trip ---
mib=${ARGOT_BIG_MIB:-512}
if command -v openssl >/dev/null 2>&1; then
    openssl enc -aes-128-ctr -nosalt -pass pass:argot-seed -pbkdf2 </dev/zero 2>/dev/null |
        head -c $((mib * 1048576)) >"$T/big"
else
    head -c $((mib * 1048576)) /dev/urandom >"$T/big"
fi
[ "$(wc -c <"$T/big")" = $((mib * 1048576)) ] || fail "could not generate the big file"
sum_in=$(sha256sum <"$T/big" | cut -d' ' -f1)
start=$(date +%s)
big=$("$PEAK" "$T/rss_up" "$ARGOT" files upload "$T/big" --purpose assistants -q) || fail "big upload"
mid=$(date +%s)
"$PEAK" "$T/rss_down" "$ARGOT" files download "$big" -o "$T/big.out" -q || fail "big download"
end=$(date +%s)
rm -f "$T/big"
sum_out=$(sha256sum <"$T/big.out" | cut -d' ' -f1)
rss_up=$(cat "$T/rss_up") rss_down=$(cat "$T/rss_down")
echo "big file: ${mib} MiB; upload ${rss_up} KiB peak RSS in $((mid - start)) s;" \
    "download ${rss_down} KiB peak RSS in $((end - mid)) s"
[ "$sum_in" = "$sum_out" ] || fail "SHA-256 differs: $sum_in vs $sum_out"
[ "$rss_up" -lt 32768 ] || fail "upload peak RSS ${rss_up} KiB >= 32 MiB"
[ "$rss_down" -lt 32768 ] || fail "download peak RSS ${rss_down} KiB >= 32 MiB"
"$ARGOT" files delete "$big" -q || fail "delete big"
echo "memory: ok"

# --- resumed downloads: --continue ---
i=0
while [ $i -lt 1000 ]; do printf 'line %05d of the resume test\n' $i; i=$((i + 1)); done >"$T/r.txt"
rid=$("$ARGOT" files upload "$T/r.txt" --purpose assistants -q) || fail "upload r.txt"
head -c 4321 "$T/r.txt" >"$T/r.out"
"$ARGOT" files download "$rid" -o "$T/r.out" --continue 2>"$T/err" || fail "continue: $(cat "$T/err")"
cmp -s "$T/r.out" "$T/r.txt" || fail "continue: not byte-exact"
grep -qx "argot: resumed $T/r.out at byte 4321: wrote 25679 bytes (30000 in all)" "$T/err" ||
    fail "continue: $(cat "$T/err")"
"$ARGOT" files download "$rid" -o "$T/r.out" --continue 2>"$T/err" || fail "continue complete"
grep -qx "argot: $T/r.out is already complete (30000 bytes)" "$T/err" || fail "complete: $(cat "$T/err")"
cat "$T/r.txt" "$T/r.txt" >"$T/r.big"
expect_exit 1 "$ARGOT" files download "$rid" -o "$T/r.big" --continue 2>"$T/err"
grep -q "^argot: $T/r.big has 60000 bytes, more than $rid on the server: " "$T/err" ||
    fail "larger: $(cat "$T/err")"
[ "$(wc -c <"$T/r.big")" = 60000 ] || fail "larger: the file was changed"
"$ARGOT" files download "$rid" -o "$T/r.new" --continue -q || fail "continue, no file yet"
cmp -s "$T/r.new" "$T/r.txt" || fail "continue, no file yet: not byte-exact"
"$ARGOT" files delete "$rid" -q || fail "delete r.txt"

gen 64 "$T/k.src"
sum_in=$(sha256sum <"$T/k.src" | cut -d' ' -f1)
kid=$("$ARGOT" files upload "$T/k.src" --purpose assistants -q) || fail "upload 64 MiB"
rm -f "$T/k.src"
"$ARGOT" files download "$kid" -o "$T/k.out" --limit-rate 8M -q &
dpid=$!
i=0 # 8 MiB take about 1 s at 8 MiB/s, the whole 64 MiB about 8 s
while [ "$(stat -c %s "$T/k.out" 2>/dev/null || echo 0)" -lt 8388608 ] && [ $i -lt 6000 ]; do
    sleep 0.01
    i=$((i + 1))
done
kill -9 "$dpid"
wait "$dpid" 2>/dev/null
got=$(wc -c <"$T/k.out")
[ "$got" -ge 8388608 ] && [ "$got" -lt 67108864 ] || fail "the download was not cut mid-way: $got bytes"
"$PEAK" "$T/rss_cont" "$ARGOT" files download "$kid" -o "$T/k.out" --continue 2>"$T/err" ||
    fail "continue after kill: $(cat "$T/err")"
grep -q "^argot: resumed $T/k.out at byte $got: wrote $((67108864 - got)) bytes (67108864 in all)$" \
    "$T/err" || fail "continue after kill: $(cat "$T/err")"
sum_out=$(sha256sum <"$T/k.out" | cut -d' ' -f1)
rss=$(cat "$T/rss_cont")
echo "resume: 64 MiB download killed at $got bytes; --continue wrote the rest, peak RSS ${rss} KiB"
[ "$sum_in" = "$sum_out" ] || fail "resume: SHA-256 differs: $sum_in vs $sum_out"
[ "$rss" -lt 32768 ] || fail "resume: peak RSS ${rss} KiB >= 32 MiB"
rm -f "$T/k.out"
"$ARGOT" files delete "$kid" -q || fail "delete 64 MiB"
echo "resume: ok"

# --- Uploads API: parts in parallel ---
ms() { date +%s%N | cut -c1-13; }
mibps() { awk -v b="$1" -v t="$2" 'BEGIN { if (t < 1) t = 1; printf "%.1f", b / 1048576 / (t / 1000) }'; }
hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status"; }
if ! "$ARGOT" uploads create --filename probe.jsonl --purpose fine-tune --bytes 1 \
    --mime-type text/jsonl -q >"$T/probe" 2>"$T/err"; then
    if grep -q "(HTTP 404" "$T/err"; then
        echo "uploads: argotd has no /v1/uploads yet: skipped"
        exit 0
    fi
    fail "uploads create: $(cat "$T/err")"
fi
"$ARGOT" uploads cancel "$(cat "$T/probe")" -q >/dev/null || fail "uploads cancel"

# raw calls, human and --json
printf '{"a":1}\n{"b":2}\n' >"$T/two.jsonl"
up=$("$ARGOT" uploads create --filename two.jsonl --purpose fine-tune --bytes 16 -q) ||
    fail "uploads create"
case "$up" in upload_*) ;; *) fail "uploads create printed '$up'" ;; esac
p2=$("$ARGOT" uploads add-part "$up" "$T/two.jsonl" --offset 8 --length 8 -q) || fail "add-part 2"
"$ARGOT" uploads add-part "$up" "$T/two.jsonl" --length 8 --json >"$T/p1.json" || fail "add-part 1"
p1=$(sed -n 's/.*"id":"\(part_[0-9a-f]*\)".*/\1/p' "$T/p1.json")
grep -q "\"upload_id\":\"$up\"" "$T/p1.json" || fail "add-part --json: $(cat "$T/p1.json")"
md5=$(md5sum <"$T/two.jsonl" | cut -d' ' -f1)
"$ARGOT" uploads complete "$up" "$p1" "$p2" --md5 "$md5" >"$T/done.txt" || fail "complete"
grep -q "^status  *completed$" "$T/done.txt" || fail "complete output: $(cat "$T/done.txt")"
fid=$(sed -n 's/^file  *\(file-.*\)$/\1/p' "$T/done.txt")
"$ARGOT" files download "$fid" | cmp -s - "$T/two.jsonl" || fail "raw parts round trip"
expect_exit 1 "$ARGOT" uploads add-part "$up" "$T/two.jsonl" 2>/dev/null
echo "uploads commands: ok"

parts_run() { # parts_run MIB PART_SIZE
    mib=$1
    gen "$mib" "$T/parts"
    [ "$(wc -c <"$T/parts")" = $((mib * 1048576)) ] || fail "could not generate ${mib} MiB"
    sum_in=$(sha256sum <"$T/parts" | cut -d' ' -f1)
    single="skipped (over 512 MiB)"
    if [ "$mib" -le 512 ]; then
        t0=$(ms)
        one=$("$ARGOT" files upload "$T/parts" --purpose assistants -q) || fail "single upload"
        single="$(mibps $((mib * 1048576)) $(($(ms) - t0))) MiB/s"
        "$ARGOT" files delete "$one" -q || fail "delete single"
    else
        gen 512 "$T/one"
        t0=$(ms)
        one=$("$ARGOT" files upload "$T/one" --purpose assistants -q) || fail "single 512 upload"
        single="$(mibps $((512 * 1048576)) $(($(ms) - t0))) MiB/s (512 MiB file)"
        "$ARGOT" files delete "$one" -q || fail "delete single"
        rm -f "$T/one"
    fi
    t0=$(ms)
    fid=$("$PEAK" "$T/rss_parts" "$ARGOT" files upload "$T/parts" --purpose assistants --parts \
        --part-size "$2" --parallel 4 -q) || fail "parts upload"
    t1=$(ms)
    "$ARGOT" files download "$fid" -o "$T/parts.out" -q || fail "parts download"
    sum_out=$(sha256sum <"$T/parts.out" | cut -d' ' -f1)
    rm -f "$T/parts.out"
    rss=$(cat "$T/rss_parts") srv=$(hwm)
    echo "parts: ${mib} MiB in $2 parts x4: $(mibps $((mib * 1048576)) $((t1 - t0))) MiB/s;" \
        "single request: $single; argot peak RSS ${rss} KiB; argotd peak RSS (VmHWM) ${srv} KiB"
    [ "$sum_in" = "$sum_out" ] || fail "parts SHA-256 differs: $sum_in vs $sum_out"
    [ "$rss" -lt 65536 ] || fail "argot peak RSS ${rss} KiB >= 64 MiB"
    [ "$srv" -lt 65536 ] || fail "argotd peak RSS ${srv} KiB >= 64 MiB"
    "$ARGOT" files delete "$fid" -q || fail "delete parts file"
    rm -f "$T/parts"
}
parts_run "${ARGOT_PARTS_MIB:-200}" 16M
if [ "${ARGOT_LONG:-}" = 1 ]; then
    parts_run 6144 64M
fi
echo "uploads: ok"
