// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The record format, written: state and stuck records (fmt_event_json(), the per-event hot
 * path), the header of a -w log's files and the totals of a final transition. record.c reads
 * them back. Pure, no libbpf.
 */
#include <string.h>
#include "causes.h"
#include "format.h"
#include "owners.h"
#include "jsonw.h"
#include "states.h"
#include "stuck_rule.h"

/* ---- writing: a final transition's totals ---- */

static void json_name(struct outbuf *ob, const char *s)
{
	if (!s) {
		ob_puts(ob, "null");
		return;
	}
	/* Names from the tables above: identifiers, nothing to escape. */
	ob_putc(ob, '"');
	ob_puts(ob, s);
	ob_putc(ob, '"');
}

/* "key":v (key a string literal, as ob_json_key() takes it). */
#define PUT_U64(ob, key, v)           \
	do {                          \
		ob_json_key(ob, key); \
		ob_u64(ob, v);        \
	} while (0)

/* "key": microseconds as milliseconds with 3 decimals, or null when not known. */
#define PUT_MS_OR_NULL(ob, key, us, known)   \
	do {                                 \
		ob_json_key(ob, key);        \
		if (known)                   \
			ob_fixed(ob, us, 3); \
		else                         \
			ob_puts(ob, "null"); \
	} while (0)

void totals_json(struct outbuf *ob, const struct tt_event *e)
{
	const char *cause = cause_name(e->cause);

	ob_json_key(ob, "cause");
	json_name(ob, cause ? cause : "unknown");
	ob_json_key(ob, "error");
	json_name(ob, errno_name(e->sk_err));
	ob_json_key(ob, "sk_err");
	ob_u64(ob, e->sk_err);
	/*
	 * A reason the kernel gave a reset this end sent. The kernel may have been about to send
	 * one that never came (a timewait handoff with data still queued): only with the causes
	 * whose end is that reset (a keepalive or user timeout resets as it gives up, a listener's
	 * close resets the children it never accepted).
	 */
	ob_json_key(ob, "reset_reason");
	json_name(ob, (e->flags & TT_F_RESET_REASON) && (e->cause == TT_CAUSE_RESET_OUT ||
							 e->cause == TT_CAUSE_TIMEOUT ||
							 e->cause == TT_CAUSE_LISTENER_CLOSED)
			      ? rst_reason_name(e->reset_reason)
			      : NULL);
	PUT_U64(ob, "bytes_sent", e->bytes_sent);
	PUT_U64(ob, "bytes_received", e->bytes_received);
	PUT_U64(ob, "segs_out", e->segs_out);
	PUT_U64(ob, "segs_in", e->segs_in);
	PUT_U64(ob, "retrans", e->retrans);
	PUT_U64(ob, "syn_retrans", e->syn_retrans);
	/* No RTT sample (a connect that never got an answer, a listener): no RTT, not 0. */
	PUT_MS_OR_NULL(ob, "srtt_ms", e->srtt_us, e->srtt_us);
	PUT_MS_OR_NULL(ob, "rttvar_ms", e->rttvar_us, e->srtt_us);
	/*
	 * 0: the socket was not followed (the kernel's table was full): its birth is unknown. A
	 * life under a microsecond cannot be, and would read back as that 0.
	 */
	PUT_MS_OR_NULL(ob, "life_ms", e->life_ns / 1000, e->life_ns >= 1000);
	if (e->flags & TT_F_LIFE_MIN)
		ob_puts(ob, ",\"life_min\":true");
}

/* ---- the header that starts every file of a -w log ---- */

/* "key":[n,...] of a filter list; the lists are u16 (ports) or u32 (pids, netns). */
static void put_list(struct jsonw *j, const char *key, const void *v, size_t width, uint32_t n)
{
	if (!n)
		return;
	jw_key(j, key);
	jw_arr_begin(j);
	for (uint32_t i = 0; i < n; i++)
		jw_u64(j, width == sizeof(uint16_t) ? ((const uint16_t *)v)[i]
						    : ((const uint32_t *)v)[i]);
	jw_arr_end(j);
}

/* "key":["...",...] of n strings of at most maxlen bytes, stride bytes apart. */
static void put_strs(struct jsonw *j, const char *key, const char *first, size_t stride,
		     size_t maxlen, uint32_t n)
{
	if (!n)
		return;
	jw_key(j, key);
	jw_arr_begin(j);
	for (uint32_t i = 0; i < n; i++) {
		const char *s = first + i * stride;

		jw_str(j, s, strnlen(s, maxlen));
	}
	jw_arr_end(j);
}

/* "key":["name",...] of the bits 1 to nbits - 1 set in mask. */
static void put_names(struct jsonw *j, const char *key, uint32_t mask, unsigned int nbits,
		      const char *(*name)(unsigned int))
{
	if (!mask)
		return;
	jw_key(j, key);
	jw_arr_begin(j);
	for (unsigned int b = 1; b < nbits; b++)
		if (mask & (1u << b))
			jw_strz(j, name(b));
	jw_arr_end(j);
}

static const char *state_name(unsigned int state)
{
	return tt_state_name((int)state);
}

/* The filters as given: a reader of the file knows what it leaves out. */
static void put_filters(struct jsonw *j, const struct tt_filter *f)
{
	jw_obj_begin(j);
	if (f->family)
		jw_field_u64(j, "family", (uint64_t)f->family);
	put_names(j, "state", f->state_mask, TT_STATE_MAX, state_name);
	put_list(j, "pid", f->pids, sizeof(f->pids[0]), f->npids);
	put_strs(j, "comm", f->comms[0], sizeof(f->comms[0]), TT_COMM_LEN, f->ncomms);
	put_list(j, "port", f->ports, sizeof(f->ports[0]), f->nports);
	put_list(j, "lport", f->lports, sizeof(f->lports[0]), f->nlports);
	put_list(j, "rport", f->rports, sizeof(f->rports[0]), f->nrports);
	put_list(j, "netns", f->netns, sizeof(f->netns[0]), f->nnetns);
	/* --cgroup as paths relative to the v2 mount: the ids mean nothing on another boot */
	put_strs(j, "cgroup", f->cgroups[0], sizeof(f->cgroups[0]), sizeof(f->cgroups[0]),
		 f->ncgroups);
	put_strs(j, "container", f->containers[0], sizeof(f->containers[0]),
		 sizeof(f->containers[0]), f->ncontainers);
	put_names(j, "cause", f->cause_mask, TT_CAUSE_MAX, cause_name);
	jw_obj_end(j);
}

void record_header_json(struct outbuf *ob, const struct record_header *h)
{
	struct jsonw j;

	jw_init(&j, ob);
	jw_obj_begin(&j);
	jw_field_str(&j, "type", "header");
	jw_field_time(&j, "time", h->now_ns);
	jw_field_str(&j, "version", TCPTRAIL_VERSION);
	jw_key(&j, "hostname");
	jw_str(&j, h->hostname, h->hostname_len);
	jw_key(&j, "kernel");
	jw_str(&j, h->kernel, h->kernel_len);
	jw_field_time(&j, "boot_time", h->boot_ns);
	jw_field_time(&j, "start_time", h->start_ns);
	jw_field_u64(&j, "part", h->part);
	/* the "seq" of the first record after this header */
	jw_field_u64(&j, "seq", h->seq);
	jw_key(&j, "filters");
	put_filters(&j, h->filter);
	jw_key(&j, "stuck");
	jw_arr_begin(&j);
	for (int i = 0; i < h->nstuck; i++) {
		jw_obj_begin(&j);
		jw_field_str(&j, "state", tt_state_name(h->stuck[i].state));
		jw_key(&j, "ms");
		jw_fixed(&j, h->stuck[i].ns / 1000, 3);
		jw_obj_end(&j);
	}
	jw_arr_end(&j);
	jw_obj_end(&j);
	ob_putc(ob, '\n');
}

/* ---- writing: state and stuck records ---- */

/* ,"pid":N,"comm":"..." of a known owner, remembered while the owner stays the same. */
static void json_owner(struct outbuf *ob, struct fmt_ctx *c, const struct tt_event *e)
{
	size_t start = ob->len, len;

	if (c->owner_used && c->owner_pid == e->pid &&
	    !memcmp(c->owner_comm, e->comm, TT_COMM_LEN)) {
		ob_put(ob, c->owner_json, c->owner_len);
		return;
	}
	ob_json_key(ob, "pid");
	ob_u64(ob, e->pid);
	ob_json_key(ob, "comm");
	ob_json_str(ob, e->comm, strnlen(e->comm, TT_COMM_LEN));
	len = ob->len - start;
	c->owner_used = !ob->oom && len <= sizeof(c->owner_json);
	if (!c->owner_used)
		return;
	memcpy(c->owner_json, ob->data + start, len);
	c->owner_len = len;
	c->owner_pid = e->pid;
	memcpy(c->owner_comm, e->comm, TT_COMM_LEN);
}

static void json_opt_strn(struct outbuf *ob, const char *s, size_t n)
{
	if (n)
		ob_json_str(ob, s, n);
	else
		ob_puts(ob, "null");
}

void fmt_cgroup_json(struct outbuf *ob, struct fmt_ctx *c, const struct cg_desc *cg)
{
	struct fmt_cg_memo *m = NULL;
	size_t start = ob->len, len;
	const char *id;

	if (!cg)
		return; /* a record from before the keys, replayed as it was written */
	/* Most lines repeat a few cgroups: their keys are copied, not escaped again. */
	if (cg->serial) {
		m = &c->cg[cg->serial & (FMT_CG_MEMO - 1)];
		if (m->serial == cg->serial) {
			ob_put(ob, m->json, m->len);
			return;
		}
	}
	id = cg->ident.container_id;
	ob_json_key(ob, "cgroup");
	if (cg->path)
		ob_json_str(ob, cg->path, cg->path_len);
	else
		ob_puts(ob, "null");
	ob_json_key(ob, "container");
	json_opt_strn(ob, id, strnlen(id, CG_SHORT_LEN));
	ob_json_key(ob, "container_id");
	json_opt_strn(ob, id, strlen(id));
	ob_json_key(ob, "pod");
	json_opt_strn(ob, cg->ident.pod, strlen(cg->ident.pod));
	ob_json_key(ob, "unit");
	json_opt_strn(ob, cg->ident.unit, strlen(cg->ident.unit));
	len = ob->len - start;
	if (!m || ob->oom || len > sizeof(m->json))
		return;
	memcpy(m->json, ob->data + start, len);
	m->len = len;
	m->serial = cg->serial;
}

/* pid, comm and their marks; a stuck alert's holders. */
static inline __attribute__((always_inline)) void event_owners(struct outbuf *ob, struct fmt_ctx *c,
							       const struct tt_event *e,
							       const struct owners_list *holders)
{
	if (e->flags & TT_F_OWNER_KNOWN) {
		json_owner(ob, c, e);
		/* In a shared listener's accept queue: pid names the acceptor, or the listener's. */
		if (e->flags & TT_F_PRE_ACCEPT) {
			ob_json_key(ob, "pre_accept");
			ob_puts(ob, "true");
		}
	} else {
		ob_json_key(ob, "pid");
		ob_puts(ob, "null");
		ob_json_key(ob, "comm");
		ob_puts(ob, "null");
		if (e->flags & TT_F_OWNER_MOVED) {
			ob_json_key(ob, "owner_moved");
			ob_puts(ob, "true");
		}
	}
	if (holders) {
		ob_json_key(ob, "owners");
		owners_json(ob, holders->recs, holders->n);
		if (holders->more) {
			ob_json_key(ob, "owners_more");
			ob_u64(ob, holders->more);
		}
	}
}

void fmt_event_json(struct outbuf *ob, struct fmt_ctx *c, const struct tt_event *e,
		    uint64_t wall_ns, const char *lsvc, const char *rsvc,
		    const struct owners_list *holders, const struct cg_desc *cg)
{
	char buf[TT_ADDRSTRLEN];
	int stuck = e->type == TT_EV_STUCK;
	const char *addr;
	size_t len;

	ob_puts(ob, stuck ? "{\"type\":\"stuck\",\"time\":\"" : "{\"type\":\"state\",\"time\":\"");
	fmt_time_rfc3339(c, wall_ns, buf);
	ob_put(ob, buf, 27);
	ob_putc(ob, '"');
	event_owners(ob, c, e, holders);
	ob_json_key(ob, "proto");
	ob_putc(ob, '"');
	ob_puts(ob, fmt_proto(e->family));
	ob_putc(ob, '"');
	ob_json_key(ob, "laddr");
	ob_putc(ob, '"');
	addr = fmt_addr_text(c, e->family, e->saddr, &len);
	ob_put(ob, addr, len);
	ob_putc(ob, '"');
	ob_json_key(ob, "lport");
	ob_u64(ob, e->sport);
	ob_json_key(ob, "raddr");
	ob_putc(ob, '"');
	addr = fmt_addr_text(c, e->family, e->daddr, &len);
	ob_put(ob, addr, len);
	ob_putc(ob, '"');
	ob_json_key(ob, "rport");
	ob_u64(ob, e->dport);
	ob_json_key(ob, "lservice");
	ob_json_str_or_null(ob, lsvc);
	ob_json_key(ob, "rservice");
	ob_json_str_or_null(ob, rsvc);
	if (stuck) {
		ob_json_key(ob, "state");
		ob_putc(ob, '"');
		ob_puts(ob, tt_state_name(e->oldstate));
		ob_putc(ob, '"');
	} else {
		ob_json_key(ob, "old");
		ob_putc(ob, '"');
		ob_puts(ob, tt_state_name(e->oldstate));
		ob_putc(ob, '"');
		ob_json_key(ob, "new");
		ob_putc(ob, '"');
		ob_puts(ob, tt_state_name(e->newstate));
		ob_putc(ob, '"');
	}
	ob_json_key(ob, "ms");
	if (e->flags & TT_F_DELTA_KNOWN)
		fmt_ns_as_ms(ob, e->delta_ns);
	else
		ob_puts(ob, "null");
	if (e->flags & TT_F_DELTA_MIN) {
		ob_json_key(ob, "ms_min");
		ob_puts(ob, "true");
	}
	ob_json_key(ob, "sock");
	ob_u64(ob, e->sock_cookie);
	ob_json_key(ob, "netns");
	if (!c->netns_used || c->netns != e->netns) {
		c->netns_len = u64_to_dec(c->netns_str, e->netns);
		c->netns = e->netns;
		c->netns_used = 1;
	}
	ob_put(ob, c->netns_str, c->netns_len);
	if (!stuck) {
		/* A reset sent after the final transition (unread data, SO_LINGER 0) is one too. */
		ob_json_key(ob, "reset");
		ob_puts(ob, (e->flags & TT_F_RESET) || ((e->flags & TT_F_TOTALS) && totals_reset(e))
				    ? "true"
				    : "false");
		/* Only final transitions carry these: the other lines cost not a byte more. */
		if (e->flags & TT_F_TOTALS)
			totals_json(ob, e);
	}
	fmt_cgroup_json(ob, c, cg);
	ob_puts(ob, "}\n");
}
