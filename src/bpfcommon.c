// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include "bpfcommon.h"

/* The program the kernel refused last and why (the verifier's log, or the kernel's error). */
static char failed_prog[64];
static char failed_reason[256];
static int print_all;

/* The last line of a verifier log that says something: its summary lines come after it. */
static void log_reason(const char *log, char *out, size_t size)
{
	const char *end = log + strlen(log), *line_end, *line;

	while (end > log) {
		while (end > log && end[-1] == '\n')
			end--;
		line_end = end;
		while (end > log && end[-1] != '\n')
			end--;
		line = end;
		if (line_end == line || !strncmp(line, "processed ", 10) ||
		    !strncmp(line, "verification time", 17) || !strncmp(line, "stack depth", 11) ||
		    !strncmp(line, "-- END PROG LOAD LOG", 20))
			continue;
		snprintf(out, size, "%.*s", (int)(line_end - line), line);
		return;
	}
}

/*
 * libbpf names a failing program in its warnings as "prog 'NAME': ...": the kernel refused it,
 * with a verifier log or an error. A load that failed before the kernel saw the program (a map
 * that could not be created) names none; one short of files or memory is the caller's to tell.
 */
static void note_failure(const char *msg)
{
	const char *name = strstr(msg, "prog '"), *q, *log;

	if (!name)
		return;
	name += 6;
	q = strchr(name, '\'');
	if (!q || q[1] != ':' || (size_t)(q - name) >= sizeof(failed_prog))
		return;
	log = strstr(q, "-- BEGIN PROG LOAD LOG --\n");
	if (log) {
		snprintf(failed_prog, sizeof(failed_prog), "%.*s", (int)(q - name), name);
		failed_reason[0] = '\0';
		log_reason(log + 26, failed_reason, sizeof(failed_reason));
	} else if (!strncmp(q + 2, "BPF program load failed: ", 25)) {
		/* Refused without a log (not permitted, not supported): the kernel's error. */
		snprintf(failed_prog, sizeof(failed_prog), "%.*s", (int)(q - name), name);
		snprintf(failed_reason, sizeof(failed_reason), "%s", q + 27);
		failed_reason[strcspn(failed_reason, "\n")] = '\0';
	}
}

static int print_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char *msg = NULL;
	int n;

	if (level == LIBBPF_DEBUG && !print_all)
		return 0;
	n = vasprintf(&msg, fmt, ap);
	if (n < 0)
		return 0;
	if (level != LIBBPF_DEBUG)
		note_failure(msg);
	if (print_all)
		fputs(msg, stderr);
	free(msg);
	return n;
}

void tt_libbpf_logging(int verbose)
{
	print_all = verbose;
	libbpf_set_print(print_libbpf);
}

const char *tt_bpf_failed_prog(const char **reason)
{
	*reason = failed_reason[0] ? failed_reason : "no reason given";
	return failed_prog[0] ? failed_prog : NULL;
}

int tt_test_refuse(const char *key)
{
	const char *env = getenv("TCPTRAIL_TEST_REFUSE");
	size_t len = strlen(key);

	for (const char *s = env; s && (s = strstr(s, key)); s += len) {
		if ((s == env || s[-1] == ',') && (s[len] == ',' || !s[len]))
			return 1;
	}
	return 0;
}

void tt_bpf_failed_clear(void)
{
	failed_prog[0] = '\0';
	failed_reason[0] = '\0';
}

/* Open files the command needs at once: below that, a failure is blamed on the limit. */
static unsigned int nofile_needed;

int tt_preflight(unsigned int nofile)
{
	struct stat st;

	nofile_needed = nofile;
	if (stat("/sys/kernel/btf/vmlinux", &st) != 0) {
		fprintf(stderr, "tcptrail: this kernel has no BTF (/sys/kernel/btf/vmlinux): "
				"it needs a kernel built with CONFIG_DEBUG_INFO_BTF=y\n");
		return -1;
	}
	return 0;
}

/*
 * A resource limit hidden behind the error libbpf returns: short of file descriptors its
 * feature probes fail and the kernel then refuses the program (EINVAL); short of address
 * space it cannot read the kernel's BTF and reports it missing (ESRCH). EMFILE, ENFILE,
 * ENOMEM, or 0 when no limit explains err.
 */
int tt_bpf_limit_behind(int err)
{
	struct rlimit rl;
	struct btf *btf;

	if (err == EMFILE || err == ENFILE || err == ENOMEM)
		return err;
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < nofile_needed)
		return EMFILE;
	/*
	 * Read the kernel's BTF as libbpf does (which says ESRCH, "not found", for any failure):
	 * if that fails for want of memory or files, so did libbpf.
	 */
	btf = btf__parse_raw("/sys/kernel/btf/vmlinux");
	if (!btf && (errno == ENOMEM || errno == EMFILE || errno == ENFILE))
		return errno;
	btf__free(btf);
	return 0;
}

static void report_limit(const char *what, int cause)
{
	char now[64] = "";
	struct rlimit rl;

	if (cause == EMFILE) {
		if (getrlimit(RLIMIT_NOFILE, &rl))
			rl.rlim_cur = RLIM_INFINITY;
		if (rl.rlim_cur < nofile_needed)
			snprintf(now, sizeof(now), ": now %llu, needs about %u",
				 (unsigned long long)rl.rlim_cur, nofile_needed);
		else if (rl.rlim_cur != RLIM_INFINITY)
			snprintf(now, sizeof(now), ": now %llu", (unsigned long long)rl.rlim_cur);
		fprintf(stderr,
			"tcptrail: %s: too many open files: raise the limit (ulimit -n%s)\n", what,
			now);
	} else if (cause == ENFILE) {
		fprintf(stderr,
			"tcptrail: %s: the system has too many open files: raise fs.file-max or "
			"close files\n",
			what);
	} else {
		if (!getrlimit(RLIMIT_AS, &rl) && rl.rlim_cur != RLIM_INFINITY)
			snprintf(now, sizeof(now), ": now %llu KiB",
				 (unsigned long long)(rl.rlim_cur / 1024));
		fprintf(stderr,
			"tcptrail: %s: out of memory: raise the limits (ulimit -v%s; ulimit -l "
			"before Linux 5.11) or free memory\n",
			what, now);
	}
}

void tt_report_error(const char *what, int err)
{
	if (err < 0)
		err = -err;
	if (err == EMFILE || err == ENFILE || err == ENOMEM)
		report_limit(what, err);
	else
		fprintf(stderr, "tcptrail: %s: %s\n", what, strerror(err));
}

void tt_report_bpf_error(const char *what, int err)
{
	int cause;

	if (err < 0)
		err = -err;
	/* Without privileges nothing else matters; as root a limit is named before any guess. */
	if ((err == EPERM || err == EACCES) && geteuid() != 0) {
		fprintf(stderr,
			"tcptrail: %s: permission denied: run as root (or with CAP_BPF and "
			"CAP_PERFMON)\n",
			what);
		return;
	}
	cause = tt_bpf_limit_behind(err);
	if (cause)
		report_limit(what, cause);
	else if (err == EACCES)
		/* As root, EACCES is the verifier's refusal, not a missing privilege. */
		fprintf(stderr,
			"tcptrail: %s: the kernel's verifier refused a BPF program; run with -v "
			"for its log and report it with the kernel version\n",
			what);
	else if (err == EPERM)
		fprintf(stderr,
			"tcptrail: %s: not permitted even as root (kernel lockdown, a security "
			"module or a missing capability?); run with -v for details\n",
			what);
	else if (err == ENOENT || err == ESRCH)
		fprintf(stderr,
			"tcptrail: %s: the kernel lacks a needed tracepoint or type "
			"(needs Linux 5.12+ with BTF); run with -v for details\n",
			what);
	else if (err == EINVAL || err == ENOTSUP || err == EOPNOTSUPP)
		fprintf(stderr,
			"tcptrail: %s: the kernel rejected the BPF program (%s); the kernel "
			"or libbpf may be too old (needs Linux 5.12+, libbpf 1.0+); run with -v "
			"for details\n",
			what, strerror(err));
	else
		fprintf(stderr, "tcptrail: %s: %s (run with -v for libbpf's messages)\n", what,
			strerror(err));
}

int tt_iter_read(int link_fd, int (*fn)(void *ctx, const void *buf, size_t len), void *ctx)
{
	char buf[65536];
	int fd = bpf_iter_create(link_fd);
	ssize_t n;
	int ret = 0;

	if (fd < 0)
		return -errno;
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* EAGAIN: the kernel restarts a walk that raced with changes; keep going. */
			if (errno == EAGAIN)
				continue;
			ret = -errno;
			break;
		}
		ret = fn(ctx, buf, (size_t)n);
		if (ret)
			break;
	}
	close(fd);
	return ret;
}

struct iter_records {
	unsigned char *rec;
	size_t size, have;
	void (*fn)(void *ctx, const void *rec);
	void *ctx;
};

static int records_chunk(void *vctx, const void *buf, size_t len)
{
	struct iter_records *r = vctx;
	const unsigned char *p = buf;

	while (len) {
		size_t take = r->size - r->have;

		if (take > len)
			take = len;
		memcpy(r->rec + r->have, p, take);
		r->have += take;
		p += take;
		len -= take;
		if (r->have == r->size) {
			r->fn(r->ctx, r->rec);
			r->have = 0;
		}
	}
	return 0;
}

int tt_iter_read_records(int link_fd, void *rec, size_t size,
			 void (*fn)(void *ctx, const void *rec), void *ctx)
{
	struct iter_records r = {.rec = rec, .size = size, .fn = fn, .ctx = ctx};

	return tt_iter_read(link_fd, records_chunk, &r);
}

void tt_reserve_std_fds(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		int got;

		if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
			continue;
		/* Read-only for output and write-only for input: every use still fails. */
		got = open("/dev/null", (fd == STDIN_FILENO ? O_WRONLY : O_RDONLY));
		if (got >= 0 && got != fd) {
			dup2(got, fd);
			close(got);
		}
	}
}

uint64_t tt_now_ns(int clock_id)
{
	struct timespec ts;

	clock_gettime(clock_id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint32_t tt_ns_per_jiffy(int verbose)
{
	struct timespec res;

	/* The coarse clocks advance once per tick: their resolution is the kernel's TICK_NSEC. */
	if (clock_getres(CLOCK_MONOTONIC_COARSE, &res) || res.tv_sec || res.tv_nsec <= 0) {
		if (verbose)
			fprintf(stderr, "tcptrail: cannot read the kernel's tick length; timers "
					"assume CONFIG_HZ=250\n");
		return 0;
	}
	if (verbose)
		fprintf(stderr,
			"tcptrail: kernel tick %ld ns (CONFIG_HZ=%ld), from "
			"clock_getres(CLOCK_MONOTONIC_COARSE); no kernel config file needed\n",
			(long)res.tv_nsec, (1000000000L + res.tv_nsec / 2) / res.tv_nsec);
	return (uint32_t)res.tv_nsec;
}

uint64_t tt_realtime_offset_ns(void)
{
	uint64_t best = 0, width = UINT64_MAX;

	/*
	 * The realtime read between two event clock reads, the narrowest of three brackets: a
	 * preemption inside one must not pass for a clock that was set (trace.c follows the offset).
	 */
	for (int i = 0; i < 3; i++) {
		uint64_t b1 = tt_now_ns(TT_EVENT_CLOCK);
		uint64_t r = tt_now_ns(CLOCK_REALTIME);
		uint64_t b2 = tt_now_ns(TT_EVENT_CLOCK);

		if (b2 - b1 < width) {
			width = b2 - b1;
			best = r - (b1 + (b2 - b1) / 2);
		}
	}
	return best;
}

uint64_t tt_percpu_sum(int map_fd, uint32_t key)
{
	int ncpus = libbpf_num_possible_cpus();
	uint64_t *vals, total = 0;

	if (ncpus <= 0)
		return 0;
	vals = calloc((size_t)ncpus, sizeof(*vals));
	if (!vals)
		return 0;
	if (!bpf_map_lookup_elem(map_fd, &key, vals)) {
		for (int i = 0; i < ncpus; i++)
			total += vals[i];
	}
	free(vals);
	return total;
}

uint64_t tt_prog_recursion_misses(int prog_fd)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		return 0;
	return info.recursion_misses;
}

static sigset_t held_mask;
static int held;

void tt_hold_stop_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	/* Blocked, a signal stays pending even while its action is still SIG_IGN (Linux). */
	if (!sigprocmask(SIG_BLOCK, &set, &held_mask))
		held = 1;
}

void tt_release_stop_signals(void)
{
	if (held)
		sigprocmask(SIG_SETMASK, &held_mask, NULL);
	held = 0;
}

void tt_on_stop_signals(void (*handler)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	/* Also over an inherited SIG_IGN (a background job's SIGINT): a stop is a stop. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* A stop sent during start-up was held pending: it is delivered here, and acted on. */
	tt_release_stop_signals();
}

/* The running kernel's BTF, loaded once for the feature checks and freed at exit. */
static struct btf *kernel_btf_cache;

static void kernel_btf_free(void)
{
	btf__free(kernel_btf_cache);
	kernel_btf_cache = NULL;
}

static struct btf *kernel_btf(void)
{
	if (!kernel_btf_cache) {
		kernel_btf_cache = btf__load_vmlinux_btf();
		if (libbpf_get_error(kernel_btf_cache)) {
			kernel_btf_cache = NULL;
			return NULL;
		}
		atexit(kernel_btf_free);
	}
	return kernel_btf_cache;
}

int tt_kernel_has_btf_tracepoint(const char *name)
{
	struct btf *vmlinux = kernel_btf();
	char type[128];

	if (!vmlinux)
		return 0;
	snprintf(type, sizeof(type), "btf_trace_%s", name);
	return btf__find_by_name_kind(vmlinux, type, BTF_KIND_TYPEDEF) > 0;
}

/* The BTF id of kernel function name, or a value <= 0 if the kernel's BTF has none. */
static int kernel_func_id(const char *name)
{
	struct btf *vmlinux = kernel_btf();

	return vmlinux ? btf__find_by_name_kind(vmlinux, name, BTF_KIND_FUNC) : -1;
}

int tt_kernel_has_kfunc(const char *name)
{
	return kernel_func_id(name) > 0;
}

int tt_kernel_can_fexit(const char *func)
{
	/* r0 = 0; exit */
	const struct bpf_insn insns[] = {
		{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0},
		{.code = BPF_JMP | BPF_EXIT},
	};
	int id = kernel_func_id(func), prog, link;

	if (id <= 0)
		return 0;
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_FEXIT,
		    .attach_btf_id = (__u32)id);
	/* No name: a name makes libbpf probe for names first, which valgrind flags (valgrind.supp). */
	prog = bpf_prog_load(BPF_PROG_TYPE_TRACING, NULL, "GPL", insns, 2, &opts);
	if (prog < 0)
		return 0;
	/* Some kernels load it and refuse the trampoline only at attach. */
	link = bpf_link_create(prog, 0, BPF_TRACE_FEXIT, NULL);
	close(prog);
	if (link < 0)
		return 0;
	close(link);
	return 1;
}

int tt_btf_tracepoint_nargs(const char *name)
{
	struct btf *vmlinux = kernel_btf();
	const struct btf_type *t;
	char type[128];
	int id;

	if (!vmlinux)
		return -1;
	snprintf(type, sizeof(type), "btf_trace_%s", name);
	id = btf__find_by_name_kind(vmlinux, type, BTF_KIND_TYPEDEF);
	if (id <= 0)
		return -1;
	/* typedef -> pointer -> function prototype, whose first parameter is the probe's data. */
	t = btf__type_by_id(vmlinux, btf__resolve_type(vmlinux, id));
	if (!t || !btf_is_ptr(t))
		return -1;
	t = btf__type_by_id(vmlinux, t->type);
	if (!t || !btf_is_func_proto(t))
		return -1;
	return btf_vlen(t) - 1;
}

struct helper_search {
	const char *func;
	int found;
};

static void match_helper(void *ctx, const char *rest, long long value)
{
	struct helper_search *h = ctx;

	h->found |= !strcmp(rest, h->func);
}

int tt_kernel_has_helper(const char *func)
{
	struct helper_search h = {.func = func};

	/* The kernel's own enum bpf_func_id lists every helper it has, with no program to load. */
	tt_kernel_enum("bpf_func_id", "BPF_FUNC_", match_helper, &h);
	return h.found;
}

int tt_kernel_enum(const char *name, const char *prefix,
		   void (*fn)(void *ctx, const char *rest, long long value), void *ctx)
{
	struct btf *vmlinux = kernel_btf();
	size_t plen = strlen(prefix);
	const struct btf_type *t;
	int id, n = 0;

	if (!vmlinux)
		return -1;
	id = btf__find_by_name_kind(vmlinux, name, BTF_KIND_ENUM);
	t = id > 0 ? btf__type_by_id(vmlinux, id) : NULL;
	if (!t)
		return -1;
	for (int i = 0; i < btf_vlen(t); i++) {
		const struct btf_enum *v = btf_enum(t) + i;
		const char *s = btf__name_by_offset(vmlinux, v->name_off);

		if (!s || strncmp(s, prefix, plen))
			continue;
		/* kind_flag: the enum is signed */
		fn(ctx, s + plen, btf_kflag(t) ? (long long)v->val : (long long)(__u32)v->val);
		n++;
	}
	return n;
}
