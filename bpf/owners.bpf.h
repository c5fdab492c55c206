/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Who holds a socket: learned in system calls, checked before an event names it, handed on at exit and renamed at exec.
 * Included by tcptrail.bpf.c only, in the order it gives.
 */
#ifndef TT_OWNERS_BPF_H
#define TT_OWNERS_BPF_H

extern struct task_struct *bpf_task_from_pid(s32 pid) __ksym __weak;
extern void bpf_task_release(struct task_struct *p) __ksym __weak;

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

static __always_inline void event_owner(struct tt_event *e, const struct owner *o)
{
	e->pid = o->pid;
	__builtin_memcpy(e->comm, o->comm, TT_COMM_LEN);
	e->flags |= TT_F_OWNER_KNOWN;
}

/*
 * Who the event names: the caller for a transition made by a system call, else the holder
 * last seen (connect, listen, accept, socket I/O), else for a child not yet accepted, a holder
 * of the listener it arrived on.
 */
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
	r->ts_ns = bpf_ktime_get_ns();
	r->sock_cookie = cookie;
	r->pid = o->pid;
	r->flags = TT_F_OWNER_KNOWN;
	__builtin_memcpy(r->comm, o->comm, TT_COMM_LEN);
	/* No wakeup (ring.bpf.h): the reader's next look, within milliseconds, finds it. */
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
}

/*
 * Socket I/O names the process that holds the file now: after fork, exec, fd passing or socket
 * activation, the process that uses a socket is rarely the one that opened it. sk is a TCP
 * socket. This runs on every TCP send and receive, so it leaves at the first sign of nothing
 * to do: not followed (no cookie yet), or the same process as last time.
 */
static __always_inline void learn_owner(struct sock *sk)
{
	struct task_struct *task;
	struct sk_info *info;
	struct owner o;
	__u64 cookie;

	if (!sk)
		return;
	cookie = (__u64)sk->__sk_common.skc_cookie.counter;
	if (!cookie)
		return;
	info = info_find(cookie);
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

/*
 * learn_owner() from a hook that the kernel also reaches on its own, from softirq on whatever
 * task it interrupted (sockmap and strparser readers, TLS offload and ESP-in-TCP senders): only
 * a system call on the socket owns its lock, so only then is current the socket's user.
 */
static __always_inline void learn_owner_in_call(struct sock *sk)
{
	if (sk->sk_lock.owned)
		learn_owner(sk);
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
	info = info_get(&cookie, INFO_FIND);
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
		listener_memos_stale();
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
	info = info_get(&cookie, INFO_FIND);
	if (!info || !current_owner(&o))
		return;
	if (info->owner_known == OWNER_QUEUED)
		emit_accepted(cookie, &o);
	set_owner(info, &o);
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
	__u32 groups_renamed; /* listener groups written: their children's memos are stale */
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
	info = info_get(&cookie, INFO_FIND);
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
		w->groups_renamed = 1;
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
	w->groups_renamed = 0;
	bpf_loop(n < TT_EXEC_MAX_FDS ? n : TT_EXEC_MAX_FDS, rename_fd_owner, w, 0);
	if (w->groups_renamed)
		listener_memos_stale();
}

#endif /* TT_OWNERS_BPF_H */
