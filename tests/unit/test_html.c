// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Unit tests of src/html.[ch]: escaping, the data block, the lane and open-socket bounds. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "html.h"
#include "jsonl.h"
#include "tt_test.h"

static void test_html_text(void **state)
{
	struct outbuf ob;

	(void)state;
	ob_init(&ob);
	html_text(&ob, "a<b>&\"c'd", 9);
	assert_ob(&ob, "a&lt;b&gt;&amp;&quot;c&#39;d");
	ob_reset(&ob);
	html_text(&ob, "caf\xc3\xa9", 5);
	assert_ob(&ob, "caf\xc3\xa9");
	ob_reset(&ob);
	html_text(&ob, "", 0);
	assert_ob(&ob, "");
	ob_free(&ob);
}

static void test_script_json(void **state)
{
	static const char in[] = "{\"a\":\"</script><!--&x\"}";
	struct jsonl_obj o;
	struct outbuf ob;
	char err[80], out[64];

	(void)state;
	ob_init(&ob);
	html_script_json(&ob, in, sizeof(in) - 1);
	assert_ob(&ob, "{\"a\":\"\\u003c/script\\u003e\\u003c!--\\u0026x\"}");
	/* still the same JSON */
	assert_int_equal(jsonl_parse(ob.data, ob.len, &o, err, sizeof(err)), 0);
	assert_true(jsonl_unescape(o.m[0].val, o.m[0].val_len, out, sizeof(out)) > 0);
	assert_string_equal(out, "</script><!--&x");
	ob_free(&ob);
}

static void add_line(struct html *h, const char *line)
{
	struct lr_record *r = malloc(sizeof(*r));
	char err[200];

	assert_non_null(r);
	if (lr_parse_line(line, strlen(line), r, err, sizeof(err)))
		fail_msg("%s: %s", line, err);
	assert_int_equal(html_add(h, r, line, strlen(line)), 0);
	free(r);
}

static void state_line(struct html *h, int sec, unsigned sock, const char *comm, const char *old,
		       const char *new, const char *extra)
{
	char line[2048];

	snprintf(line, sizeof(line),
		 "{\"type\":\"state\",\"time\":\"2026-11-26T15:00:%02d.000000Z\",\"pid\":7,"
		 "\"comm\":\"%s\",\"proto\":\"tcp\",\"laddr\":\"127.0.0.1\",\"lport\":80,"
		 "\"raddr\":\"127.0.0.1\",\"rport\":%u,\"lservice\":\"</script>\","
		 "\"rservice\":null,\"old\":\"%s\",\"new\":\"%s\",\"ms\":1.0,\"sock\":%u,"
		 "\"netns\":1,\"reset\":false%s}",
		 sec, comm, 1000 + sock, old, new, sock, extra ? extra : "");
	add_line(h, line);
}

#define FINAL(cause)                                                                        \
	",\"cause\":\"" cause "\",\"error\":null,\"sk_err\":0,\"reset_reason\":null,"       \
	"\"bytes_sent\":1,\"bytes_received\":2,\"segs_out\":3,\"segs_in\":4,\"retrans\":0," \
	"\"syn_retrans\":0,\"srtt_ms\":0.010,\"rttvar_ms\":0.005,\"life_ms\":5.000"

/* The page's data block, decoded: every string of the log inside it, none outside. */
static char *data_block(struct outbuf *ob, size_t *len)
{
	static const char open[] = "<script type=\"application/json\" id=\"tt-data\">";
	char *page = strndup(ob->data, ob->len), *s, *e;

	assert_non_null(page);
	s = strstr(page, open);
	assert_non_null(s);
	s += sizeof(open) - 1;
	e = strstr(s, "</script>");
	assert_non_null(e);
	*e = '\0';
	*len = (size_t)(e - s);
	memmove(page, s, *len + 1);
	return page;
}

static int count(const char *hay, size_t n, const char *needle)
{
	int c = 0;
	const char *p = hay, *end = hay + n;

	while ((p = memmem(p, (size_t)(end - p), needle, strlen(needle)))) {
		c++;
		p++;
	}
	return c;
}

static void test_hostile_page(void **state)
{
	struct html *h = html_new(NULL);
	struct jsonl_obj *o = malloc(sizeof(*o));
	struct outbuf ob;
	char err[80], *data;
	size_t len;

	(void)state;
	assert_non_null(h);
	assert_non_null(o);
	add_line(h, "{\"type\":\"header\",\"time\":\"2026-11-26T15:00:00.000000Z\",\"version\":"
		    "\"0.1.0\",\"hostname\":\"<b>'x'</b>\",\"kernel\":\"</script>\","
		    "\"boot_time\":\"2026-11-26T14:00:00.000000Z\",\"start_time\":"
		    "\"2026-11-26T15:00:00.000000Z\",\"part\":0,\"filters\":{},\"stuck\":[]}");
	state_line(h, 1, 1, "<script>\\\"'&", "CLOSE", "SYN_RECV", NULL);
	state_line(h, 2, 1, "<script>\\\"'&", "SYN_RECV", "ESTABLISHED", NULL);
	add_line(h, "{\"type\":\"stuck\",\"time\":\"2026-11-26T15:00:03.000000Z\",\"pid\":7,"
		    "\"comm\":\"</script>\",\"owners\":[{\"pid\":7,\"comm\":\"</script>\"}],"
		    "\"proto\":\"tcp\",\"laddr\":\"127.0.0.1\",\"lport\":80,\"raddr\":"
		    "\"127.0.0.1\",\"rport\":1001,\"lservice\":null,\"rservice\":null,\"state\":"
		    "\"ESTABLISHED\",\"ms\":1000.0,\"sock\":1,\"netns\":1}");
	add_line(h, "{\"type\":\"lost\",\"time\":\"2026-11-26T15:00:04.000000Z\",\"count\":3,"
		    "\"total\":3}");
	ob_init(&ob);
	html_write(h, &ob);
	assert_false(ob.oom);
	/* the page's own two scripts; the title escaped */
	assert_int_equal(count(ob.data, ob.len, "<script"), 2);
	assert_int_equal(count(ob.data, ob.len, "</script>"), 2);
	assert_int_equal(count(ob.data, ob.len, "<title>tcptrail: &lt;b&gt;&#39;x&#39;&lt;/b&gt;"),
			 1);
	data = data_block(&ob, &len);
	assert_null(memchr(data, '<', len));
	assert_null(memchr(data, '>', len));
	assert_int_equal(jsonl_parse(data, len, o, err, sizeof(err)), 0);
	assert_int_equal(count(data, len, "\"comm\""), 0);
	assert_int_equal(count(data, len, "\"\\u003cscript\\u003e\\\"'\\u0026\""), 2);
	assert_int_equal(count(data, len, "\"7/\\u003c/script\\u003e\""), 1);
	assert_int_equal(count(data, len, "\"lost\":3,"), 1);
	assert_int_equal(count(data, len, "\"stuck\":1,"), 1);
	assert_int_equal(html_lanes(h), 1);
	free(data);
	free(o);
	ob_free(&ob);
	html_free(h);
}

/* Past the lane bound, the connections worth more (a stuck alert, a reset) keep their lanes. */
static void test_lane_bound(void **state)
{
	struct html *h = html_new(&(struct html_opts){.lanes_max = 3});
	struct outbuf ob;
	char *data;
	size_t len;

	(void)state;
	assert_non_null(h);
	for (unsigned s = 1; s <= 10; s++) {
		state_line(h, (int)s, s, "c", "CLOSE", "SYN_SENT", NULL);
		if (s == 4)
			state_line(h, (int)s, s, "c", "SYN_SENT", "CLOSE", FINAL("refused"));
		else if (s == 9)
			state_line(h, (int)s, s, "c", "ESTABLISHED", "CLOSE", FINAL("reset_in"));
		else
			state_line(h, (int)s, s, "c", "SYN_SENT", "CLOSE", FINAL("closed"));
	}
	/* one still open (and so kept before the plain ones) */
	state_line(h, 20, 11, "c", "CLOSE", "SYN_SENT", NULL);
	ob_init(&ob);
	html_write(h, &ob);
	assert_int_equal(html_lanes(h), 3);
	assert_int_equal(html_folded(h), 8);
	data = data_block(&ob, &len);
	assert_int_equal(count(data, len, "\"sock\":4,"), 1);
	assert_int_equal(count(data, len, "\"sock\":9,"), 1);
	assert_int_equal(count(data, len, "\"sock\":11,"), 1);
	assert_int_equal(count(data, len, "\"folded\":8,"), 1);
	assert_int_equal(count(data, len, "\"transitions\":21,"), 1);
	free(data);
	ob_free(&ob);
	html_free(h);
}

/*
 * Past the open bound, events are counted in the overview only; a socket seen again once there
 * is room is followed from then on (as one older than the recording).
 */
static void test_open_bound(void **state)
{
	struct html *h = html_new(&(struct html_opts){.open_max = 2});
	struct outbuf ob;
	char *data;
	size_t len;

	(void)state;
	assert_non_null(h);
	for (unsigned s = 1; s <= 5; s++)
		state_line(h, (int)s, s, "c", "CLOSE", "SYN_SENT", NULL);
	for (unsigned s = 1; s <= 5; s++)
		state_line(h, 10 + (int)s, s, "c", "SYN_SENT", "CLOSE", FINAL("refused"));
	ob_init(&ob);
	html_write(h, &ob);
	assert_int_equal(html_lanes(h), 5);
	data = data_block(&ob, &len);
	assert_int_equal(count(data, len, "\"untracked\":3,"), 1);
	/* sockets 3-5 have lanes from their final transition */
	assert_int_equal(count(data, len, "\"ev\":[[12000.000,\"SYN_SENT\",\"CLOSE\""), 1);
	assert_int_equal(count(data, len, "\"ev\":[[14000.000,\"SYN_SENT\",\"CLOSE\""), 1);
	assert_int_equal(count(data, len, "\"resets\":5,"), 1);
	free(data);
	ob_free(&ob);
	html_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_html_text),    cmocka_unit_test(test_script_json),
		cmocka_unit_test(test_hostile_page), cmocka_unit_test(test_lane_bound),
		cmocka_unit_test(test_open_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
