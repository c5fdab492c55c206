// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Unit tests of src/services.[ch]: /etc/services parsing and lookups. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "services.h"

/* Parses a C string into a fresh table; *added gets the return value. */
static struct services *parse(const char *text, int *added)
{
	struct services *s = services_new();

	assert_non_null(s);
	*added = services_parse(s, text, strlen(text));
	return s;
}

/* The table has exactly the one name for port, or none (name NULL). */
static void expect_name(const struct services *s, uint16_t port, const char *name)
{
	const char *got = services_name(s, port);

	if (!name) {
		assert_null(got);
		return;
	}
	assert_non_null(got);
	assert_string_equal(got, name);
}

/* Number of ports that have a name. */
static int count_names(const struct services *s)
{
	int n = 0;

	for (uint32_t p = 0; p < 65536; p++)
		n += services_name(s, (uint16_t)p) != NULL;
	return n;
}

static void test_empty(void **state)
{
	struct services *s = services_new();

	assert_non_null(s);
	assert_int_equal(services_parse(s, "", 0), 0);
	assert_int_equal(count_names(s), 0);
	expect_name(s, 0, NULL);
	expect_name(s, 80, NULL);
	services_free(s);
	assert_null(services_name(NULL, 80));
	services_free(NULL);
}

/* A buffer, how many entries it adds, and the names the table then has for some ports. */
struct parse_case {
	const char *what;
	const char *text;
	int added;
	struct {
		int port; /* -1 ends the list */
		const char *name;
	} want[8];
};

static void test_parse_cases(void **state)
{
	static const struct parse_case cases[] = {
		{"basic",
		 "# Network services, Internet style\n"
		 "\n"
		 "ssh\t\t22/tcp\t\t\t\t# SSH Remote Login Protocol\n"
		 "http\t\t80/tcp\t\twww\t\t# WorldWideWeb HTTP\n"
		 "https  443/tcp\n"
		 "domain 53/udp\n"
		 "max 65535/tcp\n",
		 4,
		 {{22, "ssh"},
		  {80, "http"},
		  {443, "https"},
		  {53, NULL} /* udp only */,
		  {65535, "max"},
		  {-1, NULL}}},
		{"udp and other protocols",
		 "dns 53/udp\n"
		 "dns2 53/tcp\n"
		 "sctpish 9/sctp\n"
		 "ddp 10/ddp\n"
		 "upper 11/TCP\n",
		 1,
		 {{53, "dns2"}, {9, NULL}, {10, NULL}, {11, NULL}, {-1, NULL}}},
		{"comments and blanks",
		 "#\n"
		 "# only a comment 1/tcp\n"
		 "   # indented comment 2/tcp\n"
		 "\t\n"
		 "   \n"
		 "tight 3/tcp# no space before the comment\n"
		 "#hidden 4/tcp\n"
		 "  lead 5/tcp  \n"
		 "crlf 6/tcp\r\n"
		 "tabs\t7/tcp\talias\n",
		 4,
		 {{1, NULL},
		  {2, NULL},
		  {3, "tight"},
		  {4, NULL},
		  {5, "lead"},
		  {6, "crlf"},
		  {7, "tabs"},
		  {-1, NULL}}},
		{"malformed between good lines, no final newline",
		 "good1 1/tcp\n"
		 "bad 70000/tcp\n"
		 "garbage line here\n"
		 "good2 2/tcp\n"
		 "bad2 x/tcp\n"
		 "good3 3/tcp",
		 3,
		 {{1, "good1"}, {2, "good2"}, {3, "good3"}, {-1, NULL}}},
		{"port zero and leading zeros",
		 "zero 0/tcp\nlead 0080/tcp\n",
		 2,
		 {{0, "zero"}, {80, "lead"}, {-1, NULL}}},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct parse_case *c = &cases[i];
		int n;
		struct services *s = parse(c->text, &n);

		if (n != c->added || count_names(s) != c->added)
			fail_msg("%s: %d added, %d names, want %d", c->what, n, count_names(s),
				 c->added);
		for (int k = 0; c->want[k].port >= 0; k++)
			expect_name(s, (uint16_t)c->want[k].port, c->want[k].name);
		services_free(s);
	}
}

static void test_first_name_wins(void **state)
{
	int n;
	struct services *s = parse("http 80/tcp www www-http\n"
				   "www 80/tcp\n"
				   "other 80/tcp\n",
				   &n);

	assert_int_equal(n, 1);
	expect_name(s, 80, "http");
	assert_int_equal(count_names(s), 1);
	services_free(s);

	/* A later parse adds to the table but does not override. */
	s = parse("a 1/tcp\n", &n);
	assert_int_equal(services_parse(s, "b 1/tcp\nc 2/tcp\n", 16), 1);
	expect_name(s, 1, "a");
	expect_name(s, 2, "c");
	services_free(s);
}

static void test_malformed_skipped(void **state)
{
	static const char *const bad[] = {
		"noport\n",
		"nonum /tcp\n",
		"noproto 80\n",
		"slash 80/\n",
		"spaceproto 80/ tcp\n",
		"suffix 80/tcpx\n",
		"letters abc/tcp\n",
		"mixed 8a/tcp\n",
		"neg -1/tcp\n",
		"plus +80/tcp\n",
		"hex 0x50/tcp\n",
		"80/tcp\n",
		"big 65536/tcp\n",
		"bigger 99999/tcp\n",
		"huge 99999999999999999999999/tcp\n",
		"quote\"name 81/tcp\n",
		"back\\slash 82/tcp\n",
		"high\xc3\xa9 83/tcp\n",
		"ctl\x01name 84/tcp\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int n;
		struct services *s = parse(bad[i], &n);

		if (n != 0)
			fail_msg("line accepted: %s", bad[i]);
		assert_int_equal(count_names(s), 0);
		services_free(s);
	}
}

static void test_name_length(void **state)
{
	char line[200], name[80];
	int n;
	struct services *s;

	memset(name, 'n', 64);
	name[64] = '\0';
	snprintf(line, sizeof(line), "%s 1/tcp\n", name);
	s = parse(line, &n);
	assert_int_equal(n, 1);
	expect_name(s, 1, name);
	services_free(s);

	memset(name, 'n', 65);
	name[65] = '\0';
	snprintf(line, sizeof(line), "%s 1/tcp\n", name);
	s = parse(line, &n);
	assert_int_equal(n, 0);
	services_free(s);
}

/* Bytes after the buffer's length are not read; NUL bytes inside are just bad characters. */
static void test_binary_input(void **state)
{
	static const char buf[] = "a 1/tcp\nb\0c 2/tcp\nd 3/t\0cp\ne 4/tcp\nf 5/tcp";
	struct services *s = services_new();

	assert_non_null(s);
	assert_int_equal(services_parse(s, buf, sizeof(buf) - 1 - 8), 2);
	expect_name(s, 1, "a");
	expect_name(s, 2, NULL);
	expect_name(s, 3, NULL);
	expect_name(s, 4, "e");
	expect_name(s, 5, NULL); /* cut off by the length */
	services_free(s);
}

/* Many long names grow the string pool past its first allocation. */
static void test_pool_growth(void **state)
{
	size_t cap = 65536 * 80, len = 0;
	char *text = malloc(cap);
	struct services *s = services_new();
	char want[80];

	assert_non_null(text);
	assert_non_null(s);
	for (uint32_t p = 1; p < 65536; p++)
		len += (size_t)snprintf(text + len, cap - len, "svc-%u-%s %u/tcp\n", p,
					"padding-padding-padding-padding-padding", p);
	assert_int_equal(services_parse(s, text, len), 65535);
	for (uint32_t p = 1; p < 65536; p += 997) {
		snprintf(want, sizeof(want), "svc-%u-%s", p,
			 "padding-padding-padding-padding-padding");
		expect_name(s, (uint16_t)p, want);
	}
	expect_name(s, 65535, "svc-65535-padding-padding-padding-padding-padding");
	free(text);
	services_free(s);
}

static void test_load_file(void **state)
{
	char path[] = "/tmp/tt-services-XXXXXX";
	int fd = mkstemp(path);
	static const char text[] = "echo 7/tcp\nfoo 1234/tcp bar\n";
	struct services *s;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
	close(fd);
	s = services_load(path);
	unlink(path);
	assert_non_null(s);
	expect_name(s, 7, "echo");
	expect_name(s, 1234, "foo");
	assert_int_equal(count_names(s), 2);
	services_free(s);

	errno = 0;
	assert_null(services_load("/nonexistent/tt-services"));
	assert_int_equal(errno, ENOENT);
}

static void test_load_etc_services(void **state)
{
	struct services *s = services_load("/etc/services");

	if (!s) {
		skip();
		return;
	}
	expect_name(s, 22, "ssh");
	expect_name(s, 80, "http");
	expect_name(s, 443, "https");
	assert_true(count_names(s) > 100);
	services_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_parse_cases),
		cmocka_unit_test(test_first_name_wins),
		cmocka_unit_test(test_malformed_skipped),
		cmocka_unit_test(test_name_length),
		cmocka_unit_test(test_binary_input),
		cmocka_unit_test(test_pool_growth),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_load_etc_services),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
