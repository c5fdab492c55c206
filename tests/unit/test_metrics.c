// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Unit tests of src/metrics.[ch]: histogram buckets at their bounds, the socket gauge through
 * whole connections, seeds racing events, events for sockets never counted, timewait handoffs,
 * labels that change owner, stuck gauges, close causes, the label bound, a random model of many
 * sockets against the table, the copy, and the exposition in both formats with iterator counts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <cmocka.h>
#include "metrics.h"
#include "tt_test.h"

#define S 1000000000ULL

static struct tt_event ev(uint64_t cookie, int o, int n, const char *comm)
{
	struct tt_event e;

	memset(&e, 0, sizeof(e));
	e.type = TT_EV_STATE;
	e.sock_cookie = cookie;
	e.oldstate = (__u8)o;
	e.newstate = (__u8)n;
	e.family = AF_INET;
	if (comm) {
		e.flags |= TT_F_OWNER_KNOWN;
		e.pid = 42;
		strncpy(e.comm, comm, sizeof(e.comm) - 1);
	}
	return e;
}

static void send_ev(struct metrics *m, uint64_t cookie, int o, int n, const char *comm)
{
	struct tt_event e = ev(cookie, o, n, comm);

	metrics_event(m, &e, NULL);
}

static struct mt_counts snap(struct metrics *m)
{
	struct mt_counts c;

	memset(&c, 0, sizeof(c));
	assert_int_equal(metrics_copy(m, &c), 0);
	return c;
}

/* The gauge of state st (family ipv4) summed over labels. */
static int64_t gauge(struct metrics *m, int st)
{
	struct mt_counts c = snap(m);
	int64_t v = 0;

	for (uint32_t L = 0; L < c.nlabels; L++)
		v += c.lab[L].sockets[0][st];
	mt_counts_free(&c);
	return v;
}

static void test_buckets(void **state)
{
	assert_int_equal(mt_bucket(0), 0);
	assert_int_equal(mt_bucket(100000), 0); /* le="0.0001" holds 100 us itself */
	assert_int_equal(mt_bucket(100001), 1);
	assert_int_equal(mt_bucket(1 * S), 12);
	assert_string_equal(mt_bound_text[12], "1");
	assert_int_equal(mt_bucket(3600 * S), MT_NBOUNDS - 1);
	assert_int_equal(mt_bucket(3600 * S + 1), MT_NBOUNDS);
	assert_int_equal(mt_bucket(UINT64_MAX), MT_NBOUNDS);
	for (int i = 1; i < MT_NBOUNDS; i++) {
		char text[32];

		assert_true(mt_bound_ns[i] > mt_bound_ns[i - 1]);
		/* The text bound is the ns bound. */
		snprintf(text, sizeof(text), "%.6f", (double)mt_bound_ns[i] / 1e9);
		assert_true(strtod(mt_bound_text[i], NULL) == strtod(text, NULL));
	}
}

static void test_connection_lifecycle(void **state)
{
	struct metrics *m = metrics_new(MT_BY_NONE);
	struct mt_counts c;

	/* Client: connect, establish, active close into TIME_WAIT. */
	send_ev(m, 1, TT_CLOSE, TT_SYN_SENT, "curl");
	assert_int_equal(gauge(m, TT_SYN_SENT), 1);
	send_ev(m, 1, TT_SYN_SENT, TT_ESTABLISHED, "curl");
	/* Server child: created and accepted. */
	send_ev(m, 2, TT_CLOSE, TT_SYN_RECV, "srv");
	send_ev(m, 2, TT_SYN_RECV, TT_ESTABLISHED, "srv");
	assert_int_equal(gauge(m, TT_SYN_SENT), 0);
	assert_int_equal(gauge(m, TT_SYN_RECV), 0);
	assert_int_equal(gauge(m, TT_ESTABLISHED), 2);
	send_ev(m, 1, TT_ESTABLISHED, TT_FIN_WAIT1, "curl");
	send_ev(m, 2, TT_ESTABLISHED, TT_CLOSE_WAIT, "srv");
	send_ev(m, 1, TT_FIN_WAIT1, TT_FIN_WAIT2, "curl");
	assert_int_equal(gauge(m, TT_CLOSE_WAIT), 1);
	assert_int_equal(gauge(m, TT_FIN_WAIT2), 1);
	send_ev(m, 2, TT_CLOSE_WAIT, TT_LAST_ACK, "srv");
	/* The full socket hands over to a timewait socket: gone from the trace's gauges. */
	send_ev(m, 1, TT_FIN_WAIT2, TT_TIME_WAIT, "curl");
	send_ev(m, 2, TT_LAST_ACK, TT_CLOSE, "srv");
	for (int st = 0; st < TT_STATE_MAX; st++)
		assert_int_equal(gauge(m, st), 0);
	assert_int_equal(metrics_sockets(m), 0);
	c = snap(m);
	assert_int_equal(c.events, 10);
	assert_int_equal(c.opened_active, 1);
	assert_int_equal(c.opened_passive, 1);
	/* No cause from the kernel (no TT_F_TOTALS): normal. */
	assert_int_equal(c.closed[MT_CLOSE_NORMAL], 2);
	assert_int_equal(c.lab[0].trans[TT_CLOSE][TT_SYN_SENT], 1);
	assert_int_equal(c.lab[0].trans[TT_FIN_WAIT2][TT_TIME_WAIT], 1);
	mt_counts_free(&c);
	metrics_free(m);
}

static void test_causes_and_failures(void **state)
{
	struct metrics *m = metrics_new(MT_BY_NONE);
	struct tt_event e;
	struct mt_counts c;

	/* A refused connect: a failure, not a closed connection. */
	send_ev(m, 1, TT_CLOSE, TT_SYN_SENT, NULL);
	e = ev(1, TT_SYN_SENT, TT_CLOSE, NULL);
	e.flags |= TT_F_TOTALS | TT_F_RESET;
	e.cause = TT_CAUSE_REFUSED;
	metrics_event(m, &e, NULL);
	/* A reset received on an established connection. */
	send_ev(m, 2, TT_CLOSE, TT_SYN_SENT, NULL);
	send_ev(m, 2, TT_SYN_SENT, TT_ESTABLISHED, NULL);
	e = ev(2, TT_ESTABLISHED, TT_CLOSE, NULL);
	e.flags |= TT_F_TOTALS | TT_F_RESET;
	e.cause = TT_CAUSE_RESET_IN;
	metrics_event(m, &e, NULL);
	/* The kernel could not say: reset or normal from the flags. */
	e = ev(3, TT_CLOSE_WAIT, TT_CLOSE, NULL);
	e.flags |= TT_F_TOTALS | TT_F_RESET;
	e.cause = TT_CAUSE_UNKNOWN;
	metrics_event(m, &e, NULL);
	e = ev(4, TT_LAST_ACK, TT_CLOSE, NULL);
	e.flags |= TT_F_TOTALS;
	e.cause = TT_CAUSE_CLOSED;
	metrics_event(m, &e, NULL);
	/* A listener closing is no connection. */
	e = ev(5, TT_LISTEN, TT_CLOSE, NULL);
	e.flags |= TT_F_TOTALS;
	e.cause = TT_CAUSE_LISTENER_CLOSED;
	metrics_event(m, &e, NULL);
	c = snap(m);
	assert_int_equal(c.connect_failures, 1);
	assert_int_equal(c.closed[TT_CAUSE_RESET_IN], 1);
	assert_int_equal(c.closed[MT_CLOSE_RESET], 1);
	assert_int_equal(c.closed[TT_CAUSE_CLOSED], 1);
	assert_int_equal(c.closed[TT_CAUSE_REFUSED], 0);
	assert_int_equal(c.closed[TT_CAUSE_LISTENER_CLOSED], 0);
	mt_counts_free(&c);
	metrics_free(m);
}

static void test_durations(void **state)
{
	struct metrics *m = metrics_new(MT_BY_NONE);
	struct tt_event e = ev(1, TT_ESTABLISHED, TT_CLOSE_WAIT, NULL);
	struct mt_counts c;

	e.flags |= TT_F_DELTA_KNOWN;
	e.delta_ns = 2 * S;
	metrics_event(m, &e, NULL);
	e.oldstate = TT_CLOSE_WAIT;
	e.newstate = TT_LAST_ACK;
	e.delta_ns = 50000; /* 50 us: the first bucket */
	metrics_event(m, &e, NULL);
	/* A lower bound (socket older than the tracer) is not a duration. */
	e.oldstate = TT_LAST_ACK;
	e.newstate = TT_CLOSE;
	e.flags |= TT_F_DELTA_MIN;
	metrics_event(m, &e, NULL);
	c = snap(m);
	assert_int_equal(c.dur[TT_ESTABLISHED].count, 1);
	assert_int_equal(c.dur[TT_ESTABLISHED].bucket[mt_bucket(2 * S)], 1);
	assert_true(prom_seconds(c.dur[TT_ESTABLISHED].sum_s, c.dur[TT_ESTABLISHED].sum_ns) == 2.0);
	assert_int_equal(c.dur[TT_CLOSE_WAIT].bucket[0], 1);
	assert_int_equal(c.dur[TT_LAST_ACK].count, 0);
	mt_counts_free(&c);
	metrics_free(m);
}

static void test_seed_races(void **state)
{
	struct metrics *m = metrics_new(MT_BY_NONE);
	struct tt_event e;

	/* The walk saw the socket established; its two earlier events come after the seed. */
	e = ev(7, TT_ESTABLISHED, TT_ESTABLISHED, NULL);
	metrics_seed(m, &e, NULL);
	assert_int_equal(gauge(m, TT_ESTABLISHED), 1);
	send_ev(m, 7, TT_CLOSE, TT_SYN_SENT, NULL);
	send_ev(m, 7, TT_SYN_SENT, TT_ESTABLISHED, NULL);
	assert_int_equal(gauge(m, TT_ESTABLISHED), 1);
	assert_int_equal(gauge(m, TT_SYN_SENT), 0);
	/* Seen twice by the walk: still one socket. */
	metrics_seed(m, &e, NULL);
	assert_int_equal(gauge(m, TT_ESTABLISHED), 1);
	/* Seeds of states no full socket is counted in are ignored. */
	e = ev(8, TT_CLOSE, TT_CLOSE, NULL);
	metrics_seed(m, &e, NULL);
	assert_int_equal(metrics_sockets(m), 1);
	/* A socket never counted (older than the tracer, not seeded; a filtered event) leaves. */
	send_ev(m, 9, TT_CLOSE_WAIT, TT_LAST_ACK, NULL);
	send_ev(m, 10, TT_ESTABLISHED, TT_CLOSE, NULL);
	assert_int_equal(gauge(m, TT_ESTABLISHED), 1);
	assert_int_equal(gauge(m, TT_CLOSE_WAIT), 0);
	assert_int_equal(gauge(m, TT_LAST_ACK), 1);
	/* A lost event: the socket's next event still takes it out of what it was counted as. */
	send_ev(m, 7, TT_FIN_WAIT1, TT_FIN_WAIT2, NULL);
	assert_int_equal(gauge(m, TT_ESTABLISHED), 0);
	assert_int_equal(gauge(m, TT_FIN_WAIT1), 0);
	assert_int_equal(gauge(m, TT_FIN_WAIT2), 1);
	metrics_free(m);
}

static void test_labels_follow_owner(void **state)
{
	struct metrics *m = metrics_new(MT_BY_COMM);
	struct mt_counts c;

	/* A child named for its listener's owner, then accepted by a worker of another name. */
	send_ev(m, 1, TT_CLOSE, TT_SYN_RECV, "master");
	send_ev(m, 1, TT_SYN_RECV, TT_ESTABLISHED, "worker");
	send_ev(m, 2, TT_CLOSE, TT_LISTEN, "master");
	send_ev(m, 3, TT_CLOSE, TT_SYN_SENT, NULL);
	c = snap(m);
	assert_int_equal(c.nlabels, 3);
	assert_string_equal(c.names[0], "");
	assert_string_equal(c.names[1], "master");
	assert_string_equal(c.names[2], "worker");
	assert_int_equal(c.lab[1].sockets[0][TT_SYN_RECV], 0);
	assert_int_equal(c.lab[1].sockets[0][TT_LISTEN], 1);
	assert_int_equal(c.lab[2].sockets[0][TT_ESTABLISHED], 1);
	assert_int_equal(c.lab[0].sockets[0][TT_SYN_SENT], 1);
	assert_int_equal(c.lab[1].trans[TT_CLOSE][TT_SYN_RECV], 1);
	assert_int_equal(c.lab[2].trans[TT_SYN_RECV][TT_ESTABLISHED], 1);
	mt_counts_free(&c);
	metrics_free(m);
}

static void test_container_labels(void **state)
{
	struct metrics *m = metrics_new(MT_BY_CONTAINER);
	struct cg_desc d;
	struct tt_event e = ev(1, TT_CLOSE, TT_LISTEN, "nginx");
	struct mt_counts c;

	memset(&d, 0, sizeof(d));
	memset(d.ident.container_id, 'a', CG_ID_LEN);
	e.cgroup_id = 77;
	/* Not resolved yet: "", and not remembered. */
	metrics_event(m, &e, NULL);
	e = ev(1, TT_LISTEN, TT_CLOSE, "nginx");
	e.cgroup_id = 77;
	metrics_event(m, &e, &d);
	/* Remembered by cgroup id: later events need no description. */
	e = ev(2, TT_CLOSE, TT_SYN_SENT, "nginx");
	e.cgroup_id = 77;
	metrics_event(m, &e, NULL);
	c = snap(m);
	assert_int_equal(c.nlabels, 2);
	assert_int_equal(strlen(c.names[1]), CG_ID_LEN);
	assert_int_equal(c.lab[0].trans[TT_CLOSE][TT_LISTEN], 1);
	assert_int_equal(c.lab[1].trans[TT_LISTEN][TT_CLOSE], 1);
	assert_int_equal(c.lab[1].sockets[0][TT_SYN_SENT], 1);
	assert_int_equal(c.lab[0].sockets[0][TT_LISTEN], 0);
	mt_counts_free(&c);
	metrics_free(m);
}

static void test_label_bound(void **state)
{
	struct metrics *m = metrics_new(MT_BY_COMM);
	struct mt_counts c;
	int64_t total = 0;
	char comm[16];

	for (int i = 0; i < 3 * MT_MAX_LABELS; i++) {
		snprintf(comm, sizeof(comm), "p%d", i);
		send_ev(m, (uint64_t)i + 1, TT_CLOSE, TT_ESTABLISHED, comm);
	}
	c = snap(m);
	assert_int_equal(c.nlabels, MT_MAX_LABELS);
	assert_string_equal(c.names[MT_MAX_LABELS - 1], MT_OTHER_LABEL);
	for (uint32_t L = 0; L < c.nlabels; L++)
		total += c.lab[L].sockets[0][TT_ESTABLISHED];
	assert_int_equal(total, 3 * MT_MAX_LABELS);
	mt_counts_free(&c);
	metrics_free(m);
}

static void test_stuck(void **state)
{
	struct metrics *m = metrics_new(MT_BY_NONE);
	struct tt_event a;
	struct mt_counts c;

	send_ev(m, 1, TT_ESTABLISHED, TT_CLOSE_WAIT, "srv");
	a = ev(1, TT_CLOSE_WAIT, TT_CLOSE_WAIT, "srv");
	a.type = TT_EV_STUCK;
	metrics_alert(m, &a);
	/* The same alert again (cannot happen, but) is one stuck socket. */
	metrics_alert(m, &a);
	c = snap(m);
	assert_int_equal(c.lab[0].stuck[TT_CLOSE_WAIT], 1);
	assert_int_equal(c.lab[0].alerts[TT_CLOSE_WAIT], 2);
	mt_counts_free(&c);
	/* Leaving the state ends being stuck in it. */
	send_ev(m, 1, TT_CLOSE_WAIT, TT_LAST_ACK, "srv");
	c = snap(m);
	assert_int_equal(c.lab[0].stuck[TT_CLOSE_WAIT], 0);
	assert_int_equal(c.lab[0].alerts[TT_CLOSE_WAIT], 2);
	mt_counts_free(&c);
	/* An alert for a socket the gauges do not hold is counted, stuck nowhere. */
	a.sock_cookie = 99;
	metrics_alert(m, &a);
	c = snap(m);
	assert_int_equal(c.lab[0].stuck[TT_CLOSE_WAIT], 0);
	assert_int_equal(c.lab[0].alerts[TT_CLOSE_WAIT], 3);
	mt_counts_free(&c);
	/* A state event is not an alert. */
	a.type = TT_EV_STATE;
	metrics_alert(m, &a);
	metrics_free(m);
}

/* Random transitions of many sockets, against a model that knows every socket's state. */
static void test_random_model(void **state)
{
	enum {
		N = 5000
	};
	static const int next[TT_STATE_MAX][3] = {
		[TT_CLOSE] = {TT_SYN_SENT, TT_SYN_RECV, TT_LISTEN},
		[TT_SYN_SENT] = {TT_ESTABLISHED, TT_CLOSE, TT_ESTABLISHED},
		[TT_SYN_RECV] = {TT_ESTABLISHED, TT_CLOSE, TT_ESTABLISHED},
		[TT_ESTABLISHED] = {TT_FIN_WAIT1, TT_CLOSE_WAIT, TT_CLOSE},
		[TT_FIN_WAIT1] = {TT_FIN_WAIT2, TT_CLOSING, TT_CLOSE},
		[TT_FIN_WAIT2] = {TT_TIME_WAIT, TT_FIN_WAIT2_TW, TT_CLOSE},
		[TT_CLOSING] = {TT_TIME_WAIT, TT_CLOSE, TT_TIME_WAIT},
		[TT_CLOSE_WAIT] = {TT_LAST_ACK, TT_CLOSE, TT_LAST_ACK},
		[TT_LAST_ACK] = {TT_CLOSE, TT_CLOSE, TT_CLOSE},
		[TT_LISTEN] = {TT_CLOSE, TT_CLOSE, TT_CLOSE},
	};
	static uint8_t st[N];
	static const char *const comms[] = {"a", "b", "c", NULL};
	struct metrics *m = metrics_new(MT_BY_COMM);
	unsigned int seed = 12345;

	for (int i = 0; i < N; i++)
		st[i] = TT_CLOSE;
	for (int step = 0; step < 200000; step++) {
		int i = rand_r(&seed) % N, o = st[i];
		int n = next[o][rand_r(&seed) % 3];
		int64_t want[TT_STATE_MAX] = {0};
		struct mt_counts c;

		if (n == TT_TIME_WAIT || n == TT_FIN_WAIT2_TW)
			st[i] = TT_CLOSE;
		else
			st[i] = (uint8_t)n;
		send_ev(m, (uint64_t)i + 1, o, n, comms[rand_r(&seed) % 4]);
		if (step % 20000)
			continue;
		for (int k = 0; k < N; k++)
			want[st[k]]++;
		c = snap(m);
		for (int s = 0; s < TT_STATE_MAX; s++) {
			int64_t got = 0;

			for (uint32_t L = 0; L < c.nlabels; L++) {
				assert_true(c.lab[L].sockets[0][s] >= 0);
				got += c.lab[L].sockets[0][s];
			}
			if (s != TT_CLOSE)
				assert_int_equal(got, want[s]);
		}
		mt_counts_free(&c);
	}
	/* Every socket closes: all gauges back to zero, the table empty. */
	for (int i = 0; i < N; i++)
		send_ev(m, (uint64_t)i + 1, st[i], TT_CLOSE, "z");
	for (int s = 0; s < TT_STATE_MAX; s++)
		assert_int_equal(gauge(m, s), 0);
	assert_int_equal(metrics_sockets(m), 0);
	metrics_free(m);
}

static int contains(const struct outbuf *ob, const char *s)
{
	return memmem(ob->data, ob->len, s, strlen(s)) != NULL;
}

static void test_format(void **state)
{
	struct metrics *m = metrics_new(MT_BY_COMM);
	int rules[1] = {TT_CLOSE_WAIT};
	struct mt_info info = {.by = MT_BY_COMM,
			       .version = "9.9",
			       .kernel = "6.1",
			       .stuck_states = rules,
			       .nstuck = 1};
	struct mt_walk w;
	struct mt_listener l;
	struct mt_counts c;
	struct outbuf ob;
	size_t cap = 0;
	struct tt_event e;

	memset(&w, 0, sizeof(w));
	w.ok = 1;
	w.tw[0] = 5;
	w.tw_fin2[1] = 2;
	w.req[0] = 3;
	w.seconds = 0.25;
	memset(&l, 0, sizeof(l));
	l.family = AF_INET;
	inet_pton(AF_INET, "127.0.0.1", l.addr);
	l.port = 80;
	l.netns = 4026531840U;
	l.qlen = 1;
	l.qmax = 128;
	/* Two SO_REUSEPORT sockets of one address, and another address. */
	assert_int_equal(mt_walk_add_listener(&w, &cap, &l), 0);
	assert_int_equal(mt_walk_add_listener(&w, &cap, &l), 0);
	l.port = 22;
	assert_int_equal(mt_walk_add_listener(&w, &cap, &l), 0);
	mt_walk_finish(&w, MT_MAX_LISTENERS);
	assert_int_equal(w.nlisteners, 2);
	assert_int_equal(w.listeners[0].port, 22);
	assert_int_equal(w.listeners[1].qmax, 256);

	send_ev(m, 1, TT_CLOSE, TT_LISTEN, "nginx");
	send_ev(m, 2, TT_CLOSE, TT_SYN_SENT, "we\"ird");
	e = ev(3, TT_ESTABLISHED, TT_CLOSE_WAIT, NULL);
	e.flags |= TT_F_DELTA_KNOWN;
	e.delta_ns = S / 2;
	metrics_event(m, &e, NULL);
	c = snap(m);
	ob_init(&ob);
	mt_format(&ob, PROM_TEXT, &info, &c, &w);
	assert_true(contains(&ob, "# TYPE tcptrail_sockets gauge\n"));
	assert_true(contains(&ob, "tcptrail_sockets{state=\"TIME_WAIT\",family=\"ipv4\","
				  "comm=\"\"} 5\n"));
	assert_true(contains(&ob, "tcptrail_sockets{state=\"FIN_WAIT2\",family=\"ipv6\","
				  "comm=\"\"} 2\n"));
	assert_true(contains(&ob, "tcptrail_sockets{state=\"SYN_RECV\",family=\"ipv4\","
				  "comm=\"\"} 3\n"));
	assert_true(contains(&ob, "tcptrail_sockets{state=\"LISTEN\",family=\"ipv4\","
				  "comm=\"nginx\"} 1\n"));
	assert_true(contains(&ob, "comm=\"we\\\"ird\"} 1\n"));
	/* A label's series appear once it has had a socket in that state. */
	assert_false(contains(&ob, "tcptrail_sockets{state=\"ESTABLISHED\",family=\"ipv4\","
				   "comm=\"nginx\"}"));
	assert_true(contains(&ob, "tcptrail_transitions_total{from=\"CLOSE\",to=\"LISTEN\","
				  "comm=\"nginx\"} 1\n"));
	assert_true(contains(&ob, "tcptrail_state_duration_seconds_bucket{state=\"ESTABLISHED\","
				  "le=\"0.25\"} 0\n"));
	assert_true(contains(&ob, "tcptrail_state_duration_seconds_bucket{state=\"ESTABLISHED\","
				  "le=\"0.5\"} 1\n"));
	assert_true(contains(&ob, "tcptrail_state_duration_seconds_bucket{state=\"ESTABLISHED\","
				  "le=\"+Inf\"} 1\n"));
	assert_true(contains(&ob, "tcptrail_state_duration_seconds_sum{state=\"ESTABLISHED\"} "
				  "0.5\n"));
	assert_true(contains(&ob, "tcptrail_connections_closed_total{cause=\"reset_in\"} 0\n"));
	assert_true(contains(&ob, "tcptrail_stuck_sockets{state=\"CLOSE_WAIT\",comm=\"\"} 0\n"));
	assert_true(contains(&ob, "tcptrail_listen_queue_length{laddr=\"127.0.0.1\",lport=\"80\","
				  "netns=\"4026531840\"} 2\n"));
	assert_true(contains(&ob, "tcptrail_listen_queue_limit{laddr=\"127.0.0.1\",lport=\"22\","
				  "netns=\"4026531840\"} 128\n"));
	assert_true(contains(&ob, "tcptrail_build_info{version=\"9.9\",kernel=\"6.1\"} 1\n"));
	assert_true(contains(&ob, "tcptrail_socket_walk_seconds 0.25\n"));
	assert_false(contains(&ob, "# EOF"));
	ob_reset(&ob);
	mt_format(&ob, PROM_OPENMETRICS, &info, &c, &w);
	assert_true(contains(&ob, "# TYPE tcptrail_transitions counter\n"));
	assert_true(contains(&ob, "le=\"1.0\"} 1\n"));
	assert_true(ob.len > 6 && !memcmp(ob.data + ob.len - 6, "# EOF\n", 6));
	/* Without a walk, the trace's numbers alone and no listeners. */
	ob_reset(&ob);
	w.ok = 0;
	mt_format(&ob, PROM_TEXT, &info, &c, &w);
	assert_true(contains(&ob, "tcptrail_sockets{state=\"TIME_WAIT\",family=\"ipv4\","
				  "comm=\"\"} 0\n"));
	assert_false(contains(&ob, "tcptrail_listen_queue_length{"));
	assert_false(contains(&ob, "tcptrail_socket_walk_seconds 0"));
	ob_free(&ob);
	free(w.listeners);
	mt_counts_free(&c);
	metrics_free(m);
	assert_int_equal(mt_by_parse("comm"), MT_BY_COMM);
	assert_int_equal(mt_by_parse("unit"), MT_BY_UNIT);
	assert_int_equal(mt_by_parse("container"), MT_BY_CONTAINER);
	assert_int_equal(mt_by_parse("pod"), -1);
	assert_null(mt_by_name(MT_BY_NONE));
}

/* Past the cap: the longest queues stay (ties in address order), the rest are summed. */
static void test_listener_cap(void **state)
{
	struct mt_info info = {.version = "9.9", .kernel = "6.1"};
	struct mt_counts c = {0};
	struct mt_listener l;
	struct mt_walk w;
	struct outbuf ob;
	size_t cap = 0;

	(void)state;
	memset(&w, 0, sizeof(w));
	w.ok = 1;
	memset(&l, 0, sizeof(l));
	l.family = AF_INET;
	inet_pton(AF_INET, "127.0.0.1", l.addr);
	l.qmax = 10;
	for (int i = 0; i < 10; i++) {
		l.port = (uint16_t)(1000 + i);
		l.qlen = i == 7 ? 3 : 0;
		assert_int_equal(mt_walk_add_listener(&w, &cap, &l), 0);
	}
	mt_walk_finish(&w, 3);
	assert_int_equal(w.nlisteners, 3);
	assert_int_equal(w.nother, 7);
	assert_int_equal(w.other_qlen, 0);
	assert_int_equal(w.other_qmax, 70);
	/* Sorted by address again: 1000 and 1001 (first ties), then the busy 1007. */
	assert_int_equal(w.listeners[0].port, 1000);
	assert_int_equal(w.listeners[1].port, 1001);
	assert_int_equal(w.listeners[2].port, 1007);
	ob_init(&ob);
	mt_format(&ob, PROM_TEXT, &info, &c, &w);
	assert_true(
		contains(&ob, "tcptrail_listen_queue_length{laddr=\"127.0.0.1\",lport=\"1007\","));
	assert_true(contains(&ob, "tcptrail_listen_queue_limit{laddr=\"_other\",lport=\"_other\","
				  "netns=\"_other\"} 70\n"));
	assert_true(contains(&ob, "tcptrail_listeners 10\n"));
	ob_free(&ob);
	free(w.listeners);
}

/* /healthz: healthy while the loop's last turn is within the limit, however close to it. */
static void test_health(void **state)
{
	const uint64_t s = 1000000000ULL, t0 = 1000 * s;
	char why[128];

	why[0] = 0;
	assert_int_equal(mt_health(t0, t0, MT_STALL_NS, why, sizeof(why)), 0);
	assert_int_equal(mt_health(t0 + MT_STALL_NS, t0, MT_STALL_NS, why, sizeof(why)), 0);
	/* a turn made after the probe read its clock */
	assert_int_equal(mt_health(t0, t0 + s, MT_STALL_NS, why, sizeof(why)), 0);
	assert_string_equal(why, "");
	/* the clock's start: no wrap */
	assert_int_equal(mt_health(5 * s, 0, MT_STALL_NS, why, sizeof(why)), 0);
	assert_int_equal(mt_health(t0 + MT_STALL_NS + 1, t0, MT_STALL_NS, why, sizeof(why)), -1);
	assert_string_equal(why, "unhealthy: the event loop has not turned for 30 s (limit 30 s)");
	assert_int_equal(mt_health(t0 + 3600 * s, t0, MT_STALL_NS, why, sizeof(why)), -1);
	assert_string_equal(why,
			    "unhealthy: the event loop has not turned for 3600 s (limit 30 s)");
	/* a short buffer is cut, not overrun */
	memset(why, 'x', sizeof(why));
	assert_int_equal(mt_health(t0 + 3600 * s, t0, MT_STALL_NS, why, 10), -1);
	assert_string_equal(why, "unhealthy");
	assert_int_equal(why[10], 'x');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buckets),
		cmocka_unit_test(test_connection_lifecycle),
		cmocka_unit_test(test_causes_and_failures),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_seed_races),
		cmocka_unit_test(test_labels_follow_owner),
		cmocka_unit_test(test_container_labels),
		cmocka_unit_test(test_label_bound),
		cmocka_unit_test(test_stuck),
		cmocka_unit_test(test_random_model),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_listener_cap),
		cmocka_unit_test(test_health),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
