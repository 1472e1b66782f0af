#!/bin/sh
# `cmake --install` into a fresh prefix, then build every example from examples/Makefile with
# the installed argot.pc (shared libargot) and run three of them against argot_mockd.
# usage: install_test.sh BUILD_DIR SOURCE_DIR MOCKD
set -eu
B=$1 S=$2 MOCKD=$3
T=$(mktemp -d "${TMPDIR:-/tmp}/argot-install-XXXXXX")
mpid=
trap '[ -n "$mpid" ] && kill "$mpid" 2>/dev/null; rm -rf "$T"' EXIT
cmake --install "$B" --prefix "$T/prefix" >/dev/null
for f in include/argot/argot.h include/argot/client.h include/argot/files.h include/argot/uploads.h \
    include/argot/error.h include/argot/version.h; do
    [ -f "$T/prefix/$f" ] || { echo "missing $f"; exit 1; }
done
pc=$(find "$T/prefix" -name argot.pc)
[ -n "$pc" ] || { echo "argot.pc not installed"; exit 1; }
ls "$(dirname "$(dirname "$pc")")"/libargot.so.0 "$(dirname "$(dirname "$pc")")"/libargot.a >/dev/null
export PKG_CONFIG_PATH="$(dirname "$pc")"
mkdir "$T/out"
make -s -C "$S/examples" OUT="$T/out" CFLAGS="${EXAMPLE_CFLAGS:--std=c11 -Wall -Wextra -O2}" >/dev/null
LD_LIBRARY_PATH="$(dirname "$(dirname "$pc")")"
export LD_LIBRARY_PATH
ldd "$T/out/list_files" | grep -q "$T/prefix" || { echo "not linked to the installed copy"; exit 1; }
"$MOCKD" --port-file "$T/port" >/dev/null 2>&1 &
mpid=$!
i=0
while [ ! -s "$T/port" ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i + 1)); done
export ARGOT_BASE_URL="http://127.0.0.1:$(cat "$T/port")/v1" ARGOT_API_KEY=sk-install
"$T/out/list_files" | grep -q "^file-canned1	14	assistants	notes.txt$"
[ "$("$T/out/download_file" file-canned2)" = "canned file 2" ]
printf 'canned' >"$T/part"
[ "$("$T/out/resume_download" file-canned2 "$T/part")" = "$T/part resumed: wrote 8 bytes from byte 6 (HTTP 206)" ]
[ "$(cat "$T/part")" = "canned file 2" ]
[ "$("$T/out/resume_download" file-canned2 "$T/part")" = "$T/part is already complete (14 bytes)" ]
echo "install: ok"
