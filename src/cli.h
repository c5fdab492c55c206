/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_CLI_H
#define TT_CLI_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include "config.h"
#include "services.h"

enum cli_result {
	CLI_OK = 0,
	CLI_HELP = 1,	/* help or version printed: exit 0 */
	CLI_USAGE = -1, /* bad usage: err says why, exit 2 */
};

/*
 * Parses argv into cfg (zeroed first). svc resolves service names in port lists (may be NULL).
 * Help and version text go to out.
 */
enum cli_result cli_parse(int argc, char **argv, struct config *cfg, const struct services *svc,
			  FILE *out, char *err, size_t errlen);

void cli_usage(FILE *out);

/* RFC 3339 time ("2026-11-26T13:07:01Z", fractions and +hh:mm offsets allowed) or epoch seconds. */
int parse_time_ns(const char *s, uint64_t *ns);

/*
 * parse_time_ns(), and when a field is out of the calendar (2026-02-31, month 13, hour 25) or the
 * time outside 1970-2554, why says so ("no such day: February 2026 has 28 days"); why is "" when
 * s is not a time at all.
 */
int parse_time_ns_why(const char *s, uint64_t *ns, char *why, size_t whylen);

/* Days of a month of the proleptic Gregorian calendar; 0 for a month outside 1-12. */
int days_in_month(int year, int month);

#endif
