/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The filters, set by the loader before load: which events cross the ring. Their match is
 * user space's own (include/filter_match.h), read from this read-only copy.
 * Included by tcptrail.bpf.c only, in the order it gives.
 */
#ifndef TT_FILTERS_BPF_H
#define TT_FILTERS_BPF_H

#define TT_KFILTER_QUAL	  const volatile
#define TT_KFILTER_INLINE static __always_inline
#include "filter_match.h"

/* Set by the loader before load; zero counts mean "no filter". */
const volatile struct tt_kfilter kfilter;
/* --cgroup: cgroup v2 ids and their depths; a socket matches at or below any of them. */
const volatile __u32 filter_ncgroups;
const volatile __u64 filter_cgroup_ids[TT_MAX_FILTER];
const volatile __u32 filter_cgroup_levels[TT_MAX_FILTER];
/* Any of kfilter's filters is set: without one, event_wanted() is not called. */
const volatile __u8 any_filter = 1;

/*
 * The user-space filters, in the kernel: a filtered event never crosses the ring. A global
 * function, so the verifier checks its loops once, not at every call site and path. An event
 * waiting for its acceptor leaves --pid and --comm to user space, which knows it later.
 */
__noinline int event_wanted(const struct tt_event *e)
{
	if (!e)
		return 0;
	return tt_kfilter_match(&kfilter, e, !(e->flags & TT_F_PRE_ACCEPT));
}

/* --netns, verified once as a global function: its loop on every caller's paths costs more. */
__noinline int netns_wanted(__u32 netns)
{
	return tt_kfilter_has_u32(kfilter.netns, kfilter.nnetns, netns);
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

/*
 * --netns and --cgroup, asked before any work: a socket keeps its namespace and its cgroup (a
 * child gets its listener's) for life, so none of the events of a socket outside them is ever
 * wanted, and nothing of it needs to be kept.
 */
static __always_inline bool socket_watched(struct sock *sk)
{
	if (kfilter.nnetns && !netns_wanted(sk_netns(sk)))
		return false;
	return !filter_ncgroups || cgroup_wanted(sk);
}

#endif /* TT_FILTERS_BPF_H */
