/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_BPFCOMMON_H
#define TT_BPFCOMMON_H

#include <stdint.h>

/*
 * libbpf's messages on stderr with -v, silence otherwise; either way a failed program load is
 * noted for tt_bpf_failed_prog().
 */
void tt_libbpf_logging(int verbose);

/*
 * The program the kernel refused since tt_bpf_failed_clear() (NULL if none: the load failed
 * before the kernel saw a program) and, in *reason, the verifier's last word on it (or the
 * kernel's error when it gave no log).
 */
const char *tt_bpf_failed_prog(const char **reason);
void tt_bpf_failed_clear(void);

/* Whether TCPTRAIL_TEST_REFUSE (comma-separated) names key: tests make that BPF part fail. */
int tt_test_refuse(const char *key);

/*
 * Checks what every BPF command needs (BTF); prints one line and returns -1 if not. nofile is
 * how many files the command holds open at once: a later failure under a lower limit names it.
 */
int tt_preflight(unsigned int nofile);

/* Whether tp_btf can attach to tracepoint `name` (its btf_trace_ typedef is in vmlinux BTF). */
int tt_kernel_has_btf_tracepoint(const char *name);

/* Whether the kernel has function `name` in its BTF (a kfunc such as bpf_task_from_pid). */
int tt_kernel_has_kfunc(const char *name);

/* Whether an fexit program can be loaded and attached to kernel function `func` (trampolines). */
int tt_kernel_can_fexit(const char *func);

/* The number of arguments tp_btf gets from tracepoint `name`, or -1 if it has none. */
int tt_btf_tracepoint_nargs(const char *name);

/* Whether the kernel has BPF helper `func` ("loop" for bpf_loop), from its BTF. */
int tt_kernel_has_helper(const char *func);

/*
 * Calls fn with every enumerator of the running kernel's enum `name` that starts with prefix
 * (the rest of its name and its value): the enumerators seen, or -1 when the kernel's BTF has
 * no such enum. For enums whose values change from one kernel to the next.
 */
int tt_kernel_enum(const char *name, const char *prefix,
		   void (*fn)(void *ctx, const char *rest, long long value), void *ctx);

/* The resource limit (EMFILE, ENFILE, ENOMEM) behind a failed load's err, or 0 if none. */
int tt_bpf_limit_behind(int err);

/* One line for a failed load/attach of `what`, naming the likely fix. */
void tt_report_bpf_error(const char *what, int err);

/* One line for another failure (err, or -err): a resource limit is named with its fix. */
void tt_report_error(const char *what, int err);

/* Runs an iterator link to completion, handing its output to fn in chunks. 0 or -errno. */
int tt_iter_read(int link_fd, int (*fn)(void *ctx, const void *buf, size_t len), void *ctx);

/*
 * Runs an iterator link that writes fixed-size records, calling fn once per whole record: a
 * record split across reads is put together in rec (size bytes, aligned for its type).
 */
int tt_iter_read_records(int link_fd, void *rec, size_t size,
			 void (*fn)(void *ctx, const void *rec), void *ctx);

/*
 * Puts /dev/null on whichever of fds 0-2 is closed, opened so that using it fails with EBADF as
 * before: otherwise the next file opened (a BPF map, the -w log) would become standard output
 * and receive what is printed.
 */
void tt_reserve_std_fds(void);

/*
 * The kernel's jiffy in ns (1e9 / CONFIG_HZ), read without a kernel config file; 0 if unknown.
 * Says where it came from when verbose.
 */
uint32_t tt_ns_per_jiffy(int verbose);

/* The clock of the BPF side's timestamps (bpf_ktime_get_ns()). */
#define TT_EVENT_CLOCK CLOCK_MONOTONIC

/* CLOCK_REALTIME - TT_EVENT_CLOCK in ns, to put wall time on BPF timestamps. */
uint64_t tt_realtime_offset_ns(void);
uint64_t tt_now_ns(int clock_id);

/* The sum over the possible CPUs of a per-CPU map's __u64 value at key; 0 if unreadable. */
uint64_t tt_percpu_sum(int map_fd, uint32_t key);
/*
 * Runs of a program the kernel skipped because it was already running on that CPU (a softirq
 * that interrupted it hit its hook again); 0 if unreadable.
 */
uint64_t tt_prog_recursion_misses(int prog_fd);

/*
 * First thing in main: SIGINT, SIGTERM and SIGHUP are blocked (threads started meanwhile keep
 * them blocked), so one sent during start-up waits instead of killing the process half set up
 * or being discarded. tt_release_stop_signals() restores the mask (commands without handlers).
 */
void tt_hold_stop_signals(void);
void tt_release_stop_signals(void);

/*
 * SIGINT and SIGTERM call handler without SA_RESTART, so a blocking wait (epoll, the -c sleep)
 * returns and the caller sees its stop flag; SIGPIPE is ignored (a closed pipe is EPIPE). Call
 * it once start-up is done and the SIGHUP action is set: the held signals are delivered then.
 */
void tt_on_stop_signals(void (*handler)(int));

#endif
