// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Strict single-object JSON line parser; see jsonl.h. */
#include <stdio.h>
#include <string.h>
#include "jsonl.h"

struct pstate {
	const unsigned char *s;
	size_t len;
	size_t pos;
	const char *why;
};

static int fail(struct pstate *p, const char *why)
{
	if (!p->why)
		p->why = why;
	return -1;
}

static void skip_ws(struct pstate *p)
{
	while (p->pos < p->len) {
		unsigned char c = p->s[p->pos];

		if (c != ' ' && c != '\t' && c != '\r' && c != '\n')
			break;
		p->pos++;
	}
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int hex4(const unsigned char *s, unsigned *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++) {
		int h = hexval(s[i]);

		if (h < 0)
			return -1;
		*v = *v << 4 | (unsigned)h;
	}
	return 0;
}

/* Length of the valid UTF-8 sequence at s (no overlongs, surrogates or > U+10FFFF), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	unsigned cp;

	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* At the opening quote; leaves pos after the closing one. */
static int parse_string(struct pstate *p, size_t *start, size_t *end, int *esc)
{
	*esc = 0;
	p->pos++;
	*start = p->pos;
	while (p->pos < p->len) {
		unsigned char c = p->s[p->pos];

		if (c == '"') {
			*end = p->pos++;
			return 0;
		}
		if (c < 0x20)
			return fail(p, "control character in string");
		if (c == '\\') {
			*esc = 1;
			if (p->pos + 1 >= p->len)
				break;
			c = p->s[p->pos + 1];
			if (c == 'u') {
				unsigned v, lo;

				if (p->pos + 6 > p->len || hex4(p->s + p->pos + 2, &v))
					return fail(p, "bad \\u escape");
				p->pos += 6;
				if (v >= 0xdc00 && v <= 0xdfff)
					return fail(p, "lone surrogate in \\u escape");
				if (v >= 0xd800 && v <= 0xdbff) {
					if (p->pos + 6 > p->len || p->s[p->pos] != '\\' ||
					    p->s[p->pos + 1] != 'u' ||
					    hex4(p->s + p->pos + 2, &lo) || lo < 0xdc00 ||
					    lo > 0xdfff)
						return fail(p, "lone surrogate in \\u escape");
					p->pos += 6;
				}
				continue;
			}
			if (!strchr("\"\\/bfnrt", c) || c == 0)
				return fail(p, "bad escape in string");
			p->pos += 2;
			continue;
		}
		if (c >= 0x80) {
			size_t n = utf8_seq(p->s + p->pos, p->len - p->pos);

			if (!n)
				return fail(p, "invalid UTF-8 in string");
			p->pos += n;
			continue;
		}
		p->pos++;
	}
	return fail(p, "unterminated string");
}

static int digits(struct pstate *p)
{
	size_t start = p->pos;

	while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
		p->pos++;
	return p->pos > start ? 0 : -1;
}

static int parse_number(struct pstate *p)
{
	if (p->s[p->pos] == '-')
		p->pos++;
	if (p->pos < p->len && p->s[p->pos] == '0') {
		p->pos++;
	} else if (digits(p)) {
		return fail(p, "bad number");
	}
	if (p->pos < p->len && p->s[p->pos] == '.') {
		p->pos++;
		if (digits(p))
			return fail(p, "bad number");
	}
	if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
		p->pos++;
		if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-'))
			p->pos++;
		if (digits(p))
			return fail(p, "bad number");
	}
	return 0;
}

static int literal(struct pstate *p, const char *word)
{
	size_t n = strlen(word);

	if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n))
		return fail(p, "unexpected character");
	p->pos += n;
	return 0;
}

static int parse_value(struct pstate *p, int depth, enum jsonl_type *type, size_t *vs, size_t *ve,
		       int *esc);

/* A nested object or array: validated, not stored. At the opening bracket. */
static int parse_container(struct pstate *p, int depth)
{
	int obj = p->s[p->pos] == '{';
	unsigned char close = obj ? '}' : ']';
	enum jsonl_type t;
	size_t a, b;
	int esc;

	if (depth >= JSONL_MAX_DEPTH)
		return fail(p, "nested too deeply");
	p->pos++;
	skip_ws(p);
	if (p->pos < p->len && p->s[p->pos] == close) {
		p->pos++;
		return 0;
	}
	for (;;) {
		if (obj) {
			skip_ws(p);
			if (p->pos >= p->len || p->s[p->pos] != '"')
				return fail(p, "expected a key");
			if (parse_string(p, &a, &b, &esc))
				return -1;
			skip_ws(p);
			if (p->pos >= p->len || p->s[p->pos] != ':')
				return fail(p, "expected ':'");
			p->pos++;
		}
		if (parse_value(p, depth + 1, &t, &a, &b, &esc))
			return -1;
		skip_ws(p);
		if (p->pos >= p->len)
			return fail(p, "unexpected end of line");
		if (p->s[p->pos] == close) {
			p->pos++;
			return 0;
		}
		if (p->s[p->pos] != ',')
			return fail(p, obj ? "expected ',' or '}'" : "expected ',' or ']'");
		p->pos++;
	}
}

static int parse_value(struct pstate *p, int depth, enum jsonl_type *type, size_t *vs, size_t *ve,
		       int *esc)
{
	skip_ws(p);
	if (p->pos >= p->len)
		return fail(p, "expected a value");
	*esc = 0;
	*vs = p->pos;
	switch (p->s[p->pos]) {
	case '"':
		*type = JSONL_STRING;
		return parse_string(p, vs, ve, esc);
	case '{':
	case '[':
		*type = p->s[p->pos] == '{' ? JSONL_OBJECT : JSONL_ARRAY;
		if (parse_container(p, depth))
			return -1;
		break;
	case 't':
		*type = JSONL_TRUE;
		if (literal(p, "true"))
			return -1;
		break;
	case 'f':
		*type = JSONL_FALSE;
		if (literal(p, "false"))
			return -1;
		break;
	case 'n':
		*type = JSONL_NULL;
		if (literal(p, "null"))
			return -1;
		break;
	default:
		if (p->s[p->pos] != '-' && (p->s[p->pos] < '0' || p->s[p->pos] > '9'))
			return fail(p, "unexpected character");
		*type = JSONL_NUMBER;
		if (parse_number(p))
			return -1;
		break;
	}
	*ve = p->pos;
	return 0;
}

int jsonl_parse(const char *s, size_t len, struct jsonl_obj *o, char *err, size_t errlen)
{
	struct pstate p = {(const unsigned char *)s, len, 0, NULL};

	o->n = 0;
	skip_ws(&p);
	if (p.pos >= p.len || p.s[p.pos] != '{') {
		fail(&p, "not a JSON object");
		goto bad;
	}
	p.pos++;
	skip_ws(&p);
	if (p.pos < p.len && p.s[p.pos] == '}') {
		p.pos++;
		goto done;
	}
	for (;;) {
		struct jsonl_member *m;
		size_t ks, ke, vs, ve;
		int kesc, vesc;

		skip_ws(&p);
		if (p.pos >= p.len || p.s[p.pos] != '"') {
			fail(&p, "expected a key");
			goto bad;
		}
		if (parse_string(&p, &ks, &ke, &kesc))
			goto bad;
		skip_ws(&p);
		if (p.pos >= p.len || p.s[p.pos] != ':') {
			fail(&p, "expected ':'");
			goto bad;
		}
		p.pos++;
		if (o->n >= JSONL_MAX_MEMBERS) {
			fail(&p, "too many keys");
			goto bad;
		}
		m = &o->m[o->n];
		if (parse_value(&p, 1, &m->type, &vs, &ve, &vesc))
			goto bad;
		m->key = s + ks;
		m->key_len = ke - ks;
		m->key_esc = kesc;
		m->val = s + vs;
		m->val_len = ve - vs;
		m->val_esc = vesc;
		for (int i = 0; i < o->n; i++) {
			if (o->m[i].key_len == m->key_len &&
			    !memcmp(o->m[i].key, m->key, m->key_len)) {
				p.pos = ks;
				fail(&p, "duplicate key");
				goto bad;
			}
		}
		o->n++;
		skip_ws(&p);
		if (p.pos >= p.len) {
			fail(&p, "unexpected end of line");
			goto bad;
		}
		if (p.s[p.pos] == '}') {
			p.pos++;
			break;
		}
		if (p.s[p.pos] != ',') {
			fail(&p, "expected ',' or '}'");
			goto bad;
		}
		p.pos++;
	}
done:
	skip_ws(&p);
	if (p.pos != p.len) {
		fail(&p, "trailing characters after the object");
		goto bad;
	}
	return 0;
bad:
	snprintf(err, errlen, "invalid JSON at column %zu: %s", p.pos + 1, p.why);
	return -1;
}

const struct jsonl_member *jsonl_get(const struct jsonl_obj *o, const char *key)
{
	size_t n = strlen(key);
	char tmp[64];

	for (int i = 0; i < o->n; i++) {
		const struct jsonl_member *m = &o->m[i];

		if (!m->key_esc) {
			if (m->key_len == n && !memcmp(m->key, key, n))
				return m;
		} else if (jsonl_unescape(m->key, m->key_len, tmp, sizeof(tmp)) == (long)n &&
			   !memcmp(tmp, key, n)) {
			return m;
		}
	}
	return NULL;
}

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

long jsonl_unescape(const char *raw, size_t len, char *out, size_t cap)
{
	const unsigned char *s = (const unsigned char *)raw;
	size_t o = 0;

	if (cap == 0)
		return -1;
	for (size_t i = 0; i < len;) {
		char tmp[4];
		size_t n = 1;

		if (s[i] != '\\') {
			tmp[0] = (char)s[i++];
		} else if (i + 1 < len && s[i + 1] == 'u') {
			unsigned cp, lo;

			if (i + 6 > len || hex4(s + i + 2, &cp))
				return -1;
			i += 6;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (i + 6 > len || s[i] != '\\' || hex4(s + i + 2, &lo) ||
				    lo < 0xdc00 || lo > 0xdfff)
					return -1;
				i += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			}
			if (cp < 0x100)
				tmp[0] = (char)cp;
			else
				n = put_utf8(tmp, cp);
		} else if (i + 1 < len) {
			static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
			const char *f = memchr(from, s[i + 1], sizeof(from) - 1);

			if (!f)
				return -1;
			tmp[0] = to[f - from];
			i += 2;
		} else {
			return -1;
		}
		if (o + n >= cap)
			return -1;
		memcpy(out + o, tmp, n);
		o += n;
	}
	out[o] = '\0';
	return (long)o;
}
