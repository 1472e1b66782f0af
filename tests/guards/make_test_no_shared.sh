#!/usr/bin/env bash
# `make test` passes on a plain clone (issue 9): HEAD is cloned into a temp dir with no
# `shared/` beside it (the team's ../shared is not part of the repository), and the whole
# suite runs there and must end with ctest's "100% tests passed".
# Run by .ci/run; by hand: tests/guards/make_test_no_shared.sh (as root, or with the packages
# of scripts/deps.sh installed).
set -euo pipefail

repo=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
T=$(mktemp -d /tmp/argot-noshared-XXXXXX)
trap 'rm -rf "$T"' EXIT
say() { printf 'make_test_no_shared: %s\n' "$*"; }

git clone -q "$repo" "$T/argot"
[ ! -e "$T/shared" ] || { say "FAIL: $T/shared exists"; exit 1; }
say "cloned $(git -C "$T/argot" rev-parse --short HEAD) into $T/argot, no $T/shared"
cd "$T/argot"
unset ARGOT_SHARED_DIR
if ! make test >"$T/test.log" 2>&1; then
    # The whole log outlives the clone, for the failing tests' output.
    keep=$(mktemp /tmp/make_test_no_shared-XXXXXX.log)
    cp "$T/test.log" "$keep"
    tail -60 "$T/test.log"
    say "the whole log: $keep"
    say "FAIL: make test failed on a clone with no ../shared"
    exit 1
fi
grep -E '^100% tests passed, 0 tests failed out of [0-9]+' "$T/test.log" ||
    { tail -30 "$T/test.log"; say "FAIL: no '100% tests passed' line"; exit 1; }
say ok
