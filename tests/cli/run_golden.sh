#!/bin/sh
# Golden test of the argot CLI against argot_mockd (deterministic ids and times).
# usage: run_golden.sh ARGOT MOCKD CASE   (CASE = path to golden/NAME.sh)
# The case is run with sh; $ARGOT is the CLI, $URL the mock's /v1 base URL, $MURL the mock's
# root (for scripted paths /m/<key>/<script>/v1), $T a scratch directory. Its stdout must equal
# NAME.stdout.exact, its exit status NAME.exit, and its stderr must match the shell pattern in
# NAME.stderr.glob when that file exists. GOLDEN_BLESS=1 rewrites the expectations.
set -u
ARGOT=$1 MOCKD=$2 CASE=$3
base=${CASE%.sh}
T=$(mktemp -d "${TMPDIR:-/tmp}/argot-golden-XXXXXX")
trap 'kill "$mpid" 2>/dev/null; wait "$mpid" 2>/dev/null; rm -rf "$T"' EXIT
"$MOCKD" --port-file "$T/port" >/dev/null 2>&1 &
mpid=$!
i=0
while [ ! -s "$T/port" ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i + 1)); done
PORT=$(cat "$T/port")
unset ARGOT_BASE_URL OPENAI_BASE_URL ARGOT_API_KEY OPENAI_API_KEY OPENAI_ORG_ID OPENAI_PROJECT_ID
export ARGOT URL="http://127.0.0.1:$PORT/v1" MURL="http://127.0.0.1:$PORT" T
export ARGOT_BASE_URL="$URL" ARGOT_API_KEY=sk-golden
sh -e "$CASE" >"$T/stdout" 2>"$T/stderr" </dev/null
code=$?
if [ "${GOLDEN_BLESS:-}" = 1 ]; then
    cp "$T/stdout" "$base.stdout.exact"
    echo "$code" >"$base.exit"
    exit 0
fi
fail=0
if ! cmp -s "$T/stdout" "$base.stdout.exact"; then
    echo "stdout differs:"; diff -u "$base.stdout.exact" "$T/stdout"; fail=1
fi
if [ "$code" != "$(cat "$base.exit")" ]; then
    echo "exit status $code, expected $(cat "$base.exit")"; fail=1
fi
if [ -f "$base.stderr.glob" ]; then
    pat=$(cat "$base.stderr.glob")
    got=$(cat "$T/stderr")
    # shellcheck disable=SC2254
    case "$got" in
    $pat) ;;
    *) echo "stderr does not match '$pat':"; cat "$T/stderr"; fail=1 ;;
    esac
fi
[ $fail = 0 ] || { echo "--- stderr:"; cat "$T/stderr"; }
exit $fail
