/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_CONFIG_H
#define TT_CONFIG_H

/*
 * What the command line asked for, apart from how it was parsed (cli.h): the modules that act on
 * it read this without depending on the option parser.
 */
#include <stdint.h>
#include "filter.h"
#include "stuck_rule.h"

#define TT_MAX_FILES 256

enum tt_cmd {
	CMD_TRACE,
	CMD_SNAPSHOT,
	CMD_REPLAY,
};

/* Everything the command line said. */
struct config {
	enum tt_cmd cmd;
	int json;     /* -o json */
	int numeric;  /* -n */
	int extended; /* -e */
	int quiet;    /* -q */
	int verbose;  /* -v */
	uint64_t duration_ns;
	uint32_t ringbuf_mb;
	struct tt_filter filter;
	int nstuck;
	struct stuck_rule stuck[TT_MAX_STUCK];

	/* metrics (trace) */
	const char *metrics_addr; /* --metrics ADDR:PORT */
	const char *metrics_file; /* --metrics-file FILE */
	uint64_t metrics_interval_ns;
	int metrics_by; /* enum mt_by */

	/* recording */
	const char *write_path;
	uint64_t rotate_bytes;
	uint32_t keep;

	/* snapshot */
	int all;       /* -a */
	int listening; /* -l */
	int programs;  /* -p */
	int all_netns;
	int resolve;
	uint64_t continuous_ns;

	/* replay */
	int summary;
	const char *html_path; /* --html FILE: the page instead of events */
	int has_since;	       /* --since given: since_ns 0 is the epoch, not "open" */
	int has_until;
	uint64_t since_ns; /* CLOCK_REALTIME */
	uint64_t until_ns;
	int nfiles;
	const char *files[TT_MAX_FILES];
};

#endif
