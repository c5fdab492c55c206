/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A child's first event, held until the kernel gives it its own addresses and cookie.
 * Included by tcptrail.bpf.c only, in the order it gives.
 */
#ifndef TT_CHILDREN_BPF_H
#define TT_CHILDREN_BPF_H

/*
 * A child's first event (CLOSE -> SYN_RECV), held until its next transition, by socket address:
 * it fires inside the clone of the listener, before the kernel gives the child its addresses
 * (IPv6 on every kernel, IPv4 too on 6.1 and 6.12) and, on 6.1 and 6.12, its own cookie.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct tt_event);
} pending SEC(".maps");

#define TT_HOLD_MAX_NS (5ULL * 1000000000)

/*
 * The child's addresses (and cookie) are in place now: its held SYN_RECV goes first, and a
 * child whose clone event carried its listener's cookie starts its own memory here. Inline:
 * as a function of its own it put a third frame under submit() on the stack budget.
 */
static __always_inline void release_pending(const struct tt_event *e, struct sk_info *info,
					    __u64 key)
{
	struct tt_event *held;

	held = bpf_map_lookup_elem(&pending, &key);
	if (!held)
		return;
	/*
	 * A child's next transition follows its clone within microseconds: an older entry is a
	 * socket at the same address whose later events were missed, not this one's.
	 */
	if (e->ts_ns - held->ts_ns > TT_HOLD_MAX_NS) {
		bpf_map_delete_elem(&pending, &key);
		return;
	}
	held->sock_cookie = e->sock_cookie;
	held->sport = e->sport;
	held->dport = e->dport;
	__builtin_memcpy(held->saddr, e->saddr, 16);
	__builtin_memcpy(held->daddr, e->daddr, 16);
	if (info && !info->state_ts) {
		info->state_ts = held->ts_ns;
		info->born_ts = held->ts_ns;
		if ((held->flags & TT_F_OWNER_KNOWN) && !info->owner_known) {
			info->owner.pid = held->pid;
			info->owner.exec_id = 0; /* unknown: the next I/O refreshes the name */
			__builtin_memcpy(info->owner.comm, held->comm, TT_COMM_LEN);
			info->owner_known =
				(held->flags & TT_F_PRE_ACCEPT) ? OWNER_QUEUED : OWNER_KNOWN;
		} else if ((held->flags & TT_F_OWNER_MOVED) && !info->owner_known) {
			info->owner_known = OWNER_MOVED;
		}
	}
	submit(held);
	bpf_map_delete_elem(&pending, &key);
}

/*
 * The clone event of a child that has no addresses yet: an IPv6 child (tcp_v6_syn_recv_sock()
 * sets them after the clone), or any child on kernels where the clone still carries its
 * listener's cookie (info is then the listener's and is left alone). The event waits for the
 * child's next transition, microseconds later.
 */
static __always_inline bool hold_child(const struct tt_event *e, struct sk_info *info,
				       const __u64 *sk_addr, bool inherited)
{
	if (!inherited && (!info || e->family != AF_INET6 || tt_kfilter_v4_mapped(e->daddr)))
		return false;
	if (bpf_map_update_elem(&pending, sk_addr, e, BPF_ANY))
		return false;
	if (!inherited)
		info->has_pending = 1;
	return true;
}

#endif /* TT_CHILDREN_BPF_H */
