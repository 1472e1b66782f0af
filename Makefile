# Thin wrapper over CMake presets. The README's two commands are `make run` and `make test`.
BUILD_DIR ?= build
PRESET    ?= dev
# `make run LISTEN=HOST:PORT DATA=DIR` passes --listen/--data; left empty, argotd reads
# ARGOT_LISTEN/ARGOT_DATA, then its defaults (127.0.0.1:8080, ./data): flag > env > default.
LISTEN    ?=
DATA      ?=
PREFIX    ?= /usr/local
JOBS      ?= $(shell nproc 2>/dev/null || echo 2)
MAKEFLAGS += --no-print-directory

# What `make run` builds: argotd, and the argot CLI the README uses right after it.
RUN_TARGETS = argotd argot_cli
# --listen/--data only for `make run LISTEN=... DATA=...`, never from a stray LISTEN or DATA in
# the environment (ARGOT_LISTEN/ARGOT_DATA are the environment's way, read by argotd itself).
run_opt = $(if $(filter command line override,$(origin $(1))),$(if $($(1)),--$(2) $($(1))))

.PHONY: all deps build run test asan tsan install format format-check clean bench

all: build

deps:
	@scripts/deps.sh --build

build: deps
	@cmake --preset $(PRESET) >/dev/null
	@cmake --build --preset $(PRESET) -j $(JOBS)

# Needs only the build packages (scripts/deps.sh --build; no cmocka, no node) and builds only
# RUN_TARGETS. exec: the process make waits for is argotd itself (Ctrl-C or SIGTERM stops it).
run:
	@scripts/deps.sh --build
	@cmake --preset $(PRESET) >/dev/null
	@cmake --build --preset $(PRESET) -j $(JOBS) --target $(RUN_TARGETS)
	exec ./$(BUILD_DIR)/argotd $(call run_opt,LISTEN,listen) $(call run_opt,DATA,data) --bootstrap-key

test:
	@scripts/deps.sh
	@cmake --preset $(PRESET) >/dev/null
	@cmake --build --preset $(PRESET) -j $(JOBS)
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 600

asan:
	@scripts/deps.sh
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan -j $(JOBS)
	@cd build-asan && ctest --output-on-failure -j $(JOBS) --timeout 900

# ThreadSanitizer build; runs only the tests labelled `concurrency` (any TSan report fails them).
tsan:
	@scripts/deps.sh
	@cmake --preset tsan >/dev/null
	@cmake --build --preset tsan -j $(JOBS)
	@cd build-tsan && TSAN_OPTIONS="halt_on_error=1 $(TSAN_OPTIONS)" ctest --output-on-failure \
		-j $(JOBS) --timeout 900 -L concurrency

install: build
	cmake --install $(BUILD_DIR) --prefix $(PREFIX)

format:
	@git ls-files '*.c' '*.h' | xargs clang-format -i

format-check:
	@git ls-files '*.c' '*.h' | xargs clang-format --dry-run --Werror

clean:
	rm -rf $(BUILD_DIR) build-asan build-tsan build-fuzz

# Benchmarks (bench/run, issue 6): not part of `make test`. `bench` installs what it needs,
# runs every scenario (~15 min) and rewrites docs/benchmarks.md + docs/benchmarks.png;
# `bench-smoke` runs each scenario once with tiny sizes (~30 s) and writes nothing in the tree.
.PHONY: bench-smoke
bench:
	@bench/run

bench-smoke:
	@bench/run --smoke
