/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Kernel constants that are macros, so vmlinux.h does not carry them; shared by both BPF
 * objects. (Enums such as the TCP_* states come from vmlinux.h.)
 */
#ifndef TT_CONSTS_BPF_H
#define TT_CONSTS_BPF_H

/* include/linux/socket.h, include/uapi/linux/in.h */
#define AF_INET	    2
#define AF_INET6    10
#define IPPROTO_TCP 6

/* include/linux/sched.h: task_struct.flags */
#define PF_EXITING 0x00000004
#define PF_KTHREAD 0x00200000

/* include/uapi/linux/stat.h */
#define S_IFMT	 00170000
#define S_IFSOCK 0140000

#endif /* TT_CONSTS_BPF_H */
