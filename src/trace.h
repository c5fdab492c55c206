/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_TRACE_H
#define TT_TRACE_H

#include "services.h"

struct config;

/* `tcptrail trace`: returns the process exit code. */
int run_trace(const struct config *cfg, const struct services *svc);

#endif
