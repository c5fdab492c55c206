/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Records shared by the BPF programs and the userspace loader.
 * Everything here is fixed-size and little-endian host order, because it crosses the ring buffer
 * and the iterator seq_file as raw bytes.
 */
#ifndef TCPTRAIL_H
#define TCPTRAIL_H

#define TT_COMM_LEN	 16
#define TT_MAX_FILTER	 16
#define TT_MAX_SOCKETS	 524288 /* slots of the per-socket table: sockets followed at once */
#define TT_MAX_LISTENERS 65536	/* listening addresses (all namespaces) whose owner is known */

/* Indexes of the per-CPU `lost` counters. */
enum tt_lost {
	TT_LOST_RINGBUF = 0,   /* events dropped: ring buffer full */
	TT_LOST_UNTRACKED = 1, /* sockets not followed: their bucket of the table was full */
	TT_LOST_LISTENERS = 2, /* listeners not recorded: the listener table was full */
	TT_LOST_MAX = 3,
};

/*
 * The tracer's BPF programs in parts that load (and are switched off) together: the core, then
 * the optional parts. The loader's table (trace.c) describes them; bit N of the BPF side's
 * test_refuse makes part N's programs fail verification on purpose (TCPTRAIL_TEST_REFUSE).
 */
enum tt_bpf_part {
	TT_PART_CORE = 0,    /* state events: handle_set_state */
	TT_PART_RESETS = 1,  /* resets sent: close causes */
	TT_PART_SEND = 2,    /* owners learned from TCP sends */
	TT_PART_RECV = 3,    /* owners learned from TCP receives */
	TT_PART_ACCEPT = 4,  /* owners learned at accept() */
	TT_PART_HANDOFF = 5, /* listeners handed on at fork/exit */
	TT_PART_EXEC = 6,    /* sockets renamed at exec/prctl */
	TT_PART_WALK = 7,    /* the start-up walk of existing sockets */
	TT_PART_COUNT = 8,
};

/* Kernel TCP states (include/net/tcp_states.h), plus tcptrail's own markers. */
enum tt_state {
	TT_ESTABLISHED = 1,
	TT_SYN_SENT = 2,
	TT_SYN_RECV = 3,
	TT_FIN_WAIT1 = 4,
	TT_FIN_WAIT2 = 5,
	TT_TIME_WAIT = 6,
	TT_CLOSE = 7,
	TT_CLOSE_WAIT = 8,
	TT_LAST_ACK = 9,
	TT_LISTEN = 10,
	TT_CLOSING = 11,
	TT_NEW_SYN_RECV = 12,
	/*
	 * Handed to a timewait mini-socket before the peer's FIN arrived: the kernel keeps it in
	 * the FIN_WAIT2 substate (ss prints FIN-WAIT-2) until that FIN comes, unseen by any
	 * tracepoint.
	 */
	TT_FIN_WAIT2_TW = 13,
	TT_STATE_MAX = 14,
};

enum tt_event_type {
	TT_EV_STATE = 1, /* a state transition */
	TT_EV_STUCK = 2, /* userspace: a socket stayed in a state too long */
	/*
	 * Not an event: the first holder seen of a connection whose earlier events were flagged
	 * TT_F_PRE_ACCEPT (sock_cookie, ts_ns, pid, comm valid; the rest zero).
	 */
	TT_EV_ACCEPTED = 3,
};

enum tt_event_flags {
	TT_F_OWNER_KNOWN = 1 << 0,  /* pid/comm name the socket's owner */
	TT_F_DELTA_KNOWN = 1 << 1,  /* delta_ns is the time spent in oldstate */
	TT_F_FIN_SEEN = 1 << 2,	    /* SOCK_DONE: the peer's FIN has arrived */
	TT_F_RESET = 1 << 3,	    /* a reset was sent or received, or sk_err was set */
	TT_F_TW_HANDOFF = 1 << 4,   /* the kernel's -> CLOSE was a handoff to a timewait socket */
	TT_F_DELTA_MIN = 1 << 5,    /* delta_ns is a lower bound (socket predates the tracer) */
	TT_F_TOTALS = 1 << 6,	    /* a final transition: cause and the totals are valid */
	TT_F_LIFE_MIN = 1 << 7,	    /* life_ns is a lower bound (socket predates the tracer) */
	TT_F_RESET_REASON = 1 << 8, /* reset_reason is the kernel's enum sk_rst_reason value */
	TT_F_OWNER_MOVED = 1 << 9,  /* no owner: the holder known last let the socket go */
	/*
	 * The connection waited in the accept queue of a listener several processes hold: pid and
	 * comm are the listener's owner until a TT_EV_ACCEPTED record names the acceptor.
	 */
	TT_F_PRE_ACCEPT = 1 << 10,
};

/* Why a connection ended: the cause of a final transition (TT_F_TOTALS). */
enum tt_cause {
	TT_CAUSE_NONE = 0,	      /* not a final transition */
	TT_CAUSE_CLOSED = 1,	      /* orderly close by both ends */
	TT_CAUSE_TIMEWAIT = 2,	      /* handed to TIME_WAIT / FIN_WAIT2_TW */
	TT_CAUSE_REFUSED = 3,	      /* RST in answer to our SYN */
	TT_CAUSE_TIMEOUT = 4,	      /* connect or retransmission timeout (ETIMEDOUT) */
	TT_CAUSE_RESET_IN = 5,	      /* RST received on an established or closing connection */
	TT_CAUSE_RESET_OUT = 6,	      /* we sent RST (SO_LINGER 0, unread data, kernel decision) */
	TT_CAUSE_ABORT = 7,	      /* another socket error: sk_err says which */
	TT_CAUSE_LISTENER_CLOSED = 8, /* a listener closed */
	TT_CAUSE_UNKNOWN = 9,	      /* the kernel did not say */
	TT_CAUSE_MAX = 10,
};

/* One state transition; 160 bytes. */
struct tt_event {
	__u64 ts_ns;	   /* CLOCK_MONOTONIC */
	__u64 sock_cookie; /* bpf_get_socket_cookie(), the "sk:" id of ss -e */
	__u64 delta_ns;	   /* time in oldstate, valid with TT_F_DELTA_KNOWN */
	__u32 pid;	   /* owner tgid, valid with TT_F_OWNER_KNOWN */
	__u32 netns;	   /* network namespace inode */
	__u8 saddr[16];	   /* IPv4 in the first 4 bytes */
	__u8 daddr[16];
	__u16 sport; /* host order */
	__u16 dport;
	__u8 family; /* socket family: AF_INET or AF_INET6 */
	__u8 oldstate;
	__u8 newstate; /* TT_TIME_WAIT / TT_FIN_WAIT2_TW for a timewait handoff */
	__u8 type;
	__u16 flags;
	__u16 sk_err;
	char comm[TT_COMM_LEN];
	__u64 cgroup_id; /* the socket's cgroup v2 (its directory's inode), 0 unknown */
	/* With TT_F_TOTALS: what the connection did, read from the socket at its end (ss -ti). */
	__u64 bytes_sent;     /* bytes acknowledged by the peer (tcpi_bytes_acked) */
	__u64 bytes_received; /* tcpi_bytes_received */
	__u64 life_ns;	      /* since the first transition seen (TT_F_LIFE_MIN: a lower bound) */
	__u32 segs_out;
	__u32 segs_in;
	__u32 retrans;	    /* total retransmitted segments (tcpi_total_retrans) */
	__u32 srtt_us;	    /* smoothed RTT */
	__u32 rttvar_us;    /* RTT variation */
	__u16 syn_retrans;  /* SYN or SYN-ACK retransmits during the handshake */
	__u16 reset_reason; /* with TT_F_RESET_REASON: the kernel's enum sk_rst_reason */
	__u8 cause;	    /* enum tt_cause */
	__u8 pad2[7];
};

/*
 * The state handler's records go to its CPU's ring: slots of an mmapable array, written with no
 * lock since one CPU never runs the handler twice at once (the kernel skips a nested run and
 * counts it). The BPF side stores head after the record, user space stores tail after reading
 * it: each on a cache line of its own, so neither side's write evicts what the other reads.
 * Other programs' records, rare, and the reader's wakeups go through the shared ring buffer.
 */
struct tt_ring_pos {
	__u64 head; /* records written */
	__u64 pad_head[7];
	__u64 tail; /* records read */
	__u64 pad_tail[7];
};

/* A record of this size on the shared ring buffer only wakes the reader: read the CPU rings. */
#define TT_DOORBELL_LEN 8

/*
 * A record in the ring buffer is the event up to its totals unless it carries them
 * (TT_F_TOTALS): most transitions are not final, and the ring's cost grows with the bytes
 * written. The reader zeroes what a short record leaves out.
 */
#define TT_EVENT_BASE_SIZE __builtin_offsetof(struct tt_event, bytes_sent)

/* Owner record from the iter/task_file pass: one per (process, socket file). */
struct tt_owner_rec {
	__u64 ino;    /* socket inode */
	__u64 cookie; /* socket cookie; 0 when the kernel never made one */
	__u32 pid;    /* thread-group id */
	__u32 pad;
	char comm[TT_COMM_LEN]; /* the thread-group leader's: the process name */
};

/* One socket from the iter/tcp pass. */
struct tt_sock_rec {
	__u64 sock_cookie;
	__u64 ino;
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u8 family;
	__u8 state;
	__u8 timer;   /* 0 off, 1 on, 2 keepalive, 3 timewait, 4 probe: netstat -o's codes */
	__u8 retrans; /* icsk_retransmits */
	__u32 uid;
	__u32 netns;
	__u32 recvq;
	__u32 sendq;
	__u32 rtt_us; /* srtt_us >> 3 */
	__u32 rttvar_us;
	__s64 timer_ns;	  /* time left on the pending timer */
	__s64 lastrcv_ns; /* since the last packet was received, -1 unknown */
	__s64 lastsnd_ns; /* since the last packet was sent, -1 unknown */
	__u32 probes;
	__u32 pad;
	__u64 cgroup_id; /* the socket's cgroup v2; a request socket its listener's; 0 timewait */
};

/*
 * A socket from the metrics iterator (iter/tcp), 56 bytes: every listener (its accept queue), and
 * with address filters also each timewait and request socket, which it counts otherwise.
 */
struct tt_mt_rec {
	__u8 saddr[16]; /* local address, IPv4 in the first 4 bytes */
	__u8 daddr[16];
	__u32 netns;
	__u32 qlen;  /* listener: connections waiting to be accepted (sk_ack_backlog) */
	__u32 qmax;  /* listener: the queue's limit (sk_max_ack_backlog) */
	__u16 sport; /* host order */
	__u16 dport;
	__u8 family;
	__u8 state; /* TT_LISTEN, TT_TIME_WAIT, TT_FIN_WAIT2_TW, TT_SYN_RECV (a request socket) */
	__u8 pad[6];
};

/* Indexes of the metrics iterator's counters of sockets no event shows ending. */
enum tt_mt_count {
	TT_MT_TW4 = 0,	  /* timewait sockets in TIME_WAIT, IPv4 */
	TT_MT_TW6 = 1,	  /* ... IPv6 */
	TT_MT_FIN2_4 = 2, /* timewait sockets in the FIN_WAIT2 substate */
	TT_MT_FIN2_6 = 3,
	TT_MT_REQ4 = 4, /* request sockets: handshakes waiting for the last ACK (SYN_RECV) */
	TT_MT_REQ6 = 5,
	TT_MT_MAX = 6,
};

#endif /* TCPTRAIL_H */
