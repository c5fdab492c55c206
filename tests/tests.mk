# Tests: `make test` = unit tests, sanitizer build of them, fuzz smoke runs, end-to-end as root.
# Included from the top-level Makefile.

UNIT_SRCS   := $(wildcard tests/unit/test_*.c)
UNIT_BINS   := $(patsubst tests/unit/%.c,$(OUTPUT)/unit/%,$(UNIT_SRCS))
ASAN_BINS   := $(patsubst tests/unit/%.c,$(OUTPUT)/asan/%,$(UNIT_SRCS))
FUZZ_SRCS   := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS   := $(patsubst tests/fuzz/%.c,$(OUTPUT)/fuzz/%,$(FUZZ_SRCS))
FUZZ_SECONDS ?= 15
TEST_CFLAGS := -O1 -g -std=gnu11 -D_GNU_SOURCE -DTCPTRAIL_VERSION='"$(VERSION)"' -Iinclude -Isrc -Itests/unit \
	       $(WARNINGS)
SANITIZE    := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
E2E_HELPERS := $(patsubst tests/e2e/%.c,$(OUTPUT)/e2e/%,$(wildcard tests/e2e/*.c))

.PHONY: unit-build asan-build fuzz-build e2e-build valgrind
test: deps check-format all unit asan fuzz e2e

$(OUTPUT)/unit/%: tests/unit/%.c $(CORE_SRCS) $(wildcard src/*.h) include/tcptrail.h
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) $< $(CORE_SRCS) -lcmocka -lz -o $@

$(OUTPUT)/asan/%: tests/unit/%.c $(CORE_SRCS) $(wildcard src/*.h) include/tcptrail.h
	@mkdir -p $(@D)
	$(CLANG) $(TEST_CFLAGS) $(SANITIZE) $< $(CORE_SRCS) -lcmocka -lz -o $@

$(OUTPUT)/fuzz/%: tests/fuzz/%.c $(CORE_SRCS) $(wildcard src/*.h) include/tcptrail.h
	@mkdir -p $(@D)
	$(CLANG) $(TEST_CFLAGS) -DTT_FUZZING -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=all $< $(CORE_SRCS) -lz -o $@

$(OUTPUT)/e2e/%: tests/e2e/%.c
	@mkdir -p $(@D)
	$(CC) -O2 -g -Wall -o $@ $<

unit-build: $(UNIT_BINS)
asan-build: $(ASAN_BINS)
fuzz-build: $(FUZZ_BINS)
e2e-build: all $(E2E_HELPERS) $(OUTPUT)/bench/churn

unit: unit-build
	@sh tests/run-each.sh unit $(UNIT_BINS)

asan: asan-build
	@ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 sh tests/run-each.sh asan $(ASAN_BINS)

# Each fuzzer runs FUZZ_SECONDS from its seed corpus; a crash fails the build.
fuzz: fuzz-build
	@sh tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_BINS)

e2e: e2e-build
	@sh tests/e2e/run.sh

$(OUTPUT)/bench/%: tests/bench/%.c
	@mkdir -p $(@D)
	$(CC) -O2 -g -Wall -o $@ $<

$(OUTPUT)/bench/fmtbench: tests/bench/fmtbench.c $(CORE_SRCS) $(wildcard src/*.h) include/tcptrail.h
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -O2 $< $(CORE_SRCS) -lz -o $@

bench: all $(E2E_HELPERS) $(OUTPUT)/bench/churn $(OUTPUT)/bench/pingpong $(OUTPUT)/bench/fmtbench
	@sh tests/bench/run.sh
