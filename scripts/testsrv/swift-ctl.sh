#!/usr/bin/env bash
# Stops or starts one server of a Swift that swift-up.sh started, for fault tests.
#   scripts/testsrv/swift-ctl.sh BASEDIR stop|start account|container|object|proxy
# stop kills it by its recorded PID and waits for it to go; start runs it again as swift-up.sh
# did and waits for its port to listen.
set -euo pipefail
B=${1:?usage: swift-ctl.sh BASEDIR stop|start SERVER}
# swift-up.sh may have made BASEDIR a link to a directory under /tmp that the swift user can
# reach (BASEDIR's own parent it cannot): the servers are given that directory's paths.
[ -L "$B" ] && B=$(readlink -f "$B")
what=${2:?stop or start}
s=${3:?server}
case $s in account | container | object | proxy) ;; *) echo "swift-ctl: no server $s" >&2; exit 2 ;; esac
pidf="$B/run/$s.pid"
case $what in
stop)
    p=$(cat "$pidf")
    kill "$p" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$p" 2>/dev/null || true
    rm -f "$pidf"
    ;;
start)
    if [ "$(id -u)" = 0 ]; then
        u=${SWIFT_RUN_USER:-swift}
        AS=(setpriv --reuid="$u" --regid="$u" --init-groups)
    else
        AS=()
    fi
    "${AS[@]}" swift-$s-server "$B/etc/$s-server.conf" >>"$B/log/$s.log" 2>&1 &
    echo $! >"$pidf"
    port=$(sed -n 's/^bind_port = //p' "$B/etc/$s-server.conf")
    for _ in $(seq 1 600); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && exit 0; sleep 0.1; done
    echo "swift-ctl: $s did not listen on $port" >&2
    exit 1
    ;;
*)
    echo "swift-ctl: stop or start, not $what" >&2
    exit 2
    ;;
esac
