/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_JSONL_H
#define TT_JSONL_H

#include <stddef.h>

/*
 * A strict parser for one JSON Lines record: a single object per line (RFC 8259 syntax, valid
 * UTF-8, no trailing garbage). It does not allocate: members point into the line, nested objects
 * and arrays are validated and handed back as raw text.
 */

enum jsonl_type {
	JSONL_NULL,
	JSONL_FALSE,
	JSONL_TRUE,
	JSONL_NUMBER,
	JSONL_STRING,
	JSONL_OBJECT,
	JSONL_ARRAY,
};

/* A final transition has 39 keys: room for them and for keys of later versions. */
#define JSONL_MAX_MEMBERS 64
#define JSONL_MAX_DEPTH	  32

struct jsonl_member {
	const char *key; /* raw text between the quotes */
	size_t key_len;
	const char *val; /* raw text; for strings the text between the quotes */
	size_t val_len;
	enum jsonl_type type;
	int key_esc; /* the key has backslash escapes */
	int val_esc; /* the string value has backslash escapes */
};

struct jsonl_obj {
	int n;
	struct jsonl_member m[JSONL_MAX_MEMBERS];
};

/*
 * Parses one line holding one object (surrounding JSON whitespace allowed). Returns 0, or -1 with
 * a short reason naming the byte column in err. Duplicate keys are an error.
 */
int jsonl_parse(const char *s, size_t len, struct jsonl_obj *o, char *err, size_t errlen);

/* The member named key (plain ASCII), or NULL. */
const struct jsonl_member *jsonl_get(const struct jsonl_obj *o, const char *key);

/*
 * Decodes the raw text of a string into out (NUL-terminated). \u0000-\u00ff become that single
 * byte, the inverse of ob_json_str(), so recorded bytes round-trip exactly; other code points
 * become UTF-8. Returns the length, or -1 when it does not fit in cap - 1 bytes.
 */
long jsonl_unescape(const char *raw, size_t len, char *out, size_t cap);

#endif
