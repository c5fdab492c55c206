// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* libFuzzer target: procnet_nsfs_net_mount() on each line of arbitrary mountinfo-like bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "procnet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl ? nl : end) - p);
		char path[32];
		uint64_t ino = 0;
		int r = procnet_nsfs_net_mount(p, len, path, sizeof(path), &ino);

		/* A found mount point is a NUL-terminated string that fit, without a NUL inside. */
		if (r < -1 || r > 1 || (r == 1 && strnlen(path, sizeof(path)) >= sizeof(path)))
			abort();
		p = nl ? nl + 1 : end;
	}
	return 0;
}
