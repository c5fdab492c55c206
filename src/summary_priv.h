/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_SUMMARY_PRIV_H
#define TT_SUMMARY_PRIV_H

/*
 * Inside replay --summary (summary.c counts, summary_lists.c sorts what the renderers list,
 * summary_text.c and summary_json.c render): the tables' entries and what the files share.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "hist.h"
#include "jsonw.h"
#include "outbuf.h"
#include "summary.h"
#include "table.h"

#define TOP_N	  10
#define MAX_STUCK 20		  /* alerts listed; all are counted */
#define MAX_OPEN  100		  /* open sockets listed in text */
#define JSON_OPEN (10 * MAX_OPEN) /* and in JSON */

/* ---- entries ---- */

/* An open socket: what the open-at-end list prints of its last transition. */
struct sock_ent {
	uint64_t cookie;   /* key */
	uint64_t since_ns; /* when it entered state */
	uint32_t pid;
	uint32_t netns;
	uint8_t saddr[16];
	uint8_t daddr[16];
	uint16_t sport, dport;
	uint8_t family;
	uint8_t state;
	uint8_t owner_known;
	uint8_t pad;
	char comm[TT_COMM_LEN];
};

/* The socket's addresses, ports, family and namespace, from an event to a sock_ent or back. */
#define SM_COPY_ENDPOINTS(dst, src)                     \
	do {                                            \
		(dst)->netns = (src)->netns;            \
		memcpy((dst)->saddr, (src)->saddr, 16); \
		memcpy((dst)->daddr, (src)->daddr, 16); \
		(dst)->sport = (src)->sport;            \
		(dst)->dport = (src)->dport;            \
		(dst)->family = (src)->family;          \
	} while (0)

struct proc_key {
	uint32_t pid;
	uint32_t known;
	char comm[TT_COMM_LEN];
};

/* What the top lists count of a process, container/unit or remote endpoint. */
struct top_counts {
	uint64_t events, conns;
};

/* What a process or remote endpoint counts: the top list's counts, its ended connections' bytes. */
struct talker {
	struct top_counts counts;
	uint64_t bytes_sent, bytes_received;
};

struct proc_ent {
	struct proc_key k;
	struct talker t;
};

/* What the CGROUP column shows of a socket's cgroup: a container, else a unit, else the path. */
enum cgrp_kind {
	CGRP_NONE = 0, /* no cgroup in the log (older logs, a cgroup gone before it was seen) */
	CGRP_CONTAINER = 1,
	CGRP_UNIT = 2,
	CGRP_PATH = 3,
};

#define CGRP_NAME 512 /* bytes of the name kept: every id and unit, nearly every path */

struct cgrp_key {
	uint64_t h; /* of the whole name: a cut path is still told apart */
	uint32_t kind;
	uint32_t len;
};

struct cgrp_ent {
	struct cgrp_key k;
	struct top_counts counts;
	char pod[CG_POD_LEN + 1]; /* a container's pod, as first seen */
	char name[CGRP_NAME];	  /* NUL-terminated, cut at CGRP_NAME - 1 */
};

struct remote_key {
	uint8_t family;
	uint8_t pad;
	uint16_t port;
	uint8_t addr[16];
};

struct remote_ent {
	struct remote_key k;
	uint32_t pad;
	struct talker t;
};

/* The service name the log gave for a remote port (the first one). */
struct svc_ent {
	uint16_t port;
	char name[LR_SVC_LEN];
};

struct stuck_ent {
	struct tt_event ev;
	uint64_t wall_ns;
};

struct summary {
	uint64_t records, headers, state_events, stuck_events, lost_records, lost_count;
	int have_time; /* first_ns/last_ns are set (0 is a time: the epoch) */
	uint64_t first_ns, last_ns;
	uint64_t trans[TT_STATE_MAX][TT_STATE_MAX];
	uint64_t opened_active, opened_passive, closed, failed, resets;
	uint64_t stuck_by_state[TT_STATE_MAX];
	struct hist dur[TT_STATE_MAX]; /* time in state in us, by state */
	uint64_t dur_min_only;	       /* deltas that were only lower bounds, left out */
	/* How connections ended: final transitions (TT_F_TOTALS) by cause, and their totals. */
	uint64_t ends[TT_CAUSE_MAX];
	uint64_t ended, bytes_sent, bytes_received, retrans, retrans_conns, syn_retrans;
	struct hist life[TT_CAUSE_MAX]; /* life in us by cause; [TT_CAUSE_NONE]: all of them */
	uint64_t life_min_only;		/* lifetimes that were only lower bounds, left out */
	struct table_budget budget;
	struct table socks, procs, remotes;
	struct table cgroups;  /* struct cgrp_ent */
	uint64_t cgroup_known; /* events whose log named their cgroup */
	/*
	 * The service names of remote ports: per port rather than per endpoint, so an endpoint
	 * costs 40 bytes instead of 104 (and a log names a few hundred ports, not millions).
	 */
	struct table svcs;
	struct summary_untracked untracked;
	struct stuck_ent stuck[MAX_STUCK];
	int nstuck;
	int oom;
};
struct trans {
	int o, n;
	uint64_t count;
};

/*
 * A "Top ..." list: the busiest entries of a table, each with its connections and events and
 * what the list's printers say of it, and how many events the memory bound kept out of it.
 */
struct top_list {
	const struct table *t;
	table_cmp cmp;
	int shown;		    /* 0: the log has nothing for this list (text: no table) */
	size_t counts_at;	    /* offsetof the entry's struct top_counts */
	uint64_t untracked;	    /* events of entries first seen past the bound */
	const char *untracked_what; /* "processes" */
	const char *title;	    /* text: "Top processes" */
	/* text: the titles and the values of the columns after CONNS and EVENTS */
	void (*text_titles)(struct outbuf *ob);
	void (*text_row)(const struct summary *s, struct outbuf *ob, const void *entry,
			 int numeric);
	const char *json_key;
	/* JSON: the members of the entry's object */
	void (*json_item)(const struct summary *s, struct jsonw *w, const void *entry);
};

enum {
	TOP_PROCS,
	TOP_CGROUPS,
	TOP_REMOTES,
	TOP_LISTS
};

/* summary_lists.c */
const char *sm_cgrp_kind_name(uint32_t kind);
int sm_cmp_sock(const void *a, const void *b);
void sm_sock_event(const struct sock_ent *se, struct tt_event *e);
const char *sm_svc_of(const struct summary *s, uint16_t port);
size_t sm_list_trans(const struct summary *s, struct trans *t);
size_t sm_list_ends(const struct summary *s, unsigned int order[TT_CAUSE_MAX]);
void sm_top_lists(const struct summary *s, struct top_list l[TOP_LISTS]);

/* summary_text.c */
void sm_text_proc_titles(struct outbuf *ob);
void sm_text_proc_row(const struct summary *s, struct outbuf *ob, const void *entry, int numeric);
void sm_text_cgrp_titles(struct outbuf *ob);
void sm_text_cgrp_row(const struct summary *s, struct outbuf *ob, const void *entry, int numeric);
void sm_text_remote_titles(struct outbuf *ob);
void sm_text_remote_row(const struct summary *s, struct outbuf *ob, const void *entry, int numeric);

/* summary_json.c */
void sm_json_proc_item(const struct summary *s, struct jsonw *w, const void *entry);
void sm_json_cgrp_item(const struct summary *s, struct jsonw *w, const void *entry);
void sm_json_remote_item(const struct summary *s, struct jsonw *w, const void *entry);

#endif
