// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* libFuzzer target: procnet_counter() on arbitrary /proc/net/netstat-like bytes. */
#include <stdint.h>
#include <stdlib.h>
#include "procnet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t v = 0;
	int r = procnet_counter((const char *)data, size, "TcpExt", "TCPTimeWaitOverflow", &v);

	/* At most 19 digits are accepted, so a found value always fits. */
	if (r != 0 && r != -1)
		abort();
	if (r == 0 && v > 9999999999999999999ULL)
		abort();
	return 0;
}
