// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Unit tests of src/procnet.[ch]: counters from /proc/net/netstat text. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "procnet.h"

static const char sample[] = "TcpExt: SyncookiesSent TCPTimeWaitOverflow TCPOrigDataSent\n"
			     "TcpExt: 0 42 12345\n"
			     "IpExt: InNoRoutes TCPTimeWaitOverflow\n"
			     "IpExt: 7 99\n";

static int get(const char *text, const char *group, const char *name, uint64_t *v)
{
	return procnet_counter(text, strlen(text), group, name, v);
}

static void test_finds_counter_in_its_group(void **state)
{
	uint64_t v = 0;

	assert_int_equal(get(sample, "TcpExt", "TCPTimeWaitOverflow", &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(get(sample, "TcpExt", "TCPOrigDataSent", &v), 0);
	assert_int_equal(v, 12345);
	assert_int_equal(get(sample, "IpExt", "TCPTimeWaitOverflow", &v), 0);
	assert_int_equal(v, 99);
}

static void test_absent_or_malformed(void **state)
{
	uint64_t v = 5;

	assert_int_equal(get(sample, "TcpExt", "NoSuchCounter", &v), -1);
	assert_int_equal(get(sample, "Tcp", "TCPTimeWaitOverflow", &v), -1);
	assert_int_equal(get("TcpExt: A B\n", "TcpExt", "B", &v), -1);		   /* no values */
	assert_int_equal(get("TcpExt: A B\nIpExt: 1 2\n", "TcpExt", "B", &v), -1); /* wrong group */
	assert_int_equal(get("TcpExt: A B\nTcpExt: 1\n", "TcpExt", "B", &v), -1);  /* short */
	assert_int_equal(get("TcpExt: A B\nTcpExt: 1 x\n", "TcpExt", "B", &v), -1);
	assert_int_equal(get("TcpExt: B\nTcpExt: 99999999999999999999\n", "TcpExt", "B", &v), -1);
	assert_int_equal(get("", "TcpExt", "B", &v), -1);
	assert_int_equal(v, 5);
}

static void test_no_trailing_newline(void **state)
{
	uint64_t v = 0;

	assert_int_equal(get("TcpExt: X Y\nTcpExt: 3 4", "TcpExt", "Y", &v), 0);
	assert_int_equal(v, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_finds_counter_in_its_group),
		cmocka_unit_test(test_absent_or_malformed),
		cmocka_unit_test(test_no_trailing_newline),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
