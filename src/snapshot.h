/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_SNAPSHOT_H
#define TT_SNAPSHOT_H

#include "outbuf.h"
#include "services.h"

struct config;

/* `tcptrail snapshot`: returns the process exit code. */
int run_snapshot(const struct config *cfg, const struct services *svc);

/*
 * The owner walk of `snapshot -p` (iter/task_file: one struct tt_owner_rec per process and TCP
 * socket file, every namespace), for trace's stuck alerts. Opened, loaded and attached once;
 * each owner_walk_read() runs it afresh into recs (replacing what recs held). Both return 0 or
 * -errno; on a failed open *what names the step.
 */
struct owner_walk;
int owner_walk_open(struct owner_walk **w, const char **what);
int owner_walk_read(struct owner_walk *w, struct outbuf *recs);
void owner_walk_close(struct owner_walk *w);

#endif
