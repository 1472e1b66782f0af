#!/usr/bin/env bash
# Stops the haproxy haproxy-up.sh started, by the PID it recorded (SIGTERM; SIGKILL if it has
# not gone after 5 s), and removes BASEDIR (with --keep, leaves BASEDIR in place for its log).
#   scripts/testsrv/haproxy-down.sh BASEDIR [--keep]
B=${1:?usage: haproxy-down.sh BASEDIR [--keep]}
if p=$(cat "$B"/pid 2>/dev/null) && [ -n "$p" ]; then
    kill -TERM "$p" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
    rm -f "$B"/pid
fi
[ "${2:-}" = --keep ] || rm -rf "$B"
exit 0
