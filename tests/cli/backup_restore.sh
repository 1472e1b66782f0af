#!/bin/bash
# The backup rules of docs/deploy.md, run as written there, while argotd serves:
#   sqlite   the database first (sqlite3 .backup, SQLite's online backup), then the blob dir;
#   pg       the database first (pg_dump -Fc), then the blob dir (standing in for a bucket).
# Between the two copies a file is deleted and another uploaded, the races a live backup has.
# Restored elsewhere, `argotd fsck --repair` finds exactly those two (the deleted file's row
# without its blob, the new file's blob without its row) and removes them; a server on the
# restored store then serves every other file byte-exact, and the old keys work.
#
#   backup_restore.sh ARGOTD sqlite|pg
#
# pg starts a throwaway PostgreSQL 15 (scripts/testsrv/pg-up.sh); where it cannot run, the
# script says so loudly and exits 77 (skipped). sqlite needs the sqlite3 shell (Debian sqlite3).
set -u
ARGOTD=$1 KIND=$2
here=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$here/../.." && pwd)
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
[ -x "$ARGOTD" ] || { echo "argotd not built: skipped"; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/argot-backup-XXXXXX")
chmod 0755 "$T"
pid=
pg=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    [ -n "$pg" ] && "$ROOT"/scripts/testsrv/pg-down.sh "$pg" >/dev/null 2>&1
    rm -rf "$T"
}
trap cleanup EXIT
fail() {
    echo "FAIL [$KIND]: $*"
    [ -f "$T/argotd.log" ] && tail -20 "$T/argotd.log"
    exit 1
}
start_server() { # start_server ARGS...
    rm -f "$T/port"
    "$ARGOTD" --listen 127.0.0.1:0 --port-file "$T/port" --lease-seconds 2 "$@" \
        >"$T/argotd.log" 2>&1 &
    pid=$!
    i=0
    while [ ! -s "$T/port" ] && [ $i -lt 1500 ]; do sleep 0.01; i=$((i + 1)); done
    [ -s "$T/port" ] || fail "argotd did not start"
    port=$(cat "$T/port")
}
stop_server() {
    kill -TERM "$pid"
    wait "$pid" || fail "argotd exited $? on SIGTERM"
    pid=
}
upload() { # upload PATH: prints the file id
    curl -sf -H "Authorization: Bearer $key" -F purpose=fine-tune -F file=@"$1" \
        "http://127.0.0.1:$port/v1/files" | sed -n 's/.*"id": *"\(file-[^"]*\)".*/\1/p'
}
content() { # content ID OUT
    curl -sf -o "$2" -H "Authorization: Bearer $key" "http://127.0.0.1:$port/v1/files/$1/content"
}

case $KIND in
sqlite)
    command -v sqlite3 >/dev/null || fail "the sqlite3 shell is needed (Debian sqlite3; scripts/deps.sh)"
    S=(--data "$T/data")
    R=(--data "$T/restored")
    ;;
pg)
    pg=$T/pg
    "$ROOT"/scripts/testsrv/pg-up.sh "$pg" >"$T/pg.uri" || fail "pg-up.sh failed"
    if [ -f "$pg/skip" ]; then
        printf '\n*** SKIPPING the PostgreSQL backup test: %s ***\n\n' "$(cat "$pg/skip")"
        pg=
        exit 77
    fi
    PGPORT=$(sed -n 's|.*@127.0.0.1:\([0-9]*\)/.*|\1|p' "$T/pg.uri")
    "$PGBIN"/createdb -h 127.0.0.1 -p "$PGPORT" -U argot live || fail "createdb live"
    "$PGBIN"/createdb -h 127.0.0.1 -p "$PGPORT" -U argot restored || fail "createdb restored"
    LIVE=postgresql://argot@127.0.0.1:$PGPORT/live
    RESTORED=postgresql://argot@127.0.0.1:$PGPORT/restored
    mkdir -p "$T/data" "$T/rdata"
    S=(--data "$T/data" --meta "$LIVE" --blob "file:$T/blobs")
    R=(--data "$T/rdata" --meta "$RESTORED" --blob "file:$T/restored")
    ;;
*) fail "usage: backup_restore.sh ARGOTD sqlite|pg" ;;
esac

key=$("$ARGOTD" keys create "${S[@]}" --org org-a --name backup) || fail "keys create"
start_server "${S[@]}"
for n in 1 2 3; do
    head -c $((n * 70000)) /dev/urandom >"$T/f$n"
    ids[n]=$(upload "$T/f$n")
    [ -n "${ids[n]}" ] || fail "upload f$n"
done

# 1. the database, online
if [ "$KIND" = sqlite ]; then
    sqlite3 "$T/data/argot.db" ".backup '$T/argot.db.bak'" || fail "sqlite3 .backup"
    BLOBS=$T/data
else
    "$PGBIN"/pg_dump -h 127.0.0.1 -p "$PGPORT" -U argot -Fc -f "$T/argot.dump" live ||
        fail "pg_dump"
    BLOBS=$T/blobs
fi
# meanwhile: a file deleted (its blob goes), another uploaded (a blob the copy has no row for)
curl -sf -X DELETE -H "Authorization: Bearer $key" \
    "http://127.0.0.1:$port/v1/files/${ids[2]}" >/dev/null || fail "delete f2"
head -c 50000 /dev/urandom >"$T/f4"
[ -n "$(upload "$T/f4")" ] || fail "upload f4"
# 2. the blobs, after the database (only blobs/: tmp/ holds writes in progress)
mkdir -p "$T/copy"
cp -a "$BLOBS/blobs" "$T/copy/" || fail "copying the blobs"
stop_server

# restore elsewhere
if [ "$KIND" = sqlite ]; then
    mkdir -m 0700 "$T/restored"
    cp "$T/argot.db.bak" "$T/restored/argot.db"
    cp -a "$T/copy/blobs" "$T/restored/"
else
    "$PGBIN"/pg_restore -h 127.0.0.1 -p "$PGPORT" -U argot -d restored "$T/argot.dump" ||
        fail "pg_restore"
    mkdir -m 0700 "$T/restored"
    cp -a "$T/copy/blobs" "$T/restored/"
    sleep 3 # the dumped instance's owner lease (--lease-seconds 2) runs out
fi
"$ARGOTD" fsck "${R[@]}" >"$T/fsck" 2>"$T/fsck.err"
[ $? = 1 ] || fail "fsck of the restored store: $(cat "$T/fsck" "$T/fsck.err")"
grep -q "^missing-blob .*${ids[2]}" "$T/fsck" || fail "the deleted file's row: $(cat "$T/fsck")"
grep -q "^orphan-blob " "$T/fsck" || fail "the late upload's blob: $(cat "$T/fsck")"
[ "$(wc -l <"$T/fsck")" = 2 ] || fail "fsck found more: $(cat "$T/fsck")"
sed "s/^/restored: /" "$T/fsck"
"$ARGOTD" fsck "${R[@]}" --repair >/dev/null 2>"$T/fsck.err"
[ $? = 1 ] || fail "fsck --repair: $(cat "$T/fsck.err")"
"$ARGOTD" fsck "${R[@]}" >"$T/fsck" 2>"$T/fsck.err" || fail "fsck after --repair: $(cat "$T/fsck")"

start_server "${R[@]}"
for n in 1 3; do
    content "${ids[n]}" "$T/got" || fail "download f$n from the restored store"
    cmp -s "$T/got" "$T/f$n" || fail "f$n differs after the restore"
done
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $key" \
    "http://127.0.0.1:$port/v1/files/${ids[2]}")
[ "$code" = 404 ] || fail "the deleted file answers $code"
stop_server
echo "ok: backup and restore on $KIND"
