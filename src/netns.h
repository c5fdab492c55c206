/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_NETNS_H
#define TT_NETNS_H

#include <stdint.h>

/*
 * Calls fn inside each distinct network namespace named by /proc/PID/ns/net, the caller's own
 * first, and returns to the caller's namespace. fn also gets a process living there (0 for the
 * caller's own). BPF iterators walk the namespace of whoever
 * creates the iterator fd, so this is how they see every namespace. A non-zero return from fn
 * stops the walk and is returned; *skipped counts namespaces that could not be entered. Returns
 * 0 or -errno (with a one-line message on stderr for failures of its own).
 */
int tt_for_each_netns(int (*fn)(void *ctx, uint64_t netns_ino, uint32_t pid), void *ctx,
		      int *skipped);

#endif
