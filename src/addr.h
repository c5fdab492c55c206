/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_ADDR_H
#define TT_ADDR_H

/*
 * Facts about the 16-byte addresses of struct tt_event and the socket records, shared by the
 * filters and the formatters. Inline: the formatter asks once per address of every event.
 */
#include <stdint.h>
#include <string.h>

/* True when addr is ::ffff:a.b.c.d. */
static inline int addr_is_v4_mapped(const uint8_t addr[16])
{
	static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	return memcmp(addr, prefix, sizeof(prefix)) == 0;
}

#endif
