// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Prometheus metrics from the live trace: counters and gauges kept per event, formatted per
 * scrape (metrics_prom.c). The gauge of sockets per state is kept exact with a table of the open
 * sockets (cookie -> the state, family and label they are counted under): a transition takes the
 * socket out of what it was counted as, whatever the event says its old state was, so events the
 * filters or the kernel dropped, sockets seeded after their first event and owners that change
 * never make a gauge drift or go below zero.
 */
#include <stdio.h>
#include <stdlib.h>
#include "metrics.h"
#include "states.h"
#include "table.h"

const uint64_t mt_bound_ns[MT_NBOUNDS] = {
	100000ULL,	 250000ULL,	   500000ULL,	     1000000ULL,      2500000ULL,
	5000000ULL,	 10000000ULL,	   25000000ULL,	     50000000ULL,     100000000ULL,
	250000000ULL,	 500000000ULL,	   1000000000ULL,    2500000000ULL,   5000000000ULL,
	10000000000ULL,	 30000000000ULL,   60000000000ULL,   120000000000ULL, 300000000000ULL,
	600000000000ULL, 1800000000000ULL, 3600000000000ULL,
};

const char *const mt_bound_text[MT_NBOUNDS] = {
	"0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
	"0.05",	  "0.1",     "0.25",   "0.5",	"1",	  "2.5",   "5",	   "10",
	"30",	  "60",	     "120",    "300",	"600",	  "1800",  "3600",
};

int mt_bucket(uint64_t ns)
{
	int lo = 0, hi = MT_NBOUNDS;

	/* The first bound >= ns: Prometheus buckets count observations <= le. */
	while (lo < hi) {
		int mid = (lo + hi) / 2;

		if (mt_bound_ns[mid] >= ns)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

int mt_by_parse(const char *s)
{
	if (!strcmp(s, "comm"))
		return MT_BY_COMM;
	if (!strcmp(s, "container"))
		return MT_BY_CONTAINER;
	if (!strcmp(s, "unit"))
		return MT_BY_UNIT;
	return -1;
}

const char *mt_by_name(enum mt_by by)
{
	switch (by) {
	case MT_BY_COMM:
		return "comm";
	case MT_BY_CONTAINER:
		return "container";
	case MT_BY_UNIT:
		return "unit";
	default:
		return NULL;
	}
}

/* An open socket as it is counted: 16 bytes. */
struct mt_sock {
	uint64_t cookie; /* the key */
	uint32_t label;
	uint8_t state;
	uint8_t fam;
	uint8_t stuck; /* counted in stuck[state] of its label */
	uint8_t pad;
};

#define LABEL_SLOTS 4096 /* 4 x MT_MAX_LABELS: short probes */
#define CG_MEMO	    256	 /* cgroup id -> label, direct-mapped */

struct metrics {
	enum mt_by by;
	struct mt_counts c;
	struct table socks; /* struct mt_sock by cookie: the open sockets */
	/* label values: interned strings, names[0] = "" */
	char **label_store;
	uint16_t label_slot[LABEL_SLOTS]; /* label index + 1, 0 empty */
	uint32_t other;			  /* index of MT_OTHER_LABEL, 0 before it exists */
	uint64_t memo_id[CG_MEMO];
	uint32_t memo_label[CG_MEMO];
};

static struct mt_sock *sock_find(struct metrics *m, uint64_t cookie)
{
	return table_find_cookie(&m->socks, cookie, sizeof(struct mt_sock));
}

/* Room for one more label in c (lab and names). 0 or -1. */
static int counts_reserve(struct mt_counts *c, uint32_t n)
{
	struct mt_label_counts *lab;
	const char **names;
	uint32_t cap;

	if (n <= c->cap)
		return 0;
	cap = c->cap ? c->cap * 2 : 8;
	while (cap < n)
		cap *= 2;
	lab = realloc(c->lab, cap * sizeof(*lab));
	if (!lab)
		return -1;
	c->lab = lab;
	names = realloc(c->names, cap * sizeof(*names));
	if (!names)
		return -1;
	c->names = names;
	memset(c->lab + c->cap, 0, (cap - c->cap) * sizeof(*lab));
	c->cap = cap;
	return 0;
}

/* A new label value; its index, or 0 ("") when out of memory. */
static uint32_t label_add(struct metrics *m, const char *s, size_t n)
{
	uint32_t idx = m->c.nlabels;
	char *copy;
	char **store;

	if (counts_reserve(&m->c, idx + 1))
		return 0;
	store = realloc(m->label_store, (idx + 1) * sizeof(*store));
	if (!store)
		return 0;
	m->label_store = store;
	copy = malloc(n + 1);
	if (!copy)
		return 0;
	memcpy(copy, s, n);
	copy[n] = '\0';
	store[idx] = copy;
	m->c.names[idx] = copy;
	memset(&m->c.lab[idx], 0, sizeof(m->c.lab[idx]));
	m->c.nlabels = idx + 1;
	return idx;
}

/* The index of label value s[0..n): found, added, or MT_OTHER_LABEL past the bound. */
static uint32_t label_intern(struct metrics *m, const char *s, size_t n)
{
	size_t i;

	if (!n)
		return 0;
	if (n > PROM_LABEL_MAX)
		n = PROM_LABEL_MAX;
	for (i = table_hash(s, n) & (LABEL_SLOTS - 1); m->label_slot[i];
	     i = (i + 1) & (LABEL_SLOTS - 1)) {
		const char *name = m->c.names[m->label_slot[i] - 1];

		if (!strncmp(name, s, n) && !name[n])
			return m->label_slot[i] - 1u;
	}
	if (m->c.nlabels >= MT_MAX_LABELS - 1) {
		if (!m->other)
			m->other = label_add(m, MT_OTHER_LABEL, strlen(MT_OTHER_LABEL));
		return m->other;
	}
	uint32_t idx = label_add(m, s, n);

	if (idx)
		m->label_slot[i] = (uint16_t)(idx + 1);
	return idx;
}

static uint32_t label_of(struct metrics *m, const struct tt_event *e, const struct cg_desc *cg)
{
	const char *s;
	size_t slot;
	uint32_t idx;

	switch (m->by) {
	case MT_BY_COMM:
		if (!(e->flags & TT_F_OWNER_KNOWN))
			return 0;
		return label_intern(m, e->comm, strnlen(e->comm, TT_COMM_LEN));
	case MT_BY_CONTAINER:
	case MT_BY_UNIT:
		if (!e->cgroup_id)
			return 0;
		/* A socket's cgroup never changes: one probe per event, one intern per cgroup. */
		slot = (size_t)((e->cgroup_id * 0x9e3779b97f4a7c15ULL) >> 56) & (CG_MEMO - 1);
		if (m->memo_id[slot] == e->cgroup_id)
			return m->memo_label[slot];
		if (!cg)
			return 0; /* not known yet: not remembered, a later event may know */
		s = m->by == MT_BY_CONTAINER ? cg->ident.container_id : cg->ident.unit;
		idx = label_intern(m, s, strlen(s));
		m->memo_id[slot] = e->cgroup_id;
		m->memo_label[slot] = idx;
		return idx;
	default:
		return 0;
	}
}

/* States a full socket is counted in; CLOSE and the timewait handoffs end it. */
static int counted(int st)
{
	return st == TT_ESTABLISHED || st == TT_SYN_SENT || st == TT_SYN_RECV ||
	       st == TT_FIN_WAIT1 || st == TT_FIN_WAIT2 || st == TT_CLOSE_WAIT ||
	       st == TT_LAST_ACK || st == TT_LISTEN || st == TT_CLOSING;
}

struct metrics *metrics_new(enum mt_by by)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->by = by;
	/* looked up on every event: kept at most half full */
	table_init(&m->socks, sizeof(struct mt_sock), sizeof(uint64_t), NULL);
	m->socks.sparse = 1;
	if (table_reserve(&m->socks, 1024) || label_add(m, "", 0) != 0 || !m->c.nlabels) {
		metrics_free(m);
		return NULL;
	}
	return m;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	for (uint32_t i = 0; i < m->c.nlabels; i++)
		free(m->label_store[i]);
	free(m->label_store);
	table_free(&m->socks);
	free(m->c.lab);
	free(m->c.names);
	free(m);
}

static int fam_of(const struct tt_event *e)
{
	return e->family == AF_INET6;
}

/* Moves the socket of e to its new state under label L: the table entry says what to undo. */
static void track(struct metrics *m, const struct tt_event *e, int newstate, uint32_t L)
{
	struct mt_sock *s;

	if (!e->sock_cookie)
		return;
	s = sock_find(m, e->sock_cookie);
	if (s) {
		struct mt_label_counts *was = &m->c.lab[s->label];

		was->sockets[s->fam][s->state]--;
		if (s->stuck)
			was->stuck[s->state]--;
		s->stuck = 0;
	}
	if (!counted(newstate)) {
		if (s)
			table_del_cookie(&m->socks, s, sizeof(*s));
		return;
	}
	if (!s) {
		s = table_add_cookie_unzeroed(&m->socks, e->sock_cookie, sizeof(*s));
		if (!s)
			return; /* not counted: a gauge too low beats one that drifts */
		s->stuck = 0;
		s->pad = 0;
	}
	s->state = (uint8_t)newstate;
	s->fam = (uint8_t)fam_of(e);
	s->label = L;
	m->c.lab[L].sockets[s->fam][newstate]++;
	m->c.lab[L].seen[s->fam] |= (uint16_t)(1u << newstate);
}

void metrics_seed(struct metrics *m, const struct tt_event *e, const struct cg_desc *cg)
{
	if (!counted(e->newstate))
		return;
	track(m, e, e->newstate, label_of(m, e, cg));
}

static void hist_add(struct mt_hist *h, uint64_t ns)
{
	h->bucket[mt_bucket(ns)]++;
	h->count++;
	h->sum_ns += ns;
	/* Folded into seconds long before 64 bits of nanoseconds (584 years) could wrap. */
	if (h->sum_ns >= (1ULL << 62)) {
		h->sum_s += h->sum_ns / 1000000000ULL;
		h->sum_ns %= 1000000000ULL;
	}
}

static int close_index(const struct tt_event *e)
{
	if ((e->flags & TT_F_TOTALS) && e->cause > TT_CAUSE_NONE && e->cause < TT_CAUSE_UNKNOWN &&
	    e->cause != TT_CAUSE_LISTENER_CLOSED)
		return e->cause;
	return (e->flags & TT_F_RESET) ? MT_CLOSE_RESET : MT_CLOSE_NORMAL;
}

void metrics_event(struct metrics *m, const struct tt_event *e, const struct cg_desc *cg)
{
	int o = e->oldstate, n = e->newstate;
	uint32_t L;

	if (e->type != TT_EV_STATE || o >= TT_STATE_MAX || n >= TT_STATE_MAX)
		return;
	m->c.events++;
	L = label_of(m, e, cg);
	m->c.lab[L].trans[o][n]++;
	if ((e->flags & (TT_F_DELTA_KNOWN | TT_F_DELTA_MIN)) == TT_F_DELTA_KNOWN)
		hist_add(&m->c.dur[o], e->delta_ns);
	if (n == TT_ESTABLISHED) {
		if (o == TT_SYN_SENT)
			m->c.opened_active++;
		else
			m->c.opened_passive++;
	} else if (tt_state_terminal(n)) {
		if (tt_state_in_connection(o))
			m->c.closed[close_index(e)]++;
		else if (o == TT_SYN_SENT)
			m->c.connect_failures++;
	}
	track(m, e, n, L);
}

void metrics_alert(struct metrics *m, const struct tt_event *e)
{
	int st = e->oldstate;
	struct mt_sock *s;
	uint32_t L;

	if (e->type != TT_EV_STUCK || st >= TT_STATE_MAX)
		return;
	s = e->sock_cookie ? sock_find(m, e->sock_cookie) : NULL;
	/* Counted under the label of the socket's gauge, so the two add up per label. */
	L = s ? s->label : label_of(m, e, NULL);
	m->c.lab[L].alerts[st]++;
	if (s && s->state == st && !s->stuck) {
		s->stuck = 1;
		m->c.lab[L].stuck[st]++;
	}
}

void metrics_set_lost(struct metrics *m, uint64_t lost)
{
	m->c.lost = lost;
}

uint64_t metrics_sockets(const struct metrics *m)
{
	return m->socks.n;
}

int mt_health(uint64_t now, uint64_t last_tick, uint64_t stall_ns, char *why, size_t len)
{
	/* a turn read after now is recent; no subtraction that could wrap */
	if (last_tick + stall_ns >= now)
		return 0;
	snprintf(why, len, "unhealthy: the event loop has not turned for %llu s (limit %llu s)",
		 (unsigned long long)((now - last_tick) / 1000000000ULL),
		 (unsigned long long)(stall_ns / 1000000000ULL));
	return -1;
}

int metrics_copy(const struct metrics *m, struct mt_counts *dst)
{
	struct mt_label_counts *lab;
	const char **names;
	uint32_t cap;

	if (counts_reserve(dst, m->c.nlabels))
		return -1;
	lab = dst->lab;
	names = dst->names;
	cap = dst->cap;
	*dst = m->c;
	dst->lab = lab;
	dst->names = names;
	dst->cap = cap;
	memcpy(dst->lab, m->c.lab, m->c.nlabels * sizeof(*lab));
	memcpy(dst->names, m->c.names, m->c.nlabels * sizeof(*names));
	return 0;
}

void mt_counts_free(struct mt_counts *c)
{
	free(c->lab);
	free(c->names);
	memset(c, 0, sizeof(*c));
}

static int listener_cmp(const void *a, const void *b)
{
	const struct mt_listener *x = a, *y = b;
	int r;

	if (x->netns != y->netns)
		return x->netns < y->netns ? -1 : 1;
	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	r = memcmp(x->addr, y->addr, sizeof(x->addr));
	if (r)
		return r;
	return (x->port > y->port) - (x->port < y->port);
}

int mt_walk_add_listener(struct mt_walk *w, size_t *cap, const struct mt_listener *l)
{
	if (w->nlisteners == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		struct mt_listener *n = realloc(w->listeners, ncap * sizeof(*n));

		if (!n)
			return -1;
		w->listeners = n;
		*cap = ncap;
	}
	w->listeners[w->nlisteners++] = *l;
	return 0;
}

/* Longest queue first; ties in address order, so the same listeners stay from scrape to scrape. */
static int busiest_cmp(const void *a, const void *b)
{
	const struct mt_listener *x = a, *y = b;

	if (x->qlen != y->qlen)
		return x->qlen > y->qlen ? -1 : 1;
	return listener_cmp(a, b);
}

void mt_walk_finish(struct mt_walk *w, size_t max)
{
	size_t k = 0;

	w->nother = 0;
	w->other_qlen = 0;
	w->other_qmax = 0;
	if (!w->nlisteners)
		return;
	qsort(w->listeners, w->nlisteners, sizeof(*w->listeners), listener_cmp);
	/* SO_REUSEPORT: sockets of one address are one listener to the people watching it. */
	for (size_t i = 1; i < w->nlisteners; i++) {
		if (!listener_cmp(&w->listeners[k], &w->listeners[i])) {
			w->listeners[k].qlen += w->listeners[i].qlen;
			w->listeners[k].qmax += w->listeners[i].qmax;
		} else {
			w->listeners[++k] = w->listeners[i];
		}
	}
	w->nlisteners = k + 1;
	if (w->nlisteners <= max)
		return;
	qsort(w->listeners, w->nlisteners, sizeof(*w->listeners), busiest_cmp);
	for (size_t i = max; i < w->nlisteners; i++) {
		w->other_qlen += w->listeners[i].qlen;
		w->other_qmax += w->listeners[i].qmax;
	}
	w->nother = w->nlisteners - max;
	w->nlisteners = max;
	qsort(w->listeners, w->nlisteners, sizeof(*w->listeners), listener_cmp);
}
