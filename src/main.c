// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* tcptrail: TCP connection-state tracer. Command dispatch. */
#include <stdio.h>
#include "bpfcommon.h"
#include "cgroup.h"
#include "cli.h"
#include "config.h"
#include "replay.h"
#include "services.h"
#include "snapshot.h"
#include "trace.h"

/*
 * Held before the libraries' initializers (gnutls, through libmicrohttpd, takes milliseconds):
 * the executable's pre-init functions run first, leaving only the loader's own work before.
 */
static void hold_early(void)
{
	tt_hold_stop_signals();
}

__attribute__((section(".preinit_array"),
	       used)) static void (*const hold_early_p)(void) = hold_early;

/*
 * The commands, as cli_parse() names them (cli_cmd_name()): what runs each, and whether it keeps
 * the SIGINT/SIGTERM handling held from the start (a replay ends on them as it always did).
 */
static const struct command {
	int (*run)(const struct config *cfg, const struct services *svc);
	int keep_stop_signals;
} commands[] = {
	[CMD_TRACE] = {run_trace, 1},
	[CMD_SNAPSHOT] = {run_snapshot, 1},
	[CMD_REPLAY] = {run_replay, 0},
};

static int usage_error(const char *err, struct services *svc)
{
	fprintf(stderr, "tcptrail: %s\n", err);
	fprintf(stderr, "Try 'tcptrail --help' for more information.\n");
	services_free(svc);
	return 2;
}

int main(int argc, char **argv)
{
	struct config cfg;
	struct services *svc;
	char err[512];
	int ret;

	tt_reserve_std_fds();
	/* A missing /etc/services only costs the names. */
	svc = services_load("/etc/services");
	switch (cli_parse(argc, argv, &cfg, svc, stdout, err, sizeof(err))) {
	case CLI_HELP:
		services_free(svc);
		return 0;
	case CLI_USAGE:
		return usage_error(err, svc);
	case CLI_OK:
		break;
	}
	if (cfg.filter.ncgroups) {
		char mnt[CG_PATH_MAX];
		int depth = 0, have = !cg_find_v2_mount(mnt, sizeof(mnt), &depth);

		/* Paths are checked now, so a typo is a usage error, not a trace of nothing. */
		if (filter_resolve_cgroups(&cfg.filter, have ? mnt : NULL, depth,
					   cfg.cmd != CMD_REPLAY, err, sizeof(err))) {
			return usage_error(err, svc);
		}
	}
	if (!commands[cfg.cmd].keep_stop_signals)
		tt_release_stop_signals();
	ret = commands[cfg.cmd].run(&cfg, svc);
	services_free(svc);
	return ret;
}
