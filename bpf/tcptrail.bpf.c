// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tcptrail: TCP state transitions from sock:inet_sock_set_state, attributed to the process that
 * owns the socket, streamed through a ring buffer.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "tcptrail.h"

#include "consts.bpf.h"
#include "sockfile.bpf.h"
#include "cgroup.bpf.h"
#include "holder.bpf.h"

/* Filters, set by the loader before load; zero counts mean "no filter". */
const volatile __u8 filter_family; /* 4 or 6 */
const volatile __u32 filter_state_mask;
const volatile __u32 filter_npids;
const volatile __u32 filter_pids[TT_MAX_FILTER];
const volatile __u32 filter_ncomms;
const volatile char filter_comms[TT_MAX_FILTER][TT_COMM_LEN];
const volatile __u32 filter_nports;
const volatile __u16 filter_ports[TT_MAX_FILTER];
const volatile __u32 filter_nlports;
const volatile __u16 filter_lports[TT_MAX_FILTER];
const volatile __u32 filter_nrports;
const volatile __u16 filter_rports[TT_MAX_FILTER];
const volatile __u32 filter_nnetns;
const volatile __u32 filter_netns[TT_MAX_FILTER];
/* --cgroup: cgroup v2 ids and their depths; a socket matches at or below any of them. */
const volatile __u32 filter_ncgroups;
const volatile __u64 filter_cgroup_ids[TT_MAX_FILTER];
const volatile __u32 filter_cgroup_levels[TT_MAX_FILTER];
/* --cause: only final transitions with these causes (bits of enum tt_cause). */
const volatile __u32 filter_cause_mask;
/* Any of the filters above but --cgroup is set: without one, event_wanted() is not called. */
const volatile __u8 any_filter = 1;

/* Bits of enum tt_bpf_part whose programs fail verification on purpose: tests only. */
const volatile __u32 test_refuse;

/* Verified only when asked (the branch on a read-only value is pruned): a refusal for tests. */
#define TEST_REFUSAL(part)                                                                \
	do {                                                                              \
		if (test_refuse & (1u << (part))) {                                       \
			__u32 zero = 0;                                                   \
			__u64 *v = bpf_map_lookup_elem(&lost, &zero);                     \
			return v ? (int)v[4096] : 0; /* past the value: always refused */ \
		}                                                                         \
	} while (0)

/*
 * Wakeup policy: a wakeup (an irq_work self-IPI) costs the producer far more than the record
 * itself, so there is at most one per wakeup_interval_ns: forced when wakeup_fill_bytes wait
 * unread, else only if the consumer has caught up (light traffic: the first event after a quiet
 * interval wakes it at once). The loader's short poll timeout collects anything left in between.
 * Forcing on every record past the fill mark would signal a consumer that is already draining
 * the ring on each record it still has to read.
 */
const volatile __u64 wakeup_interval_ns = 1000000;
const volatile __u64 wakeup_fill_bytes = 1 << 20;
__u64 last_wakeup_ns;

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

/*
 * A child's first event (CLOSE -> SYN_RECV), held until its next transition, by socket address:
 * it fires inside the clone of the listener, before the kernel gives the child its addresses
 * (IPv6 on every kernel, IPv4 too on 6.1 and 6.12) and, on 6.1 and 6.12, its own cookie.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct tt_event);
} pending SEC(".maps");

#define TT_HOLD_MAX_NS (5ULL * 1000000000)

/*
 * A listening address: what a child carries from its listener. The wildcard address is all
 * zeroes, so a child first looks for its exact local address, then for the wildcard, the order
 * in which the kernel prefers listeners.
 */
struct listen_key {
	__u32 netns;
	__u16 port;
	__u8 family;
	__u8 pad;
	__u8 addr[16];
};

/*
 * The listening sockets of one address: one, or a SO_REUSEPORT group. The kernel does not say
 * which member took a child before accept(), so children name the group's owner: the holder
 * of the member that last listened or accepted, replaced by another member's when that member
 * closes. Members past TT_LISTEN_MEMBERS are counted, not remembered.
 */
#define TT_LISTEN_MEMBERS 8

struct listen_group {
	__u32 members;
	__u32 holder_fd; /* with holder_task: where the owner keeps `file` */
	__u64 cookie[TT_LISTEN_MEMBERS];
	__u64 owner_cookie; /* the member whose holder `owner` is */
	struct owner owner;
	__u64 holder_task; /* the owner's leader task (holder.bpf.h), 0 if unknown */
	__u64 file;	   /* the owner member's socket file, 0 if unknown */
	__u32 moved;	   /* the owner let the listener go to a process not known yet */
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TT_MAX_LISTENERS);
	__type(key, struct listen_key);
	__type(value, struct listen_group);
} listeners SEC(".maps");

/*
 * Processes named as a listener group's owner, and the child each of them forked last: when
 * such a process exits while the listener lives on (a daemon's launcher, a worker that
 * accepted, an old master after a binary upgrade), its groups pass to a live process. The
 * groups it was named for are noted so that its exit visits them alone; one named for more
 * than TT_OWNER_GROUPS walks the whole listener table instead. A note may outlive the naming
 * (another member took over, the group ended): the exit checks each group's owner again.
 */
#define TT_OWNER_GROUPS	     4
#define TT_MAX_LISTEN_OWNERS 16384

struct listen_owner {
	__u32 heir;    /* tgid of the last child it forked, or 0 */
	__u32 ngroups; /* groups noted; past TT_OWNER_GROUPS only counted */
	struct listen_key groups[TT_OWNER_GROUPS];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TT_MAX_LISTEN_OWNERS);
	__type(key, __u32); /* tgid */
	__type(value, struct listen_owner);
} listen_owners SEC(".maps");

extern struct task_struct *bpf_task_from_pid(s32 pid) __ksym __weak;
extern void bpf_task_release(struct task_struct *p) __ksym __weak;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} events SEC(".maps");

/* Events that found the ring buffer full, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TT_LOST_MAX);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

/* Direct loads, not bpf_probe_read(): sk is a BTF pointer here, and each helper call counts. */
static __always_inline __u32 sk_netns(const struct sock *sk)
{
	return sk->__sk_common.skc_net.net->ns.inum;
}

static __always_inline bool is_v4_mapped(const __u8 *a)
{
	__u64 lo;
	__u32 mid;

	__builtin_memcpy(&lo, a, 8);
	__builtin_memcpy(&mid, a + 8, 4);
	return lo == 0 && mid == bpf_htonl(0x0000ffff);
}

static __always_inline bool port_in(__u16 port, const volatile __u16 *list, __u32 n)
{
	for (__u32 i = 0; i < TT_MAX_FILTER; i++) {
		if (i >= n)
			break;
		if (list[i] == port)
			return true;
	}
	return false;
}

static __always_inline bool u32_in(__u32 v, const volatile __u32 *list, __u32 n)
{
	for (__u32 i = 0; i < TT_MAX_FILTER; i++) {
		if (i >= n)
			break;
		if (list[i] == v)
			return true;
	}
	return false;
}

static __always_inline bool comm_in(const char *comm)
{
	for (__u32 i = 0; i < TT_MAX_FILTER; i++) {
		if (i >= filter_ncomms)
			break;
		bool same = true;
		for (int j = 0; j < TT_COMM_LEN; j++) {
			if (filter_comms[i][j] != comm[j]) {
				same = false;
				break;
			}
			if (!comm[j])
				break;
		}
		if (same)
			return true;
	}
	return false;
}

static __always_inline bool state_wanted(int oldstate, int newstate)
{
	if (!filter_state_mask)
		return true;
	return (filter_state_mask & (1u << oldstate)) || (filter_state_mask & (1u << newstate));
}

/*
 * Transitions made by a system call of the socket's user, where current holds the socket's
 * file: connect, listen, close and shutdown. (A kernel thread can run them too, for example
 * the UNIX-socket garbage collector dropping the last reference to a file in flight.)
 */
static __always_inline bool in_owner_context(int oldstate, int newstate)
{
	switch (newstate) {
	case TCP_SYN_SENT:
	case TCP_LISTEN:
		return oldstate == TCP_CLOSE;
	case TCP_FIN_WAIT1:
		return oldstate == TCP_ESTABLISHED || oldstate == TCP_SYN_RECV;
	case TCP_LAST_ACK:
		return oldstate == TCP_CLOSE_WAIT;
	case TCP_CLOSE:
		return oldstate == TCP_LISTEN;
	}
	return false;
}

/* The process current belongs to, or false for a kernel thread (it holds no files). */
static __always_inline bool current_owner(struct owner *o)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct task_struct *leader;

	if (task->flags & PF_KTHREAD)
		return false;
	leader = task->group_leader;
	o->pid = task->tgid;
	o->exec_id = (__u32)leader->self_exec_id;
	/* Two direct loads: leader is a BTF pointer, no helper call needed. */
	__builtin_memcpy(o->comm, leader->comm, sizeof(o->comm));
	return true;
}

static __always_inline void set_owner(struct sk_info *info, const struct owner *o)
{
	__builtin_memcpy(&info->owner, o, sizeof(*o));
	info->owner_known = OWNER_KNOWN;
	info->holder_task = 0;
	info->holder_fd = 0;
}

/* No fd of the system call's held the socket: not looked for again until the owner changes. */
#define HOLDER_UNFOUND ((__u32)-1)

/* Where current, the owner just set, keeps the socket's file (holder.bpf.h). */
static __always_inline void note_holder(struct sk_info *info, struct sock *sk)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct socket *so = sk->sk_socket;
	__u32 fd;

	if (so && syscall_fd_of(task, (__u64)so->file, &fd)) {
		info->holder_task = (__u64)task->group_leader;
		info->holder_fd = fd;
	} else {
		info->holder_fd = HOLDER_UNFOUND;
	}
}

/*
 * Whether the owner known still holds the socket (an orphan's owner is the process that closed
 * it): the event is about to name it. When it no longer does, the socket's owner is unknown
 * until its next holder shows itself.
 */
__noinline int owner_still_holds(struct sk_info *info, __u64 file)
{
	int fd;

	if (!info || !info->holder_task || !file)
		return 1;
	fd = holder_still_holds(info->holder_task, info->holder_fd, file);
	if (fd >= 0) {
		info->holder_fd = fd;
		return 1;
	}
	info->owner_known = OWNER_MOVED;
	info->holder_task = 0;
	return 0;
}

static __always_inline void wakeup_or_not(__u64 now, __u64 *flags)
{
	if (now - last_wakeup_ns < wakeup_interval_ns) {
		*flags = BPF_RB_NO_WAKEUP;
		return;
	}
	last_wakeup_ns = now;
	/* Without FORCE the kernel wakes the consumer only if it has read everything. */
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_fill_bytes)
		*flags = BPF_RB_FORCE_WAKEUP;
	else
		*flags = 0;
}

static __always_inline void count_lost(__u32 what)
{
	__u64 *n = bpf_map_lookup_elem(&lost, &what);

	if (n)
		*n += 1;
}

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

static __always_inline void read_endpoints(struct tt_event *e, struct sock *sk, struct tcp_sock *tp)
{
	/* skc_num is 0 at the final CLOSE (the port is released first); inet_sport is not. */
	if (tp)
		e->sport = bpf_ntohs(tp->inet_conn.icsk_inet.inet_sport);
	e->dport = bpf_ntohs(sk->__sk_common.skc_dport);
	if (e->family == AF_INET) {
		__builtin_memcpy(e->saddr, &sk->__sk_common.skc_rcv_saddr, 4);
		__builtin_memcpy(e->daddr, &sk->__sk_common.skc_daddr, 4);
	} else {
		__builtin_memcpy(e->saddr, &sk->__sk_common.skc_v6_rcv_saddr, 16);
		__builtin_memcpy(e->daddr, &sk->__sk_common.skc_v6_daddr, 16);
	}
}

/*
 * The userspace filters, in the kernel: a filtered event never crosses the ring. A global
 * function, so the verifier checks its loops once, not at every call site and path.
 */
__noinline int event_wanted(const struct tt_event *e)
{
	bool owner, owner_filters = true;

	if (!e)
		return 0;
	owner = e->flags & TT_F_OWNER_KNOWN;
	if (!state_wanted(e->oldstate, e->newstate))
		return false;
	if (filter_cause_mask && !(filter_cause_mask & (1u << e->cause)))
		return false;
	if (filter_nnetns && !u32_in(e->netns, filter_netns, filter_nnetns))
		return false;
	if (filter_nports && !port_in(e->sport, filter_ports, filter_nports) &&
	    !port_in(e->dport, filter_ports, filter_nports))
		return false;
	if (filter_nlports && !port_in(e->sport, filter_lports, filter_nlports))
		return false;
	if (filter_nrports && !port_in(e->dport, filter_rports, filter_nrports))
		return false;
	/* Its acceptor is not known yet: user space applies --pid and --comm once it is. */
	if (e->flags & TT_F_PRE_ACCEPT)
		owner_filters = false;
	if (owner_filters && filter_npids && (!owner || !u32_in(e->pid, filter_pids, filter_npids)))
		return false;
	if (owner_filters && filter_ncomms && (!owner || !comm_in(e->comm)))
		return false;
	if (filter_family) {
		bool v4 =
			e->family == AF_INET || (is_v4_mapped(e->saddr) && is_v4_mapped(e->daddr));

		if ((filter_family == 4) != v4)
			return false;
	}
	return true;
}

static __always_inline bool cgroup_wanted(struct sock *sk)
{
	for (__u32 i = 0; i < TT_MAX_FILTER; i++) {
		if (i >= filter_ncgroups)
			break;
		if (sk_cgroup_under(sk, filter_cgroup_ids[i], filter_cgroup_levels[i]))
			return true;
	}
	return false;
}

/* A global function, verified once: it is called for held IPv6 children and for every event. */
__noinline int submit(const struct tt_event *e)
{
	struct tt_event *r;
	__u64 wflags;

	if (!e || (any_filter && !event_wanted(e)))
		return 0;
	/* Sizes are constants for the verifier: a reservation and a copy per record size. */
	if (e->flags & TT_F_TOTALS) {
		r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
		if (!r)
			goto full;
		__builtin_memcpy(r, e, sizeof(*r));
	} else {
		r = bpf_ringbuf_reserve(&events, TT_EVENT_BASE_SIZE, 0);
		if (!r)
			goto full;
		__builtin_memcpy(r, e, TT_EVENT_BASE_SIZE);
	}
	wakeup_or_not(e->ts_ns, &wflags);
	bpf_ringbuf_submit(r, wflags);
	return 0;
full:
	count_lost(TT_LOST_RINGBUF);
	return 0;
}

static __always_inline void event_owner(struct tt_event *e, const struct owner *o)
{
	e->pid = o->pid;
	__builtin_memcpy(e->comm, o->comm, TT_COMM_LEN);
	e->flags |= TT_F_OWNER_KNOWN;
}

static __always_inline void listen_key_of(struct listen_key *k, const struct tt_event *e)
{
	k->netns = e->netns;
	k->port = e->sport;
	k->family = e->family;
	k->pad = 0;
	__builtin_memcpy(k->addr, e->saddr, sizeof(k->addr));
}

/* The listening sockets a child arrived on: its own address's, else the wildcard's. */
static __always_inline struct listen_group *group_of(struct listen_key *k)
{
	struct listen_group *g = bpf_map_lookup_elem(&listeners, k);

	if (g)
		return g;
	__builtin_memset(k->addr, 0, sizeof(k->addr));
	return bpf_map_lookup_elem(&listeners, k);
}

/* Keys are whole words with the padding zeroed (they are hash keys already). */
static __always_inline bool same_listen_key(const struct listen_key *a, const struct listen_key *b)
{
	const __u32 *x = (const __u32 *)a, *y = (const __u32 *)b;

	for (int i = 0; i < sizeof(*a) / sizeof(__u32); i++) {
		if (x[i] != y[i])
			return false;
	}
	return true;
}

/*
 * New records start as these zeroes (global data, not the stack: a record on the stack pushed
 * the listener path's call chain past the verifier's 512 bytes) and are filled in place.
 */
static const struct listen_group empty_group;
static const struct listen_owner empty_listen_owner;

static __always_inline void note_listen_owner(__u32 pid, const struct listen_key *k)
{
	struct listen_owner *lo = bpf_map_lookup_elem(&listen_owners, &pid);
	__u32 n, slot;

	if (!lo) {
		/* EEXIST: another CPU noted this process first; either way, look it up. */
		bpf_map_update_elem(&listen_owners, &pid, &empty_listen_owner, BPF_NOEXIST);
		lo = bpf_map_lookup_elem(&listen_owners, &pid);
		if (!lo)
			return;
	}
	n = lo->ngroups;
	for (int i = 0; i < TT_OWNER_GROUPS; i++) {
		if (i < n && same_listen_key(&lo->groups[i], k))
			return;
	}
	/* Claimed, then written: an exit that meets a slot not yet written walks the table. */
	slot = __sync_fetch_and_add(&lo->ngroups, 1);
	if (slot < TT_OWNER_GROUPS)
		__builtin_memcpy(&lo->groups[slot], k, sizeof(*k));
}

/* Member slot i, if free, becomes cookie's. */
static __always_inline bool claim_member(struct listen_group *g, int i, __u64 cookie)
{
	return !g->cookie[i] && !__sync_val_compare_and_swap(&g->cookie[i], 0, cookie);
}

/* Where a group's owner keeps its member: task 0 when unknown. */
struct group_holder {
	__u64 task;
	__u64 file;
	__u32 fd;
};

static __always_inline void group_join(struct listen_key *k, __u64 cookie, const struct owner *o,
				       const struct group_holder *h)
{
	struct listen_group *g = bpf_map_lookup_elem(&listeners, k);

	if (!g) {
		/* EEXIST: another member got there first; a full table fails the lookup. */
		bpf_map_update_elem(&listeners, k, &empty_group, BPF_NOEXIST);
		g = bpf_map_lookup_elem(&listeners, k);
		if (!g) {
			count_lost(TT_LOST_LISTENERS);
			return;
		}
	}
	for (int i = 0; i < TT_LISTEN_MEMBERS; i++) {
		/* Seen already: the start-up walk met a listener whose event was traced. */
		if (g->cookie[i] == cookie)
			return;
	}
	__sync_fetch_and_add(&g->members, 1);
	/*
	 * Written out: clang cannot unroll a loop around a compare-and-swap, and 6.1's verifier
	 * refuses the loop it makes instead (a back-edge on a fall-through).
	 */
	_Static_assert(TT_LISTEN_MEMBERS == 8, "claim_member() list below");
	claim_member(g, 0, cookie) || claim_member(g, 1, cookie) || claim_member(g, 2, cookie) ||
		claim_member(g, 3, cookie) || claim_member(g, 4, cookie) ||
		claim_member(g, 5, cookie) || claim_member(g, 6, cookie) ||
		claim_member(g, 7, cookie);
	if (o) {
		g->owner_cookie = cookie;
		__builtin_memcpy(&g->owner, o, sizeof(*o));
		g->moved = 0;
		g->holder_task = h ? h->task : 0;
		g->holder_fd = h ? h->fd : 0;
		g->file = h ? h->file : 0;
		note_listen_owner(o->pid, k);
	}
}

/* A member closed: the group ends with its last member, else names another member's holder. */
static __always_inline void group_leave(struct listen_key *k, __u64 cookie)
{
	struct listen_group *g = bpf_map_lookup_elem(&listeners, k);
	struct sk_info *other;

	if (!g)
		return;
	for (int i = 0; i < TT_LISTEN_MEMBERS; i++) {
		if (g->cookie[i] == cookie)
			g->cookie[i] = 0;
	}
	if (__sync_fetch_and_sub(&g->members, 1) <= 1) {
		bpf_map_delete_elem(&listeners, k);
		return;
	}
	if (g->owner_cookie != cookie)
		return;
	for (int i = 0; i < TT_LISTEN_MEMBERS; i++) {
		__u64 c = g->cookie[i];

		if (!c)
			continue;
		other = info_get(&c, false);
		if (other && other->owner_known == OWNER_KNOWN) {
			g->owner_cookie = c;
			__builtin_memcpy(&g->owner, &other->owner, sizeof(other->owner));
			g->moved = 0;
			g->holder_task = 0;
			note_listen_owner(other->owner.pid, k);
			return;
		}
	}
}

/*
 * Who the event names: the caller for a transition made by a system call, else the holder
 * last seen (connect, listen, accept, socket I/O), else for a child not yet accepted, a holder
 * of the listener it arrived on.
 */
/*
 * The owner a child not yet accepted takes from the listener it arrived on (a global function,
 * verified once: the listener paths are branchy and rare). 1 if there is one, LISTENER_MOVED if
 * the listener's holder known last let it go, LISTENER_SHARED if other processes hold it too
 * (any of them may accept the child).
 */
#define LISTENER_MOVED	2
#define LISTENER_SHARED 3 /* the owner is one of several holders of the listener */

__noinline int listener_owner(const struct tt_event *e, struct owner *o)
{
	struct listen_group *g;
	struct listen_key k;

	if (!e || !o)
		return 0;
	listen_key_of(&k, e);
	g = group_of(&k);
	if (!g)
		return 0;
	if (g->moved)
		return LISTENER_MOVED;
	/*
	 * Passed to another process (haproxy -x), its holder gone or closed. Only the slot is read
	 * (no search of the table: the verifier's stack budget), so a listener moved to another
	 * fd of the same process counts as let go too.
	 */
	if (g->holder_task && holder_slot_file(g->holder_task, g->holder_fd) != g->file) {
		g->moved = 1;
		g->holder_task = 0;
		return LISTENER_MOVED;
	}
	__builtin_memcpy(o, &g->owner, sizeof(*o));
	if (!o->pid)
		return 0;
	return file_refs(g->file) > 1 ? LISTENER_SHARED : 1;
}

static __always_inline void resolve_owner(struct tt_event *e, struct sk_info *info, struct sock *sk,
					  int oldstate, int newstate)
{
	bool own_call = in_owner_context(oldstate, newstate);
	struct owner o;
	int found;

	if (own_call && current_owner(&o)) {
		if (info) {
			set_owner(info, &o);
			/*
			 * A listener's fd, for its children's events. A connection's is learned at
			 * its first I/O instead: a connect() that never sends costs nothing.
			 */
			if (newstate == TCP_LISTEN)
				note_holder(info, sk);
		}
		event_owner(e, &o);
		return;
	}
	if (info && info->owner_known == OWNER_KNOWN) {
		/*
		 * No check when the holder itself runs (its close() takes the fd out of its table
		 * before the socket closes), nor for a close by a kernel thread (the AF_UNIX garbage
		 * collector dropping a file in flight): both name the last holder, who let it go.
		 */
		if (own_call || !info->holder_task ||
		    bpf_get_current_pid_tgid() >> 32 == info->owner.pid ||
		    owner_still_holds(info, sock_file_of(sk))) {
			event_owner(e, &info->owner);
			return;
		}
	}
	if (info && info->owner_known == OWNER_MOVED) {
		e->flags |= TT_F_OWNER_MOVED;
		return;
	}
	if (info && info->owner_known == OWNER_QUEUED) {
		event_owner(e, &info->owner);
		e->flags |= TT_F_PRE_ACCEPT;
		return;
	}
	if (newstate != TCP_SYN_RECV && oldstate != TCP_SYN_RECV)
		return;
	found = listener_owner(e, &o);
	if (found == LISTENER_MOVED) {
		e->flags |= TT_F_OWNER_MOVED;
		if (info)
			info->owner_known = OWNER_MOVED;
		return;
	}
	if (!found)
		return;
	if (info)
		set_owner(info, &o);
	event_owner(e, &o);
	if (found == LISTENER_SHARED) {
		e->flags |= TT_F_PRE_ACCEPT;
		if (info)
			info->owner_known = OWNER_QUEUED;
	}
}

/* A listener opens or closes: its group gains or loses a member (global: verified once). */
__noinline int update_listeners(const struct tt_event *e, const struct sk_info *info, __u64 file,
				int closing)
{
	struct group_holder h;
	struct listen_key k;

	if (!e)
		return 0;
	listen_key_of(&k, e);
	if (closing) {
		group_leave(&k, e->sock_cookie);
		return 0;
	}
	if (!info || info->owner_known != OWNER_KNOWN) {
		group_join(&k, e->sock_cookie, NULL, NULL);
		return 0;
	}
	h.task = info->holder_task;
	h.fd = info->holder_fd;
	h.file = file;
	group_join(&k, e->sock_cookie, &info->owner, &h);
	return 0;
}

static __always_inline void stamp_time(struct tt_event *e, struct sk_info *info)
{
	if (!info)
		return;
	if (info->state_ts) {
		e->delta_ns = e->ts_ns - info->state_ts;
		e->flags |= TT_F_DELTA_KNOWN;
		if (info->delta_min)
			e->flags |= TT_F_DELTA_MIN;
	}
	info->state_ts = e->ts_ns;
	info->delta_min = 0;
	if (!info->born_ts)
		info->born_ts = e->ts_ns;
	if (info->last_reset)
		e->flags |= TT_F_RESET;
}

/*
 * tcp_time_wait() hands a connection in FIN_WAIT2 or CLOSING over to a timewait socket and
 * then closes the full socket without an error; a reset or timeout close sets sk_err or passes
 * through tcp_send_reset/tcp_receive_reset first.
 */
static __always_inline void mark_close(struct tt_event *e, struct sock *sk, int oldstate,
				       int newstate)
{
	e->sk_err = sk->sk_err;
	/*
	 * An ICMP error for a connect that the kernel kept retrying (or that came while the socket
	 * was busy) waits in sk_err_soft until SO_ERROR takes it: a close before that says why.
	 */
	if (!e->sk_err && newstate == TCP_CLOSE && oldstate == TCP_SYN_SENT)
		e->sk_err = sk->sk_err_soft;
	if (e->sk_err)
		e->flags |= TT_F_RESET;
	if (sk->__sk_common.skc_flags & (1UL << SOCK_DONE))
		e->flags |= TT_F_FIN_SEEN;
	if (newstate == TCP_CLOSE && (oldstate == TCP_FIN_WAIT2 || oldstate == TCP_CLOSING) &&
	    !(e->flags & TT_F_RESET)) {
		e->flags |= TT_F_TW_HANDOFF;
		e->newstate = (e->flags & TT_F_FIN_SEEN) ? TT_TIME_WAIT : TT_FIN_WAIT2_TW;
	}
}

#define EPIPE	     32
#define ECONNRESET   104
#define ETIMEDOUT    110
#define ECONNREFUSED 111

/*
 * Why a socket ended, from what its last transition, its error and the last reset seen say
 * (a global function, verified once).
 */
__noinline int close_cause(const struct tt_event *e, int reset, int oldstate)
{
	if (!e)
		return TT_CAUSE_UNKNOWN;
	if (e->flags & TT_F_TW_HANDOFF)
		return TT_CAUSE_TIMEWAIT;
	if (oldstate == TCP_LISTEN)
		return TT_CAUSE_LISTENER_CLOSED;
	if (oldstate == TCP_SYN_SENT) {
		if (e->sk_err == ECONNREFUSED || reset == RESET_IN)
			return TT_CAUSE_REFUSED;
		if (e->sk_err == ETIMEDOUT)
			return TT_CAUSE_TIMEOUT;
		if (e->sk_err)
			return TT_CAUSE_ABORT;
		return reset == RESET_OUT ? TT_CAUSE_RESET_OUT : TT_CAUSE_CLOSED;
	}
	/* A keepalive or user timeout sends a reset as it gives up: the timeout is why. */
	if (e->sk_err == ETIMEDOUT)
		return TT_CAUSE_TIMEOUT;
	if (reset == RESET_IN)
		return TT_CAUSE_RESET_IN;
	if (reset == RESET_OUT)
		return TT_CAUSE_RESET_OUT;
	/* Without the reset tracepoints, the error a reset leaves behind. */
	if (e->sk_err == ECONNRESET || e->sk_err == EPIPE)
		return TT_CAUSE_RESET_IN;
	if (e->sk_err == ETIMEDOUT)
		return TT_CAUSE_TIMEOUT;
	if (e->sk_err)
		return TT_CAUSE_ABORT;
	if (oldstate == TCP_LAST_ACK)
		return TT_CAUSE_CLOSED;
	return TT_CAUSE_UNKNOWN;
}

/*
 * close() with unread data and close() with SO_LINGER 0 store CLOSE first and send their
 * reset after it, so the reset tracepoint comes too late for this event: recognise them here,
 * where nothing else (an error, a reset received) explains the close.
 */
static __always_inline void mark_active_reset(struct sock *sk, struct tcp_sock *tp,
					      struct sk_info *info, struct tt_event *e,
					      int oldstate)
{
	__u32 unread;

	/*
	 * Neither path leaves LAST_ACK (its close is the peer's ACK, also after shutdown() with
	 * data still queued) nor hands over to timewait.
	 */
	if (!info || !tp || e->sk_err || info->last_reset == RESET_IN || oldstate == TCP_LAST_ACK ||
	    (e->flags & TT_F_TW_HANDOFF))
		return;
	unread = tp->rcv_nxt - tp->copied_seq - ((e->flags & TT_F_FIN_SEEN) ? 1 : 0);
	/* close() counts unread data as it empties the queue: data still queued was not thrown. */
	if ((int)unread > 0 && !sk->sk_receive_queue.qlen) {
		e->flags |= TT_F_RESET;
		info->last_reset = RESET_OUT;
		if (bpf_core_enum_value_exists(enum sk_rst_reason,
					       SK_RST_REASON_TCP_ABORT_ON_CLOSE)) {
			info->reset_reason = bpf_core_enum_value(enum sk_rst_reason,
								 SK_RST_REASON_TCP_ABORT_ON_CLOSE);
			info->has_reason = 1;
		}
	} else if ((sk->__sk_common.skc_flags & (1UL << SOCK_LINGER)) && !sk->sk_lingertime) {
		e->flags |= TT_F_RESET;
		info->last_reset = RESET_OUT;
		if (bpf_core_enum_value_exists(enum sk_rst_reason, SK_RST_REASON_TCP_STATE)) {
			info->reset_reason =
				bpf_core_enum_value(enum sk_rst_reason, SK_RST_REASON_TCP_STATE);
			info->has_reason = 1;
		}
	}
}

/*
 * A listener's close disconnects the children never accepted (inet_csk_listen_stop): their CLOSE
 * is stored first and the reset sent after it, so nothing on the child says why yet. Such a
 * child has no socket file and is not orphaned yet (a closed or failed socket is SOCK_DEAD).
 */
static __always_inline bool forgotten_child(struct sock *sk, const struct tt_event *e,
					    const struct sk_info *info, int oldstate)
{
	if (e->sk_err || (info && info->last_reset) || sk->sk_socket ||
	    (sk->__sk_common.skc_flags & (1UL << SOCK_DEAD)))
		return false;
	return oldstate == TCP_ESTABLISHED || oldstate == TCP_CLOSE_WAIT ||
	       oldstate == TCP_SYN_RECV;
}

static __always_inline void mark_forgotten_child(struct tt_event *e, struct sk_info *info)
{
	e->flags |= TT_F_RESET;
	if (!info)
		return;
	info->last_reset = RESET_OUT;
	if (bpf_core_enum_value_exists(enum sk_rst_reason, SK_RST_REASON_TCP_STATE)) {
		info->reset_reason =
			bpf_core_enum_value(enum sk_rst_reason, SK_RST_REASON_TCP_STATE);
		info->has_reason = 1;
	}
}

/*
 * A final transition carries what ss -ti would have shown just before: read once per
 * connection, here, from the socket itself.
 */
static __always_inline void read_totals(struct tt_event *e, struct sk_info *info,
					struct tcp_sock *tp, int oldstate)
{
	__u64 sent, received;

	e->flags |= TT_F_TOTALS;
	e->cause = close_cause(e, info ? info->last_reset : 0, oldstate);
	if (info) {
		e->life_ns = e->ts_ns - info->born_ts;
		if (info->born_min)
			e->flags |= TT_F_LIFE_MIN;
		e->syn_retrans = info->syn_retrans;
		if (info->has_reason && info->last_reset == RESET_OUT) {
			e->reset_reason = info->reset_reason;
			e->flags |= TT_F_RESET_REASON;
		}
	}
	if (!tp || oldstate == TCP_LISTEN)
		return;
	/*
	 * Data bytes: the counters also count the SYN the peer acked (ours, if we connected) and
	 * each FIN, which ss -ti's bytes_acked/bytes_received include.
	 */
	sent = tp->bytes_acked;
	if (sent && info && info->active)
		sent--;
	if (sent && tp->snd_una == tp->write_seq &&
	    (oldstate == TCP_FIN_WAIT1 || oldstate == TCP_FIN_WAIT2 || oldstate == TCP_CLOSING ||
	     oldstate == TCP_LAST_ACK))
		sent--;
	received = tp->bytes_received;
	if (received && (e->flags & TT_F_FIN_SEEN))
		received--;
	e->bytes_sent = sent;
	e->bytes_received = received;
	e->segs_out = tp->segs_out;
	e->segs_in = tp->segs_in;
	e->retrans = tp->total_retrans;
	/* No RTT sample yet (a connect that failed): the initial variation means nothing. */
	e->srtt_us = tp->srtt_us >> 3;
	e->rttvar_us = e->srtt_us ? tp->mdev_us >> 2 : 0;
	if (oldstate == TCP_SYN_SENT || oldstate == TCP_SYN_RECV)
		e->syn_retrans = tp->total_retrans;
}

/*
 * The child's addresses (and cookie) are in place now: its held SYN_RECV goes first, and a
 * child whose clone event carried its listener's cookie starts its own memory here. Inline:
 * as a function of its own it put a third frame under submit() on the stack budget.
 */
static __always_inline void release_pending(const struct tt_event *e, struct sk_info *info,
					    __u64 key, bool wanted)
{
	struct tt_event *held;

	held = bpf_map_lookup_elem(&pending, &key);
	if (!held)
		return;
	/*
	 * A child's next transition follows its clone within microseconds: an older entry is a
	 * socket at the same address whose later events were missed, not this one's.
	 */
	if (e->ts_ns - held->ts_ns > TT_HOLD_MAX_NS) {
		bpf_map_delete_elem(&pending, &key);
		return;
	}
	held->sock_cookie = e->sock_cookie;
	held->sport = e->sport;
	held->dport = e->dport;
	__builtin_memcpy(held->saddr, e->saddr, 16);
	__builtin_memcpy(held->daddr, e->daddr, 16);
	if (info && !info->state_ts) {
		info->state_ts = held->ts_ns;
		info->born_ts = held->ts_ns;
		if ((held->flags & TT_F_OWNER_KNOWN) && !info->owner_known) {
			info->owner.pid = held->pid;
			info->owner.exec_id = 0; /* unknown: the next I/O refreshes the name */
			__builtin_memcpy(info->owner.comm, held->comm, TT_COMM_LEN);
			info->owner_known =
				(held->flags & TT_F_PRE_ACCEPT) ? OWNER_QUEUED : OWNER_KNOWN;
		} else if ((held->flags & TT_F_OWNER_MOVED) && !info->owner_known) {
			info->owner_known = OWNER_MOVED;
		}
	}
	if (wanted)
		submit(held);
	bpf_map_delete_elem(&pending, &key);
}

/*
 * The clone event of a child that has no addresses yet: an IPv6 child (tcp_v6_syn_recv_sock()
 * sets them after the clone), or any child on kernels where the clone still carries its
 * listener's cookie (info is then the listener's and is left alone). The event waits for the
 * child's next transition, microseconds later.
 */
static __always_inline bool hold_child(const struct tt_event *e, struct sk_info *info,
				       const __u64 *sk_addr, bool inherited)
{
	if (!inherited && (!info || e->family != AF_INET6 || is_v4_mapped(e->daddr)))
		return false;
	if (bpf_map_update_elem(&pending, sk_addr, e, BPF_ANY))
		return false;
	if (!inherited)
		info->has_pending = 1;
	return true;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(handle_set_state, struct sock *sk, int oldstate, int newstate)
{
	struct tcp_sock *tp;
	struct tt_event ev;
	struct sk_info *info;
	__u64 sk_addr; /* the key of a held child: its cookie may not be its own yet */
	__u16 family;
	bool wanted, clone;

	TEST_REFUSAL(TT_PART_CORE);
	/* The kernel stores a state again (close() after shutdown()): not a transition. */
	if (oldstate == newstate)
		return 0;
	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	family = sk->__sk_common.skc_family;
	if (family != AF_INET && family != AF_INET6)
		return 0;

	__builtin_memset(&ev, 0, sizeof(ev));
	ev.ts_ns = bpf_ktime_get_boot_ns();
	ev.family = family;
	ev.netns = sk_netns(sk);
	ev.oldstate = oldstate;
	ev.newstate = newstate;
	ev.type = TT_EV_STATE;
	ev.sock_cookie = bpf_get_socket_cookie(sk);
	ev.cgroup_id = sk_cgroup_id(sk);
	tp = bpf_skc_to_tcp_sock(sk);
	read_endpoints(&ev, sk, tp);
	wanted = !filter_ncgroups || cgroup_wanted(sk);

	/* A child is a clone of its listener: its life starts at CLOSE, not at LISTEN. */
	clone = newstate == TCP_SYN_RECV && oldstate == TCP_LISTEN;
	if (clone)
		ev.oldstate = TCP_CLOSE;
	sk_addr = (__u64)sk;

	info = info_get(&ev.sock_cookie, newstate != TCP_CLOSE);
	if (clone && info && info->listener) {
		struct owner o;

		/* On 6.1 and 6.12 the clone fires under its listener's cookie: not our memory. */
		int found = listener_owner(&ev, &o);

		if (found == LISTENER_MOVED)
			ev.flags |= TT_F_OWNER_MOVED;
		else if (found)
			event_owner(&ev, &o);
		if (found == LISTENER_SHARED)
			ev.flags |= TT_F_PRE_ACCEPT;
		if (!hold_child(&ev, NULL, &sk_addr, true) && wanted)
			submit(&ev);
		return 0;
	}
	if (oldstate == TCP_SYN_RECV && (!info || !info->state_ts || info->has_pending)) {
		if (info)
			info->has_pending = 0;
		release_pending(&ev, info, sk_addr, wanted);
	}
	resolve_owner(&ev, info, sk, oldstate, newstate);
	if (newstate == TCP_LISTEN) {
		if (info)
			info->listener = 1;
		update_listeners(&ev, info, sock_file_of(sk), 0);
	} else if (oldstate == TCP_LISTEN && newstate == TCP_CLOSE) {
		update_listeners(&ev, NULL, 0, 1);
	}
	stamp_time(&ev, info);
	mark_close(&ev, sk, oldstate, newstate);
	/* The handshake's retransmits are all the socket has when it leaves it. */
	if (info && tp && (oldstate == TCP_SYN_SENT || oldstate == TCP_SYN_RECV))
		info->syn_retrans = tp->total_retrans;
	if (info && newstate == TCP_SYN_SENT)
		info->active = 1;
	if (newstate == TCP_CLOSE) {
		bool forgotten = forgotten_child(sk, &ev, info, oldstate);

		if (forgotten)
			mark_forgotten_child(&ev, info);
		else
			mark_active_reset(sk, tp, info, &ev, oldstate);
		read_totals(&ev, info, tp, oldstate);
		if (forgotten)
			ev.cause = TT_CAUSE_LISTENER_CLOSED;
	}
	if (clone && hold_child(&ev, info, &sk_addr, false))
		return 0;
	if (newstate == TCP_CLOSE && info)
		info_delete(ev.sock_cookie);
	if (wanted)
		submit(&ev);
	return 0;
}

static __always_inline struct sk_info *reset_info(const struct sock *sk)
{
	__u64 cookie;

	/* Timewait and request sockets answer with resets too; only full sockets are kept. */
	if (!sk || sk->__sk_common.skc_state == TCP_TIME_WAIT ||
	    sk->__sk_common.skc_state == TCP_NEW_SYN_RECV)
		return NULL;
	/* A followed socket's cookie was made at its first event: read it, no helper call. */
	cookie = (__u64)sk->__sk_common.skc_cookie.counter;
	if (!cookie)
		return NULL;
	return info_get(&cookie, false);
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(handle_receive_reset, struct sock *sk)
{
	struct sk_info *info = reset_info(sk);

	TEST_REFUSAL(TT_PART_RESETS);
	if (info)
		info->last_reset = RESET_IN;
	return 0;
}

/* sk is NULL for resets answering packets that match no socket. */
SEC("tp_btf/tcp_send_reset")
int BPF_PROG(handle_send_reset, const struct sock *sk)
{
	struct sk_info *info = reset_info(sk);

	TEST_REFUSAL(TT_PART_RESETS);
	if (info)
		info->last_reset = RESET_OUT;
	return 0;
}

/* Since 6.10 the kernel says why it sends a reset; loaded instead of the above there. */
SEC("tp_btf/tcp_send_reset")
int BPF_PROG(handle_send_reset_reason, const struct sock *sk, const struct sk_buff *skb, int reason)
{
	struct sk_info *info = reset_info(sk);

	TEST_REFUSAL(TT_PART_RESETS);
	if (!info)
		return 0;
	info->last_reset = RESET_OUT;
	info->reset_reason = (__u16)reason;
	info->has_reason = 1;
	return 0;
}

/*
 * Socket I/O names the process that holds the file now: after fork, exec, fd passing or socket
 * activation, the process that uses a socket is rarely the one that opened it. This runs on
 * every send and receive of every socket, so it leaves at the first sign of nothing to do: not
 * TCP, not followed (no cookie yet), or the same process as last time.
 */
/*
 * The first holder seen of a connection whose events named its listener's owner while it
 * waited to be accepted (OWNER_QUEUED): user space names it on those events.
 */
static __always_inline void emit_accepted(__u64 cookie, const struct owner *o)
{
	struct tt_event *r = bpf_ringbuf_reserve(&events, TT_EVENT_BASE_SIZE, 0);

	if (!r) {
		count_lost(TT_LOST_RINGBUF);
		return;
	}
	__builtin_memset(r, 0, TT_EVENT_BASE_SIZE);
	r->type = TT_EV_ACCEPTED;
	r->ts_ns = bpf_ktime_get_boot_ns();
	r->sock_cookie = cookie;
	r->pid = o->pid;
	r->flags = TT_F_OWNER_KNOWN;
	__builtin_memcpy(r->comm, o->comm, TT_COMM_LEN);
	bpf_ringbuf_submit(r, 0);
}

static __always_inline void learn_owner(struct sock *sk)
{
	struct task_struct *task;
	struct sk_info *info;
	struct owner o;
	__u64 cookie;

	if (!sk || sk->sk_protocol != IPPROTO_TCP)
		return;
	cookie = (__u64)sk->__sk_common.skc_cookie.counter;
	if (!cookie)
		return;
	info = info_get(&cookie, false);
	if (!info)
		return;
	task = bpf_get_current_task_btf();
	if (info->owner_known == OWNER_KNOWN && info->owner.pid == task->tgid &&
	    info->owner.exec_id == (__u32)task->group_leader->self_exec_id) {
		/* Named from its listener or an exec, not yet seen in a system call on it. */
		if (!info->holder_task && info->holder_fd != HOLDER_UNFOUND)
			note_holder(info, sk);
		return;
	}
	if (current_owner(&o)) {
		if (info->owner_known == OWNER_QUEUED)
			emit_accepted(cookie, &o);
		set_owner(info, &o);
		note_holder(info, sk);
	}
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(handle_send, struct sock *sk, int ret, int flags)
{
	TEST_REFUSAL(TT_PART_IO);
	learn_owner(sk);
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(handle_recv, struct sock *sk, int ret, int flags)
{
	TEST_REFUSAL(TT_PART_IO);
	learn_owner(sk);
	return 0;
}

/* The listening address of a listener reached from a file (an untrusted pointer). */
static __always_inline void listen_key_of_sock(struct listen_key *k, struct sock *sk)
{
	k->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	k->port = BPF_CORE_READ(sk, __sk_common.skc_num);
	k->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (k->family == AF_INET)
		bpf_core_read(k->addr, 4, &sk->__sk_common.skc_rcv_saddr);
	else
		bpf_core_read(k->addr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
}

/*
 * accept() on a listener: the caller holds the listener, so the children still waiting in its
 * queue name a live process (the process that called listen() may be gone: a daemon's
 * launcher, an old master after a binary upgrade).
 */
static __always_inline void learn_listener(struct socket *sock, struct sock *sk)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct listen_group *g;
	struct listen_key k = {};
	struct sk_info *info;
	struct owner o;
	__u64 cookie, file, leader;
	__u32 fd = 0;

	if (!sk || BPF_CORE_READ(sk, __sk_common.skc_state) != TCP_LISTEN)
		return;
	cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	info = info_get(&cookie, false);
	if (!current_owner(&o))
		return;
	/* The same process as last time, not since exec'd (socket activation execs the server). */
	if (info && info->owner_known == OWNER_KNOWN && info->owner.pid == o.pid &&
	    info->owner.exec_id == o.exec_id && info->holder_task)
		return;
	file = (__u64)BPF_CORE_READ(sock, file);
	leader = syscall_fd_of(task, file, &fd) ? (__u64)BPF_CORE_READ(task, group_leader) : 0;
	if (info) {
		set_owner(info, &o);
		info->holder_task = leader;
		info->holder_fd = fd;
	}
	listen_key_of_sock(&k, sk);
	g = bpf_map_lookup_elem(&listeners, &k);
	if (g) {
		g->owner_cookie = cookie;
		__builtin_memcpy(&g->owner, &o, sizeof(o));
		g->moved = 0;
		g->holder_task = leader;
		g->holder_fd = fd;
		g->file = file;
		note_listen_owner(o.pid, &k);
	}
}

/* The accepted child belongs to the accepting process from now on. */
static __always_inline void learn_accepted(struct sock *sk)
{
	struct sk_info *info;
	struct owner o;
	__u64 cookie;

	if (!sk)
		return;
	cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	info = info_get(&cookie, false);
	if (!info || !current_owner(&o))
		return;
	if (info->owner_known == OWNER_QUEUED)
		emit_accepted(cookie, &o);
	set_owner(info, &o);
}

/*
 * inet_accept() is every TCP socket's accept (IPv4 and IPv6): on its return newsock holds the
 * child (no socket if it failed) and current is the acceptor. A trampoline costs only the
 * accept() calls; the syscall tracepoints used before slowed every system call of every process.
 */
SEC("fexit/inet_accept")
int BPF_PROG(handle_accept, struct socket *sock, struct socket *newsock)
{
	TEST_REFUSAL(TT_PART_ACCEPT);
	learn_listener(sock, BPF_CORE_READ(sock, sk));
	learn_accepted(BPF_CORE_READ(newsock, sk));
	return 0;
}

/* A listener owner's child inherits its files: the heir if the owner exits first. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(handle_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = parent->tgid, ctgid = child->tgid;
	struct listen_owner *lo;

	TEST_REFUSAL(TT_PART_HANDOFF);
	if (ptgid == ctgid)
		return 0; /* a thread */
	lo = bpf_map_lookup_elem(&listen_owners, &ptgid);
	if (lo)
		lo->heir = ctgid;
	return 0;
}

static __always_inline bool live_owner(__u32 pid, struct owner *o, __u64 *leader)
{
	struct task_struct *t;
	bool alive;

	if (!pid || !bpf_task_from_pid)
		return false;
	t = bpf_task_from_pid(pid);
	if (!t)
		return false;
	o->pid = t->tgid;
	o->exec_id = (__u32)t->group_leader->self_exec_id;
	bpf_probe_read_kernel(o->comm, sizeof(o->comm), t->group_leader->comm);
	*leader = (__u64)BPF_CORE_READ(t, group_leader);
	alive = o->pid == pid && !(t->flags & PF_EXITING);
	bpf_task_release(t);
	return alive;
}

struct handoff {
	__u32 dead;
	struct owner heir;
	__u64 heir_task;
};

/*
 * The heir takes the group if it holds the listener; one that does not (the listener was
 * passed to a process that is not a child, as haproxy -x does) leaves it to no one known.
 */
static __always_inline void hand_over(struct listen_key *k, struct listen_group *g,
				      const struct handoff *h)
{
	int fd = 0;

	if (g->owner.pid != h->dead)
		return;
	if (g->file) {
		fd = holder_fd(task_files(h->heir_task), g->file);
		if (fd < 0) {
			g->moved = 1;
			g->holder_task = 0;
			return;
		}
	}
	__builtin_memcpy(&g->owner, &h->heir, sizeof(h->heir));
	g->holder_task = g->file ? h->heir_task : 0;
	g->holder_fd = fd;
	note_listen_owner(h->heir.pid, k);
}

static long hand_over_group(struct bpf_map *map, struct listen_key *k, struct listen_group *g,
			    struct handoff *h)
{
	hand_over(k, g, h);
	return 0;
}

/* The groups the dead process was noted for; false if the notes do not cover them all. */
static __always_inline bool hand_over_noted(const struct listen_owner *lo, const struct handoff *h)
{
	struct listen_group *g;
	struct listen_key k;
	__u32 n = lo->ngroups;

	if (n > TT_OWNER_GROUPS)
		return false;
	for (int i = 0; i < TT_OWNER_GROUPS; i++) {
		if (i >= n)
			break;
		__builtin_memcpy(&k, &lo->groups[i], sizeof(k));
		if (!k.port)
			return false; /* claimed, not yet written */
		g = bpf_map_lookup_elem(&listeners, &k);
		if (g)
			hand_over(&k, g, h);
	}
	return true;
}

/*
 * A listener owner's last thread exits (before its files are closed): its groups pass to the
 * child it forked last, else to its parent, if alive. If neither holds the listener, its
 * close follows at once and ends the group anyway.
 */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(handle_exit, struct task_struct *task)
{
	__u32 tgid = task->tgid;
	struct handoff h = {.dead = tgid};
	struct listen_owner *lo;

	TEST_REFUSAL(TT_PART_HANDOFF);
	lo = bpf_map_lookup_elem(&listen_owners, &tgid);
	if (!lo || task->signal->live.counter)
		return 0;
	if ((live_owner(lo->heir, &h.heir, &h.heir_task) ||
	     live_owner(task->real_parent->tgid, &h.heir, &h.heir_task)) &&
	    !hand_over_noted(lo, &h))
		bpf_for_each_map_elem(&listeners, hand_over_group, &h, 0);
	bpf_map_delete_elem(&listen_owners, &tgid);
	return 0;
}

/*
 * exec() keeps the pid and the open files but changes the name: the sockets this process was
 * named for (connections, and listeners whose children wait for accept: socket activation
 * execs the server) take the new name at once, not at their next I/O. A process that execs
 * with sockets it inherited but never used takes nothing from their owner.
 */
#define TT_EXEC_MAX_FDS 4096

struct exec_walk {
	struct file **fds;
	__u64 leader;
	struct owner o;
};

static long rename_fd_owner(__u64 i, struct exec_walk *w)
{
	struct listen_group *g;
	struct listen_key k = {};
	struct sk_info *info;
	struct file *file;
	struct sock *sk;
	__u64 cookie, ino;

	if (bpf_probe_read_kernel(&file, sizeof(file), &w->fds[i]) || !file)
		return 0;
	sk = file_tcp_sock(file, &ino);
	if (!sk)
		return 0;
	cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	info = info_get(&cookie, false);
	if (!info || info->owner_known != OWNER_KNOWN || info->owner.pid != w->o.pid)
		return 0;
	set_owner(info, &w->o);
	info->holder_task = w->leader;
	info->holder_fd = (__u32)i;
	if (BPF_CORE_READ(sk, __sk_common.skc_state) != TCP_LISTEN)
		return 0;
	listen_key_of_sock(&k, sk);
	g = bpf_map_lookup_elem(&listeners, &k);
	if (g && g->owner.pid == w->o.pid) {
		__builtin_memcpy(&g->owner, &w->o, sizeof(w->o));
		g->moved = 0;
		g->holder_task = w->leader;
		g->holder_fd = (__u32)i;
		g->file = (__u64)file;
	}
	return 0;
}

/* The sockets in task's fd table that name w->o's process take w->o (its new name). */
static __always_inline void rename_sockets(struct task_struct *task, struct exec_walk *w)
{
	struct fdtable *fdt;
	__u32 n;

	w->leader = (__u64)BPF_CORE_READ(task, group_leader);
	fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt)
		return;
	n = BPF_CORE_READ(fdt, max_fds);
	w->fds = BPF_CORE_READ(fdt, fd);
	bpf_loop(n < TT_EXEC_MAX_FDS ? n : TT_EXEC_MAX_FDS, rename_fd_owner, w, 0);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(handle_exec, struct task_struct *task)
{
	struct exec_walk w;

	TEST_REFUSAL(TT_PART_EXEC);
	if (current_owner(&w.o))
		rename_sockets(task, &w);
	return 0;
}

/*
 * A process renamed without exec: prctl(PR_SET_NAME) by its main thread (setproctitle, daemons
 * naming their workers) or a write to /proc/PID/comm. ss shows the new name at once; so do its
 * sockets' next events. A thread's own name is not the process's; exec renames before its own
 * hook runs, which renames with the new exec count too.
 */
SEC("tp_btf/task_rename")
int BPF_PROG(handle_rename, struct task_struct *task, const char *comm)
{
	struct exec_walk w = {};

	TEST_REFUSAL(TT_PART_EXEC);
	if (task->pid != task->tgid || (task->flags & PF_KTHREAD))
		return 0;
	if (bpf_core_field_exists(task->in_execve) &&
	    BPF_CORE_READ_BITFIELD_PROBED(task, in_execve))
		return 0;
	w.o.pid = task->tgid;
	w.o.exec_id = (__u32)task->self_exec_id;
	if (bpf_probe_read_kernel_str(w.o.comm, sizeof(w.o.comm), comm) < 0)
		return 0;
	rename_sockets(task, &w);
	return 0;
}

/* Owners of socket files, by inode, from seed_owners for seed_states. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TT_MAX_SOCKETS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, struct owner);
} seed_owner_by_ino SEC(".maps");

/*
 * Owners of sockets that existed before the tracer: each socket file names its process (the
 * first one found, if several share it). Joined to the sockets by seed_states.
 */
SEC("iter/task_file")
int seed_owners(struct bpf_iter__task_file *ctx)
{
	TEST_REFUSAL(TT_PART_WALK);
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct task_struct *leader;
	struct owner o = {};
	__u64 ino;

	if (!task || !file || !file_tcp_sock(file, &ino))
		return 0;
	leader = task->group_leader;
	o.pid = task->tgid;
	o.exec_id = (__u32)BPF_CORE_READ(leader, self_exec_id);
	BPF_CORE_READ_STR_INTO(&o.comm, leader, comm);
	bpf_map_update_elem(&seed_owner_by_ino, &ino, &o, BPF_NOEXIST);
	return 0;
}

/*
 * A socket that predates the tracer gets the owner seed_owners found for its inode, unless an
 * event already named one; a listener joins its address's group. A child still waiting in a
 * listener's queue has no file yet: it names its listener's holder (the walk meets listeners
 * before connections).
 */
static __always_inline void seed_owner(struct sock *sk, struct sk_info *info,
				       const struct tt_event *e)
{
	__u64 ino = sock_ino(sk);
	struct listen_group *g;
	struct listen_key k;
	struct owner *o = NULL;

	if (ino)
		o = bpf_map_lookup_elem(&seed_owner_by_ino, &ino);
	if (o && info && !info->owner_known)
		set_owner(info, o);
	if (e->oldstate == TCP_LISTEN) {
		listen_key_of(&k, e);
		/* No holder's fd from a walk, but the file: whether workers share the listener. */
		struct group_holder h = {.file = sock_file_of(sk)};

		group_join(&k, e->sock_cookie,
			   info && info->owner_known == OWNER_KNOWN ? &info->owner : o, &h);
	} else if (!o && info && !info->owner_known && !sk->sk_socket &&
		   !(sk->__sk_common.skc_flags & (1UL << SOCK_DEAD))) {
		listen_key_of(&k, e);
		g = group_of(&k);
		if (g && g->owner.pid)
			set_owner(info, &g->owner);
	}
	if (o)
		bpf_map_delete_elem(&seed_owner_by_ino, &ino);
}

/*
 * Seeds time-in-state and owners of sockets that predate the tracer ("at least since now"), and
 * reports each full socket of the iterator's netns as a tt_event, for --stuck to watch.
 */
SEC("iter/tcp")
int seed_states(struct bpf_iter__tcp *ctx)
{
	TEST_REFUSAL(TT_PART_WALK);
	struct sock_common *skc = ctx->sk_common;
	struct seq_file *seq = ctx->meta->seq;
	struct sk_info *info;
	struct tcp_sock *tp;
	struct tt_event ev;
	struct sock *sk;

	if (!skc)
		return 0;
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return 0; /* timewait and request sockets have no storage and no owner */
	sk = (struct sock *)tp;
	__builtin_memset(&ev, 0, sizeof(ev));
	ev.ts_ns = bpf_ktime_get_boot_ns();
	ev.family = sk->__sk_common.skc_family;
	ev.netns = sk_netns(sk);
	ev.oldstate = sk->__sk_common.skc_state;
	ev.newstate = ev.oldstate;
	ev.type = TT_EV_STATE;
	ev.sock_cookie = bpf_get_socket_cookie(sk);
	ev.cgroup_id = sk_cgroup_id(sk);
	read_endpoints(&ev, sk, tp);
	info = info_get(&ev.sock_cookie, ev.oldstate != TCP_CLOSE);
	seed_owner(sk, info, &ev);
	if (info) {
		if (ev.oldstate == TCP_LISTEN)
			info->listener = 1;
		if (!info->state_ts) {
			info->state_ts = ev.ts_ns;
			info->delta_min = 1;
			info->born_ts = ev.ts_ns;
			info->born_min = 1;
		} else {
			ev.ts_ns = info->state_ts;
		}
		if (info->delta_min)
			ev.flags |= TT_F_DELTA_MIN;
		if (info->owner_known == OWNER_KNOWN)
			event_owner(&ev, &info->owner);
	}
	bpf_seq_write(seq, &ev, sizeof(ev));
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
