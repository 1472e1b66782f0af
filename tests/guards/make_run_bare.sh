#!/usr/bin/env bash
# `make run` works with only the build packages installed (issue 9), proven on a clone of HEAD:
#   - in a private mount namespace, the files of libcmocka-dev/libcmocka0 and node/npm/npx are
#     hidden (an overlay on /usr whose upper layer holds a whiteout for each);
#   - `make run LISTEN=127.0.0.1:0 DATA=<tmp>` (port 0: a free one, read from ARGOT_PORT_FILE)
#     configures, builds only argotd and argot, serves /healthz, prints a development key that
#     works, and stops on SIGTERM sent to argotd's PID;
#   - `ARGOT_LISTEN=... ARGOT_DATA=... make run` serves too (the environment is honoured);
#   - the test suite of that build dir fails loudly (cmocka_missing) instead of passing.
# Needs root (mount namespace, overlay). Run by .ci/run; by hand: sudo tests/guards/make_run_bare.sh
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
    echo "make_run_bare: needs root (a private mount namespace hides the test packages)" >&2
    exit 1
fi
if [ "${ARGOT_BARE_INNER:-}" != 1 ]; then
    exec unshare --mount --propagation private env ARGOT_BARE_INNER=1 "$0" "$@"
fi

repo=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
T=$(mktemp -d /tmp/argot-bare-XXXXXX)
mpid=
apid=
cleanup() {
    # argotd, then make, by PID (make exits once argotd has)
    [ -n "$apid" ] && kill -KILL "$apid" 2>/dev/null || true
    [ -n "$mpid" ] && { kill -TERM "$mpid" 2>/dev/null; wait "$mpid" 2>/dev/null; } || true
    umount /usr 2>/dev/null || true
    rm -rf "$T"
}
trap cleanup EXIT
say() { printf 'make_run_bare: %s\n' "$*"; }
fail() {
    printf 'make_run_bare: FAIL: %s\n' "$*" >&2
    [ -f "$T/run.log" ] && tail -40 "$T/run.log" >&2
    exit 1
}

# ---- hide the test packages: a whiteout (char device 0/0) in an overlay's upper layer ----
mkdir -p "$T/up" "$T/work"
hidden=()
while IFS= read -r f; do
    case "$f" in /usr/*) ;; *) continue ;; esac
    [ -e "$f" ] || [ -L "$f" ] || continue
    [ -d "$f" ] && [ ! -L "$f" ] && continue
    hidden+=("$f")
done < <(dpkg -L libcmocka-dev libcmocka0 2>/dev/null; for c in node npm npx; do command -v "$c" || true; done)
[ ${#hidden[@]} -gt 0 ] || fail "found none of cmocka's files or node to hide (is this the CI machine?)"
for f in "${hidden[@]}"; do
    rel=${f#/usr/}
    mkdir -p "$T/up/$(dirname "$rel")"
    mknod "$T/up/$rel" c 0 0
done
mount -t overlay overlay -o "lowerdir=/usr,upperdir=$T/up,workdir=$T/work" /usr
hash -r
for f in "${hidden[@]}"; do [ ! -e "$f" ] || fail "$f is still visible"; done
! command -v node >/dev/null || fail "node is still on PATH"
say "hidden ${#hidden[@]} files: cmocka's headers and libraries, node, npm, npx"

# ---- a clone of HEAD, outside any checkout ----
git clone -q "$repo" "$T/argot"
cd "$T/argot"
say "cloned $(git rev-parse --short HEAD)"

wait_port() { # file, timeout in seconds
    local i=0
    while [ ! -s "$1" ]; do
        kill -0 "$mpid" 2>/dev/null || fail "make run exited before listening"
        [ $i -lt $((10 * $2)) ] || fail "make run did not listen within $2 s"
        sleep 0.1
        i=$((i + 1))
    done
}

# One `make run` (extra arguments to make, environment from the caller), checked and stopped.
serve_and_stop() { # port-file data-dir make-args...
    local portfile=$1 data=$2
    shift 2
    rm -f "$portfile"
    ARGOT_PORT_FILE=$portfile make run "$@" >"$T/run.log" 2>&1 </dev/null &
    mpid=$!
    wait_port "$portfile" 900
    local port
    port=$(cat "$portfile")
    apid=$(ps -o pid= --ppid "$mpid" | tr -d ' ')
    [ -n "$apid" ] && [ "$(readlink "/proc/$apid/exe")" = "$T/argot/build/argotd" ] ||
        fail "make's child is not build/argotd (pid '$apid')"
    local code
    code=$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz")
    [ "$code" = 200 ] || fail "GET /healthz answered $code"
    local key
    key=$(grep -A1 'created a development API key' "$T/run.log" | tail -1)
    [[ $key == sk-argot-* ]] || fail "no development key printed"
    curl -sS --fail-with-body "http://127.0.0.1:$port/v1/files" -H "Authorization: Bearer $key" |
        grep -q '"object":"list"' || fail "the printed key does not list files"
    [ -f "$data/argot.db" ] || fail "the data dir is not $data"
    kill -TERM "$apid"
    wait "$mpid" || fail "make run exited with status $? after SIGTERM"
    mpid= apid=
    say "served on port $port with data in $data, key works, stopped by SIGTERM to argotd"
}

serve_and_stop "$T/port1" "$T/data1" LISTEN=127.0.0.1:0 DATA="$T/data1"
say "$(grep -c 'Building C object' "$T/run.log") objects compiled by the first make run"
grep -q 'CMOCKA_LIB:FILEPATH=CMOCKA_LIB-NOTFOUND' build/CMakeCache.txt || fail "CMake found cmocka"
for t in argotd argot; do [ -x "build/$t" ] || fail "build/$t was not built"; done
for t in argot_mockd fuzz_replay_json example_list_files examples/list_files; do
    [ ! -e "build/$t" ] || fail "make run built build/$t, which it does not run"
done
say "built only argotd and argot; CMake configured without cmocka"

ARGOT_LISTEN=127.0.0.1:0 ARGOT_DATA="$T/data2" serve_and_stop "$T/port2" "$T/data2"
say "ARGOT_LISTEN and ARGOT_DATA are honoured"

if (cd build && ctest -R cmocka_missing --output-on-failure >"$T/ctest.log" 2>&1); then
    fail "ctest passed cmocka_missing without cmocka"
fi
grep -q 'libcmocka-dev is not installed' "$T/ctest.log" || fail "cmocka_missing does not say why"
say "without cmocka the suite fails loudly (cmocka_missing)"
say ok
