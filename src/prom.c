// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Prometheus exposition pieces: Accept negotiation, label values, numbers, family lines. */
#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include "prom.h"

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 'a' - 'A' : c;
}

/* s[0..n) equals the lowercase word w, ignoring case. */
static int word_is(const char *s, size_t n, const char *w)
{
	size_t wl = strlen(w);

	if (n != wl)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (lower((unsigned char)s[i]) != w[i])
			return 0;
	}
	return 1;
}

static int ows(char c)
{
	return c == ' ' || c == '\t';
}

/* Trims optional whitespace around s[*b..*e). */
static void trim(const char *s, size_t *b, size_t *e)
{
	while (*b < *e && ows(s[*b]))
		(*b)++;
	while (*e > *b && ows(s[*e - 1]))
		(*e)--;
}

/* A qvalue as thousandths ("0.5" -> 500); -1 when it is not one (RFC 9110: 0-1, 3 decimals). */
static int parse_q(const char *s, size_t n)
{
	int v, scale = 100;

	if (!n || (s[0] != '0' && s[0] != '1'))
		return -1;
	v = (s[0] - '0') * 1000;
	if (n == 1)
		return v;
	if (s[1] != '.' || n > 5)
		return -1;
	for (size_t i = 2; i < n; i++, scale /= 10) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v += (s[i] - '0') * scale;
	}
	return v > 1000 ? -1 : v;
}

enum media {
	MEDIA_OTHER,
	MEDIA_OPENMETRICS,
	MEDIA_TEXT, /* covers text/plain version 0.0.4 */
};

/*
 * One element of the Accept list, s[b..e): what it accepts and its q in thousandths. A
 * version we do not write makes the element accept nothing of ours.
 */
static enum media parse_range(const char *s, size_t b, size_t e, int *q)
{
	size_t i = b, slash = 0, tend;
	enum media m;
	int version_ok = 1;

	*q = 1000;
	while (i < e && s[i] != ';')
		i++;
	tend = i;
	trim(s, &b, &tend);
	for (size_t k = b; k < tend; k++) {
		if (s[k] == '/') {
			slash = k;
			break;
		}
	}
	if (!slash)
		return MEDIA_OTHER;
	if (word_is(s + b, slash - b, "application") &&
	    word_is(s + slash + 1, tend - slash - 1, "openmetrics-text"))
		m = MEDIA_OPENMETRICS;
	else if ((word_is(s + b, slash - b, "text") || word_is(s + b, slash - b, "*")) &&
		 (word_is(s + slash + 1, tend - slash - 1, "plain") ||
		  word_is(s + slash + 1, tend - slash - 1, "*")))
		m = MEDIA_TEXT;
	else
		return MEDIA_OTHER;
	if (word_is(s + b, slash - b, "*") && !word_is(s + slash + 1, tend - slash - 1, "*"))
		return MEDIA_OTHER; /* "* /plain" is not a media range */
	/* Parameters: ;name=value, value a token or a quoted string. */
	while (i < e && s[i] == ';') {
		size_t nb = ++i, ne, vb, ve;

		while (i < e && s[i] != '=' && s[i] != ';')
			i++;
		ne = i;
		trim(s, &nb, &ne);
		if (i >= e || s[i] != '=') {
			continue; /* a parameter without a value: ignored */
		}
		i++;
		while (i < e && ows(s[i]))
			i++;
		if (i < e && s[i] == '"') {
			vb = ++i;
			while (i < e && s[i] != '"') {
				if (s[i] == '\\' && i + 1 < e)
					i++;
				i++;
			}
			ve = i;
			if (i < e)
				i++;
			while (i < e && s[i] != ';')
				i++;
		} else {
			vb = i;
			while (i < e && s[i] != ';')
				i++;
			ve = i;
			trim(s, &vb, &ve);
		}
		if (word_is(s + nb, ne - nb, "q")) {
			*q = parse_q(s + vb, ve - vb);
			if (*q < 0)
				*q = 0;
		} else if (word_is(s + nb, ne - nb, "version")) {
			if (m == MEDIA_OPENMETRICS)
				version_ok = word_is(s + vb, ve - vb, "1.0.0") ||
					     word_is(s + vb, ve - vb, "0.0.1");
			else if (word_is(s + b, slash - b, "text"))
				version_ok = word_is(s + vb, ve - vb, "0.0.4");
		}
	}
	return version_ok ? m : MEDIA_OTHER;
}

enum prom_format prom_negotiate(const char *s, size_t n)
{
	int best_om = 0, best_text = 0, q;
	size_t b = 0;

	if (!s)
		return PROM_TEXT;
	while (b < n) {
		size_t e = b;
		int quoted = 0;

		/* Commas inside a quoted parameter value do not end the element. */
		while (e < n && (quoted || s[e] != ',')) {
			if (s[e] == '"')
				quoted = !quoted;
			else if (quoted && s[e] == '\\' && e + 1 < n)
				e++;
			e++;
		}
		switch (parse_range(s, b, e, &q)) {
		case MEDIA_OPENMETRICS:
			if (q > best_om)
				best_om = q;
			break;
		case MEDIA_TEXT:
			if (q > best_text)
				best_text = q;
			break;
		default:
			break;
		}
		b = e + 1;
	}
	return best_om > 0 && best_om > best_text ? PROM_OPENMETRICS : PROM_TEXT;
}

const char *prom_content_type(enum prom_format f)
{
	return f == PROM_OPENMETRICS ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
				     : "text/plain; version=0.0.4; charset=utf-8";
}

void prom_label_value(struct outbuf *ob, const char *s, size_t len)
{
	size_t start = ob->len, n;
	char tmp[PROM_LABEL_MAX * 2];

	if (len > PROM_LABEL_MAX)
		len = PROM_LABEL_MAX;
	ob_put_printable(ob, s, len);
	if (ob->oom || ob->len < start)
		return;
	n = ob->len - start;
	if (!n || (!memchr(ob->data + start, '\\', n) && !memchr(ob->data + start, '"', n)))
		return;
	/* Rare: a name with a backslash or a quote. Escape the printable copy. */
	memcpy(tmp, ob->data + start, n);
	ob->len = start;
	for (size_t i = 0; i < n; i++) {
		if (tmp[i] == '\\' || tmp[i] == '"')
			ob_putc(ob, '\\');
		ob_putc(ob, tmp[i]);
	}
}

void prom_double(struct outbuf *ob, double v)
{
	char buf[40];
	double a;

	if (isnan(v)) {
		ob_puts(ob, "NaN");
		return;
	}
	if (isinf(v)) {
		ob_puts(ob, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	/* Whole numbers up to 2^53 (every count) as integers, without libm. */
	a = v < 0 ? -v : v;
	if (a <= 9007199254740992.0 && (double)(uint64_t)a == a) {
		if (v < 0)
			ob_putc(ob, '-');
		ob_u64(ob, (uint64_t)a);
		return;
	}
	/* The shortest of %.15g .. %.17g that reads back as the same double. */
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	ob_puts(ob, buf);
}

double prom_seconds(uint64_t s, uint64_t ns)
{
	return (double)s + (double)(ns / 1000000000ULL) + (double)(ns % 1000000000ULL) / 1e9;
}

void prom_family(struct outbuf *ob, enum prom_format f, const char *name, enum prom_type type,
		 const char *help)
{
	static const char *const types[] = {
		[PROM_COUNTER] = "counter",
		[PROM_GAUGE] = "gauge",
		[PROM_HISTOGRAM] = "histogram",
		[PROM_INFO] = "gauge",
	};
	size_t n = strlen(name);
	const char *type_name = types[type];

	if (f == PROM_OPENMETRICS) {
		/* OpenMetrics names the family; its samples add the suffix of the type. */
		if (type == PROM_COUNTER && n > 6 && !strcmp(name + n - 6, "_total"))
			n -= 6;
		if (type == PROM_INFO && n > 5 && !strcmp(name + n - 5, "_info")) {
			n -= 5;
			type_name = "info";
		}
	}
	ob_puts(ob, "# HELP ");
	ob_put(ob, name, n);
	ob_putc(ob, ' ');
	/* HELP text escapes \ and newlines; ours are constants without either. */
	ob_puts(ob, help);
	ob_puts(ob, "\n# TYPE ");
	ob_put(ob, name, n);
	ob_putc(ob, ' ');
	ob_puts(ob, type_name);
	ob_putc(ob, '\n');
}

void prom_end(struct outbuf *ob, enum prom_format f)
{
	if (f == PROM_OPENMETRICS)
		ob_puts(ob, "# EOF\n");
}

void prom_le(struct outbuf *ob, enum prom_format f, const char *bound)
{
	ob_puts(ob, bound);
	if (f == PROM_OPENMETRICS && !strchr(bound, '.') && !strchr(bound, 'I') &&
	    !strchr(bound, 'e'))
		ob_puts(ob, ".0");
}

static int listen_bad(char *err, size_t errlen, const char *arg, const char *why)
{
	snprintf(err, errlen,
		 "--metrics wants ADDR:PORT (127.0.0.1:9717, [::1]:9717, :9717 for every "
		 "address): '%s': %s",
		 arg, why);
	return -1;
}

int prom_parse_listen(const char *arg, struct sockaddr_storage *sa, socklen_t *salen, int *any,
		      char *err, size_t errlen)
{
	const char *colon, *p;
	char host[INET6_ADDRSTRLEN + 1];
	size_t hlen;
	unsigned long port = 0;

	memset(sa, 0, sizeof(*sa));
	*any = 0;
	if (arg[0] == '[') {
		const char *close = strchr(arg, ']');

		if (!close || close[1] != ':')
			return listen_bad(err, errlen, arg,
					  "an IPv6 address is written [ADDR]:PORT");
		colon = close + 1;
		hlen = (size_t)(close - arg - 1);
		if (hlen >= sizeof(host))
			return listen_bad(err, errlen, arg, "not an IPv6 address");
		memcpy(host, arg + 1, hlen);
		host[hlen] = '\0';
	} else {
		colon = strrchr(arg, ':');
		if (!colon)
			return listen_bad(err, errlen, arg, "no port");
		hlen = (size_t)(colon - arg);
		if (hlen >= sizeof(host) || memchr(arg, ':', hlen))
			return listen_bad(err, errlen, arg, "write an IPv6 address as [ADDR]:PORT");
		memcpy(host, arg, hlen);
		host[hlen] = '\0';
	}
	p = colon + 1;
	if (!*p)
		return listen_bad(err, errlen, arg, "no port");
	for (; *p; p++) {
		if (*p < '0' || *p > '9' || port > 65535)
			return listen_bad(err, errlen, arg, "the port is a number 1-65535");
		port = port * 10 + (unsigned long)(*p - '0');
	}
	if (port < 1 || port > 65535)
		return listen_bad(err, errlen, arg, "the port is a number 1-65535");
	if (arg[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)sa;

		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return listen_bad(err, errlen, arg, "not an IPv6 address");
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*salen = sizeof(*s6);
		return 0;
	}
	if (!host[0] || !strcmp(host, "*")) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)sa;

		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_any;
		s6->sin6_port = htons((uint16_t)port);
		*salen = sizeof(*s6);
		*any = 1;
		return 0;
	}
	{
		struct sockaddr_in *s4 = (struct sockaddr_in *)sa;

		if (!strcmp(host, "localhost"))
			strcpy(host, "127.0.0.1");
		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return listen_bad(err, errlen, arg,
					  "not an IPv4 address (numbers only, no host names)");
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*salen = sizeof(*s4);
	}
	return 0;
}
