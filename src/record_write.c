// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The record format, written: the header of a -w log's files and the totals of a final
 * transition (the rest of a state or stuck record is fmt_event_json()'s, format.c). record.c
 * reads them back. Pure, no libbpf.
 */
#include "causes.h"
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
