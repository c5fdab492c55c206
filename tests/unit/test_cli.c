// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Unit tests of src/cli.[ch]: subcommands, options, combination errors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>
#include "tt_test.h"
#include "cli.h"
#include "metrics.h"

#define MAX_ARGS 300

static struct services *svc;
static struct config cfg;
static char err[256];
static char *help_text; /* what cli_parse wrote to out */
static size_t help_len;

static int setup(void **state)
{
	svc = services_of("http 80/tcp\nhttps 443/tcp\nssh 22/tcp\n", 3);
	return svc ? 0 : -1;
}

static int teardown(void **state)
{
	services_free(svc);
	free(help_text);
	return 0;
}

/*
 * cli_parse of "tcptrail" plus the NULL-terminated arguments (parse(NULL) for none). getopt
 * permutes argv, so it gets a private array; output goes to a memory stream kept in help_text.
 */
static enum cli_result parse(const char *first, ...)
{
	char *argv[MAX_ARGS + 2];
	int argc = 0;
	const char *a = first;
	va_list ap;
	FILE *out;
	enum cli_result r;

	argv[argc++] = "tcptrail";
	va_start(ap, first);
	for (; a && argc <= MAX_ARGS; a = va_arg(ap, const char *))
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	free(help_text);
	help_text = NULL;
	help_len = 0;
	out = open_memstream(&help_text, &help_len);
	assert_non_null(out);
	memset(err, 'X', sizeof(err));
	r = cli_parse(argc, argv, &cfg, svc, out, err, sizeof(err));
	fclose(out);
	assert_non_null(memchr(err, '\0', sizeof(err)));
	return r;
}

/* Expects CLI_USAGE with exactly this message. */
#define USAGE(msg, ...)                                                \
	do {                                                           \
		assert_int_equal(parse(__VA_ARGS__, NULL), CLI_USAGE); \
		assert_string_equal(err, msg);                         \
	} while (0)

#define OK(...)                                                \
	do {                                                   \
		enum cli_result r_ = parse(__VA_ARGS__, NULL); \
		if (r_ != CLI_OK)                              \
			fail_msg("result %d: %s", r_, err);    \
		assert_string_equal(err, "");                  \
	} while (0)

static void test_defaults(void **state)
{
	assert_int_equal(parse(NULL), CLI_OK);
	assert_string_equal(err, "");
	assert_int_equal(cfg.cmd, CMD_TRACE);
	assert_int_equal(cfg.json, 0);
	assert_int_equal(cfg.keep, 10);
	assert_int_equal(cfg.ringbuf_mb, 16);
	assert_int_equal(cfg.nfiles, 0);
	assert_int_equal(cfg.nstuck, 0);
	assert_int_equal(cfg.filter.family, 0);
	assert_null(cfg.write_path);
	assert_int_equal(help_len, 0);
}

static void test_subcommands(void **state)
{
	OK("trace");
	assert_int_equal(cfg.cmd, CMD_TRACE);
	OK("snapshot");
	assert_int_equal(cfg.cmd, CMD_SNAPSHOT);
	OK("replay", "log.jsonl");
	assert_int_equal(cfg.cmd, CMD_REPLAY);
	assert_int_equal(cfg.nfiles, 1);
	assert_string_equal(cfg.files[0], "log.jsonl");
	OK("-n");
	assert_int_equal(cfg.cmd, CMD_TRACE);
	USAGE("unknown command 'foo' (trace, snapshot, replay)", "foo");
	USAGE("unknown command 'Trace' (trace, snapshot, replay)", "Trace");
	USAGE("unknown command '' (trace, snapshot, replay)", "");
	/* Only the first argument names a command. */
	USAGE("unexpected argument 'snapshot'", "trace", "snapshot");
	USAGE("unexpected argument 'snapshot'", "-n", "snapshot");
}

static void test_help_version(void **state)
{
	assert_int_equal(parse("-h", NULL), CLI_HELP);
	assert_non_null(help_text);
	assert_true(help_len > 100);
	assert_memory_equal(help_text, "Usage: tcptrail", 15);
	assert_int_equal(parse("--help", NULL), CLI_HELP);
	assert_memory_equal(help_text, "Usage: tcptrail", 15);
	assert_int_equal(parse("snapshot", "-h", NULL), CLI_HELP);
	assert_int_equal(parse("replay", "--help", NULL), CLI_HELP); /* no FILE needed */
	assert_int_equal(parse("-V", NULL), CLI_HELP);
	assert_string_equal(help_text, "tcptrail " TCPTRAIL_VERSION "\n");
	assert_int_equal(parse("--version", NULL), CLI_HELP);
	assert_string_equal(help_text, "tcptrail " TCPTRAIL_VERSION "\n");
	/* An earlier bad option wins; a later one is never looked at. */
	USAGE("unknown option '-x'", "-x", "-h");
	assert_int_equal(parse("-h", "-x", NULL), CLI_HELP);
}

static void test_output_flags(void **state)
{
	OK("-o", "json");
	assert_int_equal(cfg.json, 1);
	OK("--output=json", "-o", "text");
	assert_int_equal(cfg.json, 0);
	OK("-ojson");
	assert_int_equal(cfg.json, 1);
	USAGE("-o takes text or json: 'xml'", "-o", "xml");
	USAGE("-o takes text or json: 'JSON'", "-o", "JSON");
	OK("-nev");
	assert_int_equal(cfg.numeric, 1);
	assert_int_equal(cfg.extended, 1);
	assert_int_equal(cfg.verbose, 1);
	OK("--numeric", "--extended", "--verbose");
	assert_int_equal(cfg.numeric + cfg.extended + cfg.verbose, 3);
}

static void test_family(void **state)
{
	OK("-4");
	assert_int_equal(cfg.filter.family, 4);
	OK("--ipv6");
	assert_int_equal(cfg.filter.family, 6);
	OK("-4", "--ipv4");
	assert_int_equal(cfg.filter.family, 4);
	USAGE("-4 and -6 exclude each other", "-4", "-6");
	USAGE("-4 and -6 exclude each other", "-64");
	USAGE("-4 and -6 exclude each other", "snapshot", "--ipv6", "--ipv4");
}

static void test_duration_option(void **state)
{
	OK("-d", "5");
	assert_true(cfg.duration_ns == 5000000000ULL);
	OK("--duration=500ms");
	assert_true(cfg.duration_ns == 500000000ULL);
	OK("-d", "1.5m");
	assert_true(cfg.duration_ns == 90000000000ULL);
	USAGE("-d wants a duration in seconds (or 500ms, 2m): '0'", "-d", "0");
	USAGE("-d wants a duration in seconds (or 500ms, 2m): 'abc'", "-d", "abc");
	USAGE("-d wants a duration in seconds (or 500ms, 2m): ''", "-d", "");
}

static void test_write_quiet(void **state)
{
	OK("-w", "out.jsonl");
	assert_string_equal(cfg.write_path, "out.jsonl");
	OK("-w", "-", "-q");
	assert_string_equal(cfg.write_path, "-");
	assert_int_equal(cfg.quiet, 1);
	OK("-q", "--write=x.gz");
	USAGE("-w wants a file name: ''", "-w", "");
	USAGE("-w - writes the log to stdout: add -q", "-w", "-");
	USAGE("-q without -w, --stuck or --metrics would show nothing", "-q");
	OK("-q", "--stuck", "CLOSE_WAIT=30s");
	OK("--rotate", "100M", "-w", "f");
	assert_true(cfg.rotate_bytes == 100ULL << 20);
	OK("--rotate", "4k", "--keep", "3", "-w", "f");
	assert_true(cfg.rotate_bytes == 4096);
	assert_int_equal(cfg.keep, 3);
	USAGE("--rotate wants a size of at least 4k, e.g. 100M: '4095'", "--rotate", "4095", "-w",
	      "f");
	USAGE("--rotate wants a size of at least 4k, e.g. 100M: '1.5G'", "--rotate", "1.5G");
	USAGE("--rotate and --keep need -w FILE", "--rotate", "1M");
	USAGE("--rotate and --keep need -w FILE", "--keep", "5");
	USAGE("--keep wants a count 1-100000: '0'", "--keep", "0", "-w", "f");
	USAGE("--keep wants a count 1-100000: '100001'", "--keep", "100001", "-w", "f");
	OK("--keep", "100000", "-w", "f");
	assert_int_equal(cfg.keep, 100000);
}

static void test_ringbuf(void **state)
{
	OK("--ringbuf-mb", "1");
	assert_int_equal(cfg.ringbuf_mb, 1);
	OK("--ringbuf-mb=1024");
	assert_int_equal(cfg.ringbuf_mb, 1024);
	OK("--ringbuf-mb", "64");
	assert_int_equal(cfg.ringbuf_mb, 64);
	USAGE("--ringbuf-mb wants a power of two 1-1024: '3'", "--ringbuf-mb", "3");
	USAGE("--ringbuf-mb wants a power of two 1-1024: '0'", "--ringbuf-mb", "0");
	USAGE("--ringbuf-mb wants a power of two 1-1024: '2048'", "--ringbuf-mb", "2048");
	USAGE("--ringbuf-mb wants a power of two 1-1024: '-16'", "--ringbuf-mb", "-16");
}

static void test_stuck(void **state)
{
	OK("--stuck", "CLOSE_WAIT=30s");
	assert_int_equal(cfg.nstuck, 1);
	assert_int_equal(cfg.stuck[0].state, TT_CLOSE_WAIT);
	assert_true(cfg.stuck[0].ns == 30000000000ULL);
	OK("--stuck=close-wait=500ms", "--stuck", "syn-sent=1.5", "--stuck", "FIN_WAIT2=2m");
	assert_int_equal(cfg.nstuck, 3);
	assert_int_equal(cfg.stuck[0].state, TT_CLOSE_WAIT);
	assert_true(cfg.stuck[0].ns == 500000000ULL);
	assert_int_equal(cfg.stuck[1].state, TT_SYN_SENT);
	assert_true(cfg.stuck[1].ns == 1500000000ULL);
	assert_int_equal(cfg.stuck[2].state, TT_FIN_WAIT2);
	assert_true(cfg.stuck[2].ns == 120000000000ULL);
	/* The same state again replaces its duration. */
	OK("--stuck", "LAST_ACK=1s", "--stuck", "last-ack=1h");
	assert_int_equal(cfg.nstuck, 1);
	assert_true(cfg.stuck[0].ns == 3600000000000ULL);
	/* Every state a socket can stay in, once each (TIME_WAIT only in a snapshot). */
	OK("snapshot", "--stuck", "ESTABLISHED=1s", "--stuck", "SYN_SENT=1s", "--stuck",
	   "SYN_RECV=1s", "--stuck", "FIN_WAIT1=1s", "--stuck", "FIN_WAIT2=1s", "--stuck",
	   "TIME_WAIT=1s", "--stuck", "CLOSE_WAIT=1s", "--stuck", "LAST_ACK=1s", "--stuck",
	   "LISTEN=1s", "--stuck", "CLOSING=1s");
	assert_int_equal(cfg.nstuck, 10);
	OK("snapshot", "--stuck", "CLOSE_WAIT=1m");
	USAGE("--stuck TIME_WAIT works with snapshot, not while tracing (no event shows a "
	      "timewait socket ending)",
	      "--stuck", "TIME_WAIT=1s");

	USAGE("--stuck wants STATE=DURATION, e.g. CLOSE_WAIT=30s: 'CLOSE_WAIT'", "--stuck",
	      "CLOSE_WAIT");
	USAGE("--stuck: 'CLOSE' is not a state a socket can stay in", "--stuck", "CLOSE=1s");
	USAGE("--stuck: 'NEW_SYN_RECV' is not a state a socket can stay in", "--stuck",
	      "NEW_SYN_RECV=1s");
	USAGE("--stuck: 'FIN_WAIT2_TW' is not a state a socket can stay in", "--stuck",
	      "FIN_WAIT2_TW=1s");
	USAGE("--stuck: 'BOGUS' is not a state a socket can stay in", "--stuck", "BOGUS=1s");
	USAGE("--stuck: '' is not a state a socket can stay in", "--stuck", "=1s");
	USAGE("--stuck: bad duration 'abc' (e.g. 500ms, 30s, 5m, 1h)", "--stuck", "CLOSE_WAIT=abc");
	USAGE("--stuck: bad duration '0' (e.g. 500ms, 30s, 5m, 1h)", "--stuck", "CLOSE_WAIT=0");
	USAGE("--stuck: bad duration '' (e.g. 500ms, 30s, 5m, 1h)", "--stuck", "CLOSE_WAIT=");
	USAGE("--stuck: bad duration '1s=2s' (e.g. 500ms, 30s, 5m, 1h)", "--stuck",
	      "CLOSE_WAIT=1s=2s");
	USAGE("--stuck does not apply to 'replay'", "replay", "--stuck", "LISTEN=1s", "f");
}

static void test_filters(void **state)
{
	struct tt_filter *f = &cfg.filter;

	OK("--pid", "1,2", "--pid=3", "--comm", "curl,nginx", "--port", "http,8080", "--lport",
	   "ssh", "--rport", "443", "--state", "LISTEN,close-wait", "--netns", "4026531840");
	assert_int_equal(f->npids, 3);
	assert_int_equal(f->pids[2], 3);
	assert_int_equal(f->ncomms, 2);
	assert_string_equal(f->comms[1], "nginx");
	assert_int_equal(f->nports, 2);
	assert_int_equal(f->ports[0], 80);
	assert_int_equal(f->ports[1], 8080);
	assert_int_equal(f->nlports, 1);
	assert_int_equal(f->lports[0], 22);
	assert_int_equal(f->nrports, 1);
	assert_int_equal(f->rports[0], 443);
	assert_int_equal(f->state_mask, 1u << TT_LISTEN | 1u << TT_CLOSE_WAIT);
	assert_int_equal(f->nnetns, 1);
	assert_int_equal(f->netns[0], 4026531840u);
	OK("replay", "--pid", "1", "--comm", "x", "--port", "1", "-4", "f");
	OK("snapshot", "--pid", "1", "--comm", "x", "--state", "LISTEN", "--netns", "1");

	USAGE("--pid: '0' is not valid here", "--pid", "0");
	USAGE("--pid: empty item in list '1,,2'", "--pid", "1,,2");
	USAGE("--comm: command names are 1-15 bytes: 'abcdefghijklmnopq'", "--comm",
	      "abcdefghijklmnopq");
	USAGE("--port (numbers 1-65535 or service names): 'nosuch' is not valid here", "--port",
	      "nosuch");
	USAGE("--lport (numbers 1-65535 or service names): '0' is not valid here", "--lport", "0");
	USAGE("--rport (numbers 1-65535 or service names): empty list", "--rport", "");
	USAGE("--netns (inode numbers, see ls -L -i /proc/PID/ns/net): 'x' is not valid here",
	      "--netns", "x");
	assert_int_equal(parse("--state", "nope", NULL), CLI_USAGE);
	assert_memory_equal(err, "--state: 'nope' is not valid here (states: LISTEN", 48);
	USAGE("--port (numbers 1-65535 or service names): too many items: at most 16", "--port",
	      "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17");
}

/* Without a services table, names in port lists are errors. */
static void test_ports_without_services(void **state)
{
	char *argv[] = {"tcptrail", "--port", "http", NULL};
	char *argv2[] = {"tcptrail", "--port", "80", NULL};
	FILE *out = fopen("/dev/null", "w");

	assert_non_null(out);
	assert_int_equal(cli_parse(3, argv, &cfg, NULL, out, err, sizeof(err)), CLI_USAGE);
	assert_string_equal(err, "--port (numbers 1-65535 or service names): 'http' is not "
				 "valid here");
	assert_int_equal(cli_parse(3, argv2, &cfg, NULL, out, err, sizeof(err)), CLI_OK);
	assert_int_equal(cfg.filter.ports[0], 80);
	fclose(out);
}

/* --cgroup and --container: every command; paths are finished by filter_resolve_cgroups(). */
static void test_cgroup_options(void **state)
{
	struct tt_filter *f = &cfg.filter;
	char root[] = "/tmp/tt-cli-XXXXXX", p[128];

	OK("--cgroup", "/a,/b//c/", "--cgroup=/sys/fs/cgroup/unified/x", "--container", "ABC,0123",
	   "--container", "4c6b5a1f2e3d");
	assert_int_equal(f->ncgroups, 3);
	assert_string_equal(f->cgroups[0], "/a");
	assert_string_equal(f->cgroups[1], "/b/c");
	assert_string_equal(f->cgroups[2], "/sys/fs/cgroup/unified/x");
	assert_int_equal(f->ncontainers, 3);
	assert_string_equal(f->containers[0], "abc");
	assert_string_equal(f->containers[2], "4c6b5a1f2e3d");
	OK("snapshot", "--cgroup", "/", "--container", "a");
	OK("replay", "--cgroup", "system.slice", "--container", "a", "f");
	assert_string_equal(f->cgroups[0], "/system.slice");

	USAGE("--cgroup: '.' and '..' are not allowed in a cgroup path: '/a/..'", "--cgroup",
	      "/a/..");
	USAGE("--cgroup: empty list", "--cgroup", "");
	USAGE("--cgroup: empty item in list '/a,,/b'", "--cgroup", "/a,,/b");
	USAGE("--cgroup: too many paths: at most 16", "--cgroup", "1,2,3,4,5,6,7,8,9", "--cgroup",
	      "10,11,12,13,14,15,16,17");
	USAGE("--container: container ids are 1-64 hex digits: 'web1'", "--container", "web1");
	USAGE("--container: empty item in list 'a,,b'", "--container", "a,,b");
	USAGE("option '--container' needs a value", "--container");

	/* what main() does next: under a v2 mount (a scratch directory here) */
	assert_non_null(mkdtemp(root));
	snprintf(p, sizeof(p), "%s/tt-test-A", root);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/tt-test-A/", root);
	OK("--cgroup", p, "--cgroup", "/");
	assert_int_equal(filter_resolve_cgroups(f, root, 0, 1, err, sizeof(err)), 0);
	assert_string_equal(f->cgroups[0], "/tt-test-A");
	assert_int_equal(f->cgroup_levels[0], 1);
	assert_true(f->cgroup_ids[0] > 0);
	assert_string_equal(f->cgroups[1], "/");
	OK("--cgroup", "/tt-test-B");
	assert_int_equal(filter_resolve_cgroups(f, root, 0, 1, err, sizeof(err)), -1);
	snprintf(p, sizeof(p), "--cgroup: no cgroup '/tt-test-B' under the cgroup v2 mount %s",
		 root);
	assert_string_equal(err, p);
	snprintf(p, sizeof(p), "rm -rf '%s'", root);
	assert_int_equal(system(p), 0);
}

static void test_snapshot_options(void **state)
{
	OK("snapshot", "-a", "-p", "-e", "-n", "--all-netns", "--resolve", "-c", "2");
	assert_int_equal(cfg.all, 1);
	assert_int_equal(cfg.programs, 1);
	assert_int_equal(cfg.all_netns, 1);
	assert_int_equal(cfg.resolve, 1);
	assert_true(cfg.continuous_ns == 2000000000ULL);
	OK("snapshot", "-lp", "-o", "json");
	assert_int_equal(cfg.listening, 1);
	assert_int_equal(cfg.json, 1);
	USAGE("-a and -l exclude each other", "snapshot", "-a", "-l");
	USAGE("-a and -l exclude each other", "snapshot", "-la");
	USAGE("-c wants an interval in seconds: '0'", "snapshot", "-c", "0");
	USAGE("-c wants an interval in seconds: 'x'", "snapshot", "--continuous=x");
}

/* Every option that belongs to some commands only, used with each of the others. */
/* --cause: names of enum tt_cause, for trace (in the kernel) and replay, never snapshot. */
static void test_cause_option(void **state)
{
	struct tt_filter *f = &cfg.filter;

	OK(NULL);
	assert_int_equal(f->cause_mask, 0);
	OK("--cause", "refused,timeout", "--cause=RESET-IN");
	assert_int_equal(f->cause_mask,
			 1u << TT_CAUSE_REFUSED | 1u << TT_CAUSE_TIMEOUT | 1u << TT_CAUSE_RESET_IN);
	OK("replay", "--cause",
	   "closed,timewait,refused,timeout,reset_in,reset_out,abort,"
	   "listener_closed,unknown",
	   "--summary", "f");
	assert_int_equal(f->cause_mask, ((1u << TT_CAUSE_MAX) - 1) & ~1u);
	OK("trace", "--cause", "reset_out", "-w", "f", "-q");
	assert_int_equal(f->cause_mask, 1u << TT_CAUSE_RESET_OUT);

	USAGE("--cause: 'bogus' is not a cause (closed, timewait, refused, timeout, reset_in, "
	      "reset_out, abort, listener_closed, unknown)",
	      "--cause", "refused,bogus");
	USAGE("--cause: 'reset' is not a cause (closed, timewait, refused, timeout, reset_in, "
	      "reset_out, abort, listener_closed, unknown)",
	      "replay", "--cause", "reset", "f");
	USAGE("--cause: 'none' is not a cause (closed, timewait, refused, timeout, reset_in, "
	      "reset_out, abort, listener_closed, unknown)",
	      "--cause", "none");
	USAGE("--cause: empty list (causes: closed, timewait, refused, timeout, reset_in, "
	      "reset_out, abort, listener_closed, unknown)",
	      "--cause", "");
	USAGE("--cause: empty item in list 'closed,,abort'", "--cause", "closed,,abort");
	USAGE("--cause: 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' is not a cause (closed, timewait, "
	      "refused, timeout, reset_in, reset_out, abort, listener_closed, unknown)",
	      "--cause", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	USAGE("option '--cause' needs a value", "--cause");
	USAGE("--cause does not apply to 'snapshot'", "snapshot", "--cause", "refused");
	/* In the kernel it passes final transitions only: the stuck watch would see none. */
	USAGE("--cause and --stuck do not go together while tracing (--cause shows only "
	      "connections that ended; a stuck one has not)",
	      "--cause", "timeout", "--stuck", "SYN_SENT=5s");
	USAGE("--cause and --stuck do not go together while tracing (--cause shows only "
	      "connections that ended; a stuck one has not)",
	      "--stuck", "CLOSE_WAIT=1s", "-q", "--cause", "closed");
}

static void test_option_scope(void **state)
{
	USAGE("-d does not apply to 'snapshot'", "snapshot", "-d", "5");
	USAGE("-d does not apply to 'replay'", "replay", "-d", "5", "f");
	USAGE("-w does not apply to 'snapshot'", "snapshot", "-w", "f");
	USAGE("-w does not apply to 'replay'", "replay", "-w", "f", "f");
	USAGE("-q does not apply to 'snapshot'", "snapshot", "-q");
	USAGE("-q does not apply to 'replay'", "replay", "-q", "f");
	USAGE("--rotate does not apply to 'snapshot'", "snapshot", "--rotate", "1M");
	USAGE("--rotate does not apply to 'replay'", "replay", "--rotate", "1M", "f");
	USAGE("--keep does not apply to 'snapshot'", "snapshot", "--keep", "2");
	USAGE("--keep does not apply to 'replay'", "replay", "--keep", "2", "f");
	USAGE("--ringbuf-mb does not apply to 'snapshot'", "snapshot", "--ringbuf-mb", "4");
	USAGE("--ringbuf-mb does not apply to 'replay'", "replay", "--ringbuf-mb", "4", "f");
	USAGE("--stuck does not apply to 'replay'", "replay", "--stuck", "LISTEN=1s", "f");
	USAGE("-a does not apply to 'trace'", "-a");
	USAGE("-a does not apply to 'replay'", "replay", "-a", "f");
	USAGE("-l does not apply to 'trace'", "trace", "-l");
	USAGE("-l does not apply to 'replay'", "replay", "-l", "f");
	USAGE("-p does not apply to 'trace'", "-p");
	USAGE("-p does not apply to 'replay'", "replay", "-p", "f");
	USAGE("-c does not apply to 'trace'", "-c", "1");
	USAGE("-c does not apply to 'replay'", "replay", "-c", "1", "f");
	USAGE("--all-netns does not apply to 'trace'", "--all-netns");
	USAGE("--all-netns does not apply to 'replay'", "replay", "--all-netns", "f");
	USAGE("--resolve does not apply to 'trace'", "--resolve");
	USAGE("--resolve does not apply to 'replay'", "replay", "--resolve", "f");
	USAGE("--summary does not apply to 'trace'", "--summary");
	USAGE("--summary does not apply to 'snapshot'", "snapshot", "--summary");
	USAGE("--since does not apply to 'trace'", "--since", "0");
	USAGE("--since does not apply to 'snapshot'", "snapshot", "--since", "0");
	USAGE("--until does not apply to 'trace'", "--until", "1");
	USAGE("--until does not apply to 'snapshot'", "snapshot", "--until", "1");
	/* Options for every command. */
	OK("replay", "-o", "json", "-n", "-e", "-v", "-4", "--state", "LISTEN", "--netns", "1",
	   "--lport", "1", "--rport", "2", "f");
	OK("snapshot", "-o", "json", "-n", "-e", "-v", "-6", "--port", "1");
}

static void test_replay(void **state)
{
	OK("replay", "-");
	assert_int_equal(cfg.nfiles, 1);
	assert_string_equal(cfg.files[0], "-");
	OK("replay", "a", "--summary", "b", "-o", "json", "c");
	assert_int_equal(cfg.nfiles, 3);
	assert_string_equal(cfg.files[0], "a");
	assert_string_equal(cfg.files[1], "b");
	assert_string_equal(cfg.files[2], "c");
	assert_int_equal(cfg.summary, 1);
	assert_int_equal(cfg.json, 1);
	OK("replay", "--", "-n");
	assert_int_equal(cfg.nfiles, 1);
	assert_string_equal(cfg.files[0], "-n");
	assert_int_equal(cfg.numeric, 0);
	OK("replay", "--since", "2023-11-14T22:13:20Z", "--until", "1700000001", "f");
	assert_true(cfg.since_ns == 1700000000ULL * 1000000000ULL);
	assert_true(cfg.until_ns == 1700000001ULL * 1000000000ULL);
	USAGE("replay wants at least one FILE (- for stdin)", "replay");
	USAGE("replay wants at least one FILE (- for stdin)", "replay", "--summary");
	USAGE("--until must be after --since", "replay", "--since", "1700000000", "--until",
	      "1700000000", "f");
	USAGE("--until must be after --since", "replay", "--since", "1700000001", "--until",
	      "2023-11-14T22:13:20Z", "f");
	USAGE("--since wants RFC 3339 time or epoch seconds: 'yesterday'", "replay", "--since",
	      "yesterday", "f");
	USAGE("--until wants RFC 3339 time or epoch seconds: '2023-11-14'", "replay", "--until",
	      "2023-11-14", "f");
	USAGE("unexpected argument 'f'", "-n", "f");
	USAGE("unexpected argument '-'", "snapshot", "-");
}

/* --since 0 and --until 0 are the epoch, not "no bound". */
static void test_replay_epoch_bounds(void **state)
{
	OK("replay", "f");
	assert_false(cfg.has_since || cfg.has_until);
	OK("replay", "--since", "0", "f");
	assert_true(cfg.has_since && cfg.since_ns == 0 && !cfg.has_until);
	OK("replay", "--until", "0", "f");
	assert_true(cfg.has_until && cfg.until_ns == 0 && !cfg.has_since);
	OK("replay", "--since", "1970-01-01T00:00:00Z", "--until", "1", "f");
	assert_true(cfg.has_since && cfg.since_ns == 0);
	assert_true(cfg.has_until && cfg.until_ns == 1000000000ULL);
	/* the epoch is a bound like any other: nothing lies after it and before it */
	USAGE("--until must be after --since", "replay", "--since", "0", "--until", "0", "f");
	USAGE("--until must be after --since", "replay", "--since", "5", "--until", "0", "f");
}

/* An impossible date is a usage error that names the field, never read as another date. */
static void test_replay_impossible_dates(void **state)
{
	USAGE("--since '2026-02-31T00:00:00Z': no such day: February 2026 has 28 days", "replay",
	      "--since", "2026-02-31T00:00:00Z", "f");
	USAGE("--until '2024-02-30 12:00:00+01:00': no such day: February 2024 has 29 days",
	      "replay", "--until", "2024-02-30 12:00:00+01:00", "f");
	USAGE("--since '2026-13-01T00:00:00Z': no such month: 13", "replay", "--since",
	      "2026-13-01T00:00:00Z", "f");
	USAGE("--since '2026-04-31T00:00:00Z': no such day: April 2026 has 30 days", "replay",
	      "--since", "2026-04-31T00:00:00Z", "f");
	USAGE("--until '2026-01-01T25:00:00Z': no such hour: 25", "replay", "--until",
	      "2026-01-01T25:00:00Z", "f");
	USAGE("--until '2026-01-01T23:60:00Z': no such minute: 60", "replay", "--until",
	      "2026-01-01T23:60:00Z", "f");
	USAGE("--until '2026-01-01T23:00:61Z': no such second: 61", "replay", "--until",
	      "2026-01-01T23:00:61Z", "f");
	USAGE("--since '2026-01-01T00:00:00+25:00': no such UTC offset: 25:00", "replay", "--since",
	      "2026-01-01T00:00:00+25:00", "f");
	USAGE("--since '1969-12-31T23:59:59Z': before the epoch, 1970-01-01T00:00:00Z", "replay",
	      "--since", "1969-12-31T23:59:59Z", "f");
	USAGE("--since '2600-01-01T00:00:00Z': after 2554-07-21T23:34:33Z, the end of 64-bit "
	      "nanoseconds",
	      "replay", "--since", "2600-01-01T00:00:00Z", "f");
}

static void test_too_many_files(void **state)
{
	char *argv[TT_MAX_FILES + 4];
	int argc = 0;
	FILE *out = fopen("/dev/null", "w");

	assert_non_null(out);
	argv[argc++] = "tcptrail";
	argv[argc++] = "replay";
	for (int i = 0; i < TT_MAX_FILES; i++)
		argv[argc++] = "f";
	argv[argc] = NULL;
	assert_int_equal(cli_parse(argc, argv, &cfg, svc, out, err, sizeof(err)), CLI_OK);
	assert_int_equal(cfg.nfiles, TT_MAX_FILES);
	argv[argc++] = "g";
	argv[argc] = NULL;
	assert_int_equal(cli_parse(argc, argv, &cfg, svc, out, err, sizeof(err)), CLI_USAGE);
	assert_string_equal(err, "at most 256 files");
	fclose(out);
}

static void test_unknown_and_missing(void **state)
{
	USAGE("unknown option '-x'", "-x");
	USAGE("unknown option '-x'", "-nx");
	USAGE("unknown option '-x'", "-xn");
	USAGE("unknown option '--bogus'", "--bogus");
	USAGE("unknown option '--bogus=1'", "--bogus=1");
	USAGE("unknown option '--s'", "--s"); /* ambiguous: since, stuck, summary */
	USAGE("unknown option '-x'", "snapshot", "-x");
	/* A value given to an option that takes none. */
	USAGE("unknown option '--summary=1'", "replay", "--summary=1", "f");
	assert_int_equal(parse("--numeric=yes", NULL), CLI_USAGE);
	assert_true(err[0] != '\0');
	USAGE("option '-o' needs a value", "-o");
	USAGE("option '-no' needs a value", "-no");
	USAGE("option '--pid' needs a value", "--pid");
	USAGE("option '--stuck' needs a value", "trace", "--stuck");
	USAGE("option '-w' needs a value", "-n", "-w");
	/* Abbreviations of long options are getopt's business and unambiguous ones work. */
	OK("--num");
	assert_int_equal(cfg.numeric, 1);
}

/* Each call starts from scratch: nothing leaks from an earlier parse. */
static void test_reparse(void **state)
{
	OK("-n", "-4", "--pid", "1", "--stuck", "LISTEN=1s");
	USAGE("unknown option '-y'", "-ny");
	OK("-e");
	assert_int_equal(cfg.numeric, 0);
	assert_int_equal(cfg.filter.family, 0);
	assert_int_equal(cfg.filter.npids, 0);
	assert_int_equal(cfg.nstuck, 0);
	assert_int_equal(cfg.extended, 1);
	/* Stop mid-cluster with help, then a normal parse. */
	assert_int_equal(parse("-hn", NULL), CLI_HELP);
	OK("-v");
	assert_int_equal(cfg.verbose, 1);
	assert_int_equal(cfg.numeric, 0);
}

static void test_metrics_options(void **state)
{
	OK("--metrics", "127.0.0.1:9717");
	assert_string_equal(cfg.metrics_addr, "127.0.0.1:9717");
	assert_int_equal(cfg.metrics_interval_ns, 15000000000ULL);
	assert_int_equal(cfg.metrics_by, MT_BY_NONE);
	/* The agent: -q with metrics alone shows something. */
	OK("-q", "--metrics", ":9717", "--metrics-by", "container");
	assert_int_equal(cfg.metrics_by, MT_BY_CONTAINER);
	OK("trace", "--metrics-file", "/tmp/x.prom", "--metrics-interval", "500ms", "--metrics-by",
	   "comm");
	assert_string_equal(cfg.metrics_file, "/tmp/x.prom");
	assert_int_equal(cfg.metrics_interval_ns, 500000000ULL);
	assert_int_equal(cfg.metrics_by, MT_BY_COMM);
	USAGE("--metrics-interval and --metrics-by need --metrics or --metrics-file",
	      "--metrics-by", "unit");
	USAGE("--metrics-interval and --metrics-by need --metrics or --metrics-file",
	      "--metrics-interval", "5s");
	USAGE("--metrics-by takes comm, container or unit: 'pod'", "--metrics", ":1",
	      "--metrics-by", "pod");
	USAGE("--metrics-interval wants a duration of at least 100ms (e.g. 15s): '50ms'",
	      "--metrics-file", "f", "--metrics-interval", "50ms");
	USAGE("--metrics does not apply to 'snapshot'", "snapshot", "--metrics", ":1");
	USAGE("--metrics-file does not apply to 'replay'", "replay", "--metrics-file", "f", "x");
	USAGE("--metrics-file wants a file name: ''", "--metrics-file", "");
	assert_int_equal(parse("--metrics", "9717", NULL), CLI_USAGE);
	assert_non_null(strstr(err, "--metrics wants ADDR:PORT"));
}

/* A value each kind of option takes, by its name in cli_options[]. */
static const char *good_value(const struct cli_option *o)
{
	static const struct {
		const char *name, *value;
	} values[] = {
		{"output", "json"},
		{"duration", "2"},
		{"write", "f.jsonl"},
		{"continuous", "1"},
		{"pid", "1"},
		{"comm", "a"},
		{"port", "http"},
		{"lport", "80"},
		{"rport", "22"},
		{"state", "LISTEN"},
		{"netns", "1"},
		{"cgroup", "/"},
		{"container", "abc"},
		{"cause", "closed"},
		{"stuck", "CLOSE_WAIT=1s"},
		{"rotate", "1M"},
		{"keep", "3"},
		{"since", "0"},
		{"until", "1"},
		{"ringbuf-mb", "4"},
		{"metrics", ":9100"},
		{"html", "p.html"},
		{"metrics-file", "m.prom"},
		{"metrics-interval", "5s"},
		{"metrics-by", "comm"},
	};

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		if (!strcmp(values[i].name, o->name))
			return values[i].value;
	fail_msg("no value for --%s: add one here", o->name);
	return NULL;
}

/*
 * Every option of the table is reachable by its long name and its letter, in each command it
 * applies to, and refused by name in the others.
 */
static void test_table_reachable(void **state)
{
	int options = 0;

	for (size_t i = 0; i < cli_noptions; i++) {
		const struct cli_option *o = &cli_options[i];

		if (!o->name || !o->handler)
			continue;
		options++;
		for (int cmd = CMD_TRACE; cmd <= CMD_REPLAY; cmd++) {
			const char *value = o->arg ? good_value(o) : NULL;
			char name[40], letter[3] = {'-', o->short_name, '\0'};
			/* replay takes a file; -q and the metrics' settings need their partner */
			const char *tail = cmd == CMD_REPLAY ? "f" : NULL;
			enum cli_result r;

			snprintf(name, sizeof(name), "--%s", o->name);
			for (int form = 0; form < (o->short_name ? 2 : 1); form++) {
				const char *opt = form ? letter : name;

				if (value)
					r = parse(cli_cmd_name(cmd), opt, value, "-w", "x",
						  "--metrics", ":1", tail, NULL);
				else
					r = parse(cli_cmd_name(cmd), opt, "-w", "x", "--metrics",
						  ":1", tail, NULL);
				assert_null(strstr(err, "unknown option"));
				if (!(o->cmds & (1u << cmd))) {
					assert_int_equal(r, CLI_USAGE);
					assert_non_null(strstr(err, "does not apply"));
					continue;
				}
				/* -w and --metrics do not apply beyond trace: said, not this one */
				if (r == CLI_USAGE && strstr(err, "does not apply"))
					assert_null(strstr(err, opt));
				else if (strcmp(o->name, "help") && strcmp(o->name, "version"))
					assert_true(r == CLI_OK || !strstr(err, name));
			}
		}
	}
	assert_true(options >= 39);
}

/* --help is made from the table: every row, its value and help, sections, the columns. */
static void test_help_generated(void **state)
{
	char left[80], first[200];

	assert_int_equal(parse("--help", NULL), CLI_HELP);
	for (size_t i = 0; i < cli_noptions; i++) {
		const struct cli_option *o = &cli_options[i];
		const char *at;

		if (!o->name) {
			if (*o->help)
				assert_non_null(strstr(help_text, o->help));
			continue;
		}
		snprintf(left, sizeof(left), "--%s%s%s", o->name, o->arg ? " " : "",
			 o->arg ? o->arg : "");
		at = strstr(help_text, left);
		assert_non_null(at);
		if (o->short_name) {
			char s[5] = {'-', o->short_name, ',', ' ', '\0'};

			assert_memory_equal(at - 4, s, 4);
		}
		if (!o->help)
			continue;
		snprintf(first, sizeof(first), "%.*s", (int)strcspn(o->help, "\n"), o->help);
		assert_non_null(strstr(help_text, first));
	}
	/* every help line after an option's first is indented to the help column */
	for (const char *l = help_text; *l; l = strchr(l, '\n') + 1) {
		if (!strncmp(l, "                 ", 17))
			assert_memory_equal(l, "                         ", 25);
	}
	/* the tail: help and version on one line, then the exit status */
	assert_non_null(strstr(help_text, "  -h, --help             this text;  -V, --version  "
					  "the version\n\nExit status:"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_subcommands),
		cmocka_unit_test(test_help_version),
		cmocka_unit_test(test_output_flags),
		cmocka_unit_test(test_family),
		cmocka_unit_test(test_duration_option),
		cmocka_unit_test(test_write_quiet),
		cmocka_unit_test(test_ringbuf),
		cmocka_unit_test(test_stuck),
		cmocka_unit_test(test_filters),
		cmocka_unit_test(test_ports_without_services),
		cmocka_unit_test(test_cgroup_options),
		cmocka_unit_test(test_cause_option),
		cmocka_unit_test(test_snapshot_options),
		cmocka_unit_test(test_option_scope),
		cmocka_unit_test(test_replay),
		cmocka_unit_test(test_replay_epoch_bounds),
		cmocka_unit_test(test_replay_impossible_dates),
		cmocka_unit_test(test_too_many_files),
		cmocka_unit_test(test_unknown_and_missing),
		cmocka_unit_test(test_reparse),
		cmocka_unit_test(test_metrics_options),
		cmocka_unit_test(test_table_reachable),
		cmocka_unit_test(test_help_generated),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
