// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Unit tests of src/parse.[ch]: numbers, durations, sizes, times and the calendar. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include "tt_test.h"
#include "parse.h"

/* ---- parse_u64 ---- */

static void test_parse_u64(void **state)
{
	uint64_t v = 7;

	assert_int_equal(parse_u64("0", 0, 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(parse_u64("10", 0, 10, &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(parse_u64("007", 0, 10, &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(parse_u64("11", 0, 10, &v), -1);
	assert_int_equal(parse_u64("4", 5, 10, &v), -1);
	assert_int_equal(parse_u64("18446744073709551609", 0, UINT64_MAX, &v), 0);
	assert_true(v == 18446744073709551609ULL);
	assert_int_equal(parse_u64("18446744073709551615", 0, UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(parse_u64("18446744073709551616", 0, UINT64_MAX, &v), -1);
	assert_int_equal(parse_u64("18446744073709551620", 0, UINT64_MAX, &v), -1);
	v = 7;
	assert_int_equal(parse_u64("99999999999999999999", 0, UINT64_MAX, &v), -1);
	assert_int_equal(parse_u64("", 0, 10, &v), -1);
	assert_int_equal(parse_u64(NULL, 0, 10, &v), -1);
	assert_int_equal(parse_u64("-1", 0, 10, &v), -1);
	assert_int_equal(parse_u64("+1", 0, 10, &v), -1);
	assert_int_equal(parse_u64(" 1", 0, 10, &v), -1);
	assert_int_equal(parse_u64("1 ", 0, 10, &v), -1);
	assert_int_equal(parse_u64("1x", 0, 10, &v), -1);
	assert_int_equal(parse_u64("0x1", 0, 10, &v), -1);
	assert_int_equal(v, 7); /* untouched on error */
}

/* The variable's value in range, else the default: never a sign, blank or suffix. */
static void test_env_bound(void **state)
{
	static const char *const bad[] = {
		"", " 5", "5 ", "+5", "-5", "-0", "5k", "0x5", "11", "3", "99999999999999999999"};

	unsetenv("TT_TEST_BOUND");
	assert_int_equal(parse_env_bound("TT_TEST_BOUND", 4, 10, 42), 42);
	setenv("TT_TEST_BOUND", "4", 1);
	assert_int_equal(parse_env_bound("TT_TEST_BOUND", 4, 10, 42), 4);
	setenv("TT_TEST_BOUND", "010", 1);
	assert_int_equal(parse_env_bound("TT_TEST_BOUND", 4, 10, 42), 10);
	setenv("TT_TEST_BOUND", "0", 1);
	assert_int_equal(parse_env_bound("TT_TEST_BOUND", 0, 10, 42), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("TT_TEST_BOUND", bad[i], 1);
		if (parse_env_bound("TT_TEST_BOUND", 4, 10, 42) != 42)
			fail_msg("took '%s'", bad[i]);
	}
	setenv("TT_TEST_BOUND", "18446744073709551615", 1);
	assert_true(parse_env_bound("TT_TEST_BOUND", 0, UINT64_MAX, 42) == UINT64_MAX);
	unsetenv("TT_TEST_BOUND");
}

/* ---- durations and sizes ---- */

static void test_duration(void **state)
{
	parse_ok(parse_duration_ns, "250ms", 250000000ULL);
	parse_ok(parse_duration_ns, "30s", 30000000000ULL);
	parse_ok(parse_duration_ns, "5m", 300000000000ULL);
	parse_ok(parse_duration_ns, "1h", 3600000000000ULL);
	parse_ok(parse_duration_ns, "10", 10000000000ULL); /* bare number: seconds */
	parse_ok(parse_duration_ns, "0", 0);
	parse_ok(parse_duration_ns, "0ms", 0);
	parse_ok(parse_duration_ns, "1.5s", 1500000000ULL);
	parse_ok(parse_duration_ns, "1.5", 1500000000ULL);
	parse_ok(parse_duration_ns, "0.5ms", 500000ULL);
	parse_ok(parse_duration_ns, ".5s", 500000000ULL);
	parse_ok(parse_duration_ns, "2.s", 2000000000ULL);
	parse_ok(parse_duration_ns, "1.5m", 90000000000ULL);
	parse_ok(parse_duration_ns, "1.5h", 5400000000000ULL);
	parse_ok(parse_duration_ns, "0.000000001s", 1);
	parse_ok(parse_duration_ns, "0.0000000019s", 1); /* beyond ns: truncated */
	parse_ok(parse_duration_ns, "0.001ms", 1000);
	parse_ok(parse_duration_ns, "007s", 7000000000ULL);
	/* Long fractions of large units must not overflow the intermediate product. */
	parse_ok(parse_duration_ns, "0.123456789h", 444444440400ULL);
	parse_ok(parse_duration_ns, "1.999999999m", 119999999940ULL);
	parse_ok(parse_duration_ns, "0.99999999h", 3599999964000ULL);
	/* Limits: about 2^63 ns. */
	parse_ok(parse_duration_ns, "9223372036s", 9223372036000000000ULL);
	parse_ok(parse_duration_ns, "2562047h", 2562047ULL * 3600000000000ULL);
	parse_ok(parse_duration_ns, "2562047.5h", 2562047ULL * 3600000000000ULL + 1800000000000ULL);
	parse_bad(parse_duration_ns, "9223372037s");
	parse_bad(parse_duration_ns, "2562048h");
	parse_bad(parse_duration_ns, "99999999999999999999s");
	parse_bad(parse_duration_ns, "99999999999999999999999999999999999999");
	parse_bad(parse_duration_ns, "");
	parse_bad(parse_duration_ns, ".");
	parse_bad(parse_duration_ns, "s");
	parse_bad(parse_duration_ns, "ms");
	parse_bad(parse_duration_ns, ".s");
	parse_bad(parse_duration_ns, "5x");
	parse_bad(parse_duration_ns, "5 s");
	parse_bad(parse_duration_ns, " 5s");
	parse_bad(parse_duration_ns, "-1s");
	parse_bad(parse_duration_ns, "+1s");
	parse_bad(parse_duration_ns, "1.5.5s");
	parse_bad(parse_duration_ns, "5sec");
	parse_bad(parse_duration_ns, "5S");
	parse_bad(parse_duration_ns, "5d");
	parse_bad(parse_duration_ns, "1e3");
	parse_bad(parse_duration_ns, "5ms ");
	parse_bad(parse_duration_ns, NULL);
}

static void test_size(void **state)
{
	parse_ok(parse_size, "100M", 100ULL << 20);
	parse_ok(parse_size, "100m", 100ULL << 20);
	parse_ok(parse_size, "1G", 1ULL << 30);
	parse_ok(parse_size, "1g", 1ULL << 30);
	parse_ok(parse_size, "512k", 512ULL << 10);
	parse_ok(parse_size, "512K", 512ULL << 10);
	parse_ok(parse_size, "4096", 4096);
	parse_ok(parse_size, "1", 1);
	parse_ok(parse_size, "18446744073709551615", UINT64_MAX);
	parse_bad(parse_size, "18446744073709551616");
	parse_ok(parse_size, "17179869183G", 17179869183ULL << 30);
	parse_bad(parse_size, "17179869184G"); /* 2^64 */
	parse_bad(parse_size, "0");
	parse_bad(parse_size, "0k");
	parse_bad(parse_size, "k");
	parse_bad(parse_size, "");
	parse_bad(parse_size, NULL);
	parse_bad(parse_size, "1T");
	parse_bad(parse_size, "1.5M");
	parse_bad(parse_size, "-1");
	parse_bad(parse_size, "1MB");
	parse_bad(parse_size, "1 M");
	parse_bad(parse_size, "M1");
	parse_bad(parse_size, "99999999999999999999999999999M");
}

/* ---- parse_time_ns ---- */

#define SEC 1000000000ULL

static void test_time_epoch(void **state)
{
	parse_ok(parse_time_ns, "0", 0);
	parse_ok(parse_time_ns, "1700000000", 1700000000ULL * SEC);
	parse_ok(parse_time_ns, "00001700000000", 1700000000ULL * SEC);
	/* The latest second that fits in 64-bit nanoseconds (2554-07-21). */
	parse_ok(parse_time_ns, "18446744073", 18446744073ULL * SEC);
	parse_bad(parse_time_ns, "18446744074");
	parse_bad(parse_time_ns, "99999999999");
	parse_bad(parse_time_ns, "1099511627776");
	parse_bad(parse_time_ns, "-1");
	parse_bad(parse_time_ns, "1700000000.5");
	parse_bad(parse_time_ns, "");
}

static void test_time_rfc3339(void **state)
{
	parse_ok(parse_time_ns, "2023-11-14T22:13:20Z", 1700000000ULL * SEC);
	parse_ok(parse_time_ns, "2023-11-14t22:13:20z", 1700000000ULL * SEC);
	parse_ok(parse_time_ns, "2023-11-14 22:13:20Z", 1700000000ULL * SEC);
	parse_ok(parse_time_ns, "1970-01-01T00:00:00Z", 0);
	parse_ok(parse_time_ns, "2023-11-14T22:13:20.5Z", 1700000000ULL * SEC + 500000000);
	parse_ok(parse_time_ns, "2023-11-14T22:13:20.123456789Z", 1700000000ULL * SEC + 123456789);
	parse_ok(parse_time_ns, "2023-11-14T22:13:20.1234567891Z", 1700000000ULL * SEC + 123456789);
	parse_ok(parse_time_ns, "2023-11-14T22:13:20.000000001Z", 1700000000ULL * SEC + 1);
	parse_ok(parse_time_ns, "2023-11-14T23:13:20+01:00", 1700000000ULL * SEC);
	parse_ok(parse_time_ns, "2023-11-14T16:43:20-05:30", 1700000000ULL * SEC);
	parse_ok(parse_time_ns, "2023-11-14T22:13:20.25+00:00", 1700000000ULL * SEC + 250000000);
	parse_ok(parse_time_ns, "2023-11-14T22:13:20-00:00", 1700000000ULL * SEC);
	parse_ok(parse_time_ns, "2016-12-31T23:59:60Z",
		 1483228800ULL * SEC); /* leap second: next minute */
	parse_ok(parse_time_ns, "2554-07-21T23:34:33Z", 18446744073ULL * SEC);
	parse_ok(parse_time_ns, "2554-07-21T23:34:33.709551615Z", UINT64_MAX);
}

/* Dates checked against timegm(). */
static void test_time_calendar(void **state)
{
	static const char *const dates[] = {
		"1970-01-01", "1970-03-01", "1999-12-31", "2000-02-28", "2000-02-29", "2000-03-01",
		"2004-02-29", "2038-01-19", "2100-02-28", "2100-03-01", "2400-02-29", "2500-12-31",
	};

	for (size_t i = 0; i < sizeof(dates) / sizeof(dates[0]); i++) {
		char buf[40];
		struct tm tm = {0};
		uint64_t ns;

		snprintf(buf, sizeof(buf), "%sT12:34:56Z", dates[i]);
		assert_non_null(strptime(buf, "%Y-%m-%dT%H:%M:%SZ", &tm));
		assert_int_equal(parse_time_ns(buf, &ns), 0);
		if (ns != (uint64_t)timegm(&tm) * SEC)
			fail_msg("%s -> %llu, want %lld s", buf, (unsigned long long)ns,
				 (long long)timegm(&tm));
	}
}

static void test_time_bad(void **state)
{
	parse_bad(parse_time_ns, "2023-11-14");
	parse_bad(parse_time_ns, "2023-11-14T22:13:20");   /* no zone */
	parse_bad(parse_time_ns, "2023-11-14T22:13Z");	   /* no seconds */
	parse_bad(parse_time_ns, "2023-11-14T22:13:20.Z"); /* empty fraction */
	parse_bad(parse_time_ns, "2023-11-14T22:13:20ZZ");
	parse_bad(parse_time_ns, "2023-11-14T22:13:20Z ");
	parse_bad(parse_time_ns, " 2023-11-14T22:13:20Z");
	parse_bad(parse_time_ns, "2023-11-14T22:13:20+0100");
	parse_bad(parse_time_ns, "2023-11-14T22:13:20+01");
	parse_bad(parse_time_ns, "2023-11-14T22:13:20+24:00");
	parse_bad(parse_time_ns, "2023-11-14T22:13:20+01:60");
	parse_bad(parse_time_ns, "2023-11-14T22:13:20+01:00x");
	parse_bad(parse_time_ns, "2023-13-01T00:00:00Z");
	parse_bad(parse_time_ns, "2023-00-01T00:00:00Z");
	parse_bad(parse_time_ns, "2023-11-00T00:00:00Z");
	parse_bad(parse_time_ns, "2023-11-32T00:00:00Z");
	parse_bad(parse_time_ns, "2023-11-14T24:00:00Z");
	parse_bad(parse_time_ns, "2023-11-14T23:60:00Z");
	parse_bad(parse_time_ns, "2023-11-14T23:59:61Z");
	parse_bad(parse_time_ns, "2023-1-14T22:13:20Z");
	parse_bad(parse_time_ns, "2023-11-14X22:13:20Z");
	parse_bad(parse_time_ns, "1969-12-31T23:59:59Z");
	parse_bad(parse_time_ns, "1970-01-01T00:00:00+01:00"); /* before the epoch */
	parse_bad(parse_time_ns, "2554-07-21T23:34:34Z");      /* past 64-bit nanoseconds */
	parse_bad(parse_time_ns, "9999-12-31T23:59:59Z");
	/* Signs and blanks inside the numeric fields. */
	parse_bad(parse_time_ns, "2023-11-14T-1:13:20Z");
	parse_bad(parse_time_ns, "2023-11-14T22:-1:20Z");
	parse_bad(parse_time_ns, "2023-11-14T22:13:-1Z");
	parse_bad(parse_time_ns, "2023-11-14T 1:13:20Z");
	parse_bad(parse_time_ns, "2023-11-14T+1:13:20Z");
	parse_bad(parse_time_ns, "2023-11- 4T22:13:20Z");
	parse_bad(parse_time_ns, "2023-+1-14T22:13:20Z");
	parse_bad(parse_time_ns, "2023-11-14T22:13:20+-1:00");
	parse_bad(parse_time_ns, "2023-11-14T22:13:20+ 1:00");
	parse_bad(parse_time_ns, "yesterday");
	parse_bad(parse_time_ns, "now");
	/* Days past the end of their month, which normalisation would carry into the next. */
	parse_bad(parse_time_ns, "2026-02-31T00:00:00Z");
	parse_bad(parse_time_ns, "2026-02-29T00:00:00Z");
	parse_bad(parse_time_ns, "2100-02-29T00:00:00Z"); /* not a leap year */
	parse_bad(parse_time_ns, "2026-04-31T00:00:00Z");
	parse_bad(parse_time_ns, "2026-06-31T00:00:00Z");
	parse_bad(parse_time_ns, "2026-09-31T00:00:00Z");
	parse_bad(parse_time_ns, "2026-11-31T00:00:00.5+01:00");
	parse_bad(parse_time_ns, "2026-02-31 00:00:00Z");
	parse_ok(parse_time_ns, "2026-02-28T00:00:00Z", 1772236800ULL * SEC);
	parse_ok(parse_time_ns, "2026-03-31T00:00:00Z", 1774915200ULL * SEC);
}

/* Every day of every month of a few years: accepted exactly when timegm() keeps the date. */
static void test_time_month_lengths(void **state)
{
	static const int years[] = {1970, 2000, 2024, 2026, 2100, 2400};

	for (size_t k = 0; k < sizeof(years) / sizeof(years[0]); k++) {
		for (int m = 1; m <= 12; m++) {
			for (int d = 1; d <= 31; d++) {
				char buf[40], why[80];
				struct tm tm = {
					.tm_year = years[k] - 1900, .tm_mon = m - 1, .tm_mday = d};
				time_t t = timegm(&tm);
				int real = tm.tm_mday == d && tm.tm_mon == m - 1;
				uint64_t ns = 7;

				snprintf(buf, sizeof(buf), "%04d-%02d-%02dT00:00:00Z", years[k], m,
					 d);
				assert_int_equal(days_in_month(years[k], m) >= d, real);
				if (real) {
					assert_int_equal(parse_time_ns_why(buf, &ns, why, 80), 0);
					assert_true(ns == (uint64_t)t * SEC);
					assert_string_equal(why, "");
				} else {
					assert_int_equal(parse_time_ns_why(buf, &ns, why, 80), -1);
					assert_true(ns == 7);
					assert_non_null(strstr(why, "no such day: "));
				}
			}
		}
	}
	assert_int_equal(days_in_month(2026, 0), 0);
	assert_int_equal(days_in_month(2026, 13), 0);
}

/* parse_time_rfc3339_us() of the whole string s. */
static int time_us(const char *s, uint64_t *ns)
{
	return parse_time_rfc3339_us(s, strlen(s), ns);
}

/* The fast form: exactly what tcptrail writes, the same value parse_time_ns() gives it. */
static void test_time_rfc3339_us(void **state)
{
	static const int years[] = {1970, 2024, 2026, 2100, 2400, 2500};
	char nul[] = "2023-11-14T22:13:20.123456Z";
	uint64_t ns = 7;

	parse_ok(time_us, "2023-11-14T22:13:20.000000Z", 1700000000ULL * SEC);
	parse_ok(time_us, "2023-11-14T22:13:20.123456Z", 1700000000ULL * SEC + 123456000);
	parse_ok(time_us, "1970-01-01T00:00:00.000000Z", 0);
	parse_ok(time_us, "2016-12-31T23:59:60.000000Z", 1483228800ULL * SEC);
	parse_ok(time_us, "2024-02-29T00:00:00.000001Z", 1709164800ULL * SEC + 1000);
	parse_ok(time_us, "2500-12-31T23:59:59.999999Z", 16756761599ULL * SEC + 999999000);
	/* len bytes only: what follows is not read */
	assert_int_equal(parse_time_rfc3339_us("2023-11-14T22:13:20.000000Zjunk", 27, &ns), 0);
	assert_true(ns == 1700000000ULL * SEC);

	/* Any other shape, though parse_time_ns() takes most of them. */
	parse_bad(time_us, "2023-11-14T22:13:20Z");
	parse_bad(time_us, "2023-11-14T22:13:20.12345Z");
	parse_bad(time_us, "2023-11-14T22:13:20.1234567Z");
	parse_bad(time_us, "2023-11-14t22:13:20.123456Z");
	parse_bad(time_us, "2023-11-14 22:13:20.123456Z");
	parse_bad(time_us, "2023-11-14T22:13:20.123456z");
	parse_bad(time_us, "2023-11-14T22:13:20.123+00:00");
	parse_bad(time_us, "2023-11-14T22:13:20,123456Z");
	parse_bad(time_us, "+023-11-14T22:13:20.123456Z");
	parse_bad(time_us, "1700000000");
	parse_bad(time_us, "");
	assert_int_equal(parse_time_rfc3339_us("2023-11-14T22:13:20.123456Z", 26, &ns), -1);
	nul[22] = '\0';
	assert_int_equal(parse_time_rfc3339_us(nul, 27, &ns), -1);
	/* Outside the calendar or 1970-2500. */
	parse_bad(time_us, "1969-12-31T23:59:59.999999Z");
	parse_bad(time_us, "2501-01-01T00:00:00.000000Z");
	parse_bad(time_us, "2026-00-10T00:00:00.000000Z");
	parse_bad(time_us, "2026-13-10T00:00:00.000000Z");
	parse_bad(time_us, "2026-02-29T00:00:00.000000Z");
	parse_bad(time_us, "2026-04-31T00:00:00.000000Z");
	parse_bad(time_us, "2026-04-00T00:00:00.000000Z");
	parse_bad(time_us, "2026-04-10T24:00:00.000000Z");
	parse_bad(time_us, "2026-04-10T00:60:00.000000Z");
	parse_bad(time_us, "2026-04-10T00:00:61.000000Z");

	for (size_t k = 0; k < sizeof(years) / sizeof(years[0]); k++) {
		for (int m = 1; m <= 12; m++) {
			for (int d = 1; d <= 31; d++) {
				char buf[40];
				uint64_t fast = 7, slow = 8;
				int fast_ret, slow_ret;

				snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
					 years[k], m, d, d % 24, (m * 7) % 60, d * 2 - 1, d * 31);
				fast_ret = time_us(buf, &fast);
				slow_ret = parse_time_ns(buf, &slow);
				assert_int_equal(fast_ret, slow_ret);
				if (!fast_ret)
					assert_true(fast == slow);
			}
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_u64),	   cmocka_unit_test(test_env_bound),
		cmocka_unit_test(test_duration),	   cmocka_unit_test(test_size),
		cmocka_unit_test(test_time_epoch),	   cmocka_unit_test(test_time_rfc3339),
		cmocka_unit_test(test_time_calendar),	   cmocka_unit_test(test_time_bad),
		cmocka_unit_test(test_time_month_lengths), cmocka_unit_test(test_time_rfc3339_us),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
