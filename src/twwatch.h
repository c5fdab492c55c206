/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_TWWATCH_H
#define TT_TWWATCH_H

/*
 * The TIME_WAIT watch: when tcp_max_tw_buckets is full the kernel makes no timewait socket and
 * the tracepoint cannot tell, so the TCPTimeWaitOverflow counter of each namespace with active
 * closes is read once a second (through a process living there) and a rise is said.
 */
#include <stdint.h>
#include <linux/types.h>
#include "tcptrail.h"

#define TW_NETNS_MAX 64

/* A netns whose TCPTimeWaitOverflow counter is watched, through a process living in it. */
struct tw_watch {
	uint32_t netns;
	uint32_t pid;
	int stale;
	uint64_t last;
};

struct twwatch {
	int n;
	struct tw_watch w[TW_NETNS_MAX];
	uint64_t skipped; /* connections that skipped TIME_WAIT, in all */
};

/* An event: its netns is watched from its first active close on (FIN_WAIT1, CLOSING). */
void twwatch_event(struct twwatch *t, const struct tt_event *e);
/* Reads the counters again: warns once when they rose. */
void twwatch_check(struct twwatch *t);
/* A baseline before any event, from the start-up walk: a netns and a process living in it. */
void twwatch_seed(struct twwatch *t, uint32_t netns, uint32_t pid);

#endif
