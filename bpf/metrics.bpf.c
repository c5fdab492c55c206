// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tcptrail --metrics: what the trace cannot count, read at scrape time. count_tcp walks the TCP
 * sockets of the netns that created the iterator fd: it counts timewait and request sockets
 * (no event shows them ending, or beginning) in `counts`, which userspace zeroes before a walk
 * and reads after it, and writes one struct tt_mt_rec per listener (its accept queue). The full
 * sockets, which the trace counts, are only stepped over: a scrape copies none of them. With
 * address filters (emit_all), timewait and request sockets are written as records instead, for
 * userspace to match as it matches events.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "tcptrail.h"

#include "consts.bpf.h"

const volatile __u8 emit_all;
/* Tests only (TCPTRAIL_TEST_REFUSE=metrics): the iterator fails verification on purpose. */
const volatile __u8 test_refuse;

__u64 counts[TT_MT_MAX];

static __always_inline void count(int i)
{
	if (i >= 0 && i < TT_MT_MAX)
		__sync_fetch_and_add(&counts[i], 1);
}

SEC("iter/tcp")
int count_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct seq_file *seq = ctx->meta->seq;
	struct tt_mt_rec r = {};
	struct tcp_timewait_sock *tw;
	struct tcp_sock *tp;
	int v6;

	if (test_refuse) {
		volatile __u64 *past = counts + TT_MT_MAX + 4096;

		return (int)*past; /* past the array: always refused */
	}

	if (!skc)
		return 0;
	r.family = skc->skc_family;
	if (r.family != AF_INET && r.family != AF_INET6)
		return 0;
	v6 = r.family == AF_INET6;
	switch (skc->skc_state) {
	case TCP_TIME_WAIT:
		tw = bpf_skc_to_tcp_timewait_sock(skc);
		if (!tw)
			return 0;
		r.state = tw->tw_sk.tw_substate == TCP_FIN_WAIT2 ? TT_FIN_WAIT2_TW : TT_TIME_WAIT;
		if (!emit_all) {
			if (r.state == TT_FIN_WAIT2_TW)
				count(v6 ? TT_MT_FIN2_6 : TT_MT_FIN2_4);
			else
				count(v6 ? TT_MT_TW6 : TT_MT_TW4);
			return 0;
		}
		break;
	case TCP_NEW_SYN_RECV:
		if (!emit_all) {
			count(v6 ? TT_MT_REQ6 : TT_MT_REQ4);
			return 0;
		}
		r.state = TT_SYN_RECV;
		break;
	case TCP_LISTEN:
		tp = bpf_skc_to_tcp_sock(skc);
		if (!tp)
			return 0;
		r.state = TT_LISTEN;
		/* What inet_diag reports to ss for a listener: the accept queue and its limit. */
		r.qlen = tp->inet_conn.icsk_inet.sk.sk_ack_backlog;
		r.qmax = tp->inet_conn.icsk_inet.sk.sk_max_ack_backlog;
		break;
	default:
		return 0;
	}
	r.sport = skc->skc_num;
	r.dport = bpf_ntohs(skc->skc_dport);
	r.netns = BPF_CORE_READ(skc, skc_net.net, ns.inum);
	if (v6) {
		BPF_CORE_READ_INTO(&r.saddr, skc, skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&r.daddr, skc, skc_v6_daddr);
	} else {
		__builtin_memcpy(r.saddr, &skc->skc_rcv_saddr, 4);
		__builtin_memcpy(r.daddr, &skc->skc_daddr, 4);
	}
	bpf_seq_write(seq, &r, sizeof(r));
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
