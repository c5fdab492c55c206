// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdio.h>
#include "snapshot.h"

int run_snapshot(const struct config *cfg, const struct services *svc)
{
	fprintf(stderr, "tcptrail: snapshot is not implemented yet\n");
	return 2;
}
