// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Numbers, durations, sizes and times as the command line and the recordings write them. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "parse.h"

int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!s || !*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

uint64_t parse_env_bound(const char *name, uint64_t min, uint64_t max, uint64_t dflt)
{
	uint64_t v;

	if (parse_u64(getenv(name), min, max, &v))
		return dflt;
	return v;
}

int parse_duration_ns(const char *s, uint64_t *ns)
{
	uint64_t whole = 0, frac = 0, frac_scale = 1, unit;
	const char *p = s;
	int digits = 0;

	if (!s)
		return -1;
	for (; *p >= '0' && *p <= '9'; p++, digits++) {
		if (whole > 1000000000ULL)
			return -1;
		whole = whole * 10 + (uint64_t)(*p - '0');
	}
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++, digits++) {
			if (frac_scale < 1000000000ULL) {
				frac = frac * 10 + (uint64_t)(*p - '0');
				frac_scale *= 10;
			}
		}
	}
	if (!digits)
		return -1;
	if (!strcmp(p, "ms"))
		unit = 1000000ULL;
	else if (!strcmp(p, "s") || !*p)
		unit = 1000000000ULL;
	else if (!strcmp(p, "m"))
		unit = 60000000000ULL;
	else if (!strcmp(p, "h"))
		unit = 3600000000000ULL;
	else
		return -1;
	/* Up to about 5 years in any unit keeps the product inside 64 bits. */
	if (whole > (1ULL << 63) / unit)
		return -1;
	/* frac * unit overflows for long fractions of m/h: scale frac to ns first (exact). */
	*ns = whole * unit + frac * (1000000000ULL / frac_scale) * (unit / 1000000) / 1000;
	return 0;
}

int parse_size(const char *s, uint64_t *bytes)
{
	char num[24];
	size_t len;
	uint64_t v, mult = 1;

	if (!s || !*s)
		return -1;
	len = strlen(s);
	switch (s[len - 1]) {
	case 'k':
	case 'K':
		mult = 1ULL << 10;
		break;
	case 'm':
	case 'M':
		mult = 1ULL << 20;
		break;
	case 'g':
	case 'G':
		mult = 1ULL << 30;
		break;
	}
	if (mult != 1)
		len--;
	if (len == 0 || len >= sizeof(num))
		return -1;
	memcpy(num, s, len);
	num[len] = '\0';
	if (parse_u64(num, 1, UINT64_MAX / mult, &v))
		return -1;
	*bytes = v * mult;
	return 0;
}

static int days_from_civil(int y, unsigned m, unsigned d)
{
	/* Howard Hinnant's algorithm: days since 1970-01-01 of a proleptic Gregorian date. */
	y -= m <= 2;
	int era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + (int)doe - 719468;
}

/* n decimal digits at p (sscanf's %d would also take signs and blanks). */
static int all_digits(const char *p, int n)
{
	for (int i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return 0;
	}
	return 1;
}

int days_in_month(int year, int month)
{
	static const unsigned char days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (month < 1 || month > 12)
		return 0;
	if (month == 2 && year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))
		return 29;
	return days[month - 1];
}

int parse_time_rfc3339_us(const char *s, size_t len, uint64_t *ns)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.ddddddZ";
	int v[7] = {0}, k = 0;

	if (len != 27)
		return -1;
	for (size_t i = 0; i < 27; i++) {
		if (shape[i] == 'd') {
			if (s[i] < '0' || s[i] > '9')
				return -1;
			v[k] = v[k] * 10 + (s[i] - '0');
		} else if (s[i] != shape[i]) {
			return -1;
		} else {
			k++;
		}
	}
	/* v: year, month, day, hour, minute, second, microseconds */
	if (v[0] < 1970 || v[0] > 2500 || v[1] < 1 || v[1] > 12 || v[2] < 1 ||
	    v[2] > days_in_month(v[0], v[1]) || v[3] > 23 || v[4] > 59 || v[5] > 60)
		return -1;
	*ns = ((uint64_t)days_from_civil(v[0], (unsigned)v[1], (unsigned)v[2]) * 86400 +
	       (uint64_t)v[3] * 3600 + (uint64_t)v[4] * 60 + (uint64_t)v[5]) *
		      1000000000ULL +
	      (uint64_t)v[6] * 1000;
	return 0;
}

__attribute__((format(printf, 3, 4))) static int time_bad(char *why, size_t whylen, const char *fmt,
							  ...)
{
	va_list ap;

	if (why && whylen) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

int parse_time_ns_why(const char *s, uint64_t *ns, char *why, size_t whylen)
{
	static const char *const months[12] = {"January",   "February", "March",    "April",
					       "May",	    "June",	"July",	    "August",
					       "September", "October",	"November", "December"};
	int y, mo, d, h, mi, sec, n = 0;
	uint64_t frac = 0, scale = 1000000000ULL, epoch;
	long offset = 0;
	const char *p;

	if (why && whylen)
		why[0] = '\0';
	if (!parse_u64(s, 0, UINT64_MAX / 1000000000ULL, &epoch)) {
		*ns = epoch * 1000000000ULL;
		return 0;
	}
	if (sscanf(s, "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 ||
	    n != 19 || !all_digits(s, 4) || !all_digits(s + 5, 2) || !all_digits(s + 8, 2) ||
	    !all_digits(s + 11, 2) || !all_digits(s + 14, 2) || !all_digits(s + 17, 2))
		return -1;
	/*
	 * Each field is checked against the calendar, not just its digit count: mktime-style
	 * normalisation would silently read 2026-02-31 as 03-03, a filter on the wrong day.
	 */
	if (mo < 1 || mo > 12)
		return time_bad(why, whylen, "no such month: %02d", mo);
	if (d < 1 || d > days_in_month(y, mo))
		return time_bad(why, whylen, "no such day: %s %d has %d days", months[mo - 1], y,
				days_in_month(y, mo));
	if (h > 23)
		return time_bad(why, whylen, "no such hour: %02d", h);
	if (mi > 59)
		return time_bad(why, whylen, "no such minute: %02d", mi);
	if (sec > 60) /* 60: a leap second, which RFC 3339 allows */
		return time_bad(why, whylen, "no such second: %02d", sec);
	if (y < 1970)
		return time_bad(why, whylen, "before the epoch, 1970-01-01T00:00:00Z");
	p = s + n;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -1;
		for (; *p >= '0' && *p <= '9'; p++) {
			if (scale > 1) {
				scale /= 10;
				frac += (uint64_t)(*p - '0') * scale;
			}
		}
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int oh, om, m = 0;

		if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &m) != 2 || m != 5 ||
		    !all_digits(p + 1, 2) || !all_digits(p + 4, 2))
			return -1;
		if (oh > 23 || om > 59)
			return time_bad(why, whylen, "no such UTC offset: %02d:%02d", oh, om);
		offset = (oh * 3600L + om * 60L) * (*p == '+' ? 1 : -1);
		p += 6;
	} else {
		return -1;
	}
	if (*p)
		return -1;
	long long t = (long long)days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400LL +
		      h * 3600LL + mi * 60LL + sec - offset;
	if (t < 0)
		return time_bad(why, whylen, "before the epoch, 1970-01-01T00:00:00Z");
	if ((uint64_t)t > (UINT64_MAX - frac) / 1000000000ULL)
		return time_bad(why, whylen,
				"after 2554-07-21T23:34:33Z, the end of 64-bit nanoseconds");
	*ns = (uint64_t)t * 1000000000ULL + frac;
	return 0;
}

int parse_time_ns(const char *s, uint64_t *ns)
{
	return parse_time_ns_why(s, ns, NULL, 0);
}
