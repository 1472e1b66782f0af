#!/usr/bin/env bash
# Stops the server pg-up.sh started, by the PID it recorded (SIGINT: PostgreSQL's fast
# shutdown; SIGQUIT, then SIGKILL, if it has not gone after 10 s), and removes BASEDIR (with
# --keep, leaves BASEDIR in place for its logs).
#   scripts/testsrv/pg-down.sh BASEDIR [--keep]
B=${1:?usage: pg-down.sh BASEDIR [--keep]}
if p=$(cat "$B"/pid 2>/dev/null) && [ -n "$p" ]; then
    kill -INT "$p" 2>/dev/null
    for sig in QUIT KILL; do
        for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$p" 2>/dev/null || break
        kill -"$sig" "$p" 2>/dev/null
    done
    rm -f "$B"/pid
fi
[ "${2:-}" = --keep ] || rm -rf "$B"
exit 0
