// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer target for the replay reader: bytes -> plain/gzip line reader -> record parser ->
 * formatters and the summary. Checks that a parsed record formats back to a line that parses
 * to the same output (what `replay -o json` relies on).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "format.h"
#include "logread.h"
#include "summary.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lr_reader *r = lr_open_mem(data, size);
	struct summary *s = summary_new();
	struct outbuf a, b;
	struct fmt_ctx c;
	struct lr_record rec, again;
	const char *line;
	size_t len;
	char err[256];

	if (!r || !s)
		abort();
	ob_init(&a);
	ob_init(&b);
	fmt_ctx_init(&c, 1);
	while (lr_next(r, &line, &len, err, sizeof(err)) > 0) {
		if (lr_parse_line(line, len, &rec, err, sizeof(err)))
			continue;
		summary_add(s, &rec);
		if (rec.type != LR_STATE && rec.type != LR_STUCK)
			continue;
		ob_reset(&a);
		ob_reset(&b);
		fmt_event_json(&a, &c, &rec.ev, rec.wall_ns, rec.lsvc, rec.rsvc, rec.holders);
		if (lr_parse_line(a.data, a.len - 1, &again, err, sizeof(err)))
			abort(); /* our own output must parse */
		fmt_event_json(&b, &c, &again.ev, again.wall_ns, again.lsvc, again.rsvc,
			       again.holders);
		if (a.len != b.len || memcmp(a.data, b.data, a.len))
			abort(); /* and reproduce itself */
		ob_reset(&a);
		fmt_event_text(&a, &c, &rec.ev, rec.wall_ns, rec.lsvc, rec.rsvc, rec.holders);
	}
	ob_reset(&a);
	summary_text(s, &a, 0);
	ob_reset(&a);
	summary_json(s, &a);
	ob_free(&a);
	ob_free(&b);
	summary_free(s);
	lr_free(r);
	return 0;
}
