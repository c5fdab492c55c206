// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* replay --html's page: the JSON block the page draws, between the page's two halves. Pure. */
#include <stdlib.h>
#include "causes.h"
#include "format.h"
#include "html_page.h"
#include "html_priv.h"

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
	jw_str_or_null(w, html_str_of(&h->str, id));
}

static void put_lane(struct jsonw *w, const struct html *h, const struct hconn *c)
{
	jw_obj_begin(w);
	jw_field_u64(w, "sock", c->cookie);
	jw_field_u64(w, "netns", c->netns);
	jw_field_str(w, "proto", fmt_proto(c->family));
	jw_key(w, "la");
	fmt_json_addr(w, c->family, c->saddr);
	jw_field_u64(w, "lp", c->sport);
	jw_key(w, "ra");
	fmt_json_addr(w, c->family, c->daddr);
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
	jw_fixed(w, html_cw_total(c, h->tmax) / 1000, 3);
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
			html_cw_account(h, c, c->pid, c->comm, h->tmax - c->cw_since);
		html_conn_retire(h, c, 1, h->tmax);
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

/* s with every character that has a string in with[] replaced by that string. */
static void put_replaced(struct outbuf *ob, const char *s, size_t n, const char *const with[256])
{
	size_t from = 0;

	for (size_t i = 0; i < n; i++) {
		const char *w = with[(unsigned char)s[i]];

		if (!w)
			continue;
		ob_put(ob, s + from, i - from);
		ob_puts(ob, w);
		from = i + 1;
	}
	ob_put(ob, s + from, n - from);
}

static const char *const html_entities[256] = {
	['&'] = "&amp;", ['<'] = "&lt;", ['>'] = "&gt;", ['"'] = "&quot;", ['\''] = "&#39;",
};

/* In the page's data block: <, > and & as JSON escapes, so that no string can end the block. */
static const char *const script_escapes[256] = {
	['<'] = "\\u003c",
	['>'] = "\\u003e",
	['&'] = "\\u0026",
};

void html_text(struct outbuf *ob, const char *s, size_t n)
{
	put_replaced(ob, s, n, html_entities);
}

void html_script_json(struct outbuf *ob, const char *json, size_t n)
{
	put_replaced(ob, json, n, script_escapes);
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
