/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_SNAPBPF_H
#define TT_SNAPBPF_H

/*
 * The snapshot BPF object: the socket walk (iter/tcp, one struct tt_sock_rec per socket of the
 * current netns) and the owner walk (iter/task_file, one struct tt_owner_rec per process and TCP
 * socket file, every namespace).
 */
#include <stddef.h>
#include "snapshot.skel.h"
#include "outbuf.h"

/* The loaded iterators: one lifecycle, one cleanup path (snap_bpf_close). */
struct snap_bpf {
	struct snapshot_bpf *skel;
	struct bpf_link *tcp;
	struct bpf_link *owners;
};

/*
 * Opens, loads and attaches the iterators asked for (the socket walk, the owner walk); on
 * failure *what names the step and the error is returned.
 */
int snap_bpf_open(struct snap_bpf *b, int tcp, int owners, int verbose, const char **what);
void snap_bpf_close(struct snap_bpf *b);
/* tt_iter_read()'s sink: appends iterator output to an outbuf (records may straddle chunks). */
int snap_collect(void *ctx, const void *buf, size_t len);

/*
 * The owner walk alone, for trace's stuck alerts: opened, loaded and attached once; each
 * owner_walk_read() runs it afresh into recs (replacing what recs held). Both return 0 or
 * -errno; on a failed open *what names the step.
 */
struct owner_walk;
int owner_walk_open(struct owner_walk **w, const char **what);
int owner_walk_read(struct owner_walk *w, struct outbuf *recs);
void owner_walk_close(struct owner_walk *w);

#endif
