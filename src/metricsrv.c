// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The metrics endpoint and textfile. Threads: libmicrohttpd's (scrapes, metricsrv_http.c), the
 * file writer, and the event loop, which is the only one to touch struct metrics. A collection (a
 * scrape or a file write, one at a time) raises `want`; the event loop sees it at its next turn
 * and copies the numbers into `copy` under `lock`, then the collector walks the sockets of every
 * network namespace with the metrics iterator (timewait and request sockets, listeners' queues)
 * and formats both. If the event loop does not answer within a second (a stall), the previous
 * copy is served: old numbers beat a scrape that times out.
 */
#include <fcntl.h>
#include <signal.h>
#include "metrics.skel.h"
#include "bpfcommon.h"
#include "filter.h"
#include "logfile.h"
#include "netns.h"
#include "metricsrv_priv.h"

/* ----- hand-over ----- */

void mtsrv_tick(struct mtsrv *s, uint64_t lost, uint64_t now)
{
	atomic_store_explicit(&s->last_tick, now, memory_order_relaxed);
	metrics_set_lost(s->m, lost);
	if (!atomic_load_explicit(&s->want, memory_order_acquire))
		return;
	pthread_mutex_lock(&s->lock);
	/* Checked again under the lock: a collector that gave up has taken the request back. */
	if (atomic_load_explicit(&s->want, memory_order_relaxed)) {
		metrics_copy(s->m, &s->copy);
		s->gen++;
		atomic_store_explicit(&s->want, 0, memory_order_release);
		pthread_cond_broadcast(&s->cond);
	}
	pthread_mutex_unlock(&s->lock);
}

void mtsrv_deadline_after(struct timespec *ts, uint64_t ns)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += (time_t)(ns / 1000000000ULL);
	ts->tv_nsec += (long)(ns % 1000000000ULL);
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Fresh numbers in s->copy (under collect_lock). */
static void get_counts(struct mtsrv *s)
{
	struct timespec until;
	uint64_t target;

	pthread_mutex_lock(&s->lock);
	if (s->loop_done) {
		metrics_copy(s->m, &s->copy);
		pthread_mutex_unlock(&s->lock);
		return;
	}
	target = s->gen + 1;
	atomic_store_explicit(&s->want, 1, memory_order_release);
	mtsrv_deadline_after(&until, COPY_WAIT_NS);
	while (s->gen < target && !s->loop_done) {
		if (pthread_cond_timedwait(&s->cond, &s->lock, &until) == ETIMEDOUT)
			break;
	}
	if (s->loop_done && s->gen < target)
		metrics_copy(s->m, &s->copy);
	atomic_store_explicit(&s->want, 0, memory_order_relaxed);
	pthread_mutex_unlock(&s->lock);
}

/* ----- the socket iterator ----- */

/* --state as it applies to a socket in st (filter_add_states gives FIN_WAIT2 its substate). */
static int state_wanted(const struct tt_filter *f, int st)
{
	return !f->state_mask || (f->state_mask & (1u << st));
}

static void add_rec(struct mtsrv *s, const struct tt_mt_rec *r)
{
	const struct tt_filter *f = s->opts.filter;
	int v6 = r->family == AF_INET6;
	struct mt_listener l;

	if (!filter_match_endpoints(f, r->family, r->saddr, r->daddr, r->sport, r->dport,
				    r->netns) ||
	    r->state >= TT_STATE_MAX || !state_wanted(f, r->state))
		return;
	switch (r->state) {
	case TT_TIME_WAIT:
		s->walk.tw[v6]++;
		return;
	case TT_FIN_WAIT2_TW:
		s->walk.tw_fin2[v6]++;
		return;
	case TT_SYN_RECV:
		s->walk.req[v6]++;
		return;
	case TT_LISTEN:
		break;
	default:
		return;
	}
	memset(&l, 0, sizeof(l));
	l.netns = r->netns;
	l.port = r->sport;
	l.family = r->family;
	memcpy(l.addr, r->saddr, sizeof(l.addr));
	l.qlen = r->qlen;
	l.qmax = r->qmax;
	if (mt_walk_add_listener(&s->walk, &s->walk_cap, &l))
		s->walk.ok = 0;
}

static void walk_record(void *ctx, const void *rec)
{
	add_rec(ctx, rec);
}

static int walk_netns(void *ctx, uint64_t netns_ino, uint32_t pid)
{
	struct mtsrv *s = ctx;
	const struct tt_filter *f = s->opts.filter;

	/* --netns: the other namespaces are not walked at all. */
	if (f->nnetns) {
		uint32_t i;

		for (i = 0; i < f->nnetns && f->netns[i] != (uint32_t)netns_ino; i++)
			;
		if (i == f->nnetns)
			return 0;
	}
	return tt_iter_read_records(bpf_link__fd(s->link), &s->part, sizeof(s->part), walk_record,
				    s);
}

/* Timewait and request sockets and listeners of every namespace, into s->walk. */
static void walk_sockets(struct mtsrv *s)
{
	volatile __u64 *counts;
	struct tt_netns_walk nw;
	int err, skips;

	const struct tt_filter *f = s->opts.filter;
	uint64_t start = tt_now_ns(CLOCK_MONOTONIC);

	if (s->walk_end && start - s->walk_end < WALK_GAP_FACTOR * s->walk_dur)
		return;
	memset(s->walk.tw, 0, sizeof(s->walk.tw));
	memset(s->walk.tw_fin2, 0, sizeof(s->walk.tw_fin2));
	memset(s->walk.req, 0, sizeof(s->walk.req));
	s->walk.nlisteners = 0;
	s->walk.ok = !s->walk_off;
	if (s->walk_off)
		return;
	counts = s->skel->bss->counts;
	for (int i = 0; i < TT_MT_MAX; i++)
		counts[i] = 0;
	err = tt_for_each_netns(walk_netns, s, &nw);
	s->walk_end = tt_now_ns(CLOCK_MONOTONIC);
	s->walk_dur = s->walk_end - start;
	s->walk.seconds = (double)s->walk_dur / 1e9;
	if (err) {
		s->walk.ok = 0;
		if (err != s->walk_err)
			fprintf(stderr,
				"tcptrail: --metrics: %s: %s: timewait and request sockets and "
				"listen queues are not reported\n",
				nw.failed ? nw.failed : "reading the socket iterator",
				strerror(-err));
		s->walk_err = err;
		return;
	}
	s->walk_err = 0;
	skips = nw.unreadable + nw.unentered + nw.mount_unreadable;
	if (skips != s->skips_said)
		tt_netns_report_skips("--metrics", &nw,
				      "their timewait and request sockets and listeners are not "
				      "counted");
	s->skips_said = skips;
	if (s->opts.verbose &&
	    (nw.by_process != s->found_said[0] || nw.by_thread != s->found_said[1] ||
	     nw.by_mount != s->found_said[2]))
		tt_netns_report_found("--metrics", &nw);
	s->found_said[0] = nw.by_process;
	s->found_said[1] = nw.by_thread;
	s->found_said[2] = nw.by_mount;
	/* Counted in the kernel when no address filter asks for records (the usual case). */
	if (state_wanted(f, TT_TIME_WAIT)) {
		s->walk.tw[0] += counts[TT_MT_TW4];
		s->walk.tw[1] += counts[TT_MT_TW6];
	}
	if (state_wanted(f, TT_FIN_WAIT2_TW)) {
		s->walk.tw_fin2[0] += counts[TT_MT_FIN2_4];
		s->walk.tw_fin2[1] += counts[TT_MT_FIN2_6];
	}
	if (state_wanted(f, TT_SYN_RECV)) {
		s->walk.req[0] += counts[TT_MT_REQ4];
		s->walk.req[1] += counts[TT_MT_REQ6];
	}
	mt_walk_finish(&s->walk, MT_MAX_LISTENERS);
}

/* One exposition into s->out (under collect_lock). */
void mtsrv_collect(struct mtsrv *s, enum prom_format f)
{
	get_counts(s);
	walk_sockets(s);
	ob_reset(&s->out);
	mt_format(&s->out, f, &s->info, &s->copy, &s->walk);
}

/* Blocks the signals the main thread handles, for the threads started meanwhile. */
static void block_signals(sigset_t *old)
{
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, old);
}
/* ----- the textfile ----- */

/* Writes s->out to the file atomically: a temporary file in its directory, then rename. */
static int write_file(struct mtsrv *s)
{
	const char *path = s->opts.file;
	size_t n = strlen(path) + 16;
	char *tmp = malloc(n);
	int fd, err = 0;

	if (!tmp)
		return ENOMEM;
	/* Hidden, not ending in .prom (the textfile collector skips it), cut to fit NAME_MAX. */
	logfile_sibling(tmp, n, path, ".", ".XXXXXX");
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		free(tmp);
		return err;
	}
	/* node_exporter runs as another user: the file is for it to read, whatever the umask. */
	if (fchmod(fd, 0644) || ob_write_fd(fd, s->out.data, s->out.len) || fsync(fd))
		err = errno;
	if (close(fd) && !err)
		err = errno;
	if (!err && rename(tmp, path))
		err = errno;
	if (err)
		unlink(tmp);
	free(tmp);
	return err;
}

static void file_once(struct mtsrv *s)
{
	int err;

	pthread_mutex_lock(&s->collect_lock);
	mtsrv_collect(s, PROM_TEXT);
	err = s->out.oom ? ENOMEM : write_file(s);
	pthread_mutex_unlock(&s->collect_lock);
	if (err && err != s->file_err)
		fprintf(stderr, "tcptrail: --metrics-file %s: %s (trying again every %.3g s)\n",
			s->opts.file, strerror(err), (double)s->opts.interval_ns / 1e9);
	else if (!err && s->file_err)
		fprintf(stderr, "tcptrail: --metrics-file %s: written again\n", s->opts.file);
	s->file_err = err;
	if (!err)
		s->file_ok = 1;
}

static void *file_main(void *arg)
{
	struct mtsrv *s = arg;
	struct timespec until;

	for (;;) {
		file_once(s);
		pthread_mutex_lock(&s->lock);
		mtsrv_deadline_after(&until, s->opts.interval_ns);
		while (!s->stopping &&
		       pthread_cond_timedwait(&s->cond, &s->lock, &until) != ETIMEDOUT)
			;
		if (s->stopping) {
			pthread_mutex_unlock(&s->lock);
			return NULL;
		}
		pthread_mutex_unlock(&s->lock);
	}
}

/* ----- life cycle ----- */

static void mtsrv_free(struct mtsrv *s)
{
	bpf_link__destroy(s->link);
	metrics_bpf__destroy(s->skel);
	mt_counts_free(&s->copy);
	free(s->walk.listeners);
	ob_free(&s->out);
	for (int f = 0; f < 2; f++) {
		if (s->cur[f])
			mtsrv_body_put(s, s->cur[f]);
	}
	pthread_mutex_destroy(&s->body_lock);
	pthread_mutex_destroy(&s->conn_lock);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->collect_lock);
	pthread_cond_destroy(&s->cond);
	free(s);
}

/* What stays as it is while the server runs: locks, the info metric, the walk's switch. */
static void init_server(struct mtsrv *s, const struct mtsrv_opts *o, struct metrics *m)
{
	const struct tt_filter *f = o->filter;
	pthread_condattr_t ca;
	struct utsname u;

	s->opts = *o;
	s->m = m;
	/* the loop starts after this: its start-up counts as a turn */
	atomic_init(&s->last_tick, tt_now_ns(CLOCK_MONOTONIC));
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->collect_lock, NULL);
	pthread_mutex_init(&s->body_lock, NULL);
	pthread_mutex_init(&s->conn_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cond, &ca);
	pthread_condattr_destroy(&ca);
	ob_init(&s->out);
	if (!uname(&u))
		snprintf(s->kernel, sizeof(s->kernel), "%s", u.release);
	s->info.by = o->by;
	s->info.version = TCPTRAIL_VERSION;
	s->info.kernel = s->kernel;
	for (int i = 0; i < o->nstuck; i++)
		s->stuck_states[i] = o->stuck[i].state;
	s->info.nstuck = o->nstuck;
	s->info.stuck_states = s->stuck_states;
	/* Timewait and request sockets have no owner; a listener's is not looked for. */
	s->walk_off = f->npids || f->ncomms || f->ncgroups || f->ncontainers;
}

/* The socket iterator; a kernel that refuses it costs only what the walk adds. 0 or -1. */
static int load_iterator(struct mtsrv *s, char *err, size_t errlen)
{
	const struct tt_filter *f = s->opts.filter;
	int r;

	s->skel = metrics_bpf__open();
	if (!s->skel) {
		r = -errno;
		snprintf(err, errlen, "--metrics: opening the socket iterator: %s", strerror(-r));
		return -1;
	}
	/* Address filters: records to match in userspace, as events are matched. */
	s->skel->rodata->emit_all = f->family || f->nports || f->nlports || f->nrports;
	s->skel->rodata->test_refuse = tt_test_refuse("metrics");
	tt_bpf_failed_clear();
	r = metrics_bpf__load(s->skel);
	if (!r) {
		s->link = bpf_program__attach_iter(s->skel->progs.count_tcp, NULL);
		r = s->link ? 0 : errno ? -errno : -EINVAL;
	}
	if (r && tt_bpf_limit_behind(r)) {
		snprintf(err, errlen, "--metrics: loading the socket iterator: %s", strerror(-r));
		return -1;
	}
	if (r) {
		/* The gauges of events go on: only what the walk adds is lost. */
		const char *why, *prog = tt_bpf_failed_prog(&why);

		fprintf(stderr,
			"tcptrail: --metrics: the kernel refused the socket iterator (%s): "
			"timewait "
			"and request sockets and listen queues are not reported\n",
			prog ? why : strerror(-r));
		s->walk_off = 1;
	}
	return 0;
}

struct mtsrv *mtsrv_start(const struct mtsrv_opts *o, struct metrics *m, char *err, size_t errlen)
{
	struct mtsrv *s = calloc(1, sizeof(*s));
	sigset_t old;
	int r = 0;

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	init_server(s, o, m);
	if (load_iterator(s, err, errlen))
		goto fail;
	/* Threads start with every signal blocked: SIGINT, SIGTERM and SIGHUP are the loop's. */
	block_signals(&old);
	if (o->addr)
		r = mtsrv_serve_http(s, o->addr, err, errlen);
	if (!r && o->file) {
		r = pthread_create(&s->file_thread, NULL, file_main, s) ? -1 : 0;
		if (r)
			snprintf(err, errlen, "--metrics-file: cannot start a thread");
		else
			s->file_started = 1;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!r)
		return s;
fail:
	mtsrv_stop_http(s);
	mtsrv_free(s);
	return NULL;
}

int mtsrv_stop(struct mtsrv *s, uint64_t lost)
{
	int ret = 0;

	if (!s)
		return 0;
	metrics_set_lost(s->m, lost);
	pthread_mutex_lock(&s->lock);
	s->loop_done = 1;
	s->stopping = 1;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	mtsrv_stop_http(s);
	if (s->file_started) {
		pthread_join(s->file_thread, NULL);
		/* The final numbers, so the file does not keep those of up to an interval ago. */
		file_once(s);
		if (!s->file_ok)
			ret = -1;
	}
	mtsrv_free(s);
	return ret;
}
