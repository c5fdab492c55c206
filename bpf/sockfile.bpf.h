/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Socket <-> socket file helpers shared by the BPF objects. Owners are joined to sockets on
 * the socket inode: a socket reached from a file (iter/task_file) is an untrusted pointer on
 * newer kernels, so helpers such as bpf_get_socket_cookie() refuse it.
 */
#ifndef TT_SOCKFILE_BPF_H
#define TT_SOCKFILE_BPF_H

#include "consts.bpf.h"

static __always_inline __u64 sock_ino(struct sock *sk)
{
	struct socket *so;

	if (bpf_core_field_exists(sk->sk_ino))
		return BPF_CORE_READ(sk, sk_ino);
	so = BPF_CORE_READ(sk, sk_socket);
	if (!so)
		return 0;
	/* struct socket_alloc starts with the socket, then its inode. */
	return BPF_CORE_READ((struct socket_alloc *)so, vfs_inode.i_ino);
}

/* The TCP (IPv4/IPv6) socket behind a file, or NULL; *ino gets the file's inode number. */
static __always_inline struct sock *file_tcp_sock(struct file *file, __u64 *ino)
{
	struct inode *inode = BPF_CORE_READ(file, f_inode);
	struct socket *so;
	struct sock *sk;
	__u16 family;

	if (!inode || (BPF_CORE_READ(inode, i_mode) & S_IFMT) != S_IFSOCK)
		return NULL;
	so = (struct socket *)BPF_CORE_READ(file, private_data);
	if (!so)
		return NULL;
	sk = BPF_CORE_READ(so, sk);
	if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return NULL;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return NULL;
	*ino = BPF_CORE_READ(inode, i_ino);
	return sk;
}

#endif /* TT_SOCKFILE_BPF_H */
