/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_HTML_H
#define TT_HTML_H

#include <stddef.h>
#include <stdint.h>
#include "logread.h"
#include "outbuf.h"

/*
 * `replay --html`: a recording as one self-contained HTML page (timeline of connections,
 * overview, navigation; no network). Pure: records in, bytes out.
 *
 * Memory and size are bounded whatever the log: at most HTML_LANES_MAX connections get a lane of
 * their own (those with stuck alerts, resets, a long CLOSE_WAIT, a long life first), each with at
 * most HTML_LANE_EVENTS events; at most HTML_OPEN_MAX connections are followed at once. The
 * overview (sockets per state, transitions, resets, lost events, time in CLOSE_WAIT) counts
 * every record in fixed memory.
 */
#define HTML_LANES_MAX	 2000
#define HTML_LANE_EVENTS 24
#define HTML_OPEN_MAX	 131072
#define HTML_BUCKETS	 720

struct html;

struct html_opts {
	int numeric;	    /* -n: ports, no service names */
	uint32_t lanes_max; /* 0: HTML_LANES_MAX */
	uint32_t open_max;  /* 0: HTML_OPEN_MAX (tests lower it) */
};

struct html *html_new(const struct html_opts *o);
void html_free(struct html *h);

/*
 * One record replay kept (after --since/--until and the filters); line is its text (headers
 * are read for the host, kernel and start). -1 when an allocation failed.
 */
int html_add(struct html *h, const struct lr_record *r, const char *line, size_t len);

/* The whole page. */
void html_write(struct html *h, struct outbuf *ob);

/* What html_write() said, for tests: lanes drawn, connections folded into the overview. */
uint64_t html_lanes(const struct html *h);
uint64_t html_folded(const struct html *h);

/* s as HTML text or attribute value: & < > " ' as entities. */
void html_text(struct outbuf *ob, const char *s, size_t n);

/*
 * JSON text for a <script type="application/json"> block: '<', '>' and '&' (which valid JSON
 * has only inside strings) as \u003c, \u003e, \u0026, so no "</script>" or "<!--" can end it.
 */
void html_script_json(struct outbuf *ob, const char *json, size_t n);

#endif
