// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The metrics endpoint and textfile. Threads: libmicrohttpd's (scrapes), the file writer, and
 * the event loop, which is the only one to touch struct metrics. A collection (a scrape or a
 * file write, one at a time) raises `want`; the event loop sees it at its next turn and copies
 * the numbers into `copy` under `lock`, then the collector walks the sockets of every network
 * namespace with the metrics iterator (timewait and request sockets, listeners' queues) and
 * formats both. If the event loop does not answer within a second (a stall), the previous copy
 * is served: old numbers beat a scrape that times out.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <microhttpd.h>
#include "metrics.skel.h"
#include "bpfcommon.h"
#include "filter.h"
#include "logfile.h"
#include "metricsrv.h"
#include "netns.h"
#include "outbuf.h"
#include "prom.h"
#include "stuck_rule.h"

#define COPY_WAIT_NS 1000000000ULL
/*
 * The socket walk visits every socket of the machine once per namespace (iter/tcp filters by
 * namespace): 100k sockets in 5 namespaces took 170 ms here. After a walk the next waits nine
 * times as long as it took, so walks use at most a tenth of a CPU however often scrapes come;
 * a scrape meanwhile serves the last walk's counts.
 */
#define WALK_GAP_FACTOR 9

/*
 * The HTTP server. One thread per connection: a scrape that waits for its numbers, or a client
 * that reads slowly, holds only its own thread, never another scrape or the probe. Limits keep
 * the threads and their memory bounded (~48 KiB each: the request pool and the stack touched).
 */
#define HTTP_MAX_CONNS	  256
#define HTTP_MAX_PER_ADDR 16
#define HTTP_CONN_MEMORY  (16 * 1024) /* a request's headers; Prometheus sends ~300 bytes */
#define HTTP_STACK	  (512 * 1024)
/* MHD's timeout is of idleness: a byte every few seconds keeps a connection forever */
#define HTTP_IDLE_S 10
/* so the headers of a request must all be in this long after the connection or last answer */
#define HEADER_DEADLINE_NS (5 * 1000000000ULL)
#define REAP_EVERY_NS	   (250 * 1000000ULL)

/* Scrapes within this of a body's build share it; no more than one build per format meanwhile */
#define BODY_FRESH_NS (500 * 1000000ULL)
/* Bodies alive per format (held by slow readers): past it, the newest is served however old */
#define BODY_MAX_LIVE 3

/* An exposition as served: shared by the responses that send it, freed by the last one */
struct mtsrv;
struct body {
	struct mtsrv *s;
	int refs; /* under body_lock */
	enum prom_format f;
	size_t len;
	char data[];
};

/* A connection whose request headers are awaited (the reaper shuts down the late ones) */
struct conn {
	struct conn *prev, *next;
	int fd;
	int waiting; /* for the headers of a request, since `since` */
	uint64_t since;
};

struct mtsrv {
	struct mtsrv_opts opts;
	struct metrics *m; /* the event loop's */
	struct mt_info info;
	int stuck_states[TT_MAX_STUCK];
	char kernel[sizeof(((struct utsname *)0)->release)];

	/* hand-over: the event loop copies m into `copy` when `want` is set */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	atomic_int want;
	_Atomic uint64_t last_tick; /* CLOCK_MONOTONIC of the event loop's last turn (/healthz) */
	uint64_t gen;		    /* copies made */
	int loop_done;		    /* the event loop has ended: copy m directly */
	struct mt_counts copy;

	/* one collection at a time: the iterator's counters, the copy, the buffers */
	pthread_mutex_t collect_lock;
	struct metrics_bpf *skel;
	struct bpf_link *link;
	struct mt_walk walk;
	size_t walk_cap;
	struct tt_mt_rec part; /* put together by tt_iter_read_records() */
	int walk_off; /* --pid, --comm, --cgroup, --container (counts have no owner), or refused */
	uint64_t walk_end; /* CLOCK_MONOTONIC at the end of the last walk, 0 before one */
	uint64_t walk_dur;
	int walk_err;	   /* last walk's error reported (0: none) */
	int skips_said;	   /* namespaces the walk could not visit, as last reported */
	int found_said[3]; /* namespaces it found, each way, as last reported (-v) */
	struct outbuf out;

	struct MHD_Daemon *httpd;

	/* the cached bodies, one per format */
	pthread_mutex_t body_lock;
	struct body *cur[2];
	uint64_t built[2]; /* CLOCK_MONOTONIC of cur[f]'s build */
	int live[2];	   /* bodies of format f alive */

	/* connections, for the header deadline */
	pthread_mutex_t conn_lock;
	struct conn *conns;
	pthread_t reap_thread;
	int reap_started;

	/* the file writer */
	pthread_t file_thread;
	int file_started;
	int stopping; /* under lock */
	int file_err; /* errno of the last failed write, reported once per change */
	int file_ok;  /* written at least once */
};

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

static void deadline_after(struct timespec *ts, uint64_t ns)
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
	deadline_after(&until, COPY_WAIT_NS);
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
static void collect(struct mtsrv *s, enum prom_format f)
{
	get_counts(s);
	walk_sockets(s);
	ob_reset(&s->out);
	mt_format(&s->out, f, &s->info, &s->copy, &s->walk);
}

/* ----- HTTP ----- */

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int status, const char *type,
			     const char *body, size_t len, const char *allow)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static void body_put(struct mtsrv *s, struct body *b)
{
	int last;

	pthread_mutex_lock(&s->body_lock);
	last = !--b->refs;
	if (last)
		s->live[b->f]--;
	pthread_mutex_unlock(&s->body_lock);
	if (last)
		free(b);
}

static void body_put_cb(void *cls)
{
	struct body *b = cls;

	body_put(b->s, b);
}

/* The current body of format f with a reference for the caller (under body_lock), or NULL. */
static struct body *body_ref(struct mtsrv *s, enum prom_format f)
{
	struct body *b = s->cur[f];

	if (b)
		b->refs++;
	return b;
}

/*
 * The body of a scrape in format f, with a reference: the cached one while it is fresh, while
 * another scrape builds the next (no scrape waits for another), or when slow readers already
 * hold BODY_MAX_LIVE of them (memory stays bounded whatever the number of clients). NULL when
 * out of memory.
 */
static struct body *body_get(struct mtsrv *s, enum prom_format f)
{
	struct body *b, *old = NULL;
	uint64_t now = tt_now_ns(CLOCK_MONOTONIC);
	int busy;

	pthread_mutex_lock(&s->body_lock);
	if (s->cur[f] && (now - s->built[f] < BODY_FRESH_NS || s->live[f] >= BODY_MAX_LIVE)) {
		b = body_ref(s, f);
		pthread_mutex_unlock(&s->body_lock);
		return b;
	}
	pthread_mutex_unlock(&s->body_lock);
	/* The first scrape ever waits for the build; later ones serve the previous body. */
	busy = pthread_mutex_trylock(&s->collect_lock);
	if (busy) {
		pthread_mutex_lock(&s->body_lock);
		b = body_ref(s, f);
		pthread_mutex_unlock(&s->body_lock);
		if (b)
			return b;
		pthread_mutex_lock(&s->collect_lock);
	}
	pthread_mutex_lock(&s->body_lock);
	now = tt_now_ns(CLOCK_MONOTONIC);
	if (s->cur[f] && (now - s->built[f] < BODY_FRESH_NS || s->live[f] >= BODY_MAX_LIVE)) {
		b = body_ref(s, f);
		pthread_mutex_unlock(&s->body_lock);
		pthread_mutex_unlock(&s->collect_lock);
		return b;
	}
	pthread_mutex_unlock(&s->body_lock);
	collect(s, f);
	b = s->out.oom ? NULL : malloc(sizeof(*b) + s->out.len);
	if (b) {
		b->s = s;
		b->refs = 2; /* the cache's and the caller's */
		b->f = f;
		b->len = s->out.len;
		memcpy(b->data, s->out.data, b->len);
	}
	pthread_mutex_lock(&s->body_lock);
	if (b) {
		old = s->cur[f];
		s->cur[f] = b;
		s->built[f] = tt_now_ns(CLOCK_MONOTONIC);
		s->live[f]++;
	} else {
		b = body_ref(s, f); /* out of memory: the last body, if there is one */
	}
	pthread_mutex_unlock(&s->body_lock);
	pthread_mutex_unlock(&s->collect_lock);
	if (old)
		body_put(s, old);
	return b;
}

static enum MHD_Result reply_body(struct MHD_Connection *conn, struct mtsrv *s, struct body *b)
{
	struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback_cls(
		b->len, b->data, body_put_cb, b);
	enum MHD_Result ret;

	if (!r) {
		body_put(s, b);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, prom_content_type(b->f));
	ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

/* The connection's headers are all in: off the reaper's watch until its answer is sent. */
static void conn_mark(struct MHD_Connection *conn, struct mtsrv *s, int waiting)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct conn *c = ci ? ci->socket_context : NULL;

	if (!c)
		return;
	pthread_mutex_lock(&s->conn_lock);
	c->waiting = waiting;
	c->since = tt_now_ns(CLOCK_MONOTONIC);
	pthread_mutex_unlock(&s->conn_lock);
}

static void completed(void *cls, struct MHD_Connection *conn, void **req_cls,
		      enum MHD_RequestTerminationCode toe)
{
	(void)req_cls;
	(void)toe;
	/* keep-alive: the next request's headers have the same deadline */
	conn_mark(conn, cls, 1);
}

static void notify_conn(void *cls, struct MHD_Connection *conn, void **sock_ctx,
			enum MHD_ConnectionNotificationCode what)
{
	struct mtsrv *s = cls;
	struct conn *c = *sock_ctx;

	if (what == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);

		c = ci ? calloc(1, sizeof(*c)) : NULL;
		if (!c)
			return; /* not watched: its idle timeout still ends it */
		c->fd = ci->connect_fd;
		c->waiting = 1;
		c->since = tt_now_ns(CLOCK_MONOTONIC);
		pthread_mutex_lock(&s->conn_lock);
		c->next = s->conns;
		if (s->conns)
			s->conns->prev = c;
		s->conns = c;
		pthread_mutex_unlock(&s->conn_lock);
		*sock_ctx = c;
		return;
	}
	if (!c)
		return;
	/* MHD closes the socket after this: the reaper never sees a reused descriptor. */
	pthread_mutex_lock(&s->conn_lock);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	pthread_mutex_unlock(&s->conn_lock);
	free(c);
	*sock_ctx = NULL;
}

/*
 * Shuts down connections whose request headers are late: MHD would keep one that sends a byte
 * every few seconds, and enough of them would take every connection slot.
 */
static void *reap_main(void *arg)
{
	struct mtsrv *s = arg;
	struct timespec until;

	pthread_mutex_lock(&s->lock);
	while (!s->stopping) {
		uint64_t now;

		pthread_mutex_unlock(&s->lock);
		pthread_mutex_lock(&s->conn_lock);
		/*
		 * Read under conn_lock and compared without a subtraction: a connection that came
		 * (or was answered) after `now` would otherwise be years late and shut down unanswered.
		 */
		now = tt_now_ns(CLOCK_MONOTONIC);
		for (struct conn *c = s->conns; c; c = c->next) {
			if (c->waiting == 1 && c->since + HEADER_DEADLINE_NS < now) {
				shutdown(c->fd, SHUT_RDWR);
				c->waiting = 2; /* once */
			}
		}
		pthread_mutex_unlock(&s->conn_lock);
		pthread_mutex_lock(&s->lock);
		deadline_after(&until, REAP_EVERY_NS);
		while (!s->stopping &&
		       pthread_cond_timedwait(&s->cond, &s->lock, &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static const char index_page[] =
	"<!DOCTYPE html>\n<html><head><title>tcptrail</title></head><body>\n"
	"<h1>tcptrail</h1>\n<p>TCP state metrics: <a href=\"/metrics\">/metrics</a></p>\n"
	"</body></html>\n";

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **req_cls)
{
	struct mtsrv *s = cls;
	const char *accept;
	struct body *b;

	conn_mark(conn, s, 0);
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD)) {
		static const char msg[] = "405 method not allowed: GET or HEAD\n";

		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8", msg,
			     sizeof(msg) - 1, "GET, HEAD");
	}
	/* / and /healthz never wait for the numbers: liveness probes ask them */
	if (!strcmp(url, "/"))
		return reply(conn, MHD_HTTP_OK, "text/html; charset=utf-8", index_page,
			     sizeof(index_page) - 1, NULL);
	if (!strcmp(url, "/healthz")) {
		uint64_t last = atomic_load_explicit(&s->last_tick, memory_order_relaxed);
		char why[128];
		size_t n;

		/* healthy while the event loop turns: a busy or abused server never fails it */
		if (!mt_health(tt_now_ns(CLOCK_MONOTONIC), last, MT_STALL_NS, why, sizeof(why) - 1))
			return reply(conn, MHD_HTTP_OK, "text/plain; charset=utf-8", "ok\n", 3,
				     NULL);
		n = strlen(why); /* at most sizeof(why) - 2: room for the newline */
		why[n++] = '\n';
		return reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain; charset=utf-8", why,
			     n, NULL);
	}
	if (strcmp(url, "/metrics")) {
		static const char msg[] = "404 not found: the metrics are at /metrics\n";

		return reply(conn, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8", msg,
			     sizeof(msg) - 1, NULL);
	}
	accept = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
	b = body_get(s, prom_negotiate(accept, accept ? strlen(accept) : 0));
	if (!b) {
		static const char msg[] = "500 out of memory\n";

		return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain; charset=utf-8", msg,
			     sizeof(msg) - 1, NULL);
	}
	return reply_body(conn, s, b);
}

/* Blocks the signals the main thread handles, for the threads started meanwhile. */
static void block_signals(sigset_t *old)
{
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, old);
}

static struct MHD_Daemon *start_httpd(struct mtsrv *s, const struct sockaddr_storage *sa, int any)
{
	/* poll, not select: the tracer's descriptors may pass FD_SETSIZE */
	unsigned int flags =
		MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;

	if (sa->ss_family == AF_INET6)
		flags |= any ? MHD_USE_DUAL_STACK : MHD_USE_IPv6;
	return MHD_start_daemon(flags, 0, NULL, NULL, handle, s, MHD_OPTION_SOCK_ADDR, sa,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned int)HTTP_MAX_CONNS,
				MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)HTTP_MAX_PER_ADDR,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HTTP_IDLE_S,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONN_MEMORY,
				MHD_OPTION_THREAD_STACK_SIZE, (size_t)HTTP_STACK,
				MHD_OPTION_NOTIFY_CONNECTION, notify_conn, s,
				MHD_OPTION_NOTIFY_COMPLETED, completed, s, MHD_OPTION_END);
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
	collect(s, PROM_TEXT);
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
		deadline_after(&until, s->opts.interval_ns);
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

static void stop_http(struct mtsrv *s)
{
	if (s->reap_started) {
		pthread_mutex_lock(&s->lock);
		s->stopping = 1;
		pthread_cond_broadcast(&s->cond);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->reap_thread, NULL);
		s->reap_started = 0;
	}
	if (s->httpd)
		MHD_stop_daemon(s->httpd);
	s->httpd = NULL;
}

static void mtsrv_free(struct mtsrv *s)
{
	bpf_link__destroy(s->link);
	metrics_bpf__destroy(s->skel);
	mt_counts_free(&s->copy);
	free(s->walk.listeners);
	ob_free(&s->out);
	for (int f = 0; f < 2; f++) {
		if (s->cur[f])
			body_put(s, s->cur[f]);
	}
	pthread_mutex_destroy(&s->body_lock);
	pthread_mutex_destroy(&s->conn_lock);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->collect_lock);
	pthread_cond_destroy(&s->cond);
	free(s);
}

struct mtsrv *mtsrv_start(const struct mtsrv_opts *o, struct metrics *m, char *err, size_t errlen)
{
	struct mtsrv *s = calloc(1, sizeof(*s));
	const struct tt_filter *f;
	struct sockaddr_storage sa;
	pthread_condattr_t ca;
	struct utsname u;
	socklen_t salen;
	sigset_t old;
	int any, r;

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
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

	f = o->filter;
	/* Timewait and request sockets have no owner; a listener's is not looked for. */
	s->walk_off = f->npids || f->ncomms || f->ncgroups || f->ncontainers;
	s->skel = metrics_bpf__open();
	if (!s->skel) {
		r = -errno;
		snprintf(err, errlen, "--metrics: opening the socket iterator: %s", strerror(-r));
		goto fail;
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
		goto fail;
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
	/* Threads start with every signal blocked: SIGINT, SIGTERM and SIGHUP are the loop's. */
	block_signals(&old);
	if (o->addr) {
		if (prom_parse_listen(o->addr, &sa, &salen, &any, err, errlen)) {
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			goto fail;
		}
		s->httpd = start_httpd(s, &sa, any);
		if (!s->httpd && any) {
			/* No IPv6 on this machine: every IPv4 address then. */
			struct sockaddr_in *s4 = (struct sockaddr_in *)&sa;
			uint16_t port = ((struct sockaddr_in6 *)&sa)->sin6_port;

			memset(&sa, 0, sizeof(sa));
			s4->sin_family = AF_INET;
			s4->sin_port = port;
			s4->sin_addr.s_addr = htonl(INADDR_ANY);
			s->httpd = start_httpd(s, &sa, 0);
		}
		if (!s->httpd) {
			r = errno;
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			snprintf(err, errlen, "--metrics %s: cannot serve HTTP there: %s", o->addr,
				 r ? strerror(r) : "address in use?");
			goto fail;
		}
		if (pthread_create(&s->reap_thread, NULL, reap_main, s)) {
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			snprintf(err, errlen, "--metrics: cannot start a thread");
			goto fail;
		}
		s->reap_started = 1;
	}
	if (o->file) {
		if (pthread_create(&s->file_thread, NULL, file_main, s)) {
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			snprintf(err, errlen, "--metrics-file: cannot start a thread");
			goto fail;
		}
		s->file_started = 1;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return s;
fail:
	stop_http(s);
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
	stop_http(s);
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
