// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * `replay --html`: a recording as one HTML page that needs no network. The page (markup, CSS,
 * JavaScript: src/html_page.html, embedded at build time) draws what html_write.c hands it as one
 * JSON block: the header, a lane per connection worth one (html_conns.c), and the overview's
 * buckets. Every string of the log reaches the page only inside that JSON (escaped so that it
 * cannot end the block), and the page puts it into the document as text, never as markup. This
 * file takes the records in: interned strings, the overview, the events of each connection.
 */
#include <stdio.h>
#include <stdlib.h>
#include "causes.h"
#include "jsonl.h"
#include "html_priv.h"

/* ---- interned strings: id 0 is "none", ids are offsets + 1 into one arena ---- */

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

static uint32_t str_slot_hash(const void *ctx, uint32_t id)
{
	const struct strtab *t = ctx;
	const char *str = t->buf + id - 1;

	return str_hash(str, strlen(str));
}

static int str_grow(struct strtab *t)
{
	return html_slots_grow(&t->slots, &t->nslots, str_slot_hash, t);
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

const char *html_str_of(const struct strtab *t, uint32_t id)
{
	return id ? t->buf + id - 1 : NULL;
}

/* ---- a small table: 64-bit key -> time in CLOSE_WAIT ---- */

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

void html_cw_account(struct html *h, const struct hconn *c, uint32_t pid, uint32_t comm,
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

/* A final transition: how the connection ended. */
static void note_end(struct html *h, struct hconn *c, const struct tt_event *e)
{
	struct hfin *f = &c->fin;
	const char *rr = e->flags & TT_F_RESET_REASON ? rst_reason_name(e->reset_reason) : NULL;

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

	if ((h->nopen + 1) * 2 > h->idx_slots && html_idx_grow(h))
		return -1;
	slot = html_idx_find(h, e->sock_cookie, e->netns);
	if (h->idx[slot]) {
		c = &h->pool[h->idx[slot] - 1];
	} else if (h->nopen < h->o.open_max) {
		c = html_conn_new(h, r, slot);
		if (!c)
			return -1;
	} else {
		h->untracked++;
	}
	if (!stuck && e->oldstate == TT_CLOSE_WAIT && (e->flags & TT_F_DELTA_KNOWN)) {
		/* every socket's time in CLOSE_WAIT, followed or not */
		html_cw_account(h, c, pid ? pid : (c ? c->pid : 0), comm ? comm : (c ? c->comm : 0),
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
	if (html_conn_push(c, &v))
		return -1;
	if (!stuck && (e->flags & TT_F_TOTALS))
		note_end(h, c, e);
	if (!stuck && tt_state_terminal(e->newstate)) {
		html_conn_retire(h, c, 0, r->wall_ns);
		html_conn_close(h, slot);
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
