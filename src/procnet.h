/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_PROCNET_H
#define TT_PROCNET_H

#include <stddef.h>
#include <stdint.h>

/*
 * Finds counter `name` of group `group` ("TcpExt") in /proc/net/netstat text (header line of
 * names, then a line of values, per group). 0 with *value set, -1 if absent or malformed.
 */
int procnet_counter(const char *buf, size_t len, const char *group, const char *name,
		    uint64_t *value);

/*
 * One line of /proc/PID/mountinfo (without its '\n'). When it is an nsfs mount of a network
 * namespace (as `ip netns add` makes at /run/netns/NAME), puts its mount point, unescaped and
 * NUL-terminated, in path[pathsz] and the namespace's inode number in *ino and returns 1.
 * 0 for any other mount; -1 if the line is malformed or the mount point does not fit.
 */
int procnet_nsfs_net_mount(const char *line, size_t len, char *path, size_t pathsz, uint64_t *ino);

#endif
