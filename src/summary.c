// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * `replay --summary`: accumulate records (summary_add() and its count_* helpers), bounded in
 * memory; summary_text.c and summary_json.c render them, a function per section of each, from the
 * lists summary_lists.c sorts. The tables are table.c's, the histograms hist.c's. Pure.
 */
#include <stdlib.h>
#include "causes.h"
#include "states.h"
#include "summary_priv.h"

struct summary *summary_new_opts(const struct summary_opts *o)
{
	struct summary *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->budget.max =
		o && o->mem_max && o->mem_max < SUMMARY_MEM_MAX ? o->mem_max : SUMMARY_MEM_MAX;
	/* Histograms are charged up front: the counts they keep must stay exact whatever grows. */
	s->budget.used = sizeof(*s) + (TT_STATE_MAX + TT_CAUSE_MAX) * HIST_BYTES;
	table_init(&s->socks, sizeof(struct sock_ent), sizeof(uint64_t), &s->budget);
	table_init(&s->procs, sizeof(struct proc_ent), sizeof(struct proc_key), &s->budget);
	table_init(&s->remotes, sizeof(struct remote_ent), sizeof(struct remote_key), &s->budget);
	table_init(&s->cgroups, sizeof(struct cgrp_ent), sizeof(struct cgrp_key), &s->budget);
	table_init(&s->svcs, sizeof(struct svc_ent), sizeof(uint16_t), &s->budget);
	return s;
}

struct summary *summary_new(void)
{
	return summary_new_opts(NULL);
}

void summary_free(struct summary *s)
{
	if (!s)
		return;
	for (int i = 0; i < TT_STATE_MAX; i++)
		hist_free(&s->dur[i]);
	for (int i = 0; i < TT_CAUSE_MAX; i++)
		hist_free(&s->life[i]);
	table_free(&s->socks);
	table_free(&s->procs);
	table_free(&s->remotes);
	table_free(&s->cgroups);
	table_free(&s->svcs);
	free(s);
}

uint64_t summary_open(const struct summary *s)
{
	return s->socks.n;
}

void summary_get_untracked(const struct summary *s, struct summary_untracked *u)
{
	*u = s->untracked;
}

size_t summary_mem_used(const struct summary *s)
{
	return s->budget.used;
}

size_t summary_mem_max(const struct summary *s)
{
	return s->budget.max;
}

/* ---- accounting ---- */

/* Sums of counts a log gives saturate rather than wrap, as the lost count does. */
static void add_sat(uint64_t *sum, uint64_t v)
{
	if (__builtin_add_overflow(*sum, v, sum))
		*sum = UINT64_MAX;
}

/* The bytes of a connection that ended, to its process or remote endpoint. */
static void add_bytes(uint64_t *sent, uint64_t *received, const struct tt_event *e)
{
	if (!(e->flags & TT_F_TOTALS))
		return;
	add_sat(sent, e->bytes_sent);
	add_sat(received, e->bytes_received);
}

static void top_count(struct top_counts *n, int newsock)
{
	n->events++;
	n->conns += (uint64_t)newsock;
}

/* An event of a process or endpoint; NULL: its table had no room, counted in *untracked. */
static void count_talker(struct talker *t, uint64_t *untracked, const struct tt_event *e,
			 int newsock)
{
	if (!t) {
		(*untracked)++;
		return;
	}
	top_count(&t->counts, newsock);
	add_bytes(&t->bytes_sent, &t->bytes_received, e);
}

static void count_owner(struct summary *s, const struct tt_event *e, int newsock)
{
	struct proc_key k;
	struct proc_ent *p;

	memset(&k, 0, sizeof(k));
	if (e->flags & TT_F_OWNER_KNOWN) {
		k.known = 1;
		k.pid = e->pid;
		memcpy(k.comm, e->comm, TT_COMM_LEN);
	}
	p = table_find(&s->procs, &k);
	if (!p)
		p = table_add(&s->procs, &k);
	count_talker(p ? &p->t : NULL, &s->untracked.process_events, e, newsock);
}

static void count_cgroup(struct summary *s, const struct lr_record *r, int newsock)
{
	const struct cg_desc *cg = r->cg;
	const char *name = NULL;
	struct cgrp_key k;
	struct cgrp_ent *p;
	size_t len = 0;

	memset(&k, 0, sizeof(k));
	if (cg && cg->ident.container_id[0]) {
		k.kind = CGRP_CONTAINER;
		name = cg->ident.container_id;
		len = strlen(name);
	} else if (cg && cg->ident.unit[0]) {
		k.kind = CGRP_UNIT;
		name = cg->ident.unit;
		len = strlen(name);
	} else if (cg && cg->path) {
		k.kind = CGRP_PATH;
		name = cg->path;
		len = cg->path_len;
	}
	if (name) {
		s->cgroup_known++;
		k.h = table_hash(name, len);
		k.len = (uint32_t)len;
	}
	p = table_find(&s->cgroups, &k);
	if (!p) {
		p = table_add(&s->cgroups, &k);
		if (p && name) {
			memcpy(p->name, name, len < CGRP_NAME ? len : CGRP_NAME - 1);
			if (k.kind == CGRP_CONTAINER)
				memcpy(p->pod, cg->ident.pod, sizeof(p->pod));
		}
	}
	if (!p) {
		s->untracked.cgroup_events++;
		return;
	}
	top_count(&p->counts, newsock);
}

/*
 * Remembers the port's service name, the first the log gave; -1 when there is no room. An
 * endpoint is only listed with its name: one that would lose it is not tracked at all.
 */
static int note_service(struct summary *s, uint16_t port, const char *svc)
{
	struct svc_ent *se;

	if (!svc || !svc[0] || table_find(&s->svcs, &port))
		return 0;
	se = table_add(&s->svcs, &port);
	if (!se)
		return -1;
	strncpy(se->name, svc, sizeof(se->name) - 1);
	return 0;
}

static void count_remote(struct summary *s, const struct lr_record *r, int newsock)
{
	const struct tt_event *e = &r->ev;
	struct remote_key k;
	struct remote_ent *p;

	if (!e->dport)
		return; /* listeners */
	memset(&k, 0, sizeof(k));
	k.family = e->family;
	k.port = e->dport;
	memcpy(k.addr, e->daddr, 16);
	p = table_find(&s->remotes, &k);
	if (!p && !note_service(s, e->dport, r->rsvc))
		p = table_add(&s->remotes, &k);
	count_talker(p ? &p->t : NULL, &s->untracked.remote_events, e, newsock);
}

static void sock_set(struct sock_ent *se, const struct lr_record *r)
{
	const struct tt_event *e = &r->ev;

	/* a later transition may lack the owner an earlier one had: keep it */
	if (e->flags & TT_F_OWNER_KNOWN) {
		se->pid = e->pid;
		memcpy(se->comm, e->comm, TT_COMM_LEN);
		se->owner_known = 1;
	}
	SM_COPY_ENDPOINTS(se, e);
	se->state = e->newstate;
	se->since_ns = r->wall_ns;
}

/*
 * The socket's entry follows its last transition; 1 if this is the first transition seen of
 * it (a new connection for the top lists).
 */
static int track_socket(struct summary *s, const struct lr_record *r)
{
	const struct tt_event *e = &r->ev;
	struct sock_ent *se = table_find(&s->socks, &e->sock_cookie);

	if (se) {
		if (tt_state_terminal(e->newstate))
			table_del(&s->socks, se);
		else
			sock_set(se, r);
		return 0;
	}
	/*
	 * Once a socket was refused, a transition of an unknown socket that is not its first
	 * (not from CLOSE, where every socket starts) most likely belongs to a refused one:
	 * neither tracked from the middle of its life nor counted as a new connection again.
	 */
	if (s->socks.refused && e->oldstate != TT_CLOSE) {
		s->untracked.socket_events++;
		return 0;
	}
	if (tt_state_terminal(e->newstate))
		return 1; /* a whole life in one transition, or its start was not in the log */
	se = table_add(&s->socks, &e->sock_cookie);
	if (!se) {
		s->untracked.sockets++;
		s->untracked.socket_events++;
		return 1;
	}
	sock_set(se, r);
	return 1;
}

/* A final transition: why it ended, what it moved, how long it lived. Fixed memory, exact. */
static int add_end(struct summary *s, const struct tt_event *e)
{
	unsigned int c = e->cause < TT_CAUSE_MAX && e->cause ? e->cause : TT_CAUSE_UNKNOWN;

	s->ends[c]++;
	s->ended++;
	add_sat(&s->bytes_sent, e->bytes_sent);
	add_sat(&s->bytes_received, e->bytes_received);
	add_sat(&s->retrans, e->retrans);
	add_sat(&s->syn_retrans, e->syn_retrans);
	s->retrans_conns += e->retrans > 0;
	if (!e->life_ns)
		return 0; /* not followed: no birth known */
	if (e->flags & TT_F_LIFE_MIN) {
		s->life_min_only++;
		return 0;
	}
	if (hist_add(&s->life[TT_CAUSE_NONE], e->life_ns / 1000) ||
	    hist_add(&s->life[c], e->life_ns / 1000))
		return -1;
	return 0;
}

static int add_state(struct summary *s, const struct lr_record *r)
{
	const struct tt_event *e = &r->ev;
	int o = e->oldstate, n = e->newstate, newsock;

	s->state_events++;
	s->trans[o][n]++;
	if (e->flags & TT_F_RESET)
		s->resets++;
	if (n == TT_ESTABLISHED && o == TT_SYN_SENT)
		s->opened_active++;
	else if (n == TT_ESTABLISHED)
		s->opened_passive++;
	if (tt_state_terminal(n) && tt_state_in_connection(o))
		s->closed++;
	if (o == TT_SYN_SENT && n == TT_CLOSE)
		s->failed++;
	if (e->flags & TT_F_DELTA_KNOWN) {
		if (e->flags & TT_F_DELTA_MIN)
			s->dur_min_only++;
		else if (hist_add(&s->dur[o], e->delta_ns / 1000))
			return -1;
	}
	if ((e->flags & TT_F_TOTALS) && add_end(s, e))
		return -1;
	newsock = track_socket(s, r);
	count_owner(s, e, newsock);
	count_cgroup(s, r, newsock);
	count_remote(s, r, newsock);
	return 0;
}

int summary_add(struct summary *s, const struct lr_record *r)
{
	int ret = 0;

	s->records++;
	if (r->type == LR_HEADER) {
		s->headers++;
		return 0;
	}
	if (r->type == LR_OTHER)
		return 0;
	if (!s->have_time || r->wall_ns < s->first_ns)
		s->first_ns = r->wall_ns;
	if (!s->have_time || r->wall_ns > s->last_ns)
		s->last_ns = r->wall_ns;
	s->have_time = 1;
	switch (r->type) {
	case LR_STATE:
		ret = add_state(s, r);
		break;
	case LR_STUCK:
		s->stuck_events++;
		s->stuck_by_state[r->ev.oldstate]++;
		if (s->nstuck < MAX_STUCK) {
			s->stuck[s->nstuck].ev = r->ev;
			s->stuck[s->nstuck].wall_ns = r->wall_ns;
			s->nstuck++;
		}
		break;
	case LR_LOST:
		s->lost_records++;
		/*
		 * count is whatever the log says: a sum that wrapped would report a few lost
		 * events for a recording that lost almost 2^64. Saturate instead.
		 */
		add_sat(&s->lost_count, r->lost_count);
		break;
	default:
		break;
	}
	if (s->socks.oom || s->procs.oom || s->remotes.oom || s->svcs.oom || s->cgroups.oom)
		ret = -1;
	if (ret)
		s->oom = 1;
	return ret;
}
