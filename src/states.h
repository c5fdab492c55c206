/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_STATES_H
#define TT_STATES_H

/* Kernel name of a TCP state ("ESTABLISHED", "FIN_WAIT2_TW", ...); "UNKNOWN" if out of range. */
const char *tt_state_name(int state);

/*
 * Parses a state name: kernel spelling, case-insensitive, '-' for '_' accepted ("close-wait"),
 * also ss's "time-wait", "syn-recv". Returns the state or -1.
 */
int tt_state_parse(const char *name, unsigned long len);

#endif
