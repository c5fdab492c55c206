// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * `replay --summary`: accumulate records (summary_add() and its count_* helpers), then render
 * them as text or JSON, a function per section of each; the top lists are described once
 * (struct top_list) for both renderers. The tables are table.c's, the histograms hist.c's. Pure.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "causes.h"
#include "format.h"
#include "hist.h"
#include "jsonw.h"
#include "states.h"
#include "summary.h"
#include "table.h"

#define TOP_N	  10
#define MAX_STUCK 20		  /* alerts listed; all are counted */
#define MAX_OPEN  100		  /* open sockets listed in text */
#define JSON_OPEN (10 * MAX_OPEN) /* and in JSON */

/* ---- entries ---- */

/* An open socket: what the open-at-end list prints of its last transition. */
struct sock_ent {
	uint64_t cookie;   /* key */
	uint64_t since_ns; /* when it entered state */
	uint32_t pid;
	uint32_t netns;
	uint8_t saddr[16];
	uint8_t daddr[16];
	uint16_t sport, dport;
	uint8_t family;
	uint8_t state;
	uint8_t owner_known;
	uint8_t pad;
	char comm[TT_COMM_LEN];
};

struct proc_key {
	uint32_t pid;
	uint32_t known;
	char comm[TT_COMM_LEN];
};

/* What the top lists count of a process, container/unit or remote endpoint. */
struct top_counts {
	uint64_t events, conns;
};

struct proc_ent {
	struct proc_key k;
	struct top_counts counts;
	uint64_t bytes_sent, bytes_received; /* of its connections that ended */
};

/* What the CGROUP column shows of a socket's cgroup: a container, else a unit, else the path. */
enum cgrp_kind {
	CGRP_NONE = 0, /* no cgroup in the log (older logs, a cgroup gone before it was seen) */
	CGRP_CONTAINER = 1,
	CGRP_UNIT = 2,
	CGRP_PATH = 3,
};

#define CGRP_NAME 512 /* bytes of the name kept: every id and unit, nearly every path */

struct cgrp_key {
	uint64_t h; /* of the whole name: a cut path is still told apart */
	uint32_t kind;
	uint32_t len;
};

struct cgrp_ent {
	struct cgrp_key k;
	struct top_counts counts;
	char pod[CG_POD_LEN + 1]; /* a container's pod, as first seen */
	char name[CGRP_NAME];	  /* NUL-terminated, cut at CGRP_NAME - 1 */
};

struct remote_key {
	uint8_t family;
	uint8_t pad;
	uint16_t port;
	uint8_t addr[16];
};

struct remote_ent {
	struct remote_key k;
	uint32_t pad;
	struct top_counts counts;
	uint64_t bytes_sent, bytes_received; /* of its connections that ended */
};

/* The service name the log gave for a remote port (the first one). */
struct svc_ent {
	uint16_t port;
	char name[LR_SVC_LEN];
};

struct stuck_ent {
	struct tt_event ev;
	uint64_t wall_ns;
};

struct summary {
	uint64_t records, headers, state_events, stuck_events, lost_records, lost_count;
	int have_time; /* first_ns/last_ns are set (0 is a time: the epoch) */
	uint64_t first_ns, last_ns;
	uint64_t trans[TT_STATE_MAX][TT_STATE_MAX];
	uint64_t opened_active, opened_passive, closed, failed, resets;
	uint64_t stuck_by_state[TT_STATE_MAX];
	struct hist dur[TT_STATE_MAX]; /* time in state in us, by state */
	uint64_t dur_min_only;	       /* deltas that were only lower bounds, left out */
	/* How connections ended: final transitions (TT_F_TOTALS) by cause, and their totals. */
	uint64_t ends[TT_CAUSE_MAX];
	uint64_t ended, bytes_sent, bytes_received, retrans, retrans_conns, syn_retrans;
	struct hist life[TT_CAUSE_MAX]; /* life in us by cause; [TT_CAUSE_NONE]: all of them */
	uint64_t life_min_only;		/* lifetimes that were only lower bounds, left out */
	struct table_budget budget;
	struct table socks, procs, remotes;
	struct table cgroups;  /* struct cgrp_ent */
	uint64_t cgroup_known; /* events whose log named their cgroup */
	/*
	 * The service names of remote ports: per port rather than per endpoint, so an endpoint
	 * costs 40 bytes instead of 104 (and a log names a few hundred ports, not millions).
	 */
	struct table svcs;
	struct summary_untracked untracked;
	struct stuck_ent stuck[MAX_STUCK];
	int nstuck;
	int oom;
};

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
	if (!p) {
		s->untracked.process_events++;
		return;
	}
	top_count(&p->counts, newsock);
	add_bytes(&p->bytes_sent, &p->bytes_received, e);
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
	if (!p) {
		s->untracked.remote_events++;
		return;
	}
	top_count(&p->counts, newsock);
	add_bytes(&p->bytes_sent, &p->bytes_received, e);
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
	se->netns = e->netns;
	memcpy(se->saddr, e->saddr, 16);
	memcpy(se->daddr, e->daddr, 16);
	se->sport = e->sport;
	se->dport = e->dport;
	se->family = e->family;
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
	int c = cmp_busier(&x->counts, &y->counts);

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

static const char *cgrp_kind_name(uint32_t kind)
{
	return kind == CGRP_CONTAINER ? "container"
	       : kind == CGRP_UNIT    ? "unit"
	       : kind == CGRP_PATH    ? "cgroup"
				      : NULL;
}

static int cmp_remote(const void *a, const void *b)
{
	const struct remote_ent *x = a, *y = b;
	int c = cmp_busier(&x->counts, &y->counts);

	return c ? c : memcmp(&x->k, &y->k, sizeof(x->k));
}

/* Longest open first. */
static int cmp_sock(const void *a, const void *b)
{
	const struct sock_ent *x = a, *y = b;

	if (x->since_ns != y->since_ns)
		return x->since_ns > y->since_ns ? 1 : -1;
	return x->cookie > y->cookie ? 1 : x->cookie < y->cookie ? -1 : 0;
}

/* The open socket as the event the text and JSON writers print. */
static void sock_event(const struct sock_ent *se, struct tt_event *e)
{
	memset(e, 0, sizeof(*e));
	e->sock_cookie = se->cookie;
	e->pid = se->pid;
	e->netns = se->netns;
	memcpy(e->saddr, se->saddr, 16);
	memcpy(e->daddr, se->daddr, 16);
	e->sport = se->sport;
	e->dport = se->dport;
	e->family = se->family;
	e->newstate = se->state;
	if (se->owner_known) {
		e->flags = TT_F_OWNER_KNOWN;
		memcpy(e->comm, se->comm, TT_COMM_LEN);
	}
}

static const char *svc_of(const struct summary *s, uint16_t port)
{
	const struct svc_ent *se = table_find(&s->svcs, &port);

	return se ? se->name : NULL;
}

struct trans {
	int o, n;
	uint64_t count;
};

static int cmp_trans(const void *a, const void *b)
{
	const struct trans *x = a, *y = b;

	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	if (x->o != y->o)
		return x->o - y->o;
	return x->n - y->n;
}

static size_t list_trans(const struct summary *s, struct trans *t)
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

/*
 * The summary's text columns (this file's tables only: format.c's and snapfmt.c's COL_ names
 * are theirs, some of other widths). A number is right-aligned in its width and followed by two
 * spaces; a name is left-aligned and padded to its width (at least one space after it).
 */
#define COL_COUNT   10 /* counts of transitions, ends, connections, events */
#define COL_BYTES   12 /* bytes sent or received */
#define COL_HIST_N  8  /* how many values a percentile row stands for */
#define COL_HIST_MS 10 /* a percentile or maximum, ms */
#define COL_STATE   13 /* "NEW_SYN_RECV" */
#define COL_CAUSE   17 /* "listener_closed" */
#define COL_PID	    10
#define COL_COMM    17
#define COL_KIND    11 /* "container" */
#define COL_FOR	    14 /* "86400000.000" ms, or " ms" after it */
#define COL_ADDR    23 /* "[ffff:...]:65535" */

/* us as ms with 3 decimals: "1500.250". */
static void put_us_as_ms(struct outbuf *ob, uint64_t us)
{
	ob_fixed(ob, us, 3);
}

/* s right-aligned in a column of width w, nothing after it (a row's last column). */
static void put_right(struct outbuf *ob, const char *s, size_t n, int w)
{
	ob_pad(ob, w - (long)n);
	ob_put(ob, s, n);
}

/* A right-aligned number in a column of width w followed by two spaces. */
static void put_num(struct outbuf *ob, uint64_t v, int w)
{
	char buf[24];
	size_t n = u64_to_dec(buf, v);

	put_right(ob, buf, n, w);
	ob_puts(ob, "  ");
}

/* us as ms right-aligned in a column of width w, nothing after it. */
static void put_ms_right(struct outbuf *ob, uint64_t us, int w)
{
	struct outbuf tmp;

	ob_init(&tmp);
	ob_fixed(&tmp, us, 3);
	put_right(ob, tmp.data, tmp.len, w);
	ob_free(&tmp);
}

/* us as ms right-aligned in a column of width w followed by two spaces. */
static void put_msnum(struct outbuf *ob, uint64_t us, int w)
{
	put_ms_right(ob, us, w);
	ob_puts(ob, "  ");
}

static const char *state_hint(int st)
{
	switch (st) {
	case TT_SYN_SENT:
		return "connect latency";
	case TT_SYN_RECV:
		return "handshake, server side";
	case TT_ESTABLISHED:
		return "connection lifetime";
	case TT_CLOSE_WAIT:
		return "peer closed, app has not";
	case TT_FIN_WAIT1:
	case TT_FIN_WAIT2:
	case TT_LAST_ACK:
		return "closing";
	case TT_LISTEN:
		return "listener lifetime";
	default:
		return "";
	}
}

static void put_comm(struct outbuf *ob, const struct tt_event *e)
{
	if (e->flags & TT_F_OWNER_KNOWN)
		ob_put_printable(ob, e->comm, strnlen(e->comm, TT_COMM_LEN));
	else
		ob_putc(ob, '-');
}

/* A byte count as the bound is usually given: "256 MiB". */
static void put_bytes(struct outbuf *ob, uint64_t n)
{
	if (n && !(n % (1 << 20))) {
		ob_u64(ob, n >> 20);
		ob_puts(ob, " MiB");
	} else if (n && !(n % 1024)) {
		ob_u64(ob, n >> 10);
		ob_puts(ob, " KiB");
	} else {
		ob_u64(ob, n);
		ob_puts(ob, " bytes");
	}
}

static const char *cause_hint(unsigned int c)
{
	switch (c) {
	case TT_CAUSE_CLOSED:
		return "both ends closed";
	case TT_CAUSE_TIMEWAIT:
		return "this end closed first (TIME_WAIT)";
	case TT_CAUSE_REFUSED:
		return "connect refused (a reset answered the SYN)";
	case TT_CAUSE_TIMEOUT:
		return "connect or retransmission timeout";
	case TT_CAUSE_RESET_IN:
		return "reset by the peer";
	case TT_CAUSE_RESET_OUT:
		return "reset by this end";
	case TT_CAUSE_ABORT:
		return "another socket error";
	case TT_CAUSE_LISTENER_CLOSED:
		return "a listener closed";
	default:
		return "the kernel did not say";
	}
}

/* The causes seen, most frequent first, ties in the enum's order; how many. */
static size_t list_ends(const struct summary *s, unsigned int order[TT_CAUSE_MAX])
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

/*
 * A "Top ..." list: the busiest entries of a table, each with its connections and events and
 * what the list's printers say of it, and how many events the memory bound kept out of it.
 */
struct top_list {
	const struct table *t;
	table_cmp cmp;
	int shown;		    /* 0: the log has nothing for this list (text: no table) */
	size_t counts_at;	    /* offsetof the entry's struct top_counts */
	uint64_t untracked;	    /* events of entries first seen past the bound */
	const char *untracked_what; /* "processes" */
	const char *title;	    /* text: "Top processes" */
	/* text: the titles and the values of the columns after CONNS and EVENTS */
	void (*text_titles)(struct outbuf *ob);
	void (*text_row)(const struct summary *s, struct outbuf *ob, const void *entry,
			 int numeric);
	const char *json_key;
	/* JSON: the members of the entry's object */
	void (*json_item)(const struct summary *s, struct jsonw *w, const void *entry);
};

enum {
	TOP_PROCS,
	TOP_CGROUPS,
	TOP_REMOTES,
	TOP_LISTS
};

/* ---- text, a function per section ---- */

/* The span, the totals, and whether the numbers below are complete. */
static void text_header(const struct summary *s, struct outbuf *ob)
{
	ob_puts(ob, "Recording: ");
	if (s->have_time) {
		ob_rfc3339(ob, s->first_ns);
		ob_puts(ob, " to ");
		ob_rfc3339(ob, s->last_ns);
		ob_puts(ob, " (");
		ob_fixed(ob, (s->last_ns - s->first_ns) / 1000000, 3); /* ms as s */
		ob_puts(ob, " s)");
	} else {
		ob_puts(ob, "no events");
	}
	ob_puts(ob, "\nEvents: ");
	ob_u64(ob, s->state_events);
	ob_puts(ob, " transitions, ");
	ob_u64(ob, s->stuck_events);
	ob_puts(ob, " stuck alerts, ");
	ob_u64(ob, s->lost_count);
	ob_puts(ob, " lost\nConnections: ");
	ob_u64(ob, s->opened_active + s->opened_passive);
	ob_puts(ob, " opened (");
	ob_u64(ob, s->opened_active);
	ob_puts(ob, " active, ");
	ob_u64(ob, s->opened_passive);
	ob_puts(ob, " passive), ");
	ob_u64(ob, s->closed);
	ob_puts(ob, " closed, ");
	ob_u64(ob, s->failed);
	ob_puts(ob, " failed connects, ");
	ob_u64(ob, s->resets);
	ob_puts(ob, " resets\n");
	if (s->oom)
		ob_puts(ob, "WARNING: out of memory, the numbers below are incomplete\n");
	if (s->socks.refused || s->procs.refused || s->remotes.refused || s->svcs.refused ||
	    s->cgroups.refused) {
		ob_puts(ob, "NOTE: the memory bound (");
		put_bytes(ob, s->budget.max);
		ob_puts(ob, ") was reached: the counts are exact, the lists below say what they "
			    "could not track\n");
	}
}

static void text_transitions(const struct summary *s, struct outbuf *ob)
{
	struct trans t[TT_STATE_MAX * TT_STATE_MAX];
	size_t nt = list_trans(s, t);

	if (!nt)
		return;
	ob_puts(ob, "\nTransitions:\n");
	for (size_t i = 0; i < nt; i++) {
		ob_puts(ob, "  ");
		put_num(ob, t[i].count, COL_COUNT);
		ob_puts(ob, tt_state_name(t[i].o));
		ob_puts(ob, " -> ");
		ob_puts(ob, tt_state_name(t[i].n));
		ob_putc(ob, '\n');
	}
}

/* A column title right-aligned over numbers of width w (put_num's, put_msnum's). */
static void put_num_title(struct outbuf *ob, const char *title, int w)
{
	put_right(ob, title, strlen(title), w);
	ob_puts(ob, "  ");
}

/* The titles of a percentile table, placed by the widths text_hist_row() writes with. */
static void text_hist_header(struct outbuf *ob, const char *name_title, size_t name_w)
{
	ob_puts(ob, "  ");
	ob_col(ob, name_title, strlen(name_title), name_w);
	put_num_title(ob, "COUNT", COL_HIST_N);
	put_num_title(ob, "P50", COL_HIST_MS);
	put_num_title(ob, "P90", COL_HIST_MS);
	put_num_title(ob, "P99", COL_HIST_MS);
	put_right(ob, "MAX", 3, COL_HIST_MS);
	ob_putc(ob, '\n');
}

/*
 * A row of a percentile table: name, count, p50/p90/p99 and max in ms, then the hint (NULL:
 * none, and no separator after the last column either).
 */
static void text_hist_row(struct outbuf *ob, const char *name, size_t name_w, const struct hist *h,
			  const char *hint)
{
	ob_puts(ob, "  ");
	ob_col(ob, name, strlen(name), name_w);
	put_num(ob, h->n, COL_HIST_N);
	put_msnum(ob, hist_pct(h, 50), COL_HIST_MS);
	put_msnum(ob, hist_pct(h, 90), COL_HIST_MS);
	put_msnum(ob, hist_pct(h, 99), COL_HIST_MS);
	put_ms_right(ob, h->max, COL_HIST_MS);
	if (hint) {
		ob_puts(ob, "  ");
		ob_puts(ob, hint);
	}
	ob_putc(ob, '\n');
}

static void text_durations(const struct summary *s, struct outbuf *ob)
{
	int any = 0;

	for (int st = 0; st < TT_STATE_MAX; st++) {
		if (!s->dur[st].n)
			continue;
		if (!any++) {
			ob_puts(ob, "\nTime in state (ms):\n");
			text_hist_header(ob, "STATE", COL_STATE);
		}
		text_hist_row(ob, tt_state_name(st), COL_STATE, &s->dur[st], state_hint(st));
	}
}

/* Why connections ended and their totals (final transitions only). */
static void text_ends(const struct summary *s, struct outbuf *ob, const unsigned int *order,
		      size_t n)
{
	if (!s->ended)
		return;
	ob_puts(ob, "\nWhy connections ended:\n  ");
	put_num_title(ob, "COUNT", COL_COUNT);
	ob_puts(ob, "CAUSE\n");
	for (size_t i = 0; i < n; i++) {
		ob_puts(ob, "  ");
		const char *cause = cause_name(order[i]);

		put_num(ob, s->ends[order[i]], COL_COUNT);
		ob_col(ob, cause, strlen(cause), COL_CAUSE);
		ob_puts(ob, cause_hint(order[i]));
		ob_putc(ob, '\n');
	}
	/* data bytes: acknowledged by the peer / received */
	ob_puts(ob, "  Totals: ");
	ob_u64(ob, s->ended);
	ob_puts(ob, " ended; ");
	ob_u64(ob, s->bytes_sent);
	ob_puts(ob, " bytes sent, ");
	ob_u64(ob, s->bytes_received);
	ob_puts(ob, " received; ");
	ob_u64(ob, s->retrans);
	ob_puts(ob, " segments retransmitted by ");
	ob_u64(ob, s->retrans_conns);
	ob_puts(ob, " of them; ");
	ob_u64(ob, s->syn_retrans);
	ob_puts(ob, " SYN retransmits\n");
}

/* How long connections lived: all of them, then per cause in the order of text_ends. */
static void text_lifetimes(const struct summary *s, struct outbuf *ob, const unsigned int *order,
			   size_t n)
{
	if (!s->life[TT_CAUSE_NONE].n)
		return;
	ob_puts(ob, "\nConnection lifetime (ms):\n");
	text_hist_header(ob, "CAUSE", COL_CAUSE);
	text_hist_row(ob, "all", COL_CAUSE, &s->life[TT_CAUSE_NONE], NULL);
	for (size_t i = 0; i < n; i++) {
		if (s->life[order[i]].n)
			text_hist_row(ob, cause_name(order[i]), COL_CAUSE, &s->life[order[i]],
				      NULL);
	}
	if (s->life_min_only) {
		ob_puts(ob, "  (not counted: ");
		ob_u64(ob, s->life_min_only);
		ob_puts(ob, " lower bounds, of sockets older than the recording)\n");
	}
}

static void text_proc_titles(struct outbuf *ob)
{
	put_num_title(ob, "SENT", COL_BYTES);
	put_num_title(ob, "RECEIVED", COL_BYTES);
	ob_col(ob, "PID", strlen("PID"), COL_PID);
	ob_puts(ob, "COMM");
}

static void text_proc_row(const struct summary *s, struct outbuf *ob, const void *entry,
			  int numeric)
{
	const struct proc_ent *p = entry;
	size_t start;

	put_num(ob, p->bytes_sent, COL_BYTES);
	put_num(ob, p->bytes_received, COL_BYTES);
	start = ob->len;
	if (p->k.known)
		ob_u64(ob, p->k.pid);
	else
		ob_putc(ob, '-');
	ob_col_end(ob, start, COL_PID);
	if (p->k.known)
		ob_put_printable(ob, p->k.comm, strnlen(p->k.comm, TT_COMM_LEN));
	else
		ob_putc(ob, '-');
}

static void text_cgrp_titles(struct outbuf *ob)
{
	ob_col(ob, "KIND", strlen("KIND"), COL_KIND);
	ob_puts(ob, "NAME");
}

static void text_cgrp_row(const struct summary *s, struct outbuf *ob, const void *entry,
			  int numeric)
{
	const struct cgrp_ent *p = entry;
	const char *kind = cgrp_kind_name(p->k.kind);
	const char *kind_col = kind ? kind : "-";
	size_t n = strlen(p->name);

	ob_col(ob, kind_col, strlen(kind_col), COL_KIND);
	/* names come from the log: printable only */
	if (p->k.kind == CGRP_CONTAINER && n > CG_SHORT_LEN)
		n = CG_SHORT_LEN;
	if (kind)
		ob_put_printable(ob, p->name, n);
	else
		ob_putc(ob, '-');
	if (p->k.kind == CGRP_PATH && p->k.len > n)
		ob_puts(ob, "...");
	if (p->pod[0]) {
		ob_puts(ob, "  pod ");
		ob_put_printable(ob, p->pod, strlen(p->pod));
	}
}

static void text_remote_titles(struct outbuf *ob)
{
	put_num_title(ob, "SENT", COL_BYTES);
	put_num_title(ob, "RECEIVED", COL_BYTES);
	ob_puts(ob, "ENDPOINT");
}

static void text_remote_row(const struct summary *s, struct outbuf *ob, const void *entry,
			    int numeric)
{
	const struct remote_ent *p = entry;

	put_num(ob, p->bytes_sent, COL_BYTES);
	put_num(ob, p->bytes_received, COL_BYTES);
	fmt_endpoint(ob, p->k.family, p->k.addr, p->k.port, numeric ? NULL : svc_of(s, p->k.port));
}

static void text_top(const struct summary *s, struct outbuf *ob, const struct top_list *l,
		     int numeric)
{
	const void *top[TOP_N];
	size_t ntop;

	if (!l->shown)
		return;
	ntop = table_top(l->t, TOP_N, l->cmp, top);
	if (ntop || l->untracked) {
		ob_putc(ob, '\n');
		ob_puts(ob, l->title);
		ob_puts(ob, ":\n  ");
		put_num_title(ob, "CONNS", COL_COUNT);
		put_num_title(ob, "EVENTS", COL_COUNT);
		l->text_titles(ob);
		ob_putc(ob, '\n');
	}
	for (size_t i = 0; i < ntop; i++) {
		const struct top_counts *n =
			(const void *)((const unsigned char *)top[i] + l->counts_at);

		ob_puts(ob, "  ");
		put_num(ob, n->conns, COL_COUNT);
		put_num(ob, n->events, COL_COUNT);
		l->text_row(s, ob, top[i], numeric);
		ob_putc(ob, '\n');
	}
	if (l->untracked) {
		ob_puts(ob, "  (and ");
		ob_u64(ob, l->untracked);
		ob_puts(ob, " events of ");
		ob_puts(ob, l->untracked_what);
		ob_puts(ob, " first seen past the memory bound, not counted here)\n");
	}
}

/* Sockets open at the end, longest open first. */
static void text_open(const struct summary *s, struct outbuf *ob)
{
	const void *open[MAX_OPEN];
	size_t nopen = table_top(&s->socks, MAX_OPEN, cmp_sock, open), start;

	ob_puts(ob, "\nOpen at end of log: ");
	if (s->untracked.sockets) {
		ob_puts(ob, "at least ");
		ob_u64(ob, s->socks.n);
		ob_puts(ob, "; ");
		ob_u64(ob, s->untracked.sockets);
		ob_puts(ob, " sockets not tracked (memory bound)\n");
	} else {
		ob_u64(ob, s->socks.n);
		ob_putc(ob, '\n');
	}
	if (!nopen)
		return;
	ob_puts(ob, "  ");
	ob_col(ob, "STATE", strlen("STATE"), COL_STATE);
	ob_col(ob, "FOR(ms)", strlen("FOR(ms)"), COL_FOR);
	ob_col(ob, "PID", strlen("PID"), COL_PID);
	ob_col(ob, "COMM", strlen("COMM"), COL_COMM);
	ob_col(ob, "LOCAL ADDRESS", strlen("LOCAL ADDRESS"), COL_ADDR);
	ob_col(ob, "FOREIGN ADDRESS", strlen("FOREIGN ADDRESS"), COL_ADDR);
	ob_puts(ob, "SOCK\n");
	for (size_t i = 0; i < nopen; i++) {
		const struct sock_ent *se = open[i];
		const char *state;
		struct tt_event e;

		sock_event(se, &e);
		state = tt_state_name(e.newstate);
		ob_puts(ob, "  ");
		ob_col(ob, state, strlen(state), COL_STATE);
		start = ob->len;
		put_us_as_ms(ob, (s->last_ns - se->since_ns) / 1000);
		ob_col_end(ob, start, COL_FOR);
		start = ob->len;
		if (e.flags & TT_F_OWNER_KNOWN)
			ob_u64(ob, e.pid);
		else
			ob_putc(ob, '-');
		ob_col_end(ob, start, COL_PID);
		start = ob->len;
		put_comm(ob, &e);
		ob_col_end(ob, start, COL_COMM);
		start = ob->len;
		fmt_endpoint(ob, e.family, e.saddr, e.sport, NULL);
		ob_col_end(ob, start, COL_ADDR);
		start = ob->len;
		fmt_endpoint(ob, e.family, e.daddr, e.dport, NULL);
		ob_col_end(ob, start, COL_ADDR);
		ob_u64(ob, se->cookie);
		ob_putc(ob, '\n');
	}
	if (s->socks.n > MAX_OPEN)
		ob_puts(ob, "  ... (-o json lists more)\n");
}

/* The first MAX_STUCK alerts, in the log's order. */
static void text_stuck(const struct summary *s, struct outbuf *ob)
{
	size_t start;

	ob_puts(ob, "\nStuck alerts: ");
	ob_u64(ob, s->stuck_events);
	ob_putc(ob, '\n');
	for (int i = 0; i < s->nstuck; i++) {
		const struct tt_event *e = &s->stuck[i].ev;
		const char *state = tt_state_name(e->oldstate);

		ob_puts(ob, "  ");
		ob_rfc3339(ob, s->stuck[i].wall_ns);
		ob_puts(ob, "  ");
		ob_col(ob, state, strlen(state), COL_STATE);
		start = ob->len;
		if (e->flags & TT_F_DELTA_KNOWN) {
			put_us_as_ms(ob, e->delta_ns / 1000);
			ob_puts(ob, " ms");
		} else {
			ob_putc(ob, '-'); /* a log that does not say: as the event lines show it */
		}
		ob_col_end(ob, start, COL_FOR);
		start = ob->len;
		put_comm(ob, e);
		ob_col_end(ob, start, COL_COMM);
		fmt_endpoint(ob, e->family, e->saddr, e->sport, NULL);
		ob_puts(ob, " -> ");
		fmt_endpoint(ob, e->family, e->daddr, e->dport, NULL);
		ob_putc(ob, '\n');
	}
	if (s->stuck_events > (uint64_t)s->nstuck)
		ob_puts(ob, "  ... (first 20 shown)\n");
}

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
	size_t n = list_ends(s, order);

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
	size_t nt = list_trans(s, t);

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

static void json_proc_item(const struct summary *s, struct jsonw *w, const void *entry)
{
	const struct proc_ent *p = entry;

	fmt_json_owner(w, p->k.known, p->k.pid, p->k.comm);
	json_counts(w, &p->counts);
	json_bytes(w, p->bytes_sent, p->bytes_received);
}

static void json_cgrp_item(const struct summary *s, struct jsonw *w, const void *entry)
{
	const struct cgrp_ent *p = entry;
	const char *kind = cgrp_kind_name(p->k.kind);

	jw_field_str_or_null(w, "kind", kind);
	jw_field_str_or_null(w, "name", kind ? p->name : NULL);
	jw_field_str_or_null(w, "pod", p->pod[0] ? p->pod : NULL);
	json_counts(w, &p->counts);
}

static void json_remote_item(const struct summary *s, struct jsonw *w, const void *entry)
{
	const struct remote_ent *p = entry;

	jw_field_str(w, "proto", fmt_proto(p->k.family));
	jw_key(w, "raddr");
	fmt_json_addr(w, p->k.family, p->k.addr);
	jw_field_u64(w, "rport", p->k.port);
	jw_field_str_or_null(w, "rservice", svc_of(s, p->k.port));
	json_counts(w, &p->counts);
	json_bytes(w, p->bytes_sent, p->bytes_received);
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
	size_t nopen = table_top(&s->socks, JSON_OPEN, cmp_sock, open);

	jw_field_u64(w, "open_total", s->socks.n);
	jw_key(w, "open_at_end");
	jw_arr_begin(w);
	for (size_t i = 0; i < nopen; i++) {
		const struct sock_ent *se = open[i];
		struct tt_event e;

		sock_event(se, &e);
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

/* ---- the renderers ---- */

static void top_lists(const struct summary *s, struct top_list l[TOP_LISTS])
{
	l[TOP_PROCS] = (struct top_list){
		.t = &s->procs,
		.cmp = cmp_proc,
		.shown = 1,
		.counts_at = offsetof(struct proc_ent, counts),
		.untracked = s->untracked.process_events,
		.untracked_what = "processes",
		.title = "Top processes",
		.text_titles = text_proc_titles,
		.text_row = text_proc_row,
		.json_key = "top_processes",
		.json_item = json_proc_item,
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
		.text_titles = text_cgrp_titles,
		.text_row = text_cgrp_row,
		.json_key = "top_containers",
		.json_item = json_cgrp_item,
	};
	l[TOP_REMOTES] = (struct top_list){
		.t = &s->remotes,
		.cmp = cmp_remote,
		.shown = 1,
		.counts_at = offsetof(struct remote_ent, counts),
		.untracked = s->untracked.remote_events,
		.untracked_what = "endpoints",
		.title = "Top remote endpoints",
		.text_titles = text_remote_titles,
		.text_row = text_remote_row,
		.json_key = "top_remotes",
		.json_item = json_remote_item,
	};
}

void summary_text(struct summary *s, struct outbuf *ob, int numeric)
{
	unsigned int order[TT_CAUSE_MAX];
	size_t nends = list_ends(s, order);
	struct top_list tops[TOP_LISTS];

	top_lists(s, tops);
	text_header(s, ob);
	text_transitions(s, ob);
	text_durations(s, ob);
	text_ends(s, ob, order, nends);
	text_lifetimes(s, ob, order, nends);
	for (int i = 0; i < TOP_LISTS; i++)
		text_top(s, ob, &tops[i], numeric);
	text_open(s, ob);
	text_stuck(s, ob);
}

void summary_json(struct summary *s, struct outbuf *ob)
{
	struct top_list tops[TOP_LISTS];
	struct jsonw w;

	top_lists(s, tops);
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
