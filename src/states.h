/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_STATES_H
#define TT_STATES_H

#include "tcptrail.h"

/* Kernel name of a TCP state ("ESTABLISHED", "FIN_WAIT2_TW", ...); "UNKNOWN" if out of range. */
const char *tt_state_name(int state);

/*
 * Parses a state name: kernel spelling, case-insensitive, '-' for '_' accepted ("close-wait"),
 * also ss's "time-wait", "syn-recv". Returns the state or -1.
 */
int tt_state_parse(const char *name, unsigned long len);

/* A socket's last state: the kernel is done with it (a timewait socket included). */
static inline int tt_state_terminal(int st)
{
	return st == TT_CLOSE || st == TT_TIME_WAIT || st == TT_FIN_WAIT2_TW;
}

/* A state of an established connection or of its close. */
static inline int tt_state_in_connection(int st)
{
	return st == TT_ESTABLISHED || st == TT_FIN_WAIT1 || st == TT_FIN_WAIT2 ||
	       st == TT_CLOSING || st == TT_CLOSE_WAIT || st == TT_LAST_ACK;
}

#endif
