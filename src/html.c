// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * `replay --html`: a recording as one HTML page that needs no network. The page (markup, CSS,
 * JavaScript: src/html_page.html, embedded at build time) draws what this file hands it as one
 * JSON block: the header, a lane per connection worth one, and the overview's buckets. Every
 * string of the log reaches the page only inside that JSON (escaped so that it cannot end the
 * block), and the page puts it into the document as text, never as markup.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "causes.h"
#include "cgroup.h"
#include "format.h"
#include "html.h"
#include "html_page.h"
#include "jsonl.h"
#include "jsonw.h"
#include "states.h"

#define STR_MAX	      (16u << 20) /* bytes of interned strings; past it names read "?" */
#define HOLDERS_MAX   400	  /* bytes of a stuck alert's "pid/comm,..." */
#define TOP_MAX	      4096	  /* processes / cgroups whose CLOSE_WAIT time is kept apart */
#define TOP_LISTED    10
#define LOST_MARKS    1000
#define SEC	      1000000000ULL
#define BUCKET_NS_MIN 10000000ULL /* 10 ms */

/* ---- interned strings: id 0 is "none", ids are offsets + 1 into one arena ---- */

struct strtab {
	char *buf;
	size_t len, cap;
	uint32_t *slots; /* ids, 0 empty */
	uint32_t nslots, n;
	uint32_t full_id; /* "?" once the arena is full */
};

static uint32_t str_hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 16777619u;
	return h;
}

static uint32_t str_put_raw(struct strtab *t, const char *s, size_t n)
{
	size_t need = t->len + n + 1;

	if (need > t->cap) {
		size_t cap = t->cap ? t->cap : 4096;
		char *nb;

		while (cap < need)
			cap *= 2;
		nb = realloc(t->buf, cap);
		if (!nb)
			return 0;
		t->buf = nb;
		t->cap = cap;
	}
	memcpy(t->buf + t->len, s, n);
	t->buf[t->len + n] = '\0';
	t->len = need;
	return (uint32_t)(need - n - 1) + 1;
}

static int str_grow(struct strtab *t)
{
	uint32_t ns = t->nslots ? t->nslots * 2 : 1024;
	uint32_t *sl = calloc(ns, sizeof(*sl));

	if (!sl)
		return -1;
	for (uint32_t i = 0; i < t->nslots; i++) {
		uint32_t id = t->slots[i], j;
		const char *s;

		if (!id)
			continue;
		s = t->buf + id - 1;
		j = str_hash(s, strlen(s)) & (ns - 1);
		while (sl[j])
			j = (j + 1) & (ns - 1);
		sl[j] = id;
	}
	free(t->slots);
	t->slots = sl;
	t->nslots = ns;
	return 0;
}

/* The id of s (n bytes, no NUL inside: cut at the first), interned; 0 for NULL. */
static uint32_t str_id(struct strtab *t, const char *s, size_t n)
{
	const char *nul;
	uint32_t j, id;

	if (!s)
		return 0;
	nul = memchr(s, '\0', n);
	if (nul)
		n = (size_t)(nul - s);
	if ((t->n + 1) * 2 > t->nslots && str_grow(t))
		return t->full_id;
	j = str_hash(s, n) & (t->nslots - 1);
	while ((id = t->slots[j])) {
		const char *o = t->buf + id - 1;

		if (!strncmp(o, s, n) && o[n] == '\0')
			return id;
		j = (j + 1) & (t->nslots - 1);
	}
	if (t->len + n + 1 > STR_MAX)
		return t->full_id;
	id = str_put_raw(t, s, n);
	if (!id)
		return t->full_id;
	t->slots[j] = id;
	t->n++;
	return id;
}

static const char *str_of(const struct strtab *t, uint32_t id)
{
	return id ? t->buf + id - 1 : NULL;
}

/* ---- a small table: 64-bit key -> time in CLOSE_WAIT ---- */

struct top_ent {
	uint64_t key; /* 0: empty */
	uint64_t ns;
};

struct top {
	struct top_ent e[TOP_MAX * 2];
	uint32_t n;
	uint64_t other_ns; /* of keys past TOP_MAX */
};

static void top_add(struct top *t, uint64_t key, uint64_t ns)
{
	uint32_t j = (uint32_t)((key * 0x9e3779b97f4a7c15ULL) >> 40) & (TOP_MAX * 2 - 1);

	key++; /* 0 stands for empty */
	while (t->e[j].key && t->e[j].key != key)
		j = (j + 1) & (TOP_MAX * 2 - 1);
	if (!t->e[j].key) {
		if (t->n >= TOP_MAX) {
			t->other_ns += ns;
			return;
		}
		t->e[j].key = key;
		t->n++;
	}
	t->e[j].ns += ns;
}

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

struct html *html_new(const struct html_opts *o)
{
	struct html *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	if (o)
		h->o = *o;
	if (!h->o.lanes_max)
		h->o.lanes_max = HTML_LANES_MAX;
	if (!h->o.open_max)
		h->o.open_max = HTML_OPEN_MAX;
	h->lanes = calloc(h->o.lanes_max, sizeof(*h->lanes));
	h->heap = calloc(h->o.lanes_max, sizeof(*h->heap));
	if (!h->lanes || !h->heap || str_grow(&h->str)) {
		html_free(h);
		return NULL;
	}
	h->str.full_id = str_put_raw(&h->str, "?", 1);
	h->width = BUCKET_NS_MIN;
	return h;
}

void html_free(struct html *h)
{
	if (!h)
		return;
	for (uint32_t i = 0; i < h->pool_used; i++)
		free(h->pool[i].ev);
	for (uint32_t i = 0; i < h->nlanes; i++)
		free(h->lanes[i].ev);
	free(h->pool);
	free(h->freel);
	free(h->idx);
	free(h->lanes);
	free(h->heap);
	free(h->str.buf);
	free(h->str.slots);
	free(h);
}

uint64_t html_lanes(const struct html *h)
{
	return h->nlanes;
}

uint64_t html_folded(const struct html *h)
{
	return h->folded;
}

static uint32_t conn_hash(uint64_t cookie, uint32_t netns)
{
	uint64_t x = (cookie ^ ((uint64_t)netns << 32)) * 0x9e3779b97f4a7c15ULL;

	return (uint32_t)(x >> 32);
}

static int idx_grow(struct html *h)
{
	uint32_t ns = h->idx_slots ? h->idx_slots * 2 : 1024;
	uint32_t *ix = calloc(ns, sizeof(*ix));

	if (!ix)
		return -1;
	for (uint32_t i = 0; i < h->idx_slots; i++) {
		uint32_t v = h->idx[i], j;

		if (!v)
			continue;
		j = conn_hash(h->pool[v - 1].cookie, h->pool[v - 1].netns) & (ns - 1);
		while (ix[j])
			j = (j + 1) & (ns - 1);
		ix[j] = v;
	}
	free(h->idx);
	h->idx = ix;
	h->idx_slots = ns;
	return 0;
}

/* The index slot of the connection, or of the empty slot where it would go. */
static uint32_t idx_find(const struct html *h, uint64_t cookie, uint32_t netns)
{
	uint32_t j = conn_hash(cookie, netns) & (h->idx_slots - 1), v;

	while ((v = h->idx[j])) {
		if (h->pool[v - 1].cookie == cookie && h->pool[v - 1].netns == netns)
			break;
		j = (j + 1) & (h->idx_slots - 1);
	}
	return j;
}

/* Removes slot j (linear probing: the entries after it move back). */
static void idx_del(struct html *h, uint32_t j)
{
	uint32_t mask = h->idx_slots - 1, k = j;

	h->idx[j] = 0;
	for (;;) {
		uint32_t v, home;

		k = (k + 1) & mask;
		v = h->idx[k];
		if (!v)
			return;
		home = conn_hash(h->pool[v - 1].cookie, h->pool[v - 1].netns) & mask;
		/* v may move to j when j lies cyclically in [home, k) */
		if ((k > j && (home <= j || home > k)) || (k < j && home <= j && home > k)) {
			h->idx[j] = v;
			h->idx[k] = 0;
			j = k;
		}
	}
}

static struct hconn *conn_new(struct html *h, const struct lr_record *r, uint32_t slot)
{
	const struct tt_event *e = &r->ev;
	struct hconn *c;
	uint32_t i;

	if (h->nfree) {
		i = h->freel[--h->nfree];
	} else {
		if (h->pool_used == h->pool_cap) {
			uint32_t nc = h->pool_cap ? h->pool_cap * 2 : 256;
			struct hconn *np = realloc(h->pool, (size_t)nc * sizeof(*np));
			uint32_t *nf;

			if (!np)
				return NULL;
			h->pool = np;
			nf = realloc(h->freel, (size_t)nc * sizeof(*nf));
			if (!nf)
				return NULL;
			h->freel = nf;
			h->pool_cap = nc;
		}
		i = h->pool_used++;
	}
	c = &h->pool[i];
	memset(c, 0, sizeof(*c));
	c->cookie = e->sock_cookie;
	c->netns = e->netns;
	c->seq = h->seq++;
	c->first_t = r->wall_ns;
	h->idx[slot] = i + 1;
	h->nopen++;
	h->conns++;
	return c;
}

static int conn_push(struct hconn *c, const struct hev *v)
{
	if (c->nev == HTML_LANE_EVENTS) {
		/* the first events and the last one: how it started and how it ended */
		c->ev[c->nev - 1] = *v;
		c->dropped++;
		return 0;
	}
	if (c->nev == c->cap) {
		uint32_t nc = c->cap ? c->cap * 2 : 4;
		struct hev *ne;

		if (nc > HTML_LANE_EVENTS)
			nc = HTML_LANE_EVENTS;
		ne = realloc(c->ev, nc * sizeof(*ne));
		if (!ne)
			return -1;
		c->ev = ne;
		c->cap = nc;
	}
	c->ev[c->nev++] = *v;
	return 0;
}

static uint64_t cw_total(const struct hconn *c, uint64_t end)
{
	uint64_t ns = c->cw_ns;

	if (c->state == TT_CLOSE_WAIT && end > c->cw_since)
		ns += end - c->cw_since;
	return ns;
}

/* What a connection is worth a lane for: alerts, resets, a leak, a long life. */
static uint8_t conn_score(const struct hconn *c, int open, uint64_t end)
{
	uint64_t life = c->fin.has ? c->fin.life_ns : 0;
	uint8_t s = 0;

	if (c->nstuck)
		s += 8;
	if (c->reset)
		s += 4;
	if (cw_total(c, end) >= SEC || (open && c->state == TT_CLOSE_WAIT))
		s += 2;
	if (c->last_t - c->first_t > life)
		life = c->last_t - c->first_t;
	if (open || life >= SEC)
		s += 1;
	return s;
}

/* Heap order: the lane to give up first is the least worth, and the newest among equals. */
static int lane_less(const struct html *h, uint32_t a, uint32_t b)
{
	const struct hconn *x = &h->lanes[a], *y = &h->lanes[b];

	return x->score < y->score || (x->score == y->score && x->seq > y->seq);
}

static void heap_down(struct html *h, uint32_t i)
{
	for (;;) {
		uint32_t l = 2 * i + 1, r = l + 1, m = i, t;

		if (l < h->nlanes && lane_less(h, h->heap[l], h->heap[m]))
			m = l;
		if (r < h->nlanes && lane_less(h, h->heap[r], h->heap[m]))
			m = r;
		if (m == i)
			return;
		t = h->heap[i];
		h->heap[i] = h->heap[m];
		h->heap[m] = t;
		i = m;
	}
}

static void heap_up(struct html *h, uint32_t i)
{
	while (i) {
		uint32_t p = (i - 1) / 2, t;

		if (!lane_less(h, h->heap[i], h->heap[p]))
			return;
		t = h->heap[i];
		h->heap[i] = h->heap[p];
		h->heap[p] = t;
		i = p;
	}
}

/* A connection leaves the open table: it gets a lane, or is folded into the overview. */
static void conn_retire(struct html *h, struct hconn *c, int open, uint64_t end)
{
	c->score = conn_score(c, open, end);
	if (h->nlanes < h->o.lanes_max) {
		h->lanes[h->nlanes] = *c;
		h->heap[h->nlanes] = h->nlanes;
		h->nlanes++;
		heap_up(h, h->nlanes - 1);
	} else if (c->score > h->lanes[h->heap[0]].score) {
		struct hconn *old = &h->lanes[h->heap[0]];

		free(old->ev);
		*old = *c;
		heap_down(h, 0);
		h->folded++;
	} else {
		free(c->ev);
		h->folded++;
	}
	c->ev = NULL;
}

static void conn_close(struct html *h, uint32_t slot)
{
	uint32_t i = h->idx[slot] - 1;

	idx_del(h, slot);
	h->freel[h->nfree++] = i;
	h->nopen--;
}

/* ---- the overview ---- */

static struct bucket *bucket_at(struct html *h, uint64_t t)
{
	uint64_t i;

	if (!h->have_t) {
		h->have_t = 1;
		h->bt0 = h->tmin = h->tmax = t;
	}
	if (t < h->tmin)
		h->tmin = t;
	if (t > h->tmax)
		h->tmax = t;
	if (t < h->bt0)
		return &h->b[0];
	while ((i = (t - h->bt0) / h->width) >= HTML_BUCKETS) {
		/* twice as wide: pairs merge, the later one's socket counts win */
		for (uint32_t k = 0; k < HTML_BUCKETS / 2; k++) {
			struct bucket *x = &h->b[2 * k], *y = &h->b[2 * k + 1], m = *x;

			if (y->touched)
				memcpy(m.n, y->n, sizeof(m.n));
			m.trans += y->trans;
			m.resets += y->resets;
			m.stuck += y->stuck;
			m.lost += y->lost;
			m.touched |= y->touched;
			h->b[k] = m;
		}
		memset(&h->b[HTML_BUCKETS / 2], 0, sizeof(h->b) / 2);
		h->width *= 2;
	}
	return &h->b[i];
}

static void gauge(struct html *h, struct bucket *b, int old, int new)
{
	/* a socket older than the recording leaves a state never counted: not below 0 */
	if (old > 0 && old < TT_STATE_MAX && old != TT_CLOSE && h->cur[old] > 0)
		h->cur[old]--;
	/* a timewait socket ends without an event: not counted */
	if (new > 0 && new < TT_STATE_MAX && !tt_state_terminal(new))
		h->cur[new]++;
	for (int s = 0; s < TT_STATE_MAX; s++)
		b->n[s] = h->cur[s] > UINT32_MAX ? UINT32_MAX : (uint32_t)h->cur[s];
	b->touched = 1;
}

static int final_reset(const struct tt_event *e)
{
	return (e->flags & TT_F_TOTALS) && totals_reset(e);
}

/* ---- records ---- */

static void cw_account(struct html *h, const struct hconn *c, uint32_t pid, uint32_t comm,
		       uint64_t ns)
{
	if (!ns)
		return;
	top_add(&h->cw_proc, (uint64_t)pid << 32 | comm, ns);
	top_add(&h->cw_cg, c ? c->cg : 0, ns);
}

static void read_header(struct html *h, const char *line, size_t len)
{
	static const struct {
		const char *key;
		size_t off, cap;
	} keys[] = {
		{"hostname", offsetof(struct html, host), sizeof(((struct html *)0)->host)},
		{"kernel", offsetof(struct html, kernel), sizeof(((struct html *)0)->kernel)},
		{"version", offsetof(struct html, version), sizeof(((struct html *)0)->version)},
		{"start_time", offsetof(struct html, start), sizeof(((struct html *)0)->start)},
	};
	struct jsonl_obj *o;
	char err[80];

	if (h->headers++ || !line)
		return;
	o = malloc(sizeof(*o));
	if (!o)
		return;
	if (!jsonl_parse(line, len, o, err, sizeof(err))) {
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			const struct jsonl_member *m = jsonl_get(o, keys[i].key);
			char *out = (char *)h + keys[i].off;

			if (m && m->type == JSONL_STRING &&
			    jsonl_unescape(m->val, m->val_len, out, keys[i].cap) < 0)
				out[0] = '\0';
		}
	}
	free(o);
}

static uint32_t holders_id(struct html *h, const struct lr_record *r)
{
	char buf[HOLDERS_MAX + 32];
	size_t n = 0;

	if (!r->holders)
		return 0;
	for (size_t i = 0; i < r->holders->n && n < HOLDERS_MAX; i++) {
		const struct tt_owner_rec *o = &r->holders->recs[i];

		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%u/%.*s", i ? "," : "", o->pid,
				      TT_COMM_LEN, o->comm);
	}
	if (n >= sizeof(buf))
		n = sizeof(buf) - 1;
	if (r->holders->more || n >= HOLDERS_MAX)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, ",...");
	if (n >= sizeof(buf))
		n = sizeof(buf) - 1;
	return str_id(&h->str, buf, n);
}

static void conn_describe(struct html *h, struct hconn *c, const struct lr_record *r)
{
	const struct tt_event *e = &r->ev;

	c->family = e->family;
	memcpy(c->saddr, e->saddr, 16);
	memcpy(c->daddr, e->daddr, 16);
	c->sport = e->sport;
	c->dport = e->dport;
	if (!h->o.numeric) {
		c->lsvc = r->lsvc ? str_id(&h->str, r->lsvc, strlen(r->lsvc)) : 0;
		c->rsvc = r->rsvc ? str_id(&h->str, r->rsvc, strlen(r->rsvc)) : 0;
	}
	if (r->cg) {
		const char *s;
		size_t n;

		cg_label(r->cg, &s, &n);
		if (r->cg->path || r->cg->ident.container_id[0] || r->cg->ident.unit[0])
			c->cg = str_id(&h->str, s, n);
		if (r->cg->path)
			c->cgpath = str_id(&h->str, r->cg->path, r->cg->path_len);
	}
}

static int add_event(struct html *h, const struct lr_record *r)
{
	const struct tt_event *e = &r->ev;
	int stuck = r->type == LR_STUCK;
	struct bucket *b = bucket_at(h, r->wall_ns);
	struct hconn *c = NULL;
	uint32_t slot = 0, comm = 0, pid = 0;
	struct hev v = {0};

	if (e->flags & TT_F_OWNER_KNOWN || stuck) {
		pid = e->pid;
		comm = str_id(&h->str, e->comm, strnlen(e->comm, TT_COMM_LEN));
	}
	if (stuck) {
		b->stuck++;
		h->stucks++;
	} else {
		b->trans++;
		h->transitions++;
		gauge(h, b, e->oldstate, e->newstate);
		if ((e->flags & TT_F_RESET) || final_reset(e)) {
			b->resets++;
			h->resets++;
		}
	}

	if ((h->nopen + 1) * 2 > h->idx_slots && idx_grow(h))
		return -1;
	slot = idx_find(h, e->sock_cookie, e->netns);
	if (h->idx[slot]) {
		c = &h->pool[h->idx[slot] - 1];
	} else if (h->nopen < h->o.open_max) {
		c = conn_new(h, r, slot);
		if (!c)
			return -1;
	} else {
		h->untracked++;
	}
	if (!stuck && e->oldstate == TT_CLOSE_WAIT && (e->flags & TT_F_DELTA_KNOWN)) {
		/* every socket's time in CLOSE_WAIT, followed or not */
		cw_account(h, c, pid ? pid : (c ? c->pid : 0), comm ? comm : (c ? c->comm : 0),
			   e->delta_ns);
		if (c)
			c->cw_ns += e->delta_ns;
	}
	if (!c)
		return 0;

	if (!c->nev || !stuck)
		conn_describe(h, c, r);
	if (pid) {
		c->pid = pid;
		c->comm = comm;
	}
	c->last_t = r->wall_ns;
	v.t = r->wall_ns;
	v.ms_ns = e->delta_ns;
	v.old = e->oldstate;
	v.new = e->newstate;
	v.pid = pid;
	v.who = stuck ? holders_id(h, r) : comm;
	if (stuck && !v.who && pid)
		v.who = comm;
	v.fl = (stuck ? EV_STUCK : 0) | (e->flags & TT_F_DELTA_MIN ? EV_MS_MIN : 0) |
	       (e->flags & TT_F_DELTA_KNOWN || stuck ? EV_MS_KNOWN : 0) |
	       ((e->flags & TT_F_RESET) || final_reset(e) ? EV_RESET : 0);
	if (stuck) {
		c->nstuck++;
		/* its holders are who keeps it: they own the CLOSE_WAIT from here */
	} else {
		if (v.fl & EV_RESET)
			c->reset = 1;
		if (e->newstate == TT_CLOSE_WAIT)
			c->cw_since = r->wall_ns;
		c->state = e->newstate;
	}
	if (conn_push(c, &v))
		return -1;
	if (!stuck && (e->flags & TT_F_TOTALS)) {
		struct hfin *f = &c->fin;
		const char *rr =
			e->flags & TT_F_RESET_REASON ? rst_reason_name(e->reset_reason) : NULL;

		f->has = 1;
		f->cause = e->cause;
		f->bytes_sent = e->bytes_sent;
		f->bytes_received = e->bytes_received;
		f->life_ns = e->life_ns;
		f->life_min = !!(e->flags & TT_F_LIFE_MIN);
		f->retrans = e->retrans;
		f->srtt_us = e->srtt_us;
		f->segs_out = e->segs_out;
		f->segs_in = e->segs_in;
		f->sk_err = e->sk_err;
		f->reset_reason = rr ? str_id(&h->str, rr, strlen(rr)) : 0;
		if (e->cause == TT_CAUSE_REFUSED || e->cause == TT_CAUSE_RESET_IN ||
		    e->cause == TT_CAUSE_RESET_OUT || e->cause == TT_CAUSE_TIMEOUT ||
		    e->cause == TT_CAUSE_ABORT)
			c->reset = 1;
	}
	if (!stuck && tt_state_terminal(e->newstate)) {
		conn_retire(h, c, 0, r->wall_ns);
		conn_close(h, slot);
	}
	return 0;
}

int html_add(struct html *h, const struct lr_record *r, const char *line, size_t len)
{
	struct bucket *b;

	switch (r->type) {
	case LR_HEADER:
		read_header(h, line, len);
		return 0;
	case LR_LOST:
		b = bucket_at(h, r->wall_ns);
		b->lost = b->lost + r->lost_count < b->lost ? UINT64_MAX : b->lost + r->lost_count;
		h->lost = h->lost + r->lost_count < h->lost ? UINT64_MAX : h->lost + r->lost_count;
		if (h->nlostm < LOST_MARKS)
			h->lostm[h->nlostm++] = (struct lostmark){r->wall_ns, r->lost_count};
		return 0;
	case LR_STATE:
	case LR_STUCK:
		return add_event(h, r);
	default:
		return 0;
	}
}

/* ---- the page ---- */

static void put_ms(struct jsonw *w, const struct html *h, uint64_t t)
{
	/* ms from the first bucket's start, 3 decimals; a negative offset as its own number */
	if (t >= h->bt0) {
		jw_fixed(w, (t - h->bt0) / 1000, 3);
	} else {
		struct outbuf *ob = jw_value_ob(w);

		ob_putc(ob, '-');
		ob_fixed(ob, (h->bt0 - t) / 1000, 3);
	}
}

static void put_str_id(struct jsonw *w, const struct html *h, uint32_t id)
{
	jw_str_or_null(w, str_of(&h->str, id));
}

static void put_addr(struct jsonw *w, int family, const uint8_t a[16])
{
	fmt_json_addr(w, family, a);
}

static void put_lane(struct jsonw *w, const struct html *h, const struct hconn *c)
{
	jw_obj_begin(w);
	jw_field_u64(w, "sock", c->cookie);
	jw_field_u64(w, "netns", c->netns);
	jw_field_str(w, "proto", c->family == 10 ? "tcp6" : "tcp");
	jw_key(w, "la");
	put_addr(w, c->family, c->saddr);
	jw_field_u64(w, "lp", c->sport);
	jw_key(w, "ra");
	put_addr(w, c->family, c->daddr);
	jw_field_u64(w, "rp", c->dport);
	jw_key(w, "ls");
	put_str_id(w, h, c->lsvc);
	jw_key(w, "rs");
	put_str_id(w, h, c->rsvc);
	jw_key(w, "cg");
	put_str_id(w, h, c->cg);
	jw_key(w, "cgpath");
	put_str_id(w, h, c->cgpath);
	jw_field_u64(w, "score", c->score);
	jw_field_u64(w, "more", c->dropped);
	jw_key(w, "cw_ms");
	jw_fixed(w, cw_total(c, h->tmax) / 1000, 3);
	jw_key(w, "end");
	if (c->fin.has) {
		const char *cause = cause_name(c->fin.cause);

		jw_obj_begin(w);
		jw_field_str_or_null(w, "cause", cause);
		jw_field_str_or_null(w, "error", errno_name(c->fin.sk_err));
		jw_key(w, "reset_reason");
		put_str_id(w, h, c->fin.reset_reason);
		jw_field_u64(w, "bytes_sent", c->fin.bytes_sent);
		jw_field_u64(w, "bytes_received", c->fin.bytes_received);
		jw_field_u64(w, "segs_out", c->fin.segs_out);
		jw_field_u64(w, "segs_in", c->fin.segs_in);
		jw_field_u64(w, "retrans", c->fin.retrans);
		jw_key(w, "srtt_ms");
		if (c->fin.srtt_us)
			jw_fixed(w, c->fin.srtt_us, 3);
		else
			jw_null(w);
		jw_key(w, "life_ms");
		jw_fixed(w, c->fin.life_ns / 1000, 3);
		jw_field_bool(w, "life_min", c->fin.life_min);
		jw_obj_end(w);
	} else {
		jw_null(w);
	}
	jw_key(w, "ev");
	jw_arr_begin(w);
	for (uint32_t i = 0; i < c->nev; i++) {
		const struct hev *v = &c->ev[i];

		/* [ms, old, new, ms in old or null, pid or null, comm/holders or null, flags] */
		jw_arr_begin(w);
		put_ms(w, h, v->t);
		jw_strz(w, tt_state_name(v->old));
		jw_strz(w, tt_state_name(v->new));
		if (v->fl & EV_MS_KNOWN)
			jw_fixed(w, v->ms_ns / 1000, 3);
		else
			jw_null(w);
		if (v->pid)
			jw_u64(w, v->pid);
		else
			jw_null(w);
		put_str_id(w, h, v->who);
		jw_u64(w, v->fl);
		jw_arr_end(w);
	}
	jw_arr_end(w);
	jw_obj_end(w);
}

static int cmp_lane_time(const void *a, const void *b)
{
	const struct hconn *x = a, *y = b;

	if (x->first_t != y->first_t)
		return x->first_t < y->first_t ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int cmp_top(const void *a, const void *b)
{
	const struct top_ent *x = a, *y = b;

	return x->ns < y->ns ? 1 : x->ns > y->ns ? -1 : 0;
}

static void put_top(struct jsonw *w, const struct html *h, const struct top *t, int procs)
{
	struct top_ent *e = malloc(sizeof(t->e));
	uint32_t n = 0;

	jw_arr_begin(w);
	if (e) {
		for (uint32_t i = 0; i < TOP_MAX * 2; i++)
			if (t->e[i].key)
				e[n++] = t->e[i];
		qsort(e, n, sizeof(*e), cmp_top);
		for (uint32_t i = 0; i < n && i < TOP_LISTED; i++) {
			uint64_t key = e[i].key - 1;

			jw_obj_begin(w);
			if (procs) {
				jw_key(w, "pid");
				if (key >> 32)
					jw_u64(w, key >> 32);
				else
					jw_null(w);
				jw_key(w, "comm");
				put_str_id(w, h, (uint32_t)key);
			} else {
				jw_key(w, "cg");
				put_str_id(w, h, (uint32_t)key);
			}
			jw_key(w, "ms");
			jw_fixed(w, e[i].ns / 1000, 3);
			jw_obj_end(w);
		}
		free(e);
	}
	jw_arr_end(w);
}

static void put_overview(struct jsonw *w, const struct html *h)
{
	uint64_t nb = h->have_t ? (h->tmax - h->bt0) / h->width + 1 : 0;
	const struct bucket *prev = NULL;

	if (nb > HTML_BUCKETS)
		nb = HTML_BUCKETS;
	jw_key(w, "bucket_ms");
	jw_fixed(w, h->width / 1000, 3);
	jw_key(w, "states");
	jw_arr_begin(w);
	for (int s = 1; s < TT_STATE_MAX; s++)
		jw_strz(w, tt_state_name(s));
	jw_arr_end(w);
	/* per bucket: [transitions, resets, stuck, lost, sockets per state from state 1] */
	jw_key(w, "buckets");
	jw_arr_begin(w);
	for (uint64_t i = 0; i < nb; i++) {
		const struct bucket *b = &h->b[i];
		const struct bucket *g = b->touched || !prev ? b : prev;

		jw_arr_begin(w);
		jw_u64(w, b->trans);
		jw_u64(w, b->resets);
		jw_u64(w, b->stuck);
		jw_u64(w, b->lost);
		for (int s = 1; s < TT_STATE_MAX; s++)
			jw_u64(w, g->n[s]);
		jw_arr_end(w);
		if (b->touched || !prev)
			prev = b;
	}
	jw_arr_end(w);
	jw_key(w, "lost_marks");
	jw_arr_begin(w);
	for (uint32_t i = 0; i < h->nlostm; i++) {
		jw_arr_begin(w);
		put_ms(w, h, h->lostm[i].t);
		jw_u64(w, h->lostm[i].count);
		jw_arr_end(w);
	}
	jw_arr_end(w);
	jw_key(w, "cw_procs");
	put_top(w, h, &h->cw_proc, 1);
	jw_key(w, "cw_cgroups");
	put_top(w, h, &h->cw_cg, 0);
	jw_key(w, "cw_other_ms");
	jw_fixed(w, (h->cw_proc.other_ns) / 1000, 3);
}

static void put_data(struct html *h, struct outbuf *ob)
{
	struct jsonw w;

	/* what is still open ends here: a lane if it is worth one (a leak is) */
	for (uint32_t i = 0; i < h->idx_slots; i++) {
		struct hconn *c;

		if (!h->idx[i])
			continue;
		c = &h->pool[h->idx[i] - 1];
		if (c->state == TT_CLOSE_WAIT && h->tmax > c->cw_since)
			cw_account(h, c, c->pid, c->comm, h->tmax - c->cw_since);
		conn_retire(h, c, 1, h->tmax);
		h->idx[i] = 0;
	}
	h->nopen = 0;
	h->nfree = 0;
	h->pool_used = 0;
	qsort(h->lanes, h->nlanes, sizeof(*h->lanes), cmp_lane_time);
	/* the heap is gone with the sort: no lane is added after this */
	h->o.lanes_max = h->nlanes;

	jw_init(&w, ob);
	jw_obj_begin(&w);
	jw_field_str(&w, "tool", "tcptrail " TCPTRAIL_VERSION);
	jw_key(&w, "header");
	if (h->headers) {
		jw_obj_begin(&w);
		jw_field_str(&w, "hostname", h->host);
		jw_field_str(&w, "kernel", h->kernel);
		jw_field_str(&w, "version", h->version);
		jw_field_str(&w, "start_time", h->start);
		jw_field_u64(&w, "files", h->headers);
		jw_obj_end(&w);
	} else {
		jw_null(&w);
	}
	jw_key(&w, "t0");
	if (h->have_t)
		jw_time(&w, h->bt0);
	else
		jw_null(&w);
	jw_field_u64(&w, "t0_us", h->bt0 / 1000);
	jw_key(&w, "first_ms");
	put_ms(&w, h, h->tmin);
	jw_key(&w, "last_ms");
	put_ms(&w, h, h->tmax);
	jw_field_u64(&w, "transitions", h->transitions);
	jw_field_u64(&w, "stuck", h->stucks);
	jw_field_u64(&w, "lost", h->lost);
	jw_field_u64(&w, "resets", h->resets);
	jw_field_u64(&w, "connections", h->conns);
	jw_field_u64(&w, "folded", h->folded);
	jw_field_u64(&w, "untracked", h->untracked);
	jw_field_u64(&w, "lanes_max", HTML_LANES_MAX);
	put_overview(&w, h);
	jw_key(&w, "lanes");
	jw_arr_begin(&w);
	for (uint32_t i = 0; i < h->nlanes; i++)
		put_lane(&w, h, &h->lanes[i]);
	jw_arr_end(&w);
	jw_obj_end(&w);
}

void html_text(struct outbuf *ob, const char *s, size_t n)
{
	size_t from = 0;

	for (size_t i = 0; i < n; i++) {
		const char *ent;

		switch (s[i]) {
		case '&':
			ent = "&amp;";
			break;
		case '<':
			ent = "&lt;";
			break;
		case '>':
			ent = "&gt;";
			break;
		case '"':
			ent = "&quot;";
			break;
		case '\'':
			ent = "&#39;";
			break;
		default:
			continue;
		}
		ob_put(ob, s + from, i - from);
		ob_puts(ob, ent);
		from = i + 1;
	}
	ob_put(ob, s + from, n - from);
}

void html_script_json(struct outbuf *ob, const char *json, size_t n)
{
	size_t from = 0;

	for (size_t i = 0; i < n; i++) {
		const char *esc;

		switch (json[i]) {
		case '<':
			esc = "\\u003c";
			break;
		case '>':
			esc = "\\u003e";
			break;
		case '&':
			esc = "\\u0026";
			break;
		default:
			continue;
		}
		ob_put(ob, json + from, i - from);
		ob_put(ob, esc, 6);
		from = i + 1;
	}
	ob_put(ob, json + from, n - from);
}

void html_write(struct html *h, struct outbuf *ob)
{
	struct outbuf data;

	ob_init(&data);
	put_data(h, &data);
	ob_put(ob, html_page_head, sizeof(html_page_head) - 1);
	/* the title is the only text outside the data: escaped as HTML */
	ob_puts(ob, "<title>tcptrail");
	if (h->host[0]) {
		ob_puts(ob, ": ");
		html_text(ob, h->host, strlen(h->host));
	}
	ob_puts(ob, "</title>\n<script type=\"application/json\" id=\"tt-data\">");
	html_script_json(ob, data.data ? data.data : "", data.len);
	ob_puts(ob, "</script>\n");
	ob_put(ob, html_page_tail, sizeof(html_page_tail) - 1);
	if (data.oom)
		ob->oom = 1;
	ob_free(&data);
}
