/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_SERVICES_H
#define TT_SERVICES_H

#include <stddef.h>
#include <stdint.h>

/*
 * TCP port -> service name, read once from /etc/services; lookups are an array index, because
 * getservbyport() re-reads the file on every call.
 */
struct services {
	uint32_t name_off[65536]; /* offset into pool; 0 = no name */
	char *pool;
	size_t pool_len;
	size_t pool_cap;
};

/* Empty table. Returns NULL when out of memory. */
struct services *services_new(void);

/*
 * Adds the tcp entries of an /etc/services-format buffer; the first name for a port wins, as
 * with getservbyport(). Lines that do not parse are skipped, as glibc does. Returns the number
 * of entries added, or -1 when out of memory.
 */
int services_parse(struct services *s, const char *buf, size_t len);

/* services_new() + services_parse() of a file. NULL with errno set when unreadable. */
struct services *services_load(const char *path);

/* The service name of a TCP port, or NULL. */
static inline const char *services_name(const struct services *s, uint16_t port)
{
	if (!s || !s->name_off[port])
		return NULL;
	return s->pool + s->name_off[port];
}

void services_free(struct services *s);

#endif
