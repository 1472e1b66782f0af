# Thin wrapper over CMake presets. The README's two commands are `make run` and `make test`.
BUILD_DIR ?= build
PRESET    ?= dev
LISTEN    ?= 127.0.0.1:8080
DATA      ?= ./data
PREFIX    ?= /usr/local
JOBS      ?= $(shell nproc 2>/dev/null || echo 2)
MAKEFLAGS += --no-print-directory

.PHONY: all deps build run test asan tsan install format format-check clean bench

all: build

deps:
	@scripts/deps.sh --build

build: deps
	@cmake --preset $(PRESET) >/dev/null
	@cmake --build --preset $(PRESET) -j $(JOBS)

run: build
	./$(BUILD_DIR)/argotd --listen $(LISTEN) --data $(DATA) --bootstrap-key

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
