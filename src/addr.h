/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_ADDR_H
#define TT_ADDR_H

/*
 * Facts about the 16-byte addresses of struct tt_event and the socket records, shared by the
 * filters and the formatters. Inline: the formatter asks once per address of every event.
 */
#include <stdint.h>
#include <linux/types.h>
#include "filter_match.h"

/* True when addr is ::ffff:a.b.c.d: the kernel side's own test (include/filter_match.h). */
static inline int addr_is_v4_mapped(const uint8_t addr[16])
{
	return tt_kfilter_v4_mapped(addr);
}

#endif
