// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer target: cli_parse() on an argv made of the input's lines ("tcptrail" is argv[0]).
 * Help and version text go to /dev/null, opened once.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz_common.h"
#include "cli.h"

#define MAX_IN	 8192
#define MAX_ARGS 400 /* more than TT_MAX_FILES, to reach that limit */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct services *table(void)
{
	return fuzz_services("http 80/tcp\nhttps 443/tcp\nssh 22/tcp\n", 3);
}

static FILE *devnull(void)
{
	static FILE *out;

	if (!out) {
		out = fopen("/dev/null", "w");
		if (!out)
			abort();
	}
	return out;
}

static int in_buf(const char *p, const char *buf, size_t len)
{
	return p >= buf && p <= buf + len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[MAX_IN + 1];
	char *argv[MAX_ARGS + 2];
	char err[256];
	struct config cfg;
	enum cli_result r;
	int argc = 0;
	char *p = buf;

	if (size > MAX_IN)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	argv[argc++] = "tcptrail";
	if (size) {
		for (;;) {
			char *nl = memchr(p, '\n', (size_t)(buf + size - p));

			if (argc > MAX_ARGS)
				return 0;
			argv[argc++] = p;
			if (!nl)
				break;
			*nl = '\0';
			p = nl + 1;
		}
	}
	argv[argc] = NULL;
	memset(err, 'X', sizeof(err));
	r = cli_parse(argc, argv, &cfg, table(), devnull(), err, sizeof(err));
	if (!memchr(err, '\0', sizeof(err)))
		abort();
	switch (r) {
	case CLI_USAGE:
		if (!err[0])
			abort();
		break;
	case CLI_HELP:
		break;
	case CLI_OK:
		if (err[0])
			abort();
		if (cfg.nfiles < 0 || cfg.nfiles > TT_MAX_FILES || cfg.nstuck < 0 ||
		    cfg.nstuck > TT_MAX_STUCK)
			abort();
		if ((cfg.cmd == CMD_REPLAY) != (cfg.nfiles > 0))
			abort();
		for (int i = 0; i < cfg.nfiles; i++) {
			if (!in_buf(cfg.files[i], buf, size))
				abort();
		}
		if (cfg.write_path && !in_buf(cfg.write_path, buf, size))
			abort();
		for (int i = 0; i < cfg.nstuck; i++) {
			if (cfg.stuck[i].ns == 0 || cfg.stuck[i].state <= 0 ||
			    cfg.stuck[i].state >= TT_STATE_MAX)
				abort();
		}
		if (cfg.filter.family != 0 && cfg.filter.family != 4 && cfg.filter.family != 6)
			abort();
		if (cfg.ringbuf_mb == 0 || cfg.ringbuf_mb > 1024 ||
		    (cfg.ringbuf_mb & (cfg.ringbuf_mb - 1)))
			abort();
		if (cfg.all && cfg.listening)
			abort();
		/* --cgroup paths are normalised (no mount stripped yet), container ids lowercase. */
		if (cfg.filter.ncgroups > TT_MAX_FILTER || cfg.filter.ncontainers > TT_MAX_FILTER)
			abort();
		for (uint32_t i = 0; i < cfg.filter.ncgroups; i++) {
			const char *c = cfg.filter.cgroups[i];
			size_t n = strnlen(c, TT_CGROUP_ARG_MAX);

			if (n == 0 || n >= TT_CGROUP_ARG_MAX || c[0] != '/' || strstr(c, "//") ||
			    (n > 1 && c[n - 1] == '/') || strstr(c, "/../") || strstr(c, "/./"))
				abort();
		}
		for (uint32_t i = 0; i < cfg.filter.ncontainers; i++) {
			const char *c = cfg.filter.containers[i];
			size_t n = strnlen(c, CG_ID_LEN + 1);

			if (n == 0 || n > CG_ID_LEN || strspn(c, "0123456789abcdef") != n)
				abort();
		}
		break;
	default:
		abort();
	}
	return 0;
}
