// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer target for the replay reader: bytes -> plain/gzip line reader -> record parser ->
 * formatters and the summary. Checks that a parsed record formats back to a line that parses
 * to the same output (what `replay -o json` relies on), "seq" included, that the seq check's
 * gaps are well formed, that text output never carries a
 * control character from the log, and that a summary with a small memory bound stays under it
 * and keeps the same counts as an unbounded one.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "causes.h"
#include "format.h"
#include "jsonw.h"
#include "logread.h"
#include "summary.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Text for a terminal: no C0 but '\n', no DEL, no C1 (UTF-8 C2 80-9F). */
static void check_printable(const struct outbuf *ob)
{
	const unsigned char *p = (const unsigned char *)ob->data;

	for (size_t i = 0; i < ob->len; i++) {
		if ((p[i] < 0x20 && p[i] != '\n') || p[i] == 0x7f)
			abort();
		if (p[i] == 0xc2 && i + 1 < ob->len && p[i + 1] >= 0x80 && p[i + 1] < 0xa0)
			abort();
	}
}

/* The JSON text from key a to key b (both must be there). */
static const char *part(const struct outbuf *ob, const char *a, const char *b, size_t *len)
{
	const char *x = memmem(ob->data, ob->len, a, strlen(a)), *y;

	if (!x)
		abort();
	y = memmem(x, ob->len - (size_t)(x - ob->data), b, strlen(b));
	if (!y)
		abort();
	*len = (size_t)(y - x);
	return x;
}

static void same_part(const struct outbuf *p, const struct outbuf *q, const char *a, const char *b)
{
	size_t n, m;
	const char *x = part(p, a, b, &n), *y = part(q, a, b, &m);

	if (n != m || memcmp(x, y, n))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lr_reader *r = lr_open_mem(data, size);
	struct summary *s = summary_new(), *bs;
	struct summary_opts o;
	struct summary_untracked u;
	struct outbuf a, b;
	struct fmt_ctx c;
	struct lr_record rec, again;
	struct lr_seq seq;
	struct lr_gap gap;
	const char *line;
	size_t len;
	char err[256];

	if (!r || !s)
		abort();
	/* replay's reset reason names, interned from the log: each input starts with none */
	rst_reason_clear();
	/* a bound the input picks: from no table at all to room for a few hundred entries */
	o.mem_max = summary_mem_used(s) + (size ? (size_t)data[size - 1] * 256 : 0);
	bs = summary_new_opts(&o);
	if (!bs)
		abort();
	ob_init(&a);
	ob_init(&b);
	fmt_ctx_init(&c, 1);
	lr_seq_init(&seq);
	while (lr_next(r, &line, &len, err, sizeof(err)) > 0) {
		if (lr_parse_line(line, len, &rec, err, sizeof(err)))
			continue;
		if (lr_seq_check(&seq, &rec, &gap)) {
			/* a gap names the records missing (or the step back), never an empty range */
			if (!rec.has_seq || (!gap.back && gap.from > gap.to) ||
			    (gap.back && gap.to > gap.from))
				abort();
		} else if (gap.from || gap.to || gap.back || gap.at_header) {
			abort();
		}
		summary_add(s, &rec);
		summary_add(bs, &rec);
		if (summary_mem_used(bs) > summary_mem_max(bs))
			abort();
		if (rec.type != LR_STATE && rec.type != LR_STUCK)
			continue;
		ob_reset(&a);
		ob_reset(&b);
		fmt_event_json(&a, &c, &rec.ev, rec.wall_ns, rec.lsvc, rec.rsvc, rec.holders,
			       rec.cg);
		if (rec.has_seq)
			jw_line_seq(&a, rec.seq);
		if (lr_parse_line(a.data, a.len - 1, &again, err, sizeof(err)))
			abort(); /* our own output must parse */
		if (again.has_seq != rec.has_seq || again.seq != rec.seq)
			abort(); /* with its number */
		fmt_event_json(&b, &c, &again.ev, again.wall_ns, again.lsvc, again.rsvc,
			       again.holders, again.cg);
		if (again.has_seq)
			jw_line_seq(&b, again.seq);
		if (a.len != b.len || memcmp(a.data, b.data, a.len))
			abort(); /* and reproduce itself */
		ob_reset(&a);
		fmt_event_text(&a, &c, &rec.ev, rec.wall_ns, rec.lsvc, rec.rsvc, rec.holders,
			       rec.cg);
		check_printable(&a);
	}
	ob_reset(&a);
	summary_text(s, &a, 0);
	check_printable(&a);
	ob_reset(&a);
	summary_text(bs, &a, 0);
	check_printable(&a);
	ob_reset(&a);
	ob_reset(&b);
	summary_json(s, &a);
	summary_json(bs, &b);
	/* the counts are exact whatever the bound */
	same_part(&a, &b, "\"first\"", ",\"incomplete\"");
	same_part(&a, &b, "\"connections\"", ",\"top_processes\"");
	same_part(&a, &b, "\"stuck_by_state\"", "]}\n");
	summary_get_untracked(bs, &u);
	if (summary_open(bs) > summary_open(s))
		abort(); /* the bounded one tracks a subset */
	if (!u.sockets && !u.socket_events && !u.process_events && !u.remote_events &&
	    !u.cgroup_events)
		same_part(&a, &b, "\"top_processes\"", "]}\n"); /* nothing left out: all equal */
	ob_free(&a);
	ob_free(&b);
	summary_free(s);
	summary_free(bs);
	lr_free(r);
	return 0;
}
