// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tcptrail snapshot: BPF iterators that stream fixed-size binary records to userspace.
 * dump_tcp walks the TCP sockets of the netns that created the iterator fd (struct tt_sock_rec);
 * dump_owners walks every open file of every process and reports TCP socket files
 * (struct tt_owner_rec), so userspace can join owners on the socket inode (snapshot) or cookie
 * (trace's stuck alerts).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "tcptrail.h"

#include "consts.bpf.h"
#include "sockfile.bpf.h"
#include "cgroup.bpf.h"

/* include/net/inet_connection_sock.h: icsk_pending values */
#define ICSK_TIME_RETRANS     1
#define ICSK_TIME_PROBE0      3
#define ICSK_TIME_LOSS_PROBE  5
#define ICSK_TIME_REO_TIMEOUT 6

/* Timer codes of /proc/net/tcp and netstat -o. */
#define TIMER_OFF	0
#define TIMER_ON	1
#define TIMER_KEEPALIVE 2
#define TIMER_TIMEWAIT	3
#define TIMER_PROBE	4

/*
 * Nanoseconds per jiffy (1e9 / CONFIG_HZ), set by the loader: the kernel's own figure, with no
 * kernel config file (Debian ships no /proc/config.gz, containers see no /boot).
 */
const volatile __u32 ns_per_jiffy = 4000000;

static __always_inline __s64 jiffies_to_ns(__s64 j)
{
	/* BPF has no signed division: scale by an unsigned ns-per-jiffy. */
	return j * (__s64)ns_per_jiffy;
}

/* Signed distance from a u32 jiffies stamp to now; -1 if the stamp is in the future. */
static __always_inline __s64 since_stamp(__u32 now32, __u32 stamp)
{
	__s32 d = (__s32)(now32 - stamp);

	return d < 0 ? 0 : jiffies_to_ns(d);
}

static __always_inline void fill_full(struct tt_sock_rec *r, struct tcp_sock *tp, __u64 now)
{
	struct inet_connection_sock *icsk = &tp->inet_conn;
	struct sock *sk = &icsk->icsk_inet.sk;
	__u32 now32 = (__u32)now;
	__u8 pending = icsk->icsk_pending;
	unsigned long expires = 0;
	__u32 rcv, lrcv;

	if (r->state == TCP_LISTEN) {
		/* What inet_diag reports to ss: the accept queue and its limit. */
		r->recvq = sk->sk_ack_backlog;
		r->sendq = sk->sk_max_ack_backlog;
	} else {
		__s32 rq = (__s32)(tp->rcv_nxt - tp->copied_seq);

		r->recvq = rq < 0 ? 0 : rq;
		r->sendq = tp->write_seq - tp->snd_una;
	}
	if (pending == ICSK_TIME_RETRANS || pending == ICSK_TIME_REO_TIMEOUT ||
	    pending == ICSK_TIME_LOSS_PROBE) {
		r->timer = TIMER_ON;
		expires = icsk->icsk_retransmit_timer.expires;
	} else if (pending == ICSK_TIME_PROBE0) {
		r->timer = TIMER_PROBE;
		expires = icsk->icsk_retransmit_timer.expires;
	} else if (sk->sk_timer.entry.pprev) {
		r->timer = TIMER_KEEPALIVE;
		expires = sk->sk_timer.expires;
	}
	if (r->timer)
		r->timer_ns = jiffies_to_ns((__s64)(expires - now));
	r->retrans = icsk->icsk_retransmits;
	r->probes = icsk->icsk_probes_out;
	r->uid = sk->sk_uid.val;
	r->ino = sock_ino(sk);
	r->rtt_us = tp->srtt_us >> 3;
	r->rttvar_us = tp->mdev_us >> 2;
	if (r->state == TCP_LISTEN) {
		r->lastrcv_ns = -1;
		r->lastsnd_ns = -1;
		return;
	}
	/* Last packet received: the later of the last ACK (a FIN carries one) and last data. */
	rcv = tp->rcv_tstamp;
	lrcv = icsk->icsk_ack.lrcvtime;
	if ((__s32)(lrcv - rcv) > 0)
		rcv = lrcv;
	r->lastrcv_ns = since_stamp(now32, rcv);
	r->lastsnd_ns = since_stamp(now32, tp->lsndtime);
}

SEC("iter/tcp")
int dump_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct seq_file *seq = ctx->meta->seq;
	struct tt_sock_rec r = {};
	__u64 now = bpf_jiffies64();

	if (!skc)
		return 0;
	r.family = skc->skc_family;
	r.state = skc->skc_state;
	r.sport = skc->skc_num;
	r.dport = bpf_ntohs(skc->skc_dport);
	r.netns = BPF_CORE_READ(skc, skc_net.net, ns.inum);
	r.sock_cookie = bpf_get_socket_cookie(skc);
	r.lastrcv_ns = -1;
	r.lastsnd_ns = -1;
	if (r.family == AF_INET) {
		__builtin_memcpy(r.saddr, &skc->skc_rcv_saddr, 4);
		__builtin_memcpy(r.daddr, &skc->skc_daddr, 4);
	} else if (r.family == AF_INET6) {
		BPF_CORE_READ_INTO(&r.saddr, skc, skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&r.daddr, skc, skc_v6_daddr);
	} else {
		return 0;
	}

	if (r.state == TCP_TIME_WAIT) {
		struct tcp_timewait_sock *tw = bpf_skc_to_tcp_timewait_sock(skc);

		if (!tw)
			return 0;
		if (tw->tw_sk.tw_substate == TCP_FIN_WAIT2)
			r.state = TT_FIN_WAIT2_TW;
		r.timer = TIMER_TIMEWAIT;
		r.timer_ns = jiffies_to_ns((__s64)(tw->tw_sk.tw_timer.expires - now));
	} else if (r.state == TCP_NEW_SYN_RECV) {
		struct tcp_request_sock *treq = bpf_skc_to_tcp_request_sock(skc);
		struct request_sock *req;

		if (!treq)
			return 0;
		req = &treq->req.req;
		r.state = TCP_SYN_RECV;
		r.timer = TIMER_ON;
		r.timer_ns = jiffies_to_ns((__s64)(req->rsk_timer.expires - now));
		r.retrans = BPF_CORE_READ_BITFIELD_PROBED(req, num_timeout);
		r.uid = BPF_CORE_READ(req, __req_common.skc_listener, sk_uid.val);
		r.cgroup_id = sk_cgroup_id_probed(BPF_CORE_READ(req, __req_common.skc_listener));
	} else {
		struct tcp_sock *tp = bpf_skc_to_tcp_sock(skc);

		if (!tp)
			return 0;
		fill_full(&r, tp, now);
		r.cgroup_id = sk_cgroup_id((struct sock *)tp);
	}
	bpf_seq_write(seq, &r, sizeof(r));
	return 0;
}

SEC("iter/task_file")
int dump_owners(struct bpf_iter__task_file *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct tt_owner_rec r = {};
	struct sock *sk;

	/*
	 * The kernel visits one thread per shared fd table; the rest of the duplicates (a process
	 * holding the socket in two fds, threads left after their leader exited) are folded by
	 * pid in userspace. Kernel threads own no process's sockets, whatever files they hold.
	 */
	if (!task || !file || (task->flags & PF_KTHREAD))
		return 0;
	sk = file_tcp_sock(file, &r.ino);
	if (!sk)
		return 0;
	/*
	 * Untrusted pointer: bpf_get_socket_cookie() is refused, so read the cookie the kernel
	 * stored. 0 means none was ever made; such a socket never reached the tracer either.
	 */
	r.cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	r.pid = task->tgid;
	/* The process name, as /proc/PID/comm and ss show it, not the thread's own name. */
	BPF_CORE_READ_STR_INTO(&r.comm, task, group_leader, comm);
	bpf_seq_write(seq, &r, sizeof(r));
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
