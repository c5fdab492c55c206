// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The record format, read: one JSON line of a -w log or of -o json -> struct lr_record, for
 * replay. record_write.c writes what format.c does not; tests/unit/test_record.c writes records
 * and reads them back. Pure, no libbpf.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include "causes.h"
#include "jsonl.h"
#include "parse.h"
#include "states.h"

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

/* The same into dst, an unsigned integer field of size bytes (GET_UINT names the field). */
static int get_uint(const struct jsonl_obj *o, const char *key, uint64_t max, void *dst,
		    size_t size, char *err, size_t errlen)
{
	uint64_t v;

	if (get_u64(o, key, max, &v, err, errlen))
		return -1;
	if (size == sizeof(uint64_t))
		*(uint64_t *)dst = v;
	else if (size == sizeof(uint32_t))
		*(uint32_t *)dst = (uint32_t)v;
	else if (size == sizeof(uint16_t))
		*(uint16_t *)dst = (uint16_t)v;
	else
		*(uint8_t *)dst = (uint8_t)v;
	return 0;
}

#define GET_UINT(o, key, max, field, err, errlen) \
	get_uint(o, key, max, &(field), sizeof(field), err, errlen)

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

/* An optional boolean key: true sets flag in *flags, false and absent leave it. */
static int get_flag(const struct jsonl_obj *o, const char *key, __u16 *flags, __u16 flag, char *err,
		    size_t errlen)
{
	int b;

	if (!jsonl_get(o, key))
		return 0;
	if (get_bool(o, key, &b, err, errlen))
		return -1;
	if (b)
		*flags |= flag;
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
	if (GET_UINT(o, "sk_err", UINT16_MAX, e->sk_err, err, errlen))
		return -1;
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
	if (GET_UINT(o, "bytes_sent", UINT64_MAX, e->bytes_sent, err, errlen) ||
	    GET_UINT(o, "bytes_received", UINT64_MAX, e->bytes_received, err, errlen) ||
	    GET_UINT(o, "segs_out", UINT32_MAX, e->segs_out, err, errlen) ||
	    GET_UINT(o, "segs_in", UINT32_MAX, e->segs_in, err, errlen) ||
	    GET_UINT(o, "retrans", UINT32_MAX, e->retrans, err, errlen) ||
	    GET_UINT(o, "syn_retrans", UINT16_MAX, e->syn_retrans, err, errlen) ||
	    get_rtt(o, "srtt_ms", &e->srtt_us, err, errlen) ||
	    get_rtt(o, "rttvar_ms", &e->rttvar_us, err, errlen))
		return -1;
	if (get_ms(o, "life_ms", &v, &known, err, errlen))
		return -1;
	/* Whole microseconds, as written: a life that reads as 0 is "not known" (null). */
	e->life_ns = known ? v - v % 1000 : 0;
	return get_flag(o, "life_min", &e->flags, TT_F_LIFE_MIN, err, errlen);
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
		if (get_flag(o, "owner_moved", &e->flags, TT_F_OWNER_MOVED, err, errlen))
			return -1;
	} else {
		if (!has)
			return bad(err, errlen, "comm is null but not", "pid");
		if (GET_UINT(o, "pid", UINT32_MAX, e->pid, err, errlen))
			return -1;
		/* Only up to the NUL: the rest of lsvc_buf is a previous line's leftovers. */
		memcpy(e->comm, r->lsvc_buf, strnlen(r->lsvc_buf, TT_COMM_LEN));
		e->flags |= TT_F_OWNER_KNOWN;
		if (get_flag(o, "pre_accept", &e->flags, TT_F_PRE_ACCEPT, err, errlen))
			return -1;
	}
	if (get_addr(o, "laddr", e->family, e->saddr, err, errlen) ||
	    get_addr(o, "raddr", e->family, e->daddr, err, errlen))
		return -1;
	if (GET_UINT(o, "lport", 65535, e->sport, err, errlen) ||
	    GET_UINT(o, "rport", 65535, e->dport, err, errlen))
		return -1;

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
	if (get_flag(o, "ms_min", &e->flags, TT_F_DELTA_MIN, err, errlen) ||
	    GET_UINT(o, "sock", UINT64_MAX, e->sock_cookie, err, errlen) ||
	    GET_UINT(o, "netns", UINT32_MAX, e->netns, err, errlen))
		return -1;
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
