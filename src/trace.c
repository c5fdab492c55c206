// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The tracing loop: load and attach the BPF programs, drain the ring buffer, print and record. */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "tcptrail.skel.h"
#include "acceptq.h"
#include "alerts.h"
#include "bpfcommon.h"
#include "bpfparts.h"
#include "causes.h"
#include "cgroup.h"
#include "config.h"
#include "format.h"
#include "logwrite.h"
#include "metrics.h"
#include "metricsrv.h"
#include "netns.h"
#include "outbuf.h"
#include "procnet.h"
#include "stuck.h"
#include "trace.h"

#define BATCH_EVENTS	  4096
#define POLL_TIMEOUT_MS	  10
#define FLUSH_INTERVAL_NS 50000000ULL /* pipes and files see output at least this often */
#define FLUSH_BYTES	  (64 * 1024)
#define LOST_CHECK_NS	  1000000000ULL
/*
 * Stuck alerts per loop turn: raised (a hash probe and a copy each), and emitted with their
 * holders (formatted like an event). Fewer while the ring buffer has a backlog: draining first.
 */
#define ALERTS_RAISE_TURN 16384
#define ALERTS_EMIT_TURN  2048
#define ALERTS_EMIT_BUSY  256
/* Files held at once: maps, programs, links, the ring buffer, the log, the owner walk, probes. */
#define NOFILE_NEEDED 64

/*
 * Events of a connection waiting in a shared listener's accept queue wait at most this long for
 * their acceptor (then go out naming the listener's owner), at most this many at once.
 */
#define ACCEPTQ_MAX_AGE_NS 2000000000ULL
#define ACCEPTQ_CAP	   65536

static volatile sig_atomic_t exiting;

static void on_signal(int sig)
{
	exiting = 1;
}

static volatile sig_atomic_t reopen_log;

static void on_hup(int sig)
{
	reopen_log = 1;
}

#define TW_NETNS_MAX 64

/* A netns whose TCPTimeWaitOverflow counter is watched, through a process living in it. */
struct tw_watch {
	uint32_t netns;
	uint32_t pid;
	int stale;
	uint64_t last;
};

struct trace_ctx {
	const struct config *cfg;
	const struct services *svc;
	struct fmt_ctx fmt;
	struct outbuf out;  /* stdout */
	struct outbuf json; /* log lines, when stdout is not JSON already */
	struct logw *log;
	struct stuck *stuck;
	struct alerts *alerts;	 /* stuck alerts of a tick, waiting for their holders */
	struct acceptq *acceptq; /* pre-accept events waiting for their acceptor */
	struct cg_cache *cg;	 /* cgroup ids -> paths, containers, units */
	/* --metrics: counted here by the event loop, served by msrv's threads */
	struct metrics *metrics;
	struct mtsrv *msrv;
	uint64_t realtime_off;
	uint64_t events;
	uint64_t lost;
	uint64_t short_records;	 /* too short to be an event: never expected, counted as lost */
	uint64_t untracked;	 /* sockets the kernel's table had no room for */
	uint64_t listeners_lost; /* listeners the kernel's listener table had no room for */
	int prog_fd;		 /* the state program, for its recursion misses */
	int lost_fd;		 /* the kernel's `lost` counters (enum tt_lost) */
	uint64_t last_check;	 /* CLOCK_MONOTONIC of the last once-a-second check */
	uint32_t batch;		 /* events since control went back to the loop */
	int out_tty;
	int out_broken;
	int out_error;		 /* writing stdout failed, other than a closed pipe */
	struct logw *out_stream; /* stdout when it is not a terminal: written by a thread */
	uint64_t out_dropped;	 /* lines it had no room for, as last said */
	uint64_t not_written;	 /* lines standard output lost: lost events, exit 1 */
	uint64_t last_flush;
	int ntw;
	struct tw_watch tw[TW_NETNS_MAX];
	uint64_t tw_skipped;
	int netns_fd[TT_MAX_FILTER]; /* --netns namespaces held open; -1: not found (yet) */
	uint64_t netns_searched;     /* CLOCK_MONOTONIC of the last search for the others */
};

/*
 * A write of stdout failed on out_stream's thread: replay's and snapshot's rule
 * (ob_output_error()), and tracing stops, since nobody reads what it prints.
 */
static void output_failed(struct trace_ctx *c, int err)
{
	if (c->out_broken)
		return;
	if (ob_output_error(err, &c->out_broken))
		c->out_error = 1;
	exiting = 1;
}

/*
 * A reader that stops reading (a stopped pager, a stuck consumer) leaves lines waiting in
 * memory, up to a bound: past it they are dropped. Said at most once a second, like events the
 * ring buffer lost, since that is what they are.
 */
static void check_out_dropped(struct trace_ctx *c)
{
	uint64_t dropped = c->out_stream ? logw_dropped(c->out_stream) : 0;

	if (dropped <= c->out_dropped)
		return;
	fprintf(stderr,
		"tcptrail: WARNING: %llu lines not written, %llu in total: standard output is not "
		"read fast enough and the lines waiting for it reached their bound (256 MiB)\n",
		(unsigned long long)(dropped - c->out_dropped), (unsigned long long)dropped);
	c->out_dropped = dropped;
}

/*
 * A terminal is written here by ob_flush_fd() as replay and snapshot do; stdout that is not a
 * terminal is handed to out_stream's thread, so a reader that stalls cannot stall the draining
 * of the ring buffer.
 */
static void flush_stdout(struct trace_ctx *c, uint64_t now)
{
	c->last_flush = now;
	if (!c->out.len)
		return;
	if (!c->out_stream) {
		if (ob_flush_fd(&c->out, STDOUT_FILENO, &c->out_broken))
			c->out_error = 1;
		if (c->out_broken)
			exiting = 1; /* as output_failed(): nobody reads what tracing prints */
		return;
	}
	if (!c->out_broken)
		logw_write(c->out_stream, c->out.data, c->out.len);
	ob_reset(&c->out);
}

/* TCPTimeWaitOverflow of the netns of `pid` (0: our own), if that netns is `netns`. */
static int read_tw_overflow(uint32_t pid, uint32_t netns, uint64_t *value)
{
	char path[64], buf[16384];
	struct stat st;
	ssize_t n;
	int fd;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%u/ns/net", pid);
	else
		snprintf(path, sizeof(path), "/proc/self/ns/net");
	if (stat(path, &st) || st.st_ino != netns)
		return -1;
	snprintf(path, sizeof(path), pid ? "/proc/%u/net/netstat" : "/proc/self/net/netstat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n <= 0)
		return -1;
	return procnet_counter(buf, (size_t)n, "TcpExt", "TCPTimeWaitOverflow", value);
}

/*
 * Starts watching the overflow counter of an event's netns at its first active close, before
 * any timewait handoff there: when tcp_max_tw_buckets is full the kernel makes no timewait
 * socket, and the tracepoint cannot tell.
 */
static void tw_watch_netns(struct trace_ctx *c, const struct tt_event *e)
{
	struct tw_watch *w;

	for (int i = 0; i < c->ntw; i++) {
		w = &c->tw[i];
		if (w->netns != e->netns)
			continue;
		/* The process we read through is gone: read through this owner instead. */
		if (w->stale && (e->flags & TT_F_OWNER_KNOWN)) {
			w->pid = e->pid;
			w->stale = 0;
		}
		return;
	}
	if (c->ntw >= TW_NETNS_MAX || !(e->flags & TT_F_OWNER_KNOWN))
		return;
	w = &c->tw[c->ntw];
	w->netns = e->netns;
	w->pid = e->pid;
	if (read_tw_overflow(w->pid, w->netns, &w->last)) {
		if (read_tw_overflow(0, w->netns, &w->last))
			return; /* owner gone or elsewhere: try again at the next close */
		w->pid = 0;
	}
	c->ntw++;
}

static void tw_check(struct trace_ctx *c)
{
	for (int i = 0; i < c->ntw; i++) {
		struct tw_watch *w = &c->tw[i];
		uint64_t now;

		if (read_tw_overflow(w->pid, w->netns, &now)) {
			w->stale = 1;
			continue;
		}
		if (now <= w->last)
			continue;
		if (!c->tw_skipped)
			fprintf(stderr,
				"tcptrail: warning: %llu connections skipped TIME_WAIT: "
				"tcp_max_tw_buckets full (netns %u); TIME_WAIT events there "
				"may not be real\n",
				(unsigned long long)(now - w->last), w->netns);
		c->tw_skipped += now - w->last;
		w->last = now;
	}
}

#define NETNS_SEARCH_NS 5000000000ULL

/*
 * --netns matches a namespace's inode number, which the kernel gives to a new namespace (or
 * another nsfs or proc inode) once the namespace is freed, so the filter would start to follow a
 * stranger. An open fd keeps the namespace, and so its number, ours: every --netns namespace is
 * held from the moment it is found. The ones not found are looked for again every few seconds
 * (one stat per process), and said to be missing once.
 */
static void hold_netns(struct trace_ctx *c, uint64_t now)
{
	const struct tt_filter *f = &c->cfg->filter;
	int was[TT_MAX_FILTER], first = !c->netns_searched, err;
	char why[128] = "";

	if (!f->nnetns || (!first && now - c->netns_searched < NETNS_SEARCH_NS))
		return;
	c->netns_searched = now;
	memcpy(was, c->netns_fd, sizeof(was));
	if (tt_netns_hold(f->netns, c->netns_fd, (int)f->nnetns, &err) == (int)f->nnetns && first)
		return;
	if (err)
		snprintf(why, sizeof(why), " (some could not be read: %s%s)", strerror(err),
			 tt_netns_need_cap(err, 0));
	for (uint32_t i = 0; i < f->nnetns; i++) {
		if (first && c->netns_fd[i] < 0)
			fprintf(stderr,
				"tcptrail: warning: --netns %u: no network namespace has this "
				"number now%s: one that gets it later is traced (and held)\n",
				f->netns[i], why);
		else if (!first && was[i] < 0 && c->netns_fd[i] >= 0)
			fprintf(stderr, "tcptrail: --netns %u: the namespace exists now\n",
				f->netns[i]);
	}
}

/*
 * Prints and records one event: a transition from BPF, or a stuck alert with the processes
 * holding its socket (NULL when they could not be re-checked).
 */
static void emit(struct trace_ctx *c, const struct tt_event *e, const struct owners_list *holders,
		 const struct cg_desc *cg)
{
	uint64_t wall = e->ts_ns + c->realtime_off;
	const char *lsvc = services_name(c->svc, e->sport);
	const char *rsvc = e->dport ? services_name(c->svc, e->dport) : NULL;
	size_t start = c->out.len;

	/* Not known (no v2 mount, a cgroup gone before it was seen): the keys say null. */
	if (!cg)
		cg = &cg_none;
	/* -q keeps the screen for stuck alerts only. */
	if (!c->cfg->quiet || e->type == TT_EV_STUCK) {
		if (c->cfg->json)
			fmt_event_json(&c->out, &c->fmt, e, wall, lsvc, rsvc, holders, cg);
		else if (c->cfg->numeric)
			fmt_event_text(&c->out, &c->fmt, e, wall, NULL, NULL, holders, cg);
		else
			fmt_event_text(&c->out, &c->fmt, e, wall, lsvc, rsvc, holders, cg);
	}
	if (c->log) {
		if (c->cfg->json && c->out.len > start) {
			logw_write(c->log, c->out.data + start, c->out.len - start);
		} else {
			struct outbuf *ob = logw_buffer(c->log);
			size_t at = ob->len;

			fmt_event_json(ob, &c->fmt, e, wall, lsvc, rsvc, holders, cg);
			logw_commit(c->log, at);
		}
	}
	if (c->out.len >= FLUSH_BYTES)
		flush_stdout(c, c->last_flush);
}

/* A stuck alert falls due: it waits for the owner walk (alerts.c). */
static void queue_alert(void *vctx, const struct tt_event *e)
{
	alerts_add(((struct trace_ctx *)vctx)->alerts, e);
}

static void emit_alert(void *vctx, const struct tt_event *e, const struct owners_list *holders)
{
	struct trace_ctx *c = vctx;
	const struct cg_desc *cg = cg_cache_get(c->cg, e->cgroup_id);

	/* Sockets older than the tracer were not filtered in the kernel: --cgroup by path here. */
	if (filter_match_cgroup(&c->cfg->filter, cg)) {
		emit(c, e, holders, cg);
		if (c->metrics)
			metrics_alert(c->metrics, e);
	}
}

/*
 * A pre-accept event goes out: the kernel did not apply --pid and --comm to it (they name the
 * acceptor, known only now).
 */
static void emit_accept_queued(void *vctx, const struct tt_event *e)
{
	struct trace_ctx *c = vctx;
	const struct tt_filter *f = &c->cfg->filter;

	if ((f->npids || f->ncomms) && !filter_match(f, e))
		return;
	emit(c, e, NULL, cg_cache_get(c->cg, e->cgroup_id));
}

/*
 * Events of connections waiting in a shared listener's accept queue are held until the acceptor
 * is known (acceptq.h); a connection's later events wait behind its held ones. Returns 1 when e
 * was taken care of.
 */
static int accept_queue(struct trace_ctx *c, const struct tt_event *e)
{
	int queued = e->flags & TT_F_PRE_ACCEPT;

	if (!queued && !acceptq_holds(c->acceptq, e->sock_cookie))
		return 0;
	if (queued && !(e->flags & TT_F_TOTALS) &&
	    !acceptq_hold(c->acceptq, e, tt_now_ns(CLOCK_MONOTONIC)))
		return 1;
	/* The end of a connection never accepted, or a later one naming its holder. */
	acceptq_release(c->acceptq, e->sock_cookie, queued ? NULL : e, emit_accept_queued, c);
	emit_accept_queued(c, e);
	return 1;
}

static int handle_event(void *vctx, void *data, size_t len)
{
	struct trace_ctx *c = vctx;
	const struct tt_event *e = data;
	const struct cg_desc *cg;
	struct tt_event whole;

	/* A record without totals is the event's first TT_EVENT_BASE_SIZE bytes. */
	if (len < sizeof(*e)) {
		if (len < TT_EVENT_BASE_SIZE) {
			c->short_records++;
			return 0;
		}
		memcpy(&whole, data, len);
		memset((char *)&whole + len, 0, sizeof(whole) - len);
		e = &whole;
	}
	if (e->type == TT_EV_ACCEPTED) {
		acceptq_release(c->acceptq, e->sock_cookie, e, emit_accept_queued, c);
		return 0;
	}
	/* One hash probe: a cgroup's path is found once, when its first socket shows up. */
	cg = cg_cache_get(c->cg, e->cgroup_id);
	if (!filter_match_container(&c->cfg->filter, cg))
		return 0;
	c->events++;
	if (c->metrics)
		metrics_event(c->metrics, e, cg);
	if (e->newstate == TT_FIN_WAIT1 || e->newstate == TT_CLOSING)
		tw_watch_netns(c, e);
	if (c->stuck)
		stuck_update(c->stuck, e);
	if (!accept_queue(c, e))
		emit(c, e, NULL, cg);
	/*
	 * libbpf reads on while records keep coming; hand control back now and then so a flood
	 * cannot starve the deadline, signals, flushes and stuck ticks (this record is consumed).
	 */
	if (++c->batch >= BATCH_EVENTS) {
		c->batch = 0;
		return -ECANCELED;
	}
	return 0;
}

/* Sum over CPUs of one of the kernel's `lost` counters (enum tt_lost). */
static uint64_t read_lost(int map_fd, __u32 key)
{
	int ncpus = libbpf_num_possible_cpus();
	uint64_t total = 0;
	if (ncpus <= 0)
		return 0;
	uint64_t *vals = calloc((size_t)ncpus, sizeof(*vals));

	if (!vals)
		return 0;
	if (!bpf_map_lookup_elem(map_fd, &key, vals)) {
		for (int i = 0; i < ncpus; i++)
			total += vals[i];
	}
	free(vals);
	return total;
}

/*
 * Runs the kernel skipped because the program was already running on that CPU (a softirq
 * that interrupted it hit the tracepoint again): events that never reached the program.
 */
static uint64_t read_missed(int prog_fd)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (prog_fd < 0 || bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		return 0;
	return info.recursion_misses;
}

static void check_lost(struct trace_ctx *c)
{
	uint64_t untracked = read_lost(c->lost_fd, TT_LOST_UNTRACKED);
	uint64_t listeners = read_lost(c->lost_fd, TT_LOST_LISTENERS);
	uint64_t lost =
		read_lost(c->lost_fd, TT_LOST_RINGBUF) + read_missed(c->prog_fd) + c->short_records;

	if (untracked && !c->untracked)
		fprintf(stderr,
			"tcptrail: warning: the socket table (%d slots) had no room for some "
			"sockets: they are traced, but their events show no owner or time in "
			"state\n",
			TT_MAX_SOCKETS);
	c->untracked = untracked;
	if (listeners && !c->listeners_lost)
		fprintf(stderr,
			"tcptrail: warning: the listener table (%d addresses) is full: children of "
			"listeners opened since show no owner until accepted\n",
			TT_MAX_LISTENERS);
	c->listeners_lost = listeners;
	if (lost <= c->lost)
		return;
	fprintf(stderr,
		"tcptrail: WARNING: %llu events lost (ring buffer full, or the tracepoint fired "
		"while the program ran on that CPU), %llu in total; try --ringbuf-mb or narrower "
		"filters\n",
		(unsigned long long)(lost - c->lost), (unsigned long long)lost);
	if (c->log) {
		fmt_lost_json(&c->json, tt_now_ns(CLOCK_REALTIME), lost - c->lost, lost);
		logw_write(c->log, c->json.data, c->json.len);
		ob_reset(&c->json);
	}
	c->lost = lost;
}

/*
 * The tracer's programs by part (enum tt_bpf_part's order). The kernels each part is known to
 * load on were measured in the kernel matrix (tests/kernels/, README "Kernels").
 */
static const struct tt_part trace_parts_init[TT_PART_COUNT] = {
	[TT_PART_CORE] =
		{"core", "state events", "6.1", "nothing to trace", {"handle_set_state"}, 1},
	[TT_PART_RESETS] = {"resets",
			    "resets sent and received",
			    "6.1",
			    "close causes tell resets only by the error they leave",
			    {"handle_receive_reset", "handle_send_reset",
			     "handle_send_reset_reason"}},
	[TT_PART_IO] = {"io",
			"owners followed through socket I/O",
			"6.3",
			"after fork, exec, fd passing or socket activation an event names the "
			"socket's previous holder until its next connect, listen, accept or close",
			{"handle_send", "handle_recv"}},
	[TT_PART_ACCEPT] = {"accept",
			    "owners learned at accept()",
			    "6.1",
			    "accepted sockets name their acceptor from its first I/O",
			    {"handle_accept"}},
	[TT_PART_HANDOFF] = {"handoff",
			     "listeners handed on at exit",
			     "6.2",
			     "a listener's holder that exits stays named until the next accept()",
			     {"handle_fork", "handle_exit"}},
	[TT_PART_EXEC] = {"exec",
			  "sockets renamed at exec and prctl(PR_SET_NAME)",
			  "6.1",
			  "a renamed process's sockets take the new name at their next I/O",
			  {"handle_exec", "handle_rename"}},
	[TT_PART_WALK] = {"walk",
			  "the start-up walk of existing sockets",
			  "6.1",
			  "sockets older than the tracer show no owner or time in state and raise "
			  "no --stuck alert",
			  {"seed_owners", "seed_states"}},
};

/*
 * What this kernel lacks, probed before loading: the socket I/O tracepoints (6.3+), trampolines
 * for fexit (not every build allows them), bpf_loop (5.17), bpf_for_each_map_elem (5.13) and
 * bpf_task_from_pid (6.2).
 */
static void probe_parts(struct tt_part *parts)
{
	if (!tt_kernel_has_btf_tracepoint("sock_send_length") ||
	    !tt_kernel_has_btf_tracepoint("sock_recv_length"))
		tt_part_off(&parts[TT_PART_IO], TT_PART_ABSENT,
			    "no sock:sock_send_length/sock_recv_length tracepoints: Linux 6.3+");
	if (!tt_kernel_can_fexit("inet_accept"))
		tt_part_off(&parts[TT_PART_ACCEPT], TT_PART_ABSENT,
			    "the kernel does not attach fexit programs to inet_accept here");
	/* The exit hook can tell a live heir only with bpf_task_from_pid (6.2). */
	if (!tt_kernel_has_helper("for_each_map_elem") || !tt_kernel_has_kfunc("bpf_task_from_pid"))
		tt_part_off(&parts[TT_PART_HANDOFF], TT_PART_ABSENT,
			    "no bpf_task_from_pid kfunc: Linux 6.2+");
	if (!tt_kernel_has_helper("loop"))
		tt_part_off(&parts[TT_PART_EXEC], TT_PART_ABSENT,
			    "no bpf_loop helper: Linux 5.17+");
}

static void choose_programs(struct tcptrail_bpf *skel, const struct tt_part *parts)
{
	/* Since 6.10 tcp_send_reset says why: (sk, skb, reason). */
	int reason = tt_btf_tracepoint_nargs("tcp_send_reset") >= 3;

	bpf_program__set_autoload(skel->progs.handle_send_reset_reason, reason);
	bpf_program__set_autoload(skel->progs.handle_send_reset, !reason);
	bpf_program__set_autoload(skel->progs.handle_rename,
				  tt_kernel_has_btf_tracepoint("task_rename"));
	tt_parts_apply(skel->obj, parts, TT_PART_COUNT);
}

static void set_filters(struct tcptrail_bpf *skel, const struct tt_filter *f)
{
	struct tcptrail_bpf__rodata *ro = skel->rodata;

	ro->filter_family = (__u8)f->family;
	ro->filter_state_mask = f->state_mask;
	ro->filter_npids = f->npids;
	memcpy((void *)ro->filter_pids, f->pids, sizeof(f->pids));
	ro->filter_ncomms = f->ncomms;
	memcpy((void *)ro->filter_comms, f->comms, sizeof(f->comms));
	ro->filter_nports = f->nports;
	memcpy((void *)ro->filter_ports, f->ports, sizeof(f->ports));
	ro->filter_nlports = f->nlports;
	memcpy((void *)ro->filter_lports, f->lports, sizeof(f->lports));
	ro->filter_nrports = f->nrports;
	memcpy((void *)ro->filter_rports, f->rports, sizeof(f->rports));
	ro->filter_nnetns = f->nnetns;
	memcpy((void *)ro->filter_netns, f->netns, sizeof(f->netns));
	ro->filter_ncgroups = f->ncgroups;
	memcpy((void *)ro->filter_cgroup_ids, f->cgroup_ids, sizeof(f->cgroup_ids));
	memcpy((void *)ro->filter_cgroup_levels, f->cgroup_levels, sizeof(f->cgroup_levels));
	ro->filter_cause_mask = f->cause_mask;
	ro->any_filter = f->family || f->state_mask || f->npids || f->ncomms || f->nports ||
			 f->nlports || f->nrports || f->nnetns || f->cause_mask;
}

static void add_reset_reason(void *ctx, const char *rest, long long value)
{
	/* SK_RST_REASON_MAX counts the reasons, it is none of them */
	if (strcmp(rest, "MAX") && value >= 0)
		rst_reason_set((unsigned int)value, rest, strlen(rest));
}

/*
 * The names of the kernel's reset reasons, whose values differ between kernels: from the running
 * kernel's BTF, where enum sk_rst_reason came with 6.10 (as tcp_send_reset's reason).
 */
static void load_reset_reasons(int verbose)
{
	if (tt_kernel_enum("sk_rst_reason", "SK_RST_REASON_", add_reset_reason, NULL) < 0 &&
	    verbose)
		fprintf(stderr, "tcptrail: this kernel has no enum sk_rst_reason (6.10+): resets "
				"show no reason\n");
}

/* The cgroup v2 hierarchy, walked once now: the paths of the sockets' cgroups. */
static void open_cgroups(struct trace_ctx *c)
{
	char mnt[CG_PATH_MAX];
	int depth;

	if (cg_find_v2_mount(mnt, sizeof(mnt), &depth)) {
		if (c->cfg->verbose)
			fprintf(stderr, "tcptrail: no cgroup v2 file system is mounted: events "
					"show no cgroup, container, pod or unit\n");
		c->cg = cg_cache_new(NULL);
		return;
	}
	c->cg = cg_cache_new(mnt);
	if (c->cfg->verbose)
		fprintf(stderr, "tcptrail: cgroup v2 at %s\n", mnt);
}

static int discard_chunk(void *ctx, const void *buf, size_t len)
{
	return 0;
}

/* Gives sockets that predate the tracer their owners (and listeners their children's). */
static void seed_owners(struct tcptrail_bpf *skel, int verbose)
{
	struct bpf_link *link = bpf_program__attach_iter(skel->progs.seed_owners, NULL);
	int err;

	if (!link) {
		if (verbose)
			fprintf(stderr,
				"tcptrail: cannot walk existing sockets (%s); their owners "
				"show as '-' until they make a system call\n",
				strerror(errno));
		return;
	}
	err = tt_iter_read(bpf_link__fd(link), discard_chunk, NULL);
	if (err && verbose)
		fprintf(stderr, "tcptrail: walking existing sockets: %s\n", strerror(-err));
	bpf_link__destroy(link);
}

struct seed_ctx {
	struct trace_ctx *trace;
	struct bpf_link *link;
	struct stuck *stuck;
	struct tt_event rec; /* put together by tt_iter_read_records() */
};

/* A socket older than the tracer, for the gauges: the filters the kernel applies to events. */
static void seed_metrics(struct trace_ctx *c, const struct tt_event *e)
{
	const struct cg_desc *cg = cg_cache_get(c->cg, e->cgroup_id);

	/* filter_match_cgroup() checks --container too */
	if (filter_match(&c->cfg->filter, e) && filter_match_cgroup(&c->cfg->filter, cg))
		metrics_seed(c->metrics, e, cg);
}

static void seed_record(void *vctx, const void *rec)
{
	struct seed_ctx *c = vctx;
	const struct tt_event *e = rec;

	if (c->stuck)
		stuck_seed_socket(c->stuck, e);
	if (c->trace->metrics)
		seed_metrics(c->trace, e);
}

static int seed_netns(void *vctx, uint64_t netns_ino, uint32_t pid)
{
	struct seed_ctx *c = vctx;
	struct trace_ctx *t = c->trace;

	/* Overflow baselines before any event, through a process that lives in each netns. */
	if (t->ntw < TW_NETNS_MAX &&
	    !read_tw_overflow(0, (uint32_t)netns_ino, &t->tw[t->ntw].last)) {
		t->tw[t->ntw].netns = (uint32_t)netns_ino;
		t->tw[t->ntw].pid = pid;
		t->ntw++;
	}
	return tt_iter_read_records(bpf_link__fd(c->link), &c->rec, sizeof(c->rec), seed_record, c);
}

/*
 * Sockets that predate the tracer, in every namespace: their time in state counts from now
 * ("at least"), and --stuck watches the ones already in a watched state.
 */
static void seed_states(struct tcptrail_bpf *skel, struct trace_ctx *t, int verbose)
{
	struct seed_ctx c = {.trace = t, .stuck = t->stuck};
	struct tt_netns_walk walk;
	int err;

	c.link = bpf_program__attach_iter(skel->progs.seed_states, NULL);
	if (!c.link) {
		fprintf(stderr,
			"tcptrail: warning: cannot walk existing sockets (%s): sockets "
			"stuck before the start go unnoticed\n",
			strerror(errno));
		return;
	}
	err = tt_for_each_netns(seed_netns, &c, &walk);
	if (err)
		fprintf(stderr, "tcptrail: warning: walking existing sockets: %s%s%s\n",
			walk.failed ? walk.failed : "", walk.failed ? ": " : "", strerror(-err));
	/* Always with --stuck: its alerts for sockets stuck before the start depend on it. */
	if (verbose)
		tt_netns_report_found("walking existing sockets", &walk);
	if (verbose || t->stuck)
		tt_netns_report_skips("walking existing sockets", &walk,
				      "their sockets older than the tracer show no time in state "
				      "and raise no --stuck alert");
	bpf_link__destroy(c.link);
}

/* The loaded tracer: one lifecycle, one cleanup path (trace_bpf_close). */
struct trace_bpf {
	struct tcptrail_bpf *skel;
	struct ring_buffer *rb; /* hands each record to handle_event() */
	struct tt_part parts[TT_PART_COUNT];
};

static void trace_bpf_close(struct trace_bpf *b)
{
	ring_buffer__free(b->rb);
	tcptrail_bpf__destroy(b->skel);
	memset(b, 0, sizeof(*b));
}

/*
 * Opens the BPF object and fills in the filters, the programs this kernel can run and the ring
 * buffer's size, then loads it: a refused optional part is switched off and the object opened
 * and loaded again without it (one try per part at most). On failure *what names the step.
 */
static int trace_bpf_load(struct trace_bpf *b, const struct config *cfg, const char **what)
{
	static char refused[400];
	unsigned int test_refuse = tt_parts_test_refuse(b->parts, TT_PART_COUNT);
	const char *prog, *why;
	int err;

	for (int attempt = 0; attempt <= TT_PART_COUNT; attempt++) {
		tcptrail_bpf__destroy(b->skel);
		*what = "opening the BPF object";
		b->skel = tcptrail_bpf__open();
		/* errno 0 must not read as success: run_trace would go on with NULL. */
		if (!b->skel)
			return errno ? -errno : -ENOMEM;
		set_filters(b->skel, &cfg->filter);
		b->skel->rodata->test_refuse = test_refuse;
		choose_programs(b->skel, b->parts);
		*what = "sizing the ring buffer";
		err = bpf_map__set_max_entries(b->skel->maps.events, cfg->ringbuf_mb << 20);
		if (err)
			return err;
		*what = "loading the BPF programs";
		tt_bpf_failed_clear();
		err = tcptrail_bpf__load(b->skel);
		/* Short of files or memory any program may fail: that is no part's fault. */
		if (!err || tt_bpf_limit_behind(err))
			return err;
		if (!tt_parts_refused(b->parts, TT_PART_COUNT, &prog, &why))
			break;
	}
	if (prog) {
		snprintf(refused, sizeof(refused), "loading the BPF programs (%s: %s)", prog, why);
		*what = refused;
	}
	return err;
}

/* Loads, attaches and makes the ring buffer reader for c; *what names a failed step. */
static int trace_bpf_open(struct trace_bpf *b, struct trace_ctx *c, const char **what)
{
	const struct config *cfg = c->cfg;
	int err;

	memset(b, 0, sizeof(*b));
	memcpy(b->parts, trace_parts_init, sizeof(b->parts));
	probe_parts(b->parts);
	load_reset_reasons(cfg->verbose);
	err = trace_bpf_load(b, cfg, what);
	if (err)
		return err;
	*what = "attaching to sock:inet_sock_set_state";
	err = tt_parts_attach(b->skel->skeleton, b->parts, TT_PART_COUNT);
	if (err)
		return err;
	tt_parts_report(b->parts, TT_PART_COUNT, cfg->verbose);
	*what = "creating the ring buffer reader";
	b->rb = ring_buffer__new(bpf_map__fd(b->skel->maps.events), handle_event, c, NULL);
	if (!b->rb)
		return errno ? -errno : -ENOMEM;
	return 0;
}

static void trace_ctx_init(struct trace_ctx *c, const struct config *cfg,
			   const struct services *svc)
{
	memset(c, 0, sizeof(*c));
	for (int i = 0; i < TT_MAX_FILTER; i++)
		c->netns_fd[i] = -1;
	c->cfg = cfg;
	c->svc = svc;
	c->prog_fd = -1;
	c->lost_fd = -1;
	fmt_ctx_init(&c->fmt, cfg->extended);
	ob_init(&c->out);
	ob_init(&c->json);
	c->out_tty = isatty(STDOUT_FILENO);
}

/*
 * Where events go and what watches them: the recording, standard output, --stuck, the --netns
 * namespaces, the cgroup paths, --metrics' counts. 0, or -1 after saying why.
 */
static int open_outputs(struct trace_ctx *c)
{
	const struct config *cfg = c->cfg;
	char why[256];

	if (cfg->write_path) {
		struct logw_opts lo = {
			.path = cfg->write_path,
			.rotate_bytes = cfg->rotate_bytes,
			.keep = cfg->keep,
			.filter = &cfg->filter,
			.stuck = cfg->stuck,
			.nstuck = cfg->nstuck,
		};

		c->log = logw_open(&lo, why, sizeof(why));
		if (!c->log) {
			fprintf(stderr, "tcptrail: %s\n", why);
			return -1;
		}
	}
	/* Before the thread: the column titles are not an event to count if they are not written. */
	if (!cfg->quiet && !cfg->json) {
		fmt_text_header(&c->out, &c->fmt);
		flush_stdout(c, 0);
	}
	/* A terminal is written at once; a file or pipe by a thread, so its stalls lose nothing. */
	if (!c->out_tty)
		c->out_stream = logw_open_stream(STDOUT_FILENO, "standard output");
	c->acceptq = acceptq_new(ACCEPTQ_CAP, ACCEPTQ_MAX_AGE_NS);
	if (!c->acceptq) {
		fprintf(stderr, "tcptrail: out of memory\n");
		return -1;
	}
	if (cfg->nstuck) {
		c->stuck = stuck_new(cfg->stuck, cfg->nstuck, queue_alert, c);
		c->alerts = alerts_new(&cfg->filter, emit_alert, c);
		if (!c->stuck || !c->alerts) {
			/* stuck_new() refuses more rules than it holds; cli.c stops them first. */
			if (cfg->nstuck > TT_MAX_STUCK)
				fprintf(stderr, "tcptrail: too many --stuck rules (at most %d)\n",
					TT_MAX_STUCK);
			else
				fprintf(stderr, "tcptrail: out of memory\n");
			return -1;
		}
	}
	hold_netns(c, tt_now_ns(CLOCK_MONOTONIC));
	open_cgroups(c);
	if ((cfg->metrics_addr || cfg->metrics_file) &&
	    !(c->metrics = metrics_new((enum mt_by)cfg->metrics_by))) {
		fprintf(stderr, "tcptrail: out of memory\n");
		return -1;
	}
	return 0;
}

/* Stuck alerts: raised into alerts' bounded queue, emitted a bounded number per turn. */
static void stuck_turn(struct trace_ctx *c, uint64_t now, int busy)
{
	size_t room = alerts_room(c->alerts);

	if (room)
		stuck_tick(c->stuck, tt_now_ns(CLOCK_BOOTTIME),
			   room < ALERTS_RAISE_TURN ? room : ALERTS_RAISE_TURN);
	alerts_pump(c->alerts, now, busy ? ALERTS_EMIT_BUSY : ALERTS_EMIT_TURN);
}

/* What the loop does between reads of the ring buffer; busy: records are waiting in it. */
static void trace_tick(struct trace_ctx *c, uint64_t now, int busy)
{
	if (c->out.len && (c->out_tty || now - c->last_flush >= FLUSH_INTERVAL_NS))
		flush_stdout(c, now);
	if (now - c->last_check >= LOST_CHECK_NS) {
		check_lost(c);
		tw_check(c);
		c->last_check = now;
		hold_netns(c, now);
		check_out_dropped(c);
	}
	acceptq_expire(c->acceptq, now, emit_accept_queued, c);
	if (c->stuck)
		stuck_turn(c, now, busy);
	if (c->msrv)
		mtsrv_tick(c->msrv, c->lost, now);
	if (reopen_log && c->log) {
		reopen_log = 0;
		logw_reopen(c->log);
	}
	if (c->log)
		logw_tick(c->log, now);
	if (c->out_stream) {
		int fail;

		logw_tick(c->out_stream, now);
		if ((fail = logw_failed(c->out_stream)))
			output_failed(c, fail);
	}
}

/* Reads events until a stop signal, the -d deadline, a closed output or a ring buffer error. */
static void trace_loop(struct trace_ctx *c, struct ring_buffer *rb)
{
	uint64_t start = tt_now_ns(CLOCK_MONOTONIC), deadline = 0, now;
	int r, more = 0;

	c->last_check = start;
	if (c->cfg->duration_ns)
		deadline = start + c->cfg->duration_ns;
	while (!exiting) {
		/* After a full batch more records are likely waiting: read on without sleeping. */
		if (more)
			r = ring_buffer__consume(rb);
		else
			r = ring_buffer__poll(rb, POLL_TIMEOUT_MS);
		/* Records submitted without a wakeup are only found by looking. */
		if (r == 0 && !more)
			r = ring_buffer__consume(rb);
		more = r == -ECANCELED;
		if (more)
			r = 0;
		if (r < 0 && r != -EINTR) {
			fprintf(stderr, "tcptrail: reading the ring buffer: %s\n", strerror(-r));
			break;
		}
		now = tt_now_ns(CLOCK_MONOTONIC);
		trace_tick(c, now, more);
		if (deadline && now >= deadline)
			break;
	}
}

/*
 * Stops the metrics server (its textfile gets the final numbers), standard output's writer and
 * the recording, each saying what it could not write; nonzero when output was lost or failed.
 * Safe to call twice: the finish closes them, the cleanup after a failed start what is open.
 */
static int close_outputs(struct trace_ctx *c)
{
	int failed = 0;

	if (c->msrv && mtsrv_stop(c->msrv, c->lost))
		failed = 1;
	c->msrv = NULL;
	if (c->out_stream) {
		struct logw_report rep;

		logw_close(c->out_stream, &rep);
		c->out_stream = NULL;
		if (rep.fail_errno)
			output_failed(c, rep.fail_errno);
		/* After a closed pipe nobody is left to miss them: the normal end. */
		if (rep.fail_errno != EPIPE)
			c->not_written = rep.unwritten;
	}
	if (c->out_error || c->not_written)
		failed = 1;
	if (c->log && logw_close(c->log, NULL))
		failed = 1;
	c->log = NULL;
	return failed;
}

/*
 * The stuck alerts, after the events: none is dropped or merged, but an alert may have gone out
 * without its holders re-checked, and a socket the tracer had no memory for was not watched.
 */
static void report_alerts(struct trace_ctx *c)
{
	uint64_t unwatched = stuck_unwatched(c->stuck);
	struct alerts_stats st;

	alerts_stats(c->alerts, &st);
	fprintf(stderr, "tcptrail: %llu stuck alerts", (unsigned long long)st.emitted);
	if (st.unchecked)
		fprintf(stderr, ", %llu with the owner the tracer knew (holders not re-checked)",
			(unsigned long long)st.unchecked);
	if (unwatched)
		fprintf(stderr, ", %llu sockets not watched (out of memory): no alert for them",
			(unsigned long long)unwatched);
	fputc('\n', stderr);
	if (c->cfg->verbose)
		fprintf(stderr,
			"tcptrail: %llu owner walks for stuck alerts, the longest %llu ms\n",
			(unsigned long long)st.walks,
			(unsigned long long)(st.walk_max_ns / 1000000));
}

/*
 * Drains what the kernel already produced, accounts for every event, closes the outputs and
 * reports the totals: the exit code.
 */
static int finish_trace(struct trace_ctx *c, struct ring_buffer *rb)
{
	int ret;

	/* Bounded, since under a flood the ring never empties. */
	for (uint64_t batches =
		     (c->cfg->ringbuf_mb << 20) / sizeof(struct tt_event) / BATCH_EVENTS + 2;
	     batches && ring_buffer__consume(rb) == -ECANCELED; batches--)
		;
	acceptq_flush(c->acceptq, emit_accept_queued, c);
	/*
	 * Alerts already due still go out, after the events drained before them: all of them,
	 * alerts' bounded queue a batch at a time, none left behind in stuck.
	 */
	if (c->alerts) {
		uint64_t now = tt_now_ns(CLOCK_BOOTTIME);

		do
			alerts_flush(c->alerts);
		while (stuck_tick(c->stuck, now, alerts_room(c->alerts)));
	}
	check_lost(c);
	tw_check(c);
	flush_stdout(c, 0);
	ret = close_outputs(c);
	if (c->tw_skipped)
		fprintf(stderr,
			"tcptrail: %llu connections skipped TIME_WAIT: tcp_max_tw_buckets "
			"full\n",
			(unsigned long long)c->tw_skipped);
	if (c->not_written)
		fprintf(stderr, "tcptrail: %llu events, %llu lost (%llu not written)\n",
			(unsigned long long)c->events,
			(unsigned long long)(c->lost + c->not_written),
			(unsigned long long)c->not_written);
	else
		fprintf(stderr, "tcptrail: %llu events, %llu lost\n", (unsigned long long)c->events,
			(unsigned long long)c->lost);
	if (c->alerts)
		report_alerts(c);
	return ret;
}

/* Everything run_trace() set up, whether it got to the end or not. */
static void trace_ctx_free(struct trace_ctx *c)
{
	close_outputs(c);
	for (int i = 0; i < TT_MAX_FILTER; i++) {
		if (c->netns_fd[i] >= 0)
			close(c->netns_fd[i]);
	}
	metrics_free(c->metrics);
	acceptq_free(c->acceptq);
	alerts_free(c->alerts);
	stuck_free(c->stuck);
	cg_cache_free(c->cg);
	ob_free(&c->out);
	ob_free(&c->json);
}

int run_trace(const struct config *cfg, const struct services *svc)
{
	struct trace_ctx c;
	struct trace_bpf b = {0};
	const char *what;
	char why[256];
	int ret = 1, err;

	/*
	 * Output buffers grow in a disk stall and are freed after it, on another thread: a fixed
	 * mmap threshold returns them to the kernel at once (glibc's adaptive one would move them
	 * to the heap, where RSS creeps up through fragmentation).
	 */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	trace_ctx_init(&c, cfg, svc);
	/* logrotate's convention: SIGHUP reopens -w FILE. Nothing to reopen: not a reason to die. */
	signal(SIGHUP, cfg->write_path && strcmp(cfg->write_path, "-") ? on_hup : SIG_IGN);

	tt_libbpf_logging(cfg->verbose);
	if (tt_preflight(NOFILE_NEEDED))
		goto out;
	err = trace_bpf_open(&b, &c, &what);
	if (err) {
		tt_report_bpf_error(what, err);
		goto out;
	}
	c.lost_fd = bpf_map__fd(b.skel->maps.lost);
	c.prog_fd = bpf_program__fd(b.skel->progs.handle_set_state);
	if (open_outputs(&c))
		goto out;
	/* Attached first, so no socket falls between the walk and the first event. */
	if (tt_part_on(b.parts, TT_PART_WALK)) {
		seed_owners(b.skel, cfg->verbose);
		seed_states(b.skel, &c, cfg->verbose);
	}
	c.realtime_off = tt_realtime_offset_ns();
	/* Served once the gauges hold the sockets that predate the tracer. */
	if (c.metrics) {
		struct mtsrv_opts mo = {
			.addr = cfg->metrics_addr,
			.file = cfg->metrics_file,
			.interval_ns = cfg->metrics_interval_ns,
			.by = (enum mt_by)cfg->metrics_by,
			.filter = &cfg->filter,
			.stuck = cfg->stuck,
			.nstuck = cfg->nstuck,
			.verbose = cfg->verbose,
		};

		c.msrv = mtsrv_start(&mo, c.metrics, why, sizeof(why));
		if (!c.msrv) {
			fprintf(stderr, "tcptrail: %s\n", why);
			goto out;
		}
	}
	tt_on_stop_signals(on_signal);
	fprintf(stderr, "Tracing TCP state transitions... Ctrl-C to end.\n");
	trace_loop(&c, b.rb);
	ret = finish_trace(&c, b.rb);
out:
	trace_ctx_free(&c);
	trace_bpf_close(&b);
	return ret;
}
