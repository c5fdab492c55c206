// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer target: parse_time_ns() of parse.c, cross-checked against fmt_time_rfc3339(), and
 * parse_time_rfc3339_us() (the recordings' fast path) against parse_time_ns().
 * parse.c's number, duration and size parsers are fuzzed by fuzz_filter.c.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "format.h"
#include "parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char in[128], out[28];
	struct fmt_ctx c;
	uint64_t ns, back;

	if (size >= sizeof(in))
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	char why[80];
	uint64_t ns2 = 7, fast;

	/* The fast path takes only what the general parser takes, as the same time. */
	if (!parse_time_rfc3339_us((const char *)data, size, &fast) &&
	    (parse_time_ns(in, &ns) || ns != fast))
		abort();
	if (parse_time_ns(in, &ns)) {
		/* the reasoned variant agrees, and leaves the output alone */
		if (!parse_time_ns_why(in, &ns2, why, sizeof(why)) || ns2 != 7)
			abort();
		return 0;
	}
	if (parse_time_ns_why(in, &ns2, why, sizeof(why)) || ns2 != ns || why[0])
		abort();
	/* Whatever parsed prints as RFC 3339 and parses back to the same microsecond. */
	fmt_ctx_init(&c, 0);
	fmt_time_rfc3339(&c, ns, out);
	out[27] = '\0';
	if (parse_time_ns(out, &back) || back != ns - ns % 1000)
		abort();
	/* ... and so does the fast path, up to 2500 (a recording's dates) */
	if (memcmp(out, "2501", 4) < 0 && (parse_time_rfc3339_us(out, 27, &fast) || fast != back))
		abort();
	/*
	 * A UTC date is taken as written, never normalised (2026-02-31 is not 03-03): it prints
	 * back as the same day, unless a leap second (:60) carried it into the next.
	 */
	size = strlen(in); /* what was parsed: the input may hold a NUL */
	if (size >= 20 && in[4] == '-' && (in[size - 1] == 'Z' || in[size - 1] == 'z') &&
	    memcmp(in + 17, "60", 2) && memcmp(in, out, 10))
		abort();
	return 0;
}
