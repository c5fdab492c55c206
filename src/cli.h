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

#endif
