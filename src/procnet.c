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
