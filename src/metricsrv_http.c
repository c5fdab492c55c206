// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The metrics server's HTTP side (libmicrohttpd): /metrics in either exposition format from a
 * body shared by the scrapes of half a second, /healthz, and a reaper that shuts connections
 * whose request headers come too slowly.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <netinet/in.h>
#include "bpfcommon.h"
#include "thread.h"
#include "metricsrv_priv.h"

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

void mtsrv_body_put(struct mtsrv *s, struct body *b)
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

	mtsrv_body_put(b->s, b);
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
	mtsrv_collect(s, f);
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
		mtsrv_body_put(s, old);
	return b;
}

static enum MHD_Result reply_body(struct MHD_Connection *conn, struct mtsrv *s, struct body *b)
{
	struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback_cls(
		b->len, b->data, body_put_cb, b);
	enum MHD_Result ret;

	if (!r) {
		mtsrv_body_put(s, b);
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
		mtsrv_deadline_after(&until, REAP_EVERY_NS);
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

void mtsrv_stop_http(struct mtsrv *s)
{
	if (s->reap_started) {
		tt_thread_stop(s->reap_thread, &s->lock, &s->cond, &s->stopping);
		s->reap_started = 0;
	}
	if (s->httpd)
		MHD_stop_daemon(s->httpd);
	s->httpd = NULL;
}
/* --metrics ADDR:PORT: the HTTP server and its reaper. 0 or -1. */
int mtsrv_serve_http(struct mtsrv *s, const char *addr, char *err, size_t errlen)
{
	struct sockaddr_storage sa;
	socklen_t salen;
	int any, r;

	if (prom_parse_listen(addr, &sa, &salen, &any, err, errlen))
		return -1;
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
		snprintf(err, errlen, "--metrics %s: cannot serve HTTP there: %s", addr,
			 r ? strerror(r) : "address in use?");
		return -1;
	}
	if (pthread_create(&s->reap_thread, NULL, reap_main, s)) {
		snprintf(err, errlen, "--metrics: cannot start a thread");
		return -1;
	}
	s->reap_started = 1;
	return 0;
}
