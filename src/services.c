// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "services.h"

struct services *services_new(void)
{
	struct services *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->pool_cap = 4096;
	s->pool = malloc(s->pool_cap);
	if (!s->pool) {
		free(s);
		return NULL;
	}
	s->pool[0] = '\0'; /* offset 0 means "no name" */
	s->pool_len = 1;
	return s;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static int pool_add(struct services *s, const char *name, size_t len, uint32_t *off)
{
	if (s->pool_len + len + 1 > s->pool_cap) {
		size_t cap = s->pool_cap * 2;
		char *p;

		while (cap < s->pool_len + len + 1)
			cap *= 2;
		p = realloc(s->pool, cap);
		if (!p)
			return -1;
		s->pool = p;
		s->pool_cap = cap;
	}
	memcpy(s->pool + s->pool_len, name, len);
	s->pool[s->pool_len + len] = '\0';
	*off = (uint32_t)s->pool_len;
	s->pool_len += len + 1;
	return 0;
}

/* One line without its '\n': "name port/proto [aliases] [# comment]". 1 added, 0 not, -1 OOM. */
static int parse_line(struct services *s, const char *p, const char *end)
{
	const char *name, *num;
	size_t name_len;
	unsigned long port = 0;
	const char *hash = memchr(p, '#', (size_t)(end - p));

	if (hash)
		end = hash;
	while (p < end && is_blank(*p))
		p++;
	name = p;
	while (p < end && !is_blank(*p))
		p++;
	name_len = (size_t)(p - name);
	if (!name_len || name_len > 64)
		return 0;
	while (p < end && is_blank(*p))
		p++;
	num = p;
	while (p < end && *p >= '0' && *p <= '9' && port <= 65535)
		port = port * 10 + (unsigned long)(*p++ - '0');
	if (p == num || port > 65535 || p + 4 > end || memcmp(p, "/tcp", 4) != 0)
		return 0;
	p += 4;
	if (p < end && !is_blank(*p))
		return 0;
	if (s->name_off[port])
		return 0;
	for (size_t i = 0; i < name_len; i++) {
		/* Names are printed raw; keep the table printable and JSON-safe. */
		unsigned char c = (unsigned char)name[i];

		if (c < 0x21 || c > 0x7e || c == '"' || c == '\\')
			return 0;
	}
	if (pool_add(s, name, name_len, &s->name_off[port]))
		return -1;
	return 1;
}

int services_parse(struct services *s, const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len;
	int added = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = nl ? nl : end;
		int r = parse_line(s, p, line_end);

		if (r < 0)
			return -1;
		added += r;
		p = nl ? nl + 1 : end;
	}
	return added;
}

struct services *services_load(const char *path)
{
	struct services *s;
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0, cap = 0;

	if (!f)
		return NULL;
	for (;;) {
		size_t n;

		if (len + 65536 > cap) {
			char *nb = realloc(buf, cap + 65536 * 4);

			if (!nb)
				goto fail;
			buf = nb;
			cap += 65536 * 4;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f))
		goto fail;
	fclose(f);
	s = services_new();
	if (!s || services_parse(s, buf, len) < 0) {
		services_free(s);
		free(buf);
		errno = ENOMEM;
		return NULL;
	}
	free(buf);
	return s;
fail:
	free(buf);
	fclose(f);
	return NULL;
}

void services_free(struct services *s)
{
	if (!s)
		return;
	free(s->pool);
	free(s);
}
