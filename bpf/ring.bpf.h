/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The ring buffer to user space: records, wakeups and what was lost.
 * Included by tcptrail.bpf.c only, in the order it gives.
 */
#ifndef TT_RING_BPF_H
#define TT_RING_BPF_H

/*
 * Wakeup policy: the reader wakes by itself every few milliseconds (the loader's poll timeout),
 * and a wakeup (an irq_work self-IPI, then the reader's scheduling) costs the producer tens of
 * microseconds here: one a millisecond cost 120 ns of BPF per state event under churn. So a
 * state event wakes the reader only when its CPU's ring is half full, at most once per
 * wakeup_interval_ns.
 */
const volatile __u64 wakeup_interval_ns = 1000000;
__u64 last_wakeup_ns;

/* log2 of the slots of each CPU's ring: set by the loader with the maps' sizes. */
const volatile __u32 ring_slot_shift = 10;

/* Rare records (other programs than the state handler) and the reader's wakeups. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

/* Each CPU's ring position: the loader sizes it to the possible CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tt_ring_pos);
} ring_pos SEC(".maps");

/* The CPU rings' slots, CPU after CPU, 1 << ring_slot_shift each: sized by the loader. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tt_event);
} ring_slots SEC(".maps");

/* Events that found their ring full, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TT_LOST_MAX);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

static __always_inline void count_lost(__u32 what)
{
	__u64 *n = bpf_map_lookup_elem(&lost, &what);

	if (n)
		*n += 1;
}

static __always_inline void wake_reader(__u64 now, __u64 unread)
{
	__u64 bell = 0;

	/* Signed: a held child's record carries an older time than the last wakeup's. */
	if (unread < (1u << ring_slot_shift) / 2 ||
	    (__s64)(now - last_wakeup_ns) < (__s64)wakeup_interval_ns)
		return;
	last_wakeup_ns = now;
	bpf_ringbuf_output(&events, &bell, TT_DOORBELL_LEN, BPF_RB_FORCE_WAKEUP);
}

/*
 * Touches this CPU's ring position, which every record reads and writes, so that its page walk
 * overlaps the handler's clock read (as info_warm() does for the socket index, sktable.bpf.h).
 */
static __always_inline void ring_warm(void)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct tt_ring_pos *pos = bpf_map_lookup_elem(&ring_pos, &cpu);

	if (pos)
		asm volatile("" ::"r"(*(volatile __u64 *)&pos->head));
}

/* The record is all written before head says so: the reader may look at it from then on. */
static __always_inline void ring_publish(struct tt_ring_pos *pos, __u64 head)
{
	asm volatile("" ::: "memory");
#ifdef __TARGET_ARCH_x86
	pos->head = head; /* x86 keeps stores in order */
#else
	/* An exchange is fully ordered: the release store a weakly ordered CPU needs. */
	__sync_lock_test_and_set(&pos->head, head);
#endif
}

/*
 * Inline, though it has three callers: with return thunks on (this VM's Safe RET), a call of a
 * global function cost 6-23 ns of BPF per state event (three alternating pairs). The state
 * handler's only: a program that a softirq's state event can interrupt must not write a CPU ring.
 * The handler's own check (its event scratch's busy, tcptrail.bpf.c) keeps a nested run of it,
 * which kernels before 6.1 may make, from getting here.
 */
static __always_inline int submit(const struct tt_event *e)
{
	struct tt_ring_pos *pos;
	struct tt_event *r;
	__u64 head;
	__u32 key;

	if (!e || (any_filter && !event_wanted(e)))
		return 0;
	/* One key, the CPU's then its slot's. */
	key = bpf_get_smp_processor_id();
	pos = bpf_map_lookup_elem(&ring_pos, &key);
	if (!pos)
		goto full;
	head = pos->head;
	if (head - *(volatile __u64 *)&pos->tail >= (1u << ring_slot_shift))
		goto full;
	key = (key << ring_slot_shift) | ((__u32)head & ((1u << ring_slot_shift) - 1));
	r = bpf_map_lookup_elem(&ring_slots, &key);
	if (!r)
		goto full;
	/* Sizes are constants for the verifier: a copy per record size. */
	if (e->flags & TT_F_TOTALS)
		__builtin_memcpy(r, e, sizeof(*r));
	else
		__builtin_memcpy(r, e, TT_EVENT_BASE_SIZE);
	ring_publish(pos, head + 1);
	wake_reader(e->ts_ns, head + 1 - pos->tail);
	return 0;
full:
	count_lost(TT_LOST_RINGBUF);
	/* A full ring whose half-full wakeup fell within the interval must not wait for the poll. */
	wake_reader(e->ts_ns, 1u << ring_slot_shift);
	return 0;
}

#endif /* TT_RING_BPF_H */
