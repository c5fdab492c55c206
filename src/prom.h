/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_PROM_H
#define TT_PROM_H

/*
 * The pieces of the Prometheus exposition formats that do not depend on what is measured: which
 * format a scraper asks for (Accept), label values and numbers as the formats spell them, the
 * comment lines of a metric family, and the --metrics ADDR:PORT argument. Pure: no sockets are
 * opened, no threads, unit-tested and fuzzed.
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include "outbuf.h"

enum prom_format {
	PROM_TEXT = 0,	      /* text exposition format 0.0.4 */
	PROM_OPENMETRICS = 1, /* OpenMetrics 1.0.0 text */
};

/*
 * The format an Accept header (len bytes, need not be NUL-terminated; NULL: no header) asks for:
 * OpenMetrics when application/openmetrics-text (version absent, 1.0.0 or 0.0.1) has a higher
 * q-value than anything that covers text/plain (text/plain version 0.0.4 or none, text/x, x/x);
 * otherwise, including ties, unknown types and garbage, the text format.
 */
enum prom_format prom_negotiate(const char *accept, size_t len);

/* The Content-Type header of a format. */
const char *prom_content_type(enum prom_format f);

/* Longest label value written; longer ones are cut (a systemd unit name is at most 255). */
#define PROM_LABEL_MAX 256

/*
 * A label value between its quotes: control characters and invalid UTF-8 become '?' (the
 * formats want UTF-8, and a process name may hold anything), then \ and " are escaped.
 */
void prom_label_value(struct outbuf *ob, const char *s, size_t len);

/*
 * A sample value: integers as integers (up to 2^53), others in the shortest form that reads
 * back exactly, +Inf, -Inf, NaN.
 */
void prom_double(struct outbuf *ob, double v);

/* Seconds from a split count: s + ns / 1e9. */
double prom_seconds(uint64_t s, uint64_t ns);

enum prom_type {
	PROM_COUNTER,
	PROM_GAUGE,
	PROM_HISTOGRAM,
	PROM_INFO, /* a gauge of 1 whose labels are the information, name ending in _info */
};

/*
 * The # HELP and # TYPE lines of a family. name is the sample name as the text format has it
 * (tcptrail_events_total, tcptrail_build_info); OpenMetrics names the family without the
 * _total (counter) or _info (info) suffix, and types info as info (the text format: gauge).
 */
void prom_family(struct outbuf *ob, enum prom_format f, const char *name, enum prom_type type,
		 const char *help);

/* The end of an exposition: "# EOF" for OpenMetrics, nothing for the text format. */
void prom_end(struct outbuf *ob, enum prom_format f);

/*
 * A histogram bucket bound for the le label: the text format as written ("1", "0.25"),
 * OpenMetrics in canonical form, integers with ".0" ("1.0").
 */
void prom_le(struct outbuf *ob, enum prom_format f, const char *bound);

/*
 * --metrics ADDR:PORT: "127.0.0.1:9717", "[::1]:9717", ":9717" or "*:9717" (every address,
 * IPv6 and IPv4), "0.0.0.0:9717", "[::]:9717", "localhost:9717" (127.0.0.1). Numeric
 * addresses only (no DNS: an agent must not hang at start). 0 with *sa and *salen set, or -1
 * with a reason in err. *any is set when every address was asked for with ":PORT" or "*:PORT"
 * (the caller may fall back to IPv4 when the machine has no IPv6).
 */
int prom_parse_listen(const char *arg, struct sockaddr_storage *sa, socklen_t *salen, int *any,
		      char *err, size_t errlen);

#endif
