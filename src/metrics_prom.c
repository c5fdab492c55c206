// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The Prometheus exposition of the metrics metrics.c keeps (text or OpenMetrics), a function per
 * family group, formatted per scrape from a copy of the counts. Pure.
 */
#include <arpa/inet.h>
#include "causes.h"
#include "metrics.h"
#include "states.h"
/* Exposed states of tcptrail_sockets, as ss names them (timewait FIN_WAIT2 is FIN_WAIT2). */
static const int shown_states[] = {
	TT_ESTABLISHED, TT_SYN_SENT,   TT_SYN_RECV, TT_FIN_WAIT1, TT_FIN_WAIT2,
	TT_TIME_WAIT,	TT_CLOSE_WAIT, TT_LAST_ACK, TT_LISTEN,	  TT_CLOSING,
};

/*
 * tcptrail_connections_closed_total's cause label: the causes a connection can end with
 * (cause_name(): not listener_closed, not unknown), then normal or reset where the kernel did not
 * say. NULL: none.
 */
static const char *close_name(int i)
{
	switch (i) {
	case MT_CLOSE_NORMAL:
		return "normal";
	case MT_CLOSE_RESET:
		return "reset";
	case TT_CAUSE_NONE:
	case TT_CAUSE_LISTENER_CLOSED:
	case TT_CAUSE_UNKNOWN:
		return NULL;
	}
	return cause_name(i);
}

struct fmt {
	struct outbuf *ob;
	enum prom_format f;
	const struct mt_info *info;
	const struct mt_counts *c;
};

static void label(struct outbuf *ob, int *first, const char *name, const char *v, size_t n)
{
	ob_putc(ob, *first ? '{' : ',');
	*first = 0;
	ob_puts(ob, name);
	ob_puts(ob, "=\"");
	prom_label_value(ob, v, n);
	ob_putc(ob, '"');
}

static void label_str(struct outbuf *ob, int *first, const char *name, const char *v)
{
	label(ob, first, name, v, strlen(v));
}

/* The --metrics-by label of label index L, if there is one. */
static void by_label(struct fmt *x, int *first, uint32_t L)
{
	const char *name = mt_by_name(x->info->by);

	if (name)
		label_str(x->ob, first, name, x->c->names[L]);
}

static void end_labels(struct outbuf *ob, int first)
{
	if (!first)
		ob_putc(ob, '}');
	ob_putc(ob, ' ');
}

static void sample_u64(struct outbuf *ob, uint64_t v)
{
	ob_u64(ob, v);
	ob_putc(ob, '\n');
}

static void sample_i64(struct outbuf *ob, int64_t v)
{
	ob_i64(ob, v);
	ob_putc(ob, '\n');
}

static void fmt_sockets(struct fmt *x, const struct mt_walk *w)
{
	static const char *const fam_names[MT_FAMILIES] = {"ipv4", "ipv6"};
	const struct mt_counts *c = x->c;

	prom_family(x->ob, x->f, "tcptrail_sockets", PROM_GAUGE,
		    "TCP sockets per state now (timewait and request sockets counted by the "
		    "socket iterator at scrape time).");
	for (uint32_t L = 0; L < c->nlabels; L++) {
		const struct mt_label_counts *lc = &c->lab[L];

		for (int f = 0; f < MT_FAMILIES; f++) {
			for (size_t i = 0; i < sizeof(shown_states) / sizeof(shown_states[0]);
			     i++) {
				int st = shown_states[i], first = 1;
				int64_t v = lc->sockets[f][st];

				if (L == 0 && w && w->ok) {
					if (st == TT_TIME_WAIT)
						v += (int64_t)w->tw[f];
					else if (st == TT_FIN_WAIT2)
						v += (int64_t)w->tw_fin2[f];
					else if (st == TT_SYN_RECV)
						v += (int64_t)w->req[f];
				}
				/* Labelled series once they have had a socket, all for "". */
				if (L && !(lc->seen[f] & (1u << st)))
					continue;
				ob_puts(x->ob, "tcptrail_sockets");
				label_str(x->ob, &first, "state", tt_state_name(st));
				label_str(x->ob, &first, "family", fam_names[f]);
				by_label(x, &first, L);
				end_labels(x->ob, first);
				sample_i64(x->ob, v);
			}
		}
	}
}

static void fmt_transitions(struct fmt *x)
{
	const struct mt_counts *c = x->c;

	prom_family(x->ob, x->f, "tcptrail_transitions_total", PROM_COUNTER,
		    "TCP state transitions traced.");
	for (uint32_t L = 0; L < c->nlabels; L++) {
		for (int o = 0; o < TT_STATE_MAX; o++) {
			for (int n = 0; n < TT_STATE_MAX; n++) {
				uint64_t v = c->lab[L].trans[o][n];
				int first = 1;

				if (!v)
					continue;
				ob_puts(x->ob, "tcptrail_transitions_total");
				label_str(x->ob, &first, "from", tt_state_name(o));
				label_str(x->ob, &first, "to", tt_state_name(n));
				by_label(x, &first, L);
				end_labels(x->ob, first);
				sample_u64(x->ob, v);
			}
		}
	}
}

static void fmt_durations(struct fmt *x)
{
	prom_family(x->ob, x->f, "tcptrail_state_duration_seconds", PROM_HISTOGRAM,
		    "Time TCP sockets spent in a state, observed when they left it.");
	for (int st = 0; st < TT_STATE_MAX; st++) {
		const struct mt_hist *h = &x->c->dur[st];
		const char *name = tt_state_name(st);
		uint64_t cum = 0;

		if (!h->count)
			continue;
		for (int b = 0; b < MT_NBUCKETS; b++) {
			cum += h->bucket[b];
			ob_puts(x->ob, "tcptrail_state_duration_seconds_bucket{state=\"");
			ob_puts(x->ob, name);
			ob_puts(x->ob, "\",le=\"");
			if (b < MT_NBOUNDS)
				prom_le(x->ob, x->f, mt_bound_text[b]);
			else
				ob_puts(x->ob, "+Inf");
			ob_puts(x->ob, "\"} ");
			sample_u64(x->ob, cum);
		}
		ob_puts(x->ob, "tcptrail_state_duration_seconds_sum{state=\"");
		ob_puts(x->ob, name);
		ob_puts(x->ob, "\"} ");
		prom_double(x->ob, prom_seconds(h->sum_s, h->sum_ns));
		ob_putc(x->ob, '\n');
		ob_puts(x->ob, "tcptrail_state_duration_seconds_count{state=\"");
		ob_puts(x->ob, name);
		ob_puts(x->ob, "\"} ");
		sample_u64(x->ob, h->count);
	}
}

static void fmt_connections(struct fmt *x)
{
	const struct mt_counts *c = x->c;

	prom_family(x->ob, x->f, "tcptrail_connections_opened_total", PROM_COUNTER,
		    "Connections established: active (connect) or passive (accepted).");
	ob_puts(x->ob, "tcptrail_connections_opened_total{direction=\"active\"} ");
	sample_u64(x->ob, c->opened_active);
	ob_puts(x->ob, "tcptrail_connections_opened_total{direction=\"passive\"} ");
	sample_u64(x->ob, c->opened_passive);
	prom_family(x->ob, x->f, "tcptrail_connections_closed_total", PROM_COUNTER,
		    "Established connections that ended, by cause (normal or reset where the "
		    "kernel did not say).");
	for (int i = 0; i < MT_NCLOSE; i++) {
		const char *name = close_name(i);

		if (!name)
			continue;
		ob_puts(x->ob, "tcptrail_connections_closed_total{cause=\"");
		ob_puts(x->ob, name);
		ob_puts(x->ob, "\"} ");
		sample_u64(x->ob, c->closed[i]);
	}
	prom_family(x->ob, x->f, "tcptrail_connect_failures_total", PROM_COUNTER,
		    "Connects that never got established (SYN_SENT -> CLOSE: refused, timed out).");
	ob_puts(x->ob, "tcptrail_connect_failures_total ");
	sample_u64(x->ob, c->connect_failures);
}

static int is_rule_state(const struct mt_info *info, int st)
{
	for (int i = 0; i < info->nstuck; i++) {
		if (info->stuck_states[i] == st)
			return 1;
	}
	return 0;
}

static void fmt_stuck(struct fmt *x)
{
	const struct mt_counts *c = x->c;

	for (int pass = 0; pass < 2; pass++) {
		const char *name = pass ? "tcptrail_stuck_alerts_total" : "tcptrail_stuck_sockets";

		if (pass)
			prom_family(x->ob, x->f, name, PROM_COUNTER,
				    "Stuck alerts raised (--stuck), by the state stuck in.");
		else
			prom_family(x->ob, x->f, name, PROM_GAUGE,
				    "Sockets past a --stuck rule now: alerted and still in the "
				    "state.");
		for (uint32_t L = 0; L < c->nlabels; L++) {
			const struct mt_label_counts *lc = &c->lab[L];

			for (int st = 0; st < TT_STATE_MAX; st++) {
				int first = 1;

				/* The rules' states at 0 before any alert; labels once alerted. */
				if (lc->alerts[st] == 0 && (L || !is_rule_state(x->info, st)))
					continue;
				ob_puts(x->ob, name);
				label_str(x->ob, &first, "state", tt_state_name(st));
				by_label(x, &first, L);
				end_labels(x->ob, first);
				if (pass)
					sample_u64(x->ob, lc->alerts[st]);
				else
					sample_i64(x->ob, lc->stuck[st]);
			}
		}
	}
}

static void fmt_listeners(struct fmt *x, const struct mt_walk *w)
{
	for (int pass = 0; pass < 2; pass++) {
		const char *name =
			pass ? "tcptrail_listen_queue_limit" : "tcptrail_listen_queue_length";

		if (pass)
			prom_family(x->ob, x->f, name, PROM_GAUGE,
				    "Accept queue limit (backlog) of a listening address.");
		else
			prom_family(
				x->ob, x->f, name, PROM_GAUGE,
				"Connections waiting in the accept queue of a listening address.");
		for (size_t i = 0; w && w->ok && i < w->nlisteners; i++) {
			const struct mt_listener *l = &w->listeners[i];
			char addr[INET6_ADDRSTRLEN], port[8], ns[12];
			int first = 1;

			if (!inet_ntop(l->family, l->addr, addr, sizeof(addr)))
				continue;
			port[u64_to_dec(port, l->port)] = '\0';
			ns[u64_to_dec(ns, l->netns)] = '\0';
			ob_puts(x->ob, name);
			label_str(x->ob, &first, "laddr", addr);
			label_str(x->ob, &first, "lport", port);
			label_str(x->ob, &first, "netns", ns);
			end_labels(x->ob, first);
			sample_u64(x->ob, pass ? l->qmax : l->qlen);
		}
		if (w && w->ok && w->nother) {
			ob_puts(x->ob, name);
			ob_puts(x->ob, "{laddr=\"" MT_OTHER_LABEL "\",lport=\"" MT_OTHER_LABEL
				       "\",netns=\"" MT_OTHER_LABEL "\"} ");
			sample_u64(x->ob, pass ? w->other_qmax : w->other_qlen);
		}
	}
	prom_family(x->ob, x->f, "tcptrail_listeners", PROM_GAUGE,
		    "Listening addresses the last walk found; past the busiest, their queues are "
		    "summed in the laddr=\"_other\" series.");
	if (w && w->ok) {
		ob_puts(x->ob, "tcptrail_listeners ");
		sample_u64(x->ob, w->nlisteners + w->nother);
	}
}

void mt_format(struct outbuf *ob, enum prom_format f, const struct mt_info *info,
	       const struct mt_counts *c, const struct mt_walk *w)
{
	struct fmt x = {.ob = ob, .f = f, .info = info, .c = c};
	int first = 1;

	fmt_sockets(&x, w);
	fmt_transitions(&x);
	fmt_durations(&x);
	fmt_connections(&x);
	fmt_stuck(&x);
	fmt_listeners(&x, w);
	prom_family(ob, f, "tcptrail_socket_walk_seconds", PROM_GAUGE,
		    "Time the last walk of every namespace's sockets took (timewait and request "
		    "sockets, listeners); walks use at most a tenth of the time.");
	if (w && w->ok) {
		ob_puts(ob, "tcptrail_socket_walk_seconds ");
		prom_double(ob, w->seconds);
		ob_putc(ob, '\n');
	}
	prom_family(ob, f, "tcptrail_events_total", PROM_COUNTER,
		    "Events read from the kernel (state transitions).");
	ob_puts(ob, "tcptrail_events_total ");
	sample_u64(ob, c->events);
	prom_family(ob, f, "tcptrail_events_lost_total", PROM_COUNTER,
		    "Events the kernel could not deliver (ring buffer full, program recursion).");
	ob_puts(ob, "tcptrail_events_lost_total ");
	sample_u64(ob, c->lost);
	prom_family(ob, f, "tcptrail_build_info", PROM_INFO,
		    "tcptrail's version and the kernel it runs on.");
	ob_puts(ob, "tcptrail_build_info");
	label_str(ob, &first, "version", info->version ? info->version : "");
	label_str(ob, &first, "kernel", info->kernel ? info->kernel : "");
	end_labels(ob, first);
	ob_puts(ob, "1\n");
	prom_end(ob, f);
}
