/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_STUCK_RULE_H
#define TT_STUCK_RULE_H

/*
 * One --stuck STATE=DURATION rule, on its own so the stuck watch, the snapshot filter and the
 * log header read it without the whole command line (config.h).
 */
#include <stdint.h>

#define TT_MAX_STUCK 16

struct stuck_rule {
	int state;
	uint64_t ns;
};

#endif
