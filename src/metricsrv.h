/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_METRICSRV_H
#define TT_METRICSRV_H

/*
 * --metrics ADDR:PORT and --metrics-file FILE: serves and writes the exposition of a struct
 * metrics that the event loop keeps. HTTP is libmicrohttpd's thread, the file a thread of its
 * own; neither touches the event loop's numbers. A scrape asks for a copy (an atomic flag), the
 * event loop makes it at its next turn (mtsrv_tick, at most a poll timeout away) under a short
 * lock, and the scrape formats the copy with what the socket iterator counts then.
 */
#include <stdint.h>
#include "metrics.h"

struct mtsrv;
struct stuck_rule;
struct tt_filter;

/* What --metrics and --metrics-file serve, and what the exposition says was asked for. */
struct mtsrv_opts {
	const char *addr;     /* --metrics ADDR:PORT; NULL: no HTTP server */
	const char *file;     /* --metrics-file FILE; NULL: no file */
	uint64_t interval_ns; /* --metrics-interval: how often the file is written */
	enum mt_by by;	      /* --metrics-by */
	/* The socket walk matches by the filter until mtsrv_stop(): keep it. */
	const struct tt_filter *filter;
	const struct stuck_rule *stuck; /* at most TT_MAX_STUCK; copied */
	int nstuck;
	int verbose; /* -v: how many namespaces each walk found each way, when that changes */
};

/*
 * Loads the socket iterator, binds the HTTP server (o->addr) and starts it and the file writer
 * (o->file); m stays the event loop's. NULL with a reason in err.
 */
struct mtsrv *mtsrv_start(const struct mtsrv_opts *o, struct metrics *m, char *err, size_t errlen);

/*
 * Event loop, every turn: lost is the tracer's count; now (CLOCK_MONOTONIC) is the turn's time,
 * which /healthz compares with its own (mt_health); makes the copy a scrape asked for.
 */
void mtsrv_tick(struct mtsrv *s, uint64_t lost, uint64_t now);

/*
 * After the event loop's end: stops the server, writes the file a last time (the final numbers)
 * and frees everything but m. Returns 0, or -1 when the file could never be written.
 */
int mtsrv_stop(struct mtsrv *s, uint64_t lost);

#endif
