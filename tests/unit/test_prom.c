// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Unit tests of src/prom.[ch]: Accept negotiation (what Prometheus and curl send, q-values,
 * versions, case, quoting, garbage), label value escaping, numbers, family comment lines in both
 * formats, histogram bounds, and the --metrics ADDR:PORT parser.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>
#include "prom.h"
#include "tt_test.h"

static enum prom_format neg(const char *s)
{
	return prom_negotiate(s, s ? strlen(s) : 0);
}

static void test_negotiate(void **state)
{
	static const struct {
		const char *accept; /* the Accept header, NULL for none */
		enum prom_format want;
	} cases[] = {
		/* Prometheus 2.x's scrape header. */
		{"application/openmetrics-text;version=1.0.0,application/"
		 "openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;"
		 "q=0.5,*/*;q=0.1",
		 PROM_OPENMETRICS},
		{NULL, PROM_TEXT},
		{"", PROM_TEXT},
		{"*/*", PROM_TEXT}, /* curl */
		{"text/plain", PROM_TEXT},
		{"application/openmetrics-text", PROM_OPENMETRICS},
		{"Application/OpenMetrics-Text; Version=1.0.0", PROM_OPENMETRICS},
		{"application/openmetrics-text; version=\"1.0.0\"", PROM_OPENMETRICS},
		{"application/openmetrics-text;version=0.0.1", PROM_OPENMETRICS},
		/* A version we do not write is not what was asked for. */
		{"application/openmetrics-text;version=2.0.0", PROM_TEXT},
		/* q-values decide; a tie goes to the text format. */
		{"application/openmetrics-text;q=0.5,text/plain;q=0.6", PROM_TEXT},
		{"application/openmetrics-text;q=0.5,text/plain;q=0.5", PROM_TEXT},
		{"text/plain;q=0.4, application/openmetrics-text ; q=0.5", PROM_OPENMETRICS},
		{"application/openmetrics-text;q=0", PROM_TEXT},
		{"application/openmetrics-text;q=0.000", PROM_TEXT},
		{"application/openmetrics-text;q=1.000", PROM_OPENMETRICS},
		/* A bad q is no acceptance. */
		{"application/openmetrics-text;q=2", PROM_TEXT},
		{"application/openmetrics-text;q=abc", PROM_TEXT},
		/* text/plain of another version does not cover ours, so OpenMetrics wins. */
		{"application/openmetrics-text;q=0.2,text/plain;version=1.0", PROM_OPENMETRICS},
		/* A comma inside a quoted parameter does not split the list. */
		{"text/plain;foo=\"a,application/openmetrics-text\"", PROM_TEXT},
		{"application/json, application/openmetrics-text", PROM_OPENMETRICS},
		/* Garbage. */
		{",,,;;;===", PROM_TEXT},
		{"\"", PROM_TEXT},
		{"application/openmetrics-text;version", PROM_OPENMETRICS},
		{"*/plain", PROM_TEXT},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (neg(cases[i].accept) != cases[i].want)
			fail_msg("Accept '%s' gives format %d, want %d",
				 cases[i].accept ? cases[i].accept : "(none)", neg(cases[i].accept),
				 cases[i].want);

	/* Not NUL-terminated: only len bytes are read. */
	assert_int_equal(prom_negotiate("text/plainXX", 10), PROM_TEXT);
	assert_int_equal(prom_negotiate("application/openmetrics-textZZZ", 28), PROM_OPENMETRICS);
	assert_string_equal(prom_content_type(PROM_TEXT),
			    "text/plain; version=0.0.4; charset=utf-8");
	assert_string_equal(prom_content_type(PROM_OPENMETRICS),
			    "application/openmetrics-text; version=1.0.0; charset=utf-8");
}

static void check_label(const char *in, size_t n, const char *want)
{
	struct outbuf ob;

	ob_init(&ob);
	prom_label_value(&ob, in, n);
	assert_ob(&ob, want);
	ob_free(&ob);
}

static void test_label_value(void **state)
{
	char big[600];

	check_label("nginx", 5, "nginx");
	check_label("", 0, "");
	check_label("a\"b\\c", 5, "a\\\"b\\\\c");
	/* A newline or an escape sequence in a process name never reaches the exposition. */
	check_label("x\ny", 3, "x?y");
	check_label("\x1b]0;t\x07", 6, "?]0;t?");
	check_label("caf\xc3\xa9", 5, "caf\xc3\xa9");
	check_label("bad\xff\xfe", 5, "bad??");
	check_label("\"\"", 2, "\\\"\\\"");
	memset(big, '"', sizeof(big));
	{
		struct outbuf ob;

		ob_init(&ob);
		prom_label_value(&ob, big, sizeof(big));
		/* Cut at PROM_LABEL_MAX bytes, then escaped. */
		assert_int_equal(ob.len, 2 * PROM_LABEL_MAX);
		ob_free(&ob);
	}
}

static void check_double(double v, const char *want)
{
	struct outbuf ob;

	ob_init(&ob);
	prom_double(&ob, v);
	assert_ob(&ob, want);
	ob_free(&ob);
}

static void test_double(void **state)
{
	check_double(0, "0");
	check_double(1, "1");
	check_double(-3, "-3");
	check_double(9007199254740992.0, "9007199254740992");
	check_double(1e20, "1e+20");
	check_double(0.5, "0.5");
	check_double(0.1, "0.1");
	check_double(1e-9, "1e-09");
	check_double(123.456789, "123.456789");
	check_double(1.0 / 0.0, "+Inf");
	check_double(-1.0 / 0.0, "-Inf");
	check_double(0.0 / 0.0, "NaN");
	/* Seconds from a split sum: exact for what fits a double. */
	assert_true(prom_seconds(3, 1500000000ULL) == 4.5);
	assert_true(prom_seconds(0, 100000ULL) == 0.0001);
}

static void test_family(void **state)
{
	struct outbuf ob;

	ob_init(&ob);
	prom_family(&ob, PROM_TEXT, "tcptrail_events_total", PROM_COUNTER, "Events.");
	assert_ob(&ob, "# HELP tcptrail_events_total Events.\n"
		       "# TYPE tcptrail_events_total counter\n");
	ob_reset(&ob);
	prom_family(&ob, PROM_OPENMETRICS, "tcptrail_events_total", PROM_COUNTER, "Events.");
	assert_ob(&ob, "# HELP tcptrail_events Events.\n# TYPE tcptrail_events counter\n");
	ob_reset(&ob);
	prom_family(&ob, PROM_TEXT, "tcptrail_build_info", PROM_INFO, "Build.");
	assert_ob(&ob, "# HELP tcptrail_build_info Build.\n# TYPE tcptrail_build_info gauge\n");
	ob_reset(&ob);
	prom_family(&ob, PROM_OPENMETRICS, "tcptrail_build_info", PROM_INFO, "Build.");
	assert_ob(&ob, "# HELP tcptrail_build Build.\n# TYPE tcptrail_build info\n");
	ob_reset(&ob);
	prom_family(&ob, PROM_OPENMETRICS, "tcptrail_sockets", PROM_GAUGE, "S.");
	assert_ob(&ob, "# HELP tcptrail_sockets S.\n# TYPE tcptrail_sockets gauge\n");
	ob_reset(&ob);
	prom_end(&ob, PROM_TEXT);
	assert_ob(&ob, "");
	prom_end(&ob, PROM_OPENMETRICS);
	assert_ob(&ob, "# EOF\n");
	ob_reset(&ob);
	prom_le(&ob, PROM_TEXT, "1");
	prom_le(&ob, PROM_OPENMETRICS, "1");
	prom_le(&ob, PROM_OPENMETRICS, "0.25");
	prom_le(&ob, PROM_OPENMETRICS, "3600");
	assert_ob(&ob, "11.00.253600.0");
	ob_free(&ob);
}

static void listen_ok(const char *arg, int family, const char *addr, int port, int any)
{
	struct sockaddr_storage sa;
	char err[256], text[INET6_ADDRSTRLEN];
	socklen_t len;
	int a = -1;

	if (prom_parse_listen(arg, &sa, &len, &a, err, sizeof(err)))
		fail_msg("'%s' refused: %s", arg, err);
	assert_int_equal(sa.ss_family, family);
	assert_int_equal(a, any);
	if (family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&sa;

		assert_int_equal(len, sizeof(*s4));
		inet_ntop(AF_INET, &s4->sin_addr, text, sizeof(text));
		assert_int_equal(ntohs(s4->sin_port), port);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&sa;

		assert_int_equal(len, sizeof(*s6));
		inet_ntop(AF_INET6, &s6->sin6_addr, text, sizeof(text));
		assert_int_equal(ntohs(s6->sin6_port), port);
	}
	assert_string_equal(text, addr);
}

static void listen_bad(const char *arg, const char *why)
{
	struct sockaddr_storage sa;
	char err[256];
	socklen_t len;
	int a;

	if (!prom_parse_listen(arg, &sa, &len, &a, err, sizeof(err)))
		fail_msg("'%s' accepted", arg);
	if (!strstr(err, why))
		fail_msg("'%s': '%s' does not say '%s'", arg, err, why);
	assert_non_null(strstr(err, "--metrics wants ADDR:PORT"));
}

static void test_parse_listen(void **state)
{
	listen_ok("127.0.0.1:9717", AF_INET, "127.0.0.1", 9717, 0);
	listen_ok("0.0.0.0:1", AF_INET, "0.0.0.0", 1, 0);
	listen_ok("localhost:65535", AF_INET, "127.0.0.1", 65535, 0);
	listen_ok("[::1]:9717", AF_INET6, "::1", 9717, 0);
	listen_ok("[::]:9717", AF_INET6, "::", 9717, 0);
	listen_ok(":9717", AF_INET6, "::", 9717, 1);
	listen_ok("*:80", AF_INET6, "::", 80, 1);
	listen_bad("9717", "no port");
	listen_bad("127.0.0.1:", "no port");
	listen_bad("127.0.0.1:0", "1-65535");
	listen_bad("127.0.0.1:65536", "1-65535");
	listen_bad("127.0.0.1:99999999999999999999", "1-65535");
	listen_bad("127.0.0.1:-1", "1-65535");
	listen_bad("127.0.0.1:80x", "1-65535");
	listen_bad("::1:9717", "[ADDR]:PORT");
	listen_bad("[::1]9717", "[ADDR]:PORT");
	listen_bad("[::1:9717", "[ADDR]:PORT");
	listen_bad("[nonsense]:80", "not an IPv6 address");
	listen_bad("example.com:80", "no host names");
	listen_bad("1.2.3:80", "not an IPv4 address");
	listen_bad("[0123456789012345678901234567890123456789012345678901234567]:1",
		   "not an IPv6 address");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_negotiate),    cmocka_unit_test(test_label_value),
		cmocka_unit_test(test_double),	     cmocka_unit_test(test_family),
		cmocka_unit_test(test_parse_listen),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
