// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The command line: one table (cli_options[]) says every option's name, letter, value, the
 * commands it applies to, its --help text and the function that takes it. getopt's table, the
 * check that an option applies to the command and --help are all made from it.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include "causes.h"
#include "cli.h"
#include "metrics.h"
#include "parse.h"
#include "prom.h"
#include "states.h"

static const char *const cmd_names[] = {"trace", "snapshot", "replay"};

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

/* The handlers: 0 ok, -1 usage error (x->err says why), 1 help or version printed. */
#define FLAG_HANDLER(field)                                        \
	static int set_##field(struct cli_ctx *x, const char *arg) \
	{                                                          \
		x->cfg->field = 1;                                 \
		return 0;                                          \
	}
FLAG_HANDLER(numeric)
FLAG_HANDLER(extended)
FLAG_HANDLER(quiet)
FLAG_HANDLER(verbose)
FLAG_HANDLER(all)
FLAG_HANDLER(listening)
FLAG_HANDLER(programs)
FLAG_HANDLER(all_netns)
FLAG_HANDLER(resolve)
FLAG_HANDLER(summary)

static int set_output(struct cli_ctx *x, const char *arg)
{
	if (!strcmp(arg, "json"))
		x->cfg->json = 1;
	else if (!strcmp(arg, "text"))
		x->cfg->json = 0;
	else
		return bad(x->err, x->errlen, "-o takes text or json", arg);
	return 0;
}

static int set_family(struct cli_ctx *x, unsigned int family)
{
	struct tt_filter *f = &x->cfg->filter;

	if (f->family && f->family != family) {
		snprintf(x->err, x->errlen, "-4 and -6 exclude each other");
		return -1;
	}
	f->family = family;
	return 0;
}

static int set_ipv4(struct cli_ctx *x, const char *arg)
{
	return set_family(x, 4);
}

static int set_ipv6(struct cli_ctx *x, const char *arg)
{
	return set_family(x, 6);
}

static int set_duration(struct cli_ctx *x, const char *arg)
{
	if (parse_duration_ns(arg, &x->cfg->duration_ns) || !x->cfg->duration_ns)
		return bad(x->err, x->errlen, "-d wants a duration in seconds (or 500ms, 2m)", arg);
	return 0;
}

/* A file name: not empty. */
static int set_path(struct cli_ctx *x, const char **path, const char *what, const char *arg)
{
	if (!*arg)
		return bad(x->err, x->errlen, what, arg);
	*path = arg;
	return 0;
}

static int set_write(struct cli_ctx *x, const char *arg)
{
	return set_path(x, &x->cfg->write_path, "-w wants a file name", arg);
}

static int set_html(struct cli_ctx *x, const char *arg)
{
	return set_path(x, &x->cfg->html_path, "--html wants a file name", arg);
}

static int set_metrics_file(struct cli_ctx *x, const char *arg)
{
	return set_path(x, &x->cfg->metrics_file, "--metrics-file wants a file name", arg);
}

static int show_help(struct cli_ctx *x, const char *arg)
{
	cli_usage(x->out);
	return 1;
}

static int show_version(struct cli_ctx *x, const char *arg)
{
	fprintf(x->out, "tcptrail %s\n", TCPTRAIL_VERSION);
	return 1;
}

static int set_continuous(struct cli_ctx *x, const char *arg)
{
	if (parse_duration_ns(arg, &x->cfg->continuous_ns) || !x->cfg->continuous_ns)
		return bad(x->err, x->errlen, "-c wants an interval in seconds", arg);
	return 0;
}

/* The list filters: their parser's reason quotes the item it refused. */
#define LIST_HANDLER(opt, what, call)                                  \
	static int set_##opt(struct cli_ctx *x, const char *arg)       \
	{                                                              \
		struct tt_filter *f = &x->cfg->filter;                 \
		char sub[200];                                         \
                                                                       \
		(void)f;                                               \
		if (call)                                              \
			return bad_list(x->err, x->errlen, what, sub); \
		return 0;                                              \
	}
LIST_HANDLER(pid, "--pid", filter_add_pids(f, arg, sub, sizeof(sub)))
LIST_HANDLER(comm, "--comm", filter_add_comms(f, arg, sub, sizeof(sub)))
LIST_HANDLER(port, "--port (numbers 1-65535 or service names)",
	     filter_add_ports(f->ports, &f->nports, arg, x->svc, sub, sizeof(sub)))
LIST_HANDLER(lport, "--lport (numbers 1-65535 or service names)",
	     filter_add_ports(f->lports, &f->nlports, arg, x->svc, sub, sizeof(sub)))
LIST_HANDLER(rport, "--rport (numbers 1-65535 or service names)",
	     filter_add_ports(f->rports, &f->nrports, arg, x->svc, sub, sizeof(sub)))
LIST_HANDLER(state, "--state", filter_add_states(&f->state_mask, arg, sub, sizeof(sub)))
LIST_HANDLER(netns, "--netns (inode numbers, see ls -L -i /proc/PID/ns/net)",
	     filter_add_netns(f, arg, sub, sizeof(sub)))
LIST_HANDLER(cgroup, "--cgroup", filter_add_cgroups(f, arg, sub, sizeof(sub)))
LIST_HANDLER(container, "--container", filter_add_containers(f, arg, sub, sizeof(sub)))
LIST_HANDLER(cause, "--cause", cause_add_list(&f->cause_mask, arg, sub, sizeof(sub)))

static int set_stuck(struct cli_ctx *x, const char *arg)
{
	return parse_stuck(x->cfg, arg, x->err, x->errlen);
}

static int set_rotate(struct cli_ctx *x, const char *arg)
{
	if (parse_size(arg, &x->cfg->rotate_bytes) || x->cfg->rotate_bytes < 4096)
		return bad(x->err, x->errlen, "--rotate wants a size of at least 4k, e.g. 100M",
			   arg);
	return 0;
}

static int set_keep(struct cli_ctx *x, const char *arg)
{
	uint64_t v;

	if (parse_u64(arg, 1, 100000, &v))
		return bad(x->err, x->errlen, "--keep wants a count 1-100000", arg);
	x->cfg->keep = (uint32_t)v;
	return 0;
}

static int set_since(struct cli_ctx *x, const char *arg)
{
	x->cfg->has_since = 1;
	return parse_time_opt("--since", arg, &x->cfg->since_ns, x->err, x->errlen);
}

static int set_until(struct cli_ctx *x, const char *arg)
{
	x->cfg->has_until = 1;
	return parse_time_opt("--until", arg, &x->cfg->until_ns, x->err, x->errlen);
}

static int set_ringbuf(struct cli_ctx *x, const char *arg)
{
	uint64_t v;

	if (parse_u64(arg, 1, 1024, &v) || (v & (v - 1)))
		return bad(x->err, x->errlen, "--ringbuf-mb wants a power of two 1-1024", arg);
	x->cfg->ringbuf_mb = (uint32_t)v;
	return 0;
}

static int set_metrics(struct cli_ctx *x, const char *arg)
{
	struct sockaddr_storage sa;
	socklen_t salen;
	int any;

	if (prom_parse_listen(arg, &sa, &salen, &any, x->err, x->errlen))
		return -1;
	x->cfg->metrics_addr = arg;
	return 0;
}

static int set_metrics_interval(struct cli_ctx *x, const char *arg)
{
	if (parse_duration_ns(arg, &x->cfg->metrics_interval_ns) ||
	    x->cfg->metrics_interval_ns < 100000000ULL)
		return bad(x->err, x->errlen,
			   "--metrics-interval wants a duration of at least 100ms (e.g. 15s)", arg);
	return 0;
}

static int set_metrics_by(struct cli_ctx *x, const char *arg)
{
	int by = mt_by_parse(arg);

	if (by < 0)
		return bad(x->err, x->errlen, "--metrics-by takes comm, container or unit", arg);
	x->cfg->metrics_by = by;
	return 0;
}

#define T   (1u << CMD_TRACE)
#define S   (1u << CMD_SNAPSHOT)
#define R   (1u << CMD_REPLAY)
#define ALL (T | S | R)
#define OPT(n, s, a, c, h, ...)                                                                    \
	{                                                                                          \
		.name = n, .short_name = s, .arg = a, .cmds = c, .help = h, .handler = __VA_ARGS__ \
	}
#define SECTION(title)        \
	{                     \
		.help = title \
	}

/*
 * Every option, in --help's order. A help text's lines after the first, and a row's help, start
 * at column 25 (or two spaces after a longer option). Rows without a handler are --help lines
 * only; rows without a name start a section of --help.
 */
const struct cli_option cli_options[] = {
	SECTION("Output:"),
	OPT("output", 'o', "FORMAT", ALL, "text (default) or json (one object per line)",
	    set_output),
	OPT("numeric", 'n', NULL, ALL, "port numbers, no service names", set_numeric),
	OPT("extended", 'e', NULL, ALL,
	    "more columns (trace: why a connection ended and its\n"
	    "tx/rx bytes, socket cookie, netns, cgroup;\n"
	    "snapshot: uid, inode, cookie, timer, retransmits, rtt,\n"
	    "lastrcv, lastsnd, cgroup)",
	    set_extended),
	OPT("quiet", 'q', NULL, T, "trace: no live output (with -w or --stuck)", set_quiet),
	OPT("verbose", 'v', NULL, ALL, "libbpf and verifier messages on stderr", set_verbose),
	SECTION("Filters (LIST is comma-separated; options may repeat):"),
	OPT("ipv4", '4', NULL, ALL, "IPv4 (with v4-mapped IPv6) or IPv6 only", set_ipv4),
	OPT("ipv6", '6', NULL, ALL, NULL, set_ipv6, .layout = CLI_HELP_SAME_LEFT),
	OPT("pid", 0, "LIST", ALL, "owner process ids (snapshot, stuck alerts: any holder)",
	    set_pid),
	OPT("comm", 0, "LIST", ALL, "owner process names (snapshot, stuck alerts: any holder)",
	    set_comm),
	OPT("port", 0, "LIST", ALL, "local or remote port (numbers or service names)", set_port),
	OPT("lport", 0, "LIST", ALL, "local port", set_lport),
	OPT("rport", 0, "LIST", ALL, "remote port", set_rport),
	OPT("state", 0, "LIST", ALL, "old or new state, e.g. CLOSE_WAIT,TIME_WAIT", set_state),
	OPT("netns", 0, "LIST", ALL, "network namespace inodes", set_netns),
	OPT("cgroup", 0, "LIST", ALL,
	    "cgroup v2 paths (under the v2 mount, or relative to it),\n"
	    "each with the cgroups below it",
	    set_cgroup),
	OPT("container", 0, "LIST", ALL, "container ids or their prefixes", set_container),
	OPT("cause", 0, "LIST", T | R,
	    "trace, replay: only connections that ended so: closed,\n"
	    "timewait, refused, timeout, reset_in, reset_out, abort,\n"
	    "listener_closed, unknown (their final transition)",
	    set_cause),
	SECTION("Trace:"),
	OPT("duration", 'd', "SECONDS", T, "stop after this long", set_duration),
	OPT("write", 'w', "FILE", T, "record every event to FILE as JSON Lines (gzip if *.gz)",
	    set_write),
	OPT("rotate", 0, "SIZE", T, "start FILE.1, FILE.2 ... when FILE reaches SIZE (e.g. 100M)",
	    set_rotate),
	OPT("keep", 0, "N", T, "rotated files to keep (default 10)", set_keep),
	OPT("stuck", 0, "STATE=DURATION", T | S,
	    "alert when a socket stays in STATE this long\n"
	    "(e.g. CLOSE_WAIT=30s; units ms s m h; repeatable), naming\n"
	    "every process holding it then, as snapshot -p does",
	    set_stuck),
	OPT("ringbuf-mb", 0, "N", T, "event buffers in MiB, all CPUs together (default 16)",
	    set_ringbuf),
	OPT("metrics", 0, "ADDR:PORT", T,
	    "serve Prometheus metrics at http://ADDR:PORT/metrics\n"
	    "(:PORT for every address)",
	    set_metrics),
	OPT("metrics-file", 0, "FILE", T, "write them to FILE (node_exporter textfile collector)",
	    set_metrics_file),
	OPT("metrics-interval", 0, "SECONDS", T,
	    "how often --metrics-file is written (default 15s)", set_metrics_interval),
	/* (its help has always stood two columns further right) */
	OPT("metrics-by", 0, "LABEL", T,
	    "  comm, container or unit: a label on the socket,\n"
	    "transition and stuck metrics",
	    set_metrics_by),
	SECTION("Snapshot:"),
	OPT("all", 'a', NULL, S, "listening and non-listening sockets", set_all),
	OPT("listening", 'l', NULL, S, "listening sockets only", set_listening),
	OPT("programs", 'p', NULL, S, "PID/Program name of every process holding the socket",
	    set_programs),
	OPT("stuck", 0, "STATE=DURATION", S, "only sockets idle in STATE at least that long", NULL),
	OPT("all-netns", 0, NULL, S, "every network namespace in /proc/*/ns/net", set_all_netns),
	OPT("resolve", 0, NULL, S, "host names (may block on DNS)", set_resolve),
	OPT("continuous", 'c', "SECONDS", S, "repeat every SECONDS", set_continuous),
	SECTION("Replay:"),
	OPT("summary", 0, NULL, R, "counts, durations and top talkers instead of events",
	    set_summary),
	OPT("html", 0, "FILE", R,
	    "a page for a browser instead: a timeline per connection,\n"
	    "sockets per state, resets, CLOSE_WAIT holders (no network)",
	    set_html),
	OPT("since", 0, "TIME", R, "events at or after TIME (RFC 3339 or epoch seconds)",
	    set_since),
	OPT("until", 0, "TIME", R, "events before TIME", set_until),
	SECTION(""),
	OPT("help", 'h', NULL, ALL, "this text;", show_help),
	OPT("version", 'V', NULL, ALL, "the version", show_version, .layout = CLI_HELP_SAME_LINE),
};

#define NOPTS (sizeof(cli_options) / sizeof(cli_options[0]))
const size_t cli_noptions = NOPTS;

#define HELP_COLUMN 25

/* "  -o, --output FORMAT" (indent 2) or "-o, --output FORMAT" (indent 0). */
static void put_left(FILE *out, const struct cli_option *o, int indent, int *len)
{
	int n;

	if (o->short_name)
		n = fprintf(out, "%*s-%c, --%s", indent, "", o->short_name, o->name);
	else
		n = fprintf(out, "%*s    --%s", indent, "", o->name);
	if (o->arg)
		n += fprintf(out, " %s", o->arg);
	*len += n;
}

/* Its first line after the options, the others at HELP_COLUMN. */
static void put_help(FILE *out, const char *help)
{
	const char *nl;

	while ((nl = strchr(help, '\n'))) {
		fprintf(out, "%.*s\n%*s", (int)(nl - help), help, HELP_COLUMN, "");
		help = nl + 1;
	}
	fputs(help, out);
}

void cli_usage(FILE *out)
{
	fputs("Usage: tcptrail [trace] [OPTIONS]       trace TCP state transitions live (default)\n"
	      "       tcptrail snapshot [OPTIONS]      list the TCP sockets open now, like netstat "
	      "-at\n"
	      "       tcptrail replay [OPTIONS] FILE...  print or summarise a recorded log\n",
	      out);
	for (size_t i = 0; i < NOPTS; i++) {
		const struct cli_option *o = &cli_options[i];
		int len = 0;

		if (!o->name) {
			fprintf(out, "\n%s%s", o->help, *o->help ? "\n" : "");
			continue;
		}
		put_left(out, o, 2, &len);
		/* The next rows share this one's help, on its line. */
		for (; i + 1 < NOPTS && cli_options[i + 1].layout == CLI_HELP_SAME_LEFT; i++) {
			len += fprintf(out, " / ");
			put_left(out, &cli_options[i + 1], 0, &len);
		}
		fprintf(out, "%*s", len < HELP_COLUMN ? HELP_COLUMN - len : 2, "");
		put_help(out, o->help);
		for (; i + 1 < NOPTS && cli_options[i + 1].layout == CLI_HELP_SAME_LINE; i++) {
			len = 0;
			fputs("  ", out);
			put_left(out, &cli_options[i + 1], 0, &len);
			fputs("  ", out);
			put_help(out, cli_options[i + 1].help);
		}
		fputc('\n', out);
	}
	fputs("\nExit status: 0 ok, 1 runtime error, 2 usage error. See tcptrail(8).\n", out);
}

/* The row of a long option, for the checks between options. */
static int seen_opt(const unsigned char seen[], const char *name)
{
	for (size_t i = 0; i < NOPTS; i++)
		if (cli_options[i].handler && cli_options[i].name &&
		    !strcmp(cli_options[i].name, name))
			return seen[i];
	return 0;
}

/* Options that make no sense for a subcommand are errors, not silently ignored. */
static int check_commands(const struct config *cfg, const unsigned char seen[], char *err,
			  size_t errlen)
{
	for (size_t i = 0; i < NOPTS; i++) {
		const struct cli_option *o = &cli_options[i];

		if (!seen[i] || (o->cmds & (1u << cfg->cmd)))
			continue;
		if (o->short_name)
			snprintf(err, errlen, "-%c does not apply to '%s'", o->short_name,
				 cmd_names[cfg->cmd]);
		else
			snprintf(err, errlen, "--%s does not apply to '%s'", o->name,
				 cmd_names[cfg->cmd]);
		return -1;
	}
	return 0;
}

/* What --stuck and --cause mean while tracing. */
static int check_trace_stuck(const struct config *cfg, char *err, size_t errlen)
{
	for (int i = 0; cfg->cmd == CMD_TRACE && i < cfg->nstuck; i++) {
		/* A timewait socket ends without an event: an alert could name one long gone. */
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
	return 0;
}

/* Options that need another, or exclude one. */
static int check_combination(const struct config *cfg, const unsigned char seen[], char *err,
			     size_t errlen)
{
	if (check_commands(cfg, seen, err, errlen) || check_trace_stuck(cfg, err, errlen))
		return -1;
	if ((seen_opt(seen, "rotate") || seen_opt(seen, "keep")) && !cfg->write_path) {
		snprintf(err, errlen, "--rotate and --keep need -w FILE");
		return -1;
	}
	if (cfg->write_path && !strcmp(cfg->write_path, "-") && !cfg->quiet) {
		snprintf(err, errlen, "-w - writes the log to stdout: add -q");
		return -1;
	}
	if ((seen_opt(seen, "metrics-interval") || seen_opt(seen, "metrics-by")) &&
	    !cfg->metrics_addr && !cfg->metrics_file) {
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

/*
 * getopt_long's tables from cli_options[]: an option with a letter returns it, one without
 * returns 256 + its row.
 */
static void make_getopt(struct option *lo, char *shorts)
{
	*shorts++ = ':';
	for (size_t i = 0; i < NOPTS; i++) {
		const struct cli_option *o = &cli_options[i];

		if (!o->handler)
			continue;
		*lo++ = (struct option){o->name, o->arg ? required_argument : no_argument, NULL,
					o->short_name ? o->short_name : 256 + (int)i};
		if (o->short_name) {
			*shorts++ = o->short_name;
			if (o->arg)
				*shorts++ = ':';
		}
	}
	*lo = (struct option){NULL, 0, NULL, 0};
	*shorts = '\0';
}

static size_t option_row(int opt)
{
	if (opt >= 256)
		return (size_t)opt - 256;
	for (size_t i = 0; i < NOPTS; i++)
		if (cli_options[i].handler && cli_options[i].short_name == opt)
			return i;
	return NOPTS;
}

const char *cli_cmd_name(enum tt_cmd cmd)
{
	return cmd_names[cmd];
}

/* The command, if argv[1] names one: 0 none, 1 one, -1 an unknown one. */
static int parse_command(int argc, char **argv, struct config *cfg, char *err, size_t errlen)
{
	if (argc < 2 || argv[1][0] == '-')
		return 0;
	for (size_t i = 0; i < sizeof(cmd_names) / sizeof(cmd_names[0]); i++) {
		if (!strcmp(argv[1], cmd_names[i])) {
			cfg->cmd = (enum tt_cmd)i;
			return 1;
		}
	}
	snprintf(err, errlen, "unknown command '%s' (trace, snapshot, replay)", argv[1]);
	return -1;
}

enum cli_result cli_parse(int argc, char **argv, struct config *cfg, const struct services *svc,
			  FILE *out, char *err, size_t errlen)
{
	struct cli_ctx x = {cfg, svc, out, err, errlen};
	struct option lo[NOPTS + 1];
	char shorts[2 + 2 * NOPTS + 1];
	unsigned char seen[NOPTS] = {0};
	int cmd, opt;

	memset(cfg, 0, sizeof(*cfg));
	cfg->cmd = CMD_TRACE;
	cfg->keep = 10;
	cfg->ringbuf_mb = 16;
	cfg->metrics_interval_ns = 15000000000ULL;
	err[0] = '\0';

	cmd = parse_command(argc, argv, cfg, err, errlen);
	if (cmd < 0)
		return CLI_USAGE;
	make_getopt(lo, shorts);
	optind = 0; /* full getopt reset, so tests and fuzzers can parse repeatedly */
	opterr = 0;
	argv += cmd;
	argc -= cmd;
	while ((opt = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
		size_t row = option_row(opt);
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
		if (row >= NOPTS) {
			snprintf(err, errlen, "unknown option");
			return CLI_USAGE;
		}
		r = cli_options[row].handler(&x, optarg);
		if (r < 0)
			return CLI_USAGE;
		if (r > 0)
			return CLI_HELP;
		seen[row] = 1;
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
