// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Unit tests of src/summary.[ch]: counts, durations, top lists, open sockets, rendering. */
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
#include "jsonl.h"
#include "summary.h"

#define T0 1795000000000000000ULL

static struct lr_record rec(uint64_t cookie, int o, int n, uint64_t at_ms, uint64_t delta_us,
			    uint16_t lport, uint16_t rport)
{
	struct lr_record r;

	memset(&r, 0, sizeof(r));
	r.type = LR_STATE;
	r.wall_ns = T0 + at_ms * 1000000ULL;
	r.ev.ts_ns = r.wall_ns;
	r.ev.type = TT_EV_STATE;
	r.ev.family = AF_INET;
	inet_pton(AF_INET, "127.0.0.1", r.ev.saddr);
	inet_pton(AF_INET, "127.0.0.2", r.ev.daddr);
	r.ev.sport = lport;
	r.ev.dport = rport;
	r.ev.oldstate = (__u8)o;
	r.ev.newstate = (__u8)n;
	r.ev.sock_cookie = cookie;
	r.ev.flags = TT_F_OWNER_KNOWN;
	r.ev.pid = 100;
	strcpy(r.ev.comm, "client");
	if (delta_us != UINT64_MAX) {
		r.ev.flags |= TT_F_DELTA_KNOWN;
		r.ev.delta_ns = delta_us * 1000;
	}
	return r;
}

static char *render_json(struct summary *s)
{
	struct outbuf ob;
	struct jsonl_obj o;
	char err[128];

	ob_init(&ob);
	summary_json(s, &ob);
	assert_true(ob.len > 0 && ob.data[ob.len - 1] == '\n');
	/* valid JSON, one line */
	assert_int_equal(jsonl_parse(ob.data, ob.len - 1, &o, err, sizeof(err)), 0);
	assert_null(memchr(ob.data, '\n', ob.len - 1));
	ob_putc(&ob, '\0');
	return ob.data;
}

static char *render_text(struct summary *s)
{
	struct outbuf ob;

	ob_init(&ob);
	summary_text(s, &ob, 0);
	ob_putc(&ob, '\0');
	return ob.data;
}

static void expect(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("missing %s in:\n%s", needle, hay);
}

/* A client connects to :80, the server holds CLOSE_WAIT for 1 s, one reset, one open socket. */
static void test_scenario(void **state)
{
	struct summary *s = summary_new();
	struct lr_record r[] = {
		rec(1, TT_CLOSE, TT_LISTEN, 0, UINT64_MAX, 80, 0),
		rec(2, TT_CLOSE, TT_SYN_SENT, 10, UINT64_MAX, 5000, 80),
		rec(2, TT_SYN_SENT, TT_ESTABLISHED, 11, 1500, 5000, 80),
		rec(3, TT_SYN_RECV, TT_ESTABLISHED, 11, 300, 80, 5000),
		rec(2, TT_ESTABLISHED, TT_FIN_WAIT1, 20, 9000, 5000, 80),
		rec(3, TT_ESTABLISHED, TT_CLOSE_WAIT, 20, 9000, 80, 5000),
		rec(2, TT_FIN_WAIT1, TT_FIN_WAIT2, 20, 50, 5000, 80),
		rec(3, TT_CLOSE_WAIT, TT_LAST_ACK, 1020, 1000123, 80, 5000),
		rec(2, TT_FIN_WAIT2, TT_TIME_WAIT, 1020, 1000000, 5000, 80),
		rec(3, TT_LAST_ACK, TT_CLOSE, 1021, 200, 80, 5000),
		rec(4, TT_CLOSE, TT_SYN_SENT, 1100, UINT64_MAX, 5001, 81),
		rec(4, TT_SYN_SENT, TT_CLOSE, 1101, 700, 5001, 81),
		rec(5, TT_CLOSE, TT_SYN_SENT, 1200, UINT64_MAX, 5002, 80),
		rec(5, TT_SYN_SENT, TT_ESTABLISHED, 1201, 900, 5002, 80),
	};
	struct lr_record st, lost, hdr;

	assert_non_null(s);
	r[11].ev.flags |= TT_F_RESET;
	r[3].ev.flags &= (__u16)~TT_F_OWNER_KNOWN;
	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++)
		assert_int_equal(summary_add(s, &r[i]), 0);
	st = rec(1, TT_LISTEN, TT_LISTEN, 1300, 1300000, 80, 0);
	st.type = LR_STUCK;
	st.ev.type = TT_EV_STUCK;
	summary_add(s, &st);
	memset(&lost, 0, sizeof(lost));
	lost.type = LR_LOST;
	lost.wall_ns = T0 + 1400 * 1000000ULL;
	lost.lost_count = 7;
	summary_add(s, &lost);
	memset(&hdr, 0, sizeof(hdr));
	hdr.type = LR_HEADER;
	summary_add(s, &hdr);

	char *j = render_json(s);

	expect(j, "\"transitions_total\":14");
	expect(j, "\"stuck_total\":1");
	expect(j, "\"lost\":7");
	expect(j, "\"connections\":{\"opened\":3,\"active\":2,\"passive\":1,\"closed\":2,"
		  "\"failed\":1,\"resets\":1}");
	expect(j, "{\"old\":\"CLOSE\",\"new\":\"SYN_SENT\",\"count\":3}");
	expect(j, "\"CLOSE_WAIT\":{\"count\":1,\"p50_ms\":1000.123,\"p90_ms\":1000.123,"
		  "\"p99_ms\":1000.123,\"max_ms\":1000.123}");
	expect(j, "\"SYN_SENT\":{\"count\":3,");
	expect(j, "\"max_ms\":1.500}");
	expect(j, "\"first\":\"2026-11-18T");
	/* listener and the last client connection are open at the end, longest first */
	expect(j, "\"open_total\":2");
	expect(j, "\"open_at_end\":[{\"pid\":100,\"comm\":\"client\",\"proto\":\"tcp\","
		  "\"laddr\":\"127.0.0.1\",\"lport\":80,\"raddr\":\"127.0.0.2\",\"rport\":0,"
		  "\"sock\":1,\"netns\":0,\"state\":\"LISTEN\"");
	expect(j, "\"ms\":1400.000}");
	expect(j, "\"state\":\"ESTABLISHED\"");
	/* 127.0.0.2:80 saw two connections (cookies 2 and 5) */
	expect(j, "\"top_remotes\":[{\"proto\":\"tcp\",\"raddr\":\"127.0.0.2\",\"rport\":80,"
		  "\"rservice\":null,\"connections\":2,\"events\":7,\"bytes_sent\":0,"
		  "\"bytes_received\":0}");
	expect(j, "{\"pid\":null,\"comm\":null,\"connections\":1,\"events\":1,\"bytes_sent\":0,"
		  "\"bytes_received\":0}");
	expect(j, "\"stuck_by_state\":{\"LISTEN\":1}");
	free(j);

	char *t = render_text(s);

	expect(t, "Connections: 3 opened (2 active, 1 passive), 2 closed, 1 failed connects, "
		  "1 resets");
	expect(t, "  CLOSE_WAIT          1    1000.123    1000.123    1000.123    1000.123");
	expect(t, "Open at end of log: 2");
	expect(t, "Stuck alerts: 1");
	expect(t, "127.0.0.2:80\n");
	free(t);
	summary_free(s);
}

/* Percentiles within the histogram's 1.6% over a wide range. */
static void test_percentiles(void **state)
{
	struct summary *s = summary_new();

	for (uint64_t i = 1; i <= 1000; i++) {
		struct lr_record r = rec(i, TT_CLOSE_WAIT, TT_LAST_ACK, i, i * 1000, 1, 2);

		summary_add(s, &r);
	}
	char *j = render_json(s);
	char *p = strstr(j, "\"CLOSE_WAIT\":{\"count\":1000,\"p50_ms\":");
	double p50, p90, p99, max;

	assert_non_null(p);
	assert_int_equal(sscanf(p,
				"\"CLOSE_WAIT\":{\"count\":1000,\"p50_ms\":%lf,\"p90_ms\":%lf,"
				"\"p99_ms\":%lf,\"max_ms\":%lf",
				&p50, &p90, &p99, &max),
			 4);
	assert_true(p50 > 500 * 0.984 && p50 < 500 * 1.016);
	assert_true(p90 > 900 * 0.984 && p90 < 900 * 1.016);
	assert_true(p99 > 990 * 0.984 && p99 <= 1000);
	assert_true(max == 1000.0);
	free(j);
	summary_free(s);
}

/* Many sockets opening and closing out of order: the table's deletes stay consistent. */
static void test_many_sockets(void **state)
{
	struct summary *s = summary_new();
	uint64_t n = 20000, open = 0;

	for (uint64_t i = 0; i < n; i++) {
		struct lr_record r = rec(i * 2654435761ULL, TT_CLOSE, TT_SYN_SENT, i, UINT64_MAX, 1,
					 (uint16_t)(i % 7 + 1));

		assert_int_equal(summary_add(s, &r), 0);
	}
	for (uint64_t i = 0; i < n; i += 1 + i % 3) {
		struct lr_record r = rec(i * 2654435761ULL, TT_SYN_SENT, TT_CLOSE, n + i, 5, 1,
					 (uint16_t)(i % 7 + 1));

		assert_int_equal(summary_add(s, &r), 0);
		open++;
	}
	/* a second close of the same sockets must find nothing left */
	for (uint64_t i = 0; i < n; i++) {
		struct lr_record r =
			rec(i * 2654435761ULL, TT_SYN_SENT, TT_ESTABLISHED, 2 * n + i, 5, 1, 1);

		summary_add(s, &r);
	}
	char *j = render_json(s);
	char want[64];

	/* every socket is open again (closed ones came back as new sockets) */
	snprintf(want, sizeof(want), "\"open_total\":%llu", (unsigned long long)n);
	expect(j, want);
	snprintf(want, sizeof(want), "\"failed\":%llu", (unsigned long long)open);
	expect(j, want);
	free(j);
	summary_free(s);
}

/* The summed lost count saturates at 2^64-1 instead of wrapping to a small number. */
static void test_lost_saturates(void **state)
{
	struct summary *s = summary_new();
	struct lr_record lost;
	char *j, *t;

	memset(&lost, 0, sizeof(lost));
	lost.type = LR_LOST;
	lost.wall_ns = T0;
	lost.lost_count = UINT64_MAX - 5;
	assert_int_equal(summary_add(s, &lost), 0);
	lost.lost_count = 5;
	assert_int_equal(summary_add(s, &lost), 0);
	j = render_json(s);
	expect(j, "\"lost\":18446744073709551615,");
	free(j);
	lost.lost_count = 7; /* would wrap to 6 */
	assert_int_equal(summary_add(s, &lost), 0);
	lost.lost_count = UINT64_MAX;
	assert_int_equal(summary_add(s, &lost), 0);
	j = render_json(s);
	t = render_text(s);
	expect(j, "\"lost\":18446744073709551615,");
	expect(t, " stuck alerts, 18446744073709551615 lost\n");
	free(j);
	free(t);
	summary_free(s);
}

/* Text output of strings from the log: no control byte reaches the terminal; JSON escapes. */
static void test_hostile_strings(void **state)
{
	struct summary *s = summary_new();
	struct lr_record r = rec(1, TT_CLOSE, TT_SYN_SENT, 0, UINT64_MAX, 5000, 80);
	struct lr_record st = rec(1, TT_SYN_SENT, TT_SYN_SENT, 1, 1000, 5000, 80);
	char *t, *j;

	memcpy(r.ev.comm, "\x1b]0;pwned\x07", 11);
	r.rsvc = "\x1b]0;pwned\x07\xc2\x9b";
	r.lsvc = r.rsvc;
	assert_int_equal(summary_add(s, &r), 0);
	st.type = LR_STUCK;
	st.ev.type = TT_EV_STUCK;
	memcpy(st.ev.comm, "caf\xc3\xa9\x7f", 7);
	assert_int_equal(summary_add(s, &st), 0);
	t = render_text(s);
	j = render_json(s);
	for (const char *p = t; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if ((c < 0x20 && c != '\n') || c == 0x7f ||
		    (c == 0xc2 && (unsigned char)p[1] < 0xa0))
			fail_msg("control byte 0x%02x at %td in:\n%s", c, p - t, t);
	}
	expect(t, "?]0;pwned?"); /* the process, in the top list and the open socket */
	expect(t, "127.0.0.2:?]0;pwned???\n");
	expect(t, "caf\xc3\xa9?"); /* the stuck alert's owner: valid UTF-8 stays */
	expect(j, "\"comm\":\"\\u001b]0;pwned\\u0007\"");
	expect(j, "\"rservice\":\"\\u001b]0;pwned\\u0007");
	free(t);
	free(j);
	summary_free(s);
}

/* The JSON between two keys, for comparing two summaries' exact parts. */
static char *json_part(const char *j, const char *from, const char *to)
{
	const char *a = strstr(j, from), *b = a ? strstr(a, to) : NULL;

	assert_non_null(b);
	return strndup(a, (size_t)(b - a));
}

/* The fields of a socket that make it, the process and the remote all distinct. */
static struct lr_record distinct(uint64_t i, int o, int n, uint64_t at_ms)
{
	struct lr_record r = rec(i + 1, o, n, at_ms, o == TT_CLOSE ? UINT64_MAX : 10, 80,
				 (uint16_t)(1 + i % 60000));

	r.ev.daddr[2] = (uint8_t)(i >> 16);
	r.ev.daddr[3] = (uint8_t)(i >> 8);
	r.ev.pid = (uint32_t)(1000 + i);
	return r;
}

/*
 * With a small bound, the counts stay exact (the same as without a bound), memory stays under
 * the bound, and the summary says how many sockets and events it could not track.
 */
static void test_memory_bound(void **state)
{
	struct summary *free_s = summary_new(), *s;
	struct summary_opts o;
	struct summary_untracked u;
	const uint64_t n = 20000;
	uint64_t hot = 0;

	/* room for the fixed part and a few KiB of tables */
	o.mem_max = summary_mem_used(free_s) + 48 * 1024;
	s = summary_new_opts(&o);
	assert_int_equal(summary_mem_max(s), o.mem_max);
	for (uint64_t i = 0; i < n; i++) {
		struct lr_record r = distinct(i, TT_CLOSE, TT_SYN_SENT, i);

		if (i % 10 == 0) { /* one process seen from the start: its counts stay exact */
			r.ev.pid = 7;
			hot++;
		}
		assert_int_equal(summary_add(s, &r), 0);
		assert_int_equal(summary_add(free_s, &r), 0);
		assert_true(summary_mem_used(s) <= o.mem_max);
	}
	summary_get_untracked(s, &u);
	assert_true(u.sockets > 0 && u.sockets < n);
	assert_int_equal(summary_open(s) + u.sockets, n);
	assert_int_equal(u.socket_events, u.sockets);
	assert_true(u.process_events > 0 && u.remote_events > 0);
	assert_int_equal(summary_open(free_s), n);

	char *j = render_json(s), *fj = render_json(free_s), *t = render_text(s), *a, *b, want[160];

	a = json_part(j, "\"first\"", ",\"incomplete\"");
	b = json_part(fj, "\"first\"", ",\"incomplete\"");
	assert_string_equal(a, b); /* times, transitions, stuck and lost: exact */
	free(a);
	free(b);
	a = json_part(j, "\"connections\"", ",\"top_processes\"");
	b = json_part(fj, "\"connections\"", ",\"top_processes\"");
	assert_string_equal(a, b); /* connections, transitions, durations: exact */
	free(a);
	free(b);
	snprintf(want, sizeof(want),
		 "{\"pid\":7,\"comm\":\"client\",\"connections\":%llu,\"events\":%llu,"
		 "\"bytes_sent\":0,\"bytes_received\":0}",
		 (unsigned long long)hot, (unsigned long long)hot);
	expect(j, want);
	expect(fj, want);
	snprintf(want, sizeof(want),
		 "\"untracked\":{\"sockets\":%llu,\"socket_events\":%llu,\"process_events\":%llu,"
		 "\"remote_events\":%llu,\"cgroup_events\":%llu}",
		 (unsigned long long)u.sockets, (unsigned long long)u.socket_events,
		 (unsigned long long)u.process_events, (unsigned long long)u.remote_events,
		 (unsigned long long)u.cgroup_events);
	expect(j, want);
	expect(fj, "\"untracked\":{\"sockets\":0,\"socket_events\":0,\"process_events\":0,"
		   "\"remote_events\":0,\"cgroup_events\":0}");
	snprintf(want, sizeof(want), "\"memory_bound\":%zu,", o.mem_max);
	expect(j, want);
	expect(fj, "\"memory_bound\":260046848,");
	snprintf(want, sizeof(want), "\"open_total\":%llu,", (unsigned long long)summary_open(s));
	expect(j, want);
	snprintf(want, sizeof(want),
		 "Open at end of log: at least %llu; %llu sockets not tracked (memory bound)\n",
		 (unsigned long long)summary_open(s), (unsigned long long)u.sockets);
	expect(t, want);
	expect(t, "NOTE: the memory bound (");
	snprintf(want, sizeof(want),
		 "  (and %llu events of processes first seen past the memory bound",
		 (unsigned long long)u.process_events);
	expect(t, want);
	free(j);
	free(fj);
	free(t);

	/*
	 * Every socket closes: the tracked ones leave the table, the refused ones' transitions
	 * are counted as untracked and never enter it from the middle of their lives.
	 */
	for (uint64_t i = 0; i < n; i++) {
		struct lr_record r = distinct(i, TT_SYN_SENT, TT_CLOSE, n + i);

		assert_int_equal(summary_add(s, &r), 0);
	}
	struct summary_untracked u2;

	summary_get_untracked(s, &u2);
	assert_int_equal(summary_open(s), 0);
	assert_int_equal(u2.sockets, u.sockets);
	assert_int_equal(u2.socket_events, 2 * u.sockets);
	/* room again: new sockets are tracked */
	for (uint64_t i = 0; i < 10; i++) {
		struct lr_record r = distinct(n + i, TT_CLOSE, TT_LISTEN, 2 * n + i);

		assert_int_equal(summary_add(s, &r), 0);
	}
	assert_int_equal(summary_open(s), 10);
	t = render_text(s);
	expect(t, "Open at end of log: at least 10; ");
	free(t);
	assert_true(summary_mem_used(s) <= o.mem_max);
	summary_free(s);
	summary_free(free_s);
}

/* A bound too small for any table: everything is counted, nothing listed, nothing crashes. */
static void test_memory_bound_tiny(void **state)
{
	struct summary_opts o = {.mem_max = 1};
	struct summary *s = summary_new_opts(&o);
	struct summary_untracked u;

	for (uint64_t i = 0; i < 100; i++) {
		struct lr_record r = distinct(i, TT_CLOSE, TT_SYN_SENT, i);

		assert_int_equal(summary_add(s, &r), 0);
	}
	summary_get_untracked(s, &u);
	assert_int_equal(summary_open(s), 0);
	assert_int_equal(u.sockets, 100);
	assert_int_equal(u.process_events, 100);
	assert_int_equal(u.remote_events, 100);
	char *t = render_text(s), *j = render_json(s);

	expect(t, "Events: 100 transitions");
	expect(t, "Open at end of log: at least 0; 100 sockets not tracked (memory bound)\n");
	expect(t, "NOTE: the memory bound (1 bytes) was reached");
	expect(j, "\"transitions_total\":100,");
	expect(j, "\"top_processes\":[],");
	free(t);
	free(j);
	summary_free(s);
	/* 0 and anything over the bound mean the bound */
	o.mem_max = 0;
	s = summary_new_opts(&o);
	assert_int_equal(summary_mem_max(s), SUMMARY_MEM_MAX);
	summary_free(s);
	o.mem_max = SUMMARY_MEM_MAX + 1;
	s = summary_new_opts(&o);
	assert_int_equal(summary_mem_max(s), SUMMARY_MEM_MAX);
	summary_free(s);
}

#define CID "4c6b5a1f2e3d4c5b6a7980e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5"

/* A record of a socket in the cgroup at path (NULL: the log names none). */
static struct lr_record in_cgroup(struct lr_record r, const char *path)
{
	static struct cg_desc descs[8];
	static int next;
	struct cg_desc *d = &descs[next++ % 8];

	memset(d, 0, sizeof(*d));
	if (!path)
		return r;
	d->path = path;
	d->path_len = strlen(path);
	cg_parse_path(path, d->path_len, &d->ident);
	r.cg = d;
	return r;
}

/* Top containers/units: a container (with its pod), a unit, a plain cgroup, an unknown one. */
static void test_top_containers(void **state)
{
	static const char pod[] =
		"/kubepods/besteffort/pod0a1b2c3d-4e5f-6789-abcd-ef0123456789/" CID;
	static const char evil[] = "/tt-\x1b]0;x\x07";
	struct summary *s = summary_new();
	struct lr_record r;
	char *t, *j;

	/* two connections of the container, one of nginx, one of a plain cgroup, one unknown */
	for (uint64_t i = 0; i < 2; i++) {
		r = in_cgroup(rec(10 + i, TT_CLOSE, TT_SYN_SENT, 1, UINT64_MAX, 5000, 80), pod);
		assert_int_equal(summary_add(s, &r), 0);
		r = in_cgroup(rec(10 + i, TT_SYN_SENT, TT_ESTABLISHED, 2, 5, 5000, 80), pod);
		assert_int_equal(summary_add(s, &r), 0);
	}
	r = in_cgroup(rec(20, TT_CLOSE, TT_LISTEN, 3, UINT64_MAX, 80, 0),
		      "/system.slice/nginx.service");
	assert_int_equal(summary_add(s, &r), 0);
	r = in_cgroup(rec(21, TT_CLOSE, TT_LISTEN, 3, UINT64_MAX, 81, 0), evil);
	assert_int_equal(summary_add(s, &r), 0);
	r = in_cgroup(rec(22, TT_CLOSE, TT_LISTEN, 3, UINT64_MAX, 82, 0), NULL);
	assert_int_equal(summary_add(s, &r), 0);

	t = render_text(s);
	expect(t, "\nTop containers/units:\n       CONNS      EVENTS  KIND       NAME\n"
		  "           2           4  container  4c6b5a1f2e3d  pod "
		  "0a1b2c3d-4e5f-6789-abcd-ef0123456789\n");
	expect(t, "           1           1  unit       nginx.service\n");
	expect(t, "           1           1  cgroup     /tt-?]0;x?\n"); /* printable only */
	expect(t, "           1           1  -          -\n");
	/* next to the processes, before the remote endpoints */
	assert_true(strstr(t, "Top processes:") < strstr(t, "Top containers/units:"));
	assert_true(strstr(t, "Top containers/units:") < strstr(t, "Top remote endpoints:"));
	free(t);
	j = render_json(s);
	expect(j, "\"top_containers\":[{\"kind\":\"container\",\"name\":\"" CID "\","
		  "\"pod\":\"0a1b2c3d-4e5f-6789-abcd-ef0123456789\",\"connections\":2,"
		  "\"events\":4},");
	expect(j, "{\"kind\":\"unit\",\"name\":\"nginx.service\",\"pod\":null,"
		  "\"connections\":1,\"events\":1}");
	expect(j, "{\"kind\":\"cgroup\",\"name\":\"/tt-\\u001b]0;x\\u0007\",\"pod\":null,");
	expect(j, "{\"kind\":null,\"name\":null,\"pod\":null,\"connections\":1,\"events\":1}]");
	free(j);
	summary_free(s);

	/* a log without cgroup keys (older versions): no table */
	s = summary_new();
	r = rec(1, TT_CLOSE, TT_LISTEN, 0, UINT64_MAX, 80, 0);
	assert_int_equal(summary_add(s, &r), 0);
	t = render_text(s);
	assert_null(strstr(t, "Top containers/units"));
	free(t);
	j = render_json(s);
	expect(j, "\"top_containers\":[],");
	free(j);
	summary_free(s);
}

/* An event at the epoch itself is an event: the span is not "no events". */
static void test_epoch_event(void **state)
{
	struct summary *s = summary_new();
	struct lr_record r = rec(1, TT_CLOSE, TT_LISTEN, 0, UINT64_MAX, 80, 0);

	r.wall_ns = 0;
	assert_int_equal(summary_add(s, &r), 0);
	char *j = render_json(s);

	expect(j, "\"first\":\"1970-01-01T00:00:00.000000Z\",\"last\":\"1970-01-01T00:00:00."
		  "000000Z\"");
	free(j);
	summary_free(s);
}

/* A final transition of cookie, at at_ms, with a cause and its totals. */
static struct lr_record end(uint64_t cookie, int o, int n, uint64_t at_ms, uint16_t lport,
			    uint16_t rport, unsigned int cause, uint64_t sent, uint64_t received,
			    uint32_t retrans, uint64_t life_us)
{
	struct lr_record r = rec(cookie, o, n, at_ms, 100, lport, rport);

	r.ev.flags |= TT_F_TOTALS;
	r.ev.cause = (__u8)cause;
	r.ev.bytes_sent = sent;
	r.ev.bytes_received = received;
	r.ev.retrans = retrans;
	r.ev.life_ns = life_us * 1000;
	return r;
}

/* Why connections ended, their totals, lifetimes by cause, bytes per process and endpoint. */
static void test_ends(void **state)
{
	struct summary *s = summary_new();
	struct lr_record r[] = {
		rec(1, TT_CLOSE, TT_SYN_SENT, 0, UINT64_MAX, 5000, 80),
		rec(1, TT_SYN_SENT, TT_ESTABLISHED, 1, 50, 5000, 80),
		end(1, TT_FIN_WAIT2, TT_TIME_WAIT, 5, 5000, 80, TT_CAUSE_TIMEWAIT, 1000, 200, 3,
		    50),
		end(2, TT_ESTABLISHED, TT_CLOSE, 6, 5001, 80, TT_CAUSE_RESET_IN, 10, 20, 0, 20),
		end(3, TT_SYN_SENT, TT_CLOSE, 7, 5002, 81, TT_CAUSE_REFUSED, 0, 0, 1, 10),
		/* older than the recording: a lower bound, left out of the lifetimes */
		end(4, TT_LISTEN, TT_CLOSE, 8, 80, 0, TT_CAUSE_LISTENER_CLOSED, 0, 0, 0, 9000),
		/* not followed by the kernel: no lifetime; a cause out of range is unknown */
		end(5, TT_CLOSE_WAIT, TT_CLOSE, 9, 5003, 80, 200, 5, 5, 0, 0),
		/* a cause without the flag is no final transition */
		rec(6, TT_CLOSE, TT_SYN_SENT, 10, UINT64_MAX, 5004, 80),
	};

	r[4].ev.syn_retrans = 1;
	r[5].ev.flags |= TT_F_LIFE_MIN;
	r[6].ev.flags &= (__u16)~TT_F_OWNER_KNOWN;
	r[7].ev.cause = TT_CAUSE_RESET_OUT;
	r[7].ev.bytes_sent = 1000000;
	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++)
		assert_int_equal(summary_add(s, &r[i]), 0);

	char *j = render_json(s);

	expect(j, "\"ends\":{\"closed\":0,\"timewait\":1,\"refused\":1,\"timeout\":0,"
		  "\"reset_in\":1,\"reset_out\":0,\"abort\":0,\"listener_closed\":1,"
		  "\"unknown\":1},");
	expect(j, "\"traffic\":{\"ended\":5,\"bytes_sent\":1015,\"bytes_received\":225,"
		  "\"retrans\":4,\"retrans_connections\":2,\"syn_retrans\":1},");
	expect(j, "\"lifetimes\":{\"all\":{\"count\":3,\"p50_ms\":0.020,\"p90_ms\":0.050,"
		  "\"p99_ms\":0.050,\"max_ms\":0.050},\"timewait\":{\"count\":1,\"p50_ms\":0.050,"
		  "\"p90_ms\":0.050,\"p99_ms\":0.050,\"max_ms\":0.050},\"refused\":{\"count\":1,"
		  "\"p50_ms\":0.010,\"p90_ms\":0.010,\"p99_ms\":0.010,\"max_ms\":0.010},"
		  "\"reset_in\":{\"count\":1,\"p50_ms\":0.020,\"p90_ms\":0.020,\"p99_ms\":0.020,"
		  "\"max_ms\":0.020}},\"lifetimes_min_only\":1,");
	expect(j, "{\"pid\":100,\"comm\":\"client\",\"connections\":5,\"events\":7,"
		  "\"bytes_sent\":1010,\"bytes_received\":220}");
	expect(j, "{\"pid\":null,\"comm\":null,\"connections\":1,\"events\":1,"
		  "\"bytes_sent\":5,\"bytes_received\":5}");
	expect(j, "{\"proto\":\"tcp\",\"raddr\":\"127.0.0.2\",\"rport\":80,\"rservice\":null,"
		  "\"connections\":4,\"events\":6,\"bytes_sent\":1015,\"bytes_received\":225}");
	expect(j, "{\"proto\":\"tcp\",\"raddr\":\"127.0.0.2\",\"rport\":81,\"rservice\":null,"
		  "\"connections\":1,\"events\":1,\"bytes_sent\":0,\"bytes_received\":0}");
	free(j);

	char *t = render_text(s);

	expect(t, "\nWhy connections ended:\n"
		  "       COUNT  CAUSE\n"
		  "           1  timewait         this end closed first (TIME_WAIT)\n"
		  "           1  refused          connect refused (a reset answered the SYN)\n"
		  "           1  reset_in         reset by the peer\n"
		  "           1  listener_closed  a listener closed\n"
		  "           1  unknown          the kernel did not say\n"
		  "  Totals: 5 ended; 1015 bytes sent, 225 received; 4 segments retransmitted by 2 "
		  "of them; 1 SYN retransmits\n"
		  "\nConnection lifetime (ms):\n"
		  "  CAUSE               COUNT         P50         P90         P99         MAX\n"
		  "  all                     3       0.020       0.050       0.050       0.050\n"
		  "  timewait                1       0.050       0.050       0.050       0.050\n"
		  "  refused                 1       0.010       0.010       0.010       0.010\n"
		  "  reset_in                1       0.020       0.020       0.020       0.020\n"
		  "  (not counted: 1 lower bounds, of sockets older than the recording)\n"
		  "\nTop processes:\n"
		  "       CONNS      EVENTS          SENT      RECEIVED  PID       COMM\n"
		  "           5           7          1010           220  100       client\n"
		  "           1           1             5             5  -         -\n");
	expect(t, "\nTop remote endpoints:\n"
		  "       CONNS      EVENTS          SENT      RECEIVED  ENDPOINT\n"
		  "           4           6          1015           225  127.0.0.2:80\n"
		  "           1           1             0             0  127.0.0.2:81\n");
	free(t);

	/* More of one cause comes first; sums saturate rather than wrap. */
	for (int i = 0; i < 2; i++) {
		struct lr_record x = end(10 + (uint64_t)i, TT_ESTABLISHED, TT_CLOSE, 20, 6000, 80,
					 TT_CAUSE_RESET_OUT, UINT64_MAX, 1, UINT32_MAX, 100);

		assert_int_equal(summary_add(s, &x), 0);
	}
	t = render_text(s);
	expect(t, "       COUNT  CAUSE\n           2  reset_out        reset by this end\n"
		  "           1  timewait ");
	expect(t, "  Totals: 7 ended; 18446744073709551615 bytes sent, 227 received; 8589934594 "
		  "segments retransmitted by 4 of them; 1 SYN retransmits\n");
	free(t);
	summary_free(s);

	/* No final transition (a log of an older version): no such sections, zeros in JSON. */
	s = summary_new();
	assert_int_equal(summary_add(s, &r[0]), 0);
	t = render_text(s);
	j = render_json(s);
	assert_null(strstr(t, "Why connections ended"));
	assert_null(strstr(t, "Connection lifetime"));
	expect(j, "\"traffic\":{\"ended\":0,");
	expect(j, "\"lifetimes\":{},\"lifetimes_min_only\":0,");
	free(t);
	free(j);
	summary_free(s);
}

static void test_empty(void **state)
{
	struct summary *s = summary_new();
	char *j = render_json(s), *t = render_text(s);

	expect(j, "\"first\":null");
	expect(t, "no events");
	free(j);
	free(t);
	summary_free(s);
}

/* The line after the one starting with title in text, and that line. */
static void table_lines(const char *text, const char *title, char *hdr, char *row, size_t n)
{
	const char *h = strstr(text, title);
	const char *r;

	assert_non_null(h);
	r = strchr(h, '\n') + 1;
	snprintf(hdr, n, "%.*s", (int)(strchr(h, '\n') - h), h);
	snprintf(row, n, "%.*s", (int)(strchr(r, '\n') - r), r);
}

/* The column after the last character of each whitespace-separated word of line. */
static int word_ends(const char *line, long *ends, int max)
{
	int n = 0;

	for (long i = 0; line[i] && n < max; i++) {
		if (line[i] != ' ' && (line[i + 1] == ' ' || !line[i + 1]))
			ends[n++] = i + 1;
	}
	return n;
}

/* Titles and numbers of a table end in the same columns: words first..last of both lines. */
static void expect_aligned(const char *text, const char *title, int first, int last)
{
	char hdr[256], row[256];
	long he[16], re[16];

	table_lines(text, title, hdr, row, sizeof(hdr));
	assert_true(word_ends(hdr, he, 16) > last);
	assert_true(word_ends(row, re, 16) > last);
	for (int i = first; i <= last; i++) {
		if (he[i] != re[i])
			fail_msg("column %d: title ends at %ld, value at %ld\n%s\n%s", i, he[i],
				 re[i], hdr, row);
	}
}

/* The column where each whitespace-separated word of line starts. */
static int word_starts(const char *line, long *starts, int max)
{
	int n = 0;

	for (long i = 0; line[i] && n < max; i++) {
		if (line[i] != ' ' && (!i || line[i - 1] == ' '))
			starts[n++] = i;
	}
	return n;
}

/*
 * The table under the heading section (its titles, then its first row): the first nright
 * words are right-aligned numbers that end where their titles end, the nleft after them
 * left-aligned values that start where their titles start.
 */
static void expect_table(const char *text, const char *section, int nright, int nleft)
{
	const char *h = strstr(text, section);
	char hdr[256], row[256];
	long ht[16], rt[16];

	if (!h)
		fail_msg("missing %s in:\n%s", section, text);
	table_lines(h + strlen(section), "  ", hdr, row, sizeof(hdr));
	assert_true(word_ends(hdr, ht, 16) >= nright && word_ends(row, rt, 16) >= nright);
	for (int i = 0; i < nright; i++) {
		if (ht[i] != rt[i])
			fail_msg("column %d: title ends at %ld, value at %ld\n%s\n%s", i, ht[i],
				 rt[i], hdr, row);
	}
	assert_true(word_starts(hdr, ht, 16) >= nright + nleft);
	assert_true(word_starts(row, rt, 16) >= nright + nleft);
	for (int i = nright; i < nright + nleft; i++) {
		if (ht[i] != rt[i])
			fail_msg("column %d: title starts at %ld, value at %ld\n%s\n%s", i, ht[i],
				 rt[i], hdr, row);
	}
}

/*
 * Every table's titles stand over its values: numbers right-aligned (the percentile tables,
 * the counts and bytes of the top lists), names left-aligned (the top lists' last columns,
 * the sockets open at the end up to LOCAL ADDRESS, whose title is two words).
 */
static void test_columns_line_up(void **state)
{
	struct summary *s = summary_new();
	struct lr_record r[] = {
		in_cgroup(rec(2, TT_CLOSE, TT_SYN_SENT, 10, UINT64_MAX, 5000, 80),
			  "/system.slice/nginx.service"),
		rec(2, TT_SYN_SENT, TT_ESTABLISHED, 11, 1500, 5000, 80),
		end(2, TT_ESTABLISHED, TT_CLOSE, 6000, 5000, 80, TT_CAUSE_RESET_IN, 10, 20, 0, 20),
		rec(3, TT_CLOSE, TT_SYN_SENT, 6001, UINT64_MAX, 5001, 443),
	};

	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++)
		assert_int_equal(summary_add(s, &r[i]), 0);
	char *t = render_text(s);

	expect_aligned(t, "  STATE ", 1, 5); /* COUNT P50 P90 P99 MAX */
	expect_aligned(t, "  CAUSE ", 1, 5);
	expect_aligned(t, "       COUNT  CAUSE", 0, 0); /* COUNT */
	expect_table(t, "\nTop processes:\n", 4, 2);	/* CONNS EVENTS SENT RECEIVED, PID COMM */
	expect_table(t, "\nTop containers/units:\n", 2, 2); /* CONNS EVENTS, KIND NAME */
	expect_table(t, "\nTop remote endpoints:\n", 4, 1); /* ..., ENDPOINT */
	expect_table(t, "\nOpen at end of log: 1\n", 0, 5); /* STATE FOR(ms) PID COMM LOCAL */
	free(t);
	summary_free(s);
}

/* Into a buffer whose allocation failed: nothing is written, and its length stays 0. */
static void test_text_out_of_memory(void **state)
{
	struct summary *s = summary_new();
	struct lr_record r = rec(1, TT_SYN_SENT, TT_ESTABLISHED, 11, 1500, 5000, 80);
	struct outbuf ob;

	assert_int_equal(summary_add(s, &r), 0);
	ob_init(&ob);
	ob.oom = 1; /* as after a failed first allocation */
	summary_text(s, &ob, 0);
	assert_int_equal(ob.len, 0); /* a table row must not take back bytes it never wrote */
	assert_null(ob.data);
	summary_free(s);
}

/* A stuck alert whose log does not say how long: "-", as the event lines show it. */
static void test_stuck_without_duration(void **state)
{
	struct summary *s = summary_new();
	struct lr_record st = rec(1, TT_CLOSE_WAIT, TT_CLOSE_WAIT, 10, UINT64_MAX, 80, 5000);

	st.type = LR_STUCK;
	st.ev.type = TT_EV_STUCK;
	assert_int_equal(summary_add(s, &st), 0);
	char *t = render_text(s);

	expect(t, "  CLOSE_WAIT   -             client           127.0.0.1:80 -> 127.0.0.2:5000\n");
	free(t);
	summary_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scenario),
		cmocka_unit_test(test_percentiles),
		cmocka_unit_test(test_many_sockets),
		cmocka_unit_test(test_lost_saturates),
		cmocka_unit_test(test_hostile_strings),
		cmocka_unit_test(test_memory_bound),
		cmocka_unit_test(test_top_containers),
		cmocka_unit_test(test_memory_bound_tiny),
		cmocka_unit_test(test_epoch_event),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_ends),
		cmocka_unit_test(test_columns_line_up),
		cmocka_unit_test(test_stuck_without_duration),
		cmocka_unit_test(test_text_out_of_memory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
