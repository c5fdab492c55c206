// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Unit tests of src/outbuf.[ch]: appends, growth, number and JSON string encoding, RFC 3339
 * times.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <cmocka.h>
#include "tt_test.h"
#include "outbuf.h"

static void test_init_free(void **state)
{
	struct outbuf ob;

	ob_init(&ob);
	assert_null(ob.data);
	assert_int_equal(ob.len, 0);
	assert_int_equal(ob.cap, 0);
	assert_int_equal(ob.oom, 0);
	ob_puts(&ob, "x");
	assert_non_null(ob.data);
	ob_free(&ob);
	assert_null(ob.data);
	assert_int_equal(ob.len, 0);
	assert_int_equal(ob.cap, 0);
	ob_free(&ob); /* twice is harmless */
}

/* Zero-length appends to a buffer that never allocated must not do arithmetic on NULL. */
static void test_empty_put_on_fresh_buffer(void **state)
{
	struct outbuf ob;

	ob_init(&ob);
	ob_put(&ob, "", 0);
	ob_puts(&ob, "");
	ob_col(&ob, "", 0, 0);
	assert_int_equal(ob.len, 1); /* ob_col puts at least one space */
	assert_ob(&ob, " ");
	ob_free(&ob);
}

static void test_put_putc_puts(void **state)
{
	struct outbuf ob;

	ob_init(&ob);
	ob_put(&ob, "abc", 2);
	ob_putc(&ob, '-');
	ob_puts(&ob, "xyz");
	assert_ob(&ob, "ab-xyz");
	ob_reset(&ob);
	assert_int_equal(ob.len, 0);
	ob_puts(&ob, "again");
	assert_ob(&ob, "again");
	ob_free(&ob);
}

static void test_growth(void **state)
{
	struct outbuf ob;
	char chunk[1000];

	ob_init(&ob);
	for (int i = 0; i < 100; i++) {
		memset(chunk, 'a' + i % 26, sizeof(chunk));
		ob_put(&ob, chunk, sizeof(chunk));
		ob_putc(&ob, (char)i);
	}
	assert_int_equal(ob.len, 100 * 1001);
	assert_true(ob.cap >= ob.len);
	assert_int_equal(ob.oom, 0);
	for (int i = 0; i < 100; i++) {
		assert_int_equal(ob.data[i * 1001], 'a' + i % 26);
		assert_int_equal(ob.data[i * 1001 + 999], 'a' + i % 26);
		assert_int_equal(ob.data[i * 1001 + 1000], (char)i);
	}
	/* One append much larger than the doubling step. */
	ob_reset(&ob);
	{
		size_t big = 1 << 20;
		char *p = malloc(big);

		assert_non_null(p);
		memset(p, 'z', big);
		ob_put(&ob, p, big);
		assert_int_equal(ob.len, big);
		assert_int_equal(ob.data[big - 1], 'z');
		free(p);
	}
	ob_free(&ob);
}

static void test_reserve(void **state)
{
	struct outbuf ob;

	ob_init(&ob);
	assert_int_equal(ob_reserve(&ob, 10), 0);
	assert_true(ob.cap >= 10);
	assert_int_equal(ob_reserve(&ob, 10000), 0);
	assert_true(ob.cap >= 10000);
	assert_int_equal(ob.len, 0);
	ob_free(&ob);
}

/* After a failed allocation, appends that need room are dropped until ob_reset(). */
static void test_oom_drops(void **state)
{
	struct outbuf ob;

	ob_init(&ob);
	ob.oom = 1;
	assert_int_equal(ob_reserve(&ob, 1), -1);
	ob_puts(&ob, "lost");
	ob_putc(&ob, 'x');
	assert_int_equal(ob.len, 0);
	ob_reset(&ob);
	assert_int_equal(ob.oom, 0);
	ob_puts(&ob, "kept");
	assert_ob(&ob, "kept");
	ob_free(&ob);
}

static void test_pad(void **state)
{
	struct outbuf ob;
	char expect[101];

	ob_init(&ob);
	ob_pad(&ob, 0);
	ob_pad(&ob, -5);
	assert_int_equal(ob.len, 0);
	ob_pad(&ob, 3);
	assert_ob(&ob, "   ");
	ob_reset(&ob);
	/* More than the internal block of spaces. */
	ob_pad(&ob, 100);
	memset(expect, ' ', 100);
	expect[100] = '\0';
	assert_ob(&ob, expect);
	ob_free(&ob);
}

static void test_col(void **state)
{
	struct outbuf ob;

	ob_init(&ob);
	ob_col(&ob, "ab", 2, 5);
	assert_ob(&ob, "ab   ");
	ob_reset(&ob);
	ob_col(&ob, "abcde", 5, 5); /* full width: still one space */
	assert_ob(&ob, "abcde ");
	ob_reset(&ob);
	ob_col(&ob, "abcdefg", 7, 5); /* overflowing: one space */
	assert_ob(&ob, "abcdefg ");
	ob_reset(&ob);
	ob_col(&ob, "abcdefg", 3, 4); /* only n bytes of s */
	assert_ob(&ob, "abc ");
	ob_reset(&ob);
	ob_u64_col(&ob, 42, 5); /* numbers place as strings do */
	ob_u64_col(&ob, 12345, 5);
	ob_u64_col(&ob, 18446744073709551615ULL, 5);
	assert_ob(&ob, "42   12345 18446744073709551615 ");
	ob_free(&ob);
}

static void test_u64_to_dec(void **state)
{
	char buf[21];
	size_t n;

	n = u64_to_dec(buf, 0);
	assert_int_equal(n, 1);
	assert_memory_equal(buf, "0", 1);
	n = u64_to_dec(buf, 9);
	assert_memory_equal(buf, "9", n);
	n = u64_to_dec(buf, 10);
	assert_int_equal(n, 2);
	assert_memory_equal(buf, "10", 2);
	n = u64_to_dec(buf, 1234567890);
	assert_int_equal(n, 10);
	assert_memory_equal(buf, "1234567890", 10);
	n = u64_to_dec(buf, UINT64_MAX);
	assert_int_equal(n, 20);
	assert_memory_equal(buf, "18446744073709551615", 20);
}

static void test_u64_i64(void **state)
{
	struct outbuf ob;

	ob_init(&ob);
	ob_u64(&ob, 0);
	ob_putc(&ob, ' ');
	ob_u64(&ob, UINT64_MAX);
	ob_putc(&ob, ' ');
	ob_i64(&ob, -1);
	ob_putc(&ob, ' ');
	ob_i64(&ob, 42);
	ob_putc(&ob, ' ');
	ob_i64(&ob, INT64_MIN);
	ob_putc(&ob, ' ');
	ob_i64(&ob, INT64_MAX);
	assert_ob(&ob, "0 18446744073709551615 -1 42 -9223372036854775808 9223372036854775807");
	ob_free(&ob);
}

static void test_fixed(void **state)
{
	static const struct {
		uint64_t v;
		int dec;
		const char *out;
	} cases[] = {
		{2030, 3, "2.030"}, {5, 3, "0.005"},
		{0, 3, "0.000"},    {123, 0, "123"},
		{1999, 1, "199.9"}, {1000000, 6, "1.000000"},
		{7, -1, "7"},	    {UINT64_MAX, 3, "18446744073709551.615"},
	};
	struct outbuf ob;

	ob_init(&ob);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ob_reset(&ob);
		ob_fixed(&ob, cases[i].v, cases[i].dec);
		assert_ob(&ob, cases[i].out);
	}
	ob_free(&ob);
}

static void json(struct outbuf *ob, const char *s, size_t n, const char *expect)
{
	ob_reset(ob);
	ob_json_str(ob, s, n);
	assert_ob(ob, expect);
}

static void test_json_str(void **state)
{
	struct outbuf ob;

	ob_init(&ob);
	json(&ob, "", 0, "\"\"");
	json(&ob, "curl", 4, "\"curl\"");
	json(&ob, "a\"b\\c", 5, "\"a\\\"b\\\\c\"");
	json(&ob, "/ok", 3, "\"/ok\"");
	json(&ob, "\n\t\r\x01\x1f", 5, "\"\\u000a\\u0009\\u000d\\u0001\\u001f\"");
	json(&ob, "\x7f", 1, "\"\\u007f\"");
	json(&ob, "a\0b", 3, "\"a\\u0000b\""); /* n counts, not NUL */
	/* Valid UTF-8 of 2, 3 and 4 bytes passes through. */
	json(&ob, "\xc3\xa9", 2, "\"\xc3\xa9\"");
	json(&ob, "\xe2\x82\xac", 3, "\"\xe2\x82\xac\"");
	json(&ob, "\xf0\x9f\x98\x80", 4, "\"\xf0\x9f\x98\x80\"");
	json(&ob, "\xf4\x8f\xbf\xbf", 4, "\"\xf4\x8f\xbf\xbf\""); /* U+10FFFF */
	/* Invalid UTF-8 is escaped byte by byte. */
	json(&ob, "\x80", 1, "\"\\u0080\"");
	json(&ob, "\xff", 1, "\"\\u00ff\"");
	json(&ob, "\xc3", 1, "\"\\u00c3\"");			   /* truncated at the end */
	json(&ob, "\xc3x", 2, "\"\\u00c3x\"");			   /* bad continuation */
	json(&ob, "\xc0\x80", 2, "\"\\u00c0\\u0080\"");		   /* overlong NUL */
	json(&ob, "\xe0\x80\xaf", 3, "\"\\u00e0\\u0080\\u00af\""); /* overlong '/' */
	json(&ob, "\xed\xa0\x80", 3, "\"\\u00ed\\u00a0\\u0080\""); /* surrogate */
	json(&ob, "\xf4\x90\x80\x80", 4, "\"\\u00f4\\u0090\\u0080\\u0080\""); /* > U+10FFFF */
	json(&ob, "\xf8\x88\x80\x80\x80", 5,
	     "\"\\u00f8\\u0088\\u0080\\u0080\\u0080\""); /* 5-byte form */
	json(&ob, "\xe2\x82", 2, "\"\\u00e2\\u0082\"");	 /* truncated 3-byte */
	json(&ob, "ok\xc3\xa9\xff!", 6, "\"ok\xc3\xa9\\u00ff!\"");
	ob_free(&ob);
}

/* Terminal-safe text: controls and invalid UTF-8 become '?', byte for byte; UTF-8 stays. */
static void test_put_printable(void **state)
{
	static const struct {
		const char *in;
		size_t n;
		const char *out;
	} cases[] = {
		{"nginx", 5, "nginx"},
		{"", 0, ""},
		{"a\x1b[2Jb", 6, "a?[2Jb"},	   /* ESC: a terminal escape sequence */
		{"t\tn\n\x7f", 5, "t?n??"},	   /* C0 and DEL */
		{"caf\xc3\xa9", 5, "caf\xc3\xa9"}, /* U+00E9 */
		{"x\xc2\x9b"
		 "1m",
		 5, "x??1m"},			     /* U+009B, the C1 CSI */
		{"\xc2\xa0!", 3, "\xc2\xa0!"},	     /* U+00A0 is printable */
		{"\xff\xc3", 2, "??"},		     /* invalid, truncated sequence */
		{"\xe2\x82\xac", 3, "\xe2\x82\xac"}, /* U+20AC */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct outbuf ob;

		ob_init(&ob);
		ob_put_printable(&ob, cases[i].in, cases[i].n);
		assert_int_equal(ob.len, cases[i].n);
		assert_memory_equal(ob.data ? ob.data : "", cases[i].out, cases[i].n);
		ob_free(&ob);
	}
}

/* Output goes out and the buffer empties; a reader that left stops it quietly, a full disk not. */
/* RFC 3339 UTC with microseconds: the epoch, a leap day, the latest representable instant. */
static void test_rfc3339(void **state)
{
	struct outbuf ob;

	ob_init(&ob);
	ob_rfc3339(&ob, 0);
	assert_ob(&ob, "1970-01-01T00:00:00.000000Z");
	ob_reset(&ob);
	ob_rfc3339(&ob, 951782400ULL * 1000000000ULL + 999999999);
	assert_ob(&ob, "2000-02-29T00:00:00.999999Z");
	ob_reset(&ob);
	ob_rfc3339(&ob, UINT64_MAX);
	assert_ob(&ob, "2554-07-21T23:34:33.709551Z");
	ob_free(&ob);
}

static void test_flush_fd(void **state)
{
	struct outbuf ob;
	int p[2], broken = 0, full;
	char buf[16];

	ob_init(&ob);
	assert_int_equal(pipe(p), 0);
	ob_puts(&ob, "abc");
	assert_int_equal(ob_flush_fd(&ob, p[1], &broken), 0);
	assert_int_equal(ob.len, 0);
	assert_int_equal(broken, 0);
	assert_int_equal(read(p[0], buf, sizeof(buf)), 3);
	assert_memory_equal(buf, "abc", 3);
	assert_int_equal(ob_flush_fd(&ob, p[1], &broken), 0); /* nothing to write */

	signal(SIGPIPE, SIG_IGN);
	close(p[0]);
	ob_puts(&ob, "x");
	assert_int_equal(ob_flush_fd(&ob, p[1], &broken), 0); /* EPIPE: not an error */
	assert_int_equal(broken, 1);
	assert_int_equal(ob.len, 0);
	close(p[1]);

	full = open("/dev/full", O_WRONLY);
	if (full < 0)
		skip();
	broken = 0;
	ob_puts(&ob, "y");
	assert_int_equal(ob_flush_fd(&ob, full, &broken), -1); /* ENOSPC, said on stderr */
	assert_int_equal(broken, 1);
	ob_puts(&ob, "z");
	assert_int_equal(ob_flush_fd(&ob, full, &broken), 0); /* broken: dropped, not said again */
	assert_int_equal(ob.len, 0);
	close(full);
	ob_free(&ob);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_free),
		cmocka_unit_test(test_empty_put_on_fresh_buffer),
		cmocka_unit_test(test_put_putc_puts),
		cmocka_unit_test(test_growth),
		cmocka_unit_test(test_reserve),
		cmocka_unit_test(test_oom_drops),
		cmocka_unit_test(test_pad),
		cmocka_unit_test(test_col),
		cmocka_unit_test(test_u64_to_dec),
		cmocka_unit_test(test_u64_i64),
		cmocka_unit_test(test_put_printable),
		cmocka_unit_test(test_fixed),
		cmocka_unit_test(test_json_str),
		cmocka_unit_test(test_rfc3339),
		cmocka_unit_test(test_flush_fd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
