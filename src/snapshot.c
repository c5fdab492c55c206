// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * `tcptrail snapshot`: the TCP sockets open now, like netstat -at. An iter/tcp pass streams one
 * binary record per socket of the current netns; an iter/task_file pass (with -p, --pid, --comm)
 * maps socket inodes to their processes without reading every /proc/PID/fd.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "addr.h"
#include "bpfcommon.h"
#include "cgroup.h"
#include "config.h"
#include "format.h"
#include "outbuf.h"
#include "owners.h"
#include "snapfmt.h"
#include "netns.h"
#include "snapshot.skel.h"
#include "snapbpf.h"
#include "snapshot.h"

#define FLUSH_BYTES (64 * 1024)
#define NAME_CACHE  4096 /* --resolve: distinct addresses remembered per run */
/* Files held at once: the iterators' maps, programs, links and fds, a namespace entered. */
#define NOFILE_NEEDED 16

static volatile sig_atomic_t exiting;

static void on_signal(int sig)
{
	exiting = 1;
}

struct name_slot {
	uint8_t family;
	uint8_t addr[16];
	char *name; /* NULL: not cached; "" : no name, print the number */
};

struct snap_ctx {
	const struct config *cfg;
	struct snap_bpf bpf;
	struct snapfmt_opts fo;
	struct snap_selection sel;
	struct outbuf socks;  /* raw struct tt_sock_rec */
	struct outbuf owners; /* raw struct tt_owner_rec, sorted after reading */
	size_t nowners;	      /* records of owners after owners_sort() */
	struct outbuf out;
	int need_owners;
	int out_broken;
	int out_error; /* writing failed other than by a closed pipe: exit 1, as trace does */
	struct name_slot *names;      /* --resolve cache */
	struct cg_cache *cg;	      /* cgroup ids -> paths; NULL when nothing shows them */
	struct fmt_ctx fmt;	      /* the JSON of cgroups, remembered */
	struct tt_netns_walk skipped; /* namespaces the last --all-netns walk could not visit */
};

static void flush_out(struct snap_ctx *c)
{
	if (ob_flush_fd(&c->out, STDOUT_FILENO, &c->out_broken))
		c->out_error = 1;
}

/* --resolve: a host name, cached per address; NULL means print the number. */
static const char *host_name(struct snap_ctx *c, int family, const uint8_t addr[16])
{
	static const uint8_t zero[16];
	uint32_t h = 2166136261u;
	struct name_slot *s;
	char host[NI_MAXHOST];
	int r;

	if (!memcmp(addr, zero, family == AF_INET ? 4 : 16))
		return NULL; /* wildcard: 0.0.0.0 / :: as netstat prints it */
	for (int i = 0; i < 16; i++)
		h = (h ^ addr[i]) * 16777619u;
	s = &c->names[(h ^ (uint32_t)family) % NAME_CACHE];
	if (s->name && s->family == family && !memcmp(s->addr, addr, 16))
		return *s->name ? s->name : NULL;
	if (family == AF_INET || (family == AF_INET6 && addr_is_v4_mapped(addr))) {
		struct sockaddr_in sin = {.sin_family = AF_INET};

		memcpy(&sin.sin_addr, family == AF_INET ? addr : addr + 12, 4);
		r = getnameinfo((struct sockaddr *)&sin, sizeof(sin), host, sizeof(host), NULL, 0,
				NI_NAMEREQD);
	} else {
		struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};

		memcpy(&sin6.sin6_addr, addr, 16);
		r = getnameinfo((struct sockaddr *)&sin6, sizeof(sin6), host, sizeof(host), NULL, 0,
				NI_NAMEREQD);
	}
	free(s->name);
	s->family = (uint8_t)family;
	memcpy(s->addr, addr, 16);
	s->name = strdup(r ? "" : host);
	return s->name && *s->name ? s->name : NULL;
}

/* Reads the current netns' sockets, appending to c->socks. */
static int read_socks_here(struct snap_ctx *c)
{
	return tt_iter_read(bpf_link__fd(c->bpf.tcp), snap_collect, &c->socks);
}

static int read_socks_in_netns(void *ctx, uint64_t netns_ino, uint32_t pid)
{
	return exiting ? -EINTR : read_socks_here(ctx);
}

/*
 * --all-netns: the iterator walks the netns of whoever creates its fd, so visit each one. With
 * -v, says how many were found each way and which could not be visited (again with -c only when
 * that changes).
 */
static int read_socks_all_netns(struct snap_ctx *c)
{
	struct tt_netns_walk walk;
	int err = tt_for_each_netns(read_socks_in_netns, c, &walk);

	if (c->cfg->verbose &&
	    (walk.by_process != c->skipped.by_process || walk.by_thread != c->skipped.by_thread ||
	     walk.by_mount != c->skipped.by_mount))
		tt_netns_report_found("--all-netns", &walk);
	if (c->cfg->verbose &&
	    (walk.unreadable != c->skipped.unreadable || walk.unentered != c->skipped.unentered ||
	     walk.mount_unreadable != c->skipped.mount_unreadable))
		tt_netns_report_skips("--all-netns", &walk, "their sockets are not listed");
	c->skipped = walk;
	if (err == -EINTR)
		return 0;
	if (err)
		tt_report_error(walk.failed ? walk.failed : "reading the TCP socket iterator", err);
	return err;
}

static void print_socket(struct snap_ctx *c, const struct tt_sock_rec *r)
{
	const struct cg_desc *cg;
	const struct tt_owner_rec *own = NULL;
	const char *lhost = NULL, *rhost = NULL;
	size_t nown = 0;

	if (!snap_select(&c->sel, r))
		return;
	/* A hash probe; the hierarchy is walked again only for a cgroup made since. */
	cg = cg_cache_get(c->cg, r->cgroup_id);
	if (!filter_match_cgroup(&c->cfg->filter, cg))
		return;
	if (c->need_owners) {
		own = owners_find((const struct tt_owner_rec *)c->owners.data, c->nowners,
				  OWNERS_BY_INO, r->ino, &nown);
		if (!owners_match(&c->cfg->filter, own, nown))
			return;
	}
	if (c->cfg->resolve) {
		lhost = host_name(c, r->family, r->saddr);
		rhost = host_name(c, r->family, r->daddr);
	}
	if (c->cfg->json)
		snapfmt_json(&c->out, &c->fo, r, own, nown, lhost, rhost, cg);
	else
		snapfmt_text(&c->out, &c->fo, r, own, nown, lhost, rhost, cg);
	if (c->out.len >= FLUSH_BYTES)
		flush_out(c);
}

/* One full table. 0, or -errno after printing why. */
static int snapshot_once(struct snap_ctx *c)
{
	const struct config *cfg = c->cfg;
	size_t n;
	int err;

	ob_reset(&c->socks);
	if (cfg->all_netns) {
		err = read_socks_all_netns(c);
	} else {
		err = read_socks_here(c);
		if (err)
			tt_report_error("reading the TCP socket iterator", err);
	}
	if (err)
		return err;
	if (c->need_owners) {
		ob_reset(&c->owners);
		err = tt_iter_read(bpf_link__fd(c->bpf.owners), snap_collect, &c->owners);
		if (err) {
			tt_report_error("reading the process file iterator", err);
			return err;
		}
		c->nowners =
			owners_sort((struct tt_owner_rec *)c->owners.data,
				    c->owners.len / sizeof(struct tt_owner_rec), OWNERS_BY_INO);
	}
	if (!cfg->json) {
		snapfmt_title(&c->out, cfg->all, cfg->listening);
		snapfmt_header(&c->out, &c->fo);
	}
	n = c->socks.len / sizeof(struct tt_sock_rec);
	for (size_t i = 0; i < n && !c->out_broken; i++) {
		struct tt_sock_rec r;

		/* outbuf data is malloc'ed, so aligned; copy anyway to stay strict. */
		memcpy(&r, c->socks.data + i * sizeof(r), sizeof(r));
		print_socket(c, &r);
	}
	flush_out(c);
	return 0;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000ULL),
			      .tv_nsec = (long)(ns % 1000000000ULL)};

	while (!exiting && nanosleep(&ts, &ts) && errno == EINTR)
		;
}

int run_snapshot(const struct config *cfg, const struct services *svc)
{
	struct snap_ctx c;
	const char *what;
	int ret = 1, err;

	memset(&c, 0, sizeof(c));
	c.cfg = cfg;
	c.fo.numeric = cfg->numeric;
	c.fo.extended = cfg->extended;
	c.fo.programs = cfg->programs;
	c.fo.netns = cfg->all_netns;
	c.fo.resolve = cfg->resolve;
	c.fo.svc = svc;
	fmt_ctx_init(&c.fmt, 0);
	c.fo.fmt = &c.fmt;
	c.sel.all = cfg->all;
	c.sel.listening = cfg->listening;
	c.sel.filter = &cfg->filter;
	c.sel.stuck = cfg->stuck;
	c.sel.nstuck = cfg->nstuck;
	c.need_owners = cfg->programs || cfg->filter.npids || cfg->filter.ncomms;
	ob_init(&c.socks);
	ob_init(&c.owners);
	ob_init(&c.out);

	tt_libbpf_logging(cfg->verbose);
	if (tt_preflight(NOFILE_NEEDED))
		goto out;
	if (cfg->resolve) {
		c.names = calloc(NAME_CACHE, sizeof(*c.names));
		if (!c.names) {
			fprintf(stderr, "tcptrail: out of memory\n");
			goto out;
		}
	}
	if (cfg->json || cfg->extended || cfg->filter.ncgroups || cfg->filter.ncontainers) {
		char mnt[CG_PATH_MAX];
		int depth;

		/* No v2 mount: every row says null, and --cgroup was refused before this. */
		c.cg = cg_cache_new(cg_find_v2_mount(mnt, sizeof(mnt), &depth) ? NULL : mnt);
		if (!c.cg) {
			fprintf(stderr, "tcptrail: out of memory\n");
			goto out;
		}
	}
	err = snap_bpf_open(&c.bpf, 1, c.need_owners, cfg->verbose, &what);
	if (err) {
		tt_report_bpf_error(what, err);
		goto out;
	}
	tt_on_stop_signals(on_signal);
	for (;;) {
		if (snapshot_once(&c))
			goto out;
		if (!cfg->continuous_ns || exiting || c.out_broken)
			break;
		sleep_ns(cfg->continuous_ns);
		if (exiting)
			break;
		if (!cfg->json)
			ob_putc(&c.out, '\n');
	}
	ret = c.out_error;
out:
	snap_bpf_close(&c.bpf);
	cg_cache_free(c.cg);
	if (c.names) {
		for (int i = 0; i < NAME_CACHE; i++)
			free(c.names[i].name);
		free(c.names);
	}
	ob_free(&c.socks);
	ob_free(&c.owners);
	ob_free(&c.out);
	return ret;
}
