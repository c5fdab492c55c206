// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* `replay --summary`: accumulate records, render text or JSON. Pure. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "format.h"
#include "states.h"
#include "summary.h"

#define TOP_N	   10
#define MAX_STUCK  20 /* alerts listed; all are counted */
#define MAX_OPEN   100
#define HIST_SLOTS 3776 /* log-linear: 64 sub-buckets per power of two, see hist_idx */

/* ---- a small open-addressing table; the key is the first ksz bytes of each entry ---- */

struct tab {
	size_t esz, ksz;
	size_t n, cap; /* cap is a power of two */
	unsigned char *slots;
	unsigned char *used;
};

static uint64_t hash(const void *k, size_t n)
{
	const unsigned char *p = k;
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h ^ (h >> 29);
}

static int tab_grow(struct tab *t)
{
	struct tab nt = {t->esz, t->ksz, 0, t->cap ? t->cap * 2 : 64, NULL, NULL};

	nt.slots = malloc(nt.cap * nt.esz);
	nt.used = calloc(nt.cap, 1);
	if (!nt.slots || !nt.used) {
		free(nt.slots);
		free(nt.used);
		return -1;
	}
	for (size_t i = 0; i < t->cap; i++) {
		if (!t->used[i])
			continue;
		size_t j = hash(t->slots + i * t->esz, t->ksz) & (nt.cap - 1);

		while (nt.used[j])
			j = (j + 1) & (nt.cap - 1);
		nt.used[j] = 1;
		memcpy(nt.slots + j * nt.esz, t->slots + i * t->esz, t->esz);
		nt.n++;
	}
	free(t->slots);
	free(t->used);
	*t = nt;
	return 0;
}

/* The entry with this key, zero-filled with the key set if new (*isnew), or NULL (OOM). */
static void *tab_get(struct tab *t, const void *key, int *isnew)
{
	size_t i;

	*isnew = 0;
	if ((t->n + 1) * 4 > t->cap * 3 && tab_grow(t))
		return NULL;
	i = hash(key, t->ksz) & (t->cap - 1);
	while (t->used[i]) {
		if (!memcmp(t->slots + i * t->esz, key, t->ksz))
			return t->slots + i * t->esz;
		i = (i + 1) & (t->cap - 1);
	}
	t->used[i] = 1;
	t->n++;
	memset(t->slots + i * t->esz, 0, t->esz);
	memcpy(t->slots + i * t->esz, key, t->ksz);
	*isnew = 1;
	return t->slots + i * t->esz;
}

/* Removes the entry at e (from tab_get), shifting the probe chain back. */
static void tab_del(struct tab *t, void *e)
{
	size_t i = (size_t)((unsigned char *)e - t->slots) / t->esz, j = i;

	t->used[i] = 0;
	t->n--;
	for (;;) {
		j = (j + 1) & (t->cap - 1);
		if (!t->used[j])
			return;
		size_t h = hash(t->slots + j * t->esz, t->ksz) & (t->cap - 1);

		/* move j into the hole at i unless its home lies cyclically in (i, j] */
		if (i <= j ? (i < h && h <= j) : (i < h || h <= j))
			continue;
		memcpy(t->slots + i * t->esz, t->slots + j * t->esz, t->esz);
		t->used[i] = 1;
		t->used[j] = 0;
		i = j;
	}
}

static void tab_free(struct tab *t)
{
	free(t->slots);
	free(t->used);
}

/* Entries copied out, for sorting. */
static void *tab_list(const struct tab *t)
{
	unsigned char *out = malloc((t->n ? t->n : 1) * t->esz);
	size_t k = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < t->cap; i++) {
		if (t->used[i])
			memcpy(out + k++ * t->esz, t->slots + i * t->esz, t->esz);
	}
	return out;
}

/* ---- entries ---- */

struct sock_ent {
	uint64_t cookie;    /* key */
	struct tt_event ev; /* the last transition */
	uint64_t since_ns;  /* when it entered ev.newstate */
};

struct proc_key {
	uint32_t pid;
	uint32_t known;
	char comm[TT_COMM_LEN];
};

struct proc_ent {
	struct proc_key k;
	uint64_t events, conns;
};

struct remote_key {
	uint8_t family;
	uint8_t pad;
	uint16_t port;
	uint8_t addr[16];
};

struct remote_ent {
	struct remote_key k;
	uint64_t events, conns;
	char svc[LR_SVC_LEN];
};

struct hist {
	uint64_t n, max, min;
	uint64_t *b; /* HIST_SLOTS counts of microseconds, allocated on first use */
};

struct stuck_ent {
	struct tt_event ev;
	uint64_t wall_ns;
};

struct summary {
	uint64_t records, headers, state_events, stuck_events, lost_records, lost_count;
	uint64_t first_ns, last_ns;
	uint64_t trans[TT_STATE_MAX][TT_STATE_MAX];
	uint64_t opened_active, opened_passive, closed, failed, resets;
	uint64_t stuck_by_state[TT_STATE_MAX];
	struct hist dur[TT_STATE_MAX];
	uint64_t dur_min_only; /* deltas that were only lower bounds, left out */
	struct tab socks, procs, remotes;
	struct stuck_ent stuck[MAX_STUCK];
	int nstuck;
	int oom;
};

struct summary *summary_new(void)
{
	struct summary *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->socks = (struct tab){sizeof(struct sock_ent), sizeof(uint64_t), 0, 0, NULL, NULL};
	s->procs = (struct tab){sizeof(struct proc_ent), sizeof(struct proc_key), 0, 0, NULL, NULL};
	s->remotes = (struct tab){
		sizeof(struct remote_ent), sizeof(struct remote_key), 0, 0, NULL, NULL};
	return s;
}

void summary_free(struct summary *s)
{
	if (!s)
		return;
	for (int i = 0; i < TT_STATE_MAX; i++)
		free(s->dur[i].b);
	tab_free(&s->socks);
	tab_free(&s->procs);
	tab_free(&s->remotes);
	free(s);
}

/* ---- histogram: exact below 128 us, then 64 buckets per power of two (<= 1.6% error) ---- */

static size_t hist_idx(uint64_t v)
{
	int e;

	if (v < 128)
		return (size_t)v;
	e = 63 - __builtin_clzll(v);
	return (size_t)(64 * (e - 6)) + (size_t)(v >> (e - 6));
}

/* Middle of the bucket's value range. */
static uint64_t hist_val(size_t idx)
{
	if (idx < 128)
		return idx;
	size_t q = idx / 64;
	int shift = (int)q - 1;
	uint64_t m = idx - 64 * (q - 1);

	return (m << shift) + ((1ULL << shift) >> 1);
}

static int hist_add(struct hist *h, uint64_t us)
{
	if (!h->b) {
		h->b = calloc(HIST_SLOTS, sizeof(*h->b));
		if (!h->b)
			return -1;
	}
	h->b[hist_idx(us)]++;
	if (!h->n || us < h->min)
		h->min = us;
	if (us > h->max)
		h->max = us;
	h->n++;
	return 0;
}

/* Nearest-rank percentile p (0-100), in us. */
static uint64_t hist_pct(const struct hist *h, unsigned p)
{
	uint64_t rank = (h->n * p + 99) / 100, seen = 0;

	if (rank == 0)
		rank = 1;
	for (size_t i = 0; i < HIST_SLOTS; i++) {
		seen += h->b[i];
		if (seen >= rank) {
			uint64_t v = hist_val(i);

			return v < h->min ? h->min : v > h->max ? h->max : v;
		}
	}
	return h->max;
}

/* ---- accounting ---- */

static int terminal(int st)
{
	return st == TT_CLOSE || st == TT_TIME_WAIT || st == TT_FIN_WAIT2_TW;
}

static int in_connection(int st)
{
	return st == TT_ESTABLISHED || st == TT_FIN_WAIT1 || st == TT_FIN_WAIT2 ||
	       st == TT_CLOSING || st == TT_CLOSE_WAIT || st == TT_LAST_ACK;
}

static int count_owner(struct summary *s, const struct tt_event *e, int newsock)
{
	struct proc_key k;
	struct proc_ent *p;
	int isnew;

	memset(&k, 0, sizeof(k));
	if (e->flags & TT_F_OWNER_KNOWN) {
		k.known = 1;
		k.pid = e->pid;
		memcpy(k.comm, e->comm, TT_COMM_LEN);
	}
	p = tab_get(&s->procs, &k, &isnew);
	if (!p)
		return -1;
	p->events++;
	p->conns += (uint64_t)newsock;
	return 0;
}

static int count_remote(struct summary *s, const struct lr_record *r, int newsock)
{
	const struct tt_event *e = &r->ev;
	struct remote_key k;
	struct remote_ent *p;
	int isnew;

	if (!e->dport)
		return 0; /* listeners */
	memset(&k, 0, sizeof(k));
	k.family = e->family;
	k.port = e->dport;
	memcpy(k.addr, e->daddr, 16);
	p = tab_get(&s->remotes, &k, &isnew);
	if (!p)
		return -1;
	if (isnew && r->rsvc)
		strncpy(p->svc, r->rsvc, sizeof(p->svc) - 1);
	p->events++;
	p->conns += (uint64_t)newsock;
	return 0;
}

static int add_state(struct summary *s, const struct lr_record *r)
{
	const struct tt_event *e = &r->ev;
	struct sock_ent *se;
	int o = e->oldstate, n = e->newstate, isnew;

	s->state_events++;
	s->trans[o][n]++;
	if (e->flags & TT_F_RESET)
		s->resets++;
	if (n == TT_ESTABLISHED && o == TT_SYN_SENT)
		s->opened_active++;
	else if (n == TT_ESTABLISHED)
		s->opened_passive++;
	if (terminal(n) && in_connection(o))
		s->closed++;
	if (o == TT_SYN_SENT && n == TT_CLOSE)
		s->failed++;
	if (e->flags & TT_F_DELTA_KNOWN) {
		if (e->flags & TT_F_DELTA_MIN)
			s->dur_min_only++;
		else if (hist_add(&s->dur[o], e->delta_ns / 1000))
			return -1;
	}

	se = tab_get(&s->socks, &e->sock_cookie, &isnew);
	if (!se)
		return -1;
	if (count_owner(s, e, isnew) || count_remote(s, r, isnew))
		return -1;
	if (terminal(n)) {
		tab_del(&s->socks, se);
		return 0;
	}
	/* a later transition may lack the owner the first one had: keep it */
	if (!isnew && !(e->flags & TT_F_OWNER_KNOWN) && (se->ev.flags & TT_F_OWNER_KNOWN)) {
		struct tt_event keep = *e;

		keep.pid = se->ev.pid;
		memcpy(keep.comm, se->ev.comm, TT_COMM_LEN);
		keep.flags |= TT_F_OWNER_KNOWN;
		se->ev = keep;
	} else {
		se->ev = *e;
	}
	se->since_ns = r->wall_ns;
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
	if (!s->first_ns || r->wall_ns < s->first_ns)
		s->first_ns = r->wall_ns;
	if (r->wall_ns > s->last_ns)
		s->last_ns = r->wall_ns;
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
		if (__builtin_add_overflow(s->lost_count, r->lost_count, &s->lost_count))
			s->lost_count = UINT64_MAX;
		break;
	default:
		break;
	}
	if (ret)
		s->oom = 1;
	return ret;
}

/* ---- rendering helpers ---- */

static int cmp_proc(const void *a, const void *b)
{
	const struct proc_ent *x = a, *y = b;

	if (x->conns != y->conns)
		return x->conns < y->conns ? 1 : -1;
	if (x->events != y->events)
		return x->events < y->events ? 1 : -1;
	return memcmp(&x->k, &y->k, sizeof(x->k));
}

static int cmp_remote(const void *a, const void *b)
{
	const struct remote_ent *x = a, *y = b;

	if (x->conns != y->conns)
		return x->conns < y->conns ? 1 : -1;
	if (x->events != y->events)
		return x->events < y->events ? 1 : -1;
	return memcmp(&x->k, &y->k, sizeof(x->k));
}

/* Longest open first. */
static int cmp_sock(const void *a, const void *b)
{
	const struct sock_ent *x = a, *y = b;

	if (x->since_ns != y->since_ns)
		return x->since_ns > y->since_ns ? 1 : -1;
	return x->cookie > y->cookie ? 1 : x->cookie < y->cookie ? -1 : 0;
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

static void put_time(struct outbuf *ob, uint64_t ns)
{
	struct fmt_ctx c;
	char buf[27];

	fmt_ctx_init(&c, 0);
	fmt_time_rfc3339(&c, ns, buf);
	ob_put(ob, buf, sizeof(buf));
}

static void put_ms(struct outbuf *ob, uint64_t us)
{
	ob_fixed(ob, us, 3);
}

/* A right-aligned number in a column of width w followed by two spaces. */
static void put_num(struct outbuf *ob, uint64_t v, int w)
{
	char buf[24];
	size_t n = u64_to_dec(buf, v);

	ob_pad(ob, w - (long)n);
	ob_put(ob, buf, n);
	ob_puts(ob, "  ");
}

static void put_msnum(struct outbuf *ob, uint64_t us, int w)
{
	struct outbuf tmp;

	ob_init(&tmp);
	ob_fixed(&tmp, us, 3);
	ob_pad(ob, w - (long)tmp.len);
	ob_put(ob, tmp.data, tmp.len);
	ob_puts(ob, "  ");
	ob_free(&tmp);
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

static void put_col_end(struct outbuf *ob, size_t start, size_t w)
{
	ob_pad(ob, ob->len - start < w ? (long)(w - (ob->len - start)) : 1);
}

void summary_text(struct summary *s, struct outbuf *ob, int numeric)
{
	struct trans t[TT_STATE_MAX * TT_STATE_MAX];
	size_t nt = list_trans(s, t), start;

	ob_puts(ob, "Recording: ");
	if (s->first_ns) {
		put_time(ob, s->first_ns);
		ob_puts(ob, " to ");
		put_time(ob, s->last_ns);
		ob_puts(ob, " (");
		put_ms(ob, (s->last_ns - s->first_ns) / 1000000);
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

	if (nt) {
		ob_puts(ob, "\nTransitions:\n");
		for (size_t i = 0; i < nt; i++) {
			ob_puts(ob, "  ");
			put_num(ob, t[i].count, 10);
			ob_puts(ob, tt_state_name(t[i].o));
			ob_puts(ob, " -> ");
			ob_puts(ob, tt_state_name(t[i].n));
			ob_putc(ob, '\n');
		}
	}

	int any = 0;

	for (int st = 0; st < TT_STATE_MAX; st++) {
		const struct hist *h = &s->dur[st];

		if (!h->n)
			continue;
		if (!any++)
			ob_puts(ob, "\nTime in state (ms):\n  STATE            COUNT         P50"
				    "         P90         P99         MAX\n");
		ob_puts(ob, "  ");
		start = ob->len;
		ob_puts(ob, tt_state_name(st));
		put_col_end(ob, start, 13);
		put_num(ob, h->n, 8);
		put_msnum(ob, hist_pct(h, 50), 10);
		put_msnum(ob, hist_pct(h, 90), 10);
		put_msnum(ob, hist_pct(h, 99), 10);
		put_msnum(ob, h->max, 10);
		ob_puts(ob, state_hint(st));
		ob_putc(ob, '\n');
	}

	struct proc_ent *pl = tab_list(&s->procs);

	if (pl && s->procs.n) {
		qsort(pl, s->procs.n, sizeof(*pl), cmp_proc);
		ob_puts(ob, "\nTop processes:\n       CONNS      EVENTS  PID       COMM\n");
		for (size_t i = 0; i < s->procs.n && i < TOP_N; i++) {
			ob_puts(ob, "  ");
			put_num(ob, pl[i].conns, 10);
			put_num(ob, pl[i].events, 10);
			start = ob->len;
			if (pl[i].k.known)
				ob_u64(ob, pl[i].k.pid);
			else
				ob_putc(ob, '-');
			put_col_end(ob, start, 10);
			if (pl[i].k.known)
				ob_put_printable(ob, pl[i].k.comm,
						 strnlen(pl[i].k.comm, TT_COMM_LEN));
			else
				ob_putc(ob, '-');
			ob_putc(ob, '\n');
		}
	}
	free(pl);

	struct remote_ent *rl = tab_list(&s->remotes);

	if (rl && s->remotes.n) {
		qsort(rl, s->remotes.n, sizeof(*rl), cmp_remote);
		ob_puts(ob, "\nTop remote endpoints:\n       CONNS      EVENTS  ENDPOINT\n");
		for (size_t i = 0; i < s->remotes.n && i < TOP_N; i++) {
			ob_puts(ob, "  ");
			put_num(ob, rl[i].conns, 10);
			put_num(ob, rl[i].events, 10);
			fmt_endpoint(ob, rl[i].k.family, rl[i].k.addr, rl[i].k.port,
				     numeric || !rl[i].svc[0] ? NULL : rl[i].svc);
			ob_putc(ob, '\n');
		}
	}
	free(rl);

	struct sock_ent *sl = tab_list(&s->socks);

	ob_puts(ob, "\nOpen at end of log: ");
	ob_u64(ob, s->socks.n);
	ob_putc(ob, '\n');
	if (sl && s->socks.n) {
		qsort(sl, s->socks.n, sizeof(*sl), cmp_sock);
		ob_puts(ob, "  STATE        FOR(ms)       PID       COMM             LOCAL ADDRESS"
			    "          FOREIGN ADDRESS        SOCK\n");
		for (size_t i = 0; i < s->socks.n && i < MAX_OPEN; i++) {
			const struct tt_event *e = &sl[i].ev;

			ob_puts(ob, "  ");
			start = ob->len;
			ob_puts(ob, tt_state_name(e->newstate));
			put_col_end(ob, start, 13);
			start = ob->len;
			put_ms(ob, (s->last_ns - sl[i].since_ns) / 1000);
			put_col_end(ob, start, 14);
			start = ob->len;
			if (e->flags & TT_F_OWNER_KNOWN)
				ob_u64(ob, e->pid);
			else
				ob_putc(ob, '-');
			put_col_end(ob, start, 10);
			start = ob->len;
			put_comm(ob, e);
			put_col_end(ob, start, 17);
			start = ob->len;
			fmt_endpoint(ob, e->family, e->saddr, e->sport, NULL);
			put_col_end(ob, start, 23);
			start = ob->len;
			fmt_endpoint(ob, e->family, e->daddr, e->dport, NULL);
			put_col_end(ob, start, 23);
			ob_u64(ob, sl[i].cookie);
			ob_putc(ob, '\n');
		}
		if (s->socks.n > MAX_OPEN)
			ob_puts(ob, "  ... (-o json lists more)\n");
	}
	free(sl);

	ob_puts(ob, "\nStuck alerts: ");
	ob_u64(ob, s->stuck_events);
	ob_putc(ob, '\n');
	for (int i = 0; i < s->nstuck; i++) {
		const struct tt_event *e = &s->stuck[i].ev;

		ob_puts(ob, "  ");
		put_time(ob, s->stuck[i].wall_ns);
		ob_puts(ob, "  ");
		start = ob->len;
		ob_puts(ob, tt_state_name(e->oldstate));
		put_col_end(ob, start, 13);
		start = ob->len;
		if (e->flags & TT_F_DELTA_KNOWN)
			put_ms(ob, e->delta_ns / 1000);
		ob_puts(ob, " ms");
		put_col_end(ob, start, 14);
		start = ob->len;
		put_comm(ob, e);
		put_col_end(ob, start, 17);
		fmt_endpoint(ob, e->family, e->saddr, e->sport, NULL);
		ob_puts(ob, " -> ");
		fmt_endpoint(ob, e->family, e->daddr, e->dport, NULL);
		ob_putc(ob, '\n');
	}
	if (s->stuck_events > (uint64_t)s->nstuck)
		ob_puts(ob, "  ... (first 20 shown)\n");
}

static void jkey(struct outbuf *ob, int *first, const char *k)
{
	if (!*first)
		ob_putc(ob, ',');
	*first = 0;
	ob_putc(ob, '"');
	ob_puts(ob, k);
	ob_puts(ob, "\":");
}

static void jaddr(struct outbuf *ob, int family, const uint8_t a[16])
{
	char buf[TT_ADDRSTRLEN];

	ob_putc(ob, '"');
	ob_put(ob, buf, fmt_addr(buf, family, a));
	ob_putc(ob, '"');
}

static void jcomm(struct outbuf *ob, const struct tt_event *e)
{
	int f = 1;

	jkey(ob, &f, "pid");
	if (e->flags & TT_F_OWNER_KNOWN) {
		ob_u64(ob, e->pid);
		ob_puts(ob, ",\"comm\":");
		ob_json_str(ob, e->comm, strnlen(e->comm, TT_COMM_LEN));
	} else {
		ob_puts(ob, "null,\"comm\":null");
	}
}

static void jendpoints(struct outbuf *ob, const struct tt_event *e)
{
	ob_puts(ob, ",\"proto\":\"");
	ob_puts(ob, fmt_proto(e->family));
	ob_puts(ob, "\",\"laddr\":");
	jaddr(ob, e->family, e->saddr);
	ob_puts(ob, ",\"lport\":");
	ob_u64(ob, e->sport);
	ob_puts(ob, ",\"raddr\":");
	jaddr(ob, e->family, e->daddr);
	ob_puts(ob, ",\"rport\":");
	ob_u64(ob, e->dport);
	ob_puts(ob, ",\"sock\":");
	ob_u64(ob, e->sock_cookie);
	ob_puts(ob, ",\"netns\":");
	ob_u64(ob, e->netns);
}

void summary_json(struct summary *s, struct outbuf *ob)
{
	struct trans t[TT_STATE_MAX * TT_STATE_MAX];
	size_t nt = list_trans(s, t);
	int f = 1, g;

	ob_putc(ob, '{');
	jkey(ob, &f, "type");
	ob_puts(ob, "\"summary\"");
	jkey(ob, &f, "first");
	if (s->first_ns) {
		ob_putc(ob, '"');
		put_time(ob, s->first_ns);
		ob_puts(ob, "\",\"last\":\"");
		put_time(ob, s->last_ns);
		ob_putc(ob, '"');
	} else {
		ob_puts(ob, "null,\"last\":null");
	}
	jkey(ob, &f, "transitions_total");
	ob_u64(ob, s->state_events);
	jkey(ob, &f, "stuck_total");
	ob_u64(ob, s->stuck_events);
	jkey(ob, &f, "lost");
	ob_u64(ob, s->lost_count);
	jkey(ob, &f, "incomplete");
	ob_puts(ob, s->oom ? "true" : "false");
	jkey(ob, &f, "connections");
	ob_puts(ob, "{\"opened\":");
	ob_u64(ob, s->opened_active + s->opened_passive);
	ob_puts(ob, ",\"active\":");
	ob_u64(ob, s->opened_active);
	ob_puts(ob, ",\"passive\":");
	ob_u64(ob, s->opened_passive);
	ob_puts(ob, ",\"closed\":");
	ob_u64(ob, s->closed);
	ob_puts(ob, ",\"failed\":");
	ob_u64(ob, s->failed);
	ob_puts(ob, ",\"resets\":");
	ob_u64(ob, s->resets);
	ob_putc(ob, '}');

	jkey(ob, &f, "transitions");
	ob_putc(ob, '[');
	for (size_t i = 0; i < nt; i++) {
		ob_puts(ob, i ? ",{\"old\":\"" : "{\"old\":\"");
		ob_puts(ob, tt_state_name(t[i].o));
		ob_puts(ob, "\",\"new\":\"");
		ob_puts(ob, tt_state_name(t[i].n));
		ob_puts(ob, "\",\"count\":");
		ob_u64(ob, t[i].count);
		ob_putc(ob, '}');
	}
	ob_putc(ob, ']');

	jkey(ob, &f, "durations");
	ob_putc(ob, '{');
	g = 1;
	for (int st = 0; st < TT_STATE_MAX; st++) {
		const struct hist *h = &s->dur[st];

		if (!h->n)
			continue;
		jkey(ob, &g, tt_state_name(st));
		ob_puts(ob, "{\"count\":");
		ob_u64(ob, h->n);
		ob_puts(ob, ",\"p50_ms\":");
		put_ms(ob, hist_pct(h, 50));
		ob_puts(ob, ",\"p90_ms\":");
		put_ms(ob, hist_pct(h, 90));
		ob_puts(ob, ",\"p99_ms\":");
		put_ms(ob, hist_pct(h, 99));
		ob_puts(ob, ",\"max_ms\":");
		put_ms(ob, h->max);
		ob_putc(ob, '}');
	}
	ob_putc(ob, '}');

	struct proc_ent *pl = tab_list(&s->procs);

	jkey(ob, &f, "top_processes");
	ob_putc(ob, '[');
	if (pl) {
		qsort(pl, s->procs.n, sizeof(*pl), cmp_proc);
		for (size_t i = 0; i < s->procs.n && i < TOP_N; i++) {
			struct tt_event e;

			memset(&e, 0, sizeof(e));
			e.pid = pl[i].k.pid;
			memcpy(e.comm, pl[i].k.comm, TT_COMM_LEN);
			e.flags = pl[i].k.known ? TT_F_OWNER_KNOWN : 0;
			ob_puts(ob, i ? ",{" : "{");
			jcomm(ob, &e);
			ob_puts(ob, ",\"connections\":");
			ob_u64(ob, pl[i].conns);
			ob_puts(ob, ",\"events\":");
			ob_u64(ob, pl[i].events);
			ob_putc(ob, '}');
		}
	}
	ob_putc(ob, ']');
	free(pl);

	struct remote_ent *rl = tab_list(&s->remotes);

	jkey(ob, &f, "top_remotes");
	ob_putc(ob, '[');
	if (rl) {
		qsort(rl, s->remotes.n, sizeof(*rl), cmp_remote);
		for (size_t i = 0; i < s->remotes.n && i < TOP_N; i++) {
			ob_puts(ob, i ? ",{\"proto\":\"" : "{\"proto\":\"");
			ob_puts(ob, fmt_proto(rl[i].k.family));
			ob_puts(ob, "\",\"raddr\":");
			jaddr(ob, rl[i].k.family, rl[i].k.addr);
			ob_puts(ob, ",\"rport\":");
			ob_u64(ob, rl[i].k.port);
			ob_puts(ob, ",\"rservice\":");
			if (rl[i].svc[0])
				ob_json_str(ob, rl[i].svc, strlen(rl[i].svc));
			else
				ob_puts(ob, "null");
			ob_puts(ob, ",\"connections\":");
			ob_u64(ob, rl[i].conns);
			ob_puts(ob, ",\"events\":");
			ob_u64(ob, rl[i].events);
			ob_putc(ob, '}');
		}
	}
	ob_putc(ob, ']');
	free(rl);

	struct sock_ent *sl = tab_list(&s->socks);

	jkey(ob, &f, "open_total");
	ob_u64(ob, s->socks.n);
	jkey(ob, &f, "open_at_end");
	ob_putc(ob, '[');
	if (sl) {
		qsort(sl, s->socks.n, sizeof(*sl), cmp_sock);
		for (size_t i = 0; i < s->socks.n && i < 10 * MAX_OPEN; i++) {
			ob_puts(ob, i ? ",{" : "{");
			jcomm(ob, &sl[i].ev);
			jendpoints(ob, &sl[i].ev);
			ob_puts(ob, ",\"state\":\"");
			ob_puts(ob, tt_state_name(sl[i].ev.newstate));
			ob_puts(ob, "\",\"since\":\"");
			put_time(ob, sl[i].since_ns);
			ob_puts(ob, "\",\"ms\":");
			put_ms(ob, (s->last_ns - sl[i].since_ns) / 1000);
			ob_putc(ob, '}');
		}
	}
	ob_putc(ob, ']');
	free(sl);

	jkey(ob, &f, "stuck_by_state");
	ob_putc(ob, '{');
	g = 1;
	for (int st = 0; st < TT_STATE_MAX; st++) {
		if (!s->stuck_by_state[st])
			continue;
		jkey(ob, &g, tt_state_name(st));
		ob_u64(ob, s->stuck_by_state[st]);
	}
	ob_putc(ob, '}');
	jkey(ob, &f, "stuck");
	ob_putc(ob, '[');
	for (int i = 0; i < s->nstuck; i++) {
		const struct tt_event *e = &s->stuck[i].ev;

		ob_puts(ob, i ? ",{\"time\":\"" : "{\"time\":\"");
		put_time(ob, s->stuck[i].wall_ns);
		ob_puts(ob, "\",");
		jcomm(ob, e);
		jendpoints(ob, e);
		ob_puts(ob, ",\"state\":\"");
		ob_puts(ob, tt_state_name(e->oldstate));
		ob_puts(ob, "\",\"ms\":");
		if (e->flags & TT_F_DELTA_KNOWN)
			put_ms(ob, e->delta_ns / 1000);
		else
			ob_puts(ob, "null");
		ob_putc(ob, '}');
	}
	ob_puts(ob, "]}\n");
}
