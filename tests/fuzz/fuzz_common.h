/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Set-up shared by the libFuzzer targets. */
#ifndef TT_FUZZ_COMMON_H
#define TT_FUZZ_COMMON_H

#include <stdlib.h>
#include <string.h>
#include "services.h"

/*
 * The services table of text (/etc/services lines), parsed on the first call and kept for the
 * whole run; a text that does not give want tcp entries is a broken target: abort.
 */
static inline const struct services *fuzz_services(const char *text, int want)
{
	static struct services *svc;

	if (!svc) {
		svc = services_new();
		if (!svc || services_parse(svc, text, strlen(text)) != want)
			abort();
	}
	return svc;
}

#endif
