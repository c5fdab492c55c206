/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_FORMAT_H
#define TT_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <linux/types.h>
#include "tcptrail.h"
#include "cgroup.h"
#include "outbuf.h"

struct jsonw;

#define TT_ADDRSTRLEN 46 /* INET6_ADDRSTRLEN */

#define FMT_ADDR_MEMO 8 /* printed addresses remembered (a power of two) */
#define FMT_CG_MEMO   8 /* JSON of cgroups remembered (a power of two) */

/* The cgroup keys of a JSON line, for the cgroup description with this serial number. */
struct fmt_cg_memo {
	uint64_t serial; /* 0: empty */
	size_t len;
	char json[448];
};

struct fmt_addr_memo {
	uint8_t used;
	uint8_t family;
	uint8_t len;
	uint8_t addr[16];
	char str[TT_ADDRSTRLEN];
};

/*
 * Formatting settings plus caches: the broken-down time of the current second, and the text
 * of values that repeat from line to line (addresses, the owner, the netns), which would
 * otherwise be most of the cost of a line.
 */
struct fmt_ctx {
	int extended; /* text: SOCK and NETNS columns */
	int64_t local_sec;
	char local_hms[8]; /* "HH:MM:SS" of local_sec */
	int64_t utc_sec;
	char utc_stamp[19]; /* "YYYY-MM-DDTHH:MM:SS" of utc_sec */
	struct fmt_addr_memo addr[FMT_ADDR_MEMO];
	int owner_used;
	uint32_t owner_pid;
	char owner_comm[TT_COMM_LEN];
	size_t owner_len;
	char owner_json[128]; /* ,"pid":N,"comm":"..." of owner_pid/owner_comm */
	int netns_used;
	uint32_t netns;
	size_t netns_len;
	char netns_str[10];
	struct fmt_cg_memo cg[FMT_CG_MEMO];
};

void fmt_ctx_init(struct fmt_ctx *c, int extended);

/*
 * Printable address: dotted quad for AF_INET and for IPv4-mapped IPv6, RFC 5952 otherwise.
 * buf holds TT_ADDRSTRLEN bytes; returns the length (NUL-terminated).
 */
size_t fmt_addr(char *buf, int family, const uint8_t addr[16]);

/* fmt_addr()'s text as the next JSON string value of w (records other than events). */
void fmt_json_addr(struct jsonw *w, int family, const uint8_t addr[16]);
/* "pid" and "comm" members of w's object: null both when the owner is not known. */
void fmt_json_owner(struct jsonw *w, int known, uint32_t pid, const char *comm);

/* "tcp" or "tcp6", from the socket family. */
const char *fmt_proto(int family);

/* "HH:MM:SS.mmm" local time (12 bytes, no NUL) of a CLOCK_REALTIME ns value. */
void fmt_time_local(struct fmt_ctx *c, uint64_t wall_ns, char out[12]);
/* ob_rfc3339()'s "YYYY-MM-DDTHH:MM:SS.uuuuuuZ" (27 bytes, no NUL), the second's text kept. */
void fmt_time_rfc3339(struct fmt_ctx *c, uint64_t wall_ns, char out[27]);

/* Text columns of tracing output, one line with '\n'. */
void fmt_text_header(struct outbuf *ob, const struct fmt_ctx *c);

struct owners_list;

/*
 * One event as a text line or JSON object line. lsvc/rsvc are the service names of the ports
 * (NULL: print the number / null). holders: for a stuck alert, the processes that held the
 * socket when it was raised (text: snapshot -p's PID/Program name after the last column; JSON:
 * "owners" after pid/comm); NULL for transitions and for alerts whose holders are not known.
 * cg: the socket's cgroup (text with -e: the CGROUP column; JSON: the cgroup, container,
 * container_id, pod and unit keys at the end), &cg_none when not known; NULL for a record of a
 * version before the keys (JSON without them, as it was written; "-" in text).
 */
void fmt_event_text(struct outbuf *ob, struct fmt_ctx *c, const struct tt_event *e,
		    uint64_t wall_ns, const char *lsvc, const char *rsvc,
		    const struct owners_list *holders, const struct cg_desc *cg);
/* The record format's writer of state and stuck records: record_write.c, beside its reader. */
void fmt_event_json(struct outbuf *ob, struct fmt_ctx *c, const struct tt_event *e,
		    uint64_t wall_ns, const char *lsvc, const char *rsvc,
		    const struct owners_list *holders, const struct cg_desc *cg);

/*
 * The record of events the ring buffer lost, one line: written while tracing and again by
 * replay -o json, which must print it as it was recorded. Not per event: written with jsonw.
 */
void fmt_lost_json(struct outbuf *ob, uint64_t wall_ns, uint64_t count, uint64_t total);

/*
 * ,"cgroup":...,"container":...,"container_id":...,"pod":...,"unit":... of cg (all null for
 * cg_none, nothing for NULL), remembered by cg->serial. Shared with snapshot's rows.
 */
void fmt_cgroup_json(struct outbuf *ob, struct fmt_ctx *c, const struct cg_desc *cg);
/* The CGROUP column's text (cg_label()), control characters and invalid UTF-8 as '?'. */
void fmt_cgroup_text(struct outbuf *ob, const struct cg_desc *cg);

/* "addr:port" or "addr:service"; "*" for port 0 as netstat does. */
void fmt_endpoint(struct outbuf *ob, int family, const uint8_t addr[16], uint16_t port,
		  const char *svc);

/* fmt_addr() through the context's memo of recent addresses. */
static inline const char *fmt_addr_text(struct fmt_ctx *c, int family, const uint8_t addr[16],
					size_t *len)
{
	unsigned h =
		(unsigned)(addr[3] ^ addr[15] ^ (addr[14] << 1) ^ family) & (FMT_ADDR_MEMO - 1);
	struct fmt_addr_memo *m = &c->addr[h];

	if (!m->used || m->family != family || memcmp(m->addr, addr, 16)) {
		m->len = (uint8_t)fmt_addr(m->str, family, addr);
		m->family = (uint8_t)family;
		memcpy(m->addr, addr, 16);
		m->used = 1;
	}
	*len = m->len;
	return m->str;
}

/* ns as ms with 3 decimals (microsecond precision). */
static inline void fmt_ns_as_ms(struct outbuf *ob, uint64_t ns)
{
	ob_fixed(ob, ns / 1000, 3);
}

#endif
