#!/usr/bin/env bash
# Installs what bench/run needs on Debian 12, idempotently: the project's build dependencies and
# the peers and tools of the benchmark (nginx-light, wrk, h2load, gnuplot, node/npm for aimock
# and the report). The package logic lives in scripts/deps.sh.
set -euo pipefail
exec "$(cd "$(dirname "$0")/.." && pwd)/scripts/deps.sh" --bench
