/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Checks shared by the cmocka unit tests (include after <cmocka.h>). */
#ifndef TT_TEST_H
#define TT_TEST_H

#include <stdint.h>
#include <string.h>

/* The buffer holds exactly the string s. */
#define assert_ob(ob, s)                                                 \
	do {                                                             \
		assert_int_equal((ob)->len, strlen(s));                  \
		if ((ob)->len)                                           \
			assert_memory_equal((ob)->data, (s), (ob)->len); \
	} while (0)

typedef int (*u64_parser)(const char *s, uint64_t *out);

/* parse(s) succeeds with want. */
static inline void parse_ok(u64_parser parse, const char *s, uint64_t want)
{
	uint64_t v = 12345;

	if (parse(s, &v) != 0)
		fail_msg("rejected '%s'", s);
	if (v != want)
		fail_msg("'%s' -> %llu, want %llu", s, (unsigned long long)v,
			 (unsigned long long)want);
}

/* parse(s) fails with -1 and leaves the output alone. */
static inline void parse_bad(u64_parser parse, const char *s)
{
	uint64_t v = 12345;

	if (parse(s, &v) != -1)
		fail_msg("accepted '%s' as %llu", s ? s : "(null)", (unsigned long long)v);
	assert_int_equal(v, 12345);
}

#endif
