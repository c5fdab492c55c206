// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Unit tests of src/causes.[ch]: cause, errno and reset reason names; totals as JSON and text. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "tt_test.h"
#include "causes.h"

static void test_cause_names(void **state)
{
	static const char *const want[TT_CAUSE_MAX] = {
		NULL,	    "closed",	 "timewait", "refused",		"timeout",
		"reset_in", "reset_out", "abort",    "listener_closed", "unknown",
	};

	for (unsigned int c = 0; c < TT_CAUSE_MAX; c++) {
		if (!want[c]) {
			assert_null(cause_name(c));
			continue;
		}
		assert_string_equal(cause_name(c), want[c]);
		assert_int_equal(cause_parse(want[c], strlen(want[c])), c);
	}
	assert_null(cause_name(TT_CAUSE_MAX));
	assert_null(cause_name(255));
	assert_null(cause_name(~0u));
	/* Every name is in the list the messages print, in enum order. */
	assert_string_equal(cause_all_names(), "closed, timewait, refused, timeout, reset_in, "
					       "reset_out, abort, listener_closed, unknown");
}

static void test_cause_parse(void **state)
{
	assert_int_equal(cause_parse("RESET_IN", 8), TT_CAUSE_RESET_IN);
	assert_int_equal(cause_parse("reset-out", 9), TT_CAUSE_RESET_OUT);
	assert_int_equal(cause_parse("Listener-Closed", 15), TT_CAUSE_LISTENER_CLOSED);
	/* Only the first len bytes count. */
	assert_int_equal(cause_parse("refused,timeout", 7), TT_CAUSE_REFUSED);
	assert_int_equal(cause_parse("refusedX", 7), TT_CAUSE_REFUSED);
	assert_int_equal(cause_parse("", 0), -1);
	assert_int_equal(cause_parse("reset", 5), -1);
	assert_int_equal(cause_parse("reset_in ", 9), -1);
	assert_int_equal(cause_parse("none", 4), -1);
	assert_int_equal(cause_parse("closed\0", 7), -1);
	assert_int_equal(cause_parse("clo\0ed", 6), -1);
	assert_int_equal(cause_parse("reset__in", 9), -1);
	assert_int_equal(cause_parse("0", 1), -1);
}

static void test_cause_list(void **state)
{
	char err[256];
	uint32_t mask = 0;

	assert_int_equal(cause_add_list(&mask, "refused,timeout", err, sizeof(err)), 0);
	assert_int_equal(mask, 1u << TT_CAUSE_REFUSED | 1u << TT_CAUSE_TIMEOUT);
	/* Lists add up; a name twice is once. */
	assert_int_equal(cause_add_list(&mask, "RESET-IN,reset_in", err, sizeof(err)), 0);
	assert_int_equal(mask,
			 1u << TT_CAUSE_REFUSED | 1u << TT_CAUSE_TIMEOUT | 1u << TT_CAUSE_RESET_IN);
	/* A bad list changes nothing, even when its first items were good. */
	assert_int_equal(cause_add_list(&mask, "abort,bogus", err, sizeof(err)), -1);
	assert_string_equal(err, "'bogus' is not a cause (closed, timewait, refused, timeout, "
				 "reset_in, reset_out, abort, listener_closed, unknown)");
	assert_int_equal(mask,
			 1u << TT_CAUSE_REFUSED | 1u << TT_CAUSE_TIMEOUT | 1u << TT_CAUSE_RESET_IN);
	assert_int_equal(cause_add_list(&mask, "", err, sizeof(err)), -1);
	assert_string_equal(err, "empty list (causes: closed, timewait, refused, timeout, "
				 "reset_in, reset_out, abort, listener_closed, unknown)");
	assert_int_equal(cause_add_list(&mask, NULL, err, sizeof(err)), -1);
	assert_int_equal(cause_add_list(&mask, "closed,,abort", err, sizeof(err)), -1);
	assert_string_equal(err, "empty item in list 'closed,,abort'");
	assert_int_equal(cause_add_list(&mask, "closed,", err, sizeof(err)), -1);
	assert_string_equal(err, "empty item in list 'closed,'");
	assert_int_equal(cause_add_list(&mask, ",closed", err, sizeof(err)), -1);
	/* A long item is cut so the valid names still fit. */
	assert_int_equal(
		cause_add_list(&mask,
			       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", err,
			       sizeof(err)),
		-1);
	assert_string_equal(err, "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' is not a cause (closed, "
				 "timewait, refused, timeout, reset_in, reset_out, abort, "
				 "listener_closed, unknown)");
	/* TT_CAUSE_NONE has no name: no list selects non-final transitions. */
	assert_int_equal(cause_add_list(&mask, "none", err, sizeof(err)), -1);
	mask = 0;
	assert_int_equal(cause_add_list(&mask,
					"closed,timewait,refused,timeout,reset_in,reset_out,abort,"
					"listener_closed,unknown",
					err, sizeof(err)),
			 0);
	assert_int_equal(mask, ((1u << TT_CAUSE_MAX) - 1) & ~1u);
	/* A small err buffer gets a cut, terminated message. */
	assert_int_equal(cause_add_list(&mask, "x", err, 10), -1);
	assert_string_equal(err, "'x' is no");
}

static void test_errno_names(void **state)
{
	assert_null(errno_name(0));
	assert_string_equal(errno_name(ECONNRESET), "ECONNRESET");
	assert_string_equal(errno_name(ECONNREFUSED), "ECONNREFUSED");
	assert_string_equal(errno_name(ETIMEDOUT), "ETIMEDOUT");
	assert_string_equal(errno_name(EPIPE), "EPIPE");
	assert_string_equal(errno_name(EHOSTUNREACH), "EHOSTUNREACH");
	assert_string_equal(errno_name(EPROTO), "EPROTO");
	assert_string_equal(errno_name(EPERM), "EPERM");
	assert_null(errno_name(65535));
	assert_null(errno_name(~0u));
	/* The same names as glibc's, for every number both know. */
	for (int i = 1; i < 4096; i++) {
		const char *glibc = strerrorname_np(i);
		const char *ours = errno_name((unsigned int)i);

		if (!glibc || !ours) {
			/* sk_err is a kernel errno: every one glibc names, we name too */
			if (glibc && i < 4096)
				fail_msg("%d: glibc names it %s, we do not", i, glibc);
			continue;
		}
		if (strcmp(glibc, ours))
			fail_msg("%d: glibc %s, ours %s", i, glibc, ours);
	}
}

static void test_reset_reasons(void **state)
{
	uint16_t v = 0, w = 0;

	rst_reason_clear();
	assert_null(rst_reason_name(11));
	assert_int_equal(rst_reason_set(11, "TCP_ABORT_ON_CLOSE", 18), 0);
	assert_int_equal(rst_reason_set(0, "NOT_SPECIFIED_AND_MORE", 13), 0);
	assert_string_equal(rst_reason_name(11), "TCP_ABORT_ON_CLOSE");
	assert_string_equal(rst_reason_name(0), "NOT_SPECIFIED");
	assert_null(rst_reason_name(12));
	assert_int_equal(rst_reason_set(RST_KERNEL_MAX - 1, "LAST", 4), 0);
	assert_int_equal(rst_reason_set(RST_KERNEL_MAX, "TOO_FAR", 7), -1);
	assert_null(rst_reason_name(RST_KERNEL_MAX));
	/* Names are C identifiers below RST_NAME_MAX. */
	assert_int_equal(rst_reason_set(1, "", 0), -1);
	assert_int_equal(rst_reason_set(1, "A B", 3), -1);
	assert_int_equal(rst_reason_set(1, "\x1b[2J", 4), -1);
	assert_int_equal(rst_reason_set(1, "1ABC", 4), -1);
	assert_int_equal(rst_reason_set(1, "caf\xc3\xa9", 5), -1);
	assert_int_equal(rst_reason_set(1, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 47),
			 0);
	assert_int_equal(rst_reason_set(1, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 48),
			 -1);
	assert_int_equal(strlen(rst_reason_name(1)), 47);

	/* Logs: the same name gets the same value, another name another one. */
	assert_int_equal(rst_reason_intern("TCP_STATE", 9, &v), 0);
	assert_int_equal(v, RST_LOG_BASE);
	assert_int_equal(rst_reason_intern("TCP_STATEX", 9, &w), 0);
	assert_int_equal(w, v);
	assert_int_equal(rst_reason_intern("TCP_STAT", 8, &w), 0);
	assert_int_equal(w, RST_LOG_BASE + 1);
	assert_string_equal(rst_reason_name(v), "TCP_STATE");
	assert_string_equal(rst_reason_name(w), "TCP_STAT");
	/* A kernel name is not a log name: values never mix. */
	assert_int_equal(rst_reason_intern("TCP_ABORT_ON_CLOSE", 18, &w), 0);
	assert_int_equal(w, RST_LOG_BASE + 2);
	assert_null(rst_reason_name(RST_LOG_BASE + 3));
	assert_null(rst_reason_name(RST_LOG_BASE - 1));
	assert_null(rst_reason_name(0xffff));
	v = 7;
	assert_int_equal(rst_reason_intern("bad name", 8, &v), -1);
	assert_int_equal(rst_reason_intern("", 0, &v), -1);
	assert_int_equal(v, 7);
	/* Full: known names still resolve, new ones are refused. */
	for (int i = 3; i < RST_LOG_MAX; i++) {
		char name[16];

		snprintf(name, sizeof(name), "R%d", i);
		assert_int_equal(rst_reason_intern(name, strlen(name), &v), 0);
		assert_int_equal(v, RST_LOG_BASE + i);
	}
	assert_int_equal(rst_reason_intern("ONE_MORE", 8, &v), -1);
	assert_int_equal(rst_reason_intern("TCP_STAT", 8, &v), 0);
	assert_int_equal(v, RST_LOG_BASE + 1);
	assert_string_equal(rst_reason_name(RST_LOG_BASE + RST_LOG_MAX - 1), "R127");
	assert_null(rst_reason_name(RST_LOG_BASE + RST_LOG_MAX));

	rst_reason_clear();
	assert_null(rst_reason_name(11));
	assert_null(rst_reason_name(RST_LOG_BASE));
	assert_int_equal(rst_reason_intern("ONE_MORE", 8, &v), 0);
	assert_int_equal(v, RST_LOG_BASE);
	rst_reason_clear();
}

static void compact(uint64_t n, const char *want)
{
	char buf[8];
	size_t len;

	memset(buf, 'X', sizeof(buf));
	len = bytes_compact(buf, n);
	if (len != strlen(want) || memcmp(buf, want, len))
		fail_msg("%llu: '%.*s', want '%s'", (unsigned long long)n, (int)len, buf, want);
	assert_true(len <= 5);
}

static void test_bytes_compact(void **state)
{
	compact(0, "0");
	compact(340, "340");
	compact(1023, "1023");
	compact(1024, "1.0K");
	compact(1075, "1.0K"); /* 1.0498 */
	compact(1076, "1.1K"); /* 1.0508 */
	compact(1234, "1.2K");
	compact(10188, "9.9K"); /* 9.949 */
	compact(10189, "10K");	/* 9.950: one decimal would be 10.0 */
	compact(10751, "10K");	/* 10.499 */
	compact(10752, "11K");	/* 10.5 */
	compact(100000, "98K"); /* 97.66 */
	compact(1047552, "1023K");
	compact(1048063, "1023K"); /* 1023.499K */
	compact(1048064, "1.0M");  /* 1023.5K */
	compact(1048576, "1.0M");
	compact(5 * 1048576 + 524288, "5.5M");
	compact(123ULL << 20, "123M");
	compact(3ULL << 30, "3.0G");
	compact(1ULL << 40, "1.0T");
	compact(1ULL << 50, "1.0P");
	compact(1ULL << 60, "1.0E");
	compact(UINT64_MAX, "16E");
}

/* A final transition: reset sent on an established connection, with the kernel's reason. */
static void reset_out_event(struct tt_event *e)
{
	memset(e, 0, sizeof(*e));
	e->type = TT_EV_STATE;
	e->oldstate = TT_ESTABLISHED;
	e->newstate = TT_CLOSE;
	e->flags = TT_F_TOTALS | TT_F_RESET | TT_F_RESET_REASON;
	e->cause = TT_CAUSE_RESET_OUT;
	e->reset_reason = 11;
	e->bytes_sent = 100000;
	e->bytes_received = 340;
	e->segs_out = 12;
	e->segs_in = 9;
	e->retrans = 2;
	e->srtt_us = 51;
	e->rttvar_us = 1234567;
	e->life_ns = 2500123456;
}

/* reset_out_event()'s counts as totals_json() writes them, after the reset reason. */
#define RESET_OUT_COUNTS                                                              \
	"\"bytes_sent\":100000,\"bytes_received\":340,\"segs_out\":12,\"segs_in\":9," \
	"\"retrans\":2,\"syn_retrans\":0,\"srtt_ms\":0.051,\"rttvar_ms\":1234.567,"   \
	"\"life_ms\":2500.123"

static void json_is(const struct tt_event *e, const char *want)
{
	struct outbuf ob;

	ob_init(&ob);
	totals_json(&ob, e);
	assert_ob(&ob, want);
	ob_free(&ob);
}

static void test_totals_json(void **state)
{
	struct tt_event e;

	rst_reason_clear();
	reset_out_event(&e);
	/* The value has no name here: null, as on a kernel without the enum. */
	json_is(&e, ",\"cause\":\"reset_out\",\"error\":null,\"sk_err\":0,"
		    "\"reset_reason\":null," RESET_OUT_COUNTS);
	assert_int_equal(rst_reason_set(11, "TCP_ABORT_ON_CLOSE", 18), 0);
	json_is(&e, ",\"cause\":\"reset_out\",\"error\":null,\"sk_err\":0,"
		    "\"reset_reason\":\"TCP_ABORT_ON_CLOSE\"," RESET_OUT_COUNTS);
	/* A reason goes with a reset sent: not with a timewait handoff that had one pending. */
	e.cause = TT_CAUSE_TIMEWAIT;
	json_is(&e, ",\"cause\":\"timewait\",\"error\":null,\"sk_err\":0,"
		    "\"reset_reason\":null," RESET_OUT_COUNTS);
	e.cause = TT_CAUSE_RESET_OUT;
	/* Without TT_F_RESET_REASON the value is not looked at. */
	e.flags &= (uint16_t)~TT_F_RESET_REASON;
	json_is(&e, ",\"cause\":\"reset_out\",\"error\":null,\"sk_err\":0,"
		    "\"reset_reason\":null," RESET_OUT_COUNTS);

	/* A connect that timed out: no RTT sample, SYN retransmits, an older socket. */
	memset(&e, 0, sizeof(e));
	e.oldstate = TT_SYN_SENT;
	e.newstate = TT_CLOSE;
	e.flags = TT_F_TOTALS | TT_F_RESET | TT_F_LIFE_MIN;
	e.cause = TT_CAUSE_TIMEOUT;
	e.sk_err = ETIMEDOUT;
	e.segs_out = 3;
	e.retrans = 2;
	e.syn_retrans = 2;
	e.rttvar_us = 1000000; /* the initial variation, no sample: not printed */
	e.life_ns = 7000000999;
	json_is(&e, ",\"cause\":\"timeout\",\"error\":\"ETIMEDOUT\",\"sk_err\":110,"
		    "\"reset_reason\":null,\"bytes_sent\":0,\"bytes_received\":0,\"segs_out\":3,"
		    "\"segs_in\":0,\"retrans\":2,\"syn_retrans\":2,\"srtt_ms\":null,"
		    "\"rttvar_ms\":null,\"life_ms\":7000.000,\"life_min\":true");

	/* Extremes; an error without a name; a cause out of range; a socket not followed. */
	memset(&e, 0xff, sizeof(e));
	e.flags = TT_F_TOTALS;
	e.cause = 200;
	e.life_ns = 0;
	json_is(&e, ",\"cause\":\"unknown\",\"error\":null,\"sk_err\":65535,"
		    "\"reset_reason\":null,\"bytes_sent\":18446744073709551615,"
		    "\"bytes_received\":18446744073709551615,\"segs_out\":4294967295,"
		    "\"segs_in\":4294967295,\"retrans\":4294967295,\"syn_retrans\":65535,"
		    "\"srtt_ms\":4294967.295,\"rttvar_ms\":4294967.295,\"life_ms\":null");
	/* Under a microsecond is no life: it would read back as 0, not followed. */
	e.cause = TT_CAUSE_NONE;
	e.life_ns = 999;
	json_is(&e, ",\"cause\":\"unknown\",\"error\":null,\"sk_err\":65535,"
		    "\"reset_reason\":null,\"bytes_sent\":18446744073709551615,"
		    "\"bytes_received\":18446744073709551615,\"segs_out\":4294967295,"
		    "\"segs_in\":4294967295,\"retrans\":4294967295,\"syn_retrans\":65535,"
		    "\"srtt_ms\":4294967.295,\"rttvar_ms\":4294967.295,\"life_ms\":null");
	e.life_ns = 1000;
	e.srtt_us = 1;
	e.rttvar_us = 0;
	json_is(&e, ",\"cause\":\"unknown\",\"error\":null,\"sk_err\":65535,"
		    "\"reset_reason\":null,\"bytes_sent\":18446744073709551615,"
		    "\"bytes_received\":18446744073709551615,\"segs_out\":4294967295,"
		    "\"segs_in\":4294967295,\"retrans\":4294967295,\"syn_retrans\":65535,"
		    "\"srtt_ms\":0.001,\"rttvar_ms\":0.000,\"life_ms\":0.001");
	rst_reason_clear();
}

static void test_totals_reset(void **state)
{
	struct tt_event e;

	memset(&e, 0, sizeof(e));
	for (unsigned int c = 0; c < 256; c++) {
		e.cause = (__u8)c;
		assert_int_equal(totals_reset(&e), c == TT_CAUSE_REFUSED ||
							   c == TT_CAUSE_RESET_IN ||
							   c == TT_CAUSE_RESET_OUT);
	}
}

static void test_totals_text(void **state)
{
	struct tt_event e;
	struct outbuf ob;

	ob_init(&ob);
	reset_out_event(&e);
	e.bytes_sent = 1234;
	assert_string_equal(totals_cause_text(&e), "reset_out");
	totals_bytes_text(&ob, &e);
	assert_ob(&ob, "1.2K/340");
	ob_reset(&ob);
	e.bytes_sent = UINT64_MAX;
	e.bytes_received = 1047552;
	totals_bytes_text(&ob, &e);
	assert_ob(&ob, "16E/1023K");
	/* A listener moved no data of its own. */
	ob_reset(&ob);
	e.oldstate = TT_LISTEN;
	e.cause = TT_CAUSE_LISTENER_CLOSED;
	totals_bytes_text(&ob, &e);
	assert_ob(&ob, "-");
	assert_string_equal(totals_cause_text(&e), "listener_closed");
	e.cause = 77;
	assert_string_equal(totals_cause_text(&e), "unknown");
	ob_free(&ob);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cause_names),   cmocka_unit_test(test_cause_parse),
		cmocka_unit_test(test_cause_list),    cmocka_unit_test(test_errno_names),
		cmocka_unit_test(test_reset_reasons), cmocka_unit_test(test_bytes_compact),
		cmocka_unit_test(test_totals_json),   cmocka_unit_test(test_totals_reset),
		cmocka_unit_test(test_totals_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
