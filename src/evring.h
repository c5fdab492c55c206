/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_EVRING_H
#define TT_EVRING_H

/*
 * The tracer's events from the kernel: each CPU's ring and the shared ring buffer (bpf/ring.bpf.h),
 * mapped and read in order of time (evmerge.h). Sized before the object is loaded, read after.
 */
#include <bpf/libbpf.h>
#include "evmerge.h"

struct evring;

/*
 * Sizes the maps ring_pos and ring_slots (not loaded yet) for a budget of bytes over the
 * possible CPUs; *shift is the value of the BPF side's ring_slot_shift. 0 or -errno.
 */
int evring_size(struct bpf_map *pos, struct bpf_map *slots, uint64_t bytes, unsigned int *shift);

/* The reader of the loaded maps, handing each record to fn; NULL with errno set. */
struct evring *evring_new(const struct bpf_map *shared, const struct bpf_map *pos,
			  const struct bpf_map *slots, evmerge_fn fn, void *ctx);
void evring_free(struct evring *r);

/*
 * Waits up to timeout_ms for a wakeup, then reads: as ring_buffer__poll(), the records handed
 * on, fn's nonzero return, or -errno (-EINTR: a signal came).
 */
int evring_poll(struct evring *r, int timeout_ms);
/* Reads without waiting. */
int evring_consume(struct evring *r);
/* How many records the CPU rings hold at most. */
uint64_t evring_capacity(const struct evring *r);

#endif
