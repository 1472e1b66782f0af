# Thin wrapper over CMake presets. The README's two commands are `make run` and `make test`.
BUILD_DIR ?= build
PRESET    ?= dev
LISTEN    ?= 127.0.0.1:8080
DATA      ?= ./data
PREFIX    ?= /usr/local
JOBS      ?= $(shell nproc 2>/dev/null || echo 2)

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

install: build
	cmake --install $(BUILD_DIR) --prefix $(PREFIX)

format:
	@git ls-files '*.c' '*.h' | xargs clang-format -i

format-check:
	@git ls-files '*.c' '*.h' | xargs clang-format --dry-run --Werror

clean:
	rm -rf $(BUILD_DIR) build-asan build-tsan build-fuzz
