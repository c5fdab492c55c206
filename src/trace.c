// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The tracing loop: load and attach the BPF programs, drain the ring buffer, print and record. */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "filter_match.h" /* the skeleton's read-only data holds a struct tt_kfilter */
#include "tcptrail.skel.h"
#include "acceptq.h"
#include "alerts.h"
#include "bpfcommon.h"
#include "cgroup.h"
#include "config.h"
#include "format.h"
#include "logwrite.h"
#include "metrics.h"
#include "metricsrv.h"
#include "netns.h"
#include "outbuf.h"
#include "seed.h"
#include "stuck.h"
#include "trace.h"
#include "tracebpf.h"
#include "twwatch.h"

#define BATCH_EVENTS	  4096
#define POLL_TIMEOUT_MS	  10
#define FLUSH_INTERVAL_NS 50000000ULL /* pipes and files see output at least this often */
#define FLUSH_BYTES	  (64 * 1024)
#define LOST_CHECK_NS	  1000000000ULL
#define WALL_STEP_NS	  1000000ULL
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
	const struct trace_bpf *bpf; /* for the kernel's lost counters */
	struct twwatch tw;
	struct netns_held netns; /* --netns namespaces held open */
};

_Static_assert(TT_NETNS_HELD_MAX >= TT_MAX_FILTER, "every --netns namespace is held");

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
		twwatch_event(&c->tw, e);
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

static void check_lost(struct trace_ctx *c)
{
	uint64_t untracked = trace_bpf_lost(c->bpf, TT_LOST_UNTRACKED);
	uint64_t listeners = trace_bpf_lost(c->bpf, TT_LOST_LISTENERS);
	uint64_t lost = trace_bpf_lost(c->bpf, TT_LOST_RINGBUF) + trace_bpf_missed(c->bpf) +
			c->short_records;

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

static void trace_ctx_init(struct trace_ctx *c, const struct config *cfg,
			   const struct services *svc)
{
	memset(c, 0, sizeof(*c));
	tt_netns_held_init(&c->netns);
	c->cfg = cfg;
	c->svc = svc;
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
	tt_netns_keep(&c->netns, cfg->filter.netns, cfg->filter.nnetns, tt_now_ns(CLOCK_MONOTONIC));
	open_cgroups(c);
	if ((cfg->metrics_addr || cfg->metrics_file) &&
	    !(c->metrics = metrics_new((enum mt_by)cfg->metrics_by))) {
		fprintf(stderr, "tcptrail: out of memory\n");
		return -1;
	}
	return 0;
}

/*
 * Events carry the monotonic clock, which stops while the machine sleeps and is not moved when
 * the wall clock is set: then the offset to wall time changes, by far more than the read's own
 * jitter (tens of ns), which alone must not move it.
 */
static void follow_wall_clock(struct trace_ctx *c)
{
	uint64_t off = tt_realtime_offset_ns();
	uint64_t diff = off > c->realtime_off ? off - c->realtime_off : c->realtime_off - off;

	if (diff > WALL_STEP_NS)
		c->realtime_off = off;
}

/* Stuck alerts: raised into alerts' bounded queue, emitted a bounded number per turn. */
static void stuck_turn(struct trace_ctx *c, uint64_t now, int busy)
{
	size_t room = alerts_room(c->alerts);

	if (room)
		stuck_tick(c->stuck, now, room < ALERTS_RAISE_TURN ? room : ALERTS_RAISE_TURN);
	alerts_pump(c->alerts, now, busy ? ALERTS_EMIT_BUSY : ALERTS_EMIT_TURN);
}

/* What the loop does between reads of the ring buffer; busy: records are waiting in it. */
static void trace_tick(struct trace_ctx *c, uint64_t now, int busy)
{
	if (c->out.len && (c->out_tty || now - c->last_flush >= FLUSH_INTERVAL_NS))
		flush_stdout(c, now);
	if (now - c->last_check >= LOST_CHECK_NS) {
		follow_wall_clock(c);
		check_lost(c);
		twwatch_check(&c->tw);
		c->last_check = now;
		tt_netns_keep(&c->netns, c->cfg->filter.netns, c->cfg->filter.nnetns, now);
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
static void trace_loop(struct trace_ctx *c, struct evring *events)
{
	/* The events' clock: stuck ages compare it with their transitions' times. */
	uint64_t start = tt_now_ns(TT_EVENT_CLOCK), deadline = 0, now;
	int r, more = 0;

	c->last_check = start;
	if (c->cfg->duration_ns)
		deadline = start + c->cfg->duration_ns;
	while (!exiting) {
		/*
		 * After a full batch more records are likely waiting: read on without sleeping.
		 * A poll reads after its wait, wakeup or not: records come without one too.
		 */
		if (more)
			r = evring_consume(events);
		else
			r = evring_poll(events, POLL_TIMEOUT_MS);
		more = r == -ECANCELED;
		if (more)
			r = 0;
		if (r < 0 && r != -EINTR) {
			fprintf(stderr, "tcptrail: reading the event rings: %s\n", strerror(-r));
			break;
		}
		now = tt_now_ns(TT_EVENT_CLOCK);
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
static int finish_trace(struct trace_ctx *c, struct evring *events)
{
	int ret;

	/* Bounded, since under a flood the rings never empty. */
	for (uint64_t batches = evring_capacity(events) / BATCH_EVENTS + 2;
	     batches && evring_consume(events) == -ECANCELED; batches--)
		;
	acceptq_flush(c->acceptq, emit_accept_queued, c);
	/*
	 * Alerts already due still go out, after the events drained before them: all of them,
	 * alerts' bounded queue a batch at a time, none left behind in stuck.
	 */
	if (c->alerts) {
		uint64_t now = tt_now_ns(TT_EVENT_CLOCK);

		do
			alerts_flush(c->alerts);
		while (stuck_tick(c->stuck, now, alerts_room(c->alerts)));
	}
	check_lost(c);
	twwatch_check(&c->tw);
	flush_stdout(c, 0);
	ret = close_outputs(c);
	if (c->tw.skipped)
		fprintf(stderr,
			"tcptrail: %llu connections skipped TIME_WAIT: tcp_max_tw_buckets "
			"full\n",
			(unsigned long long)c->tw.skipped);
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
	tt_netns_held_close(&c->netns);
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
	err = trace_bpf_open(&b, cfg, handle_event, &c, &what);
	if (err) {
		tt_report_bpf_error(what, err);
		goto out;
	}
	c.bpf = &b;
	if (open_outputs(&c))
		goto out;
	/* Attached first, so no socket falls between the walk and the first event. */
	if (tt_part_on(b.parts, TT_PART_WALK)) {
		struct seed_sinks sinks = {
			.stuck = c.stuck,
			.metrics = c.metrics,
			.cg = c.cg,
			.filter = &cfg->filter,
			.tw = &c.tw,
		};

		seed_walk(b.skel, &sinks, cfg->verbose);
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
	trace_loop(&c, b.events);
	ret = finish_trace(&c, b.events);
out:
	trace_ctx_free(&c);
	trace_bpf_close(&b);
	return ret;
}
