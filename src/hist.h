/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_HIST_H
#define TT_HIST_H

#include <stddef.h>
#include <stdint.h>

/*
 * A log-linear histogram of 64-bit values: exact below 128, then 64 buckets per power of two,
 * so a percentile is within 1.6% of the value it stands for; count, min and max are exact.
 * Pure.
 */
#define HIST_SLOTS 3776
/* What the buckets of one histogram take (allocated on its first value). */
#define HIST_BYTES (HIST_SLOTS * sizeof(uint64_t))

struct hist {
	uint64_t n, max, min;
	uint64_t *b; /* HIST_SLOTS counts, NULL until the first value */
};

/* Counts v; -1 when the buckets could not be allocated. A zeroed struct hist is empty. */
int hist_add(struct hist *h, uint64_t v);
/*
 * Nearest-rank percentile p (0-100): the middle of the bucket holding that rank, clamped to
 * [min, max]; 0 for an empty histogram.
 */
uint64_t hist_pct(const struct hist *h, unsigned p);
void hist_free(struct hist *h);

#endif
