/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_JSONW_H
#define TT_JSONW_H

#include <stdint.h>
#include "outbuf.h"

/*
 * A JSON writer on top of an outbuf for the records written once or rarely (the recording's
 * header, summaries, snapshot rows, lost-events lines): it places the commas, colons and quotes,
 * so a record reads as the list of its keys. It allocates nothing but the outbuf's growth.
 *
 * The per-event formatter (fmt_event_json) does not use it: it copies constant key strings
 * whole, which a writer deciding every separator at run time cannot match.
 *
 * Several top-level values may follow one another (one JSON object per line): the writer puts
 * nothing between them, the caller puts the '\n'.
 */

#define JW_DEPTH_MAX 16 /* objects and arrays open at once (the records nest 3 deep) */

struct jsonw {
	struct outbuf *ob;
	unsigned int depth; /* containers open */
	int after_key;	    /* a key was written: its value takes no comma */
	int misuse;	    /* too deep, an end without a begin: bad JSON; for the tests */
	uint8_t has_member[JW_DEPTH_MAX + 1]; /* per depth: a comma before the next member */
};

void jw_init(struct jsonw *w, struct outbuf *ob);

void jw_obj_begin(struct jsonw *w);
void jw_obj_end(struct jsonw *w);
void jw_arr_begin(struct jsonw *w);
void jw_arr_end(struct jsonw *w);

/* "k": of the next member. Keys are this program's own names: written as they are. */
void jw_key(struct jsonw *w, const char *k);

/* A string, escaped as ob_json_str() escapes it. */
void jw_str(struct jsonw *w, const char *s, size_t n);
/* A NUL-terminated string. */
void jw_strz(struct jsonw *w, const char *s);
/* s, or null for NULL. */
void jw_str_or_null(struct jsonw *w, const char *s);
void jw_u64(struct jsonw *w, uint64_t v);
/* v / 10^decimals with exactly that many decimals, as ob_fixed(). */
void jw_fixed(struct jsonw *w, uint64_t v, int decimals);
void jw_bool(struct jsonw *w, int v);
void jw_null(struct jsonw *w);
/* A CLOCK_REALTIME time as "YYYY-MM-DDTHH:MM:SS.uuuuuuZ" (quoted). */
void jw_time(struct jsonw *w, uint64_t wall_ns);

/*
 * The buffer to write one complete value into, after its separator: for a value that a
 * function shared with the per-event formatter writes to an outbuf (owners_json()).
 */
struct outbuf *jw_value_ob(struct jsonw *w);

/*
 * The buffer to append members to, each with its leading comma (",\"k\":v"), in an object that
 * has a member already: for members a function shared with the per-event formatter writes
 * (fmt_cgroup_json()).
 */
struct outbuf *jw_members_ob(struct jsonw *w);

/* Key and value together, for the members most records are made of. */
void jw_field_u64(struct jsonw *w, const char *k, uint64_t v);
void jw_field_str(struct jsonw *w, const char *k, const char *s);
void jw_field_str_or_null(struct jsonw *w, const char *k, const char *s);
void jw_field_bool(struct jsonw *w, const char *k, int v);
void jw_field_time(struct jsonw *w, const char *k, uint64_t wall_ns);

/*
 * The recording's per-run record counter as the last member of the line that ends ob, which
 * must end in "}\n": ...} becomes ...,"seq":N}. Nothing is done to anything else.
 */
void jw_line_seq(struct outbuf *ob, uint64_t seq);

#endif
