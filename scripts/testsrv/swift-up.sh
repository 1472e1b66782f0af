#!/usr/bin/env bash
# Starts a throwaway OpenStack Swift (Debian's swift 2.30: proxy, account, container, object
# servers, one device, one replica) with the s3api middleware on 127.0.0.1, for the S3 tests.
#
#   scripts/testsrv/swift-up.sh BASEDIR
#
# Prints the S3 endpoint (http://127.0.0.1:PORT) and writes it to BASEDIR/endpoint, and the
# seconds the start took to BASEDIR/start_seconds. No bucket exists yet: create them with S3
# CreateBucket (Swift's own tempauth tokens would need memcached; S3 signatures do not).
# Credentials: access key "test:tester", secret "testing" (tempauth), region us-east-1.
# Path-style addressing, and virtual-hosted for host names under "s3.test"
# (storage_domain; pin them to 127.0.0.1 with curl --resolve). Stop it with swift-down.sh.
#
# Missing Debian packages are installed (scripts/deps.sh --s3) when running as root. When they
# cannot be, the script writes the reason to BASEDIR/skip, says so loudly and exits 0: the tests
# then skip (exit 77) rather than fail on a machine that cannot have Swift.
# As root the servers run as user "swift" (made by the Debian package), otherwise as you.
set -euo pipefail
B=${1:?usage: swift-up.sh BASEDIR}
here=$(cd "$(dirname "$0")" && pwd)
t0=$(date +%s.%N)

skip() {
    mkdir -p "$B"
    echo "$1" >"$B"/skip
    printf '\n*** SKIPPING the S3 tests: %s ***\n\n' "$1" >&2
    exit 0
}

# A previous run that died left servers behind: stop them first.
[ -d "$B"/run ] && "$here"/swift-down.sh "$B"
rm -rf "$B"

if ! command -v swift-proxy-server >/dev/null 2>&1 || ! command -v swift-object-server \
    >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
        skip "OpenStack Swift is not installed (as root: scripts/deps.sh --s3)"
    fi
    "$here"/../deps.sh --s3 >&2 || skip "scripts/deps.sh --s3 could not install Swift"
fi
[ -f /etc/swift/swift.conf ] || skip "/etc/swift/swift.conf is missing (Debian's swift package puts it there)"
t_installed=$(date +%s.%N)

if [ "$(id -u)" = 0 ]; then RUNUSER=${SWIFT_RUN_USER:-swift}; else RUNUSER=$(id -un); fi
# As root the servers run as $RUNUSER, which must reach BASEDIR. Under a directory it cannot
# enter (a clone in /root, a 0700 temporary directory) the files live in a directory of their
# own under /tmp and BASEDIR is a link to it; swift-down.sh removes both.
mkdir -p "$(dirname "$B")"
if [ "$(id -u)" = 0 ] && ! setpriv --reuid="$RUNUSER" --regid="$RUNUSER" --init-groups \
    test -x "$(dirname "$B")"; then
    real=$(mktemp -d /tmp/argot-swift-XXXXXX)
    chmod 0755 "$real"
    ln -s "$real" "$B"
    B=$real
fi
mkdir -p "$B"/etc "$B"/srv/d1 "$B"/run "$B"/log
# Four free ports (bound and released together, so they differ).
read -r PP AP CP OP < <(/usr/bin/python3 - <<'PY'
import socket
ss = [socket.socket() for _ in range(4)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])
PY
)

common() {
    cat <<EOC
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $1
workers = 0
user = $RUNUSER
swift_dir = $B/etc
devices = $B/srv
mount_check = false
log_level = WARNING
EOC
}
for s in account container object; do
    case $s in account) port=$AP ;; container) port=$CP ;; object) port=$OP ;; esac
    { common "$port"; printf '[pipeline:main]\npipeline = %s-server\n[app:%s-server]\nuse = egg:swift#%s\n' \
        $s $s $s; } >"$B/etc/$s-server.conf"
done
{ common "$PP"; cat <<'EOC'
[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk s3api tempauth copy slo dlo proxy-logging proxy-server
[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:cache]
use = egg:swift#memcache
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:bulk]
use = egg:swift#bulk
[filter:s3api]
use = egg:swift#s3api
location = us-east-1
storage_domain = s3.test
# AWS allows part numbers up to 10000 (Swift's default is 1000); the 5 MiB minimum part is
# Swift's default, as on AWS.
max_upload_part_num = 10000
[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin
[filter:copy]
use = egg:swift#copy
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
EOC
} >"$B"/etc/proxy-server.conf

# One-device, one-replica rings, built in one Python process.
/usr/bin/python3 - "$B"/etc "$AP" "$CP" "$OP" <<'PY'
import sys
from swift.common.ring import RingBuilder
d = sys.argv[1]
for name, port in zip(("account", "container", "object"), sys.argv[2:]):
    b = RingBuilder(6, 1, 1)
    b.add_dev({"id": 0, "region": 1, "zone": 1, "ip": "127.0.0.1", "port": int(port),
               "device": "d1", "weight": 1, "meta": ""})
    b.rebalance()
    b.get_ring().save("%s/%s.ring.gz" % (d, name))
PY
[ "$(id -u)" = 0 ] && chown -R "$RUNUSER": "$B"

for s in account container object proxy; do
    # With workers = 0 a server serves in its first process, which never drops root: start it
    # as the user directly.
    if [ "$(id -u)" = 0 ]; then AS=(setpriv --reuid="$RUNUSER" --regid="$RUNUSER" --init-groups); else AS=(); fi
    "${AS[@]}" swift-$s-server "$B/etc/$s-server.conf" >"$B/log/$s.log" 2>&1 &
    echo $! >"$B/run/$s.pid"
done

fail() {
    echo "swift-up: $1" >&2
    cat "$B"/log/*.log >&2 || true
    "$here"/swift-down.sh "$B" --keep
    exit 1
}
up=0
for _ in $(seq 1 600); do
    if curl -sf -o /dev/null "http://127.0.0.1:$PP/healthcheck"; then up=1; break; fi
    sleep 0.1
done
[ $up = 1 ] || fail "the proxy did not answer /healthcheck within 60 s"
# The proxy answers before the storage servers listen: wait for them too.
for p in $AP $CP $OP; do
    for _ in $(seq 1 600); do (exec 3<>/dev/tcp/127.0.0.1/"$p") 2>/dev/null && break; sleep 0.1; done
done

t1=$(date +%s.%N)
echo "http://127.0.0.1:$PP" >"$B"/endpoint
awk -v a="$t0" -v b="$t_installed" -v c="$t1" \
    'BEGIN { printf "swift-up: install check %.1f s, start %.1f s\n", b - a, c - b }' >&2
awk -v b="$t_installed" -v c="$t1" 'BEGIN { printf "%.2f\n", c - b }' >"$B"/start_seconds
cat "$B"/endpoint
