#!/usr/bin/env bash
# Builds every fuzz/fuzz_<name>.c target with clang (libFuzzer + ASan + UBSan) and fuzzes each
# for SECONDS (default 30), starting from the committed corpus fuzz/corpus/<name>/. New inputs
# go to build-fuzz/corpus-<name>/ (not committed); crashes stop the run with a non-zero exit and
# leave the input under build-fuzz/ (add it to the committed corpus once fixed).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DARGOT_FUZZ=ON -DARGOT_BUILD_TESTS=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j "$(nproc)"
status=0
for src in fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)
    name=${name#fuzz_}
    bin=build-fuzz/fuzz_$name
    [ -x "$bin" ] || { echo "fuzz: $bin was not built" >&2; exit 1; }
    mkdir -p "build-fuzz/corpus-$name"
    echo "fuzz: $name for ${secs}s"
    (cd build-fuzz && "./fuzz_$name" -max_total_time="$secs" -print_final_stats=1 \
        -artifact_prefix="./crash-$name-" "corpus-$name" "../fuzz/corpus/$name") \
        >"build-fuzz/fuzz-$name.log" 2>&1 || status=1
    grep -E 'stat::number_of_executed_units|ERROR|SUMMARY' "build-fuzz/fuzz-$name.log" || true
done
exit $status
