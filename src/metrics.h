/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_METRICS_H
#define TT_METRICS_H

/*
 * --metrics: Prometheus metrics kept from the live trace. The event loop owns a struct metrics
 * and feeds it every event (a few counter increments and one probe of a table of open sockets);
 * a scrape formats a copy of its numbers (struct mt_counts, taken by the event loop on request)
 * together with what the socket iterator counted at that moment (struct mt_walk: timewait and
 * request sockets, which no event shows ending, and the listeners' queues). Pure: no threads,
 * no BPF; the server and the hand-over are in metricsrv.c.
 */
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "cgroup.h"
#include "outbuf.h"
#include "prom.h"
#include "tcptrail.h"

/* --metrics-by: the one extra label of the socket, transition and stuck metrics. */
enum mt_by {
	MT_BY_NONE = 0,
	MT_BY_COMM,
	MT_BY_CONTAINER,
	MT_BY_UNIT,
};

/* "comm", "container", "unit" -> MT_BY_*; -1 for anything else. */
int mt_by_parse(const char *s);
/* The label's name ("comm"); NULL for MT_BY_NONE. */
const char *mt_by_name(enum mt_by by);

/*
 * Distinct label values kept; later ones are counted under MT_OTHER_LABEL. A bound on memory
 * and on the series a scrape returns, whatever runs on the machine.
 */
#define MT_MAX_LABELS  1024
#define MT_OTHER_LABEL "_other"

/* Histogram bounds of tcptrail_state_duration_seconds, 100 us to 1 h (+Inf after them). */
#define MT_NBOUNDS  23
#define MT_NBUCKETS (MT_NBOUNDS + 1)
extern const uint64_t mt_bound_ns[MT_NBOUNDS];
extern const char *const mt_bound_text[MT_NBOUNDS];
/* The bucket of a duration: the first bound >= ns, MT_NBOUNDS for +Inf. */
int mt_bucket(uint64_t ns);

struct mt_hist {
	uint64_t bucket[MT_NBUCKETS]; /* per bucket, not cumulative */
	uint64_t count;
	uint64_t sum_s; /* the sum is sum_s seconds + sum_ns nanoseconds */
	uint64_t sum_ns;
};

/* Families of sockets: index 0 AF_INET, 1 AF_INET6. */
#define MT_FAMILIES 2

/* The numbers of one label value. */
struct mt_label_counts {
	int64_t sockets[MT_FAMILIES][TT_STATE_MAX]; /* full sockets seen by events or the seed */
	uint64_t trans[TT_STATE_MAX][TT_STATE_MAX];
	int64_t stuck[TT_STATE_MAX]; /* sockets past a --stuck rule that have not left it */
	uint64_t alerts[TT_STATE_MAX];
	uint16_t seen[MT_FAMILIES]; /* bit per state: has had a socket (its series is shown) */
};

/* closed{cause}: enum tt_cause names, then these two for a cause that is not known. */
#define MT_CLOSE_NORMAL (TT_CAUSE_MAX)
#define MT_CLOSE_RESET	(TT_CAUSE_MAX + 1)
#define MT_NCLOSE	(TT_CAUSE_MAX + 2)

/* Everything a scrape formats from the trace: a consistent copy, taken by metrics_copy(). */
struct mt_counts {
	uint64_t events;
	uint64_t lost;
	uint64_t opened_active;
	uint64_t opened_passive;
	uint64_t closed[MT_NCLOSE];
	uint64_t connect_failures;
	struct mt_hist dur[TT_STATE_MAX];
	uint32_t nlabels;
	uint32_t cap;		     /* entries allocated in lab and names */
	struct mt_label_counts *lab; /* [nlabels] */
	const char **names;	     /* [nlabels], owned by the struct metrics they came from */
};

/* What the socket iterator counted in every network namespace at scrape time. */
struct mt_listener {
	uint32_t netns;
	uint16_t port;
	uint8_t family; /* AF_INET, AF_INET6 */
	uint8_t addr[16];
	uint64_t qlen; /* accept queue, summed over the sockets of one address (SO_REUSEPORT) */
	uint64_t qmax; /* its limit (backlog), summed likewise */
};

struct mt_walk {
	int ok;			       /* the walk ran; otherwise only the trace's numbers */
	double seconds;		       /* how long the walk took */
	uint64_t tw[MT_FAMILIES];      /* timewait sockets in TIME_WAIT */
	uint64_t tw_fin2[MT_FAMILIES]; /* timewait sockets in the FIN_WAIT2 substate */
	uint64_t req[MT_FAMILIES];     /* request sockets (ss: SYN-RECV) */
	struct mt_listener *listeners; /* sorted, one per (netns, family, address, port) */
	size_t nlisteners;
	/* Listeners past MT_MAX_LISTENERS, summed into one MT_OTHER_LABEL series */
	size_t nother;
	uint64_t other_qlen;
	uint64_t other_qmax;
};

/*
 * Listener series kept per scrape: the longest queues (ties by address), the rest summed. Any
 * user can open listeners, and each costs two series: this bounds the body (~190 kB of them).
 */
#define MT_MAX_LISTENERS 1000

/*
 * Adds one listening socket to w (grown as needed): one with the same netns, family, address
 * and port adds its queue to the entry's. 0, or -1 when out of memory.
 */
int mt_walk_add_listener(struct mt_walk *w, size_t *cap, const struct mt_listener *l);
/*
 * Merges the sockets of one address, keeps the max busiest listeners (the rest in w->other_*)
 * and sorts them for a stable output.
 */
void mt_walk_finish(struct mt_walk *w, size_t max);

struct metrics;

/* by: the extra label. NULL when out of memory. */
struct metrics *metrics_new(enum mt_by by);
void metrics_free(struct metrics *m);

/*
 * A socket that predates the tracer, from the start-up walk (e->newstate is its state). cg:
 * its cgroup (for --metrics-by container/unit; may be NULL).
 */
void metrics_seed(struct metrics *m, const struct tt_event *e, const struct cg_desc *cg);
/* One transition from the ring buffer (type TT_EV_STATE). */
void metrics_event(struct metrics *m, const struct tt_event *e, const struct cg_desc *cg);
/* A stuck alert that was raised (type TT_EV_STUCK): counted, and its socket is stuck now. */
void metrics_alert(struct metrics *m, const struct tt_event *e);
/* The tracer's count of lost events (kernel drops and recursion misses). */
void metrics_set_lost(struct metrics *m, uint64_t lost);
/* Full sockets in the table (tests, memory checks). */
uint64_t metrics_sockets(const struct metrics *m);

/*
 * /healthz: the event loop turns at least every poll timeout (10 ms) with or without events, so
 * a last turn older than this means it is wedged; scrapes, however slow or many, never delay it.
 */
#define MT_STALL_NS (30 * 1000000000ULL)
/*
 * /healthz's verdict at now (CLOCK_MONOTONIC ns) for an event loop last turned at last_tick: 0
 * (healthy), or -1 with a one-line reason (no newline) in why when it is older than stall_ns.
 */
int mt_health(uint64_t now, uint64_t last_tick, uint64_t stall_ns, char *why, size_t len);

/* Copies m's numbers into dst (its arrays grown as needed). 0, or -1 when out of memory. */
int metrics_copy(const struct metrics *m, struct mt_counts *dst);
void mt_counts_free(struct mt_counts *c);

/* What the exposition says about itself. */
struct mt_info {
	enum mt_by by;
	const char *version; /* tcptrail's */
	const char *kernel;  /* uname -r */
	const int *stuck_states;
	int nstuck;
};

/* The whole exposition of c and w (w may be NULL) in format f. */
void mt_format(struct outbuf *ob, enum prom_format f, const struct mt_info *info,
	       const struct mt_counts *c, const struct mt_walk *w);

#endif
