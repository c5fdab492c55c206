// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The tracer's BPF object (tracebpf.h): its parts and what this kernel lacks, the filters and
 * the event rings' sizes, loading with refused parts switched off, attaching, the kernel's lost
 * counters.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "bpfcommon.h"
#include "causes.h"
#include "config.h"
#include "evring.h"
#include "filter_match.h" /* the skeleton's read-only data holds a struct tt_kfilter */
#include "tcptrail.skel.h"
#include "tracebpf.h"

/*
 * The tracer's programs by part (enum tt_bpf_part's order). The kernels each part is known to
 * load on were measured in the kernel matrix (tests/kernels/, docs/kernels.md).
 */
static const struct tt_part trace_parts_init[TT_PART_COUNT] = {
	[TT_PART_CORE] =
		{"core", "state events", "6.1", "nothing to trace", {"handle_set_state"}, 1},
	[TT_PART_RESETS] = {"resets",
			    "resets sent",
			    "6.1",
			    "close causes tell resets sent only by the error they leave",
			    {"handle_send_reset", "handle_send_reset_reason"}},
	[TT_PART_SEND] =
		{"send",
		 "owners followed through TCP sends",
		 "6.1",
		 "a process that took a socket over (fork, fd passing, socket activation) and "
		 "only sends on it is named from its first receive or close",
		 {"handle_send", "handle_send_fentry", "handle_send_any"}},
	[TT_PART_RECV] =
		{"recv",
		 "owners followed through TCP receives",
		 "6.1",
		 "a process that took a socket over (fork, fd passing, socket activation) and "
		 "only receives on it is named from its first send or close",
		 {"handle_recv"}},
	[TT_PART_ACCEPT] = {"accept",
			    "owners learned at accept()",
			    "6.1",
			    "accepted sockets name their acceptor from its first I/O",
			    {"handle_accept"}},
	[TT_PART_HANDOFF] = {"handoff",
			     "listeners handed on at exit",
			     "6.2",
			     "a listener's holder that exits stays named until the next accept()",
			     {"handle_fork", "handle_exit"}},
	[TT_PART_EXEC] = {"exec",
			  "sockets renamed at exec and prctl(PR_SET_NAME)",
			  "6.1",
			  "a renamed process's sockets take the new name at their next I/O",
			  {"handle_exec", "handle_rename"}},
	[TT_PART_WALK] = {"walk",
			  "the start-up walk of existing sockets",
			  "6.1",
			  "sockets older than the tracer show no owner or time in state and raise "
			  "no --stuck alert",
			  {"seed_owners", "seed_states"}},
};

/*
 * The send hook this kernel takes, cheapest for the host first: tcp:tcp_sendmsg_locked (after
 * 6.12) and a trampoline on tcp_sendmsg fire for TCP only; sock:sock_send_length (6.3) fires for
 * every socket's sends and is used only when neither is there. NULL if none is.
 */
static const char *probe_send_hook(void)
{
	if (tt_kernel_has_btf_tracepoint("tcp_sendmsg_locked"))
		return "handle_send";
	if (tt_kernel_can_fexit("tcp_sendmsg"))
		return "handle_send_fentry";
	if (tt_kernel_has_btf_tracepoint("sock_send_length"))
		return "handle_send_any";
	return NULL;
}

/*
 * What this kernel lacks, probed before loading: the send hooks, tcp:tcp_rcv_space_adjust,
 * trampolines for fexit (not every build allows them), bpf_loop (5.17), bpf_for_each_map_elem
 * (5.13) and bpf_task_from_pid (6.2).
 */
static void probe_parts(struct trace_bpf *b)
{
	struct tt_part *parts = b->parts;

	b->send_hook = probe_send_hook();
	if (!b->send_hook)
		tt_part_off(&parts[TT_PART_SEND], TT_PART_ABSENT,
			    "no tcp:tcp_sendmsg_locked (after 6.12), no fentry trampolines and no "
			    "sock:sock_send_length (6.3+)");
	if (!tt_kernel_has_btf_tracepoint("tcp_rcv_space_adjust"))
		tt_part_off(&parts[TT_PART_RECV], TT_PART_ABSENT,
			    "no tcp:tcp_rcv_space_adjust tracepoint");
	if (!tt_kernel_can_fexit("inet_accept"))
		tt_part_off(&parts[TT_PART_ACCEPT], TT_PART_ABSENT,
			    "the kernel does not attach fexit programs to inet_accept here");
	/* The exit hook can tell a live heir only with bpf_task_from_pid (6.2). */
	if (!tt_kernel_has_helper("for_each_map_elem") || !tt_kernel_has_kfunc("bpf_task_from_pid"))
		tt_part_off(&parts[TT_PART_HANDOFF], TT_PART_ABSENT,
			    "no bpf_task_from_pid kfunc: Linux 6.2+");
	if (!tt_kernel_has_helper("loop"))
		tt_part_off(&parts[TT_PART_EXEC], TT_PART_ABSENT,
			    "no bpf_loop helper: Linux 5.17+");
}

static void choose_programs(struct tcptrail_bpf *skel, const struct trace_bpf *b)
{
	/* Since 6.10 tcp_send_reset says why: (sk, skb, reason). */
	int reason = tt_btf_tracepoint_nargs("tcp_send_reset") >= 3;
	struct bpf_program *send[] = {skel->progs.handle_send, skel->progs.handle_send_fentry,
				      skel->progs.handle_send_any};

	for (size_t i = 0; i < sizeof(send) / sizeof(send[0]); i++) {
		const char *name = bpf_program__name(send[i]);

		bpf_program__set_autoload(send[i], b->send_hook && !strcmp(name, b->send_hook));
	}
	bpf_program__set_autoload(skel->progs.handle_send_reset_reason, reason);
	bpf_program__set_autoload(skel->progs.handle_send_reset, !reason);
	bpf_program__set_autoload(skel->progs.handle_rename,
				  tt_kernel_has_btf_tracepoint("task_rename"));
	tt_parts_apply(skel->obj, b->parts, TT_PART_COUNT);
}

static void set_filters(struct tcptrail_bpf *skel, const struct tt_filter *f)
{
	struct tcptrail_bpf__rodata *ro = skel->rodata;

	memcpy((void *)&ro->kfilter, &f->k, sizeof(f->k));
	ro->filter_ncgroups = f->ncgroups;
	memcpy((void *)ro->filter_cgroup_ids, f->cgroup_ids, sizeof(f->cgroup_ids));
	memcpy((void *)ro->filter_cgroup_levels, f->cgroup_levels, sizeof(f->cgroup_levels));
	ro->any_filter = f->family || f->state_mask || f->npids || f->ncomms || f->nports ||
			 f->nlports || f->nrports || f->nnetns || f->cause_mask;
}

static void add_reset_reason(void *ctx, const char *rest, long long value)
{
	/* SK_RST_REASON_MAX counts the reasons, it is none of them */
	if (strcmp(rest, "MAX") && value >= 0)
		rst_reason_set((unsigned int)value, rest, strlen(rest));
}

/*
 * The names of the kernel's reset reasons, whose values differ between kernels: from the running
 * kernel's BTF, where enum sk_rst_reason came with 6.10 (as tcp_send_reset's reason).
 */
static void load_reset_reasons(int verbose)
{
	if (tt_kernel_enum("sk_rst_reason", "SK_RST_REASON_", add_reset_reason, NULL) < 0 &&
	    verbose)
		fprintf(stderr, "tcptrail: this kernel has no enum sk_rst_reason (6.10+): resets "
				"show no reason\n");
}

void trace_bpf_close(struct trace_bpf *b)
{
	evring_free(b->events);
	tcptrail_bpf__destroy(b->skel);
	memset(b, 0, sizeof(*b));
}

/*
 * Opens the BPF object and fills in the filters, the programs this kernel can run and the ring
 * buffer's size, then loads it: a refused optional part is switched off and the object opened
 * and loaded again without it (one try per part at most). On failure *what names the step.
 */
static int trace_bpf_load(struct trace_bpf *b, const struct config *cfg, const char **what)
{
	static char refused[400];
	unsigned int test_refuse = tt_parts_test_refuse(b->parts, TT_PART_COUNT);
	const char *prog, *why;
	unsigned int shift;
	int err;

	for (int attempt = 0; attempt <= TT_PART_COUNT; attempt++) {
		tcptrail_bpf__destroy(b->skel);
		*what = "opening the BPF object";
		b->skel = tcptrail_bpf__open();
		/* errno 0 must not read as success: run_trace would go on with NULL. */
		if (!b->skel)
			return errno ? -errno : -ENOMEM;
		set_filters(b->skel, &cfg->filter);
		b->skel->rodata->test_refuse = test_refuse;
		choose_programs(b->skel, b);
		*what = "sizing the event rings";
		err = evring_size(b->skel->maps.ring_pos, b->skel->maps.ring_slots,
				  (uint64_t)cfg->ringbuf_mb << 20, &shift);
		if (err)
			return err;
		b->skel->rodata->ring_slot_shift = shift;
		*what = "loading the BPF programs";
		tt_bpf_failed_clear();
		err = tcptrail_bpf__load(b->skel);
		/* Short of files or memory any program may fail: that is no part's fault. */
		if (!err || tt_bpf_limit_behind(err))
			return err;
		if (!tt_parts_refused(b->parts, TT_PART_COUNT, &prog, &why))
			break;
	}
	if (prog) {
		snprintf(refused, sizeof(refused), "loading the BPF programs (%s: %s)", prog, why);
		*what = refused;
	}
	return err;
}

int trace_bpf_open(struct trace_bpf *b, const struct config *cfg, evmerge_fn fn, void *ctx,
		   const char **what)
{
	int err;

	memset(b, 0, sizeof(*b));
	memcpy(b->parts, trace_parts_init, sizeof(b->parts));
	probe_parts(b);
	load_reset_reasons(cfg->verbose);
	err = trace_bpf_load(b, cfg, what);
	if (err)
		return err;
	*what = "attaching to sock:inet_sock_set_state";
	err = tt_parts_attach(b->skel->skeleton, b->parts, TT_PART_COUNT);
	if (err)
		return err;
	tt_parts_report(b->parts, TT_PART_COUNT, cfg->verbose);
	if (cfg->verbose && b->send_hook && tt_part_on(b->parts, TT_PART_SEND))
		fprintf(stderr, "tcptrail: TCP sends followed by %s\n",
			bpf_program__section_name(
				bpf_object__find_program_by_name(b->skel->obj, b->send_hook)));
	*what = "mapping the event rings";
	b->events = evring_new(b->skel->maps.events, b->skel->maps.ring_pos,
			       b->skel->maps.ring_slots, fn, ctx);
	if (!b->events)
		return errno ? -errno : -ENOMEM;
	return 0;
}

/* Sum over CPUs of one of the kernel's `lost` counters (enum tt_lost). */
uint64_t trace_bpf_lost(const struct trace_bpf *b, __u32 key)
{
	return b->skel ? tt_percpu_sum(bpf_map__fd(b->skel->maps.lost), key) : 0;
}

/*
 * Runs the kernel skipped because the program was already running on that CPU (a softirq
 * that interrupted it hit the tracepoint again): events that never reached the program.
 */
uint64_t trace_bpf_missed(const struct trace_bpf *b)
{
	return b->skel ? tt_prog_recursion_misses(bpf_program__fd(b->skel->progs.handle_set_state))
		       : 0;
}
