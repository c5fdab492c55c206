/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Listener groups: which processes hold a listening address, for children not yet accepted.
 * Included by tcptrail.bpf.c only, in the order it gives.
 */
#ifndef TT_LISTENERS_BPF_H
#define TT_LISTENERS_BPF_H

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

/*
 * Listener groups on a specific address, per port (of any namespace and family). Most servers
 * listen on the wildcard address alone: a child on a port with none skips the lookup of its own
 * address, a hash miss that cost ~13 ns of BPF per state event of a wildcard listener's churn.
 * A group is counted from its insert to its delete, both before the kernel hashes or after it
 * unhashes the listener, so no child arrives while its specific group is uncounted (but for the
 * moment a listener met by the start-up walk is being added).
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u32);
} specific_listen_ports SEC(".maps");

static __always_inline bool wildcard_key(const struct listen_key *k)
{
	const __u32 *a = (const __u32 *)k->addr; /* the key's alignment: 4 */

	return !(a[0] | a[1] | a[2] | a[3]);
}

static __always_inline void count_specific(const struct listen_key *k, int delta)
{
	__u32 port = k->port;
	__u32 *n;

	if (wildcard_key(k))
		return;
	n = bpf_map_lookup_elem(&specific_listen_ports, &port);
	if (n)
		__sync_fetch_and_add(n, delta);
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
	__u32 port = k->port, *specific = bpf_map_lookup_elem(&specific_listen_ports, &port);
	struct listen_group *g;

	if (!specific || *specific) {
		g = bpf_map_lookup_elem(&listeners, k);
		if (g)
			return g;
	}
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
		if (!bpf_map_update_elem(&listeners, k, &empty_group, BPF_NOEXIST))
			count_specific(k, 1);
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
		if (!bpf_map_delete_elem(&listeners, k))
			count_specific(k, -1);
		return;
	}
	if (g->owner_cookie != cookie)
		return;
	for (int i = 0; i < TT_LISTEN_MEMBERS; i++) {
		__u64 c = g->cookie[i];

		if (!c)
			continue;
		other = info_get(&c, INFO_FIND);
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
 * The result of this CPU's last lookup for a child (a server's children arrive on the same
 * listener one after another): the lookups of the group by its address cost ~160 ns of a
 * child's first event here, the group's hash bucket and element and the per-port array each on
 * pages of their own (vmalloc()ed maps: a page walk each on this VM). Any write to any group
 * (created, joined, left, renamed, handed over, moved) moves every CPU's epoch on, which makes
 * its memo stale; a memo filled while its epoch moved is stale from the start.
 */
struct listener_memo {
	struct listen_key key; /* the child's own address, as it was looked up */
	__u32 epoch;	       /* moved on by every write to a group */
	__u32 filled;	       /* epoch + 1 when the fields below are the lookup's for key */
	__u32 found;	       /* a group was found */
	__u32 moved;
	struct owner owner;
	__u64 holder_task;
	__u64 file;
	__u32 holder_fd;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct listener_memo);
} listener_memo SEC(".maps");

/* Another CPU's value of a per-CPU map (5.19+): without it no memo is kept. */
#define LISTENER_MEMOS	 bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_map_lookup_percpu_elem)
#define TT_MEMO_MAX_CPUS 8192

static long stale_memo(__u64 cpu, void *unused)
{
	__u32 zero = 0;
	struct listener_memo *m = bpf_map_lookup_percpu_elem(&listener_memo, &zero, (__u32)cpu);

	if (!m)
		return 1; /* past the last possible CPU */
	__sync_fetch_and_add(&m->epoch, 1);
	return 0;
}

/* A listener group was written: every CPU looks its children's groups up again. */
static __always_inline void listener_memos_stale(void)
{
	if (LISTENER_MEMOS)
		bpf_loop(TT_MEMO_MAX_CPUS, stale_memo, NULL, 0);
}

/*
 * The owner a child not yet accepted takes from the listener it arrived on (inline in the clone
 * event of 6.1 and 6.12, which fires under the listener's cookie). 1 if there is one,
 * LISTENER_MOVED if the listener's holder known last let it go, LISTENER_SHARED if other
 * processes hold it too (any of them may accept the child).
 */
#define LISTENER_MOVED	2
#define LISTENER_SHARED 3 /* the owner is one of several holders of the listener */

/*
 * Passed to another process (haproxy -x), its holder gone or closed. Only the slot is read (no
 * search of the table: the verifier's stack budget), so a listener moved to another fd of the
 * same process counts as let go too.
 */
static __always_inline bool holder_let_go(__u64 task, __u32 fd, __u64 file)
{
	return task && holder_slot_file(task, fd) != file;
}

/* A group's answer (or its memo's) once its holder checked out: its owner, shared or not. */
static __always_inline int group_owner(struct owner *o, const struct owner *owner, __u64 file)
{
	__builtin_memcpy(o, owner, sizeof(*o));
	if (!o->pid)
		return 0;
	return file_refs(file) > 1 ? LISTENER_SHARED : 1;
}

/* The memo's answer, as child_listener_owner() gives it; -1: look the group up. */
static __always_inline int memo_owner(struct listener_memo *m, const struct listen_key *k,
				      struct owner *o)
{
	if (m->filled != m->epoch + 1 || !same_listen_key(&m->key, k))
		return -1;
	if (!m->found)
		return 0;
	if (m->moved)
		return LISTENER_MOVED;
	/* Let go since: the lookup marks the group. */
	if (holder_let_go(m->holder_task, m->holder_fd, m->file))
		return -1;
	return group_owner(o, &m->owner, m->file);
}

static __always_inline void memo_fill(struct listener_memo *m, __u32 epoch,
				      const struct listen_group *g)
{
	m->found = g != NULL;
	if (g) {
		m->moved = g->moved;
		__builtin_memcpy(&m->owner, &g->owner, sizeof(m->owner));
		m->holder_task = g->holder_task;
		m->holder_fd = g->holder_fd;
		m->file = g->file;
	}
	/* A full barrier: the fields are in before a write's epoch is checked. */
	if (__sync_fetch_and_add(&m->epoch, 0) == epoch)
		m->filled = epoch + 1;
}

static __always_inline int child_listener_owner(const struct tt_event *e, struct owner *o)
{
	struct listener_memo *m = NULL;
	struct listen_group *g;
	struct listen_key k;
	__u32 zero = 0, epoch = 0;
	int found;

	if (!e || !o)
		return 0;
	listen_key_of(&k, e);
	if (LISTENER_MEMOS)
		m = bpf_map_lookup_elem(&listener_memo, &zero);
	if (m) {
		found = memo_owner(m, &k, o);
		if (found >= 0)
			return found;
		epoch = *(volatile __u32 *)&m->epoch;
		m->filled = 0;
		__builtin_memcpy(&m->key, &k, sizeof(k));
	}
	g = group_of(&k);
	if (!g) {
		if (m)
			memo_fill(m, epoch, NULL);
		return 0;
	}
	if (!g->moved && holder_let_go(g->holder_task, g->holder_fd, g->file)) {
		g->moved = 1;
		g->holder_task = 0;
		listener_memos_stale();
		return LISTENER_MOVED;
	}
	if (m)
		memo_fill(m, epoch, g);
	if (g->moved)
		return LISTENER_MOVED;
	return group_owner(o, &g->owner, g->file);
}

/*
 * The same as a global function, verified once, for resolve_owner() (a child's first event on
 * 6.18): inline there too, it measured no faster (RESULTS.md, "Session 10").
 */
__noinline int listener_owner(const struct tt_event *e, struct owner *o)
{
	return child_listener_owner(e, o);
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
	} else if (!info || info->owner_known != OWNER_KNOWN) {
		group_join(&k, e->sock_cookie, NULL, NULL);
	} else {
		h.task = info->holder_task;
		h.fd = info->holder_fd;
		h.file = file;
		group_join(&k, e->sock_cookie, &info->owner, &h);
	}
	listener_memos_stale();
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

#endif /* TT_LISTENERS_BPF_H */
