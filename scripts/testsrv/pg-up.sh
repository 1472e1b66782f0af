#!/usr/bin/env bash
# Starts a throwaway PostgreSQL 15 (Debian's postgresql-15) on 127.0.0.1, for the tests of the
# PostgreSQL metadata backend and of several argotd instances on one database.
#
#   scripts/testsrv/pg-up.sh BASEDIR
#
# Prints a libpq URL (postgresql://argot@127.0.0.1:PORT/argot) and writes it to BASEDIR/uri, the
# postmaster's PID to BASEDIR/pid and the seconds the start took to BASEDIR/start_seconds.
# The superuser is "argot", trusted without a password from 127.0.0.1 and from the socket in
# BASEDIR (pg_hba.conf is BASEDIR/data/pg_hba.conf: tests may add rules and reload). No fsync:
# test data only. Stop it with pg-down.sh BASEDIR, which signals that PID.
#
# Missing Debian packages are installed (scripts/deps.sh --pg) when running as root. When they
# cannot be, the script writes the reason to BASEDIR/skip, says so loudly and exits 0: the tests
# then skip (exit 77) rather than fail on a machine that cannot have PostgreSQL.
# PostgreSQL refuses to run as root: as root the server runs as user "postgres" (made by the
# Debian package; PG_USER overrides it), otherwise as you.
set -euo pipefail
B=${1:?usage: pg-up.sh BASEDIR}
here=$(cd "$(dirname "$0")" && pwd)
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
t0=$(date +%s.%N)

skip() {
    mkdir -p "$B"
    echo "$1" >"$B"/skip
    printf '\n*** SKIPPING the PostgreSQL tests: %s ***\n\n' "$1" >&2
    exit 0
}

# A previous run that died left a server behind: stop it first.
[ -f "$B"/pid ] && "$here"/pg-down.sh "$B"
rm -rf "$B"

if [ ! -x "$PGBIN"/postgres ] || [ ! -x "$PGBIN"/initdb ]; then
    [ "$(id -u)" -eq 0 ] || skip "PostgreSQL 15 is not installed (as root: scripts/deps.sh --pg)"
    "$here"/../deps.sh --pg >&2 || skip "scripts/deps.sh --pg could not install PostgreSQL 15"
    [ -x "$PGBIN"/postgres ] || skip "no $PGBIN/postgres after installing postgresql-15"
fi
t_installed=$(date +%s.%N)

if [ "$(id -u)" = 0 ]; then
    u=${PG_USER:-postgres}
    id "$u" >/dev/null 2>&1 || skip "user $u does not exist (Debian's postgresql-15 makes it)"
    AS=(setpriv --reuid="$u" --regid="$u" --init-groups)
else
    u=$(id -un)
    AS=()
fi
mkdir -p "$B"
[ "$(id -u)" = 0 ] && chown "$u": "$B"
chmod 0700 "$B"

"${AS[@]}" "$PGBIN"/initdb -D "$B"/data -U argot --auth=trust -E UTF8 --locale=C.UTF-8 \
    --no-sync --no-instructions >"$B"/initdb.log 2>&1 || {
    cat "$B"/initdb.log >&2
    exit 1
}

# A free port: a random one, again if another process took it before the server bound it.
started=0
for _ in 1 2 3 4 5 6 7 8; do
    PORT=$((20000 + RANDOM % 40000))
    (exec 3<>/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null && continue
    if "${AS[@]}" "$PGBIN"/pg_ctl -D "$B"/data -l "$B"/server.log -w -t 60 -o "-c listen_addresses=127.0.0.1 -p $PORT -k $B -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 -c shared_buffers=32MB" start >/dev/null 2>&1; then
        started=1
        break
    fi
    grep -q 'could not bind\|Address already in use' "$B"/server.log 2>/dev/null || break
done
if [ $started != 1 ]; then
    echo "pg-up: the server did not start:" >&2
    tail -20 "$B"/server.log >&2 || true
    exit 1
fi
head -1 "$B"/data/postmaster.pid >"$B"/pid
"$PGBIN"/createdb -h 127.0.0.1 -p "$PORT" -U argot argot

t1=$(date +%s.%N)
echo "postgresql://argot@127.0.0.1:$PORT/argot" >"$B"/uri
awk -v a="$t0" -v b="$t_installed" -v c="$t1" \
    'BEGIN { printf "pg-up: install check %.1f s, start %.2f s\n", b - a, c - b }' >&2
awk -v b="$t_installed" -v c="$t1" 'BEGIN { printf "%.2f\n", c - b }' >"$B"/start_seconds
cat "$B"/uri
