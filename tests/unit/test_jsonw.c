// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Unit tests of src/jsonw.[ch]: separators, nesting, every kind of value, misuse flagged. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "tt_test.h"
#include "jsonw.h"

#define SEC 1000000000ULL

static struct outbuf ob;
static struct jsonw w;

static int setup(void **state)
{
	ob_init(&ob);
	jw_init(&w, &ob);
	return 0;
}

static int teardown(void **state)
{
	ob_free(&ob);
	return 0;
}

static void test_empty_containers(void **state)
{
	jw_obj_begin(&w);
	jw_obj_end(&w);
	ob_putc(&ob, '\n');
	jw_arr_begin(&w);
	jw_arr_end(&w);
	assert_ob(&ob, "{}\n[]");
	assert_int_equal(w.depth, 0);
	assert_int_equal(w.misuse, 0);
}

static void test_members_and_commas(void **state)
{
	jw_obj_begin(&w);
	jw_field_str(&w, "type", "lost");
	jw_field_u64(&w, "count", 3);
	jw_field_bool(&w, "yes", 1);
	jw_field_bool(&w, "no", 0);
	jw_key(&w, "none");
	jw_null(&w);
	jw_key(&w, "ms");
	jw_fixed(&w, 2030, 3);
	jw_field_str_or_null(&w, "svc", "http");
	jw_field_str_or_null(&w, "host", NULL);
	jw_obj_end(&w);
	assert_ob(&ob, "{\"type\":\"lost\",\"count\":3,\"yes\":true,\"no\":false,"
		       "\"none\":null,\"ms\":2.030,\"svc\":\"http\",\"host\":null}");
	assert_int_equal(w.misuse, 0);
}

static void test_nesting(void **state)
{
	jw_obj_begin(&w);
	jw_key(&w, "a");
	jw_arr_begin(&w);
	jw_u64(&w, 1);
	jw_obj_begin(&w);
	jw_field_u64(&w, "x", 2);
	jw_key(&w, "e");
	jw_obj_begin(&w);
	jw_obj_end(&w);
	jw_obj_end(&w);
	jw_arr_begin(&w);
	jw_arr_end(&w);
	jw_u64(&w, 3);
	jw_arr_end(&w);
	jw_key(&w, "b");
	jw_obj_begin(&w);
	jw_obj_end(&w);
	jw_field_u64(&w, "c", 4);
	jw_obj_end(&w);
	assert_ob(&ob, "{\"a\":[1,{\"x\":2,\"e\":{}},[],3],\"b\":{},\"c\":4}");
	assert_int_equal(w.depth, 0);
	assert_int_equal(w.misuse, 0);
}

/* One JSON object per line: nothing between top-level values but the caller's newline. */
/* The recording's number goes last in a line, inside its object; nothing else is touched. */
static void test_line_seq(void **state)
{
	struct outbuf o;

	ob_init(&o);
	ob_puts(&o, "{\"a\":1}\n{\"type\":\"state\",\"x\":[1]}\n");
	jw_line_seq(&o, 0);
	ob_puts(&o, "{}\n");
	jw_line_seq(&o, 18446744073709551615ULL);
	ob_puts(&o, "{\"a\":2}");
	jw_line_seq(&o, 3); /* no '\n': not a line */
	ob_putc(&o, '\0');
	assert_string_equal(o.data, "{\"a\":1}\n{\"type\":\"state\",\"x\":[1],\"seq\":0}\n"
				    "{\"seq\":18446744073709551615}\n{\"a\":2}");
	ob_reset(&o);
	jw_line_seq(&o, 1);
	assert_int_equal(o.len, 0);
	ob_free(&o);
}

static void test_lines(void **state)
{
	for (int i = 0; i < 3; i++) {
		jw_obj_begin(&w);
		jw_field_u64(&w, "i", (uint64_t)i);
		jw_obj_end(&w);
		ob_putc(&ob, '\n');
	}
	assert_ob(&ob, "{\"i\":0}\n{\"i\":1}\n{\"i\":2}\n");
}

/* Strings escape exactly as ob_json_str() does: the writer has no escaper of its own. */
static void test_strings(void **state)
{
	static const char nasty[] = "a\"b\\c\n\x01\x7f\xff\xc3\xa9";
	struct outbuf want;

	ob_init(&want);
	ob_putc(&want, '[');
	ob_json_str(&want, nasty, sizeof(nasty) - 1);
	ob_puts(&want, ",\"x\",null,\"\",\"ab\"]");
	jw_arr_begin(&w);
	jw_str(&w, nasty, sizeof(nasty) - 1);
	jw_str_or_null(&w, "x");
	jw_str_or_null(&w, NULL);
	jw_strz(&w, "");
	jw_str(&w, "abc", 2);
	jw_arr_end(&w);
	assert_int_equal(ob.len, want.len);
	assert_memory_equal(ob.data, want.data, want.len);
	ob_free(&want);
}

static void test_str_or_null_outbuf(void **state)
{
	ob_json_str_or_null(&ob, "http");
	ob_putc(&ob, ' ');
	ob_json_str_or_null(&ob, NULL);
	ob_putc(&ob, ' ');
	ob_json_str_or_null(&ob, "\t");
	assert_ob(&ob, "\"http\" null \"\\u0009\"");
}

static void test_time(void **state)
{
	jw_obj_begin(&w);
	jw_field_time(&w, "time", 1700000000 * SEC + 123456789);
	jw_key(&w, "epoch");
	jw_time(&w, 0);
	jw_obj_end(&w);
	assert_ob(&ob, "{\"time\":\"2023-11-14T22:13:20.123456Z\","
		       "\"epoch\":\"1970-01-01T00:00:00.000000Z\"}");
}

static void test_u64_extremes(void **state)
{
	jw_arr_begin(&w);
	jw_u64(&w, 0);
	jw_u64(&w, UINT64_MAX);
	jw_arr_end(&w);
	assert_ob(&ob, "[0,18446744073709551615]");
}

/* A value written straight to the buffer gets its separator like any other. */
static void test_value_ob(void **state)
{
	struct outbuf *o;

	jw_obj_begin(&w);
	jw_field_u64(&w, "pid", 1);
	jw_key(&w, "owners");
	o = jw_value_ob(&w);
	ob_puts(o, "[{\"pid\":1}]");
	jw_arr_begin(&w); /* a value without a key: flagged only by a JSON parser, not here */
	jw_arr_end(&w);
	jw_obj_end(&w);
	assert_ob(&ob, "{\"pid\":1,\"owners\":[{\"pid\":1}],[]}");
	ob_reset(&ob);
	jw_init(&w, &ob);
	jw_arr_begin(&w);
	ob_puts(jw_value_ob(&w), "7");
	ob_puts(jw_value_ob(&w), "8");
	jw_arr_end(&w);
	assert_ob(&ob, "[7,8]");
}

/* Members with their own commas, between the writer's: the commas still come out right. */
static void test_members_ob(void **state)
{
	jw_obj_begin(&w);
	jw_field_u64(&w, "a", 1);
	ob_puts(jw_members_ob(&w), ",\"b\":2,\"c\":null");
	jw_field_u64(&w, "d", 4);
	ob_puts(jw_members_ob(&w), ""); /* nothing: fine too */
	jw_obj_end(&w);
	assert_ob(&ob, "{\"a\":1,\"b\":2,\"c\":null,\"d\":4}");
	assert_int_equal(w.misuse, 0);
	/* no member yet, or right after a key: its leading comma would be wrong */
	jw_obj_begin(&w);
	jw_members_ob(&w);
	assert_int_equal(w.misuse, 1);
	jw_init(&w, &ob);
	jw_obj_begin(&w);
	jw_key(&w, "k");
	jw_members_ob(&w);
	assert_int_equal(w.misuse, 1);
}

static void test_misuse(void **state)
{
	jw_obj_end(&w);
	assert_int_equal(w.misuse, 1);
	assert_int_equal(w.depth, 0);

	jw_init(&w, &ob);
	jw_obj_begin(&w);
	jw_key(&w, "a");
	jw_key(&w, "b");
	assert_int_equal(w.misuse, 1);

	jw_init(&w, &ob);
	jw_obj_begin(&w);
	jw_key(&w, "a");
	jw_obj_end(&w);
	assert_int_equal(w.misuse, 1);
	assert_int_equal(w.depth, 0);
}

/* Deeper than the stack: flagged, the brackets still balance, nothing is overrun. */
static void test_too_deep(void **state)
{
	for (int i = 0; i < JW_DEPTH_MAX + 4; i++)
		jw_arr_begin(&w);
	assert_int_equal(w.depth, JW_DEPTH_MAX + 4);
	assert_int_equal(w.misuse, 1);
	for (int i = 0; i < JW_DEPTH_MAX + 4; i++)
		jw_arr_end(&w);
	assert_int_equal(w.depth, 0);
	assert_int_equal(ob.len, 2 * (JW_DEPTH_MAX + 4));
	for (int i = 0; i < JW_DEPTH_MAX + 4; i++) {
		assert_int_equal(ob.data[i], '[');
		assert_int_equal(ob.data[ob.len - 1 - i], ']');
	}

	jw_init(&w, &ob);
	ob_reset(&ob);
	for (int i = 0; i < JW_DEPTH_MAX; i++)
		jw_arr_begin(&w);
	assert_int_equal(w.misuse, 0);
	jw_u64(&w, 1);
	jw_u64(&w, 2);
	for (int i = 0; i < JW_DEPTH_MAX; i++)
		jw_arr_end(&w);
	assert_int_equal(w.misuse, 0);
	assert_int_equal(w.depth, 0);
	assert_int_equal(ob.len, 2 * JW_DEPTH_MAX + 3);
	assert_memory_equal(ob.data + JW_DEPTH_MAX, "1,2", 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_empty_containers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_members_and_commas, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nesting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lines, setup, teardown),
		cmocka_unit_test(test_line_seq),
		cmocka_unit_test_setup_teardown(test_strings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_str_or_null_outbuf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_u64_extremes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_value_ob, setup, teardown),
		cmocka_unit_test_setup_teardown(test_members_ob, setup, teardown),
		cmocka_unit_test_setup_teardown(test_misuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_deep, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
