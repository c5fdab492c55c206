// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Unit tests of src/owners.[ch]: the owner join of snapshot -p and of stuck alerts. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "owners.h"
#include "tt_test.h"

static struct tt_owner_rec rec(uint64_t ino, uint64_t cookie, uint32_t pid, const char *comm)
{
	struct tt_owner_rec r;

	memset(&r, 0, sizeof(r));
	r.ino = ino;
	r.cookie = cookie;
	r.pid = pid;
	strncpy(r.comm, comm, sizeof(r.comm));
	return r;
}

static void test_sort_find_by_inode(void **state)
{
	struct tt_owner_rec recs[6];
	const struct tt_owner_rec *o;
	size_t n, count;

	recs[0] = rec(30, 0, 7, "nginx");
	recs[1] = rec(10, 0, 2, "sshd");
	recs[2] = rec(30, 0, 5, "nginx");
	recs[3] = rec(20, 0, 3, "redis");
	recs[4] = rec(30, 0, 5, "nginx"); /* dup'ed fd, or a thread reported apart */
	recs[5] = rec(30, 0, 5, "nginx");
	n = owners_sort(recs, 6, OWNERS_BY_INO);
	assert_int_equal(n, 4); /* each (inode, pid) once */
	o = owners_find(recs, n, OWNERS_BY_INO, 30, &count);
	assert_non_null(o);
	assert_int_equal(count, 2);
	assert_int_equal(o[0].pid, 5); /* lowest pid first: the one named as "the" owner */
	assert_int_equal(o[1].pid, 7);
	o = owners_find(recs, n, OWNERS_BY_INO, 10, &count);
	assert_int_equal(count, 1);
	assert_string_equal(o->comm, "sshd");
	assert_null(owners_find(recs, n, OWNERS_BY_INO, 15, &count));
	assert_int_equal(count, 0);
	assert_null(owners_find(recs, n, OWNERS_BY_INO, 0, &count)); /* timewait: no inode */
	assert_null(owners_find(recs, n, OWNERS_BY_INO, 99, &count));
	assert_null(owners_find(NULL, 0, OWNERS_BY_INO, 30, &count));
	assert_int_equal(owners_sort(NULL, 0, OWNERS_BY_INO), 0);
	assert_int_equal(owners_sort(recs, 1, OWNERS_BY_INO), 1);
}

static void test_sort_find_by_cookie(void **state)
{
	struct tt_owner_rec recs[6];
	const struct tt_owner_rec *o;
	size_t n, count;

	/* Cookie order differs from inode order; cookie 0: never made, never matched. */
	recs[0] = rec(1, 900, 40, "worker");
	recs[1] = rec(2, 100, 12, "master");
	recs[2] = rec(1, 900, 12, "master");
	recs[3] = rec(3, 0, 12, "master");
	recs[4] = rec(4, 0, 13, "other");
	recs[5] = rec(1, 900, 40, "worker");
	n = owners_sort(recs, 6, OWNERS_BY_COOKIE);
	assert_int_equal(n, 5); /* the two cookie-0 records are different sockets: both kept */
	o = owners_find(recs, n, OWNERS_BY_COOKIE, 900, &count);
	assert_int_equal(count, 2);
	assert_int_equal(o[0].pid, 12);
	assert_int_equal(o[1].pid, 40);
	o = owners_find(recs, n, OWNERS_BY_COOKIE, 100, &count);
	assert_int_equal(count, 1);
	assert_null(owners_find(recs, n, OWNERS_BY_COOKIE, 0, &count));
	assert_int_equal(count, 0);
}

static void test_match(void **state)
{
	struct tt_owner_rec recs[2] = {rec(1, 1, 5, "nginx"), rec(1, 1, 7, "php-fpm")};
	struct tt_filter f;

	memset(&f, 0, sizeof(f));
	assert_true(owners_match(&f, NULL, 0)); /* no filter: orphans too */
	assert_true(owners_match(&f, recs, 2));
	f.npids = 1;
	f.pids[0] = 7;
	assert_true(owners_match(&f, recs, 2)); /* any holder */
	assert_false(owners_match(&f, NULL, 0));
	f.pids[0] = 3;
	assert_false(owners_match(&f, recs, 2));
	f.npids = 0;
	f.ncomms = 1;
	strcpy(f.comms[0], "nginx");
	assert_true(owners_match(&f, recs, 2));
	strcpy(f.comms[0], "nginxx");
	assert_false(owners_match(&f, recs, 2));
	/* pid and comm must hold for the same process */
	strcpy(f.comms[0], "nginx");
	f.npids = 1;
	f.pids[0] = 7;
	assert_false(owners_match(&f, recs, 2));
}

static void test_for_alert(void **state)
{
	struct tt_owner_rec recs[4] = {rec(1, 50, 300, "master"), rec(1, 50, 301, "worker"),
				       rec(2, 60, 9, "other"), rec(3, 0, 1, "init")};
	struct owners_list h;
	struct tt_event e;
	size_t n = owners_sort(recs, 4, OWNERS_BY_COOKIE);

	/* Held by two: the first (lowest pid) is named, both listed. */
	memset(&e, 0, sizeof(e));
	e.sock_cookie = 50;
	e.pid = 999; /* the owner the tracer knew */
	strcpy(e.comm, "stale-name-here");
	e.flags = TT_F_OWNER_KNOWN | TT_F_DELTA_KNOWN;
	owners_for_alert(&e, recs, n, &h);
	assert_int_equal(e.pid, 300);
	assert_string_equal(e.comm, "master");
	assert_int_equal(e.flags, TT_F_OWNER_KNOWN | TT_F_DELTA_KNOWN);
	assert_int_equal(h.n, 2);
	assert_int_equal(h.more, 0);
	assert_int_equal(h.recs[1].pid, 301);

	/* The owner was unknown, a process holds it now. */
	memset(&e, 0, sizeof(e));
	e.sock_cookie = 60;
	owners_for_alert(&e, recs, n, &h);
	assert_int_equal(e.pid, 9);
	assert_true(e.flags & TT_F_OWNER_KNOWN);

	/* Orphaned: no stale owner. */
	memset(&e, 0, sizeof(e));
	e.sock_cookie = 70;
	e.pid = 300;
	strcpy(e.comm, "master");
	e.flags = TT_F_OWNER_KNOWN | TT_F_DELTA_MIN;
	owners_for_alert(&e, recs, n, &h);
	assert_int_equal(e.pid, 0);
	assert_int_equal(e.comm[0], '\0');
	assert_int_equal(e.flags, TT_F_DELTA_MIN);
	assert_int_equal(h.n, 0);
	assert_int_equal(h.more, 0);
	owners_for_alert(&e, NULL, 0, &h);
	assert_int_equal(h.n, 0);
}

static void test_for_alert_many(void **state)
{
	size_t total = OWNERS_MAX_LISTED + 44;
	struct tt_owner_rec *recs = calloc(total, sizeof(*recs));
	struct owners_list h;
	struct tt_event e;

	assert_non_null(recs);
	for (size_t i = 0; i < total; i++)
		recs[i] = rec(8, 77, (uint32_t)(total - i), "httpd");
	assert_int_equal(owners_sort(recs, total, OWNERS_BY_COOKIE), total);
	memset(&e, 0, sizeof(e));
	e.sock_cookie = 77;
	owners_for_alert(&e, recs, total, &h);
	assert_int_equal(e.pid, 1);
	assert_int_equal(h.n, OWNERS_MAX_LISTED);
	assert_int_equal(h.more, 44);
	free(recs);
}

static void test_text_json(void **state)
{
	struct tt_owner_rec recs[4] = {rec(1, 1, 10, "nginx"), rec(1, 1, 10, "nginx"),
				       rec(1, 1, 11, "a\"b\x1b[2J"), rec(1, 1, 12, "")};
	struct outbuf ob;

	ob_init(&ob);
	owners_text(&ob, NULL, 0);
	assert_ob(&ob, "-");
	ob_reset(&ob);
	owners_text(&ob, recs, 4); /* a pid repeated in a row once; names printable */
	assert_ob(&ob, "10/nginx,11/a\"b?[2J,12/");
	ob_reset(&ob);
	owners_json(&ob, NULL, 0);
	assert_ob(&ob, "[]");
	ob_reset(&ob);
	owners_json(&ob, recs, 4);
	assert_ob(&ob,
		  "[{\"pid\":10,\"comm\":\"nginx\"},{\"pid\":11,\"comm\":\"a\\\"b\\u001b[2J\"},"
		  "{\"pid\":12,\"comm\":\"\"}]");
	ob_reset(&ob);
	memcpy(recs[0].comm, "0123456789abcdef", TT_COMM_LEN); /* no NUL */
	owners_text(&ob, recs, 1);
	assert_ob(&ob, "10/0123456789abcdef");
	ob_free(&ob);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sort_find_by_inode),
		cmocka_unit_test(test_sort_find_by_cookie),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_for_alert),
		cmocka_unit_test(test_for_alert_many),
		cmocka_unit_test(test_text_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
