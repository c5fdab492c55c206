// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include "causes.h"
#include "cli.h"
#include "metrics.h"
#include "parse.h"
#include "prom.h"
#include "states.h"

enum long_only {
	OPT_PID = 256,
	OPT_COMM,
	OPT_PORT,
	OPT_LPORT,
	OPT_RPORT,
	OPT_STATE,
	OPT_NETNS,
	OPT_CGROUP,
	OPT_CONTAINER,
	OPT_CAUSE,
	OPT_STUCK,
	OPT_ROTATE,
	OPT_KEEP,
	OPT_ALL_NETNS,
	OPT_RESOLVE,
	OPT_SUMMARY,
	OPT_HTML,
	OPT_SINCE,
	OPT_UNTIL,
	OPT_RINGBUF,
	OPT_METRICS,
	OPT_METRICS_FILE,
	OPT_METRICS_INTERVAL,
	OPT_METRICS_BY,
	OPT_LAST, /* size of the seen[] array */
};

static const struct option long_options[] = {
	{"output", required_argument, NULL, 'o'},
	{"numeric", no_argument, NULL, 'n'},
	{"extended", no_argument, NULL, 'e'},
	{"ipv4", no_argument, NULL, '4'},
	{"ipv6", no_argument, NULL, '6'},
	{"duration", required_argument, NULL, 'd'},
	{"write", required_argument, NULL, 'w'},
	{"quiet", no_argument, NULL, 'q'},
	{"verbose", no_argument, NULL, 'v'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{"all", no_argument, NULL, 'a'},
	{"listening", no_argument, NULL, 'l'},
	{"programs", no_argument, NULL, 'p'},
	{"continuous", required_argument, NULL, 'c'},
	{"pid", required_argument, NULL, OPT_PID},
	{"comm", required_argument, NULL, OPT_COMM},
	{"port", required_argument, NULL, OPT_PORT},
	{"lport", required_argument, NULL, OPT_LPORT},
	{"rport", required_argument, NULL, OPT_RPORT},
	{"state", required_argument, NULL, OPT_STATE},
	{"netns", required_argument, NULL, OPT_NETNS},
	{"cgroup", required_argument, NULL, OPT_CGROUP},
	{"container", required_argument, NULL, OPT_CONTAINER},
	{"cause", required_argument, NULL, OPT_CAUSE},
	{"stuck", required_argument, NULL, OPT_STUCK},
	{"rotate", required_argument, NULL, OPT_ROTATE},
	{"keep", required_argument, NULL, OPT_KEEP},
	{"all-netns", no_argument, NULL, OPT_ALL_NETNS},
	{"resolve", no_argument, NULL, OPT_RESOLVE},
	{"summary", no_argument, NULL, OPT_SUMMARY},
	{"html", required_argument, NULL, OPT_HTML},
	{"since", required_argument, NULL, OPT_SINCE},
	{"until", required_argument, NULL, OPT_UNTIL},
	{"ringbuf-mb", required_argument, NULL, OPT_RINGBUF},
	{"metrics", required_argument, NULL, OPT_METRICS},
	{"metrics-file", required_argument, NULL, OPT_METRICS_FILE},
	{"metrics-interval", required_argument, NULL, OPT_METRICS_INTERVAL},
	{"metrics-by", required_argument, NULL, OPT_METRICS_BY},
	{NULL, 0, NULL, 0},
};

void cli_usage(FILE *out)
{
	fputs("Usage: tcptrail [trace] [OPTIONS]       trace TCP state transitions live (default)\n"
	      "       tcptrail snapshot [OPTIONS]      list the TCP sockets open now, like netstat "
	      "-at\n"
	      "       tcptrail replay [OPTIONS] FILE...  print or summarise a recorded log\n"
	      "\n"
	      "Output:\n"
	      "  -o, --output FORMAT    text (default) or json (one object per line)\n"
	      "  -n, --numeric          port numbers, no service names\n"
	      "  -e, --extended         more columns (trace: why a connection ended and its\n"
	      "                         tx/rx bytes, socket cookie, netns, cgroup;\n"
	      "                         snapshot: uid, inode, cookie, timer, retransmits, rtt,\n"
	      "                         lastrcv, lastsnd, cgroup)\n"
	      "  -q, --quiet            trace: no live output (with -w or --stuck)\n"
	      "  -v, --verbose          libbpf and verifier messages on stderr\n"
	      "\n"
	      "Filters (LIST is comma-separated; options may repeat):\n"
	      "  -4, --ipv4 / -6, --ipv6  IPv4 (with v4-mapped IPv6) or IPv6 only\n"
	      "      --pid LIST         owner process ids (snapshot, stuck alerts: any holder)\n"
	      "      --comm LIST        owner process names (snapshot, stuck alerts: any holder)\n"
	      "      --port LIST        local or remote port (numbers or service names)\n"
	      "      --lport LIST       local port\n"
	      "      --rport LIST       remote port\n"
	      "      --state LIST       old or new state, e.g. CLOSE_WAIT,TIME_WAIT\n"
	      "      --netns LIST       network namespace inodes\n"
	      "      --cgroup LIST      cgroup v2 paths (under the v2 mount, or relative to it),\n"
	      "                         each with the cgroups below it\n"
	      "      --container LIST   container ids or their prefixes\n"
	      "      --cause LIST       trace, replay: only connections that ended so: closed,\n"
	      "                         timewait, refused, timeout, reset_in, reset_out, abort,\n"
	      "                         listener_closed, unknown (their final transition)\n"
	      "\n"
	      "Trace:\n"
	      "  -d, --duration SECONDS stop after this long\n"
	      "  -w, --write FILE       record every event to FILE as JSON Lines (gzip if *.gz)\n"
	      "      --rotate SIZE      start FILE.1, FILE.2 ... when FILE reaches SIZE (e.g. "
	      "100M)\n"
	      "      --keep N           rotated files to keep (default 10)\n"
	      "      --stuck STATE=DURATION  alert when a socket stays in STATE this long\n"
	      "                         (e.g. CLOSE_WAIT=30s; units ms s m h; repeatable), naming\n"
	      "                         every process holding it then, as snapshot -p does\n"
	      "      --ringbuf-mb N     ring buffer size in MiB (default 16)\n"
	      "      --metrics ADDR:PORT  serve Prometheus metrics at http://ADDR:PORT/metrics\n"
	      "                         (:PORT for every address)\n"
	      "      --metrics-file FILE  write them to FILE (node_exporter textfile collector)\n"
	      "      --metrics-interval SECONDS  how often --metrics-file is written (default "
	      "15s)\n"
	      "      --metrics-by LABEL   comm, container or unit: a label on the socket,\n"
	      "                         transition and stuck metrics\n"
	      "\n"
	      "Snapshot:\n"
	      "  -a, --all              listening and non-listening sockets\n"
	      "  -l, --listening        listening sockets only\n"
	      "  -p, --programs         PID/Program name of every process holding the socket\n"
	      "      --stuck STATE=DURATION  only sockets idle in STATE at least that long\n"
	      "      --all-netns        every network namespace in /proc/*/ns/net\n"
	      "      --resolve          host names (may block on DNS)\n"
	      "  -c, --continuous SECONDS  repeat every SECONDS\n"
	      "\n"
	      "Replay:\n"
	      "      --summary          counts, durations and top talkers instead of events\n"
	      "      --html FILE        a page for a browser instead: a timeline per connection,\n"
	      "                         sockets per state, resets, CLOSE_WAIT holders (no "
	      "network)\n"
	      "      --since TIME       events at or after TIME (RFC 3339 or epoch seconds)\n"
	      "      --until TIME       events before TIME\n"
	      "\n"
	      "  -h, --help             this text;  -V, --version  the version\n"
	      "\n"
	      "Exit status: 0 ok, 1 runtime error, 2 usage error. See tcptrail(8).\n",
	      out);
}

static int parse_stuck(struct config *cfg, const char *arg, char *err, size_t errlen)
{
	const char *eq = strchr(arg, '=');
	int state;
	uint64_t ns;

	if (!eq) {
		snprintf(err, errlen, "--stuck wants STATE=DURATION, e.g. CLOSE_WAIT=30s: '%s'",
			 arg);
		return -1;
	}
	state = tt_state_parse(arg, (unsigned long)(eq - arg));
	if (state < 0 || state == TT_CLOSE || state == TT_NEW_SYN_RECV ||
	    state == TT_FIN_WAIT2_TW) {
		snprintf(err, errlen, "--stuck: '%.*s' is not a state a socket can stay in",
			 (int)(eq - arg), arg);
		return -1;
	}
	if (parse_duration_ns(eq + 1, &ns) || ns == 0) {
		snprintf(err, errlen, "--stuck: bad duration '%s' (e.g. 500ms, 30s, 5m, 1h)",
			 eq + 1);
		return -1;
	}
	for (int i = 0; i < cfg->nstuck; i++) {
		if (cfg->stuck[i].state == state) {
			cfg->stuck[i].ns = ns;
			return 0;
		}
	}
	if (cfg->nstuck >= TT_MAX_STUCK) {
		snprintf(err, errlen, "--stuck: at most %d rules", TT_MAX_STUCK);
		return -1;
	}
	cfg->stuck[cfg->nstuck].state = state;
	cfg->stuck[cfg->nstuck].ns = ns;
	cfg->nstuck++;
	return 0;
}

static int bad(char *err, size_t errlen, const char *what, const char *arg)
{
	snprintf(err, errlen, "%s: '%s'", what, arg);
	return -1;
}

/* --since/--until: an impossible date says which field is wrong, not just "want a time". */
static int parse_time_opt(const char *opt, const char *arg, uint64_t *ns, char *err, size_t errlen)
{
	char why[80];

	if (!parse_time_ns_why(arg, ns, why, sizeof(why)))
		return 0;
	if (why[0])
		snprintf(err, errlen, "%s '%s': %s", opt, arg, why);
	else
		snprintf(err, errlen, "%s wants RFC 3339 time or epoch seconds: '%s'", opt, arg);
	return -1;
}

/* For list parsers, whose reason already quotes the offending item. */
static int bad_list(char *err, size_t errlen, const char *what, const char *reason)
{
	snprintf(err, errlen, "%s: %s", what, reason);
	return -1;
}

/* One option; 0 ok, -1 usage error, 1 help/version printed. */
static int apply_option(struct config *cfg, int opt, const char *arg, const struct services *svc,
			FILE *out, char *err, size_t errlen)
{
	struct tt_filter *f = &cfg->filter;
	char sub[200];
	uint64_t v;

	switch (opt) {
	case 'o':
		if (!strcmp(arg, "json"))
			cfg->json = 1;
		else if (!strcmp(arg, "text"))
			cfg->json = 0;
		else
			return bad(err, errlen, "-o takes text or json", arg);
		return 0;
	case 'n':
		cfg->numeric = 1;
		return 0;
	case 'e':
		cfg->extended = 1;
		return 0;
	case '4':
	case '6':
		if (f->family && f->family != (unsigned int)(opt - '0')) {
			snprintf(err, errlen, "-4 and -6 exclude each other");
			return -1;
		}
		f->family = opt - '0';
		return 0;
	case 'd':
		if (parse_duration_ns(arg, &cfg->duration_ns) || !cfg->duration_ns)
			return bad(err, errlen, "-d wants a duration in seconds (or 500ms, 2m)",
				   arg);
		return 0;
	case 'w':
		if (!*arg)
			return bad(err, errlen, "-w wants a file name", arg);
		cfg->write_path = arg;
		return 0;
	case 'q':
		cfg->quiet = 1;
		return 0;
	case 'v':
		cfg->verbose = 1;
		return 0;
	case 'h':
		cli_usage(out);
		return 1;
	case 'V':
		fprintf(out, "tcptrail %s\n", TCPTRAIL_VERSION);
		return 1;
	case 'a':
		cfg->all = 1;
		return 0;
	case 'l':
		cfg->listening = 1;
		return 0;
	case 'p':
		cfg->programs = 1;
		return 0;
	case 'c':
		if (parse_duration_ns(arg, &cfg->continuous_ns) || !cfg->continuous_ns)
			return bad(err, errlen, "-c wants an interval in seconds", arg);
		return 0;
	case OPT_PID:
		if (filter_add_pids(f, arg, sub, sizeof(sub)))
			return bad_list(err, errlen, "--pid", sub);
		return 0;
	case OPT_COMM:
		if (filter_add_comms(f, arg, sub, sizeof(sub)))
			return bad_list(err, errlen, "--comm", sub);
		return 0;
	case OPT_PORT:
		if (filter_add_ports(f->ports, &f->nports, arg, svc, sub, sizeof(sub)))
			return bad_list(err, errlen, "--port (numbers 1-65535 or service names)",
					sub);
		return 0;
	case OPT_LPORT:
		if (filter_add_ports(f->lports, &f->nlports, arg, svc, sub, sizeof(sub)))
			return bad_list(err, errlen, "--lport (numbers 1-65535 or service names)",
					sub);
		return 0;
	case OPT_RPORT:
		if (filter_add_ports(f->rports, &f->nrports, arg, svc, sub, sizeof(sub)))
			return bad_list(err, errlen, "--rport (numbers 1-65535 or service names)",
					sub);
		return 0;
	case OPT_STATE:
		if (filter_add_states(&f->state_mask, arg, sub, sizeof(sub)))
			return bad_list(err, errlen, "--state", sub);
		return 0;
	case OPT_NETNS:
		if (filter_add_netns(f, arg, sub, sizeof(sub)))
			return bad_list(err, errlen,
					"--netns (inode numbers, see ls -L -i /proc/PID/ns/net)",
					sub);
		return 0;
	case OPT_CGROUP:
		if (filter_add_cgroups(f, arg, sub, sizeof(sub)))
			return bad_list(err, errlen, "--cgroup", sub);
		return 0;
	case OPT_CONTAINER:
		if (filter_add_containers(f, arg, sub, sizeof(sub)))
			return bad_list(err, errlen, "--container", sub);
		return 0;
	case OPT_CAUSE:
		if (cause_add_list(&f->cause_mask, arg, sub, sizeof(sub)))
			return bad_list(err, errlen, "--cause", sub);
		return 0;
	case OPT_STUCK:
		return parse_stuck(cfg, arg, err, errlen);
	case OPT_ROTATE:
		if (parse_size(arg, &cfg->rotate_bytes) || cfg->rotate_bytes < 4096)
			return bad(err, errlen, "--rotate wants a size of at least 4k, e.g. 100M",
				   arg);
		return 0;
	case OPT_KEEP:
		if (parse_u64(arg, 1, 100000, &v))
			return bad(err, errlen, "--keep wants a count 1-100000", arg);
		cfg->keep = (uint32_t)v;
		return 0;
	case OPT_ALL_NETNS:
		cfg->all_netns = 1;
		return 0;
	case OPT_RESOLVE:
		cfg->resolve = 1;
		return 0;
	case OPT_SUMMARY:
		cfg->summary = 1;
		return 0;
	case OPT_HTML:
		if (!*arg)
			return bad(err, errlen, "--html wants a file name", arg);
		cfg->html_path = arg;
		return 0;
	case OPT_SINCE:
		cfg->has_since = 1;
		return parse_time_opt("--since", arg, &cfg->since_ns, err, errlen);
	case OPT_UNTIL:
		cfg->has_until = 1;
		return parse_time_opt("--until", arg, &cfg->until_ns, err, errlen);
	case OPT_RINGBUF:
		if (parse_u64(arg, 1, 1024, &v) || (v & (v - 1)))
			return bad(err, errlen, "--ringbuf-mb wants a power of two 1-1024", arg);
		cfg->ringbuf_mb = (uint32_t)v;
		return 0;
	case OPT_METRICS: {
		struct sockaddr_storage sa;
		socklen_t salen;
		int any;

		if (prom_parse_listen(arg, &sa, &salen, &any, err, errlen))
			return -1;
		cfg->metrics_addr = arg;
		return 0;
	}
	case OPT_METRICS_FILE:
		if (!*arg)
			return bad(err, errlen, "--metrics-file wants a file name", arg);
		cfg->metrics_file = arg;
		return 0;
	case OPT_METRICS_INTERVAL:
		if (parse_duration_ns(arg, &cfg->metrics_interval_ns) ||
		    cfg->metrics_interval_ns < 100000000ULL)
			return bad(
				err, errlen,
				"--metrics-interval wants a duration of at least 100ms (e.g. 15s)",
				arg);
		return 0;
	case OPT_METRICS_BY: {
		int by = mt_by_parse(arg);

		if (by < 0)
			return bad(err, errlen, "--metrics-by takes comm, container or unit", arg);
		cfg->metrics_by = by;
		return 0;
	}
	}
	snprintf(err, errlen, "unknown option");
	return -1;
}

/* Options that make no sense for a subcommand are errors, not silently ignored. */
static int check_combination(struct config *cfg, int seen[], char *err, size_t errlen)
{
	static const struct {
		int opt;
		const char *name;
		unsigned cmds; /* bit per enum tt_cmd */
	} allowed[] = {
		{'d', "-d", 1 << CMD_TRACE},
		{'w', "-w", 1 << CMD_TRACE},
		{'q', "-q", 1 << CMD_TRACE},
		{OPT_ROTATE, "--rotate", 1 << CMD_TRACE},
		{OPT_KEEP, "--keep", 1 << CMD_TRACE},
		{OPT_RINGBUF, "--ringbuf-mb", 1 << CMD_TRACE},
		{OPT_METRICS, "--metrics", 1 << CMD_TRACE},
		{OPT_METRICS_FILE, "--metrics-file", 1 << CMD_TRACE},
		{OPT_METRICS_INTERVAL, "--metrics-interval", 1 << CMD_TRACE},
		{OPT_METRICS_BY, "--metrics-by", 1 << CMD_TRACE},
		{OPT_STUCK, "--stuck", 1 << CMD_TRACE | 1 << CMD_SNAPSHOT},
		{'a', "-a", 1 << CMD_SNAPSHOT},
		{'l', "-l", 1 << CMD_SNAPSHOT},
		{'p', "-p", 1 << CMD_SNAPSHOT},
		{'c', "-c", 1 << CMD_SNAPSHOT},
		{OPT_ALL_NETNS, "--all-netns", 1 << CMD_SNAPSHOT},
		{OPT_RESOLVE, "--resolve", 1 << CMD_SNAPSHOT},
		{OPT_PID, "--pid", 1 << CMD_TRACE | 1 << CMD_REPLAY | 1 << CMD_SNAPSHOT},
		{OPT_COMM, "--comm", 1 << CMD_TRACE | 1 << CMD_REPLAY | 1 << CMD_SNAPSHOT},
		{OPT_CAUSE, "--cause", 1 << CMD_TRACE | 1 << CMD_REPLAY},
		{OPT_SUMMARY, "--summary", 1 << CMD_REPLAY},
		{OPT_HTML, "--html", 1 << CMD_REPLAY},
		{OPT_SINCE, "--since", 1 << CMD_REPLAY},
		{OPT_UNTIL, "--until", 1 << CMD_REPLAY},
	};
	static const char *const cmd_names[] = {"trace", "snapshot", "replay"};

	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		if (seen[allowed[i].opt] && !(allowed[i].cmds & (1u << cfg->cmd))) {
			snprintf(err, errlen, "%s does not apply to '%s'", allowed[i].name,
				 cmd_names[cfg->cmd]);
			return -1;
		}
	}
	for (int i = 0; cfg->cmd == CMD_TRACE && i < cfg->nstuck; i++) {
		/* A timewait socket ends without an event: an alert could name a socket long gone. */
		if (cfg->stuck[i].state == TT_TIME_WAIT) {
			snprintf(err, errlen,
				 "--stuck TIME_WAIT works with snapshot, not while tracing "
				 "(no event shows a timewait socket ending)");
			return -1;
		}
	}
	/*
	 * --cause keeps only final transitions, in the kernel: the stuck watch would never see a
	 * socket enter its state.
	 */
	if (cfg->cmd == CMD_TRACE && cfg->filter.cause_mask && cfg->nstuck) {
		snprintf(err, errlen,
			 "--cause and --stuck do not go together while tracing (--cause shows only "
			 "connections that ended; a stuck one has not)");
		return -1;
	}
	if ((seen[OPT_ROTATE] || seen[OPT_KEEP]) && !cfg->write_path) {
		snprintf(err, errlen, "--rotate and --keep need -w FILE");
		return -1;
	}
	if (cfg->write_path && !strcmp(cfg->write_path, "-") && !cfg->quiet) {
		snprintf(err, errlen, "-w - writes the log to stdout: add -q");
		return -1;
	}
	if ((seen[OPT_METRICS_INTERVAL] || seen[OPT_METRICS_BY]) && !cfg->metrics_addr &&
	    !cfg->metrics_file) {
		snprintf(err, errlen,
			 "--metrics-interval and --metrics-by need --metrics or "
			 "--metrics-file");
		return -1;
	}
	if (cfg->quiet && cfg->cmd == CMD_TRACE && !cfg->write_path && !cfg->nstuck &&
	    !cfg->metrics_addr && !cfg->metrics_file) {
		snprintf(err, errlen, "-q without -w, --stuck or --metrics would show nothing");
		return -1;
	}
	if (cfg->cmd == CMD_REPLAY && cfg->nfiles == 0) {
		snprintf(err, errlen, "replay wants at least one FILE (- for stdin)");
		return -1;
	}
	if (cfg->cmd != CMD_REPLAY && cfg->nfiles) {
		snprintf(err, errlen, "unexpected argument '%s'", cfg->files[0]);
		return -1;
	}
	if (cfg->has_since && cfg->has_until && cfg->until_ns <= cfg->since_ns) {
		snprintf(err, errlen, "--until must be after --since");
		return -1;
	}
	if (cfg->html_path && (cfg->summary || cfg->json || cfg->extended)) {
		snprintf(err, errlen, "--html writes a page: not with %s",
			 cfg->summary ? "--summary"
			 : cfg->json  ? "-o json"
				      : "-e");
		return -1;
	}
	if (cfg->all && cfg->listening) {
		snprintf(err, errlen, "-a and -l exclude each other");
		return -1;
	}
	return 0;
}

enum cli_result cli_parse(int argc, char **argv, struct config *cfg, const struct services *svc,
			  FILE *out, char *err, size_t errlen)
{
	int seen[OPT_LAST] = {0};
	int first = 1, opt;

	memset(cfg, 0, sizeof(*cfg));
	cfg->cmd = CMD_TRACE;
	cfg->keep = 10;
	cfg->ringbuf_mb = 16;
	cfg->metrics_interval_ns = 15000000000ULL;
	err[0] = '\0';

	if (argc > 1 && argv[1][0] != '-') {
		if (!strcmp(argv[1], "trace"))
			cfg->cmd = CMD_TRACE;
		else if (!strcmp(argv[1], "snapshot"))
			cfg->cmd = CMD_SNAPSHOT;
		else if (!strcmp(argv[1], "replay"))
			cfg->cmd = CMD_REPLAY;
		else {
			snprintf(err, errlen, "unknown command '%s' (trace, snapshot, replay)",
				 argv[1]);
			return CLI_USAGE;
		}
		first = 2;
	}

	optind = 0; /* full getopt reset, so tests and fuzzers can parse repeatedly */
	opterr = 0;
	argv += first - 1;
	argc -= first - 1;
	while ((opt = getopt_long(argc, argv, ":o:ne46d:w:qvhValpc:", long_options, NULL)) != -1) {
		int r;

		if (opt == '?') {
			/* optopt is a long option's value (>= 256) for "--summary=1": no %c. */
			if (optopt > 0 && optopt < 256)
				snprintf(err, errlen, "unknown option '-%c'", optopt);
			else
				snprintf(err, errlen, "unknown option '%s'", argv[optind - 1]);
			return CLI_USAGE;
		}
		if (opt == ':') {
			snprintf(err, errlen, "option '%s' needs a value", argv[optind - 1]);
			return CLI_USAGE;
		}
		r = apply_option(cfg, opt, optarg, svc, out, err, errlen);
		if (r < 0)
			return CLI_USAGE;
		if (r > 0)
			return CLI_HELP;
		if (opt >= 0 && opt < OPT_LAST)
			seen[opt] = 1;
	}
	for (int i = optind; i < argc; i++) {
		if (cfg->nfiles >= TT_MAX_FILES) {
			snprintf(err, errlen, "at most %d files", TT_MAX_FILES);
			return CLI_USAGE;
		}
		cfg->files[cfg->nfiles++] = argv[i];
	}
	if (check_combination(cfg, seen, err, errlen))
		return CLI_USAGE;
	return CLI_OK;
}
