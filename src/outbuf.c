// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include "outbuf.h"

void ob_init(struct outbuf *ob)
{
	ob->data = NULL;
	ob->len = 0;
	ob->cap = 0;
	ob->oom = 0;
}

void ob_free(struct outbuf *ob)
{
	free(ob->data);
	ob_init(ob);
}

int ob_reserve(struct outbuf *ob, size_t n)
{
	size_t cap = ob->cap ? ob->cap : 4096;
	char *p;

	if (ob->oom)
		return -1;
	if (ob->len + n <= ob->cap)
		return 0;
	while (cap < ob->len + n)
		cap *= 2;
	p = realloc(ob->data, cap);
	if (!p) {
		ob->oom = 1;
		return -1;
	}
	ob->data = p;
	ob->cap = cap;
	return 0;
}

void ob_pad(struct outbuf *ob, long n)
{
	static const char spaces[] = "                                ";

	while (n > 0) {
		long k = n < (long)sizeof(spaces) - 1 ? n : (long)sizeof(spaces) - 1;

		ob_put(ob, spaces, (size_t)k);
		n -= k;
	}
}

void ob_col(struct outbuf *ob, const char *s, size_t n, size_t w)
{
	ob_put(ob, s, n);
	ob_pad(ob, n < w ? (long)(w - n) : 1);
}

static size_t dec_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 10000) {
		v /= 10000;
		n += 4;
	}
	return n + (v >= 10) + (v >= 100) + (v >= 1000);
}

void ob_col_end(struct outbuf *ob, size_t start, size_t w)
{
	size_t n = ob->len - start;

	ob_pad(ob, n < w ? (long)(w - n) : 1);
}

/* Two digits at a time, straight into place: numbers are most of an event line. */
size_t u64_to_dec(char *buf, uint64_t v)
{
	static const char pairs[] = "00010203040506070809101112131415161718192021222324252627282930"
				    "31323334353637383940414243444546474849505152535455565758596061"
				    "62636465666768697071727374757677787980818283848586878889909192"
				    "93949596979899";
	size_t n = dec_len(v);
	char *p = buf + n;

	while (v >= 100) {
		unsigned r = (unsigned)(v % 100);

		v /= 100;
		p -= 2;
		memcpy(p, pairs + 2 * r, 2);
	}
	if (v >= 10)
		memcpy(p - 2, pairs + 2 * v, 2);
	else
		p[-1] = (char)('0' + v);
	return n;
}

void ob_u64(struct outbuf *ob, uint64_t v)
{
	if (ob->len + 20 > ob->cap && ob_reserve(ob, 20))
		return;
	ob->len += u64_to_dec(ob->data + ob->len, v);
}

void ob_u64_col(struct outbuf *ob, uint64_t v, size_t w)
{
	size_t start = ob->len;

	ob_u64(ob, v);
	ob_col_end(ob, start, w);
}

void ob_i64(struct outbuf *ob, int64_t v)
{
	if (v < 0) {
		ob_putc(ob, '-');
		ob_u64(ob, (uint64_t)0 - (uint64_t)v);
	} else {
		ob_u64(ob, (uint64_t)v);
	}
}

void ob_fixed(struct outbuf *ob, uint64_t v, int decimals)
{
	uint64_t scale = 1;
	char frac[20];

	for (int i = 0; i < decimals; i++)
		scale *= 10;
	ob_u64(ob, v / scale);
	if (decimals <= 0)
		return;
	ob_putc(ob, '.');
	v %= scale;
	for (int i = decimals - 1; i >= 0; i--) {
		frac[i] = (char)('0' + v % 10);
		v /= 10;
	}
	ob_put(ob, frac, (size_t)decimals);
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

void ob_json_str(struct outbuf *ob, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;

	ob_putc(ob, '"');
	for (size_t i = 0; i < n;) {
		unsigned char c = p[i];
		size_t ul;

		if (c == '"' || c == '\\') {
			ob_putc(ob, '\\');
			ob_putc(ob, (char)c);
			i++;
		} else if (c >= 0x20 && c < 0x7f) {
			ob_putc(ob, (char)c);
			i++;
		} else if (c >= 0x80 && (ul = utf8_len(p + i, n - i)) > 0) {
			ob_put(ob, s + i, ul);
			i += ul;
		} else {
			char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};

			ob_put(ob, esc, sizeof(esc));
			i++;
		}
	}
	ob_putc(ob, '"');
}

void ob_put_printable(struct outbuf *ob, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, ul;

	while (i < n && p[i] >= 0x20 && p[i] < 0x7f)
		i++;
	ob_put(ob, s, i); /* the usual name: plain ASCII, one copy */
	while (i < n) {
		unsigned char c = p[i];

		if (c >= 0x20 && c < 0x7f) {
			ob_putc(ob, (char)c);
			i++;
		} else if (c >= 0x80 && (ul = utf8_len(p + i, n - i)) > 0 &&
			   !(c == 0xc2 && p[i + 1] < 0xa0)) { /* U+0080-U+009F: C1 controls */
			ob_put(ob, s + i, ul);
			i += ul;
		} else {
			ob_putc(ob, '?');
			i++;
		}
	}
}

void utc_seconds_text(int64_t sec, char out[19])
{
	time_t t = (time_t)sec;
	struct tm tm;
	char tmp[32];

	gmtime_r(&t, &tm);
	snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d", (tm.tm_year + 1900) % 10000,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	memcpy(out, tmp, 19);
}

void ob_rfc3339(struct outbuf *ob, uint64_t wall_ns)
{
	char buf[27];

	utc_seconds_text((int64_t)(wall_ns / 1000000000ULL), buf);
	rfc3339_fraction(buf, (unsigned)(wall_ns % 1000000000ULL / 1000));
	ob_put(ob, buf, sizeof(buf));
}

int ob_write_fd(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int ob_output_error(int err, int *broken)
{
	*broken = 1;
	if (err == EPIPE)
		return 0;
	fprintf(stderr, "tcptrail: writing output: %s\n", strerror(err));
	return -1;
}

int ob_flush_fd(struct outbuf *ob, int fd, int *broken)
{
	int ret = 0;

	if (ob->len && !*broken && ob_write_fd(fd, ob->data, ob->len))
		ret = ob_output_error(errno, broken);
	ob_reset(ob);
	return ret;
}
