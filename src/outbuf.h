/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_OUTBUF_H
#define TT_OUTBUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * A byte buffer that formatters append to without printf. It grows as needed; the owner decides
 * when to hand the bytes on (write(2), gzip, a test's memcmp).
 */
struct outbuf {
	char *data;
	size_t len;
	size_t cap;
	int oom; /* an allocation failed; appends are dropped until ob_reset() */
};

void ob_init(struct outbuf *ob);
void ob_free(struct outbuf *ob);
/* Makes room for n more bytes; 0 or -1 (and ob->oom set). */
int ob_reserve(struct outbuf *ob, size_t n);

static inline void ob_reset(struct outbuf *ob)
{
	ob->len = 0;
	ob->oom = 0;
}

static inline void ob_put(struct outbuf *ob, const char *s, size_t n)
{
	/* n == 0 on a never-grown buffer would do NULL + 0 and memcpy(NULL, ...): UB. */
	if (!n || (ob->len + n > ob->cap && ob_reserve(ob, n)))
		return;
	memcpy(ob->data + ob->len, s, n);
	ob->len += n;
}

static inline void ob_puts(struct outbuf *ob, const char *s)
{
	ob_put(ob, s, strlen(s));
}

static inline void ob_putc(struct outbuf *ob, char c)
{
	if (ob->len + 1 > ob->cap && ob_reserve(ob, 1))
		return;
	ob->data[ob->len++] = c;
}

/* n spaces (nothing if n <= 0). */
void ob_pad(struct outbuf *ob, long n);
/* s left-aligned in a field of width w, at least one space after it. */
void ob_col(struct outbuf *ob, const char *s, size_t n, size_t w);
/* Ends a column that began at offset start: pads it to width w, at least one space. */
void ob_col_end(struct outbuf *ob, size_t start, size_t w);
void ob_u64(struct outbuf *ob, uint64_t v);
/* v as a column of width w, as ob_col() places a string. */
void ob_u64_col(struct outbuf *ob, uint64_t v, size_t w);
void ob_i64(struct outbuf *ob, int64_t v);
/* v / 10^decimals with exactly that many decimals: ob_fixed(ob, 2030, 3) -> "2.030". */
void ob_fixed(struct outbuf *ob, uint64_t v, int decimals);
/* A JSON string literal with quotes; control bytes and invalid UTF-8 escaped as \u00XX. */
void ob_json_str(struct outbuf *ob, const char *s, size_t n);

/*
 * ,"k": as one constant-length copy (k must be a string literal): the per-event JSON formatters'
 * key, whose separators are known when the code is written. Other records use jsonw.
 */
#define ob_json_key(ob, k) ob_put(ob, ",\"" k "\":", sizeof(",\"" k "\":") - 1)

/* ob_json_str() of a NUL-terminated s, or null for NULL (a port without a service name). */
static inline void ob_json_str_or_null(struct outbuf *ob, const char *s)
{
	if (s)
		ob_json_str(ob, s, strlen(s));
	else
		ob_put(ob, "null", 4);
}

/*
 * s as text for a terminal: each byte of a control character (C0, DEL, C1) or of invalid UTF-8
 * becomes '?', so a process name cannot carry escape sequences. Appends exactly n bytes.
 */
void ob_put_printable(struct outbuf *ob, const char *s, size_t n);

/*
 * "YYYY-MM-DDTHH:MM:SS.uuuuuuZ": a CLOCK_REALTIME ns value as UTC in RFC 3339 (27 bytes), for
 * times written once (headers, summaries). The per-event formatter keeps the text of the last
 * second instead (fmt_time_rfc3339()), from the same two parts below.
 */
void ob_rfc3339(struct outbuf *ob, uint64_t wall_ns);
/* "YYYY-MM-DDTHH:MM:SS" (19 bytes, no NUL) of a second since the epoch, UTC. */
void utc_seconds_text(int64_t sec, char out[19]);

/* ".uuuuuuZ" of us (microseconds into the second) after utc_seconds_text()'s 19 bytes in out. */
static inline void rfc3339_fraction(char out[27], unsigned us)
{
	out[19] = '.';
	for (int i = 25; i >= 20; i--) {
		out[i] = (char)('0' + us % 10);
		us /= 10;
	}
	out[26] = 'Z';
}

/* Writes all of buf to fd (retrying short writes); -1 with errno (EPIPE: the reader left). */
int ob_write_fd(int fd, const char *buf, size_t len);

/*
 * Deals with a write of a command's output that failed with errno err (not a question: it acts):
 * sets *broken, so nothing more is written. A reader that left (EPIPE: `tcptrail ... | head`)
 * is the end, not an error: 0. Any other failure is said on stderr: -1, the command exits 1.
 */
int ob_output_error(int err, int *broken);
/* Writes ob to fd unless *broken, and empties it; ob_output_error()'s result when it fails. */
int ob_flush_fd(struct outbuf *ob, int fd, int *broken);

/* Decimal digits of v into buf (no NUL); returns the count (1..20). */
size_t u64_to_dec(char *buf, uint64_t v);

#endif
