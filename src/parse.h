/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_PARSE_H
#define TT_PARSE_H

/*
 * The value parsers shared by the command line, the filters and the recording reader: each takes
 * a whole string, and fails on anything after the value.
 */
#include <stddef.h>
#include <stdint.h>

/* "250ms", "30s", "5m", "1h", "1.5s"; a bare number is seconds. 0 or -1. */
int parse_duration_ns(const char *s, uint64_t *ns);
/* "100M", "1G", "512k", bare bytes. 0 or -1. */
int parse_size(const char *s, uint64_t *bytes);
/* Unsigned decimal in [min, max], whole string. 0 or -1. */
int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/*
 * The environment variable name as parse_u64() reads it in [min, max]; dflt when it is unset,
 * empty or anything else (a sign, a blank, out of range). For the test and tuning knobs that
 * lower a built-in bound (TCPTRAIL_QUEUE_MAX, TCPTRAIL_SUMMARY_MEM): not options, no message.
 */
uint64_t parse_env_bound(const char *name, uint64_t min, uint64_t max, uint64_t dflt);

/* RFC 3339 time ("2026-11-26T13:07:01Z", fractions and +hh:mm offsets allowed) or epoch seconds. */
int parse_time_ns(const char *s, uint64_t *ns);

/*
 * parse_time_ns(), and when a field is out of the calendar (2026-02-31, month 13, hour 25) or the
 * time outside 1970-2554, why says so ("no such day: February 2026 has 28 days"); why is "" when
 * s is not a time at all.
 */
int parse_time_ns_why(const char *s, uint64_t *ns, char *why, size_t whylen);

/*
 * Exactly "YYYY-MM-DDTHH:MM:SS.uuuuuuZ" of len bytes (not NUL-terminated), the form tcptrail
 * writes, from 1970 to 2500: the fast path of reading a recording. -1 for anything else,
 * including an impossible date (02-31), which parse_time_ns_why() then says why it refuses.
 */
int parse_time_rfc3339_us(const char *s, size_t len, uint64_t *ns);

/* Days of a month of the proleptic Gregorian calendar; 0 for a month outside 1-12. */
int days_in_month(int year, int month);

#endif
