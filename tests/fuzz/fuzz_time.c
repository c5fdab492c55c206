// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* libFuzzer target: parse_time_ns(), cross-checked against fmt_time_rfc3339(). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "format.h"

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
	if (parse_time_ns(in, &ns))
		return 0;
	/* Whatever parsed prints as RFC 3339 and parses back to the same microsecond. */
	fmt_ctx_init(&c, 0);
	fmt_time_rfc3339(&c, ns, out);
	out[27] = '\0';
	if (parse_time_ns(out, &back) || back != ns - ns % 1000)
		abort();
	return 0;
}
