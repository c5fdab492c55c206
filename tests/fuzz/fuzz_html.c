// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer target for replay --html: bytes -> line reader -> record parser -> the page writer
 * (small lane and open-socket bounds, so that eviction and untracked sockets are reached).
 * Checks that the page has its own two scripts only, and that its data block has no '<' or '>'
 * and parses as one JSON object.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "html.h"
#include "jsonl.h"
#include "logread.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t count(const char *hay, size_t n, const char *needle)
{
	size_t c = 0, m = strlen(needle);
	const char *p = hay, *end = hay + n;

	while ((p = memmem(p, (size_t)(end - p), needle, m))) {
		c++;
		p++;
	}
	return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char open[] = "id=\"tt-data\">";
	struct lr_reader *r = lr_open_mem(data, size);
	struct html *h = html_new(&(struct html_opts){.lanes_max = 3, .open_max = 4});
	struct lr_record *rec = malloc(sizeof(*rec));
	struct jsonl_obj *o = malloc(sizeof(*o));
	const char *line, *s, *e;
	struct outbuf ob;
	char err[256];
	size_t len;

	if (!r || !h || !rec || !o)
		abort();
	while (lr_next(r, &line, &len, err, sizeof(err)) > 0) {
		if (lr_parse_line(line, len, rec, err, sizeof(err)))
			continue;
		if (html_add(h, rec, line, len))
			abort();
	}
	ob_init(&ob);
	html_write(h, &ob);
	if (ob.oom || count(ob.data, ob.len, "<script") != 2 ||
	    count(ob.data, ob.len, "</script") != 2)
		abort();
	s = memmem(ob.data, ob.len, open, sizeof(open) - 1);
	if (!s)
		abort();
	s += sizeof(open) - 1;
	e = memmem(s, ob.len - (size_t)(s - ob.data), "</script>", 9);
	if (!e || memchr(s, '<', (size_t)(e - s)) || memchr(s, '>', (size_t)(e - s)))
		abort();
	if (jsonl_parse(s, (size_t)(e - s), o, err, sizeof(err)))
		abort();
	ob_free(&ob);
	html_free(h);
	lr_free(r);
	free(rec);
	free(o);
	return 0;
}
