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
#include "sock.bpf.h"
#include "filters.bpf.h"
#include "ring.bpf.h"
#include "sktable.bpf.h"
#include "holder.bpf.h"
#include "listeners.bpf.h"
#include "owners.bpf.h"
#include "causes.bpf.h"
#include "children.bpf.h"

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
 * The event being built: per CPU, not on the stack, whose 512 bytes (a call chain's, all frames)
 * it would take a third of. The room lets the state handler's hot paths (a new socket's record,
 * a child's listener, a close's cause) run inline: with this VM's return thunks each call and
 * its return cost 15-25 ns, 14 ns of BPF per state event under churn.
 */
struct event_scratch {
	struct tt_event ev;
	__u32 busy; /* kernels before 6.1 may nest a run: the inner one drops its event, counted */
};

/*
 * Kernels from 6.1 (where bpf_ktime_get_tai_ns() came) skip a nested run of a tracing program
 * on a CPU, counted as its misses. Older ones may run one inside another, which would write the
 * outer run's event, CPU ring slot and free records: there the inner run drops its event. A
 * constant at load, so 6.1+ runs none of the check.
 */
#define NESTED_RUNS_SKIPPED bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_ktime_get_tai_ns)

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct event_scratch);
} event_scratch SEC(".maps");

static __always_inline void set_state(struct tt_event *e, struct sock *sk, int oldstate,
				      int newstate, __u16 family)
{
	struct tcp_sock *tp;
	struct sk_info *info;
	__u64 sk_addr; /* the key of a held child: its cookie may not be its own yet */
	bool clone;
	int how;

	/* The page walks of the socket's index bucket and the CPU's ring start before the clock. */
	info_warm((__u64)sk->__sk_common.skc_cookie.counter);
	ring_warm();
	__builtin_memset(e, 0, sizeof(*e));
	/*
	 * CLOCK_MONOTONIC, as tcpstates: the boot-time clock costs ~10 ns more per event, and user
	 * space puts wall time on either.
	 */
	e->ts_ns = bpf_ktime_get_ns();
	e->family = family;
	e->netns = sk_netns(sk);
	e->oldstate = oldstate;
	e->newstate = newstate;
	e->type = TT_EV_STATE;
	/* Made at a socket's first event: read after that, a load instead of a helper call. */
	e->sock_cookie = (__u64)sk->__sk_common.skc_cookie.counter;
	how = newstate == TCP_CLOSE ? INFO_FIND : INFO_CLAIM;
	if (!e->sock_cookie) {
		e->sock_cookie = bpf_get_socket_cookie(sk);
		if (how == INFO_CLAIM)
			how = INFO_FRESH;
	}
	e->cgroup_id = sk_cgroup_id(sk);
	/*
	 * sk is a full TCP socket (the handler checked): a cast, read with loads, where the kernel
	 * has one (6.2+), costs less than the helper that checks it again.
	 */
	if (bpf_rdonly_cast)
		tp = bpf_rdonly_cast(sk, bpf_core_type_id_kernel(struct tcp_sock));
	else
		tp = bpf_skc_to_tcp_sock(sk);
	read_endpoints(e, sk, tp);

	/* A child is a clone of its listener: its life starts at CLOSE, not at LISTEN. */
	clone = newstate == TCP_SYN_RECV && oldstate == TCP_LISTEN;
	if (clone)
		e->oldstate = TCP_CLOSE;
	sk_addr = (__u64)sk;

	/* After a socket's first event its record is found inline; a new one is taken inline. */
	info = how == INFO_FRESH ? NULL : info_find(e->sock_cookie);
	if (!info && how != INFO_FIND)
		info = info_take(e->sock_cookie, how);
	if (clone && info && info->listener) {
		struct owner o;

		/* On 6.1 and 6.12 the clone fires under its listener's cookie: not our memory. */
		int found = child_listener_owner(e, &o);

		if (found == LISTENER_MOVED)
			e->flags |= TT_F_OWNER_MOVED;
		else if (found)
			event_owner(e, &o);
		if (found == LISTENER_SHARED)
			e->flags |= TT_F_PRE_ACCEPT;
		if (!hold_child(e, NULL, &sk_addr, true))
			submit(e);
		return;
	}
	if (oldstate == TCP_SYN_RECV && (!info || !info->state_ts || info->has_pending)) {
		if (info)
			info->has_pending = 0;
		release_pending(e, info, sk_addr);
	}
	resolve_owner(e, info, sk, oldstate, newstate);
	if (newstate == TCP_LISTEN) {
		if (info)
			info->listener = 1;
		update_listeners(e, info, sock_file_of(sk), 0);
	} else if (oldstate == TCP_LISTEN && newstate == TCP_CLOSE) {
		update_listeners(e, NULL, 0, 1);
	}
	stamp_time(e, info);
	mark_close(e, sk, oldstate, newstate);
	/* The handshake's retransmits are all the socket has when it leaves it. */
	if (info && tp && (oldstate == TCP_SYN_SENT || oldstate == TCP_SYN_RECV))
		info->syn_retrans = tp->total_retrans;
	if (info && newstate == TCP_SYN_SENT)
		info->active = 1;
	if (newstate == TCP_CLOSE) {
		bool forgotten = forgotten_child(sk, e, info, oldstate);

		if (forgotten)
			mark_forgotten_child(e, info);
		else
			mark_active_reset(sk, tp, info, e, oldstate);
		read_totals(e, info, tp, oldstate);
		if (forgotten)
			e->cause = TT_CAUSE_LISTENER_CLOSED;
	}
	if (clone && hold_child(e, info, &sk_addr, false))
		return;
	if (newstate == TCP_CLOSE && info)
		info_delete(e->sock_cookie);
	submit(e);
}

#ifdef TT_TRANSITION_COST
/*
 * Measurement builds only (tests/bench/transitions.sh): the time set_state() takes, summed per
 * transition (key: newstate << 4 | oldstate), with the two clock reads that measure it.
 */
struct transition_cost {
	__u64 ns;
	__u64 runs;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, struct transition_cost);
} transition_cost SEC(".maps");

static __always_inline void timed_set_state(struct tt_event *e, struct sock *sk, int oldstate,
					    int newstate, __u16 family)
{
	__u32 key = ((newstate & 15) << 4) | (oldstate & 15);
	__u64 start = bpf_ktime_get_ns();
	struct transition_cost *c;

	set_state(e, sk, oldstate, newstate, family);
	c = bpf_map_lookup_elem(&transition_cost, &key);
	if (c) {
		c->ns += bpf_ktime_get_ns() - start;
		c->runs++;
	}
}
#define set_state timed_set_state
#endif

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(handle_set_state, struct sock *sk, int oldstate, int newstate)
{
	struct event_scratch *scratch;
	__u32 zero = 0;
	__u16 family;

	TEST_REFUSAL(TT_PART_CORE);
#ifdef TT_DISPATCH_ONLY
	/* Measurement builds only (make bench's reference case): what the kernel's call costs. */
	return 0;
#endif
	/* The kernel stores a state again (close() after shutdown()): not a transition. */
	if (oldstate == newstate)
		return 0;
	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	family = sk->__sk_common.skc_family;
	if (family != AF_INET && family != AF_INET6)
		return 0;
	/*
	 * Nothing of a socket outside --netns or --cgroup is wanted. Leaving at once also keeps a
	 * run in process context short: a softirq's event that finds this program running on its
	 * CPU is skipped by the kernel and counted lost.
	 */
	if (!socket_watched(sk))
		return 0;
	scratch = bpf_map_lookup_elem(&event_scratch, &zero);
	if (!scratch)
		return 0;
	/* A constant at load: 6.1+ never nests a run of this program on a CPU. */
	if (!NESTED_RUNS_SKIPPED) {
		if (scratch->busy) {
			count_lost(TT_LOST_RINGBUF);
			return 0;
		}
		scratch->busy = 1;
		asm volatile("" ::: "memory");
	}
	set_state(&scratch->ev, sk, oldstate, newstate, family);
	if (!NESTED_RUNS_SKIPPED) {
		asm volatile("" ::: "memory");
		scratch->busy = 0;
	}
	return 0;
}

static __always_inline struct sk_info *reset_info(const struct sock *sk)
{
	__u64 cookie;

	/*
	 * Timewait and request sockets answer with resets too; only full sockets are kept. A
	 * socket in CLOSE sends its reset after its CLOSE event (close() with SO_LINGER 0 or unread
	 * data, a listener's close), which forgot it: no lookup to miss.
	 */
	if (!sk || sk->__sk_common.skc_state == TCP_TIME_WAIT ||
	    sk->__sk_common.skc_state == TCP_NEW_SYN_RECV || sk->__sk_common.skc_state == TCP_CLOSE)
		return NULL;
	/* A followed socket's cookie was made at its first event: read it, no helper call. */
	cookie = (__u64)sk->__sk_common.skc_cookie.counter;
	return cookie ? info_find(cookie) : NULL;
}

/*
 * A reset received needs no hook: tcp_reset() sets sk_err (ECONNREFUSED, EPIPE or ECONNRESET)
 * before the CLOSE it causes, on every kernel, and close_cause() reads that.
 */

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
 * The I/O hooks fire only for TCP: a hook on every socket's I/O (sock:sock_send_length and
 * sock_recv_length) made every process's unix-socket, UDP and netlink I/O slower too. One send
 * hook loads (trace_bpf): the TCP tracepoint (after 6.12), else a trampoline on tcp_sendmsg
 * (kernels that allow them, such as Debian's 6.1 and 6.12), else the generic one (6.3+), which
 * filters.
 */
SEC("tp_btf/tcp_sendmsg_locked")
int BPF_PROG(handle_send, struct sock *sk)
{
	TEST_REFUSAL(TT_PART_SEND);
	learn_owner_in_call(sk);
	return 0;
}

SEC("fentry/tcp_sendmsg")
int BPF_PROG(handle_send_fentry, struct sock *sk)
{
	TEST_REFUSAL(TT_PART_SEND);
	learn_owner(sk);
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(handle_send_any, struct sock *sk, int ret, int flags)
{
	TEST_REFUSAL(TT_PART_SEND);
	if (sk && sk->sk_protocol == IPPROTO_TCP)
		learn_owner(sk);
	return 0;
}

/* Every copy of received data to its reader (recvmsg, zero-copy receive, splice). */
SEC("tp_btf/tcp_rcv_space_adjust")
int BPF_PROG(handle_recv, struct sock *sk)
{
	TEST_REFUSAL(TT_PART_RECV);
	learn_owner_in_call(sk);
	return 0;
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
	if (live_owner(lo->heir, &h.heir, &h.heir_task) ||
	    live_owner(task->real_parent->tgid, &h.heir, &h.heir_task)) {
		if (!hand_over_noted(lo, &h))
			bpf_for_each_map_elem(&listeners, hand_over_group, &h, 0);
		listener_memos_stale();
	}
	bpf_map_delete_elem(&listen_owners, &tgid);
	return 0;
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
		listener_memos_stale();
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
	ev.ts_ns = bpf_ktime_get_ns();
	ev.family = sk->__sk_common.skc_family;
	ev.netns = sk_netns(sk);
	ev.oldstate = sk->__sk_common.skc_state;
	ev.newstate = ev.oldstate;
	ev.type = TT_EV_STATE;
	ev.sock_cookie = bpf_get_socket_cookie(sk);
	ev.cgroup_id = sk_cgroup_id(sk);
	read_endpoints(&ev, sk, tp);
	/*
	 * Outside --netns or --cgroup the state handler leaves before it could forget the socket's
	 * record or its listener's group: the walk keeps neither.
	 */
	if (socket_watched(sk)) {
		info = info_get(&ev.sock_cookie, ev.oldstate != TCP_CLOSE ? INFO_SEED : INFO_FIND);
		seed_owner(sk, info, &ev);
	} else {
		__u64 ino = sock_ino(sk);

		info = NULL;
		if (ino)
			bpf_map_delete_elem(&seed_owner_by_ino, &ino);
	}
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
