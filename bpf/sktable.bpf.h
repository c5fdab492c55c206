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
	__u8 last_reset;    /* RESET_OUT: a reset was sent */
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

#define RESET_OUT 2

/*
 * Per-socket memory, by socket cookie (never reused, unlike a socket's address), in two parts,
 * both without a lock or an allocation:
 *
 * - sk_infos, a pool of TT_MAX_SOCKETS records. A closing socket's record goes on its CPU's
 *   stack of free records and the next socket takes it from there: still in the cache. (A slot
 *   fixed by the cookie, as before, was a line last touched a 37 MB cycle ago: a cache and TLB
 *   miss for every new socket, 30-40 ns per event under churn.)
 * - sk_index, cookie -> record, in TT_SK_WAYS-way buckets claimed with a compare-and-swap. A
 *   cookie's near bucket holds 8 consecutive cookies (the kernel hands them out in sequence per
 *   CPU), so a new socket finds its bucket's lines warm; its far bucket, one cookie per bucket,
 *   takes it when long-lived neighbours filled the near one.
 */
#define TT_SK_WAYS	   8
#define TT_SK_BUCKETS	   (TT_MAX_SOCKETS / 4) /* index entries: twice the records */
#define TT_SK_FREE_PER_CPU 256

struct sk_bucket {
	__u64 cookie[TT_SK_WAYS]; /* 0: free */
	__u32 slot[TT_SK_WAYS];	  /* the cookie's record + 1; 0 while it is being claimed */
	__u32 spilled; /* as a near bucket: some of its cookies went to their far bucket */
	__u32 pad[TT_SK_WAYS - 1];
};

/* Mappable arrays start their values on a page: buckets and records each fill whole lines. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TT_SK_BUCKETS);
	__type(key, __u32);
	__type(value, struct sk_bucket);
	__uint(map_flags, BPF_F_MMAPABLE);
} sk_index SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TT_MAX_SOCKETS);
	__type(key, __u32);
	__type(value, struct sk_info);
	__uint(map_flags, BPF_F_MMAPABLE);
} sk_infos SEC(".maps");

/*
 * Free records: a stack per CPU, then a shared queue, then records never used yet. A free record
 * on another CPU's stack waits there for that CPU's next new socket. Only the state handler uses
 * the stacks, so they need no lock: a nested run of it (kernels before 6.1) leaves before it
 * gets here (tcptrail.bpf.c), and the start-up walk, which a softirq's state event can
 * interrupt, takes and gives back through the shared queue.
 */
struct sk_free_stack {
	__u32 n;
	__u32 slot[TT_SK_FREE_PER_CPU];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sk_free_stack);
} sk_free SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, TT_MAX_SOCKETS);
	__type(value, __u32);
} sk_free_shared SEC(".maps");

__u32 sk_never_used; /* records from here on were never taken */

#define INFO_FIND  0 /* a followed socket's record */
#define INFO_CLAIM 1 /* its record, taken if it has none */
#define INFO_FRESH 2 /* a record for a cookie just made: nobody can have one for it */
#define INFO_SEED  3 /* INFO_CLAIM from the start-up walk, which leaves the CPU stacks alone */

/* own_cpu: the state handler's call, which may use its CPU's stack. */
static __always_inline struct sk_free_stack *free_stack(bool own_cpu)
{
	__u32 zero = 0;

	return own_cpu ? bpf_map_lookup_elem(&sk_free, &zero) : NULL;
}

static __always_inline int record_take(bool own_cpu)
{
	struct sk_free_stack *st = free_stack(own_cpu);
	__u32 s;

	if (st) {
		__u32 n = st->n;

		if (n > 0 && n <= TT_SK_FREE_PER_CPU) {
			st->n = n - 1;
			return st->slot[n - 1];
		}
	}
	if (!bpf_map_pop_elem(&sk_free_shared, &s))
		return s;
	/* Checked first: a full pool must not count on until the counter wraps to records in use. */
	if (sk_never_used >= TT_MAX_SOCKETS)
		return -1;
	s = __sync_fetch_and_add(&sk_never_used, 1);
	return s < TT_MAX_SOCKETS ? (int)s : -1;
}

static __always_inline void record_give(__u32 s, bool own_cpu)
{
	struct sk_free_stack *st = free_stack(own_cpu);

	if (st) {
		__u32 n = st->n;

		if (n < TT_SK_FREE_PER_CPU) {
			st->slot[n] = s;
			st->n = n + 1;
			return;
		}
	}
	bpf_map_push_elem(&sk_free_shared, &s, 0);
}

static __always_inline struct sk_bucket *bucket_of(__u64 cookie, int far)
{
	__u32 idx = (__u32)((far ? cookie : cookie / TT_SK_WAYS) & (TT_SK_BUCKETS - 1));

	return bpf_map_lookup_elem(&sk_index, &idx);
}

static __always_inline int record_in(struct sk_bucket *b, __u64 cookie)
{
	for (int i = 0; i < TT_SK_WAYS; i++) {
		if (b->cookie[i] == cookie)
			return (int)b->slot[i] - 1;
	}
	return -1;
}

static __always_inline bool claim_in(struct sk_bucket *b, __u64 cookie, __u32 s)
{
	for (int i = 0; i < TT_SK_WAYS; i++) {
		if (b->cookie[i] || __sync_val_compare_and_swap(&b->cookie[i], 0, cookie))
			continue;
		b->slot[i] = s + 1;
		return true;
	}
	return false;
}

/* The record of a cookie (INFO_*), -1 if none. */
static __always_inline int info_slot_inline(__u64 cookie, int how)
{
	struct sk_bucket *near = bucket_of(cookie, 0), *far = bucket_of(cookie, 1);
	struct sk_info *info;
	int s;

	/* Cookies start at 1; 0 marks a free entry. */
	if (!near || !far || !cookie)
		return -1;
	if (how != INFO_FRESH) {
		s = record_in(near, cookie);
		/* Only if it spilled: most misses are for closed sockets, and far is a cold line. */
		if (s < 0 && near->spilled)
			s = record_in(far, cookie);
		if (s >= 0 || how == INFO_FIND)
			return s;
	}
	s = record_take(how != INFO_SEED);
	if (s < 0)
		goto full;
	info = bpf_map_lookup_elem(&sk_infos, &s);
	if (info)
		__builtin_memset(info, 0, sizeof(*info));
	if (claim_in(near, cookie, s))
		return s;
	if (!near->spilled)
		near->spilled = 1;
	if (claim_in(far, cookie, s))
		return s;
	record_give(s, how != INFO_SEED);
full:
	count_lost(TT_LOST_UNTRACKED);
	return -1;
}

/*
 * The same, as a global function for the rare callers: its scans are verified once, not on
 * every path of every caller. The state handler takes a new socket's record inline (info_take).
 */
__noinline int info_slot(__u64 cookie, int how)
{
	return info_slot_inline(cookie, how);
}

/*
 * A followed socket's record without a call (INFO_FIND inline): for the hooks that run on every
 * socket I/O and the state handler's events after a socket's first. With this VM's return
 * thunks a call and its return cost more than the scan.
 */
static __always_inline struct sk_info *info_find(__u64 cookie)
{
	struct sk_bucket *b = bucket_of(cookie, 0);
	int s;

	if (!b || !cookie)
		return NULL;
	s = record_in(b, cookie);
	if (s < 0 && b->spilled) {
		b = bucket_of(cookie, 1);
		if (b)
			s = record_in(b, cookie);
	}
	return s < 0 ? NULL : bpf_map_lookup_elem(&sk_infos, &s);
}

/*
 * Touches the cookie's near bucket, so that its page walk runs while the handler does other
 * work (the clock read) instead of stalling the lookup (sk_index is vmalloc()ed: 4 KB pages,
 * and this VM's TLB keeps none of them from one event to the next).
 */
static __always_inline void info_warm(__u64 cookie)
{
	struct sk_bucket *b = bucket_of(cookie, 0);

	if (b && cookie)
		asm volatile("" ::"r"(*(volatile __u32 *)&b->spilled));
}

static __always_inline struct sk_info *info_take(__u64 cookie, int how)
{
	int s = info_slot_inline(cookie, how);

	return s < 0 ? NULL : bpf_map_lookup_elem(&sk_infos, &s);
}

static __always_inline struct sk_info *info_get(__u64 *cookie, int how)
{
	int s = info_slot(*cookie, how);

	return s < 0 ? NULL : bpf_map_lookup_elem(&sk_infos, &s);
}

/* Clears the cookie's entries in b, their records back to the free ones; whether it had any. */
static __always_inline bool forget_in(struct sk_bucket *b, __u64 cookie)
{
	bool found = false;

	for (int i = 0; i < TT_SK_WAYS; i++) {
		__u32 s;

		if (b->cookie[i] != cookie)
			continue;
		/* The record first: a reader that finds the cookie sees "being claimed". */
		s = b->slot[i];
		b->slot[i] = 0;
		b->cookie[i] = 0;
		if (s)
			record_give(s - 1, true);
		found = true;
	}
	return found;
}

/*
 * Every entry of the cookie in its near bucket (a seed walk racing the first event may have
 * claimed a second one), in the far bucket only when the near has none and has spilled: it
 * is a cold line. The state handler's only.
 */
static __always_inline void info_delete(__u64 cookie)
{
	struct sk_bucket *near = bucket_of(cookie, 0), *far = bucket_of(cookie, 1);

	if (near && !forget_in(near, cookie) && near->spilled && far)
		forget_in(far, cookie);
}

#endif /* TT_SKTABLE_BPF_H */
