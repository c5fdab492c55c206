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

/* "trace", "snapshot" or "replay". */
const char *cli_cmd_name(enum tt_cmd cmd);

/* What a handler of cli_options[] is given. */
struct cli_ctx {
	struct config *cfg;
	const struct services *svc;
	FILE *out; /* for --help and --version */
	char *err; /* why a value is refused */
	size_t errlen;
};

/* Where a row's --help text goes. */
enum cli_help_layout {
	CLI_HELP_OWN_LINE,  /* a line of its own */
	CLI_HELP_SAME_LEFT, /* named beside the row before ("-4, --ipv4 / -6, --ipv6"), its help */
	CLI_HELP_SAME_LINE, /* on the row before's line, after its help */
};

/*
 * One row of the command line (cli.c): the getopt table, the check that an option applies to
 * the command and --help are made from these. A row without a name starts a section of --help
 * (help is its title); one without a handler is a line of --help only.
 */
struct cli_option {
	const char *name;  /* --name */
	char short_name;   /* -x, or 0 */
	const char *arg;   /* the value, as --help names it; NULL: the option takes none */
	unsigned int cmds; /* a bit (1 << enum tt_cmd) per command it applies to */
	const char *help;  /* lines, '\n' apart */
	/* 0 taken, -1 a usage error (x->err says why), 1 help or version printed */
	int (*handler)(struct cli_ctx *x, const char *arg);
	enum cli_help_layout layout;
};

extern const struct cli_option cli_options[];
extern const size_t cli_noptions;

#endif
