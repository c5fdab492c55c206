// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Unit tests of src/snapfmt.[ch]: selection, idle time, netstat text and JSON. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include "tt_test.h"
#include "filter.h"
#include "format.h"
#include "snapfmt.h"
#include "stuck_rule.h"

#define MS 1000000LL

static struct outbuf ob;

static int setup(void **state)
{
	ob_init(&ob);
	return 0;
}

static int teardown(void **state)
{
	ob_free(&ob);
	return 0;
}

/* The buffer as a NUL-terminated string (appends a NUL past len). */
static const char *str(void)
{
	ob_putc(&ob, '\0');
	ob.len--;
	return ob.data;
}

static struct tt_sock_rec v4(int state, const char *la, uint16_t lp, const char *ra, uint16_t rp)
{
	struct tt_sock_rec r;

	memset(&r, 0, sizeof(r));
	r.family = AF_INET;
	r.state = (uint8_t)state;
	inet_pton(AF_INET, la, r.saddr);
	inet_pton(AF_INET, ra, r.daddr);
	r.sport = lp;
	r.dport = rp;
	r.lastrcv_ns = -1;
	r.lastsnd_ns = -1;
	return r;
}

static struct tt_sock_rec v6(int state, const char *la, uint16_t lp, const char *ra, uint16_t rp)
{
	struct tt_sock_rec r = v4(state, "0.0.0.0", lp, "0.0.0.0", rp);

	r.family = AF_INET6;
	inet_pton(AF_INET6, la, r.saddr);
	inet_pton(AF_INET6, ra, r.daddr);
	return r;
}

static struct services *svc(void)
{
	struct services *s = services_of("http\t80/tcp www\nipp\t631/tcp\n", 2);

	assert_non_null(s);
	return s;
}

static void test_state_and_timer_names(void **state)
{
	assert_string_equal(snap_state_name(TT_FIN_WAIT2_TW), "FIN_WAIT2");
	assert_string_equal(snap_state_name(TT_NEW_SYN_RECV), "SYN_RECV");
	assert_string_equal(snap_state_name(TT_SYN_RECV), "SYN_RECV");
	assert_string_equal(snap_state_name(TT_CLOSE_WAIT), "CLOSE_WAIT");
	assert_string_equal(snap_state_name(99), "UNKNOWN");
	assert_string_equal(snap_timer_name(0), "off");
	assert_string_equal(snap_timer_name(2), "keepalive");
	assert_string_equal(snap_timer_name(3), "timewait");
	assert_string_equal(snap_timer_name(4), "probe");
	assert_string_equal(snap_timer_name(9), "unknown");
}

static void test_idle(void **state)
{
	struct tt_sock_rec r = v4(TT_CLOSE_WAIT, "127.0.0.1", 80, "127.0.0.1", 5000);

	assert_int_equal(snap_idle_ns(&r), -1);
	r.lastrcv_ns = 5000 * MS;
	assert_int_equal(snap_idle_ns(&r), 5000 * MS);
	r.lastsnd_ns = 200 * MS; /* the owner still writes: idle since the last send */
	assert_int_equal(snap_idle_ns(&r), 200 * MS);
	r.lastrcv_ns = -1;
	assert_int_equal(snap_idle_ns(&r), 200 * MS);

	r = v4(TT_TIME_WAIT, "127.0.0.1", 5000, "127.0.0.1", 80);
	r.timer = 3;
	r.timer_ns = 45000 * MS;
	assert_int_equal(snap_idle_ns(&r), 15000 * MS);
	r.timer_ns = -5; /* expired but not yet reaped */
	assert_int_equal(snap_idle_ns(&r), (int64_t)SNAP_TIMEWAIT_NS);
	r.timer_ns = 70000 * MS; /* longer than TIME_WAIT: no negative idle */
	assert_int_equal(snap_idle_ns(&r), 0);
}

static void test_select_listening(void **state)
{
	struct tt_filter f;
	struct snap_selection sel;
	struct tt_sock_rec l = v4(TT_LISTEN, "0.0.0.0", 80, "0.0.0.0", 0);
	struct tt_sock_rec e = v4(TT_ESTABLISHED, "127.0.0.1", 80, "127.0.0.1", 5000);

	memset(&f, 0, sizeof(f));
	sel = (struct snap_selection){.filter = &f};
	assert_false(snap_select(&sel, &l)); /* netstat -t: no servers */
	assert_true(snap_select(&sel, &e));
	sel.all = 1;
	assert_true(snap_select(&sel, &l));
	assert_true(snap_select(&sel, &e));
	sel.all = 0;
	sel.listening = 1;
	assert_true(snap_select(&sel, &l));
	assert_false(snap_select(&sel, &e));
	/* --state LISTEN alone shows listeners without -a */
	memset(&f, 0, sizeof(f));
	sel = (struct snap_selection){.filter = &f};
	f.state_mask = 1u << TT_LISTEN;
	assert_true(snap_select(&sel, &l));
	assert_false(snap_select(&sel, &e));
	/* garbage states never pass */
	e.state = 0;
	assert_false(snap_select(&sel, &e));
	e.state = 200;
	sel.all = 1;
	f.state_mask = 0;
	assert_false(snap_select(&sel, &e));
}

static void test_select_filters(void **state)
{
	struct tt_filter f;
	struct snap_selection sel;
	struct tt_sock_rec e = v4(TT_ESTABLISHED, "127.0.0.1", 80, "127.0.0.1", 5000);
	struct tt_sock_rec tw = v4(TT_FIN_WAIT2_TW, "127.0.0.1", 5001, "127.0.0.1", 80);
	struct tt_sock_rec six = v6(TT_ESTABLISHED, "::1", 631, "::1", 6000);

	memset(&f, 0, sizeof(f));
	sel = (struct snap_selection){.filter = &f};
	f.family = 6;
	assert_false(snap_select(&sel, &e));
	assert_true(snap_select(&sel, &six));
	f.family = 0;
	f.nlports = 1;
	f.lports[0] = 631;
	assert_false(snap_select(&sel, &e));
	assert_true(snap_select(&sel, &six));
	f.nlports = 0;
	f.nports = 1;
	f.ports[0] = 80;
	assert_true(snap_select(&sel, &e));
	assert_true(snap_select(&sel, &tw)); /* remote port 80 */
	assert_false(snap_select(&sel, &six));
	/* --state FIN_WAIT2 is parsed into both bits; a FIN_WAIT2 timewait socket matches. */
	f.state_mask = 1u << TT_FIN_WAIT2 | 1u << TT_FIN_WAIT2_TW;
	assert_true(snap_select(&sel, &tw));
	assert_false(snap_select(&sel, &e));
	f.nnetns = 1;
	f.netns[0] = 42;
	tw.netns = 41;
	assert_false(snap_select(&sel, &tw));
	tw.netns = 42;
	assert_true(snap_select(&sel, &tw));
}

static void test_select_stuck(void **state)
{
	static const struct stuck_rule rules[] = {
		{.state = TT_CLOSE_WAIT, .ns = 30000 * MS},
		{.state = TT_FIN_WAIT2, .ns = 10000 * MS},
	};
	struct tt_filter f;
	struct snap_selection sel;
	struct tt_sock_rec cw = v4(TT_CLOSE_WAIT, "127.0.0.1", 80, "127.0.0.1", 5000);
	struct tt_sock_rec e = v4(TT_ESTABLISHED, "127.0.0.1", 81, "127.0.0.1", 5001);
	struct tt_sock_rec tw = v4(TT_FIN_WAIT2_TW, "127.0.0.1", 5002, "127.0.0.1", 80);

	memset(&f, 0, sizeof(f));
	sel = (struct snap_selection){.filter = &f};
	sel.stuck = rules;
	sel.nstuck = 2;
	assert_false(snap_select(&sel, &cw)); /* idle unknown */
	cw.lastrcv_ns = 29999 * MS;
	cw.lastsnd_ns = 40000 * MS;
	assert_false(snap_select(&sel, &cw));
	cw.lastrcv_ns = 30000 * MS;
	assert_true(snap_select(&sel, &cw));
	e.lastrcv_ns = e.lastsnd_ns = 99999 * MS;
	assert_false(snap_select(&sel, &e)); /* no rule for ESTABLISHED */
	tw.timer = 3;
	tw.timer_ns = 55000 * MS; /* 5 s into the timewait period */
	assert_false(snap_select(&sel, &tw));
	tw.timer_ns = 45000 * MS;
	assert_true(snap_select(&sel, &tw));
}

static void test_title_header(void **state)
{
	struct snapfmt_opts o;

	memset(&o, 0, sizeof(o));
	snapfmt_title(&ob, 1, 0);
	snapfmt_title(&ob, 0, 1);
	snapfmt_title(&ob, 0, 0);
	assert_string_equal(str(), "Active Internet connections (servers and established)\n"
				   "Active Internet connections (only servers)\n"
				   "Active Internet connections (w/o servers)\n");
	ob_reset(&ob);
	snapfmt_header(&ob, &o);
	assert_string_equal(str(), "Proto Recv-Q Send-Q Local Address           Foreign Address "
				   "        State\n");
	ob_reset(&ob);
	o.programs = 1;
	snapfmt_header(&ob, &o);
	assert_string_equal(str(), "Proto Recv-Q Send-Q Local Address           Foreign Address "
				   "        State       PID/Program name\n");
	ob_reset(&ob);
	o.programs = 0;
	o.extended = 1;
	o.netns = 1;
	snapfmt_header(&ob, &o);
	assert_non_null(strstr(str(), "State       Netns      User      Inode     Sock        "
				      "Timer"));
	assert_non_null(strstr(str(), "Lastrcv  Lastsnd  Cgroup\n"));
}

/* The issue's own example lines, byte for byte. */
static void test_text_like_netstat(void **state)
{
	struct services *s = svc();
	struct snapfmt_opts o = {.svc = s};
	struct tt_sock_rec l = v4(TT_LISTEN, "127.0.0.1", 80, "0.0.0.0", 0);
	struct tt_sock_rec tw = v4(TT_TIME_WAIT, "127.0.0.1", 44468, "127.0.0.1", 80);
	struct tt_sock_rec cw = v6(TT_CLOSE_WAIT, "::1", 35094, "::1", 631);

	cw.recvq = 1;
	snapfmt_text(&ob, &o, &l, NULL, 0, NULL, NULL, NULL);
	snapfmt_text(&ob, &o, &tw, NULL, 0, NULL, NULL, NULL);
	snapfmt_text(&ob, &o, &cw, NULL, 0, NULL, NULL, NULL);
	assert_string_equal(
		str(),
		"tcp        0      0 127.0.0.1:http          0.0.0.0:*               LISTEN\n"
		"tcp        0      0 127.0.0.1:44468         127.0.0.1:http          TIME_WAIT\n"
		"tcp6       1      0 ::1:35094               ::1:ipp                 CLOSE_WAIT\n");
	ob_reset(&ob);
	o.numeric = 1;
	snapfmt_text(&ob, &o, &l, NULL, 0, NULL, NULL, NULL);
	assert_string_equal(
		str(),
		"tcp        0      0 127.0.0.1:80            0.0.0.0:*               LISTEN\n");
	services_free(s);
}

static void test_text_long_and_owners(void **state)
{
	struct snapfmt_opts o = {.numeric = 1, .programs = 1};
	struct tt_sock_rec r = v6(TT_ESTABLISHED, "2001:db8:1234:5678:9abc:def0:1234:5678", 443,
				  "2001:db8::1", 55555);
	struct tt_owner_rec own[3] = {
		{.ino = 1, .pid = 10, .comm = "nginx"},
		{.ino = 1, .pid = 10, .comm = "nginx"},
		{.ino = 1, .pid = 11, .comm = "nginx: worker"},
	};

	r.recvq = 1234567;
	r.sendq = 12;
	snapfmt_text(&ob, &o, &r, own, 3, NULL, NULL, NULL);
	/* Never truncated: a long address pushes the line right, one space at least. */
	assert_string_equal(str(),
			    "tcp6  1234567     12 2001:db8:1234:5678:9abc:def0:1234:5678:443 "
			    "2001:db8::1:55555       ESTABLISHED 10/nginx,11/nginx: worker\n");
	ob_reset(&ob);
	snapfmt_text(&ob, &o, &r, NULL, 0, "example.org", "peer.example", NULL);
	assert_non_null(strstr(str(), " example.org:443         peer.example:55555 "));
	assert_non_null(strstr(str(), "ESTABLISHED -\n"));
	/* a PTR record is the remote's to choose: no escape sequence reaches the terminal */
	ob_reset(&ob);
	snapfmt_text(&ob, &o, &r, NULL, 0, "\x1b]0;pwned\x07.example", "caf\xc3\xa9.example", NULL);
	assert_non_null(strstr(str(), " ?]0;pwned?.example:443 "));
	assert_non_null(strstr(str(), " caf\xc3\xa9.example:55555 "));
}

static void test_text_extended(void **state)
{
	struct snapfmt_opts o = {.numeric = 1, .extended = 1};
	struct tt_sock_rec r = v4(TT_ESTABLISHED, "10.0.0.1", 22, "10.0.0.2", 50000);

	r.uid = 1000;
	r.ino = 123456;
	r.sock_cookie = 4096;
	r.timer = 2;
	r.timer_ns = 7199990 * MS;
	r.retrans = 1;
	r.probes = 2;
	r.rtt_us = 1500;
	r.rttvar_us = 250;
	r.lastrcv_ns = 65 * 1000 * MS;
	r.lastsnd_ns = 850 * MS;
	snapfmt_text(&ob, &o, &r, NULL, 0, NULL, NULL, NULL);
	assert_string_equal(str(),
			    "tcp        0      0 10.0.0.1:22             10.0.0.2:50000      "
			    "    ESTABLISHED 1000      123456    4096        keepalive "
			    "(7199.99/1/2) 1.500/0.250     1m05s    850ms    -\n");
	ob_reset(&ob);
	r = v4(TT_TIME_WAIT, "10.0.0.1", 22, "10.0.0.2", 50000);
	r.timer = 3;
	r.timer_ns = -1; /* expired: never a negative time */
	snapfmt_text(&ob, &o, &r, NULL, 0, NULL, NULL, NULL);
	assert_non_null(
		strstr(str(), "timewait (0.00/0/0)   -               -        -        -\n"));
}

static void test_json(void **state)
{
	struct services *s = svc();
	struct snapfmt_opts o = {.svc = s, .numeric = 1, .programs = 1};
	struct tt_sock_rec r = v4(TT_CLOSE_WAIT, "127.0.0.1", 80, "127.0.0.1", 44468);
	struct tt_owner_rec own[2] = {
		{.ino = 9, .pid = 10, .comm = "a\"b"},
		{.ino = 9, .pid = 12, .comm = "c"},
	};

	r.recvq = 1;
	r.uid = 33;
	r.ino = 9;
	r.sock_cookie = 77;
	r.netns = 4026531840u;
	r.lastrcv_ns = 2500 * MS;
	r.lastsnd_ns = 3000 * MS;
	r.rtt_us = 40;
	r.rttvar_us = 20;
	snapfmt_json(&ob, &o, &r, own, 2, NULL, NULL, NULL);
	assert_string_equal(
		str(),
		"{\"proto\":\"tcp\",\"laddr\":\"127.0.0.1\",\"lport\":80,\"raddr\":\"127.0.0.1\","
		"\"rport\":44468,\"lservice\":\"http\",\"rservice\":null,\"state\":\"CLOSE_WAIT\","
		"\"recvq\":1,\"sendq\":0,\"uid\":33,\"inode\":9,\"sock\":77,\"netns\":4026531840,"
		"\"timer\":\"off\",\"timer_ms\":0,\"retrans\":0,\"probes\":0,\"rtt_us\":40,"
		"\"rttvar_us\":20,\"lastrcv_ms\":2500,\"lastsnd_ms\":3000,\"cgroup\":null,"
		"\"container\":null,\"container_id\":null,\"pod\":null,\"unit\":null,\"pid\":10,"
		"\"comm\":"
		"\"a\\\"b\",\"owners\":[{\"pid\":10,\"comm\":\"a\\\"b\"},{\"pid\":12,\"comm\":"
		"\"c\"}]}"
		"\n");
	ob_reset(&ob);
	r = v6(TT_LISTEN, "::", 631, "::", 0);
	o.resolve = 1;
	snapfmt_json(&ob, &o, &r, NULL, 0, NULL, NULL, NULL);
	assert_non_null(strstr(str(), "\"laddr\":\"::\",\"lport\":631,\"raddr\":\"::\",\"rport\":0,"
				      "\"lservice\":\"ipp\",\"rservice\":null,\"lhost\":null,"
				      "\"rhost\":null,\"state\":\"LISTEN\""));
	assert_non_null(strstr(str(), "\"rtt_us\":null,\"rttvar_us\":null,\"lastrcv_ms\":null,"
				      "\"lastsnd_ms\":null,\"cgroup\":null,\"container\":null,"
				      "\"container_id\":null,\"pod\":null,\"unit\":null,"
				      "\"pid\":null,\"comm\":null,\"owners\":[]}\n"));
	services_free(s);
}

#define CID "4c6b5a1f2e3d4c5b6a7980e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5"

/* A socket's cgroup: the Cgroup column (-e) and the JSON keys, also with no process (-p). */
static void test_cgroup(void **state)
{
	static const char path[] =
		"/kubepods/besteffort/pod0a1b2c3d-4e5f-6789-abcd-ef0123456789/" CID;
	struct cg_desc cg = {.serial = 7, .path = path, .path_len = sizeof(path) - 1};
	struct cg_desc unit = {.serial = 8,
			       .path = "/system.slice/nginx.service",
			       .path_len = strlen("/system.slice/nginx.service")};
	struct fmt_ctx fmt;
	struct snapfmt_opts o = {.numeric = 1, .extended = 1, .programs = 1, .fmt = &fmt};
	struct tt_sock_rec r = v4(TT_TIME_WAIT, "10.0.0.1", 22, "10.0.0.2", 50000);

	fmt_ctx_init(&fmt, 0);
	cg_parse_path(path, sizeof(path) - 1, &cg.ident);
	cg_parse_path(unit.path, unit.path_len, &unit.ident);
	r.timer = 3;
	snapfmt_text(&ob, &o, &r, NULL, 0, NULL, NULL, &cg);
	assert_non_null(strstr(str(), "-        -        4c6b5a1f2e3d  -\n"));
	ob_reset(&ob);
	snapfmt_text(&ob, &o, &r, NULL, 0, NULL, NULL, &unit);
	assert_non_null(strstr(str(), "-        -        nginx.service -\n"));
	ob_reset(&ob);
	o.programs = 0;
	snapfmt_text(&ob, &o, &r, NULL, 0, NULL, NULL, NULL);
	assert_non_null(strstr(str(), "-        -        -\n"));
	for (int i = 0; i < 2; i++) { /* the second from the memo */
		ob_reset(&ob);
		snapfmt_json(&ob, &o, &r, NULL, 0, NULL, NULL, &cg);
		assert_non_null(strstr(str(),
				       "\"lastsnd_ms\":null,\"cgroup\":\"/kubepods/besteffort/"
				       "pod0a1b2c3d-4e5f-6789-abcd-ef0123456789/" CID
				       "\",\"container\":\"4c6b5a1f2e3d\",\"container_id\":\"" CID
				       "\",\"pod\":\"0a1b2c3d-4e5f-6789-abcd-ef0123456789\","
				       "\"unit\":null}\n"));
	}
	/* without a memo: the same */
	o.fmt = NULL;
	ob_reset(&ob);
	snapfmt_json(&ob, &o, &r, NULL, 0, NULL, NULL, &unit);
	assert_non_null(strstr(str(), ",\"cgroup\":\"/system.slice/nginx.service\",\"container\""
				      ":null,\"container_id\":null,\"pod\":null,\"unit\":"
				      "\"nginx.service\"}\n"));
}

static void test_duration(void **state)
{
	static const struct {
		int64_t ns;
		const char *want;
	} cases[] = {
		{-1, "-"},
		{0, "0ms"},
		{999999, "0ms"},
		{850 * MS, "850ms"},
		{1000 * MS, "1.0s"},
		{12345 * MS, "12.3s"},
		{60000 * MS, "1m00s"},
		{303000 * MS, "5m03s"},
		{3600000 * MS, "1h00m"},
		{7500000 * MS, "2h05m"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ob_reset(&ob);
		snapfmt_duration(&ob, cases[i].ns);
		assert_string_equal(str(), cases[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_and_timer_names),
		cmocka_unit_test(test_idle),
		cmocka_unit_test(test_select_listening),
		cmocka_unit_test(test_select_filters),
		cmocka_unit_test(test_select_stuck),
		cmocka_unit_test_setup_teardown(test_title_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_text_like_netstat, setup, teardown),
		cmocka_unit_test_setup_teardown(test_text_long_and_owners, setup, teardown),
		cmocka_unit_test_setup_teardown(test_text_extended, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cgroup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duration, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
