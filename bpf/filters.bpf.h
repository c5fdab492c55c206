/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The filters, set by the loader before load: which events cross the ring.
 * Included by tcptrail.bpf.c only, in the order it gives.
 */
#ifndef TT_FILTERS_BPF_H
#define TT_FILTERS_BPF_H

/* Filters, set by the loader before load; zero counts mean "no filter". */
const volatile __u8 filter_family; /* 4 or 6 */
const volatile __u32 filter_state_mask;
const volatile __u32 filter_npids;
const volatile __u32 filter_pids[TT_MAX_FILTER];
const volatile __u32 filter_ncomms;
const volatile char filter_comms[TT_MAX_FILTER][TT_COMM_LEN];
const volatile __u32 filter_nports;
const volatile __u16 filter_ports[TT_MAX_FILTER];
const volatile __u32 filter_nlports;
const volatile __u16 filter_lports[TT_MAX_FILTER];
const volatile __u32 filter_nrports;
const volatile __u16 filter_rports[TT_MAX_FILTER];
const volatile __u32 filter_nnetns;
const volatile __u32 filter_netns[TT_MAX_FILTER];
/* --cgroup: cgroup v2 ids and their depths; a socket matches at or below any of them. */
const volatile __u32 filter_ncgroups;
const volatile __u64 filter_cgroup_ids[TT_MAX_FILTER];
const volatile __u32 filter_cgroup_levels[TT_MAX_FILTER];
/* --cause: only final transitions with these causes (bits of enum tt_cause). */
const volatile __u32 filter_cause_mask;
/* Any of the filters above but --cgroup is set: without one, event_wanted() is not called. */
const volatile __u8 any_filter = 1;

static __always_inline bool port_in(__u16 port, const volatile __u16 *list, __u32 n)
{
	for (__u32 i = 0; i < TT_MAX_FILTER; i++) {
		if (i >= n)
			break;
		if (list[i] == port)
			return true;
	}
	return false;
}

static __always_inline bool u32_in(__u32 v, const volatile __u32 *list, __u32 n)
{
	for (__u32 i = 0; i < TT_MAX_FILTER; i++) {
		if (i >= n)
			break;
		if (list[i] == v)
			return true;
	}
	return false;
}

static __always_inline bool comm_in(const char *comm)
{
	for (__u32 i = 0; i < TT_MAX_FILTER; i++) {
		if (i >= filter_ncomms)
			break;
		bool same = true;
		for (int j = 0; j < TT_COMM_LEN; j++) {
			if (filter_comms[i][j] != comm[j]) {
				same = false;
				break;
			}
			if (!comm[j])
				break;
		}
		if (same)
			return true;
	}
	return false;
}

static __always_inline bool state_wanted(int oldstate, int newstate)
{
	if (!filter_state_mask)
		return true;
	return (filter_state_mask & (1u << oldstate)) || (filter_state_mask & (1u << newstate));
}

/*
 * The userspace filters, in the kernel: a filtered event never crosses the ring. A global
 * function, so the verifier checks its loops once, not at every call site and path.
 */
__noinline int event_wanted(const struct tt_event *e)
{
	bool owner, owner_filters = true;

	if (!e)
		return 0;
	owner = e->flags & TT_F_OWNER_KNOWN;
	if (!state_wanted(e->oldstate, e->newstate))
		return false;
	if (filter_cause_mask && !(filter_cause_mask & (1u << e->cause)))
		return false;
	if (filter_nnetns && !u32_in(e->netns, filter_netns, filter_nnetns))
		return false;
	if (filter_nports && !port_in(e->sport, filter_ports, filter_nports) &&
	    !port_in(e->dport, filter_ports, filter_nports))
		return false;
	if (filter_nlports && !port_in(e->sport, filter_lports, filter_nlports))
		return false;
	if (filter_nrports && !port_in(e->dport, filter_rports, filter_nrports))
		return false;
	/* Its acceptor is not known yet: user space applies --pid and --comm once it is. */
	if (e->flags & TT_F_PRE_ACCEPT)
		owner_filters = false;
	if (owner_filters && filter_npids && (!owner || !u32_in(e->pid, filter_pids, filter_npids)))
		return false;
	if (owner_filters && filter_ncomms && (!owner || !comm_in(e->comm)))
		return false;
	if (filter_family) {
		bool v4 =
			e->family == AF_INET || (is_v4_mapped(e->saddr) && is_v4_mapped(e->daddr));

		if ((filter_family == 4) != v4)
			return false;
	}
	return true;
}

static __always_inline bool cgroup_wanted(struct sock *sk)
{
	for (__u32 i = 0; i < TT_MAX_FILTER; i++) {
		if (i >= filter_ncgroups)
			break;
		if (sk_cgroup_under(sk, filter_cgroup_ids[i], filter_cgroup_levels[i]))
			return true;
	}
	return false;
}

#endif /* TT_FILTERS_BPF_H */
