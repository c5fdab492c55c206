// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* A log-linear histogram with percentiles within 1.6%. Pure. */
#include <stdlib.h>
#include "hist.h"

/* Below 128 a bucket per value; from 2^e up (e >= 7) 64 buckets of 2^(e - 6) values each. */
static size_t hist_idx(uint64_t v)
{
	int e;

	if (v < 128)
		return (size_t)v;
	e = 63 - __builtin_clzll(v);
	return (size_t)(64 * (e - 6)) + (size_t)(v >> (e - 6));
}

/* Middle of the bucket's value range. */
static uint64_t hist_val(size_t idx)
{
	if (idx < 128)
		return idx;
	size_t q = idx / 64;
	int shift = (int)q - 1;
	uint64_t m = idx - 64 * (q - 1);

	return (m << shift) + ((1ULL << shift) >> 1);
}

int hist_add(struct hist *h, uint64_t v)
{
	if (!h->b) {
		h->b = calloc(HIST_SLOTS, sizeof(*h->b));
		if (!h->b)
			return -1;
	}
	h->b[hist_idx(v)]++;
	if (!h->n || v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->n++;
	return 0;
}

uint64_t hist_pct(const struct hist *h, unsigned p)
{
	uint64_t rank = (h->n * p + 99) / 100, seen = 0;

	if (!h->n) /* no value, and maybe no buckets either */
		return 0;
	if (rank == 0)
		rank = 1;
	for (size_t i = 0; i < HIST_SLOTS; i++) {
		seen += h->b[i];
		if (seen >= rank) {
			uint64_t v = hist_val(i);

			return v < h->min ? h->min : v > h->max ? h->max : v;
		}
	}
	return h->max;
}

void hist_free(struct hist *h)
{
	free(h->b);
	h->b = NULL;
}
