// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Unit tests of src/jsonl.[ch] and src/logread.[ch]: strict parsing, the reader, seq gaps. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <zlib.h>
#include <cmocka.h>
#include "causes.h"
#include "format.h"
#include "jsonl.h"
#include "jsonw.h"
#include "logread.h"

/* ---- jsonl ---- */

static void test_jsonl_valid(void **state)
{
	static const char *const ok[] = {
		"{}",
		" {\"a\":1} ",
		"{\"a\":-0.5e+3,\"b\":\"x\\u00e9\\n\",\"c\":[1,{\"d\":[]}],\"e\":null,\"f\":true}",
		"{\"s\":\"\\ud83d\\ude00 caf\xc3\xa9\"}",
		"{\"a\":1}\r",
	};
	struct jsonl_obj o;
	char err[128];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_int_equal(jsonl_parse(ok[i], strlen(ok[i]), &o, err, sizeof(err)), 0);
	jsonl_parse(ok[2], strlen(ok[2]), &o, err, sizeof(err));
	assert_int_equal(o.n, 5);
	assert_int_equal(jsonl_get(&o, "c")->type, JSONL_ARRAY);
	assert_int_equal(jsonl_get(&o, "e")->type, JSONL_NULL);
	assert_null(jsonl_get(&o, "z"));
}

static void test_jsonl_invalid(void **state)
{
	static const char *const bad[] = {
		"",
		"[]",
		"{",
		"{\"a\"}",
		"{\"a\":}",
		"{\"a\":1,}",
		"{\"a\":01}",
		"{\"a\":1.}",
		"{\"a\":.5}",
		"{\"a\":tru}",
		"{a:1}",
		"{\"a\":1}x",
		"{\"a\":1}{}",
		"{\"a\":\"\x01\"}",
		"{\"a\":\"\\x\"}",
		"{\"a\":\"\\u12\"}",
		"{\"a\":\"\\ud800\"}",
		"{\"a\":\"\xff\"}",
		"{\"a\":\"\xc0\x80\"}",
		"{\"a\":1,\"a\":2}",
		"{\"a\":[1 2]}",
		"{\"a\":\"x}",
		"{\"a\":+1}",
		"{'a':1}",
		"{\"a\":NaN}",
	};
	struct jsonl_obj o;
	char err[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (jsonl_parse(bad[i], strlen(bad[i]), &o, err, sizeof(err)) != -1)
			fail_msg("accepted: %s", bad[i]);
		assert_non_null(strstr(err, "column"));
	}
	/* deep nesting is refused, not a stack overflow */
	char deep[2000];
	size_t n = 0;

	n += (size_t)sprintf(deep, "{\"a\":");
	for (int i = 0; i < 500; i++)
		deep[n++] = '[';
	for (int i = 0; i < 500; i++)
		deep[n++] = ']';
	deep[n++] = '}';
	assert_int_equal(jsonl_parse(deep, n, &o, err, sizeof(err)), -1);
}

/* Up to JSONL_MAX_MEMBERS keys: a final transition's 39 and room for more. */
static void test_jsonl_many_keys(void **state)
{
	struct jsonl_obj o;
	char line[2048], err[128];
	size_t n;

	for (int keys = 39; keys <= JSONL_MAX_MEMBERS + 1; keys++) {
		n = (size_t)sprintf(line, "{");
		for (int i = 0; i < keys; i++)
			n += (size_t)sprintf(line + n, "%s\"k%d\":%d", i ? "," : "", i, i);
		n += (size_t)sprintf(line + n, "}");
		assert_int_equal(jsonl_parse(line, n, &o, err, sizeof(err)),
				 keys <= JSONL_MAX_MEMBERS ? 0 : -1);
	}
	assert_non_null(strstr(err, "too many keys"));
}

static void test_jsonl_unescape(void **state)
{
	char out[32];

	assert_int_equal(jsonl_unescape("a\\u00ffb", 8, out, sizeof(out)), 3);
	assert_memory_equal(out,
			    "a\xff"
			    "b",
			    3);
	assert_int_equal(jsonl_unescape("\\u20ac", 6, out, sizeof(out)), 3);
	assert_string_equal(out, "\xe2\x82\xac");
	assert_int_equal(jsonl_unescape("\\\"\\\\\\/\\t", 8, out, sizeof(out)), 4);
	assert_string_equal(out, "\"\\/\t");
	assert_int_equal(jsonl_unescape("abcdef", 6, out, 4), -1);
}

/* One record for the seq check: type, seq (-1: none), start_time in seconds (0: none). */
static struct lr_record seq_rec(enum lr_type type, long long seq, uint64_t start)
{
	struct lr_record r;

	memset(&r, 0, offsetof(struct lr_record, lsvc_buf));
	r.type = type;
	r.has_seq = seq >= 0;
	r.seq = seq >= 0 ? (uint64_t)seq : 0;
	r.start_ns = start * 1000000000ULL;
	return r;
}

static int seq_step(struct lr_seq *s, enum lr_type type, long long seq, uint64_t start,
		    struct lr_gap *g)
{
	struct lr_record r = seq_rec(type, seq, start);

	return lr_seq_check(s, &r, g);
}

/* Gaps: within a file, between the files of a run; none for old logs or a new run. */
static void test_seq_gaps(void **state)
{
	struct lr_seq s;
	struct lr_gap g;

	lr_seq_init(&s);
	assert_int_equal(seq_step(&s, LR_HEADER, 1, 100, &g), 0);
	assert_int_equal(seq_step(&s, LR_STATE, 1, 0, &g), 0);
	assert_int_equal(seq_step(&s, LR_STUCK, 2, 0, &g), 0);
	assert_int_equal(seq_step(&s, LR_LOST, 3, 0, &g), 0);
	/* 4 to 6 cut out */
	assert_int_equal(seq_step(&s, LR_STATE, 7, 0, &g), 1);
	assert_int_equal(g.from, 4);
	assert_int_equal(g.to, 6);
	assert_false(g.back);
	assert_false(g.at_header);
	assert_int_equal(seq_step(&s, LR_STATE, 8, 0, &g), 0);
	/* the next file of the run, rotated: it starts where the last one ended */
	assert_int_equal(seq_step(&s, LR_HEADER, 9, 100, &g), 0);
	assert_int_equal(seq_step(&s, LR_STATE, 9, 0, &g), 0);
	/* the file after it is missing: the header says so */
	assert_int_equal(seq_step(&s, LR_HEADER, 30, 100, &g), 1);
	assert_true(g.at_header);
	assert_int_equal(g.from, 10);
	assert_int_equal(g.to, 29);
	/* a header first in its file, then its first record missing */
	assert_int_equal(seq_step(&s, LR_STATE, 31, 0, &g), 1);
	assert_int_equal(g.from, 30);
	assert_int_equal(g.to, 30);
	/* going back: repeated records */
	assert_int_equal(seq_step(&s, LR_STATE, 20, 0, &g), 1);
	assert_true(g.back);
	assert_int_equal(g.from, 31);
	assert_int_equal(g.to, 20);
	assert_int_equal(seq_step(&s, LR_STATE, 21, 0, &g), 0);
	/* another run: a header with another start_time starts afresh */
	assert_int_equal(seq_step(&s, LR_HEADER, 1, 200, &g), 0);
	assert_int_equal(seq_step(&s, LR_STATE, 1, 0, &g), 0);
	/* a header without start_time is no run we know: no check across it */
	assert_int_equal(seq_step(&s, LR_HEADER, 50, 0, &g), 0);
	assert_int_equal(seq_step(&s, LR_STATE, 50, 0, &g), 0);

	/* an old log: no numbers anywhere, no gap ever */
	lr_seq_init(&s);
	assert_int_equal(seq_step(&s, LR_HEADER, -1, 100, &g), 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(seq_step(&s, LR_STATE, -1, 0, &g), 0);
	assert_int_equal(seq_step(&s, LR_HEADER, -1, 100, &g), 0);
	assert_int_equal(seq_step(&s, LR_LOST, -1, 0, &g), 0);
	/* an old file, then a new one of another run */
	assert_int_equal(seq_step(&s, LR_HEADER, 1, 300, &g), 0);
	assert_int_equal(seq_step(&s, LR_STATE, 1, 0, &g), 0);
	/* a record without a number leaves the next one unchecked */
	assert_int_equal(seq_step(&s, LR_OTHER, -1, 0, &g), 0);
	assert_int_equal(seq_step(&s, LR_STATE, 5, 0, &g), 0);
	assert_int_equal(seq_step(&s, LR_STATE, 6, 0, &g), 0);
	/* records read without a header first (a file cut at the top) are checked from there */
	lr_seq_init(&s);
	assert_int_equal(seq_step(&s, LR_STATE, 1000, 0, &g), 0);
	assert_int_equal(seq_step(&s, LR_STATE, 1002, 0, &g), 1);
	assert_int_equal(g.from, 1001);
	assert_int_equal(g.to, 1001);
}

/* ---- reader ---- */

static size_t gzip_mem(const char *in, size_t len, unsigned char *out, size_t cap)
{
	z_stream z;

	memset(&z, 0, sizeof(z));
	assert_int_equal(deflateInit2(&z, 1, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (unsigned char *)in;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	deflateEnd(&z);
	return cap - z.avail_out;
}

/* All lines of buf joined with '|'; returns lr_next's final result, err set. */
static int read_all(const void *buf, size_t len, char *joined, size_t cap, char *err,
		    uint64_t *lineno)
{
	struct lr_reader *r = lr_open_mem(buf, len);
	const char *line;
	size_t n, k = 0;
	int ret;

	assert_non_null(r);
	joined[0] = '\0';
	err[0] = '\0';
	while ((ret = lr_next(r, &line, &n, err, 256)) > 0) {
		k += (size_t)snprintf(joined + k, cap - k, "%s%.*s", k ? "|" : "", (int)n, line);
		assert_true(k < cap);
	}
	*lineno = lr_lineno(r);
	lr_free(r);
	return ret;
}

static void test_reader_plain(void **state)
{
	char j[256], err[256];
	uint64_t ln;

	assert_int_equal(read_all("a\nb\n\nc\n", 7, j, sizeof(j), err, &ln), 0);
	assert_string_equal(j, "a|b|c");
	assert_int_equal(ln, 4);
	assert_int_equal(read_all("", 0, j, sizeof(j), err, &ln), 0);
	assert_string_equal(j, "");
	assert_int_equal(read_all("a\nbc", 4, j, sizeof(j), err, &ln), -1);
	assert_string_equal(j, "a");
	assert_non_null(strstr(err, "incomplete"));
	assert_int_equal(ln, 1); /* the error is on line ln + 1 */
	assert_int_equal(read_all("\x1f", 1, j, sizeof(j), err, &ln), -1);

	/* a line over the limit */
	size_t big = LR_MAX_LINE + 10;
	char *b = malloc(big + 2);

	memset(b, 'x', big);
	b[big] = '\n';
	assert_int_equal(read_all(b, big + 1, j, sizeof(j), err, &ln), -1);
	assert_non_null(strstr(err, "longer"));
	/* just under: fine, and many such lines in a row */
	free(b);
	size_t line = LR_MAX_LINE - 1, total = 5 * (line + 1);
	char *m = malloc(total);
	struct lr_reader *r = lr_open_mem(m, total);
	const char *l;
	size_t n;
	int count = 0;

	for (size_t i = 0; i < total; i++)
		m[i] = (i + 1) % (line + 1) ? 'y' : '\n';
	while (lr_next(r, &l, &n, err, sizeof(err)) > 0) {
		assert_int_equal(n, line);
		count++;
	}
	assert_int_equal(count, 5);
	lr_free(r);
	free(m);
}

static void test_reader_gzip(void **state)
{
	static const char text[] = "{\"a\":1}\n{\"b\":2}\n";
	unsigned char gz[512], two[1024];
	size_t n = gzip_mem(text, sizeof(text) - 1, gz, sizeof(gz));
	char j[256], err[256];
	struct lr_reader *r;
	const char *l;
	size_t len;
	uint64_t ln;

	assert_int_equal(read_all(gz, n, j, sizeof(j), err, &ln), 0);
	assert_string_equal(j, "{\"a\":1}|{\"b\":2}");
	r = lr_open_mem(gz, n);
	assert_int_equal(lr_next(r, &l, &len, err, sizeof(err)), 1);
	assert_true(lr_is_gzip(r));
	lr_free(r);

	/* concatenated members: cat a.gz b.gz, and rotation falling back to append */
	memcpy(two, gz, n);
	memcpy(two + n, gz, n);
	assert_int_equal(read_all(two, 2 * n, j, sizeof(j), err, &ln), 0);
	assert_string_equal(j, "{\"a\":1}|{\"b\":2}|{\"a\":1}|{\"b\":2}");

	/* cut anywhere: never a crash, always an error, only whole lines before it */
	for (size_t cut = 2; cut < n; cut++) {
		assert_int_equal(read_all(gz, cut, j, sizeof(j), err, &ln), -1);
		assert_true(!strcmp(j, "") || !strcmp(j, "{\"a\":1}") ||
			    !strcmp(j, "{\"a\":1}|{\"b\":2}"));
		assert_true(err[0]);
	}
	assert_int_equal(read_all(gz, n - 1, j, sizeof(j), err, &ln), -1);
	assert_non_null(strstr(err, "truncated"));

	/* garbage after the stream, and corruption inside it */
	memcpy(two, gz, n);
	memcpy(two + n, "junk", 4);
	assert_int_equal(read_all(two, n + 4, j, sizeof(j), err, &ln), -1);
	assert_non_null(strstr(err, "garbage"));
	memcpy(two, gz, n);
	for (size_t i = 10; i < n - 8; i++)
		two[i] ^= 0x55;
	assert_int_equal(read_all(two, n, j, sizeof(j), err, &ln), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jsonl_valid),    cmocka_unit_test(test_jsonl_invalid),
		cmocka_unit_test(test_jsonl_unescape), cmocka_unit_test(test_jsonl_many_keys),
		cmocka_unit_test(test_seq_gaps),       cmocka_unit_test(test_reader_plain),
		cmocka_unit_test(test_reader_gzip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
