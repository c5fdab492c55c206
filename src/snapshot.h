/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_SNAPSHOT_H
#define TT_SNAPSHOT_H

#include "services.h"

struct config;

/* `tcptrail snapshot`: returns the process exit code. */
int run_snapshot(const struct config *cfg, const struct services *svc);

#endif
