#!/usr/bin/env bash
# Stops the haproxy haproxy-up.sh started, by the PID it recorded (SIGTERM; SIGKILL if it has
# not gone after 5 s), and removes BASEDIR (with --keep, leaves BASEDIR in place for its log).
#   scripts/testsrv/haproxy-down.sh BASEDIR [--keep]
B=${1:?usage: haproxy-down.sh BASEDIR [--keep]}
# haproxy is not our child: once it exits it may stay a zombie where nothing reaps orphans,
# which kill -0 still sees. Alive = exists and not a zombie (the state after "(comm) ").
alive() { [ -r /proc/"$1"/stat ] && [ "$(sed 's/.*) //' /proc/"$1"/stat | cut -d' ' -f1)" != Z ]; }
if p=$(cat "$B"/pid 2>/dev/null) && [ -n "$p" ]; then
    kill -TERM "$p" 2>/dev/null
    for _ in $(seq 1 50); do alive "$p" || break; sleep 0.1; done
    alive "$p" && kill -KILL "$p" 2>/dev/null
    rm -f "$B"/pid
fi
[ "${2:-}" = --keep ] || rm -rf "$B"
exit 0
