/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Per-socket memory by cookie: who owns a socket, when its state began, how it ends.
 * Included by tcptrail.bpf.c only, in the order it gives.
 */
#ifndef TT_SKTABLE_BPF_H
#define TT_SKTABLE_BPF_H

/*
 * Who holds a socket: the thread-group id and the group leader's comm (the process name that
 * /proc/PID/comm, ss -p and snapshot -p show), with the leader's exec count, so an exec under
 * the same pid refreshes the name.
 */
struct owner {
	__u32 pid;
	__u32 exec_id;
	char comm[TT_COMM_LEN];
};

/* Per-socket memory: when the socket was born and its state began, who owns it, how it ends. */
struct sk_info {
	__u64 state_ts;
	__u64 born_ts; /* first transition seen */
	struct owner owner;
	__u16 reset_reason; /* of the last reset sent, with has_reason */
	__u16 syn_retrans;  /* retransmits while in SYN_SENT / SYN_RECV */
	__u8 owner_known;   /* OWNER_KNOWN, OWNER_MOVED (the holder let it go) or OWNER_QUEUED */
	__u8 last_reset;    /* RESET_IN or RESET_OUT: the last reset seen */
	__u8 has_reason;    /* the kernel gave reset_reason */
	__u8 delta_min;	    /* state_ts is the tracer's start, not the state's */
	__u8 born_min;	    /* born_ts is the tracer's start */
	__u8 has_pending;   /* an event in `pending` waits for the addresses of an IPv6 child */
	__u8 active;	 /* opened by connect(): the peer's ACK of our SYN counts in bytes_acked */
	__u8 listener;	 /* in LISTEN: a clone event under its cookie is a child's (see held) */
	__u32 holder_fd; /* with holder_task: where the owner keeps the socket's file */
	__u64 holder_task; /* the owner's leader task (holder.bpf.h), 0 if unknown */
};

#define OWNER_KNOWN  1
#define OWNER_MOVED  2
#define OWNER_QUEUED 3 /* from a listener several processes hold: the acceptor is not known yet */

#define RESET_IN  1
#define RESET_OUT 2

/*
 * Per-socket memory, by socket cookie (never reused, unlike a socket's address): an array of
 * TT_SK_WAYS-way buckets, claimed with a compare-and-swap and freed at every socket's final
 * -> CLOSE. No lock, no allocation and no hashing: cookies are handed out in sequence, so
 * cookie % buckets spreads them evenly, and a bucket's cookies share one cache line. This
 * costs a fraction of a BPF hash map's update/delete and of socket storage's
 * create/delete/RCU-free cycle, which dominated the program's cost per connection.
 */
#define TT_SK_WAYS    8
#define TT_SK_BUCKETS (TT_MAX_SOCKETS / TT_SK_WAYS)

struct sk_bucket {
	__u64 cookie[TT_SK_WAYS]; /* 0: free */
	struct sk_info info[TT_SK_WAYS];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TT_SK_BUCKETS);
	__type(key, __u32);
	__type(value, struct sk_bucket);
} sk_infos SEC(".maps");

static __always_inline struct sk_bucket *bucket_of(__u64 cookie)
{
	__u32 idx = (__u32)(cookie & (TT_SK_BUCKETS - 1));

	return bpf_map_lookup_elem(&sk_infos, &idx);
}

/*
 * The slot of a cookie in its bucket, claiming a free one if asked; -1 if none. A global
 * function: its two scans are verified once, not on every path of every caller.
 */
__noinline int info_slot(__u64 cookie, int create)
{
	struct sk_bucket *b = bucket_of(cookie);

	/* Cookies start at 1; 0 marks a free slot. */
	if (!b || !cookie)
		return -1;
	for (int i = 0; i < TT_SK_WAYS; i++) {
		if (b->cookie[i] == cookie)
			return i;
	}
	if (!create)
		return -1;
	for (int i = 0; i < TT_SK_WAYS; i++) {
		if (b->cookie[i] || __sync_val_compare_and_swap(&b->cookie[i], 0, cookie))
			continue;
		__builtin_memset(&b->info[i], 0, sizeof(b->info[i]));
		return i;
	}
	count_lost(TT_LOST_UNTRACKED);
	return -1;
}

static __always_inline struct sk_info *info_get(__u64 *cookie, bool create)
{
	int slot = info_slot(*cookie, create);
	struct sk_bucket *b;

	if (slot < 0)
		return NULL;
	b = bucket_of(*cookie);
	return b ? &b->info[slot & (TT_SK_WAYS - 1)] : NULL;
}

/* Every slot of the cookie: a seed walk racing an event may have claimed a second one. */
static __always_inline void info_delete(__u64 cookie)
{
	struct sk_bucket *b = bucket_of(cookie);

	if (!b)
		return;
	for (int i = 0; i < TT_SK_WAYS; i++) {
		if (b->cookie[i] == cookie)
			b->cookie[i] = 0;
	}
}

#endif /* TT_SKTABLE_BPF_H */
