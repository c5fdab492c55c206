/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_SNAPSHOT_H
#define TT_SNAPSHOT_H

#include "cli.h"
#include "services.h"
#include <linux/types.h>
#include "tcptrail.h"

/* `tcptrail snapshot`: returns the process exit code. */
int run_snapshot(const struct config *cfg, const struct services *svc);

/*
 * Runs the iter/tcp pass over the caller's current network namespace and calls fn once per
 * socket (every state, TIME_WAIT and SYN_RECV included). A non-zero return from fn stops the
 * walk and is returned. Loads and unloads its own BPF object; prints nothing (libbpf messages
 * follow the caller's tt_libbpf_logging). Returns 0 or -errno.
 */
int snapshot_walk(int (*fn)(void *ctx, const struct tt_sock_rec *rec), void *ctx);

#endif
