// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* libFuzzer target: services_parse() on arbitrary /etc/services-like bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "services.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct services *s = services_new();
	int added, named = 0;

	if (!s)
		return 0;
	added = services_parse(s, (const char *)data, size);
	if (added < 0)
		abort(); /* out of memory cannot happen at these sizes */
	/*
	 * Walk the string pool rather than all 65536 ports (keeps the fuzzer fast): one string
	 * per added port. Names are printed raw in text and JSON: 1-64 printable bytes, no quote.
	 */
	for (size_t off = 1; off < s->pool_len; off += strlen(s->pool + off) + 1) {
		const char *name = s->pool + off;
		size_t len = strlen(name);

		named++;
		if (len == 0 || len > 64)
			abort();
		for (size_t i = 0; i < len; i++) {
			unsigned char c = (unsigned char)name[i];

			if (c < 0x21 || c > 0x7e || c == '"' || c == '\\')
				abort();
		}
	}
	if (named != added)
		abort();
	/* Spot checks through the lookup API. */
	if (services_name(s, 0) && !*services_name(s, 0))
		abort();
	/* A second parse of the same bytes adds nothing: the first name per port wins. */
	if (services_parse(s, (const char *)data, size) != 0)
		abort();
	services_free(s);
	return 0;
}
