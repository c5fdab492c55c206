// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * What both renderers of replay --summary list, sorted: the top lists (described once, struct
 * top_list, for both), the transitions, the causes, the open sockets. Pure.
 */
#include <stdlib.h>
#include "summary_priv.h"

/* ---- rendering helpers ---- */

/* Busiest first: most connections, then most events. 0 on a tie, for the caller to break. */
static int cmp_busier(const struct top_counts *x, const struct top_counts *y)
{
	if (x->conns != y->conns)
		return x->conns < y->conns ? 1 : -1;
	if (x->events != y->events)
		return x->events < y->events ? 1 : -1;
	return 0;
}

static int cmp_proc(const void *a, const void *b)
{
	const struct proc_ent *x = a, *y = b;
	int c = cmp_busier(&x->t.counts, &y->t.counts);

	return c ? c : memcmp(&x->k, &y->k, sizeof(x->k));
}

static int cmp_cgrp(const void *a, const void *b)
{
	const struct cgrp_ent *x = a, *y = b;
	int c = cmp_busier(&x->counts, &y->counts);

	if (c)
		return c;
	/* ties: containers, units, paths, then the unknown ones */
	if (x->k.kind != y->k.kind)
		return (x->k.kind ? x->k.kind : 99) < (y->k.kind ? y->k.kind : 99) ? -1 : 1;
	return strcmp(x->name, y->name);
}

const char *sm_cgrp_kind_name(uint32_t kind)
{
	return kind == CGRP_CONTAINER ? "container"
	       : kind == CGRP_UNIT    ? "unit"
	       : kind == CGRP_PATH    ? "cgroup"
				      : NULL;
}

static int cmp_remote(const void *a, const void *b)
{
	const struct remote_ent *x = a, *y = b;
	int c = cmp_busier(&x->t.counts, &y->t.counts);

	return c ? c : memcmp(&x->k, &y->k, sizeof(x->k));
}

/* Longest open first. */
int sm_cmp_sock(const void *a, const void *b)
{
	const struct sock_ent *x = a, *y = b;

	if (x->since_ns != y->since_ns)
		return x->since_ns > y->since_ns ? 1 : -1;
	return x->cookie > y->cookie ? 1 : x->cookie < y->cookie ? -1 : 0;
}

/* The open socket as the event the text and JSON writers print. */
void sm_sock_event(const struct sock_ent *se, struct tt_event *e)
{
	memset(e, 0, sizeof(*e));
	e->sock_cookie = se->cookie;
	e->pid = se->pid;
	SM_COPY_ENDPOINTS(e, se);
	e->newstate = se->state;
	if (se->owner_known) {
		e->flags = TT_F_OWNER_KNOWN;
		memcpy(e->comm, se->comm, TT_COMM_LEN);
	}
}

const char *sm_svc_of(const struct summary *s, uint16_t port)
{
	const struct svc_ent *se = table_find(&s->svcs, &port);

	return se ? se->name : NULL;
}

static int cmp_trans(const void *a, const void *b)
{
	const struct trans *x = a, *y = b;

	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	if (x->o != y->o)
		return x->o - y->o;
	return x->n - y->n;
}

size_t sm_list_trans(const struct summary *s, struct trans *t)
{
	size_t k = 0;

	for (int o = 0; o < TT_STATE_MAX; o++) {
		for (int n = 0; n < TT_STATE_MAX; n++) {
			if (s->trans[o][n])
				t[k++] = (struct trans){o, n, s->trans[o][n]};
		}
	}
	qsort(t, k, sizeof(*t), cmp_trans);
	return k;
}
/* The causes seen, most frequent first, ties in the enum's order; how many. */
size_t sm_list_ends(const struct summary *s, unsigned int order[TT_CAUSE_MAX])
{
	size_t n = 0;

	for (unsigned int c = 1; c < TT_CAUSE_MAX; c++) {
		size_t i = n;

		if (!s->ends[c])
			continue;
		n++;
		for (; i && s->ends[order[i - 1]] < s->ends[c]; i--)
			order[i] = order[i - 1];
		order[i] = c;
	}
	return n;
}
/* ---- the renderers ---- */

void sm_top_lists(const struct summary *s, struct top_list l[TOP_LISTS])
{
	l[TOP_PROCS] = (struct top_list){
		.t = &s->procs,
		.cmp = cmp_proc,
		.shown = 1,
		.counts_at = offsetof(struct proc_ent, t.counts),
		.untracked = s->untracked.process_events,
		.untracked_what = "processes",
		.title = "Top processes",
		.text_titles = sm_text_proc_titles,
		.text_row = sm_text_proc_row,
		.json_key = "top_processes",
		.json_item = sm_json_proc_item,
	};
	/* Logs from before cgroups were recorded name none: no table of dashes for them. */
	l[TOP_CGROUPS] = (struct top_list){
		.t = &s->cgroups,
		.cmp = cmp_cgrp,
		.shown = s->cgroup_known > 0,
		.counts_at = offsetof(struct cgrp_ent, counts),
		.untracked = s->untracked.cgroup_events,
		.untracked_what = "containers and units",
		.title = "Top containers/units",
		.text_titles = sm_text_cgrp_titles,
		.text_row = sm_text_cgrp_row,
		.json_key = "top_containers",
		.json_item = sm_json_cgrp_item,
	};
	l[TOP_REMOTES] = (struct top_list){
		.t = &s->remotes,
		.cmp = cmp_remote,
		.shown = 1,
		.counts_at = offsetof(struct remote_ent, t.counts),
		.untracked = s->untracked.remote_events,
		.untracked_what = "endpoints",
		.title = "Top remote endpoints",
		.text_titles = sm_text_remote_titles,
		.text_row = sm_text_remote_row,
		.json_key = "top_remotes",
		.json_item = sm_json_remote_item,
	};
}
