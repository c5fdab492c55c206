# Tests: `make test` = unit tests, sanitizer build of them, fuzz smoke runs, end-to-end as root,
# and the kernel matrix (Debian's 6.1 and 6.12 booted under qemu).
# Included from the top-level Makefile.

UNIT_SRCS   := $(wildcard tests/unit/test_*.c)
UNIT_BINS   := $(patsubst tests/unit/%.c,$(OUTPUT)/unit/%,$(UNIT_SRCS))
ASAN_BINS   := $(patsubst tests/unit/%.c,$(OUTPUT)/asan/%,$(UNIT_SRCS))
FUZZ_SRCS   := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS   := $(patsubst tests/fuzz/%.c,$(OUTPUT)/fuzz/%,$(FUZZ_SRCS))
FUZZ_SECONDS ?= 15
TEST_CFLAGS := -O1 -g -std=gnu11 -D_GNU_SOURCE -DTCPTRAIL_VERSION='"$(VERSION)"' -Iinclude -Isrc -Itests/unit -I$(OUTPUT) \
	       $(WARNINGS)
SANITIZE    := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
E2E_HELPERS := $(patsubst tests/e2e/%.c,$(OUTPUT)/e2e/%,$(wildcard tests/e2e/*.c))
KERNEL_HELPERS := $(patsubst tests/kernels/%.c,$(OUTPUT)/kernels/%,$(wildcard tests/kernels/*.c))

.PHONY: unit-build asan-build fuzz-build e2e-build valgrind bpfcheck-test matrix matrix-build bpftest pkg
test: deps check-format bpfcheck-test all check-bpf unit asan fuzz bpftest e2e pkg matrix

# tests/bpfcheck.py (run on every BPF object by the build) against fixtures with known answers.
bpfcheck-test:
	@echo "== bpfcheck self-test"
	@python3 tests/bpfcheck/test_bpfcheck.py --clang $(CLANG) --out $(OUTPUT)/bpfcheck

# The pure sources are compiled once per flavour (plain, sanitizers, fuzzing) into a library each
# test binary links: a change to one source recompiles that source, not every test.
core_lib = $(OUTPUT)/lib/$(1).a
core_objs = $(patsubst src/%.c,$(OUTPUT)/lib/$(1)/%.o,$(CORE_SRCS))
FUZZ_CFLAGS := -DTT_FUZZING -fsanitize=address,undefined -fno-sanitize-recover=all

$(OUTPUT)/lib/unit/%.o: src/%.c $(FLAGS_STAMP)
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(TEST_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(OUTPUT)/lib/asan/%.o: src/%.c $(FLAGS_STAMP)
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CLANG) $(TEST_CFLAGS) $(SANITIZE) $(DEPFLAGS) -c $< -o $@

$(OUTPUT)/lib/fuzz/%.o: src/%.c $(FLAGS_STAMP)
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CLANG) $(TEST_CFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(DEPFLAGS) -c $< -o $@

# the page replay --html writes, generated (Makefile)
$(OUTPUT)/lib/unit/html_write.o $(OUTPUT)/lib/asan/html_write.o \
	$(OUTPUT)/lib/fuzz/html_write.o: $(HTML_PAGE_H)

$(call core_lib,unit): $(call core_objs,unit)
$(call core_lib,asan): $(call core_objs,asan)
$(call core_lib,fuzz): $(call core_objs,fuzz)
$(OUTPUT)/lib/%.a:
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(OUTPUT)/unit/%: tests/unit/%.c $(call core_lib,unit) $(FLAGS_STAMP)
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(TEST_CFLAGS) $(DEPFLAGS) -MF $@.d $< $(call core_lib,unit) -lcmocka -lz -o $@

$(OUTPUT)/asan/%: tests/unit/%.c $(call core_lib,asan) $(FLAGS_STAMP)
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CLANG) $(TEST_CFLAGS) $(SANITIZE) $(DEPFLAGS) -MF $@.d $< $(call core_lib,asan) \
		-lcmocka -lz -o $@

$(OUTPUT)/fuzz/%: tests/fuzz/%.c $(call core_lib,fuzz) $(FLAGS_STAMP)
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CLANG) $(TEST_CFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(DEPFLAGS) -MF $@.d $< \
		$(call core_lib,fuzz) -lz -o $@

$(OUTPUT)/e2e/%: tests/e2e/%.c
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) -O2 -g -Wall $(DEPFLAGS) -MF $@.d -o $@ $<

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

# The guest's helpers are static: the kernel matrix's initramfs holds busybox and little else.
$(OUTPUT)/kernels/%: tests/kernels/%.c
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) -static -O2 -g -Wall -Wextra -Wno-unused-parameter $(DEPFLAGS) -MF $@.d -o $@ $<

matrix-build: all $(KERNEL_HELPERS)

# The tracer's BPF programs from C (tests/bpf/): the real object loaded through its skeleton,
# real sockets in a private netns, exact records and map contents. Root only.
$(OUTPUT)/bpftest/test_tracer: tests/bpf/test_tracer.c $(OUTPUT)/tcptrail.skel.h \
			       $(OUTPUT)/bpfcommon.o $(OUTPUT)/evring.o $(OUTPUT)/evmerge.o \
			       $(OUTPUT)/cgroup.o $(FLAGS_STAMP)
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -Isrc $(DEPFLAGS) -MF $@.d $< $(OUTPUT)/bpfcommon.o \
		$(OUTPUT)/evring.o $(OUTPUT)/evmerge.o $(OUTPUT)/cgroup.o $(LIBBPF_LIBS) -o $@

bpftest: $(OUTPUT)/bpftest/test_tracer
	@echo "== bpftest"
	@$(OUTPUT)/bpftest/test_tracer

# Packaging (tests/pkg/): the bash completion against --help, make deb installed and removed,
# make image run as the DaemonSet runs it. The deb and image tests build what they test.
pkg: all
	@sh tests/pkg/run.sh

# Boots Debian's cloud kernels under qemu and runs tests/kernels/guest.sh in each
# (TT_KERNELS, TT_MATRIX=0, TT_KERNEL_CACHE: see tests/kernels/matrix.sh).
matrix: matrix-build
	@sh tests/kernels/matrix.sh

$(OUTPUT)/bench/%: tests/bench/%.c
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) -O2 -g -Wall $(DEPFLAGS) -MF $@.d -o $@ $<

# The formatter benchmark times the objects tcptrail itself runs (same flags).
$(OUTPUT)/bench/fmtbench: tests/bench/fmtbench.c $(CORE_OBJS) $(FLAGS_STAMP)
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(TEST_CFLAGS) -O2 $(DEPFLAGS) -MF $@.d $< $(CORE_OBJS) -lz -o $@

bench: all $(E2E_HELPERS) $(OUTPUT)/bench/churn $(OUTPUT)/bench/pingpong $(OUTPUT)/bench/fmtbench \
	$(OUTPUT)/bench/getppid
	@sh tests/bench/run.sh
