// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* placeholder: the snapshot iterators */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "tcptrail.h"

SEC("iter/tcp")
int dump_tcp(struct bpf_iter__tcp *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
