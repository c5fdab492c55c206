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

#define AF_INET	    2
#define AF_INET6    10
#define IPPROTO_TCP 6
#define EEXIST	    17

#include "sockfile.bpf.h"

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

/* Per-socket memory: when the current state began and who owns the socket. */
struct sk_info {
	__u64 state_ts;
	__u32 pid;
	__u8 owner_known;
	__u8 reset_seen;
	__u8 delta_min;	  /* state_ts is the tracer's start, not the state's */
	__u8 has_pending; /* an event in `pending` waits for the addresses of an IPv6 child */
	char comm[TT_COMM_LEN];
};

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

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct tt_event);
} pending SEC(".maps");

struct listen_key {
	__u32 netns;
	__u16 port;
	__u16 pad;
};

struct owner {
	__u32 pid;
	__u32 pad;
	char comm[TT_COMM_LEN];
};

/* Listening sockets' owners, so a child that is not yet accepted gets its listener's owner. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct listen_key);
	__type(value, struct owner);
} listeners SEC(".maps");

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

/* Transitions made by a system call of the socket's user, where current is the owner. */
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
	}
	return false;
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

static __always_inline struct sk_info *info_get(__u64 *cookie, bool create)
{
	struct sk_bucket *b = bucket_of(*cookie);

	/* Cookies start at 1; 0 marks a free slot. */
	if (!b || !*cookie)
		return NULL;
	for (int i = 0; i < TT_SK_WAYS; i++) {
		if (b->cookie[i] == *cookie)
			return &b->info[i];
	}
	if (!create)
		return NULL;
	for (int i = 0; i < TT_SK_WAYS; i++) {
		if (b->cookie[i] || __sync_val_compare_and_swap(&b->cookie[i], 0, *cookie))
			continue;
		__builtin_memset(&b->info[i], 0, sizeof(b->info[i]));
		return &b->info[i];
	}
	count_lost(TT_LOST_UNTRACKED);
	return NULL;
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

static __always_inline void read_endpoints(struct tt_event *e, struct sock *sk)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);

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

/* The userspace filters, in the kernel: a filtered event never crosses the ring. */
static __always_inline bool event_wanted(const struct tt_event *e)
{
	bool owner = e->flags & TT_F_OWNER_KNOWN;

	if (!state_wanted(e->oldstate, e->newstate))
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
	if (filter_npids && (!owner || !u32_in(e->pid, filter_pids, filter_npids)))
		return false;
	if (filter_ncomms && (!owner || !comm_in(e->comm)))
		return false;
	if (filter_family) {
		bool v4 =
			e->family == AF_INET || (is_v4_mapped(e->saddr) && is_v4_mapped(e->daddr));

		if ((filter_family == 4) != v4)
			return false;
	}
	return true;
}

static __always_inline void submit(const struct tt_event *e)
{
	struct tt_event *r;
	__u64 wflags;

	if (!event_wanted(e))
		return;
	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		count_lost(TT_LOST_RINGBUF);
		return;
	}
	__builtin_memcpy(r, e, sizeof(*r));
	wakeup_or_not(e->ts_ns, &wflags);
	bpf_ringbuf_submit(r, wflags);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(handle_set_state, struct sock *sk, int oldstate, int newstate)
{
	struct tt_event ev;
	struct sk_info *info;
	struct owner *lowner;
	struct listen_key lkey = {};
	__u16 family;
	bool owner_ctx;

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
	read_endpoints(&ev, sk);
	owner_ctx = in_owner_context(oldstate, newstate);

	/* A child is a clone of its listener: its life starts at CLOSE, not at LISTEN. */
	if (newstate == TCP_SYN_RECV && oldstate == TCP_LISTEN)
		ev.oldstate = TCP_CLOSE;

	info = info_get(&ev.sock_cookie, newstate != TCP_CLOSE);

	if (owner_ctx) {
		ev.pid = bpf_get_current_pid_tgid() >> 32;
		bpf_get_current_comm(ev.comm, sizeof(ev.comm));
		ev.flags |= TT_F_OWNER_KNOWN;
		if (info) {
			info->pid = ev.pid;
			__builtin_memcpy(info->comm, ev.comm, TT_COMM_LEN);
			info->owner_known = 1;
		}
	} else if (info && info->owner_known) {
		ev.pid = info->pid;
		__builtin_memcpy(ev.comm, info->comm, TT_COMM_LEN);
		ev.flags |= TT_F_OWNER_KNOWN;
	} else if (newstate == TCP_SYN_RECV || oldstate == TCP_SYN_RECV) {
		/* A child not yet accepted belongs to its listener's owner. */
		lkey.netns = ev.netns;
		lkey.port = ev.sport;
		lowner = bpf_map_lookup_elem(&listeners, &lkey);
		if (lowner) {
			ev.pid = lowner->pid;
			__builtin_memcpy(ev.comm, lowner->comm, TT_COMM_LEN);
			ev.flags |= TT_F_OWNER_KNOWN;
			if (info) {
				info->pid = ev.pid;
				__builtin_memcpy(info->comm, ev.comm, TT_COMM_LEN);
				info->owner_known = 1;
			}
		}
	}

	if (newstate == TCP_LISTEN && (ev.flags & TT_F_OWNER_KNOWN)) {
		struct owner o = {.pid = ev.pid};

		lkey.netns = ev.netns;
		lkey.port = ev.sport;
		__builtin_memcpy(o.comm, ev.comm, TT_COMM_LEN);
		bpf_map_update_elem(&listeners, &lkey, &o, BPF_ANY);
	} else if (oldstate == TCP_LISTEN && newstate == TCP_CLOSE) {
		lkey.netns = ev.netns;
		lkey.port = ev.sport;
		bpf_map_delete_elem(&listeners, &lkey);
	}

	if (info) {
		if (info->state_ts) {
			ev.delta_ns = ev.ts_ns - info->state_ts;
			ev.flags |= TT_F_DELTA_KNOWN;
			if (info->delta_min)
				ev.flags |= TT_F_DELTA_MIN;
		}
		info->state_ts = ev.ts_ns;
		info->delta_min = 0;
		if (info->reset_seen)
			ev.flags |= TT_F_RESET;
	}
	ev.sk_err = sk->sk_err;
	if (ev.sk_err)
		ev.flags |= TT_F_RESET;
	if (sk->__sk_common.skc_flags & (1UL << SOCK_DONE))
		ev.flags |= TT_F_FIN_SEEN;

	/*
	 * tcp_time_wait() hands a connection in FIN_WAIT2 or CLOSING over to a timewait socket
	 * and then closes the full socket without an error; a reset or timeout close sets sk_err
	 * or passes through tcp_send_reset/tcp_receive_reset first.
	 */
	if (newstate == TCP_CLOSE && (oldstate == TCP_FIN_WAIT2 || oldstate == TCP_CLOSING) &&
	    !(ev.flags & TT_F_RESET)) {
		ev.flags |= TT_F_TW_HANDOFF;
		ev.newstate = (ev.flags & TT_F_FIN_SEEN) ? TT_TIME_WAIT : TT_FIN_WAIT2_TW;
	}

	if (info && info->has_pending) {
		struct tt_event *held = bpf_map_lookup_elem(&pending, &ev.sock_cookie);

		/* The IPv6 child's addresses are in place now: send its SYN_RECV first. */
		info->has_pending = 0;
		if (held) {
			held->sport = ev.sport;
			held->dport = ev.dport;
			__builtin_memcpy(held->saddr, ev.saddr, 16);
			__builtin_memcpy(held->daddr, ev.daddr, 16);
			submit(held);
			bpf_map_delete_elem(&pending, &ev.sock_cookie);
		}
	}

	/*
	 * tcp_v6_syn_recv_sock() sets an IPv6 child's addresses only after the clone that fires
	 * this SYN_RECV; hold the event until the child's next transition, microseconds later.
	 */
	if (info && family == AF_INET6 && ev.oldstate == TCP_CLOSE && newstate == TCP_SYN_RECV &&
	    !is_v4_mapped(ev.daddr) &&
	    !bpf_map_update_elem(&pending, &ev.sock_cookie, &ev, BPF_ANY)) {
		info->has_pending = 1;
		return 0;
	}

	if (newstate == TCP_CLOSE && info)
		info_delete(ev.sock_cookie);
	submit(&ev);
	return 0;
}

static __always_inline void mark_reset(struct sock *sk)
{
	struct sk_info *info;
	__u64 cookie;

	/* Timewait and request sockets answer with resets too; only full sockets are kept. */
	if (!sk || sk->__sk_common.skc_state == TCP_TIME_WAIT ||
	    sk->__sk_common.skc_state == TCP_NEW_SYN_RECV)
		return;
	/* A followed socket's cookie was made at its first event: read it, no helper call. */
	cookie = (__u64)sk->__sk_common.skc_cookie.counter;
	if (!cookie)
		return;
	info = info_get(&cookie, false);
	if (info)
		info->reset_seen = 1;
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(handle_receive_reset, struct sock *sk)
{
	mark_reset(sk);
	return 0;
}

SEC("tp_btf/tcp_send_reset")
int BPF_PROG(handle_send_reset, const struct sock *sk)
{
	/* sk is NULL for resets answering packets that match no socket. */
	mark_reset((struct sock *)sk);
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
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct owner o = {};
	__u64 ino;

	if (!task || !file || !file_tcp_sock(file, &ino))
		return 0;
	o.pid = task->tgid;
	BPF_CORE_READ_STR_INTO(&o.comm, task, comm);
	bpf_map_update_elem(&seed_owner_by_ino, &ino, &o, BPF_NOEXIST);
	return 0;
}

/*
 * A socket that predates the tracer gets the owner seed_owners found for its inode, unless an
 * event already named one; a listener passes it on to its future children.
 */
static __always_inline void seed_owner(struct sock *sk, struct sk_info *info, __u32 netns)
{
	__u64 ino = sock_ino(sk);
	struct owner *o;

	if (!ino)
		return;
	o = bpf_map_lookup_elem(&seed_owner_by_ino, &ino);
	if (!o)
		return;
	if (info && !info->owner_known) {
		info->pid = o->pid;
		__builtin_memcpy(info->comm, o->comm, TT_COMM_LEN);
		info->owner_known = 1;
	}
	if (sk->__sk_common.skc_state == TCP_LISTEN) {
		struct listen_key lkey = {
			.netns = netns,
			.port = sk->__sk_common.skc_num,
		};

		bpf_map_update_elem(&listeners, &lkey, o, BPF_NOEXIST);
	}
	bpf_map_delete_elem(&seed_owner_by_ino, &ino);
}

/*
 * Seeds time-in-state and owners of sockets that predate the tracer ("at least since now"), and reports
 * each full socket of the iterator's netns as a tt_event, for --stuck to watch.
 */
SEC("iter/tcp")
int seed_states(struct bpf_iter__tcp *ctx)
{
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
	read_endpoints(&ev, sk);
	info = info_get(&ev.sock_cookie, ev.oldstate != TCP_CLOSE);
	seed_owner(sk, info, ev.netns);
	if (info) {
		if (!info->state_ts) {
			info->state_ts = ev.ts_ns;
			info->delta_min = 1;
		} else {
			ev.ts_ns = info->state_ts;
		}
		if (info->delta_min)
			ev.flags |= TT_F_DELTA_MIN;
		if (info->owner_known) {
			ev.pid = info->pid;
			__builtin_memcpy(ev.comm, info->comm, TT_COMM_LEN);
			ev.flags |= TT_F_OWNER_KNOWN;
		}
	}
	bpf_seq_write(seq, &ev, sizeof(ev));
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
