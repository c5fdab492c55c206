/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Socket fields every part reads: namespace, v4-mapped addresses, endpoints.
 * Included by tcptrail.bpf.c only, in the order it gives.
 */
#ifndef TT_SOCK_BPF_H
#define TT_SOCK_BPF_H

/* Direct loads, not bpf_probe_read(): sk is a BTF pointer here, and each helper call counts. */
static __always_inline __u32 sk_netns(const struct sock *sk)
{
	return sk->__sk_common.skc_net.net->ns.inum;
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

#endif /* TT_SOCK_BPF_H */
