// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <string.h>
#include "procnet.h"

/* Next line of [p, end) without its '\n'; NULL at the end. */
static const char *next_line(const char **p, const char *end, size_t *len)
{
	const char *start = *p, *nl;

	if (start >= end)
		return NULL;
	nl = memchr(start, '\n', (size_t)(end - start));
	*len = (size_t)((nl ? nl : end) - start);
	*p = nl ? nl + 1 : end;
	return start;
}

/* The index-th space-separated field of a line, after the "Group:" prefix. */
static int field(const char *line, size_t len, size_t index, const char **f, size_t *flen)
{
	size_t i = 0, k = 0;

	while (i < len && line[i] != ' ')
		i++; /* skip "Group:" */
	for (;;) {
		while (i < len && line[i] == ' ')
			i++;
		if (i >= len)
			return -1;
		size_t start = i;

		while (i < len && line[i] != ' ')
			i++;
		if (k++ == index) {
			*f = line + start;
			*flen = i - start;
			return 0;
		}
	}
}

int procnet_counter(const char *buf, size_t len, const char *group, const char *name,
		    uint64_t *value)
{
	const char *p = buf, *end = buf + len, *hdr, *vals, *f;
	size_t glen = strlen(group), nlen = strlen(name), hlen, vlen, flen;

	while ((hdr = next_line(&p, end, &hlen)) != NULL) {
		if (hlen <= glen || memcmp(hdr, group, glen) != 0 || hdr[glen] != ':')
			continue;
		vals = next_line(&p, end, &vlen);
		if (!vals || vlen <= glen || memcmp(vals, hdr, glen + 1) != 0)
			return -1;
		for (size_t i = 0; !field(hdr, hlen, i, &f, &flen); i++) {
			uint64_t v = 0;

			if (flen != nlen || memcmp(f, name, nlen) != 0)
				continue;
			if (field(vals, vlen, i, &f, &flen) || flen == 0 || flen > 19)
				return -1;
			for (size_t j = 0; j < flen; j++) {
				if (f[j] < '0' || f[j] > '9')
					return -1;
				v = v * 10 + (uint64_t)(f[j] - '0');
			}
			*value = v;
			return 0;
		}
		return -1;
	}
	return -1;
}

/* Next space-separated field of [*p, end): its start and length; -1 if none is left. */
static int next_field(const char **p, const char *end, const char **f, size_t *flen)
{
	const char *s = *p;

	while (s < end && *s == ' ')
		s++;
	if (s >= end)
		return -1;
	*f = s;
	while (s < end && *s != ' ')
		s++;
	*flen = (size_t)(s - *f);
	*p = s;
	return 0;
}

/* Copies a mount point, undoing the kernel's \ooo escapes of space, tab, newline, backslash. */
static int unescape_path(const char *s, size_t len, char *out, size_t outsz)
{
	size_t i = 0, o = 0;

	while (i < len) {
		char c = s[i++];

		if (c == '\\' && len - i >= 3 && s[i] >= '0' && s[i] <= '3' && s[i + 1] >= '0' &&
		    s[i + 1] <= '7' && s[i + 2] >= '0' && s[i + 2] <= '7') {
			c = (char)((s[i] - '0') << 6 | (s[i + 1] - '0') << 3 | (s[i + 2] - '0'));
			i += 3;
		}
		if (!c || o + 1 >= outsz)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

int procnet_nsfs_net_mount(const char *line, size_t len, char *path, size_t pathsz, uint64_t *ino)
{
	static const char prefix[] = "net:[";
	const size_t plen = sizeof(prefix) - 1;
	const char *p = line, *end = line + len, *f, *root, *mnt;
	size_t flen, rlen, mlen;
	uint64_t v = 0;
	int i;

	/* mount ID, parent ID, major:minor, root, mount point, options, optional fields, "-" */
	for (i = 0; i < 3; i++) {
		if (next_field(&p, end, &f, &flen))
			return -1;
	}
	if (next_field(&p, end, &root, &rlen) || next_field(&p, end, &mnt, &mlen) ||
	    next_field(&p, end, &f, &flen))
		return -1;
	do {
		if (next_field(&p, end, &f, &flen))
			return -1;
	} while (flen != 1 || *f != '-');
	if (next_field(&p, end, &f, &flen))
		return -1;
	if (flen != 4 || memcmp(f, "nsfs", 4))
		return 0;
	/* The root of an nsfs mount names the namespace: "net:[4026531840]". */
	if (rlen < plen + 2 || memcmp(root, prefix, plen) || root[rlen - 1] != ']')
		return 0;
	if (rlen - plen - 1 > 19)
		return -1;
	for (size_t k = plen; k < rlen - 1; k++) {
		if (root[k] < '0' || root[k] > '9')
			return -1;
		v = v * 10 + (uint64_t)(root[k] - '0');
	}
	if (unescape_path(mnt, mlen, path, pathsz))
		return -1;
	*ino = v;
	return 1;
}
