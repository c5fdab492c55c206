// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The tracer's events from the kernel: CPU rings and the shared ring buffer (evring.h). */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h> /* the event clock's id */
#include <unistd.h>
#include <bpf/libbpf.h>
#include "bpfcommon.h"
#include "evring.h"

struct evring {
	struct ring_buffer *shared;
	struct evmerge m;
	void *pos_mem;
	size_t pos_len;
	void *slots_mem;
	size_t slots_len;
	evmerge_fn fn;
	void *ctx;
	int add_err; /* the shared ring's record that found no memory */
};

int evring_size(struct bpf_map *pos, struct bpf_map *slots, uint64_t bytes, unsigned int *shift)
{
	int ncpus = libbpf_num_possible_cpus();
	int err;

	if (ncpus < 0)
		return ncpus;
	*shift = evmerge_slot_shift(bytes, (unsigned int)ncpus);
	err = bpf_map__set_max_entries(pos, (uint32_t)ncpus);
	if (!err)
		err = bpf_map__set_max_entries(slots, (uint32_t)ncpus << *shift);
	return err;
}

static size_t page_round(size_t n)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return (n + page - 1) / page * page;
}

/* The shared ring's records wait with the CPU rings' for their time; wakeups only wake. */
static int on_shared(void *ctx, void *data, size_t len)
{
	struct evring *r = ctx;

	if (len == TT_DOORBELL_LEN)
		return 0;
	if (evmerge_add(&r->m, data, len)) {
		r->add_err = -ENOMEM;
		return -ENOMEM;
	}
	return 0;
}

struct evring *evring_new(const struct bpf_map *shared, const struct bpf_map *pos,
			  const struct bpf_map *slots, evmerge_fn fn, void *ctx)
{
	unsigned int ncpus = bpf_map__max_entries(pos), shift = 0;
	struct evring *r = calloc(1, sizeof(*r));
	int err = -ENOMEM;

	if (!r)
		goto fail;
	while (ncpus && ((uint64_t)ncpus << (shift + 1)) <= bpf_map__max_entries(slots))
		shift++;
	r->fn = fn;
	r->ctx = ctx;
	r->pos_mem = MAP_FAILED;
	r->slots_mem = MAP_FAILED;
	r->pos_len = page_round(ncpus * sizeof(struct tt_ring_pos));
	r->slots_len = page_round(((size_t)ncpus << shift) * sizeof(struct tt_event));
	r->pos_mem =
		mmap(NULL, r->pos_len, PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(pos), 0);
	if (r->pos_mem == MAP_FAILED)
		goto fail_errno;
	r->slots_mem = mmap(NULL, r->slots_len, PROT_READ, MAP_SHARED, bpf_map__fd(slots), 0);
	if (r->slots_mem == MAP_FAILED)
		goto fail_errno;
	err = evmerge_init(&r->m, r->pos_mem, r->slots_mem, ncpus, shift);
	if (err)
		goto fail;
	r->shared = ring_buffer__new(bpf_map__fd(shared), on_shared, r, NULL);
	if (!r->shared)
		goto fail_errno;
	return r;
fail_errno:
	err = errno ? -errno : -ENOMEM;
fail:
	evring_free(r);
	errno = -err;
	return NULL;
}

void evring_free(struct evring *r)
{
	if (!r)
		return;
	ring_buffer__free(r->shared);
	evmerge_free(&r->m);
	if (r->slots_mem != MAP_FAILED)
		munmap(r->slots_mem, r->slots_len);
	if (r->pos_mem != MAP_FAILED)
		munmap(r->pos_mem, r->pos_len);
	free(r);
}

uint64_t evring_capacity(const struct evring *r)
{
	return (uint64_t)r->m.ncpus << r->m.shift;
}

/* A record that found no memory is said once; reading goes on (the final drain too). */
static int take_add_err(struct evring *r)
{
	int err = r->add_err;

	r->add_err = 0;
	return err;
}

int evring_consume(struct evring *r)
{
	/* Read before the rings are looked at (evmerge.h). */
	uint64_t until = tt_now_ns(TT_EVENT_CLOCK);
	int ret;

	evmerge_look(&r->m);
	ret = ring_buffer__consume(r->shared);
	if (r->add_err)
		return take_add_err(r);
	if (ret < 0)
		return ret;
	return evmerge_run(&r->m, until, r->fn, r->ctx);
}

int evring_poll(struct evring *r, int timeout_ms)
{
	/* Wakes on the shared ring: its records wait in the merge for the read below. */
	int waited = ring_buffer__poll(r->shared, timeout_ms);
	int ret;

	if (r->add_err)
		return take_add_err(r);
	if (waited < 0 && waited != -EINTR)
		return waited;
	ret = evring_consume(r);
	return ret ? ret : (waited < 0 ? waited : 0);
}
