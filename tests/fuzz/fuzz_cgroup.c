// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer target: the pure half of src/cgroup.c on arbitrary bytes: a cgroup path parsed into
 * container/pod/unit, the same bytes as /proc/self/mountinfo, and as a --cgroup argument.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "cgroup.h"

#define MAX_IN 8192

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	}
	return 1;
}

/* The input has s as one whole '/'-separated component. */
static int is_component(const char *in, size_t len, const char *s)
{
	size_t n = strlen(s);

	for (size_t i = 0; i + n <= len; i++) {
		if ((i == 0 || in[i - 1] == '/') && (i + n == len || in[i + n] == '/') &&
		    !memcmp(in + i, s, n))
			return 1;
	}
	return 0;
}

static void check_ident(const char *in, size_t len)
{
	struct cg_ident a, b;
	int found = cg_parse_path(in, len, &a);
	size_t n;

	if (found & ~(CG_FOUND_CONTAINER | CG_FOUND_POD | CG_FOUND_UNIT))
		abort();
	if (!!(found & CG_FOUND_CONTAINER) != !!a.container_id[0] ||
	    !!(found & CG_FOUND_POD) != !!a.pod[0] || !!(found & CG_FOUND_UNIT) != !!a.unit[0])
		abort();
	/* A container id is 64 lowercase hex digits taken from the path. */
	n = strlen(a.container_id);
	if (n && (n != CG_ID_LEN || !lower_hex(a.container_id, n) ||
		  !memmem(in, len, a.container_id, n)))
		abort();
	/* A pod uid is 32 hex digits or a UUID with dashes. */
	n = strlen(a.pod);
	if (n == 32) {
		if (!lower_hex(a.pod, n))
			abort();
	} else if (n) {
		if (n != CG_POD_LEN)
			abort();
		for (size_t i = 0; i < n; i++) {
			int dash = i == 8 || i == 13 || i == 18 || i == 23;

			if (dash ? a.pod[i] != '-' : !lower_hex(a.pod + i, 1))
				abort();
		}
	}
	/* A unit is one whole component of the path, and not a slice. */
	n = strlen(a.unit);
	if (n && (n > CG_UNIT_MAX || memchr(a.unit, '/', n) || !is_component(in, len, a.unit)))
		abort();
	/* Deterministic. */
	if (cg_parse_path(in, len, &b) != found || memcmp(&a, &b, sizeof(a)))
		abort();
}

static void check_label(const char *in, size_t len)
{
	struct cg_desc d;
	const char *s;
	size_t n;

	memset(&d, 0, sizeof(d));
	d.path = in;
	d.path_len = len;
	cg_parse_path(in, len, &d.ident);
	cg_label(&d, &s, &n);
	if (d.ident.container_id[0] ? n != CG_SHORT_LEN
	    : d.ident.unit[0]	    ? n != strlen(d.ident.unit)
				    : (s != in || n != len))
		abort();
}

static void check_mountinfo(const char *in, size_t len)
{
	char mnt[256];
	int depth = -1;

	if (cg_mountinfo_v2(in, len, mnt, sizeof(mnt), &depth))
		return;
	if (mnt[0] != '/' || strlen(mnt) >= sizeof(mnt) || depth < 0)
		abort();
}

/* The normalised form: "/" or "/a/b", no empty, "." or ".." component, no trailing slash. */
static void check_normal(const char *s, int level)
{
	int n = 0;

	if (s[0] != '/')
		abort();
	if (!strcmp(s, "/")) {
		if (level != 0)
			abort();
		return;
	}
	for (const char *p = s; *p;) {
		const char *c = ++p;

		while (*p && *p != '/')
			p++;
		if (p == c || (p - c == 1 && c[0] == '.') ||
		    (p - c == 2 && c[0] == '.' && c[1] == '.'))
			abort();
		n++;
	}
	if (n != level)
		abort();
}

static void check_normalize(const char *arg)
{
	static const char *const mounts[] = {NULL, "/", "/sys/fs/cgroup", "/sys/fs/cgroup/unified"};
	char out[CG_PATH_MAX], again[CG_PATH_MAX];

	for (size_t i = 0; i < sizeof(mounts) / sizeof(mounts[0]); i++) {
		int level = -1, level2 = -1;

		if (cg_normalize(mounts[i], arg, out, sizeof(out), &level))
			continue;
		check_normal(out, level);
		/* Idempotent once relative to the mount. */
		if (cg_normalize(NULL, out, again, sizeof(again), &level2) || strcmp(out, again) ||
		    level != level2)
			abort();
		if (!cg_path_under(out, strlen(out), out, strlen(out)) ||
		    !cg_path_under(out, strlen(out), "/", 1))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[MAX_IN + 1];

	if (size > MAX_IN)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	check_ident(buf, size);
	check_label(buf, size);
	check_mountinfo(buf, size);
	check_normalize(buf); /* up to the first NUL, as an argv string is */
	return 0;
}
