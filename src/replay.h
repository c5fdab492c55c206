/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_REPLAY_H
#define TT_REPLAY_H

#include "services.h"

struct config;

/* `tcptrail replay`: returns the process exit code. */
int run_replay(const struct config *cfg, const struct services *svc);

#endif
