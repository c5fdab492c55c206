/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The cgroup v2 of a socket: the cgroup of the task that created it, kept in the socket
 * (sk_cgrp_data), so it is right in softirq, where the current task is whoever was
 * interrupted. The id is the cgroup directory's inode number on the v2 mount.
 */
#ifndef TT_CGROUP_BPF_H
#define TT_CGROUP_BPF_H

/* Before 5.15 the cgroup pointer shared a u64 with classid/prioidx ("val", bit 0 = not a pointer). */
struct sock_cgroup_data___val {
	__u64 val;
};

/* Before 5.5 a kernfs node's id was a union of (ino, generation) and a u64. */
union kernfs_node_id___old {
	struct {
		__u32 ino;
		__u32 generation;
	};
	__u64 id;
};

struct kernfs_node___old {
	union kernfs_node_id___old id;
};

/* Before 6.1 a cgroup kept its ancestors' ids, not pointers. */
struct cgroup___ids {
	__u64 ancestor_ids[0];
};

/* The id of a cgroup known only as an address (probe reads: no trusted pointer needed). */
static __always_inline __u64 cgroup_id_probed(__u64 cg)
{
	struct kernfs_node *kn;

	if (!cg)
		return 0;
	kn = BPF_CORE_READ((struct cgroup *)cg, kn);
	if (!kn)
		return 0;
	if (bpf_core_field_exists(((struct kernfs_node___old *)0)->id.id))
		return BPF_CORE_READ((struct kernfs_node___old *)kn, id.id);
	return BPF_CORE_READ(kn, id);
}

/* The socket's cgroup as an address, 0 if none; works on untrusted socket pointers. */
static __always_inline __u64 sk_cgroup_probed(struct sock *sk)
{
	__u64 cg = 0;

	if (bpf_core_field_exists(sk->sk_cgrp_data.cgroup)) {
		bpf_core_read(&cg, sizeof(cg), &sk->sk_cgrp_data.cgroup);
		return cg;
	}
	bpf_core_read(&cg, sizeof(cg), &sk->sk_cgrp_data);
	return (cg & 1) ? 0 : cg;
}

static __always_inline __u64 sk_cgroup_id_probed(struct sock *sk)
{
	return cgroup_id_probed(sk_cgroup_probed(sk));
}

/*
 * Direct loads (sk is a trusted BTF pointer in tp_btf and iterator programs): a few ns, where
 * bpf_probe_read_kernel() costs a helper call per step. Older layouts take the probed path.
 */
static __always_inline __u64 sk_cgroup_id(struct sock *sk)
{
	struct kernfs_node *kn;
	struct cgroup *cg;

	if (!bpf_core_field_exists(sk->sk_cgrp_data.cgroup))
		return sk_cgroup_id_probed(sk);
	cg = sk->sk_cgrp_data.cgroup;
	if (!cg)
		return 0;
	kn = cg->kn;
	if (!kn)
		return 0;
	if (bpf_core_field_exists(((struct kernfs_node___old *)0)->id.id))
		return ((struct kernfs_node___old *)kn)->id.id;
	return kn->id;
}

/*
 * Whether the socket's cgroup is `id` or below it; `level` is id's depth (the root is 0).
 * Pointers are read as plain numbers here, so the variable index is ordinary arithmetic.
 */
static __always_inline bool sk_cgroup_under(struct sock *sk, __u64 id, __u32 level)
{
	__u64 cg = sk_cgroup_probed(sk), anc = 0, aid = 0;

	if (!cg || level > 255 || (int)level > BPF_CORE_READ((struct cgroup *)cg, level))
		return false;
	if (bpf_core_field_exists(((struct cgroup___ids *)0)->ancestor_ids)) {
		bpf_core_read(&aid, sizeof(aid),
			      (void *)(cg +
				       bpf_core_field_offset(struct cgroup___ids, ancestor_ids) +
				       level * sizeof(__u64)));
		return aid == id;
	}
	bpf_core_read(&anc, sizeof(anc),
		      (void *)(cg + bpf_core_field_offset(struct cgroup, ancestors) +
			       level * sizeof(__u64)));
	return anc && cgroup_id_probed(anc) == id;
}

#endif /* TT_CGROUP_BPF_H */
