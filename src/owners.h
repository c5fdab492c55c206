/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_OWNERS_H
#define TT_OWNERS_H

/*
 * The owner join shared by `snapshot -p` and trace's --stuck alerts: the iter/task_file walk's
 * records (one per process and socket file), who holds a socket, and how holders are printed.
 * Pure: no libbpf, no system calls.
 */
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "filter.h"
#include "outbuf.h"
#include "tcptrail.h"

/* What a socket is looked up by: snapshot has its inode, trace its cookie. */
enum owners_key {
	OWNERS_BY_INO,
	OWNERS_BY_COOKIE,
};

/*
 * Sorts records by key, then pid, and drops repeats of a (key, pid) pair: a process holding the
 * socket in two fds, or threads the walk reported apart. Returns the records kept.
 */
size_t owners_sort(struct tt_owner_rec *recs, size_t n, enum owners_key key);

/*
 * The holders of the socket whose key is v in recs sorted by owners_sort: returns the first
 * (lowest pid) and sets *count; NULL with 0 when none holds it. v 0 (no inode: timewait and
 * request sockets; no cookie) never matches.
 */
const struct tt_owner_rec *owners_find(const struct tt_owner_rec *recs, size_t n,
				       enum owners_key key, uint64_t v, size_t *count);

/* --pid/--comm against any of the holders (true when neither is given). */
int owners_match(const struct tt_filter *f, const struct tt_owner_rec *recs, size_t n);

/*
 * At most this many holders are listed in an alert (`owners_more` counts the rest): a recorded
 * line must stay within what replay reads (LR_MAX_LINE), and a listener shared by hundreds of
 * workers would not.
 */
#define OWNERS_MAX_LISTED 256

/* The holders of a stuck socket, re-checked when its alert was raised. */
struct owners_list {
	const struct tt_owner_rec *recs; /* each process once, lowest pid first */
	size_t n;			 /* listed, at most OWNERS_MAX_LISTED */
	uint64_t more;			 /* holders not listed */
};

/*
 * Points the alert at the walk's holders of its socket (recs sorted by cookie): pid and comm
 * become the first holder's, as `snapshot -p` names it, and the owner is unknown (pid null)
 * when no process holds the socket any more. Fills *h with the holders to list.
 */
void owners_for_alert(struct tt_event *alert, const struct tt_owner_rec *recs, size_t n,
		      struct owners_list *h);

/*
 * `snapshot -p`'s PID/Program name: "pid/comm" per process, comma-separated, "-" for none
 * (names printable, see ob_put_printable). A pid repeated in a row is printed once.
 */
void owners_text(struct outbuf *ob, const struct tt_owner_rec *recs, size_t n);
/*
 * The JSON array of the same: [{"pid":N,"comm":"..."},...], [] for none. A whole value, for the
 * per-event formatter (after its constant key) and for jsonw's records (through jw_value_ob()).
 */
void owners_json(struct outbuf *ob, const struct tt_owner_rec *recs, size_t n);

#endif
