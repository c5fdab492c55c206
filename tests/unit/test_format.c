// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Unit tests of src/format.[ch]: addresses, endpoints, timestamps, text and JSON event lines,
 * the lost-events line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <cmocka.h>
#include "tt_test.h"
#include "format.h"
#include "jsonw.h"
#include "owners.h"

/* 2023-11-14T22:13:20Z plus 123456789 ns. */
#define T0_SEC 1700000000ULL
#define T0_NS  (T0_SEC * 1000000000ULL + 123456789ULL)

static int setup_utc(void **state)
{
	setenv("TZ", "UTC", 1);
	tzset();
	return 0;
}

static void v4(uint8_t a[16], const char *s)
{
	memset(a, 0, 16);
	assert_int_equal(inet_pton(AF_INET, s, a), 1);
}

static void v6(uint8_t a[16], const char *s)
{
	assert_int_equal(inet_pton(AF_INET6, s, a), 1);
}

static void check_addr(int family, const char *in, const char *out)
{
	uint8_t a[16];
	char buf[TT_ADDRSTRLEN];
	size_t n;

	if (family == AF_INET)
		v4(a, in);
	else
		v6(a, in);
	memset(buf, 'X', sizeof(buf));
	n = fmt_addr(buf, family, a);
	assert_string_equal(buf, out);
	assert_int_equal(n, strlen(out));
}

static void test_addr(void **state)
{
	check_addr(AF_INET, "127.0.0.1", "127.0.0.1");
	check_addr(AF_INET, "0.0.0.0", "0.0.0.0");
	check_addr(AF_INET, "255.255.255.255", "255.255.255.255");
	check_addr(AF_INET, "10.20.3.4", "10.20.3.4");
	check_addr(AF_INET6, "::1", "::1");
	check_addr(AF_INET6, "::", "::");
	check_addr(AF_INET6, "2001:db8::1", "2001:db8::1");
	check_addr(AF_INET6, "fe80:0:0:0:0:0:1:2", "fe80::1:2");
	check_addr(AF_INET6, "2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1");
	check_addr(AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
		   "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	/* IPv4-mapped IPv6 prints as IPv4, as netstat does. */
	check_addr(AF_INET6, "::ffff:10.0.0.1", "10.0.0.1");
	check_addr(AF_INET6, "::ffff:0.0.0.0", "0.0.0.0");
	check_addr(AF_INET6, "::ffff:255.255.255.255", "255.255.255.255");
	/* Not mapped: other prefixes stay IPv6. */
	check_addr(AF_INET6, "::fffe:a00:1", "::fffe:a00:1");
	check_addr(AF_INET6, "1::ffff:a00:1", "1::ffff:a00:1");
}

static void test_proto(void **state)
{
	assert_string_equal(fmt_proto(AF_INET), "tcp");
	assert_string_equal(fmt_proto(AF_INET6), "tcp6");
}

static void endpoint(int family, const char *addr, uint16_t port, const char *svc, const char *out)
{
	struct outbuf ob;
	uint8_t a[16];

	if (family == AF_INET)
		v4(a, addr);
	else
		v6(a, addr);
	ob_init(&ob);
	fmt_endpoint(&ob, family, a, port, svc);
	assert_ob(&ob, out);
	ob_free(&ob);
}

static void test_endpoint(void **state)
{
	endpoint(AF_INET, "127.0.0.1", 8080, NULL, "127.0.0.1:8080");
	endpoint(AF_INET, "127.0.0.1", 80, "http", "127.0.0.1:http");
	endpoint(AF_INET, "0.0.0.0", 0, NULL, "0.0.0.0:*");
	endpoint(AF_INET, "0.0.0.0", 0, "ignored", "0.0.0.0:*"); /* '*' wins over a name */
	endpoint(AF_INET, "1.2.3.4", 65535, NULL, "1.2.3.4:65535");
	endpoint(AF_INET6, "::", 0, NULL, ":::*");
	endpoint(AF_INET6, "::1", 443, "https", "::1:https");
	endpoint(AF_INET6, "::ffff:192.168.1.1", 22, NULL, "192.168.1.1:22");
}

static void test_time_rfc3339(void **state)
{
	struct fmt_ctx c;
	char out[28];

	fmt_ctx_init(&c, 0);
	out[27] = '\0';
	fmt_time_rfc3339(&c, 0, out);
	assert_string_equal(out, "1970-01-01T00:00:00.000000Z");
	fmt_time_rfc3339(&c, T0_NS, out);
	assert_string_equal(out, "2023-11-14T22:13:20.123456Z");
	/* Same second from the cache, new fraction. */
	fmt_time_rfc3339(&c, T0_SEC * 1000000000ULL + 999999999ULL, out);
	assert_string_equal(out, "2023-11-14T22:13:20.999999Z");
	/* Next second, and a leap day. */
	fmt_time_rfc3339(&c, (T0_SEC + 1) * 1000000000ULL + 1000, out);
	assert_string_equal(out, "2023-11-14T22:13:21.000001Z");
	fmt_time_rfc3339(&c, 1709164800ULL * 1000000000ULL, out);
	assert_string_equal(out, "2024-02-29T00:00:00.000000Z");
	fmt_time_rfc3339(&c, UINT64_MAX, out); /* the latest representable instant */
	assert_string_equal(out, "2554-07-21T23:34:33.709551Z");
}

static void test_time_local(void **state)
{
	struct fmt_ctx c;
	char out[13];

	out[12] = '\0';
	fmt_ctx_init(&c, 0);
	fmt_time_local(&c, T0_NS, out);
	assert_string_equal(out, "22:13:20.123");
	fmt_time_local(&c, T0_SEC * 1000000000ULL + 5000000, out);
	assert_string_equal(out, "22:13:20.005");
	fmt_time_local(&c, (T0_SEC + 3599) * 1000000000ULL + 999999999, out);
	assert_string_equal(out, "23:13:19.999");
	fmt_time_local(&c, 0, out);
	assert_string_equal(out, "00:00:00.000");

	/* A POSIX TZ string needs no tz database: UTC-2 is two hours east of UTC. */
	setenv("TZ", "XYZ-2", 1);
	tzset();
	fmt_ctx_init(&c, 0);
	fmt_time_local(&c, T0_NS, out);
	assert_string_equal(out, "00:13:20.123");
	setenv("TZ", "UTC", 1);
	tzset();
}

static void test_text_header(void **state)
{
	struct fmt_ctx c;
	struct outbuf ob;
	char expect[256];

	ob_init(&ob);
	fmt_ctx_init(&c, 0);
	fmt_text_header(&ob, &c);
	snprintf(expect, sizeof(expect), "%-14s%-8s%-16s%-6s%-22s%-22s%-15s%-13s%s\n", "TIME",
		 "PID", "COMM", "PROTO", "LOCAL ADDRESS", "FOREIGN ADDRESS", "OLD", "NEW", "MS");
	assert_ob(&ob, expect);

	ob_reset(&ob);
	fmt_ctx_init(&c, 1);
	fmt_text_header(&ob, &c);
	snprintf(expect, sizeof(expect),
		 "%-14s%-8s%-16s%-6s%-22s%-22s%-15s%-13s%-10s%-16s%-12s%-12s%-12s%s\n", "TIME",
		 "PID", "COMM", "PROTO", "LOCAL ADDRESS", "FOREIGN ADDRESS", "OLD", "NEW", "MS",
		 "CAUSE", "TX/RX", "SOCK", "NETNS", "CGROUP");
	assert_ob(&ob, expect);
	ob_free(&ob);
}

/* The cgroup keys of a socket whose cgroup is not known. */
#define CG_NULL \
	",\"cgroup\":null,\"container\":null,\"container_id\":null,\"pod\":null,\"unit\":null"

/* A known event: curl on 10.0.0.1:43210 -> 93.184.216.34:443, ESTABLISHED -> FIN_WAIT1. */
static void known_event(struct tt_event *e)
{
	memset(e, 0, sizeof(*e));
	e->ts_ns = 5000;
	e->sock_cookie = 4097;
	e->delta_ns = 12345678; /* 12.345678 ms */
	e->pid = 1234;
	e->netns = 4026531840u;
	v4(e->saddr, "10.0.0.1");
	v4(e->daddr, "93.184.216.34");
	e->sport = 43210;
	e->dport = 443;
	e->family = AF_INET;
	e->oldstate = TT_ESTABLISHED;
	e->newstate = TT_FIN_WAIT1;
	e->type = TT_EV_STATE;
	e->flags = TT_F_OWNER_KNOWN | TT_F_DELTA_KNOWN;
	strcpy(e->comm, "curl");
}

static void text_line(const struct tt_event *e, int extended, const char *lsvc, const char *rsvc,
		      const char *expect)
{
	struct fmt_ctx c;
	struct outbuf ob;

	ob_init(&ob);
	fmt_ctx_init(&c, extended);
	fmt_event_text(&ob, &c, e, T0_NS, lsvc, rsvc, NULL, NULL);
	assert_ob(&ob, expect);
	ob_free(&ob);
}

static void test_event_text(void **state)
{
	struct tt_event e;
	char expect[512];

	known_event(&e);
	snprintf(expect, sizeof(expect), "%-14s%-8s%-16s%-6s%-22s%-22s%-12s-> %-13s%s\n",
		 "22:13:20.123", "1234", "curl", "tcp", "10.0.0.1:43210", "93.184.216.34:https",
		 "ESTABLISHED", "FIN_WAIT1", "12.345");
	text_line(&e, 0, NULL, "https", expect);

	/* Owner and delta unknown: dashes. */
	e.flags = 0;
	snprintf(expect, sizeof(expect), "%-14s%-8s%-16s%-6s%-22s%-22s%-12s-> %-13s%s\n",
		 "22:13:20.123", "-", "-", "tcp", "10.0.0.1:43210", "93.184.216.34:443",
		 "ESTABLISHED", "FIN_WAIT1", "-");
	text_line(&e, 0, NULL, NULL, expect);

	/* Lower bound delta, listening socket with port 0 remote. */
	known_event(&e);
	e.flags |= TT_F_DELTA_MIN;
	e.delta_ns = 2000000000; /* 2 s */
	v4(e.daddr, "0.0.0.0");
	e.dport = 0;
	e.oldstate = TT_LISTEN;
	e.newstate = TT_CLOSE;
	snprintf(expect, sizeof(expect), "%-14s%-8s%-16s%-6s%-22s%-22s%-12s-> %-13s%s\n",
		 "22:13:20.123", "1234", "curl", "tcp", "10.0.0.1:43210", "0.0.0.0:*", "LISTEN",
		 "CLOSE", ">2000.000");
	text_line(&e, 0, NULL, NULL, expect);

	/* Stuck alerts say ">> STUCK". */
	known_event(&e);
	e.type = TT_EV_STUCK;
	e.oldstate = TT_CLOSE_WAIT;
	e.newstate = TT_CLOSE_WAIT;
	snprintf(expect, sizeof(expect), "%-14s%-8s%-16s%-6s%-22s%-22s%-12s>> %-13s%s\n",
		 "22:13:20.123", "1234", "curl", "tcp", "10.0.0.1:43210", "93.184.216.34:443",
		 "CLOSE_WAIT", "STUCK", "12.345");
	text_line(&e, 0, NULL, NULL, expect);

	/*
	 * Extended: MS padded to 10, CAUSE to 16 and TX/RX to 12 ("-": not a final transition),
	 * SOCK to 12, NETNS to 12, then CGROUP ("-": unknown).
	 */
	known_event(&e);
	snprintf(expect, sizeof(expect),
		 "%-14s%-8s%-16s%-6s%-22s%-22s%-12s-> %-13s%-10s%-16s%-12s%-12s%-12s%s\n",
		 "22:13:20.123", "1234", "curl", "tcp", "10.0.0.1:43210", "93.184.216.34:443",
		 "ESTABLISHED", "FIN_WAIT1", "12.345", "-", "-", "4097", "4026531840", "-");
	text_line(&e, 1, NULL, NULL, expect);
	e.flags &= (uint16_t)~TT_F_DELTA_KNOWN;
	e.sock_cookie = 123456789012345ULL; /* wider than its column: one space */
	snprintf(expect, sizeof(expect),
		 "%-14s%-8s%-16s%-6s%-22s%-22s%-12s-> %-13s%-10s%-16s%-12s%s %-12s%s\n",
		 "22:13:20.123", "1234", "curl", "tcp", "10.0.0.1:43210", "93.184.216.34:443",
		 "ESTABLISHED", "FIN_WAIT1", "-", "-", "-", "123456789012345", "4026531840", "-");
	text_line(&e, 1, NULL, NULL, expect);
}

/* A final transition: the server reset a connection that sent 1234 bytes and received 340. */
static void final_event(struct tt_event *e)
{
	known_event(e);
	e->oldstate = TT_ESTABLISHED;
	e->newstate = TT_CLOSE;
	e->flags |= TT_F_TOTALS | TT_F_RESET;
	e->cause = TT_CAUSE_RESET_OUT;
	e->bytes_sent = 1234;
	e->bytes_received = 340;
	e->segs_out = 5;
	e->segs_in = 4;
	e->srtt_us = 31;
	e->rttvar_us = 15;
	e->life_ns = 2000000;
}

static void test_event_text_final(void **state)
{
	struct tt_event e;
	char expect[512];

	/* Without -e a final transition looks like any other. */
	final_event(&e);
	snprintf(expect, sizeof(expect), "%-14s%-8s%-16s%-6s%-22s%-22s%-12s-> %-13s%s\n",
		 "22:13:20.123", "1234", "curl", "tcp", "10.0.0.1:43210", "93.184.216.34:443",
		 "ESTABLISHED", "CLOSE", "12.345");
	text_line(&e, 0, NULL, NULL, expect);
	/* -e: the cause and tx/rx after MS. */
	snprintf(expect, sizeof(expect),
		 "%-14s%-8s%-16s%-6s%-22s%-22s%-12s-> %-13s%-10s%-16s%-12s%-12s%-12s%s\n",
		 "22:13:20.123", "1234", "curl", "tcp", "10.0.0.1:43210", "93.184.216.34:443",
		 "ESTABLISHED", "CLOSE", "12.345", "reset_out", "1.2K/340", "4097", "4026531840",
		 "-");
	text_line(&e, 1, NULL, NULL, expect);
	/* The widest cause fills its column; the widest counts overflow theirs by one space. */
	e.cause = TT_CAUSE_LISTENER_CLOSED;
	e.bytes_sent = 1047552;
	e.bytes_received = 1048063;
	snprintf(expect, sizeof(expect),
		 "%-14s%-8s%-16s%-6s%-22s%-22s%-12s-> %-13s%-10s%-16s%-12s%-12s%-12s%s\n",
		 "22:13:20.123", "1234", "curl", "tcp", "10.0.0.1:43210", "93.184.216.34:443",
		 "ESTABLISHED", "CLOSE", "12.345", "listener_closed", "1023K/1023K", "4097",
		 "4026531840", "-");
	text_line(&e, 1, NULL, NULL, expect);
	/* A listener: no bytes of its own; a cause out of range is unknown. */
	e.oldstate = TT_LISTEN;
	e.cause = 99;
	snprintf(expect, sizeof(expect),
		 "%-14s%-8s%-16s%-6s%-22s%-22s%-12s-> %-13s%-10s%-16s%-12s%-12s%-12s%s\n",
		 "22:13:20.123", "1234", "curl", "tcp", "10.0.0.1:43210", "93.184.216.34:443",
		 "LISTEN", "CLOSE", "12.345", "unknown", "-", "4097", "4026531840", "-");
	text_line(&e, 1, NULL, NULL, expect);
}

static void test_event_text_wide(void **state)
{
	struct tt_event e;
	char expect[512];

	/* A 15-byte comm fills its column but one space; long IPv6 endpoints overflow theirs. */
	known_event(&e);
	e.family = AF_INET6;
	v6(e.saddr, "2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff");
	v6(e.daddr, "::ffff:10.1.2.3");
	memcpy(e.comm, "abcdefghijklmno", 16);
	e.pid = 4194304;
	e.oldstate = TT_FIN_WAIT2;
	e.newstate = TT_FIN_WAIT2_TW;
	snprintf(expect, sizeof(expect), "%-14s%-8s%-16s%-6s%s %-22s%-12s-> %-13s%s\n",
		 "22:13:20.123", "4194304", "abcdefghijklmno", "tcp6",
		 "2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff:43210", "10.1.2.3:443", "FIN_WAIT2",
		 "FIN_WAIT2_TW", "12.345");
	text_line(&e, 0, NULL, NULL, expect);

	/* 16 comm bytes without NUL print all 16, then one space. */
	memcpy(e.comm, "0123456789abcdef", 16);
	e.oldstate = 99; /* out of range states print UNKNOWN */
	snprintf(expect, sizeof(expect), "%-14s%-8s%s %-6s%s %-22s%-12s-> %-13s%s\n",
		 "22:13:20.123", "4194304", "0123456789abcdef", "tcp6",
		 "2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff:43210", "10.1.2.3:443", "UNKNOWN",
		 "FIN_WAIT2_TW", "12.345");
	text_line(&e, 0, NULL, NULL, expect);
}

static void json_line(const struct tt_event *e, const char *lsvc, const char *rsvc,
		      const char *expect)
{
	struct fmt_ctx c;
	struct outbuf ob;

	ob_init(&ob);
	fmt_ctx_init(&c, 0);
	fmt_event_json(&ob, &c, e, T0_NS, lsvc, rsvc, NULL, &cg_none);
	assert_ob(&ob, expect);
	ob_free(&ob);
}

static void test_event_json(void **state)
{
	struct tt_event e;

	known_event(&e);
	json_line(&e, NULL, "https",
		  "{\"type\":\"state\",\"time\":\"2023-11-14T22:13:20.123456Z\",\"pid\":1234,"
		  "\"comm\":\"curl\",\"proto\":\"tcp\",\"laddr\":\"10.0.0.1\",\"lport\":43210,"
		  "\"raddr\":\"93.184.216.34\",\"rport\":443,\"lservice\":null,"
		  "\"rservice\":\"https\",\"old\":\"ESTABLISHED\",\"new\":\"FIN_WAIT1\","
		  "\"ms\":12.345,\"sock\":4097,\"netns\":4026531840,\"reset\":false" CG_NULL "}\n");

	/* Owner unknown: null pid and comm; delta unknown: null ms; reset flag. */
	e.flags = TT_F_RESET;
	json_line(&e, "ssh", NULL,
		  "{\"type\":\"state\",\"time\":\"2023-11-14T22:13:20.123456Z\",\"pid\":null,"
		  "\"comm\":null,\"proto\":\"tcp\",\"laddr\":\"10.0.0.1\",\"lport\":43210,"
		  "\"raddr\":\"93.184.216.34\",\"rport\":443,\"lservice\":\"ssh\","
		  "\"rservice\":null,\"old\":\"ESTABLISHED\",\"new\":\"FIN_WAIT1\","
		  "\"ms\":null,\"sock\":4097,\"netns\":4026531840,\"reset\":true" CG_NULL "}\n");
}

/* A final transition: the totals come after "reset", before the cgroup keys. */
static void test_event_json_final(void **state)
{
	struct tt_event e;
	struct fmt_ctx c;
	struct outbuf ob;

	final_event(&e);
	json_line(&e, NULL, NULL,
		  "{\"type\":\"state\",\"time\":\"2023-11-14T22:13:20.123456Z\",\"pid\":1234,"
		  "\"comm\":\"curl\",\"proto\":\"tcp\",\"laddr\":\"10.0.0.1\",\"lport\":43210,"
		  "\"raddr\":\"93.184.216.34\",\"rport\":443,\"lservice\":null,"
		  "\"rservice\":null,\"old\":\"ESTABLISHED\",\"new\":\"CLOSE\",\"ms\":12.345,"
		  "\"sock\":4097,\"netns\":4026531840,\"reset\":true,\"cause\":\"reset_out\","
		  "\"error\":null,\"sk_err\":0,\"reset_reason\":null,\"bytes_sent\":1234,"
		  "\"bytes_received\":340,\"segs_out\":5,\"segs_in\":4,\"retrans\":0,"
		  "\"syn_retrans\":0,\"srtt_ms\":0.031,\"rttvar_ms\":0.015,"
		  "\"life_ms\":2.000" CG_NULL "}\n");
	/* The reset of a reset_out, sent after the transition, is a reset; timewait is none. */
	e.flags &= (uint16_t)~TT_F_RESET;
	ob_init(&ob);
	fmt_ctx_init(&c, 0);
	fmt_event_json(&ob, &c, &e, T0_NS, NULL, NULL, NULL, NULL);
	assert_non_null(strstr(ob.data, "\"reset\":true,\"cause\":\"reset_out\""));
	e.cause = TT_CAUSE_TIMEWAIT;
	ob_reset(&ob);
	fmt_event_json(&ob, &c, &e, T0_NS, NULL, NULL, NULL, NULL);
	assert_non_null(strstr(ob.data, "\"reset\":false,\"cause\":\"timewait\""));
	ob_free(&ob);
	e.flags |= TT_F_RESET;
	e.cause = TT_CAUSE_RESET_OUT;
	/* The flag decides, not the fields: without it the line is an ordinary one. */
	e.flags &= (uint16_t)~TT_F_TOTALS;
	json_line(&e, NULL, NULL,
		  "{\"type\":\"state\",\"time\":\"2023-11-14T22:13:20.123456Z\",\"pid\":1234,"
		  "\"comm\":\"curl\",\"proto\":\"tcp\",\"laddr\":\"10.0.0.1\",\"lport\":43210,"
		  "\"raddr\":\"93.184.216.34\",\"rport\":443,\"lservice\":null,"
		  "\"rservice\":null,\"old\":\"ESTABLISHED\",\"new\":\"CLOSE\",\"ms\":12.345,"
		  "\"sock\":4097,\"netns\":4026531840,\"reset\":true" CG_NULL "}\n");
	/* A stuck alert never has them. */
	e.flags |= TT_F_TOTALS;
	e.type = TT_EV_STUCK;
	json_line(&e, NULL, NULL,
		  "{\"type\":\"stuck\",\"time\":\"2023-11-14T22:13:20.123456Z\",\"pid\":1234,"
		  "\"comm\":\"curl\",\"proto\":\"tcp\",\"laddr\":\"10.0.0.1\",\"lport\":43210,"
		  "\"raddr\":\"93.184.216.34\",\"rport\":443,\"lservice\":null,"
		  "\"rservice\":null,\"state\":\"ESTABLISHED\",\"ms\":12.345,\"sock\":4097,"
		  "\"netns\":4026531840" CG_NULL "}\n");
}

static void test_event_json_stuck_v6(void **state)
{
	struct tt_event e;

	known_event(&e);
	e.type = TT_EV_STUCK;
	e.family = AF_INET6;
	v6(e.saddr, "::ffff:127.0.0.1");
	v6(e.daddr, "::1");
	e.oldstate = TT_CLOSE_WAIT;
	e.newstate = TT_CLOSE_WAIT;
	e.flags |= TT_F_DELTA_MIN;
	e.delta_ns = 30000000000ULL;
	json_line(&e, NULL, NULL,
		  "{\"type\":\"stuck\",\"time\":\"2023-11-14T22:13:20.123456Z\",\"pid\":1234,"
		  "\"comm\":\"curl\",\"proto\":\"tcp6\",\"laddr\":\"127.0.0.1\",\"lport\":43210,"
		  "\"raddr\":\"::1\",\"rport\":443,\"lservice\":null,\"rservice\":null,"
		  "\"state\":\"CLOSE_WAIT\",\"ms\":30000.000,\"ms_min\":true,\"sock\":4097,"
		  "\"netns\":4026531840" CG_NULL "}\n");
}

static void test_event_json_weird_comm(void **state)
{
	struct tt_event e;

	known_event(&e);
	e.flags = TT_F_OWNER_KNOWN;
	memcpy(e.comm, "a\"b\\c\n\x01\xff\xc3\xa9\x7f", 12);
	json_line(&e, NULL, NULL,
		  "{\"type\":\"state\",\"time\":\"2023-11-14T22:13:20.123456Z\",\"pid\":1234,"
		  "\"comm\":\"a\\\"b\\\\c\\u000a\\u0001\\u00ff\xc3\xa9\\u007f\",\"proto\":\"tcp\","
		  "\"laddr\":\"10.0.0.1\",\"lport\":43210,\"raddr\":\"93.184.216.34\","
		  "\"rport\":443,\"lservice\":null,\"rservice\":null,\"old\":\"ESTABLISHED\","
		  "\"new\":\"FIN_WAIT1\",\"ms\":null,\"sock\":4097,\"netns\":4026531840,"
		  "\"reset\":false" CG_NULL "}\n");

	/* A full 16-byte comm without NUL, and an empty one. */
	memcpy(e.comm, "0123456789abcdef", 16);
	json_line(&e, NULL, NULL,
		  "{\"type\":\"state\",\"time\":\"2023-11-14T22:13:20.123456Z\",\"pid\":1234,"
		  "\"comm\":\"0123456789abcdef\",\"proto\":\"tcp\",\"laddr\":\"10.0.0.1\","
		  "\"lport\":43210,\"raddr\":\"93.184.216.34\",\"rport\":443,\"lservice\":null,"
		  "\"rservice\":null,\"old\":\"ESTABLISHED\",\"new\":\"FIN_WAIT1\",\"ms\":null,"
		  "\"sock\":4097,\"netns\":4026531840,\"reset\":false" CG_NULL "}\n");
	memset(e.comm, 0, sizeof(e.comm));
	json_line(&e, NULL, NULL,
		  "{\"type\":\"state\",\"time\":\"2023-11-14T22:13:20.123456Z\",\"pid\":1234,"
		  "\"comm\":\"\",\"proto\":\"tcp\",\"laddr\":\"10.0.0.1\","
		  "\"lport\":43210,\"raddr\":\"93.184.216.34\",\"rport\":443,\"lservice\":null,"
		  "\"rservice\":null,\"old\":\"ESTABLISHED\",\"new\":\"FIN_WAIT1\",\"ms\":null,"
		  "\"sock\":4097,\"netns\":4026531840,\"reset\":false" CG_NULL "}\n");
}

/* Stuck alerts with their holders: snapshot -p's list, in text and JSON, and the orphan. */
static void test_stuck_holders(void **state)
{
	struct tt_owner_rec own[2] = {{.pid = 1234, .comm = "curl"},
				      {.pid = 1300, .comm = "curl\x1b"}};
	struct owners_list h = {.recs = own, .n = 2};
	struct tt_event e;
	struct fmt_ctx c;
	struct outbuf ob;
	char expect[512];

	known_event(&e);
	e.type = TT_EV_STUCK;
	e.oldstate = e.newstate = TT_CLOSE_WAIT;
	ob_init(&ob);
	fmt_ctx_init(&c, 0);
	fmt_event_text(&ob, &c, &e, T0_NS, NULL, NULL, &h, NULL);
	snprintf(expect, sizeof(expect), "%-14s%-8s%-16s%-6s%-22s%-22s%-12s>> %-13s%-10s%s\n",
		 "22:13:20.123", "1234", "curl", "tcp", "10.0.0.1:43210", "93.184.216.34:443",
		 "CLOSE_WAIT", "STUCK", "12.345", "1234/curl,1300/curl?");
	assert_ob(&ob, expect);

	/* -e: after NETNS; more holders than listed are counted. */
	ob_reset(&ob);
	fmt_ctx_init(&c, 1);
	h.more = 7;
	fmt_event_text(&ob, &c, &e, T0_NS, NULL, NULL, &h, NULL);
	snprintf(expect, sizeof(expect),
		 "%-14s%-8s%-16s%-6s%-22s%-22s%-12s>> %-13s%-10s%-16s%-12s%-12s%-12s%-14s%s\n",
		 "22:13:20.123", "1234", "curl", "tcp", "10.0.0.1:43210", "93.184.216.34:443",
		 "CLOSE_WAIT", "STUCK", "12.345", "-", "-", "4097", "4026531840", "-",
		 "1234/curl,1300/curl? (+7 more)");
	assert_ob(&ob, expect);

	ob_reset(&ob);
	fmt_ctx_init(&c, 0);
	fmt_event_json(&ob, &c, &e, T0_NS, NULL, NULL, &h, &cg_none);
	assert_ob(&ob, "{\"type\":\"stuck\",\"time\":\"2023-11-14T22:13:20.123456Z\",\"pid\":1234,"
		       "\"comm\":\"curl\",\"owners\":[{\"pid\":1234,\"comm\":\"curl\"},"
		       "{\"pid\":1300,\"comm\":\"curl\\u001b\"}],\"owners_more\":7,"
		       "\"proto\":\"tcp\",\"laddr\":\"10.0.0.1\",\"lport\":43210,"
		       "\"raddr\":\"93.184.216.34\",\"rport\":443,\"lservice\":null,"
		       "\"rservice\":null,\"state\":\"CLOSE_WAIT\",\"ms\":12.345,\"sock\":4097,"
		       "\"netns\":4026531840" CG_NULL "}\n");

	/* Orphaned: no process holds it; pid and comm null, "owners" empty. */
	e.flags &= (uint16_t)~TT_F_OWNER_KNOWN;
	h.n = 0;
	h.more = 0;
	ob_reset(&ob);
	fmt_event_json(&ob, &c, &e, T0_NS, NULL, NULL, &h, NULL);
	assert_non_null(
		memmem(ob.data, ob.len, "\"pid\":null,\"comm\":null,\"owners\":[],\"proto\"", 42));
	ob_reset(&ob);
	fmt_event_text(&ob, &c, &e, T0_NS, NULL, NULL, &h, NULL);
	snprintf(expect, sizeof(expect), "%-14s%-8s%-16s%-6s%-22s%-22s%-12s>> %-13s%-10s%s\n",
		 "22:13:20.123", "-", "-", "tcp", "10.0.0.1:43210", "93.184.216.34:443",
		 "CLOSE_WAIT", "STUCK", "12.345", "-");
	assert_ob(&ob, expect);
	ob_free(&ob);
}

/* Text output to a terminal: a process name cannot smuggle escape sequences. */
static void test_event_text_hostile_comm(void **state)
{
	struct tt_event e;
	struct fmt_ctx c;
	struct outbuf ob;

	known_event(&e);
	memset(e.comm, 0, sizeof(e.comm));
	memcpy(e.comm, "\x1b]0;pwn\x07\xc2\x9bx", 11);
	ob_init(&ob);
	fmt_ctx_init(&c, 0);
	fmt_event_text(&ob, &c, &e, T0_NS, NULL, "https", NULL, NULL);
	assert_non_null(memmem(ob.data, ob.len, "1234    ?]0;pwn???x     tcp", 27));
	for (size_t i = 0; i + 1 < ob.len; i++)
		assert_true((unsigned char)ob.data[i] >= 0x20 && ob.data[i] != 0x7f);
	ob_free(&ob);
}

/*
 * A service name read from a log (replay) goes to the terminal through the same filter as a
 * process name: control characters (C0, DEL, C1) and invalid UTF-8 become '?', valid UTF-8 stays.
 */
static void test_event_text_hostile_service(void **state)
{
	static const struct {
		const char *svc, *want;
	} cases[] = {
		{"\x1b]0;pwned\x07", ":?]0;pwned?"},
		{"caf\xc3\xa9", ":caf\xc3\xa9"},   /* U+00E9, printed as is */
		{"a\x7f\xc2\x9b.", ":a???."},	   /* DEL, CSI (U+009B) */
		{"\xff\xc3z", ":??z"},		   /* invalid bytes */
		{"\xe2\x80\xae", ":\xe2\x80\xae"}, /* U+202E is not a control character */
	};
	struct tt_event e;
	struct fmt_ctx c;
	struct outbuf ob;

	known_event(&e);
	ob_init(&ob);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ob_reset(&ob);
		fmt_ctx_init(&c, 0);
		fmt_event_text(&ob, &c, &e, T0_NS, cases[i].svc, cases[i].svc, NULL, NULL);
		if (!memmem(ob.data, ob.len, cases[i].want, strlen(cases[i].want)))
			fail_msg("case %zu: %.*s", i, (int)ob.len, ob.data);
		for (size_t k = 0; k + 1 < ob.len; k++) {
			unsigned char b = (unsigned char)ob.data[k];

			assert_true(b >= 0x20 && b != 0x7f);
			assert_false(b == 0xc2 && (unsigned char)ob.data[k + 1] < 0xa0);
		}
		/* fmt_endpoint(), which the summary uses, filters the same way */
		ob_reset(&ob);
		fmt_endpoint(&ob, AF_INET, e.daddr, 443, cases[i].svc);
		assert_non_null(memmem(ob.data, ob.len, cases[i].want, strlen(cases[i].want)));
	}
	ob_free(&ob);
}

#define CID  "4c6b5a1f2e3d4c5b6a7980e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5"
#define PUID "0a1b2c3d-4e5f-6789-abcd-ef0123456789"

/* The buffer contains the string literal lit. */
#define HAS(ob, lit) memmem((ob).data, (ob).len, lit, sizeof(lit) - 1)

static struct cg_desc cg_of(const char *path, uint64_t serial)
{
	struct cg_desc d;

	memset(&d, 0, sizeof(d));
	d.serial = serial;
	d.path = path;
	d.path_len = path ? strlen(path) : 0;
	if (path)
		cg_parse_path(path, d.path_len, &d.ident);
	return d;
}

/* The socket's cgroup: JSON keys at the end, the CGROUP column with -e. */
static void test_event_cgroup(void **state)
{
	struct cg_desc pod =
		cg_of("/kubepods.slice/kubepods-besteffort.slice/"
		      "kubepods-besteffort-pod0a1b2c3d_4e5f_6789_abcd_ef0123456789.slice/"
		      "cri-containerd-" CID ".scope",
		      1);
	struct cg_desc unit = cg_of("/system.slice/nginx.service", 2);
	struct cg_desc plain = cg_of("/tt-test-A", 3);
	struct cg_desc hostile = cg_of("/x\x1b]0;pwn\x07\"y", 0);
	struct tt_event e;
	struct fmt_ctx c;
	struct outbuf ob;
	char expect[1024];

	known_event(&e);
	ob_init(&ob);
	fmt_ctx_init(&c, 0);
	fmt_event_json(&ob, &c, &e, T0_NS, NULL, NULL, NULL, &pod);
	assert_non_null(HAS(ob,
			    "\"netns\":4026531840,\"reset\":false,\"cgroup\":\"/kubepods.slice/"
			    "kubepods-besteffort.slice/kubepods-besteffort-pod0a1b2c3d_4e5f_6789_"
			    "abcd_ef0123456789.slice/cri-containerd-" CID ".scope\","
			    "\"container\":\"4c6b5a1f2e3d\",\"container_id\":\"" CID "\","
			    "\"pod\":\"" PUID "\",\"unit\":null}\n"));
	/* the same line again comes from the memo */
	ob_reset(&ob);
	fmt_event_json(&ob, &c, &e, T0_NS, NULL, NULL, NULL, &pod);
	assert_int_equal(c.cg[1].serial, 1);
	ob_reset(&ob);
	fmt_event_json(&ob, &c, &e, T0_NS, NULL, NULL, NULL, &unit);
	assert_non_null(HAS(ob,
			    ",\"cgroup\":\"/system.slice/nginx.service\",\"container\":null,"
			    "\"container_id\":null,\"pod\":null,\"unit\":\"nginx.service\"}\n"));
	ob_reset(&ob);
	fmt_event_json(&ob, &c, &e, T0_NS, NULL, NULL, NULL, &hostile);
	assert_non_null(HAS(ob, ",\"cgroup\":\"/x\\u001b]0;pwn\\u0007\\\"y\",\"container\":null,"));

	/* text -e: the short id, else the unit, else the path, printable */
	fmt_ctx_init(&c, 1);
	ob_reset(&ob);
	fmt_event_text(&ob, &c, &e, T0_NS, NULL, NULL, NULL, &pod);
	snprintf(expect, sizeof(expect),
		 "%-14s%-8s%-16s%-6s%-22s%-22s%-12s-> %-13s%-10s%-16s%-12s%-12s%-12s%s\n",
		 "22:13:20.123", "1234", "curl", "tcp", "10.0.0.1:43210", "93.184.216.34:443",
		 "ESTABLISHED", "FIN_WAIT1", "12.345", "-", "-", "4097", "4026531840",
		 "4c6b5a1f2e3d");
	assert_ob(&ob, expect);
	ob_reset(&ob);
	fmt_event_text(&ob, &c, &e, T0_NS, NULL, NULL, NULL, &unit);
	assert_non_null(HAS(ob, "4026531840  nginx.service\n"));
	ob_reset(&ob);
	fmt_event_text(&ob, &c, &e, T0_NS, NULL, NULL, NULL, &plain);
	assert_non_null(HAS(ob, "4026531840  /tt-test-A\n"));
	ob_reset(&ob);
	fmt_event_text(&ob, &c, &e, T0_NS, NULL, NULL, NULL, &hostile);
	assert_non_null(HAS(ob, "4026531840  /x?]0;pwn?\"y\n"));
	/* without -e: no column */
	fmt_ctx_init(&c, 0);
	ob_reset(&ob);
	fmt_event_text(&ob, &c, &e, T0_NS, NULL, NULL, NULL, &pod);
	assert_null(HAS(ob, "4c6b5a"));
	/* not known: null keys, "-"; NULL (a record of an older version): no keys at all */
	ob_reset(&ob);
	fmt_event_json(&ob, &c, &e, T0_NS, NULL, NULL, NULL, &cg_none);
	assert_non_null(HAS(ob, "\"reset\":false" CG_NULL "}\n"));
	ob_reset(&ob);
	fmt_event_json(&ob, &c, &e, T0_NS, NULL, NULL, NULL, NULL);
	assert_non_null(HAS(ob, "\"reset\":false}\n"));
	assert_null(HAS(ob, "cgroup"));
	fmt_ctx_init(&c, 1);
	ob_reset(&ob);
	fmt_event_text(&ob, &c, &e, T0_NS, NULL, NULL, NULL, &cg_none);
	assert_non_null(HAS(ob, "4026531840  -\n"));
	ob_free(&ob);
}

/* Many lines appended to one buffer stay intact across growth. */
static void test_many_lines(void **state)
{
	struct fmt_ctx c;
	struct outbuf ob;
	struct tt_event e;
	size_t one;

	known_event(&e);
	ob_init(&ob);
	fmt_ctx_init(&c, 0);
	fmt_event_json(&ob, &c, &e, T0_NS, NULL, NULL, NULL, NULL);
	one = ob.len;
	for (int i = 1; i < 1000; i++)
		fmt_event_json(&ob, &c, &e, T0_NS, NULL, NULL, NULL, NULL);
	assert_int_equal(ob.len, one * 1000);
	for (int i = 1; i < 1000; i++)
		assert_memory_equal(ob.data + i * one, ob.data, one);
	ob_free(&ob);
}

/*
 * The context remembers the text of addresses, owners and netns from line to line: a long run
 * of events whose values repeat, collide in the memo and change must print exactly what a fresh
 * context prints for each event alone.
 */
/* An address as a JSON value of the records written with jsonw (snapshot rows, summaries). */
static void test_json_addr(void **state)
{
	uint8_t v4[16] = {10, 0, 0, 1}, mapped[16] = {[10] = 0xff, [11] = 0xff, 192, 168, 1, 1};
	uint8_t v6[16] = {[15] = 1};
	struct outbuf ob;
	struct jsonw w;

	ob_init(&ob);
	jw_init(&w, &ob);
	jw_arr_begin(&w);
	fmt_json_addr(&w, AF_INET, v4);
	fmt_json_addr(&w, AF_INET6, mapped);
	fmt_json_addr(&w, AF_INET6, v6);
	jw_arr_end(&w);
	assert_ob(&ob, "[\"10.0.0.1\",\"192.168.1.1\",\"::1\"]");
	ob_free(&ob);
}

/* The lost-events line as trace records it and replay -o json prints it again. */
static void test_lost_line(void **state)
{
	struct outbuf ob;

	ob_init(&ob);
	fmt_lost_json(&ob, T0_SEC * 1000000000ULL + 5000, 3, 18446744073709551615ULL);
	fmt_lost_json(&ob, 0, 0, 0);
	assert_ob(&ob, "{\"type\":\"lost\",\"time\":\"2023-11-14T22:13:20.000005Z\",\"count\":3,"
		       "\"total\":18446744073709551615}\n"
		       "{\"type\":\"lost\",\"time\":\"1970-01-01T00:00:00.000000Z\",\"count\":0,"
		       "\"total\":0}\n");
	ob_free(&ob);
}

static void test_memo_matches_fresh_context(void **state)
{
	static const char *addrs[] = {"10.0.0.1",    "10.0.1.1", "127.0.0.1",
				      "192.168.7.1", "10.0.0.9", "172.16.0.1"};
	static const char *comms[] = {"curl", "nginx", "a\"b", "curl"};
	/* serials 1 and 9 share a memo slot; 0 is never remembered */
	struct cg_desc cgs[] = {cg_of("/system.slice/docker-" CID ".scope", 1),
				cg_of("/system.slice/nginx.service", 9), cg_of("/tt-test-A", 2),
				cg_of("/tt-test-B", 0), cg_of(NULL, 3)};
	struct fmt_ctx shared, fresh;
	struct outbuf a, b;
	struct tt_event e;

	ob_init(&a);
	ob_init(&b);
	fmt_ctx_init(&shared, 1);
	for (unsigned i = 0; i < 5000; i++) {
		known_event(&e);
		e.family = (i % 7 == 0) ? AF_INET6 : AF_INET;
		if (e.family == AF_INET6) {
			v6(e.saddr, i % 2 ? "fe80::1" : "2001:db8::1");
			v6(e.daddr, i % 3 ? "::1" : "2001:db8::1");
		} else {
			v4(e.saddr, addrs[i % 6]);
			v4(e.daddr, addrs[(i / 6) % 6]);
		}
		e.pid = 1000 + (i / 5) % 3;
		memset(e.comm, 0, sizeof(e.comm));
		strcpy(e.comm, comms[(i / 3) % 4]);
		if (i % 11 == 0)
			e.flags &= (uint16_t)~TT_F_OWNER_KNOWN;
		e.netns = 4026531840u + (i / 13) % 2;
		e.sock_cookie = 4097 + i;
		for (int json = 0; json < 2; json++) {
			const struct cg_desc *cg = i % 6 == 5 ? NULL : &cgs[(i / 2) % 5];

			ob_reset(&a);
			ob_reset(&b);
			fmt_ctx_init(&fresh, 1);
			if (json) {
				fmt_event_json(&a, &shared, &e, T0_NS, NULL, "https", NULL, cg);
				fmt_event_json(&b, &fresh, &e, T0_NS, NULL, "https", NULL, cg);
			} else {
				fmt_event_text(&a, &shared, &e, T0_NS, NULL, "https", NULL, cg);
				fmt_event_text(&b, &fresh, &e, T0_NS, NULL, "https", NULL, cg);
			}
			assert_int_equal(a.len, b.len);
			assert_memory_equal(a.data, b.data, a.len);
		}
	}
	ob_free(&a);
	ob_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_proto),
		cmocka_unit_test(test_endpoint),
		cmocka_unit_test(test_time_rfc3339),
		cmocka_unit_test(test_time_local),
		cmocka_unit_test(test_text_header),
		cmocka_unit_test(test_event_text),
		cmocka_unit_test(test_event_text_final),
		cmocka_unit_test(test_event_json_final),
		cmocka_unit_test(test_event_text_wide),
		cmocka_unit_test(test_event_json),
		cmocka_unit_test(test_event_json_stuck_v6),
		cmocka_unit_test(test_stuck_holders),
		cmocka_unit_test(test_event_json_weird_comm),
		cmocka_unit_test(test_event_text_hostile_comm),
		cmocka_unit_test(test_event_text_hostile_service),
		cmocka_unit_test(test_event_cgroup),
		cmocka_unit_test(test_many_lines),
		cmocka_unit_test(test_memo_matches_fresh_context),
		cmocka_unit_test(test_lost_line),
		cmocka_unit_test(test_json_addr),
	};

	return cmocka_run_group_tests(tests, setup_utc, NULL);
}
