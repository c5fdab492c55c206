// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* replay --summary -o json: one object, a function per member. Pure. */
#include "causes.h"
#include "format.h"
#include "states.h"
#include "summary_priv.h"

/* ---- JSON, a function per section ---- */

/* "pid" and "comm" (TT_COMM_LEN bytes, NUL-padded), null when the owner is not known. */
static void json_endpoints(struct jsonw *w, const struct tt_event *e)
{
	jw_field_str(w, "proto", fmt_proto(e->family));
	jw_key(w, "laddr");
	fmt_json_addr(w, e->family, e->saddr);
	jw_field_u64(w, "lport", e->sport);
	jw_key(w, "raddr");
	fmt_json_addr(w, e->family, e->daddr);
	jw_field_u64(w, "rport", e->dport);
	jw_field_u64(w, "sock", e->sock_cookie);
	jw_field_u64(w, "netns", e->netns);
}

static void json_ms(struct jsonw *w, const char *k, uint64_t us)
{
	jw_key(w, k);
	jw_fixed(w, us, 3);
}

static void json_hist(struct jsonw *w, const char *k, const struct hist *h)
{
	jw_key(w, k);
	jw_obj_begin(w);
	jw_field_u64(w, "count", h->n);
	json_ms(w, "p50_ms", hist_pct(h, 50));
	json_ms(w, "p90_ms", hist_pct(h, 90));
	json_ms(w, "p99_ms", hist_pct(h, 99));
	json_ms(w, "max_ms", h->max);
	jw_obj_end(w);
}

static void json_bytes(struct jsonw *w, uint64_t sent, uint64_t received)
{
	jw_field_u64(w, "bytes_sent", sent);
	jw_field_u64(w, "bytes_received", received);
}

static void json_counts(struct jsonw *w, const struct top_counts *n)
{
	jw_field_u64(w, "connections", n->conns);
	jw_field_u64(w, "events", n->events);
}

static void json_talker(struct jsonw *w, const struct talker *t)
{
	json_counts(w, &t->counts);
	json_bytes(w, t->bytes_sent, t->bytes_received);
}

/* The span, the totals, what the bound left out, connections opened and closed. */
static void json_header(const struct summary *s, struct jsonw *w)
{
	jw_field_str(w, "type", "summary");
	if (s->have_time) {
		jw_field_time(w, "first", s->first_ns);
		jw_field_time(w, "last", s->last_ns);
	} else {
		jw_key(w, "first");
		jw_null(w);
		jw_key(w, "last");
		jw_null(w);
	}
	jw_field_u64(w, "transitions_total", s->state_events);
	jw_field_u64(w, "stuck_total", s->stuck_events);
	jw_field_u64(w, "lost", s->lost_count);
	jw_field_bool(w, "incomplete", s->oom);
	jw_field_u64(w, "memory_bound", s->budget.max);
	jw_key(w, "untracked");
	jw_obj_begin(w);
	jw_field_u64(w, "sockets", s->untracked.sockets);
	jw_field_u64(w, "socket_events", s->untracked.socket_events);
	jw_field_u64(w, "process_events", s->untracked.process_events);
	jw_field_u64(w, "remote_events", s->untracked.remote_events);
	jw_field_u64(w, "cgroup_events", s->untracked.cgroup_events);
	jw_obj_end(w);
	jw_key(w, "connections");
	jw_obj_begin(w);
	jw_field_u64(w, "opened", s->opened_active + s->opened_passive);
	jw_field_u64(w, "active", s->opened_active);
	jw_field_u64(w, "passive", s->opened_passive);
	jw_field_u64(w, "closed", s->closed);
	jw_field_u64(w, "failed", s->failed);
	jw_field_u64(w, "resets", s->resets);
	jw_obj_end(w);
}

/* "ends" (every cause, 0 too), "traffic" and "lifetimes" ("all" and each cause seen). */
static void json_ends(const struct summary *s, struct jsonw *w)
{
	unsigned int order[TT_CAUSE_MAX];
	size_t n = sm_list_ends(s, order);

	jw_key(w, "ends");
	jw_obj_begin(w);
	for (unsigned int c = 1; c < TT_CAUSE_MAX; c++)
		jw_field_u64(w, cause_name(c), s->ends[c]);
	jw_obj_end(w);
	jw_key(w, "traffic");
	jw_obj_begin(w);
	jw_field_u64(w, "ended", s->ended);
	json_bytes(w, s->bytes_sent, s->bytes_received);
	jw_field_u64(w, "retrans", s->retrans);
	jw_field_u64(w, "retrans_connections", s->retrans_conns);
	jw_field_u64(w, "syn_retrans", s->syn_retrans);
	jw_obj_end(w);
	jw_key(w, "lifetimes");
	jw_obj_begin(w);
	if (s->life[TT_CAUSE_NONE].n)
		json_hist(w, "all", &s->life[TT_CAUSE_NONE]);
	for (size_t i = 0; i < n; i++) {
		if (s->life[order[i]].n)
			json_hist(w, cause_name(order[i]), &s->life[order[i]]);
	}
	jw_obj_end(w);
	jw_field_u64(w, "lifetimes_min_only", s->life_min_only);
}

static void json_transitions(const struct summary *s, struct jsonw *w)
{
	struct trans t[TT_STATE_MAX * TT_STATE_MAX];
	size_t nt = sm_list_trans(s, t);

	jw_key(w, "transitions");
	jw_arr_begin(w);
	for (size_t i = 0; i < nt; i++) {
		jw_obj_begin(w);
		jw_field_str(w, "old", tt_state_name(t[i].o));
		jw_field_str(w, "new", tt_state_name(t[i].n));
		jw_field_u64(w, "count", t[i].count);
		jw_obj_end(w);
	}
	jw_arr_end(w);
}

static void json_durations(const struct summary *s, struct jsonw *w)
{
	jw_key(w, "durations");
	jw_obj_begin(w);
	for (int st = 0; st < TT_STATE_MAX; st++) {
		if (s->dur[st].n)
			json_hist(w, tt_state_name(st), &s->dur[st]);
	}
	jw_obj_end(w);
}

void sm_json_proc_item(const struct summary *s, struct jsonw *w, const void *entry)
{
	const struct proc_ent *p = entry;

	fmt_json_owner(w, p->k.known, p->k.pid, p->k.comm);
	json_talker(w, &p->t);
}

void sm_json_cgrp_item(const struct summary *s, struct jsonw *w, const void *entry)
{
	const struct cgrp_ent *p = entry;
	const char *kind = sm_cgrp_kind_name(p->k.kind);

	jw_field_str_or_null(w, "kind", kind);
	jw_field_str_or_null(w, "name", kind ? p->name : NULL);
	jw_field_str_or_null(w, "pod", p->pod[0] ? p->pod : NULL);
	json_counts(w, &p->counts);
}

void sm_json_remote_item(const struct summary *s, struct jsonw *w, const void *entry)
{
	const struct remote_ent *p = entry;

	jw_field_str(w, "proto", fmt_proto(p->k.family));
	jw_key(w, "raddr");
	fmt_json_addr(w, p->k.family, p->k.addr);
	jw_field_u64(w, "rport", p->k.port);
	jw_field_str_or_null(w, "rservice", sm_svc_of(s, p->k.port));
	json_talker(w, &p->t);
}

static void json_top(const struct summary *s, struct jsonw *w, const struct top_list *l)
{
	const void *top[TOP_N];
	size_t ntop = l->shown ? table_top(l->t, TOP_N, l->cmp, top) : 0;

	jw_key(w, l->json_key);
	jw_arr_begin(w);
	for (size_t i = 0; i < ntop; i++) {
		jw_obj_begin(w);
		l->json_item(s, w, top[i]);
		jw_obj_end(w);
	}
	jw_arr_end(w);
}

/* Sockets open at the end, longest open first: up to JSON_OPEN of them. */
static void json_open(const struct summary *s, struct jsonw *w)
{
	/* 8 KiB of pointers, not a copy of the table */
	const void *open[JSON_OPEN];
	size_t nopen = table_top(&s->socks, JSON_OPEN, sm_cmp_sock, open);

	jw_field_u64(w, "open_total", s->socks.n);
	jw_key(w, "open_at_end");
	jw_arr_begin(w);
	for (size_t i = 0; i < nopen; i++) {
		const struct sock_ent *se = open[i];
		struct tt_event e;

		sm_sock_event(se, &e);
		jw_obj_begin(w);
		fmt_json_owner(w, e.flags & TT_F_OWNER_KNOWN, e.pid, e.comm);
		json_endpoints(w, &e);
		jw_field_str(w, "state", tt_state_name(se->state));
		jw_field_time(w, "since", se->since_ns);
		json_ms(w, "ms", (s->last_ns - se->since_ns) / 1000);
		jw_obj_end(w);
	}
	jw_arr_end(w);
}

static void json_stuck(const struct summary *s, struct jsonw *w)
{
	jw_key(w, "stuck_by_state");
	jw_obj_begin(w);
	for (int st = 0; st < TT_STATE_MAX; st++) {
		if (s->stuck_by_state[st])
			jw_field_u64(w, tt_state_name(st), s->stuck_by_state[st]);
	}
	jw_obj_end(w);
	jw_key(w, "stuck");
	jw_arr_begin(w);
	for (int i = 0; i < s->nstuck; i++) {
		const struct tt_event *e = &s->stuck[i].ev;

		jw_obj_begin(w);
		jw_field_time(w, "time", s->stuck[i].wall_ns);
		fmt_json_owner(w, e->flags & TT_F_OWNER_KNOWN, e->pid, e->comm);
		json_endpoints(w, e);
		jw_field_str(w, "state", tt_state_name(e->oldstate));
		jw_key(w, "ms");
		if (e->flags & TT_F_DELTA_KNOWN)
			jw_fixed(w, e->delta_ns / 1000, 3);
		else
			jw_null(w);
		jw_obj_end(w);
	}
	jw_arr_end(w);
}

void summary_json(struct summary *s, struct outbuf *ob)
{
	struct top_list tops[TOP_LISTS];
	struct jsonw w;

	sm_top_lists(s, tops);
	jw_init(&w, ob);
	jw_obj_begin(&w);
	json_header(s, &w);
	json_ends(s, &w);
	json_transitions(s, &w);
	json_durations(s, &w);
	for (int i = 0; i < TOP_LISTS; i++)
		json_top(s, &w, &tops[i]);
	json_open(s, &w);
	json_stuck(s, &w);
	jw_obj_end(&w);
	ob_putc(ob, '\n');
}
