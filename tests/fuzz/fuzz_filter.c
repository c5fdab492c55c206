// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer target: the filter list parsers, parse_duration_ns, parse_size, parse_u64 (and
 * parse_env_bound on it) and filter_match (with the cgroup part: the paths given match the
 * cgroups below them).
 * Input: lines of text, line i going to parser i % NPARSERS; when the input is longer than an
 * event, its last sizeof(struct tt_event) bytes are the event that the filter is matched with.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz_common.h"
#include "filter.h"
#include "parse.h"

#define NPARSERS 12
#define MAX_IN	 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct services *table(void)
{
	return fuzz_services("http 80/tcp\nhttps 443/tcp\nssh 22/tcp\nx 1/tcp\n", 4);
}

static void check_err(int r, const char *err, size_t errlen)
{
	if (r != 0 && r != -1)
		abort();
	if (!memchr(err, '\0', errlen))
		abort();
	if (r == -1 && !err[0])
		abort();
}

static void check_ports(const uint16_t *ports, uint32_t n)
{
	if (n > TT_MAX_FILTER)
		abort();
	for (uint32_t i = 0; i < n; i++) {
		if (ports[i] == 0)
			abort();
	}
}

/* names: resolve service names in --port lists (each unknown name scans all 65535 ports). */
static void parse_line(struct tt_filter *f, int which, const char *s, int names)
{
	static char env[sizeof("TT_FUZZ_BOUND=") + MAX_IN];
	char err[200];
	uint64_t v = 0;
	int r;

	memset(err, 'X', sizeof(err));
	err[0] = '\0';
	switch (which) {
	case 0:
		r = filter_add_ports(f->ports, &f->nports, s, names ? table() : NULL, err,
				     sizeof(err));
		check_ports(f->ports, f->nports);
		break;
	case 1:
		r = filter_add_ports(f->lports, &f->nlports, s, NULL, err, sizeof(err));
		check_ports(f->lports, f->nlports);
		break;
	case 2:
		r = filter_add_ports(f->rports, &f->nrports, s, NULL, err, 8); /* short err */
		check_ports(f->rports, f->nrports);
		check_err(r, err, 8);
		return;
	case 3:
		r = filter_add_pids(f, s, err, sizeof(err));
		if (f->npids > TT_MAX_FILTER)
			abort();
		for (uint32_t i = 0; i < f->npids; i++) {
			if (f->pids[i] == 0 || f->pids[i] > 0x7fffffff)
				abort();
		}
		break;
	case 4:
		r = filter_add_comms(f, s, err, sizeof(err));
		if (f->ncomms > TT_MAX_FILTER)
			abort();
		for (uint32_t i = 0; i < f->ncomms; i++) {
			if (f->comms[i][TT_COMM_LEN - 1] != '\0' || !f->comms[i][0])
				abort();
		}
		break;
	case 5:
		r = filter_add_states(&f->state_mask, s, err, sizeof(err));
		if (f->state_mask & ~(((1u << TT_STATE_MAX) - 1) & ~1u))
			abort();
		break;
	case 6:
		r = filter_add_netns(f, s, err, sizeof(err));
		if (f->nnetns > TT_MAX_FILTER)
			abort();
		break;
	case 7:
		r = parse_duration_ns(s, &v);
		if (r == 0 && v > (1ULL << 63) + 3600000000000ULL)
			abort();
		return;
	case 8:
		r = parse_size(s, &v);
		if (r == 0 && v == 0)
			abort();
		return;
	case 10:
		r = filter_add_cgroups(f, s, err, sizeof(err));
		if (f->ncgroups > TT_MAX_FILTER)
			abort();
		for (uint32_t i = 0; i < f->ncgroups; i++) {
			const char *c = f->cgroups[i];

			/* normalised: absolute, no empty, "." or ".." component, no trailing '/' */
			if (c[0] != '/' || strstr(c, "//") || strstr(c, "/./") ||
			    strstr(c, "/../") || (c[1] && c[strlen(c) - 1] == '/'))
				abort();
		}
		break;
	case 11:
		r = filter_add_containers(f, s, err, sizeof(err));
		if (f->ncontainers > TT_MAX_FILTER)
			abort();
		for (uint32_t i = 0; i < f->ncontainers; i++) {
			size_t n = strlen(f->containers[i]);

			if (!n || n > CG_ID_LEN ||
			    strspn(f->containers[i], "0123456789abcdef") != n)
				abort();
		}
		break;
	default:
		r = parse_u64(s, 5, 1000, &v);
		if (r == 0 && (v < 5 || v > 1000))
			abort();
		/* An environment knob reads its value as parse_u64() does (putenv: no copy kept). */
		snprintf(env, sizeof(env), "TT_FUZZ_BOUND=%s", s);
		putenv(env);
		if (parse_env_bound("TT_FUZZ_BOUND", 5, 1000, 7) != (r ? 7 : v))
			abort();
		return;
	}
	check_err(r, err, sizeof(err));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tt_filter f;
	struct tt_event e;
	char text[MAX_IN + 1];
	size_t tlen = size;
	int line = 0, names = size && (data[0] & 7) == 0; /* 1 in 8: keeps it fast */
	char *p;

	if (size > MAX_IN)
		return 0;
	memset(&f, 0, sizeof(f));
	memset(&e, 0, sizeof(e));
	if (size > sizeof(e)) {
		tlen = size - sizeof(e);
		memcpy(&e, data + tlen, sizeof(e));
	}
	memcpy(text, data, tlen);
	text[tlen] = '\0';
	for (p = text;; line++) {
		char *nl = strchr(p, '\n');

		if (nl)
			*nl = '\0';
		parse_line(&f, line % NPARSERS, p, names);
		if (!nl)
			break;
		p = nl + 1;
	}
	/*
	 * Any event against any filter: no crash, and a zero filter matches everything. A cgroup
	 * given matches itself and what is below it; a container prefix given matches its id.
	 */
	(void)filter_match(&f, &e);
	for (uint32_t i = 0; i < f.ncgroups; i++) {
		char below[TT_CGROUP_ARG_MAX + 8];
		struct cg_desc d = {.path = f.cgroups[i], .path_len = strlen(f.cgroups[i])};

		if (f.ncontainers)
			break; /* AND-ed: a path alone does not have to match */
		if (!filter_match_cgroup(&f, &d))
			abort();
		snprintf(below, sizeof(below), "%s/x",
			 strcmp(f.cgroups[i], "/") ? f.cgroups[i] : "");
		d.path = below;
		d.path_len = strlen(below);
		if (!filter_match_cgroup(&f, &d))
			abort();
	}
	for (uint32_t i = 0; i < f.ncontainers && !f.ncgroups; i++) {
		struct cg_desc d;

		memset(&d, 0, sizeof(d));
		snprintf(d.ident.container_id, sizeof(d.ident.container_id), "%s", f.containers[i]);
		if (!filter_match_cgroup(&f, &d) || !filter_match_container(&f, &d))
			abort();
	}
	if (filter_match_cgroup(&f, NULL) != (!f.ncgroups && !f.ncontainers))
		abort();
	(void)filter_match_endpoints(&f, e.family, e.saddr, e.daddr, e.sport, e.dport, e.netns);
	memset(&f, 0, sizeof(f));
	if (!filter_match(&f, &e))
		abort();
	return 0;
}
