// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "netns.h"

static int ino_seen(const uint64_t *list, size_t n, uint64_t ino)
{
	for (size_t i = 0; i < n; i++) {
		if (list[i] == ino)
			return 1;
	}
	return 0;
}

int tt_for_each_netns(int (*fn)(void *ctx, uint64_t netns_ino, uint32_t pid), void *ctx,
		      int *skipped)
{
	uint64_t *seen = NULL, *grown;
	size_t nseen = 0, cap = 64;
	struct stat st;
	struct dirent *de;
	int self, err;
	DIR *d;

	*skipped = 0;
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0 || fstat(self, &st)) {
		err = -errno;
		fprintf(stderr, "tcptrail: cannot open /proc/self/ns/net: %s\n", strerror(errno));
		if (self >= 0)
			close(self);
		return err;
	}
	err = fn(ctx, st.st_ino, 0);
	if (err)
		goto out_self;
	d = opendir("/proc");
	if (!d) {
		err = -errno;
		fprintf(stderr, "tcptrail: cannot read /proc: %s\n", strerror(errno));
		goto out_self;
	}
	seen = malloc(cap * sizeof(*seen));
	if (!seen) {
		err = -ENOMEM;
		goto out_dir;
	}
	seen[nseen++] = st.st_ino;
	while ((de = readdir(d)) != NULL) {
		char path[300];
		struct stat nst;
		int fd;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/ns/net", de->d_name);
		if (stat(path, &nst) || ino_seen(seen, nseen, nst.st_ino))
			continue; /* gone, or a netns already walked */
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (setns(fd, CLONE_NEWNET)) {
			(*skipped)++;
			close(fd);
			continue;
		}
		err = fn(ctx, nst.st_ino, (uint32_t)strtoul(de->d_name, NULL, 10));
		close(fd);
		if (setns(self, CLONE_NEWNET)) {
			err = -errno;
			fprintf(stderr, "tcptrail: cannot return to own netns: %s\n",
				strerror(errno));
			break;
		}
		if (err)
			break;
		if (nseen == cap) {
			grown = realloc(seen, 2 * cap * sizeof(*seen));
			if (!grown) {
				err = -ENOMEM;
				break;
			}
			seen = grown;
			cap *= 2;
		}
		seen[nseen++] = nst.st_ino;
	}
out_dir:
	closedir(d);
out_self:
	close(self);
	free(seen);
	return err;
}
