/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The filters the kernel applies to events, and their match: one definition for the BPF
 * handler (bpf/filters.bpf.h, on its read-only copy) and for user space (src/filter.c: replay,
 * snapshot rows, the metrics walk, the events user space filters itself), so the unit tests
 * check the kernel's logic too. Plain C both compilers take: bounded loops, no library calls.
 * Zero counts and masks mean "no filter"; lists are OR-ed, different filters AND-ed.
 */
#ifndef TT_FILTER_MATCH_H
#define TT_FILTER_MATCH_H

#include "tcptrail.h"

/* The BPF side reads its copy as const volatile (set by the loader, not known at compile time). */
#ifndef TT_KFILTER_QUAL
#define TT_KFILTER_QUAL const
#endif
#ifndef TT_KFILTER_INLINE
#define TT_KFILTER_INLINE static inline
#endif

/* The members, for struct tt_kfilter and for user space's struct tt_filter, which starts so. */
#define TT_KFILTER_FIELDS                                                           \
	__u32 family;	  /* 0, 4 (IPv4, v4-mapped included) or 6 */                \
	__u32 state_mask; /* bit (1 << state) of each; old or new state matches */  \
	__u32 cause_mask; /* bit (1 << enum tt_cause) of each; final transitions */ \
	__u32 npids;                                                                \
	__u32 pids[TT_MAX_FILTER];                                                  \
	__u32 ncomms;                                                               \
	char comms[TT_MAX_FILTER][TT_COMM_LEN];                                     \
	__u32 nports; /* local or remote */                                         \
	__u16 ports[TT_MAX_FILTER];                                                 \
	__u32 nlports;                                                              \
	__u16 lports[TT_MAX_FILTER];                                                \
	__u32 nrports;                                                              \
	__u16 rports[TT_MAX_FILTER];                                                \
	__u32 nnetns;                                                               \
	__u32 netns[TT_MAX_FILTER]

struct tt_kfilter {
	TT_KFILTER_FIELDS;
};

TT_KFILTER_INLINE int tt_kfilter_has_u32(TT_KFILTER_QUAL __u32 *list, __u32 n, __u32 v)
{
	for (__u32 i = 0; i < TT_MAX_FILTER; i++) {
		if (i >= n)
			break;
		if (list[i] == v)
			return 1;
	}
	return 0;
}

TT_KFILTER_INLINE int tt_kfilter_has_u16(TT_KFILTER_QUAL __u16 *list, __u32 n, __u16 v)
{
	for (__u32 i = 0; i < TT_MAX_FILTER; i++) {
		if (i >= n)
			break;
		if (list[i] == v)
			return 1;
	}
	return 0;
}

/* ::ffff:a.b.c.d (the one test: BPF's child hold, the filters, user space's addr.h). */
TT_KFILTER_INLINE int tt_kfilter_v4_mapped(const __u8 *a)
{
	__u64 lo;

	__builtin_memcpy(&lo, a, sizeof(lo));
	return lo == 0 && a[8] == 0 && a[9] == 0 && a[10] == 0xff && a[11] == 0xff;
}

/* --comm: names compare as strncmp(, , TT_COMM_LEN) does. */
TT_KFILTER_INLINE int tt_kfilter_has_comm(TT_KFILTER_QUAL struct tt_kfilter *f, const char *comm)
{
	for (__u32 i = 0; i < TT_MAX_FILTER; i++) {
		int same = 1;

		if (i >= f->ncomms)
			break;
		for (int j = 0; j < TT_COMM_LEN; j++) {
			if (f->comms[i][j] != comm[j]) {
				same = 0;
				break;
			}
			if (!comm[j])
				break;
		}
		if (same)
			return 1;
	}
	return 0;
}

/* -4/-6, --netns, --port, --lport, --rport: what a socket is (events and snapshot rows). */
TT_KFILTER_INLINE int tt_kfilter_endpoints(TT_KFILTER_QUAL struct tt_kfilter *f, int family,
					   const __u8 *saddr, const __u8 *daddr, __u16 sport,
					   __u16 dport, __u32 netns)
{
	if (f->family) {
		int v4 = family == 2 /* AF_INET */ ||
			 (tt_kfilter_v4_mapped(saddr) && tt_kfilter_v4_mapped(daddr));

		if ((f->family == 4) != v4)
			return 0;
	}
	if (f->nnetns && !tt_kfilter_has_u32(f->netns, f->nnetns, netns))
		return 0;
	if (f->nports && !tt_kfilter_has_u16(f->ports, f->nports, sport) &&
	    !tt_kfilter_has_u16(f->ports, f->nports, dport))
		return 0;
	if (f->nlports && !tt_kfilter_has_u16(f->lports, f->nlports, sport))
		return 0;
	if (f->nrports && !tt_kfilter_has_u16(f->rports, f->nrports, dport))
		return 0;
	return 1;
}

/*
 * Whether an event passes. owners 0 leaves --pid and --comm out: an event waiting for its
 * acceptor (TT_F_PRE_ACCEPT) is matched against them in user space once it is known. An event
 * without an owner matches no --pid or --comm.
 */
TT_KFILTER_INLINE int tt_kfilter_match(TT_KFILTER_QUAL struct tt_kfilter *f,
				       const struct tt_event *e, int owners)
{
	int owner = e->flags & TT_F_OWNER_KNOWN;

	/* States and causes past 31 (a corrupt log) would shift out of the masks: no match. */
	if (f->state_mask && !(e->oldstate < 32 && (f->state_mask & (1u << e->oldstate))) &&
	    !(e->newstate < 32 && (f->state_mask & (1u << e->newstate))))
		return 0;
	if (f->cause_mask && !(e->cause < 32 && (f->cause_mask & (1u << e->cause))))
		return 0;
	if (!tt_kfilter_endpoints(f, e->family, e->saddr, e->daddr, e->sport, e->dport, e->netns))
		return 0;
	if (owners && f->npids && (!owner || !tt_kfilter_has_u32(f->pids, f->npids, e->pid)))
		return 0;
	if (owners && f->ncomms && (!owner || !tt_kfilter_has_comm(f, e->comm)))
		return 0;
	return 1;
}

#endif
