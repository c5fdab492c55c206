// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Unit tests of src/addr.h: which IPv6 addresses are IPv4-mapped. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <cmocka.h>
#include "addr.h"

static void v6(uint8_t a[16], const char *s)
{
	assert_int_equal(inet_pton(AF_INET6, s, a), 1);
}

static void test_v4_mapped(void **state)
{
	uint8_t a[16];

	v6(a, "::ffff:1.2.3.4");
	assert_true(addr_is_v4_mapped(a));
	v6(a, "::1.2.3.4");
	assert_false(addr_is_v4_mapped(a));
	v6(a, "::1");
	assert_false(addr_is_v4_mapped(a));
	v6(a, "64:ff9b::1.2.3.4");
	assert_false(addr_is_v4_mapped(a));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v4_mapped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
