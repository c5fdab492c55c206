# tcptrail build. `make` builds ./tcptrail; intermediates live in .output/.
OUTPUT      := .output
CLANG       ?= clang
CC          ?= gcc
BPFTOOL     ?= bpftool
PKG_CONFIG  ?= pkg-config
PREFIX      ?= /usr/local
DESTDIR     ?=
SYSCONFDIR  ?= /etc
SYSTEMD_UNITDIR ?= $(PREFIX)/lib/systemd/system
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
# The program's path: make deb builds one of its own elsewhere (with Debian's flags).
BIN         ?= tcptrail
LDFLAGS     ?=
VERSION     := 0.1.0

ARCH_UNAME  := $(shell uname -m)
BPF_ARCH    := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/' -e 's/ppc64le/powerpc/' -e 's/s390x/s390/')
VMLINUX_H   := vmlinux/$(ARCH_UNAME)/vmlinux.h

LIBBPF_CFLAGS := $(shell $(PKG_CONFIG) --cflags libbpf 2>/dev/null)
LIBBPF_LIBS   := $(shell $(PKG_CONFIG) --libs libbpf 2>/dev/null || echo -lbpf) -lelf -lz -pthread
# The --metrics HTTP server (src/metricsrv.c): libmicrohttpd.
LIBBPF_CFLAGS += $(shell $(PKG_CONFIG) --cflags libmicrohttpd 2>/dev/null)
LIBBPF_LIBS   += $(shell $(PKG_CONFIG) --libs libmicrohttpd 2>/dev/null || echo -lmicrohttpd)

CFLAGS      ?= -O2 -g
WARNINGS    := -Wall -Wextra -Wno-unused-parameter -Wmissing-prototypes -Wstrict-prototypes
ALL_CFLAGS  := $(CFLAGS) $(WARNINGS) -std=gnu11 -D_GNU_SOURCE -DTCPTRAIL_VERSION='"$(VERSION)"' \
	       -Iinclude -I$(OUTPUT) $(LIBBPF_CFLAGS)
BPF_CFLAGS  := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(BPF_ARCH) -Wall \
	       -Iinclude -Ivmlinux/$(ARCH_UNAME)
# Builds for measurement only: -DTT_TRANSITION_COST (tests/bench/transitions.sh) and
# -DTT_DISPATCH_ONLY (the churn reference of tests/bench/bench.py).
BPF_EXTRA_CFLAGS ?=
BPF_CFLAGS  += $(BPF_EXTRA_CFLAGS)

BPF_OBJS    := tcptrail snapshot metrics
SKELS       := $(patsubst %,$(OUTPUT)/%.skel.h,$(BPF_OBJS))

# Pure code: no libbpf, unit-testable and fuzzable without root (docs/hacking.md's "Repository
# layout" has the map of these layers).
CORE_SRCS   := src/cli.c \
	       src/logwrite.c src/logwrite_file.c src/logfile.c src/logread.c src/record.c \
	       src/record_write.c src/jsonl.c \
	       src/summary.c src/summary_lists.c src/summary_text.c src/summary_json.c \
	       src/stuck.c src/acceptq.c src/metrics.c src/metrics_prom.c src/prom.c src/table.c \
	       src/hist.c \
	       src/format.c src/snapfmt.c src/owners.c src/causes.c \
	       src/html.c src/html_conns.c src/html_write.c \
	       src/outbuf.c src/jsonw.c src/filter.c src/parse.c src/services.c src/states.c \
	       src/procnet.c src/cgroup.c src/evmerge.c
# The commands: they load the BPF objects, walk namespaces and run the loops.
APP_SRCS    := src/main.c src/trace.c src/tracebpf.c src/seed.c src/twwatch.c \
	       src/snapshot.c src/snapbpf.c src/replay.c src/alerts.c \
	       src/metricsrv.c src/metricsrv_http.c \
	       src/bpfcommon.c src/bpfparts.c src/netns.c src/evring.c
CORE_OBJS   := $(patsubst src/%.c,$(OUTPUT)/%.o,$(CORE_SRCS))
APP_OBJS    := $(patsubst src/%.c,$(OUTPUT)/%.o,$(APP_SRCS))

# `make V=1` prints every command; by default one short line per step says what is built.
ifeq ($(V),1)
Q   :=
msg :=
else
Q   := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

# Every object lists the headers it really includes (gcc/clang -MMD writes them to a .d file
# beside it), so a change rebuilds what it must and no more.
DEPFLAGS    := -MMD -MP
FLAGS_STAMP := $(OUTPUT)/flags

.SECONDARY:
.PHONY: all run clean test unit e2e asan fuzz deps deps-run install uninstall vmlinux bench format check-format \
	check-bpf deb image print-image
all: $(BIN)

$(OUTPUT):
	@mkdir -p $@

# Each linked object passes tests/bpfcheck.py before it takes its name (and so before any
# skeleton or loader is built from it): a program whose BPF-to-BPF call chain stacks more than
# BPF_STACK_BUDGET bytes (the kernel refuses 512), or that Linux 6.1's loop check refuses,
# fails the build. A refused object stays as $@.unchecked for study; `make check-bpf` prints
# every program's deepest chain. BPF_CHECK=0 skips the check (not for releases);
# BPF_CHECK_FLAGS=--no-loop61 keeps the stack check but skips the 6.1 loop one.
BPF_STACK_BUDGET ?= 384
BPF_CHECK   ?= 1
BPF_CHECK_FLAGS ?=
BPFCHECK    := python3 tests/bpfcheck.py
BPF_CHECK_STAMP := $(OUTPUT)/bpfcheck-flags

$(OUTPUT)/%.bpf.o: bpf/%.bpf.c tests/bpfcheck.py $(FLAGS_STAMP) $(BPF_CHECK_STAMP) | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) $(DEPFLAGS) -MF $(@:.o=.d) -MT $@ -c $< -o $@.tmp
	$(Q)$(BPFTOOL) gen object $@.unchecked $@.tmp
	$(Q)rm -f $@.tmp $@
ifneq ($(BPF_CHECK),0)
	$(Q)$(BPFCHECK) --budget $(BPF_STACK_BUDGET) $(BPF_CHECK_FLAGS) $@.unchecked
endif
	$(Q)mv $@.unchecked $@

# Every program's deepest call chain and its total, and the 6.1 loop check, for logs.
check-bpf: $(patsubst %,$(OUTPUT)/%.bpf.o,$(BPF_OBJS))
	@$(BPFCHECK) -v --budget $(BPF_STACK_BUDGET) $(BPF_CHECK_FLAGS) $^

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@.tmp && mv $@.tmp $@

$(OUTPUT)/%.o: src/%.c $(FLAGS_STAMP) | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -c $< -o $@

# A loader needs its skeleton generated before its first compile (after that, its .d file
# names it): each source depends on the skeletons it includes.
skels_of = $(patsubst %,$(OUTPUT)/%,$(shell sed -n 's/^\#include "\(.*\.skel\.h\)".*/\1/p' $(1)))
$(foreach s,$(APP_SRCS),$(eval $(patsubst src/%.c,$(OUTPUT)/%.o,$(s)): $(call skels_of,$(s))))

$(BIN): $(APP_OBJS) $(CORE_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ $(LIBBPF_LIBS) -o $@

# replay --html's page (src/html_page.html: markup, CSS and JavaScript) as two C strings, the
# parts before and after the line where src/html_write.c writes the title and the data.
HTML_PAGE_H := $(OUTPUT)/html_page.h
$(HTML_PAGE_H): src/html_page.html | $(OUTPUT)
	$(call msg,GEN,$@)
	$(Q)python3 -c 'import sys; t = open(sys.argv[1], encoding="ascii").read(); \
		head, tail = t.split("<!-- tcptrail:data -->\n"); \
		c = lambda s: "".join("\"%s\\n\"\n" % l.replace("\\", "\\\\").replace("\"", "\\\"") \
				      for l in s.split("\n")[:-1]); \
		sys.stdout.write("/* generated from %s */\nstatic const char html_page_head[] =\n%s;\n" \
				 "static const char html_page_tail[] =\n%s;\n" % (sys.argv[1], c(head), c(tail)))' \
		$< > $@.tmp && mv $@.tmp $@
$(OUTPUT)/html_write.o: $(HTML_PAGE_H)

# Regenerate the vendored vmlinux.h from the running kernel's BTF.
vmlinux:
	mkdir -p vmlinux/$(ARCH_UNAME)
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $(VMLINUX_H)

# The Debian packages: all of them (for make test), or what building and running needs.
deps:
	@sh tests/deps.sh
deps-run:
	@sh tests/deps.sh --run

# Set up what it needs and trace: sudo make run [ARGS='-o json --port 80']
run: deps-run all
	./tcptrail $(ARGS)

-include tests/tests.mk
-include $(wildcard $(OUTPUT)/*.d $(OUTPUT)/*/*.d $(OUTPUT)/*/*/*.d)

# Compilers and flags (VERSION among them) are a dependency of everything compiled:
# $(FLAGS_STAMP) holds the last ones, rewritten (so newer than every object) only when they change.
FLAGS_NOW   := $(CC) $(CLANG) $(ALL_CFLAGS) | $(BPF_CFLAGS) | $(TEST_CFLAGS) $(SANITIZE)
ifneq ($(FLAGS_NOW),$(file <$(FLAGS_STAMP)))
$(shell mkdir -p $(OUTPUT))
$(file >$(FLAGS_STAMP),$(FLAGS_NOW))
endif

# The check's settings likewise: a new budget re-checks the BPF objects (and rebuilds only them).
BPF_CHECK_NOW := $(BPF_CHECK) $(BPF_STACK_BUDGET) $(BPF_CHECK_FLAGS)
ifneq ($(BPF_CHECK_NOW),$(file <$(BPF_CHECK_STAMP)))
$(shell mkdir -p $(OUTPUT))
$(file >$(BPF_CHECK_STAMP),$(BPF_CHECK_NOW))
endif
# (A rule, empty, so that on the make that first writes it the stamp is a prerequisite that
# can be made, not one whose absence from make's cache of .output/ hides the pattern rule.)
$(BPF_CHECK_STAMP): ;

install: $(BIN)
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/sbin/tcptrail
	install -D -m 0644 src/tcptrail.8 $(DESTDIR)$(PREFIX)/share/man/man8/tcptrail.8
	@# The agent (deploy/): its unit, pointed at this PREFIX, and its logrotate file.
	@mkdir -p $(DESTDIR)$(SYSTEMD_UNITDIR)
	sed 's|/usr/local/sbin/tcptrail|$(PREFIX)/sbin/tcptrail|' deploy/tcptrail.service \
		> $(DESTDIR)$(SYSTEMD_UNITDIR)/tcptrail.service
	chmod 0644 $(DESTDIR)$(SYSTEMD_UNITDIR)/tcptrail.service
	install -D -m 0644 deploy/tcptrail.logrotate $(DESTDIR)$(SYSCONFDIR)/logrotate.d/tcptrail
	install -D -m 0644 deploy/completions/tcptrail $(DESTDIR)$(BASHCOMPDIR)/tcptrail

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/sbin/tcptrail $(DESTDIR)$(PREFIX)/share/man/man8/tcptrail.8
	rm -f $(DESTDIR)$(SYSTEMD_UNITDIR)/tcptrail.service $(DESTDIR)$(SYSCONFDIR)/logrotate.d/tcptrail
	rm -f $(DESTDIR)$(BASHCOMPDIR)/tcptrail

# tcptrail_$(VERSION)_ARCH.deb (deploy/debian/build-deb.sh: Debian's flags, dpkg-shlibdeps,
# dpkg-gencontrol, dpkg-deb), built in $(OUTPUT)/deb.
deb:
	@sh deploy/debian/build-deb.sh $(VERSION) $(OUTPUT)/deb

# The OCI image $(IMAGE):$(VERSION), the name deploy/kubernetes/daemonset.yaml uses (podman,
# offline, FROM scratch: deploy/image/build-image.sh). IMAGE=REGISTRY/tcptrail for your registry.
IMAGE       ?= registry.example/tcptrail
image: deb
	@IMAGE=$(IMAGE) sh deploy/image/build-image.sh $(VERSION) $(OUTPUT)/image

# The image's name, for scripts (tests/pkg/test_image.sh).
print-image:
	@echo $(IMAGE):$(VERSION)

format:
	clang-format -i bpf/*.c bpf/*.h src/*.c src/*.h include/*.h tests/unit/*.c tests/unit/*.h tests/bpf/*.c tests/fuzz/*.c tests/fuzz/*.h tests/bench/*.c tests/e2e/*.c tests/kernels/*.c

check-format:
	clang-format --dry-run -Werror bpf/*.c bpf/*.h src/*.c src/*.h include/*.h tests/unit/*.c tests/unit/*.h tests/bpf/*.c tests/fuzz/*.c tests/fuzz/*.h tests/bench/*.c tests/e2e/*.c tests/kernels/*.c

clean:
	rm -rf $(OUTPUT) tcptrail tcptrail_*.deb
