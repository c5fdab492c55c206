// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdio.h>
#include "replay.h"

int run_replay(const struct config *cfg, const struct services *svc)
{
	fprintf(stderr, "tcptrail: replay is not implemented yet\n");
	return 2;
}
