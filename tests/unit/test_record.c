// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Unit tests of src/record.[ch], the record format: what fmt_event_json() and totals_json() write
 * reads back (lr_parse_line) to the same record and the same bytes; strict reading of logs.
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
#include <zlib.h>
#include <cmocka.h>
#include "causes.h"
#include "format.h"
#include "jsonl.h"
#include "jsonw.h"
#include "record.h"

static struct tt_event base_event(void)
{
	struct tt_event e;

	memset(&e, 0, sizeof(e));
	e.type = TT_EV_STATE;
	e.family = AF_INET;
	inet_pton(AF_INET, "10.1.2.3", e.saddr);
	inet_pton(AF_INET, "192.168.0.1", e.daddr);
	e.sport = 43210;
	e.dport = 80;
	e.oldstate = TT_SYN_SENT;
	e.newstate = TT_ESTABLISHED;
	e.flags = TT_F_OWNER_KNOWN | TT_F_DELTA_KNOWN;
	e.delta_ns = 1234567;
	e.pid = 4242;
	strcpy(e.comm, "curl");
	e.sock_cookie = 18446744073709551615ULL;
	e.netns = 4026531840U;
	return e;
}

/* fmt_event_json -> lr_parse_line -> fmt_event_json gives the same bytes. */
static void roundtrip_cg(const struct tt_event *e, uint64_t wall, const char *lsvc,
			 const char *rsvc, const struct owners_list *h, const struct cg_desc *cg)
{
	struct fmt_ctx c;
	struct outbuf a, b;
	struct lr_record r;
	char err[256];

	fmt_ctx_init(&c, 0);
	ob_init(&a);
	ob_init(&b);
	fmt_event_json(&a, &c, e, wall, lsvc, rsvc, h, cg);
	if (lr_parse_line(a.data, a.len - 1, &r, err, sizeof(err)))
		fail_msg("%s: %.*s", err, (int)a.len, a.data);
	assert_int_equal(r.type, e->type == TT_EV_STUCK ? LR_STUCK : LR_STATE);
	assert_int_equal(r.wall_ns, wall / 1000 * 1000);
	assert_int_equal(!!r.holders, !!h);
	assert_int_equal(!!r.cg, !!cg);
	fmt_event_json(&b, &c, &r.ev, r.wall_ns, r.lsvc, r.rsvc, r.holders, r.cg);
	if (a.len != b.len || memcmp(a.data, b.data, a.len))
		fail_msg("round trip differs:\n%.*s%.*s", (int)a.len, a.data, (int)b.len, b.data);
	/* text output too, since replay prints text from the record */
	ob_reset(&a);
	ob_reset(&b);
	fmt_ctx_init(&c, 1); /* with the CGROUP column */
	fmt_event_text(&a, &c, e, wall, lsvc, rsvc, h, cg);
	fmt_event_text(&b, &c, &r.ev, r.wall_ns, r.lsvc, r.rsvc, r.holders, r.cg);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, a.len);
	ob_free(&a);
	ob_free(&b);
}

static void roundtrip_holders(const struct tt_event *e, uint64_t wall, const char *lsvc,
			      const char *rsvc, const struct owners_list *h)
{
	roundtrip_cg(e, wall, lsvc, rsvc, h, NULL);
}

static void roundtrip(const struct tt_event *e, uint64_t wall, const char *lsvc, const char *rsvc)
{
	roundtrip_holders(e, wall, lsvc, rsvc, NULL);
}

/* fmt_event_json()'s line of e at a fixed time, into ob (initialised here). */
static void event_line(struct outbuf *ob, const struct tt_event *e)
{
	struct fmt_ctx c;

	fmt_ctx_init(&c, 0);
	ob_init(ob);
	fmt_event_json(ob, &c, e, 1795000000123456789ULL, NULL, NULL, NULL, NULL);
}

static void test_roundtrip(void **state)
{
	uint64_t wall = 1795000000123456789ULL;
	struct tt_event e = base_event();

	roundtrip(&e, wall, NULL, "http");
	e.flags = TT_F_DELTA_KNOWN | TT_F_DELTA_MIN | TT_F_RESET;
	e.delta_ns = 0;
	roundtrip(&e, wall, "my-svc", NULL);
	e.flags = TT_F_DELTA_MIN; /* ms_min without ms: printed, kept */
	roundtrip(&e, 0, NULL, NULL);

	e = base_event();
	e.family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::1", e.saddr);
	inet_pton(AF_INET6, "::ffff:127.0.0.1", e.daddr);
	e.sport = 0;
	e.dport = 65535;
	roundtrip(&e, wall, NULL, NULL);
	memset(e.saddr, 0, 16);
	roundtrip(&e, wall, NULL, NULL);

	/* every byte value a comm can hold, 16 bytes with no NUL */
	e = base_event();
	for (int start = 1; start < 256; start += 16) {
		for (int i = 0; i < TT_COMM_LEN; i++)
			e.comm[i] = (char)(start + i > 255 ? '"' : start + i);
		roundtrip(&e, wall, "a\\b\"c", NULL);
	}
	memcpy(e.comm, "\xc3\xa9t\xe2\x82\xac\xf0\x9f\x98\x80\xc3", 11);
	e.comm[11] = '\0';
	roundtrip(&e, wall, NULL, NULL);

	e = base_event();
	e.type = TT_EV_STUCK;
	e.oldstate = e.newstate = TT_CLOSE_WAIT;
	roundtrip(&e, wall, NULL, NULL);
	e.oldstate = e.newstate = 0; /* UNKNOWN */
	roundtrip(&e, wall, NULL, NULL);
	e.oldstate = e.newstate = TT_CLOSE_WAIT;
	{
		static struct tt_owner_rec own[OWNERS_MAX_LISTED];
		struct owners_list h = {.recs = own};

		roundtrip_holders(&e, wall, NULL, NULL, &h); /* orphaned: "owners":[] */
		own[0] = (struct tt_owner_rec){.pid = 4242, .comm = "curl"};
		own[1] = (struct tt_owner_rec){.pid = 4243, .comm = "a\"\\\x01\xff"};
		memcpy(own[2].comm, "0123456789abcdef", TT_COMM_LEN); /* no NUL */
		own[2].pid = UINT32_MAX;
		h.n = 3;
		roundtrip_holders(&e, wall, "http", NULL, &h);
		for (int i = 0; i < OWNERS_MAX_LISTED; i++) {
			own[i].pid = (uint32_t)i + 1;
			strcpy(own[i].comm, "nginx");
		}
		h.n = OWNERS_MAX_LISTED;
		h.more = 1000;
		roundtrip_holders(&e, wall, NULL, NULL, &h);
	}
	e.type = TT_EV_STATE;
	e.oldstate = TT_FIN_WAIT2;
	e.newstate = TT_FIN_WAIT2_TW;
	e.delta_ns = 99999999999999000ULL;
	roundtrip(&e, wall, NULL, NULL);
}

/* A final transition: ESTABLISHED -> CLOSE after a reset sent, with every total. */
static struct tt_event final_event(void)
{
	struct tt_event e = base_event();

	e.oldstate = TT_ESTABLISHED;
	e.newstate = TT_CLOSE;
	e.flags |= TT_F_TOTALS | TT_F_RESET | TT_F_RESET_REASON;
	e.cause = TT_CAUSE_RESET_OUT;
	e.reset_reason = 11;
	e.sk_err = 104;
	e.bytes_sent = 100000;
	e.bytes_received = 18446744073709551615ULL;
	e.segs_out = 70;
	e.segs_in = 4294967295U;
	e.retrans = 3;
	e.syn_retrans = 65535;
	e.srtt_us = 4294967295U;
	e.rttvar_us = 12;
	e.life_ns = 123456789000ULL;
	return e;
}

/* How a connection ended: the keys of final transitions survive the log, and older logs. */
static void test_totals(void **state)
{
	uint64_t wall = 1795000000123456789ULL;
	struct tt_event e = final_event();
	struct lr_record r;
	char err[256];
	const char *l;

	rst_reason_clear();
	assert_int_equal(rst_reason_set(11, "TCP_ABORT_ON_CLOSE", 18), 0);
	assert_int_equal(rst_reason_set(14, "TCP_STATE", 9), 0);
	roundtrip(&e, wall, NULL, NULL);
	e.reset_reason = 14;
	e.flags |= TT_F_LIFE_MIN;
	roundtrip(&e, wall, NULL, NULL);
	/* a value this kernel has no name for, no reason, no sample, no known life */
	e.reset_reason = 200;
	roundtrip(&e, wall, NULL, NULL);
	e.flags &= (uint16_t) ~(TT_F_RESET_REASON | TT_F_LIFE_MIN);
	e.srtt_us = 0;
	e.life_ns = 0;
	for (unsigned int c = 0; c <= TT_CAUSE_MAX; c++) {
		e.cause = (__u8)c;
		roundtrip(&e, wall, NULL, NULL);
	}
	e.oldstate = TT_LISTEN;
	e.cause = TT_CAUSE_LISTENER_CLOSED;
	memset(&e.bytes_sent, 0, sizeof(e) - offsetof(struct tt_event, bytes_sent));
	e.cause = TT_CAUSE_LISTENER_CLOSED;
	roundtrip(&e, wall, NULL, NULL);

	/* What the record holds: the name read gets a value of replay's own. */
	e = final_event();
	{
		struct outbuf ob;

		event_line(&ob, &e); /* at wall, the fixed time */
		rst_reason_clear();  /* replay: a process that never saw the kernel's names */
		assert_int_equal(lr_parse_line(ob.data, ob.len - 1, &r, err, sizeof(err)), 0);
		ob_free(&ob);
	}
	assert_true(r.ev.flags & TT_F_TOTALS);
	assert_true(r.ev.flags & TT_F_RESET_REASON);
	assert_false(r.ev.flags & TT_F_LIFE_MIN);
	assert_int_equal(r.ev.cause, TT_CAUSE_RESET_OUT);
	assert_int_equal(r.ev.reset_reason, RST_LOG_BASE);
	assert_string_equal(rst_reason_name(r.ev.reset_reason), "TCP_ABORT_ON_CLOSE");
	assert_int_equal(r.ev.sk_err, 104);
	assert_true(r.ev.bytes_sent == 100000);
	assert_true(r.ev.bytes_received == 18446744073709551615ULL);
	assert_int_equal(r.ev.segs_out, 70);
	assert_int_equal(r.ev.segs_in, 4294967295U);
	assert_int_equal(r.ev.retrans, 3);
	assert_int_equal(r.ev.syn_retrans, 65535);
	assert_int_equal(r.ev.srtt_us, 4294967295U);
	assert_int_equal(r.ev.rttvar_us, 12);
	assert_true(r.ev.life_ns == 123456789000ULL);

#define FINAL_HEAD                                                                                 \
	"{\"type\":\"state\",\"time\":\"2026-11-26T13:07:01.000001Z\",\"pid\":null,"               \
	"\"comm\":null,\"proto\":\"tcp\",\"laddr\":\"1.2.3.4\",\"lport\":1,\"raddr\":\"5.6.7.8\"," \
	"\"rport\":2,\"lservice\":null,\"rservice\":null,\"old\":\"LAST_ACK\",\"new\":\"CLOSE\","  \
	"\"ms\":1.5,\"sock\":1,\"netns\":2,\"reset\":false"

	/* A log of a version before them: an ordinary transition; "cause":null the same. */
	l = FINAL_HEAD "}";
	assert_int_equal(lr_parse_line(l, strlen(l), &r, err, sizeof(err)), 0);
	assert_false(r.ev.flags & TT_F_TOTALS);
	assert_int_equal(r.ev.cause, 0);
	l = FINAL_HEAD ",\"cause\":null,\"bytes_sent\":\"not looked at\"}";
	assert_int_equal(lr_parse_line(l, strlen(l), &r, err, sizeof(err)), 0);
	assert_false(r.ev.flags & TT_F_TOTALS);

	/* Hand-made: names in any case, more decimals, an error name that is not sk_err's. */
	l = FINAL_HEAD ",\"cause\":\"Reset-In\",\"error\":\"whatever\",\"sk_err\":104,"
		       "\"reset_reason\":null,\"bytes_sent\":0,\"bytes_received\":5,"
		       "\"segs_out\":1,\"segs_in\":2,\"retrans\":0,\"syn_retrans\":0,"
		       "\"srtt_ms\":1.5,\"rttvar_ms\":0.0005,\"life_ms\":0.0009,"
		       "\"life_min\":false}";
	assert_int_equal(lr_parse_line(l, strlen(l), &r, err, sizeof(err)), 0);
	assert_int_equal(r.ev.cause, TT_CAUSE_RESET_IN);
	assert_false(r.ev.flags & (TT_F_RESET_REASON | TT_F_LIFE_MIN));
	assert_int_equal(r.ev.srtt_us, 1500);
	assert_int_equal(r.ev.rttvar_us, 0);
	assert_true(r.ev.life_ns == 0); /* under a microsecond: not known */

	/* each key of a final transition, spoiled in turn */
	static const char *const spoil[][2] = {
		{"\"cause\":\"reset_out\"", "\"cause\":\"reset\""},
		{"\"cause\":\"reset_out\"", "\"cause\":6"},
		{"\"cause\":\"reset_out\"", "\"cause\":\"none\""},
		{"\"error\":\"ECONNRESET\"", "\"error\":104"},
		{"\"sk_err\":104", "\"sk_err\":65536"},
		{"\"sk_err\":104", "\"sk_err\":null"},
		{",\"sk_err\":104", ""},
		{"\"reset_reason\":\"TCP_ABORT_ON_CLOSE\"", "\"reset_reason\":11"},
		{"\"reset_reason\":\"TCP_ABORT_ON_CLOSE\"", "\"reset_reason\":\"TCP ABORT\""},
		{"\"reset_reason\":\"TCP_ABORT_ON_CLOSE\"", "\"reset_reason\":\"\\u001b[2J\""},
		{"\"reset_reason\":\"TCP_ABORT_ON_CLOSE\"", "\"reset_reason\":\"\""},
		{",\"reset_reason\":\"TCP_ABORT_ON_CLOSE\"", ""},
		{"\"bytes_sent\":100000", "\"bytes_sent\":-1"},
		{"\"bytes_sent\":100000", "\"bytes_sent\":1.5"},
		{",\"bytes_sent\":100000", ""},
		{"\"bytes_received\":18446744073709551615",
		 "\"bytes_received\":18446744073709551616"},
		{"\"segs_out\":70", "\"segs_out\":4294967296"},
		{"\"segs_in\":4294967295", "\"segs_in\":null"},
		{"\"retrans\":3", "\"retrans\":true"},
		{"\"syn_retrans\":65535", "\"syn_retrans\":65536"},
		{"\"srtt_ms\":4294967.295", "\"srtt_ms\":4294967.296"},
		{"\"srtt_ms\":4294967.295", "\"srtt_ms\":\"1\""},
		{"\"rttvar_ms\":0.012", "\"rttvar_ms\":-0.012"},
		{",\"rttvar_ms\":0.012", ""},
		{"\"life_ms\":123456.789", "\"life_ms\":1e3"},
		{",\"life_ms\":123456.789", ""},
		{"\"life_ms\":123456.789", "\"life_ms\":123456.789,\"life_min\":1"},
	};
	struct outbuf ob;

	rst_reason_set(11, "TCP_ABORT_ON_CLOSE", 18);
	e = final_event();
	event_line(&ob, &e); /* at wall, the fixed time */
	ob_putc(&ob, '\0');
	assert_int_equal(lr_parse_line(ob.data, strlen(ob.data) - 1, &r, err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(spoil) / sizeof(spoil[0]); i++) {
		char line[2048];
		const char *at = strstr(ob.data, spoil[i][0]);

		if (!at)
			fail_msg("not in the line: %s", spoil[i][0]);
		snprintf(line, sizeof(line), "%.*s%s%s", (int)(at - ob.data), ob.data, spoil[i][1],
			 at + strlen(spoil[i][0]));
		if (lr_parse_line(line, strlen(line) - 1, &r, err, sizeof(err)) != -1)
			fail_msg("accepted: %s", line);
	}
	ob_free(&ob);
	/* The error names the key, never the text (the log's, and stderr may be a terminal). */
	l = FINAL_HEAD ",\"cause\":\"\\u001b[2J\"}";
	assert_int_equal(lr_parse_line(l, strlen(l), &r, err, sizeof(err)), -1);
	assert_string_equal(err, "unknown cause in \"cause\"");
	/* Replay's table of reset reasons is bounded: a log cannot grow it without end. */
	rst_reason_clear();
	for (int i = 0; i <= RST_LOG_MAX; i++) {
		char line[2048];

		snprintf(line, sizeof(line),
			 FINAL_HEAD
			 ",\"cause\":\"reset_out\",\"error\":null,\"sk_err\":0,"
			 "\"reset_reason\":\"R%d\",\"bytes_sent\":0,\"bytes_received\":0,"
			 "\"segs_out\":0,\"segs_in\":0,\"retrans\":0,\"syn_retrans\":0,"
			 "\"srtt_ms\":null,\"rttvar_ms\":null,\"life_ms\":null}",
			 i);
		assert_int_equal(lr_parse_line(line, strlen(line), &r, err, sizeof(err)),
				 i < RST_LOG_MAX ? 0 : -1);
	}
	assert_string_equal(err, "want an identifier (and at most 128 different ones) for "
				 "\"reset_reason\"");
	rst_reason_clear();
}

#define CID "4c6b5a1f2e3d4c5b6a7980e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5"

static struct cg_desc cg_of(const char *path)
{
	struct cg_desc d;

	memset(&d, 0, sizeof(d));
	d.serial = 1;
	d.path = path;
	d.path_len = path ? strlen(path) : 0;
	if (path)
		cg_parse_path(path, d.path_len, &d.ident);
	return d;
}

/* The cgroup keys come back as written; logs without them (older versions) still read. */
static void test_cgroup_keys(void **state)
{
	static const char *const paths[] = {
		"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0a1b2c3d_4e5f_6789_"
		"abcd_ef0123456789.slice/cri-containerd-" CID ".scope",
		"/system.slice/docker-" CID ".scope",
		"/system.slice/nginx.service",
		"/",
		"/tt \"odd\"\\\x1b\x01\xff\xc3\xa9",
	};
	static const char *const bad[] = {
		"\"cgroup\":1",
		"\"container_id\":\"" CID "0\"",
		"\"pod\":\"0a1b2c3d-4e5f-6789-abcd-ef01234567890\"",
		"\"unit\":[]",
		"\"container\":true",
	};
	static struct lr_record r;
	struct tt_event e = base_event();
	struct cg_desc d;
	char line[1024], err[256];
	const char *l;

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		d = cg_of(paths[i]);
		roundtrip_cg(&e, 1795000000123456789ULL, NULL, NULL, NULL, &d);
	}
	/* not known (all null), and a description with no path but a unit */
	roundtrip_cg(&e, 1795000000123456789ULL, NULL, NULL, NULL, &cg_none);
	d = cg_of(NULL);
	strcpy(d.ident.unit, "x.service");
	roundtrip_cg(&e, 1795000000123456789ULL, NULL, NULL, NULL, &d);

	l = "{\"type\":\"state\",\"time\":\"2026-11-26T13:07:01Z\",\"pid\":null,\"comm\":null,"
	    "\"proto\":\"tcp\",\"laddr\":\"1.2.3.4\",\"lport\":1,\"raddr\":\"5.6.7.8\",\"rport\":2,"
	    "\"lservice\":null,\"rservice\":null,\"old\":\"CLOSE\",\"new\":\"LISTEN\","
	    "\"ms\":null,\"sock\":1,\"netns\":2,\"reset\":false";
	snprintf(line, sizeof(line), "%s}", l);
	assert_int_equal(lr_parse_line(line, strlen(line), &r, err, sizeof(err)), 0);
	assert_null(r.cg); /* an older version's record: replayed without the keys */
	snprintf(line, sizeof(line),
		 "%s,\"cgroup\":null,\"container\":null,\"container_id\":null,\"pod\":null,"
		 "\"unit\":null}",
		 l);
	assert_int_equal(lr_parse_line(line, strlen(line), &r, err, sizeof(err)), 0);
	assert_non_null(r.cg); /* the keys, all null: not known */
	assert_null(r.cg->path);
	assert_string_equal(r.cg->ident.container_id, "");
	snprintf(line, sizeof(line),
		 "%s,\"cgroup\":\"/a/docker-" CID ".scope\",\"container\":\"4c6b5a1f2e3d\","
		 "\"container_id\":\"" CID "\",\"pod\":null,\"unit\":null}",
		 l);
	assert_int_equal(lr_parse_line(line, strlen(line), &r, err, sizeof(err)), 0);
	assert_non_null(r.cg);
	assert_int_equal(r.cg->serial, 0);
	assert_string_equal(r.cg->path, "/a/docker-" CID ".scope");
	assert_int_equal(r.cg->path_len, strlen(r.cg->path));
	assert_string_equal(r.cg->ident.container_id, CID);
	assert_string_equal(r.cg->ident.pod, "");
	/* read as written: a hand-edited id is what replay shows and filters on */
	snprintf(line, sizeof(line), "%s,\"cgroup\":\"/x\",\"container_id\":\"abc\"}", l);
	assert_int_equal(lr_parse_line(line, strlen(line), &r, err, sizeof(err)), 0);
	assert_string_equal(r.cg->ident.container_id, "abc");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(line, sizeof(line), "%s,%s}", l, bad[i]);
		if (lr_parse_line(line, strlen(line), &r, err, sizeof(err)) != -1)
			fail_msg("accepted: %s", line);
	}
}

static void test_record_types(void **state)
{
	struct lr_record r;
	char err[256];
	const char *l;

	l = "{\"type\":\"lost\",\"time\":\"2026-11-26T13:07:01.000001Z\",\"count\":3,\"total\":10}";
	assert_int_equal(lr_parse_line(l, strlen(l), &r, err, sizeof(err)), 0);
	assert_int_equal(r.type, LR_LOST);
	assert_int_equal(r.lost_count, 3);
	assert_int_equal(r.lost_total, 10);
	assert_int_equal(r.wall_ns % 1000000000ULL, 1000);

	l = "{\"type\":\"header\",\"version\":\"0.1.0\",\"filters\":{\"port\":[80]}}";
	assert_int_equal(lr_parse_line(l, strlen(l), &r, err, sizeof(err)), 0);
	assert_int_equal(r.type, LR_HEADER);
	l = "{\"type\":\"future\",\"x\":1}";
	assert_int_equal(lr_parse_line(l, strlen(l), &r, err, sizeof(err)), 0);
	assert_int_equal(r.type, LR_OTHER);

	/* jq may shorten ms; more decimals than microseconds are fine */
	l = "{\"type\":\"state\",\"time\":\"2026-11-26T13:07:01+01:00\",\"pid\":null,\"comm\":null,"
	    "\"proto\":\"tcp\",\"laddr\":\"1.2.3.4\",\"lport\":1,\"raddr\":\"5.6.7.8\",\"rport\":2,"
	    "\"lservice\":null,\"rservice\":null,\"old\":\"close-wait\",\"new\":\"LAST_ACK\","
	    "\"ms\":1.5,\"sock\":1,\"netns\":2,\"reset\":false,\"extra\":[1]}";
	assert_int_equal(lr_parse_line(l, strlen(l), &r, err, sizeof(err)), 0);
	assert_int_equal(r.ev.delta_ns, 1500000);
	assert_int_equal(r.ev.oldstate, TT_CLOSE_WAIT);
	uint64_t t;

	assert_int_equal(lr_parse_time("2026-11-26T12:07:01Z", 20, &t), 0);
	assert_int_equal(r.wall_ns, t);
}

/* "seq": optional, an unsigned integer when present (ignored when bad on an unknown type). */
static void test_record_seq(void **state)
{
	static const char *const bad[] = {
		"{\"type\":\"lost\",\"time\":\"2026-11-26T13:07:01Z\",\"count\":1,\"total\":1,"
		"\"seq\":-1}",
		"{\"type\":\"lost\",\"time\":\"2026-11-26T13:07:01Z\",\"count\":1,\"total\":1,"
		"\"seq\":\"7\"}",
		"{\"type\":\"header\",\"seq\":1.5}",
		"{\"type\":\"header\",\"seq\":18446744073709551616}",
	};
	struct lr_record r;
	char err[256];
	const char *l;

	l = "{\"type\":\"lost\",\"time\":\"2026-11-26T13:07:01Z\",\"count\":3,\"total\":10}";
	assert_int_equal(lr_parse_line(l, strlen(l), &r, err, sizeof(err)), 0);
	assert_false(r.has_seq);
	l = "{\"type\":\"lost\",\"time\":\"2026-11-26T13:07:01Z\",\"count\":3,\"total\":10,"
	    "\"seq\":18446744073709551615}";
	assert_int_equal(lr_parse_line(l, strlen(l), &r, err, sizeof(err)), 0);
	assert_true(r.has_seq);
	assert_true(r.seq == UINT64_MAX);
	l = "{\"type\":\"header\",\"start_time\":\"2026-11-26T13:07:01.5Z\",\"part\":3,\"seq\":42}";
	assert_int_equal(lr_parse_line(l, strlen(l), &r, err, sizeof(err)), 0);
	assert_true(r.has_seq);
	assert_int_equal(r.seq, 42);
	assert_true(r.start_ns % 1000000000ULL == 500000000ULL);
	/* an unreadable start_time is no error: the run is not known */
	l = "{\"type\":\"header\",\"start_time\":\"soon\"}";
	assert_int_equal(lr_parse_line(l, strlen(l), &r, err, sizeof(err)), 0);
	assert_false(r.has_seq);
	assert_true(r.start_ns == 0);
	l = "{\"type\":\"future\",\"seq\":\"x\"}";
	assert_int_equal(lr_parse_line(l, strlen(l), &r, err, sizeof(err)), 0);
	assert_false(r.has_seq);
	l = "{\"type\":\"future\",\"seq\":9}";
	assert_int_equal(lr_parse_line(l, strlen(l), &r, err, sizeof(err)), 0);
	assert_true(r.has_seq);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (lr_parse_line(bad[i], strlen(bad[i]), &r, err, sizeof(err)) != -1)
			fail_msg("accepted: %s", bad[i]);
	}
	assert_string_equal(err, "want an unsigned integer for \"seq\"");

	/* a state record: fmt_event_json's line with the number after it, as logs have it */
	struct tt_event e = base_event();
	struct outbuf ob;

	event_line(&ob, &e);
	jw_line_seq(&ob, 77);
	assert_int_equal(lr_parse_line(ob.data, ob.len - 1, &r, err, sizeof(err)), 0);
	assert_true(r.has_seq);
	assert_int_equal(r.seq, 77);
	ob_free(&ob);
}

static void test_record_errors(void **state)
{
	static const char *const bad[] = {
		"{}",
		"{\"type\":1}",
		"{\"type\":\"state\"}",
		"{\"type\":\"lost\",\"time\":\"yesterday\",\"count\":1,\"total\":1}",
		"{\"type\":\"lost\",\"time\":\"12345\",\"count\":1,\"total\":1}",
		"{\"type\":\"lost\",\"time\":\"2026-11-26T13:07:01Z\",\"count\":-1,\"total\":1}",
		"{\"type\":\"lost\",\"time\":\"2026-11-26T13:07:01Z\",\"count\":1.0,\"total\":1}",
		("{\"type\":\"lost\",\"time\":\"2026-11-26T13:07:01Z\",\"count\":"
		 "18446744073709551616,"
		 "\"total\":1}"),
	};
	struct lr_record r;
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (lr_parse_line(bad[i], strlen(bad[i]), &r, err, sizeof(err)) != -1)
			fail_msg("accepted: %s", bad[i]);
	}

	/* each field of a good line, spoiled in turn */
	static const char *const spoil[][2] = {
		{"\"pid\":4242", "\"pid\":-1"},
		{"\"pid\":4242", "\"pid\":4294967296"},
		{"\"comm\":\"curl\"", "\"comm\":null"},
		{"\"comm\":\"curl\"", "\"comm\":\"12345678901234567\""},
		{"\"proto\":\"tcp\"", "\"proto\":\"udp\""},
		{"\"laddr\":\"10.1.2.3\"", "\"laddr\":\"10.1.2\""},
		{"\"laddr\":\"10.1.2.3\"", "\"laddr\":\"::1\""},
		{"\"lport\":43210", "\"lport\":65536"},
		{"\"rport\":80", "\"rport\":\"80\""},
		{"\"old\":\"SYN_SENT\"", "\"old\":\"SYN\""},
		{"\"ms\":1.234", "\"ms\":\"1\""},
		{"\"ms\":1.234", "\"ms\":1e3"},
		{"\"ms\":1.234", "\"ms\":-1"},
		{"\"ms\":1.234", "\"ms\":1.2345678"},
		{"\"reset\":false", "\"reset\":0"},
		{"\"netns\":4026531840", "\"netns\":4294967296"},
		{"\"lservice\":null", "\"lservice\":1"},
		{",\"sock\":18446744073709551615", ""},
	};
	struct tt_event e = base_event();
	struct outbuf ob;

	event_line(&ob, &e);
	ob_putc(&ob, '\0');
	assert_int_equal(lr_parse_line(ob.data, strlen(ob.data) - 1, &r, err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(spoil) / sizeof(spoil[0]); i++) {
		char line[1024];
		const char *at = strstr(ob.data, spoil[i][0]);

		assert_non_null(at);
		snprintf(line, sizeof(line), "%.*s%s%s", (int)(at - ob.data), ob.data, spoil[i][1],
			 at + strlen(spoil[i][0]));
		if (lr_parse_line(line, strlen(line) - 1, &r, err, sizeof(err)) != -1)
			fail_msg("accepted: %s", line);
	}
	ob_free(&ob);
}

#define STUCK_HEAD \
	"{\"type\":\"stuck\",\"time\":\"2026-11-26T13:07:01.000001Z\",\"pid\":7,\"comm\":\"w\","
#define STUCK_TAIL                                                                               \
	"\"proto\":\"tcp\",\"laddr\":\"127.0.0.1\",\"lport\":80,\"raddr\":\"127.0.0.1\","        \
	"\"rport\":5,\"lservice\":null,\"rservice\":null,\"state\":\"CLOSE_WAIT\",\"ms\":1.000," \
	"\"sock\":9,\"netns\":1}"

/* A stuck alert's "owners": optional (logs before it), any JSON spacing, checked strictly. */
static void test_stuck_holders(void **state)
{
	static const char *const bad[] = {
		STUCK_HEAD "\"owners\":{}," STUCK_TAIL,
		STUCK_HEAD "\"owners\":null," STUCK_TAIL,
		STUCK_HEAD "\"owners\":[1]," STUCK_TAIL,
		STUCK_HEAD "\"owners\":[{\"pid\":1,\"comm\":\"a\"},[]]," STUCK_TAIL,
		STUCK_HEAD "\"owners\":[{\"pid\":1}]," STUCK_TAIL,
		STUCK_HEAD "\"owners\":[{\"comm\":\"a\"}]," STUCK_TAIL,
		STUCK_HEAD "\"owners\":[{\"pid\":-1,\"comm\":\"a\"}]," STUCK_TAIL,
		STUCK_HEAD "\"owners\":[{\"pid\":4294967296,\"comm\":\"a\"}]," STUCK_TAIL,
		STUCK_HEAD "\"owners\":[{\"pid\":1,\"comm\":null}]," STUCK_TAIL,
		STUCK_HEAD "\"owners\":[{\"pid\":1,\"comm\":\"12345678901234567\"}]," STUCK_TAIL,
		STUCK_HEAD "\"owners\":[],\"owners_more\":-1," STUCK_TAIL,
		STUCK_HEAD "\"owners_more\":1," STUCK_TAIL,
	};
	struct lr_record r;
	char err[256], *line;
	size_t cap = 64 * 1024, len;
	const char *l;

	l = STUCK_HEAD STUCK_TAIL;
	assert_int_equal(lr_parse_line(l, strlen(l), &r, err, sizeof(err)), 0);
	assert_null(r.holders);
	assert_int_equal(r.ev.pid, 7);

	l = STUCK_HEAD "\"owners\": [ ] ," STUCK_TAIL;
	assert_int_equal(lr_parse_line(l, strlen(l), &r, err, sizeof(err)), 0);
	assert_non_null(r.holders);
	assert_int_equal(r.holders->n, 0);
	assert_int_equal(r.holders->more, 0);

	l = STUCK_HEAD "\"owners\":[ {\"comm\": \"w\\u00e9\", \"pid\": 7, \"fd\": [3]} ,\n"
		       "{\"pid\":9,\"comm\":\"x}]\\\"\"}],\"owners_more\":5," STUCK_TAIL;
	if (lr_parse_line(l, strlen(l), &r, err, sizeof(err)))
		fail_msg("%s", err);
	assert_non_null(r.holders);
	assert_int_equal(r.holders->n, 2);
	assert_int_equal(r.holders->more, 5);
	assert_int_equal(r.holders->recs[0].pid, 7);
	assert_string_equal(r.holders->recs[0].comm, "w\xe9");
	assert_int_equal(r.holders->recs[1].pid, 9);
	assert_string_equal(r.holders->recs[1].comm, "x}]\"");

	/* A state record's owners are not read (only alerts have them). */
	l = "{\"type\":\"state\",\"time\":\"2026-11-26T13:07:01Z\",\"pid\":null,\"comm\":null,"
	    "\"owners\":[1],\"proto\":\"tcp\",\"laddr\":\"1.2.3.4\",\"lport\":1,"
	    "\"raddr\":\"5.6.7.8\",\"rport\":2,\"lservice\":null,\"rservice\":null,"
	    "\"old\":\"CLOSE_WAIT\",\"new\":\"LAST_ACK\",\"ms\":1.5,\"sock\":1,\"netns\":2,"
	    "\"reset\":false}";
	assert_int_equal(lr_parse_line(l, strlen(l), &r, err, sizeof(err)), 0);
	assert_null(r.holders);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (lr_parse_line(bad[i], strlen(bad[i]), &r, err, sizeof(err)) != -1)
			fail_msg("accepted: %s", bad[i]);
	}

	/* One holder more than an alert lists is not a line tcptrail wrote. */
	line = malloc(cap);
	assert_non_null(line);
	len = (size_t)snprintf(line, cap, "%s\"owners\":[", STUCK_HEAD);
	for (int i = 0; i <= OWNERS_MAX_LISTED; i++)
		len += (size_t)snprintf(line + len, cap - len, "%s{\"pid\":%d,\"comm\":\"a\"}",
					i ? "," : "", i + 1);
	len += (size_t)snprintf(line + len, cap - len, "],%s", STUCK_TAIL);
	assert_int_equal(lr_parse_line(line, len, &r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too many"));
	free(line);
}

static void test_parse_time(void **state)
{
	uint64_t a, b;

	assert_int_equal(lr_parse_time("2026-11-26T13:07:01.123456Z", 27, &a), 0);
	assert_int_equal(lr_parse_time("2026-11-26T14:07:01.123456+01:00", 32, &b), 0);
	assert_int_equal(a, b);
	assert_int_equal(a % 1000000000ULL, 123456000);
	assert_int_equal(lr_parse_time("2024-02-29T00:00:00.000000Z", 27, &a), 0);
	assert_int_equal(a, 1709164800ULL * 1000000000ULL);
	assert_int_equal(lr_parse_time("2026-13-26T13:07:01.123456Z", 27, &a), -1);
	assert_int_equal(lr_parse_time("1969-12-31T23:59:59.000000Z", 27, &a), -1);
	assert_int_equal(lr_parse_time("", 0, &a), -1);
	/* impossible dates are refused on the fast path and the slow one, not carried over */
	a = 7;
	assert_int_equal(lr_parse_time("2026-02-31T13:07:01.123456Z", 27, &a), -1);
	assert_int_equal(lr_parse_time("2026-02-29T13:07:01.123456Z", 27, &a), -1);
	assert_int_equal(lr_parse_time("2026-04-31T13:07:01.123456Z", 27, &a), -1);
	assert_int_equal(lr_parse_time("2026-02-31T13:07:01Z", 20, &a), -1);
	assert_int_equal(lr_parse_time("2026-02-31T13:07:01.5+01:00", 27, &a), -1);
	assert_int_equal(lr_parse_time("2026-01-01T25:00:00.000000Z", 27, &a), -1);
	assert_int_equal(a, 7);
	assert_int_equal(lr_parse_time("2026-02-28T13:07:01.123456Z", 27, &a), 0);
	assert_int_equal(lr_parse_time("2000-02-29T00:00:00.000000Z", 27, &a), 0);
}

/* A record whose time is no date says which field is wrong (and never echoes the log's text). */
static void test_record_impossible_time(void **state)
{
	static const struct {
		const char *time, *why;
	} cases[] = {
		{"2026-02-31T13:07:01.000001Z", "no such day: February 2026 has 28 days"},
		{"2026-13-01T00:00:00.000000Z", "no such month: 13"},
		{"2026-01-01T25:00:00.000000Z", "no such hour: 25"},
		{"2026-02-31T13:07:01Z\\u001b]0;x\\u0007",
		 "no such day: February 2026 has 28 days"},
	};
	static const char *const types[] = {"state", "lost", "header"};
	struct lr_record r;
	char line[512], err[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
			snprintf(line, sizeof(line),
				 "{\"type\":\"%s\",\"time\":\"%s\",\"count\":1,\"total\":1}",
				 types[t], cases[i].time);
			assert_int_equal(lr_parse_line(line, strlen(line), &r, err, sizeof(err)),
					 -1);
			if (!strstr(err, cases[i].why) || strchr(err, 0x1b))
				fail_msg("%s: %s", line, err);
		}
	}
}

/* fmt_event_json()'s line of e, read back and written again; 0, or -1 when it does not read. */
static int rewrite(const char *line, size_t len, struct outbuf *out)
{
	struct fmt_ctx c;
	struct lr_record r;
	char err[256];

	if (lr_parse_line(line, len, &r, err, sizeof(err)))
		return -1;
	fmt_ctx_init(&c, 0);
	ob_reset(out);
	fmt_event_json(out, &c, &r.ev, r.wall_ns, r.lsvc, r.rsvc, r.holders, r.cg);
	return 0;
}

/*
 * The writer and the reader agree on every key: a record without any one of the keys written
 * either does not read or reads as another record, but for keys whose value is the one an absent
 * key reads as (null, false: older logs lack them) and keys written as a copy of another (the short
 * container id is the long one's first 12 characters).
 */
static void check_every_key(const struct tt_event *e, const struct owners_list *h,
			    const struct cg_desc *cg)
{
	static const char *const derived[] = {"container"};
	struct fmt_ctx c;
	struct outbuf full, cut, again;
	struct jsonl_obj o;
	char err[256];

	fmt_ctx_init(&c, 0);
	ob_init(&full);
	ob_init(&cut);
	ob_init(&again);
	fmt_event_json(&full, &c, e, 1795000000123456000ULL, "http", NULL, h, cg);
	assert_int_equal(jsonl_parse(full.data, full.len - 1, &o, err, sizeof(err)), 0);
	for (int k = 0; k < o.n; k++) {
		int is_derived = 0;

		for (size_t d = 0; d < sizeof(derived) / sizeof(derived[0]); d++)
			is_derived |= o.m[k].key_len == strlen(derived[d]) &&
				      !memcmp(o.m[k].key, derived[d], o.m[k].key_len);
		ob_reset(&cut);
		ob_putc(&cut, '{');
		for (int i = 0; i < o.n; i++) {
			const char *q = o.m[i].type == JSONL_STRING ? "\"" : "";

			if (i == k)
				continue;
			if (cut.len > 1)
				ob_putc(&cut, ',');
			ob_putc(&cut, '"');
			ob_put(&cut, o.m[i].key, o.m[i].key_len);
			ob_puts(&cut, "\":");
			ob_puts(&cut, q);
			ob_put(&cut, o.m[i].val, o.m[i].val_len);
			ob_puts(&cut, q);
		}
		ob_putc(&cut, '}');
		if (rewrite(cut.data, cut.len, &again))
			continue; /* a key the record cannot do without */
		if (o.m[k].type == JSONL_NULL || o.m[k].type == JSONL_FALSE)
			continue;
		if (is_derived) {
			assert_int_equal(again.len, full.len);
			assert_memory_equal(again.data, full.data, full.len);
		} else if (again.len == full.len && !memcmp(again.data, full.data, full.len)) {
			fail_msg("\"%.*s\" is written but not read", (int)o.m[k].key_len,
				 o.m[k].key);
		}
	}
	ob_free(&full);
	ob_free(&cut);
	ob_free(&again);
}

static void test_every_key_read(void **state)
{
	static struct tt_owner_rec own[2] = {{.pid = 7, .comm = "nginx"}, {.pid = 8, .comm = "sh"}};
	struct owners_list h = {.recs = own, .n = 2, .more = 3};
	struct cg_desc cg =
		cg_of("/kubepods.slice/kubepods-pod0a1b2c3d_4e5f_6a7b_8c9d_0e1f2a3b4c5d."
		      "slice/cri-containerd-" CID ".scope");
	struct tt_event e = final_event();

	rst_reason_clear();
	assert_int_equal(rst_reason_set(11, "TCP_ABORT_ON_CLOSE", 18), 0);
	e.flags |= TT_F_LIFE_MIN | TT_F_DELTA_MIN;
	check_every_key(&e, NULL, &cg);
	e = base_event();
	e.flags = TT_F_OWNER_MOVED | TT_F_DELTA_KNOWN;
	check_every_key(&e, NULL, NULL);
	e.type = TT_EV_STUCK;
	e.oldstate = e.newstate = TT_CLOSE_WAIT;
	check_every_key(&e, &h, &cg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_totals),
		cmocka_unit_test(test_every_key_read),
		cmocka_unit_test(test_cgroup_keys),
		cmocka_unit_test(test_record_types),
		cmocka_unit_test(test_record_errors),
		cmocka_unit_test(test_record_seq),
		cmocka_unit_test(test_stuck_holders),
		cmocka_unit_test(test_parse_time),
		cmocka_unit_test(test_record_impossible_time),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
