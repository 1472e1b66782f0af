#!/usr/bin/env bash
# Starts a throwaway haproxy (Debian's haproxy 2.6) on 127.0.0.1 in front of N argotd, for the
# multi-instance tests (tests/cluster) and the benchmark (bench/run).
#
#   scripts/testsrv/haproxy-up.sh BASEDIR PORT|HOST:PORT [PORT|HOST:PORT ...]
#
# Round robin over the given servers (named a1, a2, ... in that order), each checked with
# GET /healthz every 500 ms (down after 2 failures, up again after 2 successes); a request whose
# connection to a server fails is retried on another one (retry-on conn-failure + redispatch).
# Request and response bodies are streamed, never buffered. Each response carries
# X-Argot-Backend: the name of the server that answered.
#
# Prints the load balancer's URL (http://127.0.0.1:PORT) and writes it to BASEDIR/url; writes the
# URL of haproxy's statistics page to BASEDIR/stats_url (append ";csv" for CSV), the
# configuration to BASEDIR/haproxy.cfg, haproxy's PID to BASEDIR/pid, its log (errors and
# abnormal requests: 502s, aborted uploads) to BASEDIR/haproxy.log and the seconds from exec
# until every server had passed a health check (or, with HAPROXY_WAIT_SECONDS=0, until haproxy
# listened) to BASEDIR/start_seconds.
# HAPROXY_PORT=N listens on port N instead of a free one. HAPROXY_WAIT_SECONDS (default 30) bounds
# the wait for the servers' first passed checks; 0 returns once haproxy listens (servers started
# later are taken in by the checks). Stop it with haproxy-down.sh BASEDIR.
#
# A missing haproxy is installed (scripts/deps.sh --cluster) when running as root. When it
# cannot be, the script writes the reason to BASEDIR/skip, says so loudly and exits 0: the tests
# then skip (exit 77) rather than fail on a machine that cannot have haproxy.
set -euo pipefail
B=${1:?usage: haproxy-up.sh BASEDIR PORT|HOST:PORT [PORT|HOST:PORT ...]}
shift
[ $# -ge 1 ] || {
    echo "usage: haproxy-up.sh BASEDIR PORT|HOST:PORT [PORT|HOST:PORT ...]" >&2
    exit 2
}
here=$(cd "$(dirname "$0")" && pwd)
t0=$(date +%s.%N)

skip() {
    mkdir -p "$B"
    echo "$1" >"$B"/skip
    printf '\n*** SKIPPING the haproxy tests: %s ***\n\n' "$1" >&2
    exit 0
}

# A previous run that died left a haproxy behind: stop it first.
[ -f "$B"/pid ] && "$here"/haproxy-down.sh "$B"
rm -rf "$B"

if ! command -v haproxy >/dev/null 2>&1; then
    [ "$(id -u)" -eq 0 ] || skip "haproxy is not installed (as root: scripts/deps.sh --cluster)"
    "$here"/../deps.sh --cluster >&2 || skip "scripts/deps.sh --cluster could not install haproxy"
    command -v haproxy >/dev/null 2>&1 || skip "no haproxy on PATH after installing it"
fi
t_installed=$(date +%s.%N)
mkdir -p "$B"
chmod 0700 "$B"

servers=""
i=0
for s in "$@"; do
    i=$((i + 1))
    case "$s" in
    *:*) addr=$s ;;
    *) addr=127.0.0.1:$s ;;
    esac
    servers+="    server a$i $addr check"$'\n'
done

free_port() {
    local p
    for _ in $(seq 1 100); do
        p=$((20000 + RANDOM % 40000))
        (exec 3<>/dev/tcp/127.0.0.1/"$p") 2>/dev/null || {
            echo "$p"
            return 0
        }
    done
    return 1
}

write_cfg() { # LB_PORT STATS_PORT
    cat >"$B"/haproxy.cfg <<EOF
# Written by scripts/testsrv/haproxy-up.sh (the configuration of docs/deploy.md).
global
    maxconn 2000
    log stderr format raw local0 info
defaults
    mode http
    log global
    option httplog
    option dontlog-normal
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout http-request 10s
    # A connection refused or reset before the request was sent is retried, on another server
    # (redispatch): nothing reached argotd. A request argotd may have acted on is not retried
    # here; the client decides (the official clients retry 502/503/504).
    retries 2
    option redispatch 1
    retry-on conn-failure
frontend argot_in
    bind 127.0.0.1:$1
    default_backend argot
backend argot
    balance roundrobin
    option httpchk
    http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host localhost
    http-check expect status 200
    default-server inter 500ms fall 2 rise 2
    http-response set-header X-Argot-Backend %s
$servers
listen stats
    bind 127.0.0.1:$2
    stats enable
    stats uri /stats
EOF
}

# Every server UP with a passed check (L7OK), from the CSV stats: field 2 svname, 18 status,
# 37 check_status.
all_up() {
    curl -sf "http://127.0.0.1:$SPORT/stats;csv" 2>/dev/null | awk -F, -v n=$# '
        $1 == "argot" && $2 != "BACKEND" && $2 != "FRONTEND" { seen++; if ($18 == "UP" && $37 == "L7OK") up++ }
        END { exit !(seen == n && up == n) }'
}

started=0
for _ in 1 2 3 4 5 6 7 8; do
    PORT=${HAPROXY_PORT:-$(free_port)}
    SPORT=$(free_port)
    [ "$SPORT" != "$PORT" ] || continue
    write_cfg "$PORT" "$SPORT"
    haproxy -c -q -f "$B"/haproxy.cfg >"$B"/check.log 2>&1 || {
        cat "$B"/check.log >&2
        exit 1
    }
    # -db: stay in the foreground (no daemon, no master process), so $! is haproxy itself.
    haproxy -db -f "$B"/haproxy.cfg </dev/null >>"$B"/haproxy.log 2>&1 &
    pid=$!
    echo "$pid" >"$B"/pid
    for _ in $(seq 1 300); do
        kill -0 "$pid" 2>/dev/null || break
        curl -sf -o /dev/null "http://127.0.0.1:$SPORT/stats;csv" && break
        sleep 0.02
    done
    if kill -0 "$pid" 2>/dev/null; then
        started=1
        break
    fi
    rm -f "$B"/pid
    grep -qi 'cannot bind\|address already in use' "$B"/haproxy.log || break
    [ -z "${HAPROXY_PORT:-}" ] || break
done
if [ $started != 1 ]; then
    echo "haproxy-up: haproxy did not start:" >&2
    tail -20 "$B"/haproxy.log >&2 || true
    exit 1
fi
# Wait (up to HAPROXY_WAIT_SECONDS) for every server to pass a health check: a server that never
# does is reported, and haproxy stays up (a test may start it later).
wait_s=${HAPROXY_WAIT_SECONDS:-30}
ok=0
[ "$wait_s" = 0 ] && ok=1
for _ in $(seq 1 $((wait_s * 50))); do
    if all_up "$@"; then
        ok=1
        break
    fi
    sleep 0.02
done
t1=$(date +%s.%N)
echo "http://127.0.0.1:$PORT" >"$B"/url
echo "http://127.0.0.1:$SPORT/stats" >"$B"/stats_url
awk -v a="$t0" -v b="$t_installed" -v c="$t1" \
    'BEGIN { printf "haproxy-up: install check %.1f s, start %.2f s\n", b - a, c - b }' >&2
# (with HAPROXY_WAIT_SECONDS=0: until haproxy listens; otherwise until every server passed a check)
awk -v b="$t_installed" -v c="$t1" 'BEGIN { printf "%.2f\n", c - b }' >"$B"/start_seconds
if [ $ok != 1 ]; then
    echo "haproxy-up: not every server passed a health check within $wait_s s:" >&2
    curl -sf "http://127.0.0.1:$SPORT/stats;csv" | awk -F, '$1 == "argot" { print "  " $2, $18, $37 }' >&2 || true
fi
cat "$B"/url
