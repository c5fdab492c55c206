// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdlib.h>
#include "stuck.h"

struct stuck {
	int unused;
};

struct stuck *stuck_new(const struct config *cfg, stuck_alert_fn alert, void *ctx)
{
	return calloc(1, sizeof(struct stuck));
}

void stuck_update(struct stuck *s, const struct tt_event *e)
{
}

void stuck_seed_socket(struct stuck *s, const struct tt_event *e)
{
}

void stuck_tick(struct stuck *s, uint64_t now)
{
}

uint64_t stuck_tracked(const struct stuck *s)
{
	return 0;
}

void stuck_free(struct stuck *s)
{
	free(s);
}
