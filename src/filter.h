/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_FILTER_H
#define TT_FILTER_H

#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "tcptrail.h"
#include "services.h"

/* What to show. Zero counts/masks mean "everything"; lists are OR-ed, different filters AND-ed. */
struct tt_filter {
	int family; /* 0, 4 (IPv4 incl. v4-mapped) or 6 */
	uint32_t state_mask;
	uint32_t npids;
	uint32_t pids[TT_MAX_FILTER];
	uint32_t ncomms;
	char comms[TT_MAX_FILTER][TT_COMM_LEN];
	uint32_t nports;
	uint16_t ports[TT_MAX_FILTER];
	uint32_t nlports;
	uint16_t lports[TT_MAX_FILTER];
	uint32_t nrports;
	uint16_t rports[TT_MAX_FILTER];
	uint32_t nnetns;
	uint32_t netns[TT_MAX_FILTER];
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

/* Userspace twin of the BPF filter, for replay and snapshot. */
int filter_match(const struct tt_filter *f, const struct tt_event *e);
/* The address-only part (family, ports, netns) for records without owner or transition. */
int filter_match_endpoints(const struct tt_filter *f, int family, const uint8_t saddr[16],
			   const uint8_t daddr[16], uint16_t sport, uint16_t dport, uint32_t netns);

/* "250ms", "30s", "5m", "1h", "1.5s"; a bare number is seconds. 0 or -1. */
int parse_duration_ns(const char *s, uint64_t *ns);
/* "100M", "1G", "512k", bare bytes. 0 or -1. */
int parse_size(const char *s, uint64_t *bytes);
/* Unsigned decimal in [min, max], whole string. 0 or -1. */
int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

#endif
