/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_BPFPARTS_H
#define TT_BPFPARTS_H

/*
 * A BPF object's programs in parts: the core, without which the command cannot run, and optional
 * parts that load and attach together or are switched off together, so that a kernel that lacks
 * or refuses one loses only what that part gives.
 */
struct bpf_object;
struct bpf_object_skeleton;

enum tt_part_state {
	TT_PART_ON = 0,
	TT_PART_ABSENT,	    /* this kernel lacks what it needs (probed before loading) */
	TT_PART_REFUSED,    /* the verifier refused one of its programs */
	TT_PART_UNATTACHED, /* loaded, but could not be attached */
};

struct tt_part {
	const char *key;      /* short name, for TCPTRAIL_TEST_REFUSE */
	const char *name;     /* what it does */
	const char *since;    /* the oldest kernel it is known to load on ("6.3") */
	const char *lost;     /* what is missing without it */
	const char *progs[5]; /* its programs, NULL-terminated */
	int core;	      /* the command cannot run without it */
	enum tt_part_state state;
	char why[256]; /* why it is off */
};

/* The part that program `prog` belongs to, or NULL. */
struct tt_part *tt_part_of(struct tt_part *parts, int n, const char *prog);

/* Switches p off, saying why (printf-style). */
void tt_part_off(struct tt_part *p, enum tt_part_state state, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Keeps the programs of the parts that are off from loading. */
void tt_parts_apply(struct bpf_object *obj, const struct tt_part *parts, int n);

/*
 * A failed load of obj: the part of the program the kernel refused is switched off and 1
 * returned (load again); 0 if the refused program is the core's or is not known, with *why
 * the reason to report.
 */
int tt_parts_refused(struct tt_part *parts, int n, const char **prog, const char **why);

/*
 * Attaches every loaded program of the skeleton except iterators (attached when they run): an
 * optional part that fails is switched off; the core's failure (or a program of no part) is
 * returned (-errno).
 */
int tt_parts_attach(struct bpf_object_skeleton *s, struct tt_part *parts, int n);

/*
 * One line per part that is off: always for a refusal or a failed attach (they are not expected
 * on any kernel), with -v also for what this kernel lacks, and the verifier's reason.
 */
void tt_parts_report(const struct tt_part *parts, int n, int verbose);

/* The parts named in TCPTRAIL_TEST_REFUSE (comma-separated keys) as bits of their index. */
unsigned int tt_parts_test_refuse(const struct tt_part *parts, int n);

/* Whether part i is on. */
static inline int tt_part_on(const struct tt_part *parts, int i)
{
	return parts[i].state == TT_PART_ON;
}

#endif /* TT_BPFPARTS_H */
