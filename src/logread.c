// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Reading recordings: JSON line -> record, and a plain/gzip line reader. Pure, no libbpf. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>
#include "causes.h"
#include "jsonl.h"
#include "logread.h"
#include "parse.h"
#include "states.h"

/* ---- one line -> one record ---- */

static int bad(char *err, size_t errlen, const char *what, const char *key)
{
	snprintf(err, errlen, "%s \"%s\"", what, key);
	return -1;
}

/* Unsigned integer JSON number without fraction or exponent, at most max. */
static int get_u64(const struct jsonl_obj *o, const char *key, uint64_t max, uint64_t *v, char *err,
		   size_t errlen)
{
	const struct jsonl_member *m = jsonl_get(o, key);
	uint64_t x = 0;

	if (!m)
		return bad(err, errlen, "missing", key);
	if (m->type != JSONL_NUMBER)
		return bad(err, errlen, "want a number for", key);
	for (size_t i = 0; i < m->val_len; i++) {
		unsigned d = (unsigned)(m->val[i] - '0');

		if (d > 9 || x > (UINT64_MAX - d) / 10)
			return bad(err, errlen, "want an unsigned integer for", key);
		x = x * 10 + d;
	}
	if (x > max)
		return bad(err, errlen, "out of range:", key);
	*v = x;
	return 0;
}

/* A string member decoded into out; 1 if present, 0 if null and null_ok, -1 on error. */
static int get_str(const struct jsonl_obj *o, const char *key, int null_ok, char *out, size_t cap,
		   char *err, size_t errlen)
{
	const struct jsonl_member *m = jsonl_get(o, key);

	if (!m)
		return bad(err, errlen, "missing", key);
	if (m->type == JSONL_NULL && null_ok)
		return 0;
	if (m->type != JSONL_STRING)
		return bad(err, errlen, null_ok ? "want a string or null for" : "want a string for",
			   key);
	if (!m->val_esc) {
		if (m->val_len >= cap)
			return bad(err, errlen, "too long:", key);
		memcpy(out, m->val, m->val_len);
		out[m->val_len] = '\0';
		return 1;
	}
	if (jsonl_unescape(m->val, m->val_len, out, cap) < 0)
		return bad(err, errlen, "too long:", key);
	return 1;
}

static int get_bool(const struct jsonl_obj *o, const char *key, int *v, char *err, size_t errlen)
{
	const struct jsonl_member *m = jsonl_get(o, key);

	if (!m)
		return bad(err, errlen, "missing", key);
	if (m->type != JSONL_TRUE && m->type != JSONL_FALSE)
		return bad(err, errlen, "want true or false for", key);
	*v = m->type == JSONL_TRUE;
	return 0;
}

static int get_state(const struct jsonl_obj *o, const char *key, __u8 *st, char *err, size_t errlen)
{
	char name[32];
	int s;

	if (get_str(o, key, 0, name, sizeof(name), err, errlen) < 0)
		return -1;
	if (!strcmp(name, "UNKNOWN")) {
		*st = 0;
		return 0;
	}
	s = tt_state_parse(name, strlen(name));
	if (s < 0)
		return bad(err, errlen, "unknown TCP state in", key);
	*st = (__u8)s;
	return 0;
}

static int get_addr(const struct jsonl_obj *o, const char *key, int family, __u8 addr[16],
		    char *err, size_t errlen)
{
	char s[64];

	if (get_str(o, key, 0, s, sizeof(s), err, errlen) < 0)
		return -1;
	memset(addr, 0, 16);
	if (family == AF_INET) {
		if (inet_pton(AF_INET, s, addr) == 1)
			return 0;
	} else if (strchr(s, ':')) {
		if (inet_pton(AF_INET6, s, addr) == 1)
			return 0;
	} else if (inet_pton(AF_INET, s, addr + 12) == 1) {
		/* fmt_addr() prints v4-mapped IPv6 as a dotted quad */
		addr[10] = addr[11] = 0xff;
		return 0;
	}
	return bad(err, errlen, "bad address in", key);
}

/* Milliseconds with up to 6 decimals (or null: not known) -> ns. */
static int get_ms(const struct jsonl_obj *o, const char *key, uint64_t *ns, int *known, char *err,
		  size_t errlen)
{
	const struct jsonl_member *m = jsonl_get(o, key);
	uint64_t whole = 0, frac = 0, scale = 1000000;
	size_t i = 0;

	if (!m)
		return bad(err, errlen, "missing", key);
	*known = 0;
	if (m->type == JSONL_NULL)
		return 0;
	if (m->type != JSONL_NUMBER)
		return bad(err, errlen, "want a number or null for", key);
	for (; i < m->val_len && m->val[i] != '.'; i++) {
		unsigned d = (unsigned)(m->val[i] - '0');

		if (d > 9 || whole > (UINT64_MAX / 1000000 - d) / 10)
			return bad(err, errlen, "want milliseconds as a plain decimal for", key);
		whole = whole * 10 + d;
	}
	if (i < m->val_len) {
		for (i++; i < m->val_len; i++) {
			unsigned d = (unsigned)(m->val[i] - '0');

			if (d > 9 || scale == 1)
				return bad(err, errlen,
					   "want milliseconds with at most 6 decimals for", key);
			scale /= 10;
			frac += d * scale;
		}
	}
	if (whole * 1000000 + frac < whole * 1000000)
		return bad(err, errlen, "out of range:", key);
	*ns = whole * 1000000 + frac;
	*known = 1;
	return 0;
}

int lr_parse_time(const char *s, size_t len, uint64_t *ns)
{
	char tmp[64];

	/* The form tcptrail writes first, fast; then any RFC 3339 time parse_time_ns() takes. */
	if (!parse_time_rfc3339_us(s, len, ns))
		return 0;
	/* nanoseconds in 64 bits end in 2554; dates after 2500 are not from a recording */
	if (len < 4 || len >= sizeof(tmp) || memchr(s, '\0', len) || memcmp(s, "2500", 4) > 0)
		return -1;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	/* parse_time_ns() also takes epoch seconds: a recording always has a date */
	if (!strchr(tmp, '-') || parse_time_ns(tmp, ns))
		return -1;
	return 0;
}

static int get_time(const struct jsonl_obj *o, uint64_t *ns, char *err, size_t errlen)
{
	char s[64], why[80];
	uint64_t unused;

	if (get_str(o, "time", 0, s, sizeof(s), err, errlen) < 0)
		return -1;
	if (!lr_parse_time(s, strlen(s), ns))
		return 0;
	/*
	 * Only on the error path: ask again for the reason (2026-02-31 is no date at all). The
	 * reason names the field, never the text: that is the log's, and stderr is a terminal.
	 */
	if (strchr(s, '-') && parse_time_ns_why(s, &unused, why, sizeof(why)) && why[0]) {
		snprintf(err, errlen, "impossible \"time\": %s", why);
		return -1;
	}
	return bad(err, errlen, "want RFC 3339 time for", "time");
}

static int is_json_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Length of the object at the start of s (valid JSON, checked by jsonl_parse already). */
static size_t object_len(const char *s, size_t len)
{
	int depth = 0, in_str = 0;

	for (size_t i = 0; i < len; i++) {
		if (in_str) {
			if (s[i] == '\\')
				i++;
			else if (s[i] == '"')
				in_str = 0;
		} else if (s[i] == '"') {
			in_str = 1;
		} else if (s[i] == '{' || s[i] == '[') {
			depth++;
		} else if ((s[i] == '}' || s[i] == ']') && --depth == 0) {
			return i + 1;
		}
	}
	return len;
}

/* One holder: {"pid": N, "comm": "..."}. */
static int parse_holder(const char *s, size_t len, struct tt_owner_rec *h, char *err, size_t errlen)
{
	struct jsonl_obj o;
	char comm[TT_COMM_LEN + 1];
	uint64_t v;

	if (jsonl_parse(s, len, &o, err, errlen))
		return -1;
	if (get_u64(&o, "pid", UINT32_MAX, &v, err, errlen) ||
	    get_str(&o, "comm", 0, comm, sizeof(comm), err, errlen) < 0)
		return -1;
	memset(h, 0, sizeof(*h));
	h->pid = (__u32)v;
	memcpy(h->comm, comm, strnlen(comm, TT_COMM_LEN));
	return 0;
}

/* A stuck alert's "owners" array and "owners_more" count; absent in logs before them. */
static int parse_holders(const struct jsonl_obj *o, struct lr_record *r, char *err, size_t errlen)
{
	const struct jsonl_member *m = jsonl_get(o, "owners");
	struct owners_list *h = &r->holders_buf;
	size_t i, len;
	const char *s;

	if (!m) {
		if (jsonl_get(o, "owners_more"))
			return bad(err, errlen, "no \"owners\" but", "owners_more");
		return 0;
	}
	if (m->type != JSONL_ARRAY)
		return bad(err, errlen, "want an array for", "owners");
	h->recs = r->holder_recs;
	s = m->val;
	len = m->val_len;
	for (i = 1;; i++) { /* at '[' or ',' */
		size_t n;

		while (i < len && is_json_space(s[i]))
			i++;
		if (i < len && s[i] == ']' && !h->n)
			break;
		if (i >= len || s[i] != '{')
			return bad(err, errlen, "want objects in", "owners");
		if (h->n == OWNERS_MAX_LISTED)
			return bad(err, errlen, "too many holders in", "owners");
		n = object_len(s + i, len - i);
		if (parse_holder(s + i, n, &r->holder_recs[h->n], err, errlen))
			return -1;
		h->n++;
		for (i += n; i < len && is_json_space(s[i]); i++)
			;
		if (i < len && s[i] == ']')
			break;
		if (i >= len || s[i] != ',')
			return bad(err, errlen, "want objects in", "owners");
	}
	if (jsonl_get(o, "owners_more") &&
	    get_u64(o, "owners_more", UINT64_MAX, &h->more, err, errlen))
		return -1;
	r->holders = h;
	return 0;
}

/* A string or null that may be absent: 1 string, 0 null or absent, -1 error. */
static int get_opt_str(const struct jsonl_obj *o, const char *key, char *out, size_t cap, char *err,
		       size_t errlen)
{
	out[0] = '\0';
	return jsonl_get(o, key) ? get_str(o, key, 1, out, cap, err, errlen) : 0;
}

/*
 * The cgroup keys, absent in logs before them. Read as written, not parsed again from the
 * path: what a recording says is what its replay says. "container" is container_id's first
 * 12 characters: checked for its type only.
 */
static int parse_cgroup(const struct jsonl_obj *o, struct lr_record *r, char *err, size_t errlen)
{
	struct cg_desc *d = &r->cg_buf;
	char shortid[CG_ID_LEN + 1];
	int path;

	if (!jsonl_get(o, "cgroup") && !jsonl_get(o, "container") &&
	    !jsonl_get(o, "container_id") && !jsonl_get(o, "pod") && !jsonl_get(o, "unit"))
		return 0; /* r->cg stays NULL */
	memset(d, 0, sizeof(*d));
	path = get_opt_str(o, "cgroup", r->cg_path, sizeof(r->cg_path), err, errlen);
	if (path < 0 || get_opt_str(o, "container", shortid, sizeof(shortid), err, errlen) < 0 ||
	    get_opt_str(o, "container_id", d->ident.container_id, sizeof(d->ident.container_id),
			err, errlen) < 0 ||
	    get_opt_str(o, "pod", d->ident.pod, sizeof(d->ident.pod), err, errlen) < 0 ||
	    get_opt_str(o, "unit", d->ident.unit, sizeof(d->ident.unit), err, errlen) < 0)
		return -1;
	if (path) {
		d->path = r->cg_path;
		d->path_len = strlen(r->cg_path);
	}
	r->cg = d;
	return 0;
}

/* An RTT in ms (3 decimals written, up to 6 read) -> us; null is 0, which means "no sample". */
static int get_rtt(const struct jsonl_obj *o, const char *key, __u32 *us, char *err, size_t errlen)
{
	uint64_t ns;
	int known;

	if (get_ms(o, key, &ns, &known, err, errlen))
		return -1;
	if (known && ns / 1000 > UINT32_MAX)
		return bad(err, errlen, "out of range:", key);
	*us = known ? (__u32)(ns / 1000) : 0;
	return 0;
}

/*
 * How a connection ended: the keys of a final transition, present together from "cause" on.
 * Records without "cause" (null or absent: other transitions, logs of older versions) have
 * none, and the other keys are not looked at.
 */
static int parse_totals(const struct jsonl_obj *o, struct tt_event *e, char *err, size_t errlen)
{
	const struct jsonl_member *m = jsonl_get(o, "cause");
	char name[RST_NAME_MAX + 1];
	uint64_t v;
	int c, has, known;

	if (!m || m->type == JSONL_NULL)
		return 0;
	if (get_str(o, "cause", 0, name, sizeof(name), err, errlen) < 0)
		return -1;
	c = cause_parse(name, strlen(name));
	if (c < 0)
		return bad(err, errlen, "unknown cause in", "cause");
	e->cause = (__u8)c;
	e->flags |= TT_F_TOTALS;
	/* "error" is sk_err's name, printed again from the number: its type is all that counts. */
	if (get_str(o, "error", 1, name, sizeof(name), err, errlen) < 0)
		return -1;
	if (get_u64(o, "sk_err", UINT16_MAX, &v, err, errlen))
		return -1;
	e->sk_err = (__u16)v;
	has = get_str(o, "reset_reason", 1, name, sizeof(name), err, errlen);
	if (has < 0)
		return -1;
	if (has) {
		if (rst_reason_intern(name, strlen(name), &e->reset_reason))
			return bad(err, errlen,
				   "want an identifier (and at most 128 different ones) for",
				   "reset_reason");
		e->flags |= TT_F_RESET_REASON;
	}
	if (get_u64(o, "bytes_sent", UINT64_MAX, &v, err, errlen))
		return -1;
	e->bytes_sent = v;
	if (get_u64(o, "bytes_received", UINT64_MAX, &v, err, errlen))
		return -1;
	e->bytes_received = v;
	if (get_u64(o, "segs_out", UINT32_MAX, &v, err, errlen))
		return -1;
	e->segs_out = (__u32)v;
	if (get_u64(o, "segs_in", UINT32_MAX, &v, err, errlen))
		return -1;
	e->segs_in = (__u32)v;
	if (get_u64(o, "retrans", UINT32_MAX, &v, err, errlen))
		return -1;
	e->retrans = (__u32)v;
	if (get_u64(o, "syn_retrans", UINT16_MAX, &v, err, errlen))
		return -1;
	e->syn_retrans = (__u16)v;
	if (get_rtt(o, "srtt_ms", &e->srtt_us, err, errlen) ||
	    get_rtt(o, "rttvar_ms", &e->rttvar_us, err, errlen))
		return -1;
	if (get_ms(o, "life_ms", &v, &known, err, errlen))
		return -1;
	/* Whole microseconds, as written: a life that reads as 0 is "not known" (null). */
	e->life_ns = known ? v - v % 1000 : 0;
	if (jsonl_get(o, "life_min")) {
		int b;

		if (get_bool(o, "life_min", &b, err, errlen))
			return -1;
		if (b)
			e->flags |= TT_F_LIFE_MIN;
	}
	return 0;
}

static int parse_event(const struct jsonl_obj *o, struct lr_record *r, char *err, size_t errlen)
{
	struct tt_event *e = &r->ev;
	char proto[8];
	uint64_t v;
	int known, b, has;

	if (get_str(o, "proto", 0, proto, sizeof(proto), err, errlen) < 0)
		return -1;
	if (!strcmp(proto, "tcp"))
		e->family = AF_INET;
	else if (!strcmp(proto, "tcp6"))
		e->family = AF_INET6;
	else
		return bad(err, errlen, "want tcp or tcp6 for", "proto");

	const struct jsonl_member *pid = jsonl_get(o, "pid");

	if (!pid)
		return bad(err, errlen, "missing", "pid");
	has = get_str(o, "comm", 1, r->lsvc_buf, TT_COMM_LEN + 1, err, errlen);
	if (has < 0)
		return -1;
	if (pid->type == JSONL_NULL) {
		if (has)
			return bad(err, errlen, "pid is null but not", "comm");
		if (jsonl_get(o, "owner_moved")) {
			if (get_bool(o, "owner_moved", &b, err, errlen))
				return -1;
			if (b)
				e->flags |= TT_F_OWNER_MOVED;
		}
	} else {
		if (!has)
			return bad(err, errlen, "comm is null but not", "pid");
		if (get_u64(o, "pid", UINT32_MAX, &v, err, errlen))
			return -1;
		e->pid = (__u32)v;
		/* Only up to the NUL: the rest of lsvc_buf is a previous line's leftovers. */
		memcpy(e->comm, r->lsvc_buf, strnlen(r->lsvc_buf, TT_COMM_LEN));
		e->flags |= TT_F_OWNER_KNOWN;
		if (jsonl_get(o, "pre_accept")) {
			if (get_bool(o, "pre_accept", &b, err, errlen))
				return -1;
			if (b)
				e->flags |= TT_F_PRE_ACCEPT;
		}
	}
	if (get_addr(o, "laddr", e->family, e->saddr, err, errlen) ||
	    get_addr(o, "raddr", e->family, e->daddr, err, errlen))
		return -1;
	if (get_u64(o, "lport", 65535, &v, err, errlen))
		return -1;
	e->sport = (__u16)v;
	if (get_u64(o, "rport", 65535, &v, err, errlen))
		return -1;
	e->dport = (__u16)v;

	has = get_str(o, "lservice", 1, r->lsvc_buf, sizeof(r->lsvc_buf), err, errlen);
	if (has < 0)
		return -1;
	r->lsvc = has ? r->lsvc_buf : NULL;
	has = get_str(o, "rservice", 1, r->rsvc_buf, sizeof(r->rsvc_buf), err, errlen);
	if (has < 0)
		return -1;
	r->rsvc = has ? r->rsvc_buf : NULL;

	if (r->type == LR_STUCK) {
		if (get_state(o, "state", &e->oldstate, err, errlen) ||
		    parse_holders(o, r, err, errlen))
			return -1;
		e->newstate = e->oldstate;
	} else {
		if (get_state(o, "old", &e->oldstate, err, errlen) ||
		    get_state(o, "new", &e->newstate, err, errlen))
			return -1;
		if (get_bool(o, "reset", &b, err, errlen))
			return -1;
		if (b)
			e->flags |= TT_F_RESET;
		if (parse_totals(o, e, err, errlen))
			return -1;
	}
	if (get_ms(o, "ms", &v, &known, err, errlen))
		return -1;
	e->delta_ns = v;
	if (known)
		e->flags |= TT_F_DELTA_KNOWN;
	if (jsonl_get(o, "ms_min")) {
		if (get_bool(o, "ms_min", &b, err, errlen))
			return -1;
		if (b)
			e->flags |= TT_F_DELTA_MIN;
	}
	if (get_u64(o, "sock", UINT64_MAX, &v, err, errlen))
		return -1;
	e->sock_cookie = v;
	if (get_u64(o, "netns", UINT32_MAX, &v, err, errlen))
		return -1;
	e->netns = (__u32)v;
	return parse_cgroup(o, r, err, errlen);
}

/*
 * "seq", optional (logs before it have none), an unsigned integer when present; a record of a
 * type this version does not know keeps its number only when it is one.
 */
static int get_seq(const struct jsonl_obj *o, struct lr_record *r, char *err, size_t errlen)
{
	if (!jsonl_get(o, "seq"))
		return 0;
	if (get_u64(o, "seq", UINT64_MAX, &r->seq, err, errlen)) {
		if (r->type != LR_OTHER)
			return -1;
		r->seq = 0;
		return 0;
	}
	r->has_seq = 1;
	return 0;
}

/* A header's "start_time", which tells runs apart; unreadable or absent: not known. */
static void get_start(const struct jsonl_obj *o, struct lr_record *r)
{
	const struct jsonl_member *m = jsonl_get(o, "start_time");

	if (!m || m->type != JSONL_STRING || m->val_esc || m->val_len >= 64 ||
	    lr_parse_time(m->val, m->val_len, &r->start_ns))
		r->start_ns = 0;
}

void lr_seq_init(struct lr_seq *s)
{
	memset(s, 0, sizeof(*s));
}

int lr_seq_check(struct lr_seq *s, const struct lr_record *r, struct lr_gap *g)
{
	int gap = 0;

	memset(g, 0, sizeof(*g));
	if (r->type == LR_HEADER) {
		/* another run (or one not known) starts afresh; the same run goes on */
		int same = r->start_ns && r->start_ns == s->run_ns;

		if (same && s->known && r->has_seq && r->seq != s->next) {
			g->at_header = 1;
			gap = 1;
		}
		s->run_ns = r->start_ns;
	} else if (s->known && r->has_seq && r->seq != s->next) {
		gap = 1;
	}
	if (gap) {
		g->back = r->seq < s->next;
		g->from = g->back ? s->next - 1 : s->next;
		g->to = g->back ? r->seq : r->seq - 1;
	}
	/* a record without a number (an older version's) leaves the next one unchecked */
	s->known = r->has_seq;
	s->next = r->has_seq && r->type != LR_HEADER ? r->seq + 1 : r->seq;
	return gap;
}

int lr_parse_line(const char *line, size_t len, struct lr_record *r, char *err, size_t errlen)
{
	struct jsonl_obj o;
	char type[16];

	memset(r, 0, offsetof(struct lr_record, lsvc_buf));
	r->lsvc_buf[0] = r->rsvc_buf[0] = '\0';
	if (jsonl_parse(line, len, &o, err, errlen))
		return -1;
	if (get_str(&o, "type", 0, type, sizeof(type), err, errlen) < 0) {
		if (jsonl_get(&o, "type"))
			return -1;
		snprintf(err, errlen, "not a tcptrail record: no \"type\"");
		return -1;
	}
	if (!strcmp(type, "state"))
		r->type = LR_STATE;
	else if (!strcmp(type, "stuck"))
		r->type = LR_STUCK;
	else if (!strcmp(type, "lost"))
		r->type = LR_LOST;
	else if (!strcmp(type, "header"))
		r->type = LR_HEADER;
	else
		r->type = LR_OTHER;

	if (get_seq(&o, r, err, errlen))
		return -1;
	if (r->type == LR_HEADER || r->type == LR_OTHER) {
		/* time is optional here, but must be a time when given */
		if (jsonl_get(&o, "time") && get_time(&o, &r->wall_ns, err, errlen))
			return -1;
		if (r->type == LR_HEADER)
			get_start(&o, r);
		return 0;
	}
	if (get_time(&o, &r->wall_ns, err, errlen))
		return -1;
	r->ev.ts_ns = r->wall_ns;
	if (r->type == LR_LOST)
		return get_u64(&o, "count", UINT64_MAX, &r->lost_count, err, errlen) ||
				       get_u64(&o, "total", UINT64_MAX, &r->lost_total, err, errlen)
			       ? -1
			       : 0;
	r->ev.type = r->type == LR_STUCK ? TT_EV_STUCK : TT_EV_STATE;
	return parse_event(&o, r, err, errlen);
}

/* ---- the line reader ---- */

#define IN_CHUNK (64 * 1024)
#define BUF_CAP	 (2 * LR_MAX_LINE + IN_CHUNK)

struct lr_reader {
	int fd;
	const unsigned char *mem;
	size_t mem_len, mem_pos;

	int started;
	int gz;
	int zinit;
	int in_eof;    /* the source is exhausted */
	int done;      /* no more decoded data will come */
	char why[160]; /* set when done because of an error */
	z_stream zs;
	unsigned char in[IN_CHUNK];
	size_t in_len, in_pos; /* plain mode: bytes of in[] not yet moved to buf */

	char buf[BUF_CAP];
	size_t start, end;
	uint64_t lineno;
};

static struct lr_reader *lr_new(void)
{
	struct lr_reader *r = calloc(1, sizeof(*r));

	if (r)
		r->fd = -1;
	return r;
}

struct lr_reader *lr_open_fd(int fd)
{
	struct lr_reader *r = lr_new();

	if (r)
		r->fd = fd;
	return r;
}

struct lr_reader *lr_open_mem(const void *buf, size_t len)
{
	struct lr_reader *r = lr_new();

	if (r) {
		r->mem = buf;
		r->mem_len = len;
	}
	return r;
}

void lr_free(struct lr_reader *r)
{
	if (!r)
		return;
	if (r->zinit)
		inflateEnd(&r->zs);
	free(r);
}

uint64_t lr_lineno(const struct lr_reader *r)
{
	return r->lineno;
}

int lr_is_gzip(const struct lr_reader *r)
{
	return r->gz;
}

/* Raw bytes from the source: >0, 0 at its end, -1 with why set. */
static ssize_t src_read(struct lr_reader *r, void *dst, size_t n)
{
	if (r->fd < 0) {
		size_t k = r->mem_len - r->mem_pos;

		if (k > n)
			k = n;
		memcpy(dst, r->mem + r->mem_pos, k);
		r->mem_pos += k;
		return (ssize_t)k;
	}
	for (;;) {
		ssize_t k = read(r->fd, dst, n);

		if (k >= 0)
			return k;
		if (errno != EINTR) {
			snprintf(r->why, sizeof(r->why), "read error: %s", strerror(errno));
			return -1;
		}
	}
}

static void finish(struct lr_reader *r, const char *why)
{
	r->done = 1;
	if (why && !r->why[0])
		snprintf(r->why, sizeof(r->why), "%s", why);
}

/* Fills in[] from the source; 0 when something was read, -1 at the end or on error. */
static int refill_in(struct lr_reader *r)
{
	ssize_t k;

	if (r->in_eof)
		return -1;
	k = src_read(r, r->in, sizeof(r->in));
	if (k <= 0) {
		r->in_eof = 1;
		if (k < 0)
			r->done = 1;
		return -1;
	}
	r->in_len = (size_t)k;
	r->in_pos = 0;
	return 0;
}

static int start(struct lr_reader *r)
{
	r->started = 1;
	/* a pipe may deliver the magic bytes one at a time */
	while (r->in_len < 2 && !r->in_eof) {
		ssize_t k = src_read(r, r->in + r->in_len, sizeof(r->in) - r->in_len);

		if (k < 0) {
			r->done = 1;
			return -1;
		}
		if (k == 0)
			r->in_eof = 1;
		r->in_len += (size_t)k;
	}
	if (r->in_len >= 2 && r->in[0] == 0x1f && r->in[1] == 0x8b) {
		r->gz = 1;
		if (inflateInit2(&r->zs, 15 + 16) != Z_OK) {
			finish(r, "out of memory");
			return -1;
		}
		r->zinit = 1;
		r->zs.next_in = r->in;
		r->zs.avail_in = (uInt)r->in_len;
	}
	return 0;
}

/* Decoded bytes into buf[end..]; sets done at the end or on error. */
static void fill(struct lr_reader *r)
{
	size_t room = sizeof(r->buf) - r->end;

	if (!r->gz) {
		if (r->in_pos == r->in_len) {
			ssize_t k = r->in_eof ? 0 : src_read(r, r->buf + r->end, room);

			if (k <= 0)
				finish(r, NULL);
			else
				r->end += (size_t)k;
			return;
		}
		size_t k = r->in_len - r->in_pos;

		if (k > room)
			k = room;
		memcpy(r->buf + r->end, r->in + r->in_pos, k);
		r->in_pos += k;
		r->end += k;
		return;
	}
	for (;;) {
		int z;

		if (r->zs.avail_in == 0) {
			if (refill_in(r)) {
				finish(r, r->why[0] ? NULL
						    : "gzip stream is truncated (the recording was "
						      "cut off)");
				return;
			}
			r->zs.next_in = r->in;
			r->zs.avail_in = (uInt)r->in_len;
		}
		r->zs.next_out = (unsigned char *)r->buf + r->end;
		r->zs.avail_out = (uInt)room;
		z = inflate(&r->zs, Z_NO_FLUSH);
		r->end += room - r->zs.avail_out;
		if (z == Z_STREAM_END) {
			/* another member may follow (cat a.gz b.gz), nothing else may */
			if (r->zs.avail_in == 0 && refill_in(r)) {
				if (!r->why[0])
					finish(r, NULL);
				r->done = 1;
				return;
			}
			if (r->zs.avail_in == 0) {
				r->zs.next_in = r->in;
				r->zs.avail_in = (uInt)r->in_len;
			}
			if (r->zs.next_in[0] != 0x1f) {
				finish(r, "garbage after the end of the gzip stream");
				return;
			}
			inflateReset(&r->zs);
		} else if (z == Z_DATA_ERROR || z == Z_NEED_DICT) {
			char why[128];

			snprintf(why, sizeof(why), "corrupt gzip data (%s)",
				 r->zs.msg ? r->zs.msg : "bad data");
			finish(r, why);
			return;
		} else if (z == Z_MEM_ERROR) {
			finish(r, "out of memory");
			return;
		}
		if (room - r->zs.avail_out > 0)
			return;
	}
}

int lr_next(struct lr_reader *r, const char **line, size_t *len, char *err, size_t errlen)
{
	if (!r->started && start(r)) {
		snprintf(err, errlen, "%s", r->why);
		return -1;
	}
	for (;;) {
		char *p = r->buf + r->start;
		char *nl = memchr(p, '\n', r->end - r->start);

		if (nl && nl - p > LR_MAX_LINE) {
			snprintf(err, errlen, "line is longer than %d bytes", LR_MAX_LINE);
			return -1;
		}
		if (nl) {
			r->start = (size_t)(nl + 1 - r->buf);
			r->lineno++;
			if (nl == p)
				continue;
			*line = p;
			*len = (size_t)(nl - p);
			return 1;
		}
		if (r->end - r->start > LR_MAX_LINE) {
			snprintf(err, errlen, "line is longer than %d bytes", LR_MAX_LINE);
			return -1;
		}
		if (r->done) {
			if (r->why[0]) {
				snprintf(err, errlen, "%s", r->why);
				return -1;
			}
			if (r->end > r->start) {
				snprintf(err, errlen,
					 "last line is incomplete (the recording was cut "
					 "off)");
				return -1;
			}
			return 0;
		}
		if (r->start) {
			memmove(r->buf, r->buf + r->start, r->end - r->start);
			r->end -= r->start;
			r->start = 0;
		}
		fill(r);
	}
}
