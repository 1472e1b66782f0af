#!/bin/bash
# `argotd keys` and `argotd fsck` on backend pairs, each run with the settings its argotd was
# started with (--meta/--blob flags, or ARGOT_META/ARGOT_BLOB), beside and after that server,
# driven by curl. Then each subcommand's --help: on stdout, exit 0, and every option it lists
# is accepted by the code.
#
#   argotd_admin.sh ARGOTD PAIR...     PAIR: sqlite-file sqlite-mem mem-file mem-mem pg-file pg-mem
#
# pg-* pairs start a throwaway PostgreSQL 15 (scripts/testsrv/pg-up.sh, which installs it as
# root when missing); where it cannot run, the script says so loudly and exits 77 (skipped).
set -u
ARGOTD=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$here/../.." && pwd)
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
[ -x "$ARGOTD" ] || { echo "argotd not built: skipped"; exit 77; }
command -v curl >/dev/null || { echo "FAIL: curl is needed"; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/argot-admin-XXXXXX")
chmod 0755 "$T" # pg-up.sh may run PostgreSQL as another user under it
pid=
pg=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    [ -n "$pg" ] && "$ROOT"/scripts/testsrv/pg-down.sh "$pg" >/dev/null 2>&1
    rm -rf "$T"
}
trap cleanup EXIT
fail() {
    echo "FAIL [${pair:-}]: $*"
    [ -f "${D:-/nonexistent}/argotd.log" ] && tail -20 "$D/argotd.log"
    exit 1
}
# want CODE OUTFILE CMD...: run CMD (stdout to OUTFILE, stderr to OUTFILE.err), check its exit
want() {
    w=$1 out=$2
    shift 2
    "$@" >"$out" 2>"$out.err"
    got=$?
    [ "$got" = "$w" ] || fail "exit $got (want $w): $* -- $(cat "$out" "$out.err")"
}
http() { # http KEY METHOD PATH [curl args...]: prints the status code, body to $T/body
    k=$1 m=$2 p=$3
    shift 3
    curl -s -o "$T/body" -w '%{http_code}' -X "$m" -H "Authorization: Bearer $k" "$@" \
        "http://127.0.0.1:$port/v1$p"
}

start_pg() {
    [ -n "$pg" ] && return 0
    pg=$T/pg
    "$ROOT"/scripts/testsrv/pg-up.sh "$pg" >"$T/pg.uri" || fail "pg-up.sh failed"
    if [ -f "$pg/skip" ]; then
        printf '\n*** SKIPPING argotd keys/fsck on PostgreSQL: %s ***\n\n' "$(cat "$pg/skip")"
        pg=
        exit 77
    fi
    PGPORT=$(sed -n 's|.*@127.0.0.1:\([0-9]*\)/.*|\1|p' "$T/pg.uri")
}

start_server() { # start_server ARGS...: argotd on port 0, $pid and $port set
    rm -f "$D/port"
    "$ARGOTD" --listen 127.0.0.1:0 --port-file "$D/port" --lease-seconds 5 "$@" \
        >"$D/argotd.log" 2>&1 &
    pid=$!
    i=0
    while [ ! -s "$D/port" ] && [ $i -lt 1500 ]; do sleep 0.01; i=$((i + 1)); done
    [ -s "$D/port" ] || fail "argotd did not start"
    port=$(cat "$D/port")
}

stop_server() {
    kill -TERM "$pid"
    wait "$pid" || fail "argotd exited $? on SIGTERM"
    pid=
}

# A pair whose metadata persists (sqlite, pg): the server and the commands share it.
persistent_pair() {
    S=(--meta "$META" --blob "$BLOB")
    start_server --data "$D/data" "${S[@]}"
    want 0 "$T/k1" "$ARGOTD" keys create "${S[@]}" --org org-a --name flags
    k1=$(cat "$T/k1")
    # the same settings through the environment, as an instance may be configured
    want 0 "$T/k2" env ARGOT_META="$META" ARGOT_BLOB="$BLOB" "$ARGOTD" keys create \
        --org org-b --name env
    k2=$(cat "$T/k2")
    printf '{"x":1}\n' >"$T/a.jsonl"
    [ "$(http "$k1" POST /files -F purpose=fine-tune -F file=@"$T/a.jsonl")" = 200 ] ||
        fail "upload with the new key: $(cat "$T/body")"
    [ "$(http "$k2" GET /files)" = 200 ] || fail "list with the env key: $(cat "$T/body")"
    want 0 "$T/list" "$ARGOTD" keys list "${S[@]}"
    [ "$(grep -c ' active$' "$T/list")" = 2 ] || fail "keys list: $(cat "$T/list")"
    id2=$(awk '$2 == "org-b" {print $1}' "$T/list")
    [ -n "$id2" ] || fail "no org-b key in: $(cat "$T/list")"
    want 0 "$T/rv" env ARGOT_META="$META" "$ARGOTD" keys revoke --blob "$BLOB" "$id2"
    [ "$(http "$k2" GET /files)" = 401 ] || fail "a revoked key still works"
    [ "$(http "$k1" GET /files)" = 200 ] || fail "the other key stopped working"
    want 1 "$T/rv2" "$ARGOTD" keys revoke "${S[@]}" "$id2"
    grep -q "no active key $id2" "$T/rv2.err" || fail "second revoke: $(cat "$T/rv2.err")"
    want 0 "$T/list" "$ARGOTD" keys list "${S[@]}"
    grep -q "^$id2 .* revoked$" "$T/list" || fail "keys list after revoke: $(cat "$T/list")"

    # fsck beside the running server: its data dir is refused, the shared stores are checked,
    # --repair is refused while its lease lives
    if [ "$BLOB_KIND" = file ]; then
        want 2 "$T/f" "$ARGOTD" fsck --data "$D/data" "${S[@]}"
        grep -q "in use by a running argotd" "$T/f.err" || fail "fsck --data: $(cat "$T/f.err")"
        want 0 "$T/f" "$ARGOTD" fsck "${S[@]}"
        want 2 "$T/f" "$ARGOTD" fsck "${S[@]}" --repair
        grep -q "hold.* a live lease" "$T/f.err" || fail "fsck --repair: $(cat "$T/f.err")"
    fi
    stop_server

    if [ "$BLOB_KIND" = mem ]; then
        # the server's blobs went with it; fsck's own mem: would call every file lost
        want 2 "$T/f" "$ARGOTD" fsck "${S[@]}"
        grep -q "mem: is this process's own memory" "$T/f.err" || fail "fsck: $(cat "$T/f.err")"
        want 2 "$T/f" "$ARGOTD" fsck "${S[@]}" --repair
        return
    fi
    want 0 "$T/f" env ARGOT_META="$META" ARGOT_BLOB="$BLOB" "$ARGOTD" fsck --data "$D/data"
    grep -q " 0 problems" "$T/f.err" || fail "fsck summary: $(cat "$T/f.err")"
    blob=$(find "$D/blobs/blobs" -type f | head -1)
    [ -n "$blob" ] || fail "no blob under $D/blobs/blobs"
    rm -f "$blob"
    want 1 "$T/f" "$ARGOTD" fsck "${S[@]}"
    grep -q "^missing-blob " "$T/f" || fail "fsck did not find the lost blob: $(cat "$T/f")"
    want 1 "$T/f" "$ARGOTD" fsck "${S[@]}" --repair
    want 0 "$T/f" "$ARGOTD" fsck "${S[@]}"
    start_server --data "$D/data" "${S[@]}"
    [ "$(http "$k1" GET /files)" = 200 ] || fail "list after the repair"
    grep -q '"data":\[\]' "$T/body" || fail "the lost file is still listed: $(cat "$T/body")"
    stop_server
}

# A pair on mem: metadata: each process has its own, so keys and fsck work on an empty store of
# their own, and say so; nothing they do reaches the server.
mem_pair() {
    S=(--meta mem: --blob "$BLOB")
    start_server --data "$D/data" "${S[@]}" --bootstrap-key
    want 0 "$T/k1" "$ARGOTD" keys create "${S[@]}" --org org-a
    grep -q "mem: is this process's own memory" "$T/k1.err" || fail "no warning: $(cat "$T/k1.err")"
    [ "$(http "$(cat "$T/k1")" GET /files)" = 401 ] || fail "a mem: key of another process works"
    want 0 "$T/list" "$ARGOTD" keys list "${S[@]}"
    [ ! -s "$T/list" ] || fail "keys list on a fresh mem: store: $(cat "$T/list")"
    want 1 "$T/rv" "$ARGOTD" keys revoke "${S[@]}" key_nonesuch
    if [ "$BLOB_KIND" = mem ]; then
        want 0 "$T/f" "$ARGOTD" fsck "${S[@]}"
    else
        want 2 "$T/f" "$ARGOTD" fsck "${S[@]}" --repair
        grep -q "mem: is this process's own memory" "$T/f.err" || fail "fsck: $(cat "$T/f.err")"
    fi
    stop_server
}

for pair in "$@"; do
    D=$T/$pair
    mkdir -p "$D/data"
    BLOB_KIND=${pair#*-}
    case $BLOB_KIND in
    file) BLOB=file:$D/blobs ;;
    mem) BLOB=mem: ;;
    *) fail "unknown pair $pair" ;;
    esac
    case ${pair%-*} in
    sqlite) META=sqlite:$D/meta.db ;;
    pg)
        start_pg
        db=argot_${pair//-/_}
        "$PGBIN"/createdb -h 127.0.0.1 -p "$PGPORT" -U argot "$db" || fail "createdb $db"
        META="postgresql://argot@127.0.0.1:$PGPORT/$db"
        ;;
    mem) META=mem: ;;
    *) fail "unknown pair $pair" ;;
    esac
    if [ "$META" = mem: ]; then mem_pair; else persistent_pair; fi
    echo "ok: keys and fsck on $pair"
done
pair=

# --help of each subcommand: stdout, exit 0, and every option it lists is taken by the parser
# (a rejected option makes the command print its usage on stderr and exit 2).
D=$T/help
mkdir -p "$D"
cd "$D" || fail "cd $D" # options given "1" as a value may make ./data or ./1 here
for sub in keys fsck migrate; do
    want 0 "$T/h" "$ARGOTD" $sub --help
    grep -q "^usage: argotd $sub " "$T/h" || fail "$sub --help: $(cat "$T/h")"
    [ ! -s "$T/h.err" ] || fail "$sub --help wrote to stderr"
    # the options of the usage lines and of the option list ("  --x ..."), not of the prose
    for opt in $(grep -E '^(usage: |       |  --)' "$T/h" | grep -o -- '--[a-z][a-z0-9-]*' | sort -u); do
        [ "$opt" = --help ] && continue
        case $sub in
        keys) cmd=(keys list "$opt" 1) ;;
        migrate) cmd=(migrate --to-meta mem: --to-blob mem: "$opt" 1) ;;
        *) cmd=($sub "$opt" 1) ;;
        esac
        "$ARGOTD" "${cmd[@]}" >/dev/null 2>"$T/o.err"
        if grep -q "^usage: argotd $sub" "$T/o.err"; then
            # a flag without a value (--repair, --force) may be refused only for the stray "1"
            "$ARGOTD" $sub "$opt" --data "$D/none" >/dev/null 2>"$T/o.err"
            ! grep -q "^usage: argotd $sub" "$T/o.err" || [ "$opt $sub" = "--force fsck" ] ||
                fail "$sub --help lists $opt, which $sub refuses"
        fi
    done
done
# settings keys does not use are still checked as the server checks them
want 2 "$T/o" "$ARGOTD" keys list --meta-retries 21
grep -q "not an integer in 0..20" "$T/o.err" || fail "--meta-retries 21: $(cat "$T/o.err")"
want 2 "$T/o" env ARGOT_META_RETRIES=x "$ARGOTD" keys list
want 2 "$T/o" env ARGOT_BLOB=s4://bucket "$ARGOTD" keys list
grep -q "unknown blob backend URL 's4://bucket'" "$T/o.err" || fail "ARGOT_BLOB: $(cat "$T/o.err")"
# the server's --help carries each subcommand's usage lines as the subcommand prints them
want 0 "$T/main" "$ARGOTD" --help
for sub in keys fsck migrate; do
    "$ARGOTD" $sub --help | awk '/^(usage: |       )/ {sub(/^usage: /, "       "); print; next} {exit}' >"$T/lines"
    [ -s "$T/lines" ] || fail "$sub --help has no usage lines"
    while IFS= read -r line; do
        grep -qxF -- "$line" "$T/main" || fail "argotd --help lacks the line: $line"
    done <"$T/lines"
done
echo "ok: --help of keys, fsck and migrate"
