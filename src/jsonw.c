// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <string.h>
#include "jsonw.h"

void jw_init(struct jsonw *w, struct outbuf *ob)
{
	memset(w, 0, sizeof(*w));
	w->ob = ob;
}

/* What goes before a value: nothing after a key, else a comma after the container's last. */
static void value_sep(struct jsonw *w)
{
	if (w->after_key) {
		w->after_key = 0;
		return;
	}
	if (w->depth > JW_DEPTH_MAX)
		return; /* too deep (flagged): commas are not kept track of there */
	/* top-level values are lines of their own: no comma between them */
	if (w->depth && w->has_member[w->depth])
		ob_putc(w->ob, ',');
	w->has_member[w->depth] = 1;
}

static void begin(struct jsonw *w, char c)
{
	value_sep(w);
	ob_putc(w->ob, c);
	if (++w->depth > JW_DEPTH_MAX)
		w->misuse = 1;
	else
		w->has_member[w->depth] = 0;
}

static void end(struct jsonw *w, char c)
{
	if (w->after_key)
		w->misuse = 1; /* a key without its value */
	if (!w->depth)
		w->misuse = 1;
	else
		w->depth--;
	w->after_key = 0;
	ob_putc(w->ob, c);
}

void jw_obj_begin(struct jsonw *w)
{
	begin(w, '{');
}

void jw_obj_end(struct jsonw *w)
{
	end(w, '}');
}

void jw_arr_begin(struct jsonw *w)
{
	begin(w, '[');
}

void jw_arr_end(struct jsonw *w)
{
	end(w, ']');
}

void jw_key(struct jsonw *w, const char *k)
{
	if (w->after_key)
		w->misuse = 1; /* a key needs a value first */
	value_sep(w);
	ob_putc(w->ob, '"');
	ob_puts(w->ob, k);
	ob_put(w->ob, "\":", 2);
	w->after_key = 1;
}

void jw_str(struct jsonw *w, const char *s, size_t n)
{
	value_sep(w);
	ob_json_str(w->ob, s, n);
}

void jw_strz(struct jsonw *w, const char *s)
{
	jw_str(w, s, strlen(s));
}

void jw_str_or_null(struct jsonw *w, const char *s)
{
	value_sep(w);
	ob_json_str_or_null(w->ob, s);
}

void jw_u64(struct jsonw *w, uint64_t v)
{
	value_sep(w);
	ob_u64(w->ob, v);
}

void jw_fixed(struct jsonw *w, uint64_t v, int decimals)
{
	value_sep(w);
	ob_fixed(w->ob, v, decimals);
}

void jw_bool(struct jsonw *w, int v)
{
	value_sep(w);
	ob_puts(w->ob, v ? "true" : "false");
}

void jw_null(struct jsonw *w)
{
	value_sep(w);
	ob_put(w->ob, "null", 4);
}

void jw_time(struct jsonw *w, uint64_t wall_ns)
{
	value_sep(w);
	ob_putc(w->ob, '"');
	ob_rfc3339(w->ob, wall_ns);
	ob_putc(w->ob, '"');
}

struct outbuf *jw_value_ob(struct jsonw *w)
{
	value_sep(w);
	return w->ob;
}

struct outbuf *jw_members_ob(struct jsonw *w)
{
	/* the next member's comma is right only after a member of this object */
	if (w->after_key || !w->depth || w->depth > JW_DEPTH_MAX || !w->has_member[w->depth])
		w->misuse = 1;
	return w->ob;
}

void jw_field_u64(struct jsonw *w, const char *k, uint64_t v)
{
	jw_key(w, k);
	jw_u64(w, v);
}

void jw_field_str(struct jsonw *w, const char *k, const char *s)
{
	jw_key(w, k);
	jw_strz(w, s);
}

void jw_field_str_or_null(struct jsonw *w, const char *k, const char *s)
{
	jw_key(w, k);
	jw_str_or_null(w, s);
}

void jw_field_bool(struct jsonw *w, const char *k, int v)
{
	jw_key(w, k);
	jw_bool(w, v);
}

void jw_field_time(struct jsonw *w, const char *k, uint64_t wall_ns)
{
	jw_key(w, k);
	jw_time(w, wall_ns);
}

void jw_line_seq(struct outbuf *ob, uint64_t seq)
{
	if (ob->len < 3 || ob->data[ob->len - 2] != '}' || ob->data[ob->len - 1] != '\n')
		return;
	ob->len -= 2;
	if (ob->data[ob->len - 1] == '{')
		ob_puts(ob, "\"seq\":");
	else
		ob_puts(ob, ",\"seq\":");
	ob_u64(ob, seq);
	ob_put(ob, "}\n", 2);
}
