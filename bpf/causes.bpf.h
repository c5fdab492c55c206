/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * How a connection ended: the close cause, resets and the totals of its final transition.
 * Included by tcptrail.bpf.c only, in the order it gives.
 */
#ifndef TT_CAUSES_BPF_H
#define TT_CAUSES_BPF_H

/*
 * tcp_time_wait() hands a connection in FIN_WAIT2 or CLOSING over to a timewait socket and
 * then closes the full socket without an error; a reset or timeout close sets sk_err or passes
 * through tcp_send_reset or tcp_reset() (which sets sk_err) first.
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

/* Why a socket ended, from what its last transition, its error and the last reset seen say. */
static __always_inline int close_cause(const struct tt_event *e, int reset, int oldstate)
{
	if (!e)
		return TT_CAUSE_UNKNOWN;
	if (e->flags & TT_F_TW_HANDOFF)
		return TT_CAUSE_TIMEWAIT;
	if (oldstate == TCP_LISTEN)
		return TT_CAUSE_LISTENER_CLOSED;
	if (oldstate == TCP_SYN_SENT) {
		if (e->sk_err == ECONNREFUSED)
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
	if (reset == RESET_OUT)
		return TT_CAUSE_RESET_OUT;
	/* A reset received: the error tcp_reset() leaves behind. */
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
	if (!info || !tp || e->sk_err || oldstate == TCP_LAST_ACK || (e->flags & TT_F_TW_HANDOFF))
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

#endif /* TT_CAUSES_BPF_H */
