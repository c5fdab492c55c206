/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_FILTER_H
#define TT_FILTER_H

#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "tcptrail.h"
#include "filter_match.h"
#include "cgroup.h"
#include "services.h"

#define TT_CGROUP_ARG_MAX 1024 /* a --cgroup path, with its NUL */

/*
 * What to show. Zero counts/masks mean "everything"; lists are OR-ed, different filters AND-ed.
 * It starts with the filters the kernel applies, one definition with the BPF side: k is them
 * whole (for the loader and tt_kfilter_match()), and they read as members of their own.
 */
struct tt_filter {
	union {
		struct tt_kfilter k;
		struct {
			TT_KFILTER_FIELDS;
		};
	};
	/*
	 * --cgroup: paths relative to the v2 mount ("/" the root), matching that cgroup and its
	 * descendants; for trace and snapshot also the directory's id and its depth (the root's is
	 * 0), which the kernel matches against the socket's ancestors.
	 */
	uint32_t ncgroups;
	char cgroups[TT_MAX_FILTER][TT_CGROUP_ARG_MAX];
	uint64_t cgroup_ids[TT_MAX_FILTER];
	uint32_t cgroup_levels[TT_MAX_FILTER];
	/* --container: prefixes of container ids, lowercase hex. */
	uint32_t ncontainers;
	char containers[TT_MAX_FILTER][CG_ID_LEN + 1];
};

/*
 * Parsers for comma lists, appending to what is there (options may repeat). Each returns 0, or
 * -1 with a one-line reason in err.
 * Ports are numbers 1-65535 or service names (needs svc).
 */
int filter_add_ports(uint16_t *ports, uint32_t *n, const char *arg, const struct services *svc,
		     char *err, size_t errlen);
int filter_add_pids(struct tt_filter *f, const char *arg, char *err, size_t errlen);
int filter_add_comms(struct tt_filter *f, const char *arg, char *err, size_t errlen);
int filter_add_states(uint32_t *mask, const char *arg, char *err, size_t errlen);
int filter_add_netns(struct tt_filter *f, const char *arg, char *err, size_t errlen);
/* --cgroup paths, in a form relative to no mount yet (filter_resolve_cgroups() finishes it). */
int filter_add_cgroups(struct tt_filter *f, const char *arg, char *err, size_t errlen);
/* --container ids or prefixes: 1-64 hex digits, any case. */
int filter_add_containers(struct tt_filter *f, const char *arg, char *err, size_t errlen);

/*
 * Makes the --cgroup paths relative to the v2 mount mnt (NULL: none is mounted), and with
 * resolve (trace, snapshot) finds each one's id and level (root_depth: the levels above the
 * mount's root, from cg_mountinfo_v2()); a path that is no cgroup there is an error. replay
 * matches the paths recorded in the log: nothing to resolve, and mnt is only stripped.
 */
int filter_resolve_cgroups(struct tt_filter *f, const char *mnt, int root_depth, int resolve,
			   char *err, size_t errlen);

/* Userspace twin of the BPF filter, for replay and snapshot. */
int filter_match(const struct tt_filter *f, const struct tt_event *e);
/*
 * --cgroup and --container, which need the socket's cgroup as a path: cg is NULL or has no
 * path when it is not known (no match then, when they are given).
 */
int filter_match_cgroup(const struct tt_filter *f, const struct cg_desc *cg);
/* --container alone (events the kernel already matched to --cgroup by id). */
int filter_match_container(const struct tt_filter *f, const struct cg_desc *cg);
/* The address-only part (family, ports, netns) for records without owner or transition. */
int filter_match_endpoints(const struct tt_filter *f, int family, const uint8_t saddr[16],
			   const uint8_t daddr[16], uint16_t sport, uint16_t dport, uint32_t netns);

#endif
