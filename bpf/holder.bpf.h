/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Does the process an event is about to name still hold the socket? Where a holder is learned
 * in a system call on the socket (connect, listen, accept, send, receive), its thread-group
 * leader (a kernel address) and the fd are kept. A later transition made by a packet (softirq),
 * where nothing says who holds the socket, reads the leader's fd table at that fd again: a
 * holder that closed its fd, or passed the socket on and closed it, no longer has the file
 * there, and one that exited has no fd table (exit clears task->files; a task freed since
 * reads as nothing or as another task's table). The event then names no one rather than a
 * process that does not hold the socket. Everything is read as numbers with probe reads: the
 * addresses may be stale by design.
 */
#ifndef TT_HOLDER_BPF_H
#define TT_HOLDER_BPF_H

/* A holder's fd past this is not looked for (the same bound as exec's walk of the table). */
#define TT_HOLDER_MAX_FDS 4096

/* Since 6.2: a kernel address read through the BTF type, with direct (fault-safe) loads. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;

/* The file in slot fd of t's fd table, or 0; t a BTF pointer: loads, no helper calls. */
static __always_inline __u64 task_slot_file(struct task_struct *t, __u32 fd)
{
	struct files_struct *files = t->files;
	struct fdtable *fdt;
	struct kiocb *slot;
	__u64 f = 0;

	if (!files)
		return 0;
	fdt = files->fdt;
	if (!fdt || fd >= fdt->max_fds)
		return 0;
	if (!bpf_rdonly_cast) {
		bpf_probe_read_kernel(&f, sizeof(f), &fdt->fd[fd]);
		return f;
	}
	/*
	 * The table is an array of struct file pointers, which BTF cannot walk: the slot is read
	 * as a struct that starts with one (a kiocb's ki_filp), a load instead of a probe read.
	 */
	slot = bpf_rdonly_cast((void *)&fdt->fd[fd], bpf_core_type_id_kernel(struct kiocb));
	return (__u64)slot->ki_filp;
}

/* The file in slot fd of the fd table `files` (a kernel address), or 0. */
static __always_inline __u64 fd_slot_file(__u64 files, __u32 fd)
{
	struct fdtable *fdt = BPF_CORE_READ((struct files_struct *)files, fdt);
	struct file **fds;
	__u64 f = 0;

	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	fds = BPF_CORE_READ(fdt, fd);
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

struct fd_search {
	struct file **fds;
	__u64 file;
	__s32 found;
};

static long fd_search_step(__u64 i, struct fd_search *s)
{
	__u64 f = 0;

	bpf_probe_read_kernel(&f, sizeof(f), &s->fds[i]);
	if (f != s->file)
		return 0;
	s->found = (__s32)i;
	return 1;
}

/*
 * The fd at which the table `files` holds `file`, or -1: the holder may keep the socket at
 * another fd than the one it last used (dup2 then close, an inetd service's stdin and stdout).
 */
static __always_inline int search_fd(__u64 files, __u64 file)
{
	struct fd_search s = {.file = file, .found = -1};
	struct fdtable *fdt;
	__u32 n;

	if (!files || !file)
		return -1;
	fdt = BPF_CORE_READ((struct files_struct *)files, fdt);
	if (!fdt)
		return -1;
	n = BPF_CORE_READ(fdt, max_fds);
	s.fds = BPF_CORE_READ(fdt, fd);
	bpf_loop(n < TT_HOLDER_MAX_FDS ? n : TT_HOLDER_MAX_FDS, fd_search_step, &s, 0);
	return s.found;
}

/* search_fd() as a global function, verified once (the exit hook's hand-overs). */
__noinline int holder_fd(__u64 files, __u64 file)
{
	return search_fd(files, file);
}

/* The fd table of the task at `task` (a kernel address), 0 once it exited. */
static __always_inline __u64 task_files(__u64 task)
{
	return task ? (__u64)BPF_CORE_READ((struct task_struct *)task, files) : 0;
}

/* The file in slot fd of the fd table of the task at `task` (a kernel address), or 0. */
static __always_inline __u64 holder_slot_file(__u64 task, __u32 fd)
{
	if (!task)
		return 0;
	/* A cast and loads cost a fraction of the four probe reads they replace. */
	if (bpf_rdonly_cast)
		return task_slot_file(
			bpf_rdonly_cast((void *)task, bpf_core_type_id_kernel(struct task_struct)),
			fd);
	return fd_slot_file(task_files(task), fd);
}

/*
 * Where the holder (its leader at `task`) keeps file now: fd if that slot still holds it, else
 * the fd found by a search of its table, else -1 (it closed every fd of it, or exited).
 */
static __always_inline int holder_still_holds(__u64 task, __u32 fd, __u64 file)
{
	if (holder_slot_file(task, fd) == file)
		return (int)fd;
	return search_fd(task_files(task), file);
}

/*
 * The socket's file while some process holds it, else 0 (closed: an orphan, or never had one).
 * Read as a number (a probe read), not as the verifier's pointer: it is only compared.
 */
static __always_inline __u64 sock_file_of(struct sock *sk)
{
	struct socket *so = BPF_CORE_READ(sk, sk_socket);

	return so ? (__u64)BPF_CORE_READ(so, file) : 0;
}

/*
 * The fd of the system call current is in, when its first argument is the fd of `file`
 * (connect, listen, accept, read, write, send*, recv*, sendfile's output); else false.
 */
static __always_inline bool syscall_fd_of(struct task_struct *task, __u64 file, __u32 *fd)
{
	struct pt_regs *regs;
	long arg;

	if (!file)
		return false;
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	if (!regs)
		return false;
	arg = PT_REGS_PARM1_SYSCALL(regs);
	if (arg < 0 || arg >= TT_HOLDER_MAX_FDS || task_slot_file(task, (__u32)arg) != file)
		return false;
	*fd = (__u32)arg;
	return true;
}

/* Before 6.13 a file's references were a plain count. */
struct file___counted {
	atomic_long_t f_count;
} __attribute__((preserve_access_index));

/*
 * How many references the file at `file` has: one per fd-table slot holding it (a listener a
 * pre-forking server's master and workers share has one each), plus any taken for a moment.
 */
static __always_inline long file_refs(__u64 file)
{
	struct file *f;

	if (!file)
		return 0;
	if (!bpf_rdonly_cast)
		return BPF_CORE_READ((struct file___counted *)file, f_count.counter);
	f = bpf_rdonly_cast((void *)file, bpf_core_type_id_kernel(struct file));
	if (bpf_core_field_exists(f->f_ref))
		return f->f_ref.refcnt.counter + 1; /* file_ref_t counts from 0 for one */
	return ((struct file___counted *)f)->f_count.counter;
}

#endif /* TT_HOLDER_BPF_H */
