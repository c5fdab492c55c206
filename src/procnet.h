/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_PROCNET_H
#define TT_PROCNET_H

#include <stddef.h>
#include <stdint.h>

/*
 * Finds counter `name` of group `group` ("TcpExt") in /proc/net/netstat text (header line of
 * names, then a line of values, per group). 0 with *value set, -1 if absent or malformed.
 */
int procnet_counter(const char *buf, size_t len, const char *group, const char *name,
		    uint64_t *value);

#endif
