/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_HTML_PRIV_H
#define TT_HTML_PRIV_H

/*
 * Inside replay --html (html.c takes the records in, html_conns.c keeps the connections worth a
 * lane, html_write.c writes the page): the state they share.
 */
#include <stddef.h>
#include <stdint.h>
#include "html.h"
#include "jsonw.h"
#include "states.h"

#define STR_MAX	      (16u << 20) /* bytes of interned strings; past it names read "?" */
#define HOLDERS_MAX   400	  /* bytes of a stuck alert's "pid/comm,..." */
#define TOP_MAX	      4096	  /* processes / cgroups whose CLOSE_WAIT time is kept apart */
#define TOP_LISTED    10
#define LOST_MARKS    1000
#define SEC	      1000000000ULL
#define BUCKET_NS_MIN 10000000ULL /* 10 ms */
struct strtab {
	char *buf;
	size_t len, cap;
	uint32_t *slots; /* ids, 0 empty */
	uint32_t nslots, n;
	uint32_t full_id; /* "?" once the arena is full */
};
struct top_ent {
	uint64_t key; /* 0: empty */
	uint64_t ns;
};

struct top {
	struct top_ent e[TOP_MAX * 2];
	uint32_t n;
	uint64_t other_ns; /* of keys past TOP_MAX */
};
/* ---- connections ---- */

enum {
	EV_RESET = 1,	/* the event says a reset */
	EV_MS_MIN = 2,	/* ms is a lower bound */
	EV_STUCK = 4,	/* a stuck alert: old = new = its state, who = its holders */
	EV_MS_KNOWN = 8 /* ms is known */
};

struct hev {
	uint64_t t;
	uint64_t ms_ns;
	uint32_t pid; /* 0: not known */
	uint32_t who; /* comm, or a stuck alert's holders */
	uint8_t old, new, fl;
};

/* How a connection ended (its final transition's totals). */
struct hfin {
	uint64_t bytes_sent, bytes_received, life_ns;
	uint32_t retrans, srtt_us, segs_out, segs_in;
	uint16_t sk_err;
	uint8_t cause, life_min, has;
	uint32_t reset_reason; /* string id */
};

struct hconn {
	uint64_t cookie;
	uint32_t netns;
	uint32_t seq; /* order of first appearance */
	uint8_t family, state, score, reset;
	uint16_t sport, dport;
	uint8_t saddr[16], daddr[16];
	uint32_t lsvc, rsvc, cg, cgpath; /* string ids */
	uint32_t pid, comm;		 /* the last owner known */
	uint64_t first_t, last_t, cw_since, cw_ns;
	uint32_t nev, cap, dropped, nstuck;
	struct hev *ev;
	struct hfin fin;
};

struct bucket {
	uint32_t n[TT_STATE_MAX]; /* sockets per state at the bucket's last event */
	uint32_t trans, resets, stuck;
	uint64_t lost;
	uint8_t touched;
};

struct lostmark {
	uint64_t t, count;
};

struct html {
	struct html_opts o;
	struct strtab str;

	/* open connections: pool + linear-probing index of pool slots + 1 */
	struct hconn *pool;
	uint32_t pool_cap, pool_used, nfree, nopen;
	uint32_t *freel;
	uint32_t *idx;
	uint32_t idx_slots;
	uint32_t seq;

	/* kept lanes: a min-heap of lane indexes by (score, later first) */
	struct hconn *lanes;
	uint32_t nlanes;
	uint32_t *heap;

	uint64_t folded;    /* connections without a lane */
	uint64_t untracked; /* events of sockets not followed (too many open at once) */
	uint64_t conns, transitions, stucks, lost, resets;

	/* the overview */
	int have_t;
	uint64_t bt0, tmin, tmax, width;
	int64_t cur[TT_STATE_MAX];
	struct bucket b[HTML_BUCKETS];
	struct lostmark lostm[LOST_MARKS];
	uint32_t nlostm;
	struct top cw_proc, cw_cg;

	/* the first header's self-description */
	uint32_t headers;
	char host[256], kernel[256], version[64], start[64];
};

/* html.c */
const char *html_str_of(const struct strtab *t, uint32_t id);
void html_cw_account(struct html *h, const struct hconn *c, uint32_t pid, uint32_t comm,
		     uint64_t ns);

/* html_conns.c */
/*
 * Doubles an open-addressing table of slots (values + 1, 0 empty), placing each value again by
 * hash(ctx, value).
 */
int html_slots_grow(uint32_t **slots, uint32_t *nslots,
		    uint32_t (*hash)(const void *ctx, uint32_t v), const void *ctx);
int html_idx_grow(struct html *h);
uint32_t html_idx_find(const struct html *h, uint64_t cookie, uint32_t netns);
struct hconn *html_conn_new(struct html *h, const struct lr_record *r, uint32_t slot);
int html_conn_push(struct hconn *c, const struct hev *v);
uint64_t html_cw_total(const struct hconn *c, uint64_t end);
void html_conn_retire(struct html *h, struct hconn *c, int open, uint64_t end);
void html_conn_close(struct html *h, uint32_t slot);

#endif
