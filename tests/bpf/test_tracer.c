// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The tracer's BPF programs tested from C, as the kernel's selftests do: the real object is
 * loaded through its skeleton and attached, real sockets are made in a private network
 * namespace (the tracepoint programs have no BPF_PROG_TEST_RUN), and the records read from the
 * ring buffer and the maps left behind are checked exactly. Root only; run by `make bpftest`.
 *
 * Cases: an orderly close (both sides' transitions, owner, addresses, the TIME_WAIT handoff
 * and the causes), a reset close (SO_LINGER 0: reset_out and reset_in), a refused connect, the
 * per-socket table and the listener table emptied after the sockets close, the kernel's port
 * filter, the per-socket records reused, a socket whose index bucket is full, a full ring, and
 * a namespace and a cgroup outside the filters, of which nothing is kept.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "filter_match.h" /* the skeleton's read-only data holds a struct tt_kfilter */
#include "tcptrail.skel.h"
#include "evring.h"
#include "bpfcommon.h"
#include "cgroup.h"
#include "tcptrail.h"

#define MAX_EVENTS 256
#define WAIT_MS	   10000

static int failures, checks;

#define CHECK(cond, ...)                                                              \
	do {                                                                          \
		checks++;                                                             \
		if (!(cond)) {                                                        \
			failures++;                                                   \
			fprintf(stderr, "bpftest: FAIL %s:%d: ", __func__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                                 \
			fputc('\n', stderr);                                          \
		}                                                                     \
	} while (0)

struct seen {
	struct tt_event ev[MAX_EVENTS];
	int n;
	long total; /* records read, kept or not */
};

static int on_record(void *ctx, void *data, size_t len)
{
	struct seen *s = ctx;

	s->total++;
	if (s->n == MAX_EVENTS || len < TT_EVENT_BASE_SIZE)
		return 0;
	memset(&s->ev[s->n], 0, sizeof(s->ev[0]));
	memcpy(&s->ev[s->n], data, len < sizeof(s->ev[0]) ? len : sizeof(s->ev[0]));
	s->n++;
	return 0;
}

struct tracer {
	struct tcptrail_bpf *skel;
	struct evring *events;
	struct seen seen;
};

static uint32_t netns_ino(void)
{
	struct stat st;

	return stat("/proc/self/ns/net", &st) ? 0 : (uint32_t)st.st_ino;
}

/*
 * Loads and attaches the tracer, keeping only this netns (and one port, when port != 0, and the
 * sockets of one cgroup v2 and below, when cgroup_id != 0).
 */
static int tracer_open_filtered(struct tracer *t, uint16_t port, uint64_t cgroup_id,
				uint32_t cgroup_level)
{
	struct tcptrail_bpf__rodata *ro;
	int reason = tt_btf_tracepoint_nargs("tcp_send_reset") >= 3;
	unsigned int shift;

	memset(t, 0, sizeof(*t));
	t->skel = tcptrail_bpf__open();
	if (!t->skel)
		return -1;
	ro = t->skel->rodata;
	ro->kfilter.nnetns = 1;
	ro->kfilter.netns[0] = netns_ino();
	ro->kfilter.nports = port ? 1 : 0;
	ro->kfilter.ports[0] = port;
	ro->any_filter = 1;
	ro->filter_ncgroups = cgroup_id ? 1 : 0;
	ro->filter_cgroup_ids[0] = cgroup_id;
	ro->filter_cgroup_levels[0] = cgroup_level;
	/* The optional parts this kernel lacks (the loader's probes, kept simple here). */
	bpf_program__set_autoload(t->skel->progs.handle_send_reset_reason, reason);
	bpf_program__set_autoload(t->skel->progs.handle_send_reset, !reason);
	bpf_program__set_autoload(t->skel->progs.handle_rename,
				  tt_kernel_has_btf_tracepoint("task_rename"));
	bpf_program__set_autoload(t->skel->progs.handle_accept, tt_kernel_can_fexit("inet_accept"));
	/*
	 * The send hooks this kernel has, the generic one too even where the TCP one is there (the
	 * tracer loads one): both only name the sender, and this verifies the fallback here.
	 */
	bpf_program__set_autoload(t->skel->progs.handle_send,
				  tt_kernel_has_btf_tracepoint("tcp_sendmsg_locked"));
	bpf_program__set_autoload(t->skel->progs.handle_send_fentry, false);
	bpf_program__set_autoload(t->skel->progs.handle_send_any,
				  tt_kernel_has_btf_tracepoint("sock_send_length"));
	bpf_program__set_autoload(t->skel->progs.handle_recv,
				  tt_kernel_has_btf_tracepoint("tcp_rcv_space_adjust"));
	if (!tt_kernel_has_kfunc("bpf_task_from_pid")) {
		bpf_program__set_autoload(t->skel->progs.handle_fork, false);
		bpf_program__set_autoload(t->skel->progs.handle_exit, false);
	}
	if (evring_size(t->skel->maps.ring_pos, t->skel->maps.ring_slots, 1 << 20, &shift))
		return -1;
	ro->ring_slot_shift = shift;
	if (tcptrail_bpf__load(t->skel) || tcptrail_bpf__attach(t->skel))
		return -1;
	t->events = evring_new(t->skel->maps.events, t->skel->maps.ring_pos,
			       t->skel->maps.ring_slots, on_record, &t->seen);
	return t->events ? 0 : -1;
}

static int tracer_open(struct tracer *t, uint16_t port)
{
	return tracer_open_filtered(t, port, 0, 0);
}

static void tracer_close(struct tracer *t)
{
	evring_free(t->events);
	tcptrail_bpf__destroy(t->skel);
}

/* Waits (a deadline, not a fixed sleep) until the socket with this local or remote port shows
 * the transition old -> new; returns its record or NULL. */
static const struct tt_event *wait_event(struct tracer *t, uint16_t port, int old, int new)
{
	for (int waited = 0; waited < WAIT_MS; waited += 10) {
		evring_poll(t->events, 10);
		for (int i = 0; i < t->seen.n; i++) {
			const struct tt_event *e = &t->seen.ev[i];

			if (e->type == TT_EV_STATE && (e->sport == port || e->dport == port) &&
			    e->oldstate == old && e->newstate == new)
				return e;
		}
	}
	return NULL;
}

/* The transitions of one socket, in order, as "OLD>NEW OLD>NEW ...". */
static void transitions(const struct tracer *t, uint64_t cookie, char *out, size_t len)
{
	size_t at = 0;

	out[0] = 0;
	for (int i = 0; i < t->seen.n && at < len; i++) {
		const struct tt_event *e = &t->seen.ev[i];

		if (e->type == TT_EV_STATE && e->sock_cookie == cookie)
			at += (size_t)snprintf(out + at, len - at, "%s%d>%d", at ? " " : "",
					       e->oldstate, e->newstate);
	}
}

static int listener(uint16_t *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 16) ||
	    getsockname(fd, (struct sockaddr *)&a, &len))
		return -1;
	*port = ntohs(a.sin_port);
	return fd;
}

static int connect_to(uint16_t port, uint16_t *local)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				.sin_port = htons(port)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)))
		return fd < 0 ? -1 : -2 - (close(fd) & 0);
	if (getsockname(fd, (struct sockaddr *)&a, &len))
		return -1;
	*local = ntohs(a.sin_port);
	return fd;
}

/*
 * Whether the per-socket index still has this cookie, in its near bucket (cookie / 8) or its
 * far one (cookie); a bucket's 8 cookies come first.
 */
static int table_has(struct tracer *t, uint64_t cookie)
{
	int fd = bpf_map__fd(t->skel->maps.sk_index);
	uint32_t buckets = bpf_map__max_entries(t->skel->maps.sk_index);
	uint64_t value[64];

	if (bpf_map__value_size(t->skel->maps.sk_index) > sizeof(value))
		return -1;
	for (int far = 0; far < 2; far++) {
		uint32_t idx = (uint32_t)((far ? cookie : cookie / 8) & (buckets - 1));

		if (bpf_map_lookup_elem(fd, &idx, value))
			return -1;
		for (int i = 0; i < 8; i++) {
			if (value[i] == cookie)
				return 1;
		}
	}
	return 0;
}

static int map_entries(struct bpf_map *map)
{
	int fd = bpf_map__fd(map), n = 0;
	char key[64], next[64];
	void *prev = NULL;

	while (bpf_map_get_next_key(fd, prev, next) == 0) {
		memcpy(key, next, sizeof(key));
		prev = key;
		n++;
	}
	return n;
}

static void test_orderly_close(void)
{
	struct tracer t;
	uint16_t port, cport;
	const struct tt_event *e, *child;
	char seq[256];
	int l, c, a;

	if (tracer_open(&t, 0)) {
		CHECK(0, "the tracer does not load: %s", strerror(errno));
		return;
	}
	l = listener(&port);
	c = connect_to(port, &cport);
	a = accept(l, NULL, NULL);
	CHECK(l >= 0 && c >= 0 && a >= 0, "sockets");
	e = wait_event(&t, cport, TT_SYN_SENT, TT_ESTABLISHED);
	CHECK(e, "no SYN_SENT -> ESTABLISHED for port %u", cport);
	if (e) {
		CHECK(e->pid == (uint32_t)getpid() && (e->flags & TT_F_OWNER_KNOWN),
		      "owner %u, not this process %d", e->pid, getpid());
		CHECK(e->sport == cport && e->dport == port, "ports %u %u", e->sport, e->dport);
		CHECK(!memcmp(e->saddr, "\x7f\0\0\x01", 4) && e->family == AF_INET, "address");
		CHECK(e->netns == netns_ino(), "netns %u", e->netns);
		CHECK(e->flags & TT_F_DELTA_KNOWN, "no time in SYN_SENT");
	}
	close(c); /* the client closes first: its side ends in TIME_WAIT */
	close(a);
	e = wait_event(&t, cport, TT_FIN_WAIT2, TT_TIME_WAIT);
	child = wait_event(&t, cport, TT_LAST_ACK, TT_CLOSE);
	CHECK(e && child, "final transitions (client %p, server %p)", (void *)e, (void *)child);
	if (e && child) {
		transitions(&t, e->sock_cookie, seq, sizeof(seq));
		CHECK(!strcmp(seq, "7>2 2>1 1>4 4>5 5>6"), "client: %s", seq);
		CHECK(e->cause == TT_CAUSE_TIMEWAIT && (e->flags & TT_F_TOTALS), "client cause %u",
		      e->cause);
		transitions(&t, child->sock_cookie, seq, sizeof(seq));
		CHECK(!strcmp(seq, "7>3 3>1 1>8 8>9 9>7"), "server child: %s", seq);
		CHECK(child->cause == TT_CAUSE_CLOSED, "server cause %u", child->cause);
		CHECK(child->pid == (uint32_t)getpid(), "server owner %u", child->pid);
		CHECK(table_has(&t, e->sock_cookie) == 0 && table_has(&t, child->sock_cookie) == 0,
		      "closed sockets still in the table");
	}
	CHECK(map_entries(t.skel->maps.listeners) == 1, "listener groups: %d",
	      map_entries(t.skel->maps.listeners));
	close(l);
	e = wait_event(&t, port, TT_LISTEN, TT_CLOSE);
	CHECK(e && e->cause == TT_CAUSE_LISTENER_CLOSED, "listener close");
	CHECK(map_entries(t.skel->maps.listeners) == 0, "the listener group outlived its listener");
	CHECK(map_entries(t.skel->maps.pending) == 0, "held child events left: %d",
	      map_entries(t.skel->maps.pending));
	tracer_close(&t);
}

static void test_reset_close(void)
{
	struct linger lin = {.l_onoff = 1, .l_linger = 0};
	const struct tt_event *out, *in;
	struct tracer t;
	uint16_t port, cport;
	int l, c, a;

	if (tracer_open(&t, 0)) {
		CHECK(0, "the tracer does not load");
		return;
	}
	l = listener(&port);
	c = connect_to(port, &cport);
	a = accept(l, NULL, NULL);
	CHECK(l >= 0 && c >= 0 && a >= 0, "sockets");
	setsockopt(c, SOL_SOCKET, SO_LINGER, &lin, sizeof(lin));
	close(c);
	out = wait_event(&t, cport, TT_ESTABLISHED, TT_CLOSE);
	CHECK(out && out->sport == cport && out->cause == TT_CAUSE_RESET_OUT,
	      "SO_LINGER 0: cause %u", out ? out->cause : 0);
	in = NULL;
	for (int i = 0; i < t.seen.n; i++) {
		const struct tt_event *e = &t.seen.ev[i];

		if (e->dport == cport && e->newstate == TT_CLOSE)
			in = e;
	}
	CHECK(in && in->cause == TT_CAUSE_RESET_IN && (in->flags & TT_F_RESET),
	      "the peer: cause %u", in ? in->cause : 0);
	close(a);
	close(l);
	tracer_close(&t);
}

static void test_refused_and_port_filter(void)
{
	const struct tt_event *e;
	struct tracer t;
	uint16_t port, cport = 0, other, ocport;
	int l, c, o, a;

	/* A port nobody listens on: the listener's port, once it is closed. */
	l = listener(&port);
	close(l);
	if (tracer_open(&t, port)) {
		CHECK(0, "the tracer does not load");
		return;
	}
	o = listener(&other); /* not the filtered port: none of its events may arrive */
	c = connect_to(other, &ocport);
	a = accept(o, NULL, NULL);
	close(c);
	close(a);
	close(o);
	c = connect_to(port, &cport);
	CHECK(c == -2, "connect to a closed port did not fail");
	e = wait_event(&t, port, TT_SYN_SENT, TT_CLOSE);
	CHECK(e && e->cause == TT_CAUSE_REFUSED, "refused: cause %u", e ? e->cause : 0);
	for (int i = 0; i < t.seen.n; i++) {
		CHECK(t.seen.ev[i].sport == port || t.seen.ev[i].dport == port,
		      "an event of ports %u/%u passed --port %u", t.seen.ev[i].sport,
		      t.seen.ev[i].dport, port);
	}
	tracer_close(&t);
}

/*
 * Opens the tracer with this thread pinned to the CPU it is on (the kernel hands out cookies and
 * our free records per CPU); *was gets the affinity to restore. Nonzero, restored, on failure.
 */
static int tracer_open_on_one_cpu(struct tracer *t, cpu_set_t *was)
{
	cpu_set_t one;

	sched_getaffinity(0, sizeof(*was), was);
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu(), &one);
	sched_setaffinity(0, sizeof(one), &one);
	if (!tracer_open(t, 0))
		return 0;
	CHECK(0, "the tracer does not load");
	sched_setaffinity(0, sizeof(*was), was);
	return -1;
}

/*
 * A closing socket's record goes back to its CPU's free list and the next new socket takes it
 * (still in the cache): on one CPU, 40 connections (80 sockets) take almost no record that was
 * never used before.
 */
static void test_record_reuse(void)
{
	cpu_set_t was;
	struct tracer t;
	uint32_t before;
	uint16_t port, cport = 0;
	int l;

	if (tracer_open_on_one_cpu(&t, &was))
		return;
	l = listener(&port);
	before = t.skel->bss->sk_never_used;
	for (int i = 0; i < 40 && l >= 0; i++) {
		struct linger lin = {.l_onoff = 1, .l_linger = 0};
		int c = connect_to(port, &cport), a = accept(l, NULL, NULL);

		if (c >= 0)
			setsockopt(c, SOL_SOCKET, SO_LINGER, &lin, sizeof(lin));
		close(c);
		close(a);
		CHECK(wait_event(&t, cport, TT_ESTABLISHED, TT_CLOSE), "connection %d", i);
		t.seen.n = 0; /* room for the next ones */
	}
	CHECK(t.skel->bss->sk_never_used - before < 20, "80 sockets took %u fresh records",
	      t.skel->bss->sk_never_used - before);
	close(l);
	tracer_close(&t);
	sched_setaffinity(0, sizeof(was), &was);
}

/* A bucket of the per-socket index as user space reads it (bpf/sktable.bpf.h's struct sk_bucket). */
struct index_bucket {
	uint64_t cookie[8];
	uint32_t slot[8];
	uint32_t spilled;
	uint32_t pad[7];
};

/*
 * A socket whose near bucket (cookie / 8) is full goes to its far bucket (cookie), is found
 * there by every later event and leaves it at its close. The near buckets of the next 64 cookies
 * are filled with other cookies first, so the next connection's two sockets must spill.
 */
static void test_index_spill(void)
{
	cpu_set_t was;
	const struct tt_event *e, *child;
	struct index_bucket b;
	struct tracer t;
	uint16_t port, cport = 0;
	uint64_t c0;
	uint32_t mask, near_lo, near_hi;
	int fd, l, c, a, ok = 1;

	if (tracer_open_on_one_cpu(&t, &was))
		return;
	fd = bpf_map__fd(t.skel->maps.sk_index);
	mask = bpf_map__max_entries(t.skel->maps.sk_index) - 1;
	l = listener(&port);
	e = wait_event(&t, port, TT_CLOSE, TT_LISTEN);
	CHECK(e && sizeof(b) == bpf_map__value_size(t.skel->maps.sk_index), "listener event");
	if (!e)
		goto out;
	c0 = e->sock_cookie;
	near_lo = (uint32_t)(((c0 + 1) / 8) & mask);
	near_hi = (uint32_t)(((c0 + 64) / 8) & mask);
	/* A far bucket among the filled near ones (1 in ~2000 cookies): nothing to test. */
	for (uint64_t k = c0 + 1; k <= c0 + 64; k++) {
		uint32_t far = (uint32_t)(k & mask);

		if (far >= near_lo && far <= near_hi)
			ok = 0;
	}
	if (!ok || near_hi < near_lo) {
		printf("bpftest: index spill skipped (cookie %llu's buckets overlap)\n",
		       (unsigned long long)c0);
		goto out;
	}
	for (uint32_t idx = near_lo; idx <= near_hi; idx++) {
		if (bpf_map_lookup_elem(fd, &idx, &b))
			continue;
		for (int i = 0; i < 8; i++) {
			if (!b.cookie[i])
				b.cookie[i] =
					(1ULL << 62) + idx * 8ULL + i; /* never a real cookie */
		}
		bpf_map_update_elem(fd, &idx, &b, BPF_ANY);
	}
	c = connect_to(port, &cport);
	a = accept(l, NULL, NULL);
	CHECK(c >= 0 && a >= 0, "sockets");
	e = wait_event(&t, cport, TT_SYN_SENT, TT_ESTABLISHED);
	child = wait_event(&t, cport, TT_SYN_RECV, TT_ESTABLISHED);
	CHECK(e && child, "the connection's events");
	if (e && child) {
		uint32_t idx = (uint32_t)((e->sock_cookie / 8) & mask);

		CHECK(e->sock_cookie > c0 && e->sock_cookie <= c0 + 64, "cookie %llu after %llu",
		      (unsigned long long)e->sock_cookie, (unsigned long long)c0);
		/* Time in SYN_SENT and the owner: its record was found again in the far bucket. */
		CHECK((e->flags & TT_F_DELTA_KNOWN) && (e->flags & TT_F_OWNER_KNOWN) &&
			      e->pid == (uint32_t)getpid(),
		      "spilled socket's record not found again (flags %#x)", e->flags);
		CHECK(child->flags & TT_F_DELTA_KNOWN, "spilled child's record not found again");
		CHECK(!bpf_map_lookup_elem(fd, &idx, &b) && b.spilled, "near bucket not marked");
		CHECK(table_has(&t, e->sock_cookie) == 1 && table_has(&t, child->sock_cookie) == 1,
		      "spilled sockets not in the index");
	}
	{
		struct linger lin = {.l_onoff = 1, .l_linger = 0};

		setsockopt(c, SOL_SOCKET, SO_LINGER, &lin, sizeof(lin));
	}
	close(c);
	close(a);
	CHECK(wait_event(&t, cport, TT_ESTABLISHED, TT_CLOSE), "close");
	if (e && child) {
		/* The peer's CLOSE follows the reset: wait for both before looking. */
		for (int waited = 0; waited < WAIT_MS && table_has(&t, child->sock_cookie);
		     waited += 10)
			evring_poll(t.events, 10);
		CHECK(table_has(&t, e->sock_cookie) == 0 && table_has(&t, child->sock_cookie) == 0,
		      "spilled sockets left in the index after their close");
	}
out:
	close(l);
	tracer_close(&t);
	sched_setaffinity(0, sizeof(was), &was);
}

static uint64_t lost_in_ring(struct tracer *t)
{
	return tt_percpu_sum(bpf_map__fd(t->skel->maps.lost), TT_LOST_RINGBUF);
}

static uint64_t missed_runs(struct tracer *t)
{
	return tt_prog_recursion_misses(bpf_program__fd(t->skel->progs.handle_set_state));
}

/*
 * A CPU's ring that nobody reads fills up and stays full: what does not fit is counted as lost,
 * the records in it are read afterwards in full, and read plus lost is every event made.
 */
static void test_ring_full(void)
{
	struct tt_ring_pos pos;
	cpu_set_t was;
	struct tracer t;
	uint32_t slots, cpu;
	uint64_t lost;
	uint16_t port, cport = 0;
	int l, conns, made = 0, idle = 0;

	if (tracer_open_on_one_cpu(&t, &was))
		return;
	cpu = (uint32_t)sched_getcpu();
	slots = bpf_map__max_entries(t.skel->maps.ring_slots) /
		bpf_map__max_entries(t.skel->maps.ring_pos);
	l = listener(&port);
	made += l >= 0; /* its LISTEN */
	/* Six events each (reset close): half again as many as the ring holds. */
	conns = (int)(slots / 6 * 3 / 2);
	for (int i = 0; i < conns && l >= 0; i++) {
		struct linger lin = {.l_onoff = 1, .l_linger = 0};
		int c = connect_to(port, &cport), a = accept(l, NULL, NULL);

		if (c >= 0) {
			setsockopt(c, SOL_SOCKET, SO_LINGER, &lin, sizeof(lin));
			made += 6;
		}
		close(c);
		close(a);
	}
	CHECK(!bpf_map_lookup_elem(bpf_map__fd(t.skel->maps.ring_pos), &cpu, &pos) &&
		      pos.head - pos.tail == slots,
	      "the unread ring of CPU %u holds %llu of its %u slots", cpu,
	      (unsigned long long)(pos.head - pos.tail), slots);
	lost = lost_in_ring(&t);
	CHECK(lost > 0, "nothing counted as lost from a full ring");
	/* Everything written is read now, in full; the deadline only guards a hang. */
	for (int waited = 0; waited < WAIT_MS && idle < 3; waited += 10)
		idle = evring_poll(t.events, 10) == 0 ? idle + 1 : 0;
	CHECK(t.seen.total + (long)lost + (long)missed_runs(&t) == made,
	      "%ld read + %llu lost + %llu missed, of %d events made", t.seen.total,
	      (unsigned long long)lost, (unsigned long long)missed_runs(&t), made);
	close(l);
	tracer_close(&t);
	sched_setaffinity(0, sizeof(was), &was);
}

static int loopback_up(void)
{
	struct ifreq ifr = {0};
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	int ret;

	strcpy(ifr.ifr_name, "lo");
	ret = fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr);
	ifr.ifr_flags |= IFF_UP;
	ret = ret || ioctl(fd, SIOCSIFFLAGS, &ifr);
	if (fd >= 0)
		close(fd);
	return ret ? -1 : 0;
}

/*
 * A namespace outside --netns: its sockets get no record from their events or from the start-up
 * walk, and its listener joins no group. The state handler leaves before it could forget them.
 */
static void test_other_netns(void)
{
	int report[2] = {-1, -1}, done[2] = {-1, -1}, listeners;
	uint64_t cookies[3] = {0};
	struct bpf_link *walk;
	struct tracer t;
	pid_t pid = -1;
	char go = 0;

	if (tracer_open(&t, 0)) {
		CHECK(0, "the tracer does not load: %s", strerror(errno));
		return;
	}
	walk = bpf_program__attach_iter(t.skel->progs.seed_states, NULL);
	listeners = map_entries(t.skel->maps.listeners);
	CHECK(walk && !pipe(report) && !pipe(done), "setting up: %s", strerror(errno));
	if (walk && done[0] >= 0)
		pid = fork();
	if (pid == 0) {
		socklen_t len = sizeof(cookies[0]);
		uint16_t port = 0, local = 0;
		char buf[4096];
		int l, c, a, it;

		if (unshare(CLONE_NEWNET) || loopback_up())
			_exit(1);
		l = listener(&port);
		c = connect_to(port, &local);
		a = l >= 0 ? accept(l, NULL, NULL) : -1;
		/* The walk of the loader's start, in this namespace: an iterator reads its opener's. */
		it = bpf_iter_create(bpf_link__fd(walk));
		while (it >= 0 && read(it, buf, sizeof(buf)) > 0)
			;
		getsockopt(l, SOL_SOCKET, SO_COOKIE, &cookies[0], &len);
		getsockopt(c, SOL_SOCKET, SO_COOKIE, &cookies[1], &len);
		getsockopt(a, SOL_SOCKET, SO_COOKIE, &cookies[2], &len);
		if (write(report[1], cookies, sizeof(cookies)) != sizeof(cookies) ||
		    read(done[0], &go, 1) != 1)
			_exit(1);
		_exit(0);
	}
	/* Only the child writes and reads these: a child that fails is then an end of file. */
	if (report[1] >= 0)
		close(report[1]);
	if (done[0] >= 0)
		close(done[0]);
	report[1] = done[0] = -1;
	CHECK(pid > 0 && read(report[0], cookies, sizeof(cookies)) == sizeof(cookies),
	      "no cookies from the other namespace");
	for (int i = 0; i < 3; i++)
		CHECK(cookies[i] && table_has(&t, cookies[i]) == 0,
		      "socket %d (cookie %llu) of another namespace has a record", i,
		      (unsigned long long)cookies[i]);
	CHECK(map_entries(t.skel->maps.listeners) == listeners,
	      "a listener of another namespace joined a group");
	if (pid > 0) {
		CHECK(write(done[1], &go, 1) == 1, "cannot end the other namespace");
		waitpid(pid, NULL, 0);
	}
	for (int i = 0; i < 2; i++) {
		if (report[i] >= 0)
			close(report[i]);
		if (done[i] >= 0)
			close(done[i]);
	}
	bpf_link__destroy(walk);
	tracer_close(&t);
}

/*
 * A cgroup outside --cgroup: with the filter naming a new, empty cgroup, this process's
 * sockets get no record and its listener joins no group, and no event crosses the ring.
 */
static void test_other_cgroup(void)
{
	char mnt[CG_PATH_MAX], rel[64], norm[CG_PATH_MAX], dir[2 * CG_PATH_MAX];
	uint64_t cookie[3] = {0}, id = 0;
	uint16_t port = 0, local = 0;
	int l, c, a, listeners, root_depth, level;
	struct tracer t;

	if (cg_find_v2_mount(mnt, sizeof(mnt), &root_depth)) {
		printf("bpftest: no cgroup v2 mount: test_other_cgroup skipped\n");
		return;
	}
	/* The id and level as the loader resolves --cgroup (src/filter.c). */
	snprintf(rel, sizeof(rel), "/tcptrail-bpftest-%d", (int)getpid());
	snprintf(dir, sizeof(dir), "%s%s", mnt, rel);
	if (mkdir(dir, 0755) || cg_normalize(mnt, rel, norm, sizeof(norm), &level) ||
	    cg_resolve(mnt, norm, &id)) {
		CHECK(0, "cannot make cgroup %s: %s", dir, strerror(errno));
		rmdir(dir);
		return;
	}
	if (tracer_open_filtered(&t, 0, id, (uint32_t)(level + root_depth))) {
		CHECK(0, "the tracer does not load: %s", strerror(errno));
		rmdir(dir);
		return;
	}
	listeners = map_entries(t.skel->maps.listeners);
	l = listener(&port);
	c = connect_to(port, &local);
	a = l >= 0 ? accept(l, NULL, NULL) : -1;
	CHECK(l >= 0 && c >= 0 && a >= 0, "sockets");
	for (int i = 0; i < 3; i++) {
		socklen_t len = sizeof(cookie[i]);
		int fd = i == 0 ? l : i == 1 ? c : a;

		CHECK(!getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie[i], &len) &&
			      table_has(&t, cookie[i]) == 0,
		      "socket %d (cookie %llu) of another cgroup has a record", i,
		      (unsigned long long)cookie[i]);
	}
	CHECK(map_entries(t.skel->maps.listeners) == listeners,
	      "a listener of another cgroup joined a group");
	close(a);
	close(c);
	close(l);
	evring_poll(t.events, 100);
	CHECK(t.seen.n == 0, "%d events of another cgroup crossed the ring", t.seen.n);
	tracer_close(&t);
	rmdir(dir);
}

int main(void)
{
	if (geteuid()) {
		fprintf(stderr, "bpftest: loads BPF programs: run as root\n");
		return 1;
	}
	if (unshare(CLONE_NEWNET) || loopback_up()) {
		fprintf(stderr, "bpftest: cannot make a private network namespace: %s\n",
			strerror(errno));
		return 1;
	}
	libbpf_set_print(NULL);
	test_orderly_close();
	test_reset_close();
	test_refused_and_port_filter();
	test_record_reuse();
	test_index_spill();
	test_ring_full();
	test_other_netns();
	test_other_cgroup();
	printf("bpftest: %d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
