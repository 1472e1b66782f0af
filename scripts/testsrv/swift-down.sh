#!/usr/bin/env bash
# Stops the servers swift-up.sh started, by the PIDs it recorded, and removes BASEDIR
# (with --keep, leaves BASEDIR in place for its logs); a BASEDIR that swift-up.sh made a link
# to a directory under /tmp is removed with that directory.
#   scripts/testsrv/swift-down.sh BASEDIR [--keep]
B=${1:?usage: swift-down.sh BASEDIR [--keep]}
for s in proxy object container account; do
    f="$B/run/$s.pid"
    [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
done
for s in proxy object container account; do
    p=$(cat "$B/run/$s.pid" 2>/dev/null) || continue
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$p" 2>/dev/null && kill -9 "$p" 2>/dev/null
    rm -f "$B/run/$s.pid"
done
if [ "${2:-}" != --keep ]; then
    # BASEDIR may be a link to the directory swift-up.sh made under /tmp: both go.
    [ -L "$B" ] && rm -rf "$(readlink -f "$B")"
    rm -rf "$B"
fi
exit 0
