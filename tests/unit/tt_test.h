/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Checks shared by the cmocka unit tests (include after <cmocka.h>). */
#ifndef TT_TEST_H
#define TT_TEST_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "services.h"

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

/* A services table of text (/etc/services lines), or NULL unless it holds want tcp entries. */
static inline struct services *services_of(const char *text, int want)
{
	struct services *s = services_new();

	if (s && services_parse(s, text, strlen(text)) != want) {
		services_free(s);
		s = NULL;
	}
	return s;
}

/* Removes path and everything below it; links are removed, never followed. */
static inline void rm_tree(const char *path)
{
	struct stat st;

	if (lstat(path, &st))
		return;
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		struct dirent *e;
		char sub[512];

		while (d && (e = readdir(d))) {
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
			    snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name) < (int)sizeof(sub))
				rm_tree(sub);
		}
		if (d)
			closedir(d);
		rmdir(path);
	} else {
		unlink(path);
	}
}

/* The scratch directory of the tests that write files (scratch_setup() makes it). */
static inline char *scratch_dir(void)
{
	static char dir[64];

	return dir;
}

/* cmocka setup: a fresh /tmp/tt-unit-XXXXXX is the scratch directory. */
static inline int scratch_setup(void **state)
{
	snprintf(scratch_dir(), 64, "/tmp/tt-unit-XXXXXX");
	return mkdtemp(scratch_dir()) ? 0 : -1;
}

/* cmocka teardown: the scratch directory and all in it go. */
static inline int scratch_teardown(void **state)
{
	rm_tree(scratch_dir());
	return 0;
}

/* A test that runs in a scratch directory of its own. */
#define scratch_test(f) cmocka_unit_test_setup_teardown(f, scratch_setup, scratch_teardown)

/* The path of name in the scratch directory; the last four results stay valid. */
static inline const char *at(const char *name)
{
	static char buf[4][256];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", scratch_dir(), name);
	return buf[i];
}

#endif
