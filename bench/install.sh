#!/usr/bin/env bash
# Installs what bench/run needs on Debian 12, idempotently: the project's build dependencies
# (scripts/deps.sh --build), the peers and load tools (nginx-light, wrk, h2load from
# nghttp2-client), gnuplot for the plot, node/npm for aimock and the report, curl.
# As root, missing packages are installed with apt-get; otherwise the apt-get line is printed.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/deps.sh" --build

want=(nginx-light wrk nghttp2-client gnuplot-nox curl nodejs npm procps)
missing=()
for p in "${want[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
# node/npm from elsewhere than Debian are fine if they run.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    tmp=()
    for p in "${missing[@]+"${missing[@]}"}"; do
        case "$p" in nodejs | npm) ;; *) tmp+=("$p") ;; esac
    done
    missing=("${tmp[@]+"${tmp[@]}"}")
fi
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "bench: missing packages; run as root:" >&2
        echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
    echo "bench: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # nginx's package may start a system instance on port 80: the benchmark never uses it.
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
