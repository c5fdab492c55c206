/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The ring buffer to user space: records, wakeups and what was lost.
 * Included by tcptrail.bpf.c only, in the order it gives.
 */
#ifndef TT_RING_BPF_H
#define TT_RING_BPF_H

/*
 * Wakeup policy: a wakeup (an irq_work self-IPI) costs the producer far more than the record
 * itself, so there is at most one per wakeup_interval_ns: forced when wakeup_fill_bytes wait
 * unread, else only if the consumer has caught up (light traffic: the first event after a quiet
 * interval wakes it at once). The loader's short poll timeout collects anything left in between.
 * Forcing on every record past the fill mark would signal a consumer that is already draining
 * the ring on each record it still has to read.
 */
const volatile __u64 wakeup_interval_ns = 1000000;
const volatile __u64 wakeup_fill_bytes = 1 << 20;
__u64 last_wakeup_ns;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} events SEC(".maps");

/* Events that found the ring buffer full, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TT_LOST_MAX);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

static __always_inline void wakeup_or_not(__u64 now, __u64 *flags)
{
	if (now - last_wakeup_ns < wakeup_interval_ns) {
		*flags = BPF_RB_NO_WAKEUP;
		return;
	}
	last_wakeup_ns = now;
	/* Without FORCE the kernel wakes the consumer only if it has read everything. */
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_fill_bytes)
		*flags = BPF_RB_FORCE_WAKEUP;
	else
		*flags = 0;
}

static __always_inline void count_lost(__u32 what)
{
	__u64 *n = bpf_map_lookup_elem(&lost, &what);

	if (n)
		*n += 1;
}

/*
 * Inline, though it has three callers: with return thunks on (this VM's Safe RET), a call of a
 * global function cost 6-23 ns of BPF per state event (three alternating pairs).
 */
static __always_inline int submit(const struct tt_event *e)
{
	struct tt_event *r;
	__u64 wflags;

	if (!e || (any_filter && !event_wanted(e)))
		return 0;
	/* Sizes are constants for the verifier: a reservation and a copy per record size. */
	if (e->flags & TT_F_TOTALS) {
		r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
		if (!r)
			goto full;
		__builtin_memcpy(r, e, sizeof(*r));
	} else {
		r = bpf_ringbuf_reserve(&events, TT_EVENT_BASE_SIZE, 0);
		if (!r)
			goto full;
		__builtin_memcpy(r, e, TT_EVENT_BASE_SIZE);
	}
	wakeup_or_not(e->ts_ns, &wflags);
	bpf_ringbuf_submit(r, wflags);
	return 0;
full:
	count_lost(TT_LOST_RINGBUF);
	return 0;
}

#endif /* TT_RING_BPF_H */
