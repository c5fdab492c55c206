// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The owner join of snapshot -p and of stuck alerts: sort, find, filter, print. */
#include <stdlib.h>
#include <string.h>
#include "jsonw.h"
#include "owners.h"

static uint64_t key_of(const struct tt_owner_rec *r, enum owners_key key)
{
	return key == OWNERS_BY_COOKIE ? r->cookie : r->ino;
}

static int cmp_pid(const struct tt_owner_rec *x, const struct tt_owner_rec *y)
{
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

static int cmp_ino(const void *a, const void *b)
{
	const struct tt_owner_rec *x = a, *y = b;

	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return cmp_pid(x, y);
}

static int cmp_cookie(const void *a, const void *b)
{
	const struct tt_owner_rec *x = a, *y = b;

	if (x->cookie != y->cookie)
		return x->cookie < y->cookie ? -1 : 1;
	return cmp_pid(x, y);
}

size_t owners_sort(struct tt_owner_rec *recs, size_t n, enum owners_key key)
{
	size_t kept = 0;

	if (n < 2)
		return n;
	qsort(recs, n, sizeof(*recs), key == OWNERS_BY_COOKIE ? cmp_cookie : cmp_ino);
	for (size_t i = 0; i < n; i++) {
		if (kept && recs[kept - 1].pid == recs[i].pid &&
		    key_of(&recs[kept - 1], key) == key_of(&recs[i], key))
			continue;
		recs[kept++] = recs[i];
	}
	return kept;
}

const struct tt_owner_rec *owners_find(const struct tt_owner_rec *recs, size_t n,
				       enum owners_key key, uint64_t v, size_t *count)
{
	size_t lo = 0, hi = n, end;

	*count = 0;
	if (!v)
		return NULL;
	while (lo < hi) { /* first index with a key >= v */
		size_t mid = lo + (hi - lo) / 2;

		if (key_of(&recs[mid], key) < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (end = lo; end < n && key_of(&recs[end], key) == v; end++)
		;
	if (end == lo)
		return NULL;
	*count = end - lo;
	return &recs[lo];
}

int owners_match(const struct tt_filter *f, const struct tt_owner_rec *recs, size_t n)
{
	if (!f->npids && !f->ncomms)
		return 1;
	for (size_t i = 0; i < n; i++) {
		const struct tt_owner_rec *o = &recs[i];
		int pid_ok = !f->npids, comm_ok = !f->ncomms;

		for (uint32_t j = 0; j < f->npids && !pid_ok; j++)
			pid_ok = f->pids[j] == o->pid;
		for (uint32_t j = 0; j < f->ncomms && !comm_ok; j++)
			comm_ok = !strncmp(f->comms[j], o->comm, TT_COMM_LEN);
		if (pid_ok && comm_ok)
			return 1;
	}
	return 0;
}

void owners_for_alert(struct tt_event *alert, const struct tt_owner_rec *recs, size_t n,
		      struct owners_list *h)
{
	size_t count;
	const struct tt_owner_rec *own =
		owners_find(recs, n, OWNERS_BY_COOKIE, alert->sock_cookie, &count);

	h->recs = own;
	h->n = count < OWNERS_MAX_LISTED ? count : OWNERS_MAX_LISTED;
	h->more = count - h->n;
	memset(alert->comm, 0, sizeof(alert->comm));
	if (!count) {
		/* Orphaned (closed by every process): naming the last known owner would mislead. */
		alert->pid = 0;
		alert->flags &= (__u16)~TT_F_OWNER_KNOWN;
		return;
	}
	alert->pid = own->pid;
	memcpy(alert->comm, own->comm, strnlen(own->comm, TT_COMM_LEN));
	alert->flags |= TT_F_OWNER_KNOWN;
}

void owners_text(struct outbuf *ob, const struct tt_owner_rec *recs, size_t n)
{
	if (!n) {
		ob_putc(ob, '-');
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (i && recs[i].pid == recs[i - 1].pid)
			continue;
		if (i)
			ob_putc(ob, ',');
		ob_u64(ob, recs[i].pid);
		ob_putc(ob, '/');
		ob_put_printable(ob, recs[i].comm, strnlen(recs[i].comm, TT_COMM_LEN));
	}
}

void owners_json(struct outbuf *ob, const struct tt_owner_rec *recs, size_t n)
{
	struct jsonw w;

	jw_init(&w, ob);
	jw_arr_begin(&w);
	for (size_t i = 0; i < n; i++) {
		if (i && recs[i].pid == recs[i - 1].pid)
			continue;
		jw_obj_begin(&w);
		jw_field_u64(&w, "pid", recs[i].pid);
		jw_key(&w, "comm");
		jw_str(&w, recs[i].comm, strnlen(recs[i].comm, TT_COMM_LEN));
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
}
