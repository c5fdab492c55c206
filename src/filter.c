// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include "addr.h"
#include "filter.h"
#include "parse.h"
#include "states.h"

/* Calls fn on every comma-separated item of arg; empty items are an error. */
static int for_each_item(const char *arg, int (*fn)(void *ctx, const char *item, size_t len),
			 void *ctx, char *err, size_t errlen)
{
	const char *p = arg;

	if (!arg || !*arg) {
		snprintf(err, errlen, "empty list");
		return -1;
	}
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		if (len == 0) {
			snprintf(err, errlen, "empty item in list '%s'", arg);
			return -1;
		}
		if (fn(ctx, p, len)) {
			snprintf(err, errlen, "'%.*s' is not valid here", (int)len, p);
			return -1;
		}
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

/* item (len bytes, not NUL-terminated) as a string in buf; -1 when it does not fit in size. */
static int item_copy(char *buf, size_t size, const char *item, size_t len)
{
	if (len >= size)
		return -1;
	memcpy(buf, item, len);
	buf[len] = '\0';
	return 0;
}

struct port_ctx {
	uint16_t *ports;
	uint32_t *n;
	const struct services *svc;
	int full;
};

static int add_port(void *vctx, const char *item, size_t len)
{
	struct port_ctx *c = vctx;
	char buf[64];
	uint64_t v;

	if (item_copy(buf, sizeof(buf), item, len))
		return -1;
	if (parse_u64(buf, 1, 65535, &v)) {
		int found = 0;

		if (!c->svc)
			return -1;
		for (uint32_t port = 1; port < 65536; port++) {
			const char *name = services_name(c->svc, (uint16_t)port);

			if (name && !strcmp(name, buf)) {
				v = port;
				found = 1;
				break;
			}
		}
		if (!found)
			return -1;
	}
	if (*c->n >= TT_MAX_FILTER) {
		c->full = 1;
		return -1;
	}
	c->ports[(*c->n)++] = (uint16_t)v;
	return 0;
}

static int list_full(int full, char *err, size_t errlen)
{
	if (full)
		snprintf(err, errlen, "too many items: at most %d", TT_MAX_FILTER);
	return -1;
}

int filter_add_ports(uint16_t *ports, uint32_t *n, const char *arg, const struct services *svc,
		     char *err, size_t errlen)
{
	struct port_ctx c = {ports, n, svc, 0};

	if (for_each_item(arg, add_port, &c, err, errlen))
		return list_full(c.full, err, errlen);
	return 0;
}

struct u32_ctx {
	uint32_t *vals;
	uint32_t *n;
	uint64_t min, max;
	int full;
};

static int add_u32(void *vctx, const char *item, size_t len)
{
	struct u32_ctx *c = vctx;
	char buf[24];
	uint64_t v;

	if (item_copy(buf, sizeof(buf), item, len) || parse_u64(buf, c->min, c->max, &v))
		return -1;
	if (*c->n >= TT_MAX_FILTER) {
		c->full = 1;
		return -1;
	}
	c->vals[(*c->n)++] = (uint32_t)v;
	return 0;
}

int filter_add_pids(struct tt_filter *f, const char *arg, char *err, size_t errlen)
{
	struct u32_ctx c = {f->pids, &f->npids, 1, 0x7fffffff, 0};

	if (for_each_item(arg, add_u32, &c, err, errlen))
		return list_full(c.full, err, errlen);
	return 0;
}

int filter_add_netns(struct tt_filter *f, const char *arg, char *err, size_t errlen)
{
	struct u32_ctx c = {f->netns, &f->nnetns, 1, UINT32_MAX, 0};

	if (for_each_item(arg, add_u32, &c, err, errlen))
		return list_full(c.full, err, errlen);
	return 0;
}

static int add_comm(void *vctx, const char *item, size_t len)
{
	struct tt_filter *f = vctx;

	/* The kernel keeps 15 bytes of a command name. */
	if (len >= TT_COMM_LEN || f->ncomms >= TT_MAX_FILTER)
		return -1;
	memset(f->comms[f->ncomms], 0, TT_COMM_LEN);
	memcpy(f->comms[f->ncomms], item, len);
	f->ncomms++;
	return 0;
}

int filter_add_comms(struct tt_filter *f, const char *arg, char *err, size_t errlen)
{
	int full = f->ncomms >= TT_MAX_FILTER;

	if (for_each_item(arg, add_comm, f, err, errlen)) {
		if (full || f->ncomms >= TT_MAX_FILTER)
			snprintf(err, errlen, "too many command names: at most %d", TT_MAX_FILTER);
		else
			snprintf(err, errlen, "command names are 1-15 bytes: '%s'", arg);
		return -1;
	}
	return 0;
}

static int add_state(void *vctx, const char *item, size_t len)
{
	uint32_t *mask = vctx;
	int s = tt_state_parse(item, len);

	if (s < 0)
		return -1;
	*mask |= 1u << s;
	/* netstat and ss show a FIN_WAIT2-substate timewait socket as FIN_WAIT2. */
	if (s == TT_FIN_WAIT2)
		*mask |= 1u << TT_FIN_WAIT2_TW;
	return 0;
}

int filter_add_states(uint32_t *mask, const char *arg, char *err, size_t errlen)
{
	if (for_each_item(arg, add_state, mask, err, errlen)) {
		size_t n = strlen(err);

		snprintf(err + n, errlen - n,
			 " (states: LISTEN SYN_SENT SYN_RECV ESTABLISHED FIN_WAIT1 FIN_WAIT2 "
			 "TIME_WAIT CLOSE CLOSE_WAIT LAST_ACK CLOSING)");
		return -1;
	}
	return 0;
}

struct cgroup_ctx {
	struct tt_filter *f;
	const char *why; /* the reason an item was refused */
};

static int add_cgroup(void *vctx, const char *item, size_t len)
{
	struct cgroup_ctx *c = vctx;
	struct tt_filter *f = c->f;
	char raw[TT_CGROUP_ARG_MAX];
	int level;

	if (f->ncgroups >= TT_MAX_FILTER) {
		c->why = "full";
		return -1;
	}
	if (item_copy(raw, sizeof(raw), item, len)) {
		c->why = "long";
		return -1;
	}
	/* The mount point stays in an absolute path: filter_resolve_cgroups() strips it. */
	if (cg_normalize(NULL, raw, f->cgroups[f->ncgroups], TT_CGROUP_ARG_MAX, &level)) {
		c->why = "dots";
		return -1;
	}
	f->ncgroups++;
	return 0;
}

int filter_add_cgroups(struct tt_filter *f, const char *arg, char *err, size_t errlen)
{
	struct cgroup_ctx c = {f, NULL};

	if (!for_each_item(arg, add_cgroup, &c, err, errlen))
		return 0;
	if (c.why && !strcmp(c.why, "full"))
		snprintf(err, errlen, "too many paths: at most %d", TT_MAX_FILTER);
	else if (c.why && !strcmp(c.why, "long"))
		snprintf(err, errlen, "a path is at most %d bytes", TT_CGROUP_ARG_MAX - 1);
	else if (c.why)
		snprintf(err, errlen, "'.' and '..' are not allowed in a cgroup path: '%s'", arg);
	return -1;
}

static int add_container(void *vctx, const char *item, size_t len)
{
	struct cgroup_ctx *c = vctx;
	struct tt_filter *f = c->f;
	char *out;

	if (f->ncontainers >= TT_MAX_FILTER) {
		c->why = "full";
		return -1;
	}
	c->why = "hex";
	if (len > CG_ID_LEN)
		return -1;
	out = f->containers[f->ncontainers];
	for (size_t i = 0; i < len; i++) {
		char ch = item[i];

		/* docker ps prints lowercase; a prefix pasted in capitals means the same id */
		if (ch >= 'A' && ch <= 'F')
			ch = (char)(ch - 'A' + 'a');
		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
			return -1;
		out[i] = ch;
	}
	out[len] = '\0';
	c->why = NULL;
	f->ncontainers++;
	return 0;
}

int filter_add_containers(struct tt_filter *f, const char *arg, char *err, size_t errlen)
{
	struct cgroup_ctx c = {f, NULL};

	if (!for_each_item(arg, add_container, &c, err, errlen))
		return 0;
	if (c.why && !strcmp(c.why, "full"))
		snprintf(err, errlen, "too many items: at most %d", TT_MAX_FILTER);
	else if (c.why)
		snprintf(err, errlen, "container ids are 1-%d hex digits: '%s'", CG_ID_LEN, arg);
	return -1;
}

int filter_resolve_cgroups(struct tt_filter *f, const char *mnt, int root_depth, int resolve,
			   char *err, size_t errlen)
{
	for (uint32_t i = 0; i < f->ncgroups; i++) {
		char rel[TT_CGROUP_ARG_MAX];
		uint64_t id;
		int level, r;

		/* Only shorter: the mount point comes off. */
		if (cg_normalize(mnt, f->cgroups[i], rel, sizeof(rel), &level))
			return -1;
		memcpy(f->cgroups[i], rel, sizeof(rel));
		if (!resolve)
			continue;
		if (!mnt) {
			snprintf(err, errlen,
				 "--cgroup needs cgroup v2, and no cgroup2 file system is mounted "
				 "(see /proc/self/mountinfo)");
			return -1;
		}
		r = cg_resolve(mnt, rel, &id);
		if (r == -ENOENT)
			snprintf(err, errlen,
				 "--cgroup: no cgroup '%s' under the cgroup v2 mount %s", rel, mnt);
		else if (r == -ENOTDIR || r == -EXDEV)
			snprintf(err, errlen, "--cgroup: '%s' is not a cgroup under %s", rel, mnt);
		else if (r)
			snprintf(err, errlen, "--cgroup: '%s' under %s: %s", rel, mnt,
				 strerror(-r));
		if (r)
			return -1;
		f->cgroup_ids[i] = id;
		f->cgroup_levels[i] = (uint32_t)(level + root_depth);
	}
	return 0;
}

int filter_match_endpoints(const struct tt_filter *f, int family, const uint8_t saddr[16],
			   const uint8_t daddr[16], uint16_t sport, uint16_t dport, uint32_t netns)
{
	return tt_kfilter_endpoints(&f->k, family, saddr, daddr, sport, dport, netns);
}

int filter_match_container(const struct tt_filter *f, const struct cg_desc *cg)
{
	int found = 0;

	for (uint32_t i = 0; i < f->ncontainers && !found && cg; i++)
		found = cg->ident.container_id[0] &&
			!strncmp(cg->ident.container_id, f->containers[i],
				 strlen(f->containers[i]));
	return !f->ncontainers || found;
}

int filter_match_cgroup(const struct tt_filter *f, const struct cg_desc *cg)
{
	int found = 0;

	for (uint32_t i = 0; i < f->ncgroups && !found && cg && cg->path; i++)
		found = cg_path_under(cg->path, cg->path_len, f->cgroups[i], strlen(f->cgroups[i]));
	if (f->ncgroups && !found)
		return 0;
	return filter_match_container(f, cg);
}

int filter_match(const struct tt_filter *f, const struct tt_event *e)
{
	return tt_kfilter_match(&f->k, e, 1);
}
