// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The snapshot BPF object (snapbpf.h): the socket walk (iter/tcp) of `snapshot` and the owner
 * walk (iter/task_file) that `snapshot -p` and trace's stuck alerts share.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "bpfcommon.h"
#include "snapshot.skel.h"
#include "snapbpf.h"

void snap_bpf_close(struct snap_bpf *b)
{
	bpf_link__destroy(b->owners);
	bpf_link__destroy(b->tcp);
	snapshot_bpf__destroy(b->skel);
	memset(b, 0, sizeof(*b));
}

/*
 * Opens, loads and attaches the iterators asked for (the socket walk, the owner walk); on
 * failure *what names the step and the error is returned.
 */
int snap_bpf_open(struct snap_bpf *b, int tcp, int owners, int verbose, const char **what)
{
	uint32_t jiffy_ns;
	int err;

	memset(b, 0, sizeof(*b));
	*what = "opening the snapshot BPF object";
	b->skel = snapshot_bpf__open();
	/* errno 0 must not read as success: run_snapshot would go on with NULL. */
	if (!b->skel)
		return errno ? -errno : -ENOMEM;
	if (tcp) {
		jiffy_ns = tt_ns_per_jiffy(verbose);
		if (jiffy_ns)
			b->skel->rodata->ns_per_jiffy = jiffy_ns;
	}
	bpf_program__set_autoload(b->skel->progs.dump_tcp, tcp);
	bpf_program__set_autoload(b->skel->progs.dump_owners, owners);
	*what = "loading the snapshot iterators";
	err = snapshot_bpf__load(b->skel);
	if (err)
		return err;
	if (tcp) {
		*what = "attaching the iter/tcp iterator";
		b->tcp = bpf_program__attach_iter(b->skel->progs.dump_tcp, NULL);
		if (!b->tcp)
			return errno ? -errno : -ENOMEM;
	}
	if (owners) {
		*what = "attaching the iter/task_file iterator";
		b->owners = bpf_program__attach_iter(b->skel->progs.dump_owners, NULL);
		if (!b->owners)
			return errno ? -errno : -ENOMEM;
	}
	return 0;
}

/* Appends iterator output to an outbuf; records may straddle read() chunks. */
int snap_collect(void *ctx, const void *buf, size_t len)
{
	struct outbuf *ob = ctx;

	ob_put(ob, buf, len);
	return ob->oom ? -ENOMEM : 0;
}

struct owner_walk {
	struct snap_bpf bpf;
};

int owner_walk_open(struct owner_walk **out, const char **what)
{
	struct owner_walk *w = calloc(1, sizeof(*w));
	int err;

	*out = NULL;
	if (!w) {
		*what = "allocating the owner walk";
		return -ENOMEM;
	}
	err = snap_bpf_open(&w->bpf, 0, 1, 0, what);
	if (err) {
		snap_bpf_close(&w->bpf);
		free(w);
		return err;
	}
	*out = w;
	return 0;
}

int owner_walk_read(struct owner_walk *w, struct outbuf *recs)
{
	ob_reset(recs);
	return tt_iter_read(bpf_link__fd(w->bpf.owners), snap_collect, recs);
}

void owner_walk_close(struct owner_walk *w)
{
	if (!w)
		return;
	snap_bpf_close(&w->bpf);
	free(w);
}
