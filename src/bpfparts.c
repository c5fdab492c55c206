// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "bpfcommon.h"
#include "bpfparts.h"

struct tt_part *tt_part_of(struct tt_part *parts, int n, const char *prog)
{
	for (int i = 0; i < n; i++) {
		for (int j = 0; parts[i].progs[j]; j++) {
			if (!strcmp(parts[i].progs[j], prog))
				return &parts[i];
		}
	}
	return NULL;
}

void tt_part_off(struct tt_part *p, enum tt_part_state state, const char *fmt, ...)
{
	va_list ap;

	p->state = state;
	va_start(ap, fmt);
	vsnprintf(p->why, sizeof(p->why), fmt, ap);
	va_end(ap);
}

void tt_parts_apply(struct bpf_object *obj, const struct tt_part *parts, int n)
{
	struct bpf_program *prog;

	for (int i = 0; i < n; i++) {
		if (parts[i].state == TT_PART_ON)
			continue;
		for (int j = 0; parts[i].progs[j]; j++) {
			prog = bpf_object__find_program_by_name(obj, parts[i].progs[j]);
			if (prog)
				bpf_program__set_autoload(prog, false);
		}
	}
}

int tt_parts_refused(struct tt_part *parts, int n, const char **prog, const char **why)
{
	const char *name = tt_bpf_failed_prog(why);
	struct tt_part *p;

	*prog = name;
	if (!name)
		return 0;
	p = tt_part_of(parts, n, name);
	if (!p || p->core || p->state != TT_PART_ON)
		return 0;
	tt_part_off(p, TT_PART_REFUSED, "%s: %s", name, *why);
	return 1;
}

static int is_iterator(const struct bpf_program *prog)
{
	return bpf_program__type(prog) == BPF_PROG_TYPE_TRACING &&
	       bpf_program__expected_attach_type(prog) == BPF_TRACE_ITER;
}

int tt_parts_attach(struct bpf_object_skeleton *s, struct tt_part *parts, int n)
{
	for (int i = 0; i < s->prog_cnt; i++) {
		struct bpf_program *p = *s->progs[i].prog;
		struct bpf_link **link = s->progs[i].link;
		struct tt_part *part;
		int err;

		if (!bpf_program__autoload(p) || is_iterator(p) || *link)
			continue;
		*link = bpf_program__attach(p);
		if (*link)
			continue;
		err = errno ? -errno : -EINVAL;
		part = tt_part_of(parts, n, s->progs[i].name);
		if (!part || part->core)
			return err;
		if (part->state == TT_PART_ON)
			tt_part_off(part, TT_PART_UNATTACHED, "%s: %s", s->progs[i].name,
				    strerror(-err));
	}
	/* A part is attached whole or not at all: drop what a failed part did attach. */
	for (int i = 0; i < s->prog_cnt; i++) {
		struct tt_part *part = tt_part_of(parts, n, s->progs[i].name);

		if (part && part->state != TT_PART_ON && *s->progs[i].link) {
			bpf_link__destroy(*s->progs[i].link);
			*s->progs[i].link = NULL;
		}
	}
	return 0;
}

void tt_parts_report(const struct tt_part *parts, int n, int verbose)
{
	for (int i = 0; i < n; i++) {
		const struct tt_part *p = &parts[i];

		switch (p->state) {
		case TT_PART_ON:
			break;
		case TT_PART_ABSENT:
			if (verbose)
				fprintf(stderr, "tcptrail: off on this kernel: %s (%s): %s\n",
					p->name, p->why, p->lost);
			break;
		case TT_PART_REFUSED:
			fprintf(stderr,
				"tcptrail: the kernel refused the programs for %s (known to load "
				"on "
				"Linux %s+), the rest runs: %s%s\n",
				p->name, p->since, p->lost, verbose ? "" : "; -v says why");
			if (verbose)
				fprintf(stderr, "tcptrail:   verifier: %s\n", p->why);
			break;
		case TT_PART_UNATTACHED:
			fprintf(stderr, "tcptrail: cannot attach %s (%s), the rest runs: %s\n",
				p->name, p->why, p->lost);
			break;
		}
	}
}

unsigned int tt_parts_test_refuse(const struct tt_part *parts, int n)
{
	unsigned int bits = 0;

	for (int i = 0; i < n; i++) {
		if (tt_test_refuse(parts[i].key))
			bits |= 1u << i;
	}
	return bits;
}
