/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_METRICSRV_PRIV_H
#define TT_METRICSRV_PRIV_H

/*
 * Inside the metrics server: metricsrv.c hands the numbers over from the event loop, walks the
 * sockets and writes the textfile; metricsrv_http.c serves them.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <microhttpd.h>
#include "metrics.h"
#include "metricsrv.h"
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

/* metricsrv.c */
void mtsrv_deadline_after(struct timespec *ts, uint64_t ns);
void mtsrv_collect(struct mtsrv *s, enum prom_format f);

/* metricsrv_http.c */
void mtsrv_body_put(struct mtsrv *s, struct body *b);
void mtsrv_stop_http(struct mtsrv *s);
int mtsrv_serve_http(struct mtsrv *s, const char *addr, char *err, size_t errlen);

#endif
