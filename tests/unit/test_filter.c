// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Unit tests of src/filter.[ch] and src/states.[ch]: list parsers, matching. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <cmocka.h>
#include "tt_test.h"
#include "filter.h"
#include "states.h"

static struct services *svc;

static int setup(void **state)
{
	svc = services_of("http 80/tcp www\nhttps 443/tcp\nssh 22/tcp\ndomain 53/udp\n", 3);
	return svc ? 0 : -1;
}

static int teardown(void **state)
{
	services_free(svc);
	return 0;
}

/* ---- states ---- */

static void test_state_names(void **state)
{
	static const char *const names[TT_STATE_MAX] = {
		NULL,	     "ESTABLISHED", "SYN_SENT",	    "SYN_RECV",	    "FIN_WAIT1",
		"FIN_WAIT2", "TIME_WAIT",   "CLOSE",	    "CLOSE_WAIT",   "LAST_ACK",
		"LISTEN",    "CLOSING",	    "NEW_SYN_RECV", "FIN_WAIT2_TW",
	};

	for (int s = 1; s < TT_STATE_MAX; s++) {
		assert_string_equal(tt_state_name(s), names[s]);
		assert_int_equal(tt_state_parse(names[s], strlen(names[s])), s);
	}
	assert_string_equal(tt_state_name(0), "UNKNOWN");
	assert_string_equal(tt_state_name(-1), "UNKNOWN");
	assert_string_equal(tt_state_name(TT_STATE_MAX), "UNKNOWN");
	assert_string_equal(tt_state_name(255), "UNKNOWN");
}

static void test_state_parse(void **state)
{
	assert_int_equal(tt_state_parse("close-wait", 10), TT_CLOSE_WAIT);
	assert_int_equal(tt_state_parse("Time-Wait", 9), TT_TIME_WAIT);
	assert_int_equal(tt_state_parse("syn-recv", 8), TT_SYN_RECV);
	assert_int_equal(tt_state_parse("listen", 6), TT_LISTEN);
	assert_int_equal(tt_state_parse("fin-wait2", 9), TT_FIN_WAIT2);
	/* Only len bytes count. */
	assert_int_equal(tt_state_parse("LISTENING", 6), TT_LISTEN);
	assert_int_equal(tt_state_parse("CLOSE_WAIT", 5), TT_CLOSE);
	assert_int_equal(tt_state_parse("", 0), -1);
	assert_int_equal(tt_state_parse("UNKNOWN", 7), -1);
	assert_int_equal(tt_state_parse("LISTEN ", 7), -1);
	assert_int_equal(tt_state_parse("ESTABLISHEDESTABLISHEDESTABLISHED", 33), -1);
	assert_int_equal(tt_state_parse("LIS\0EN", 6), -1);
}

/* ---- port lists ---- */

static void test_ports(void **state)
{
	uint16_t ports[TT_MAX_FILTER];
	uint32_t n = 0;
	char err[200];

	assert_int_equal(filter_add_ports(ports, &n, "80", NULL, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_int_equal(ports[0], 80);
	assert_int_equal(filter_add_ports(ports, &n, "1,65535,443", NULL, err, sizeof(err)), 0);
	assert_int_equal(n, 4);
	assert_int_equal(ports[1], 1);
	assert_int_equal(ports[2], 65535);
	assert_int_equal(ports[3], 443);
}

static void test_ports_bad(void **state)
{
	static const char *const bad[] = {
		"",    ",",	  "0",	 "65536", "-1",	 "80,",	   "abc",
		",80", "80,,443", "80 ", " 80",	  "1e3", "80;443", "99999999999999999999999",
	};
	uint16_t ports[TT_MAX_FILTER];
	char err[200];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint32_t n = 0;

		err[0] = '\0';
		if (filter_add_ports(ports, &n, bad[i], NULL, err, sizeof(err)) != -1)
			fail_msg("accepted '%s'", bad[i]);
		assert_true(err[0] != '\0');
	}
	{
		uint32_t n = 0;

		assert_int_equal(filter_add_ports(ports, &n, NULL, NULL, err, sizeof(err)), -1);
		assert_string_equal(err, "empty list");
		assert_int_equal(filter_add_ports(ports, &n, "80,,443", NULL, err, sizeof(err)),
				 -1);
		assert_string_equal(err, "empty item in list '80,,443'");
		n = 0;
		assert_int_equal(filter_add_ports(ports, &n, "80,x", NULL, err, sizeof(err)), -1);
		assert_string_equal(err, "'x' is not valid here");
	}
}

static void test_ports_service_names(void **state)
{
	uint16_t ports[TT_MAX_FILTER];
	uint32_t n = 0;
	char err[200];

	assert_int_equal(filter_add_ports(ports, &n, "http,ssh,8080,https", svc, err, sizeof(err)),
			 0);
	assert_int_equal(n, 4);
	assert_int_equal(ports[0], 80);
	assert_int_equal(ports[1], 22);
	assert_int_equal(ports[2], 8080);
	assert_int_equal(ports[3], 443);
	/* Aliases, udp-only names, unknown names and names without a table fail. */
	n = 0;
	assert_int_equal(filter_add_ports(ports, &n, "www", svc, err, sizeof(err)), -1);
	assert_int_equal(filter_add_ports(ports, &n, "domain", svc, err, sizeof(err)), -1);
	assert_int_equal(filter_add_ports(ports, &n, "nosuch", svc, err, sizeof(err)), -1);
	assert_string_equal(err, "'nosuch' is not valid here");
	assert_int_equal(filter_add_ports(ports, &n, "HTTP", svc, err, sizeof(err)), -1);
	assert_int_equal(filter_add_ports(ports, &n, "http", NULL, err, sizeof(err)), -1);
	/* An item of 64+ bytes cannot be a name. */
	assert_int_equal(
		filter_add_ports(ports, &n,
				 "http-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
				 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
				 svc, err, sizeof(err)),
		-1);
}

static void test_ports_limit(void **state)
{
	uint16_t ports[TT_MAX_FILTER + 1];
	uint32_t n = 0;
	char err[200], list[200];
	size_t len = 0;

	ports[TT_MAX_FILTER] = 0xbeef; /* canary */
	for (int i = 1; i <= TT_MAX_FILTER; i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%d", i > 1 ? "," : "",
					i);
	assert_int_equal(filter_add_ports(ports, &n, list, NULL, err, sizeof(err)), 0);
	assert_int_equal(n, TT_MAX_FILTER);
	for (int i = 0; i < TT_MAX_FILTER; i++)
		assert_int_equal(ports[i], i + 1);
	/* One more, in a later option. */
	assert_int_equal(filter_add_ports(ports, &n, "99", NULL, err, sizeof(err)), -1);
	assert_string_equal(err, "too many items: at most 16");
	assert_int_equal(n, TT_MAX_FILTER);
	assert_int_equal(ports[TT_MAX_FILTER], 0xbeef);
	/* 17 in one list. */
	n = 0;
	assert_int_equal(filter_add_ports(ports, &n, "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17",
					  NULL, err, sizeof(err)),
			 -1);
	assert_string_equal(err, "too many items: at most 16");
	assert_int_equal(ports[TT_MAX_FILTER], 0xbeef);
}

/* ---- pids, netns, comms, states ---- */

static void test_pids(void **state)
{
	struct tt_filter f = {0};
	char err[200];

	assert_int_equal(filter_add_pids(&f, "1,2147483647", err, sizeof(err)), 0);
	assert_int_equal(filter_add_pids(&f, "42", err, sizeof(err)), 0);
	assert_int_equal(f.npids, 3);
	assert_int_equal(f.pids[0], 1);
	assert_int_equal(f.pids[1], 2147483647);
	assert_int_equal(f.pids[2], 42);
	assert_int_equal(filter_add_pids(&f, "0", err, sizeof(err)), -1);
	assert_int_equal(filter_add_pids(&f, "2147483648", err, sizeof(err)), -1);
	assert_int_equal(filter_add_pids(&f, "12345678901234567890123", err, sizeof(err)), -1);
	assert_int_equal(filter_add_pids(&f, "x", err, sizeof(err)), -1);
	assert_int_equal(filter_add_pids(&f, "", err, sizeof(err)), -1);
	assert_int_equal(filter_add_pids(&f, "1,", err, sizeof(err)), -1);
	f.npids = 0;
	for (int i = 0; i < TT_MAX_FILTER; i++)
		assert_int_equal(filter_add_pids(&f, "7", err, sizeof(err)), 0);
	assert_int_equal(filter_add_pids(&f, "7", err, sizeof(err)), -1);
	assert_string_equal(err, "too many items: at most 16");
	assert_int_equal(f.npids, TT_MAX_FILTER);
}

static void test_netns(void **state)
{
	struct tt_filter f = {0};
	char err[200];

	assert_int_equal(filter_add_netns(&f, "4026531840,4294967295,1", err, sizeof(err)), 0);
	assert_int_equal(f.nnetns, 3);
	assert_int_equal(f.netns[0], 4026531840u);
	assert_int_equal(f.netns[1], 4294967295u);
	assert_int_equal(f.netns[2], 1);
	assert_int_equal(filter_add_netns(&f, "4294967296", err, sizeof(err)), -1);
	assert_int_equal(filter_add_netns(&f, "0", err, sizeof(err)), -1);
	assert_int_equal(filter_add_netns(&f, "net:[4026531840]", err, sizeof(err)), -1);
}

static void test_comms(void **state)
{
	struct tt_filter f = {0};
	char err[200];

	assert_int_equal(filter_add_comms(&f, "curl,nginx", err, sizeof(err)), 0);
	assert_int_equal(filter_add_comms(&f, "abcdefghijklmno", err, sizeof(err)), 0);
	assert_int_equal(f.ncomms, 3);
	assert_string_equal(f.comms[0], "curl");
	assert_string_equal(f.comms[1], "nginx");
	assert_memory_equal(f.comms[2], "abcdefghijklmno", 16); /* NUL-padded */
	assert_int_equal(filter_add_comms(&f, "abcdefghijklmnop", err, sizeof(err)), -1);
	assert_string_equal(err, "command names are 1-15 bytes: 'abcdefghijklmnop'");
	assert_int_equal(filter_add_comms(&f, "", err, sizeof(err)), -1);
	assert_int_equal(filter_add_comms(&f, "a,,b", err, sizeof(err)), -1);
	/* Anything but a comma is part of a name. */
	f.ncomms = 0;
	assert_int_equal(filter_add_comms(&f, "my prog,a:b", err, sizeof(err)), 0);
	assert_string_equal(f.comms[0], "my prog");
	assert_string_equal(f.comms[1], "a:b");

	f.ncomms = 0;
	for (int i = 0; i < TT_MAX_FILTER - 1; i++)
		assert_int_equal(filter_add_comms(&f, "x", err, sizeof(err)), 0);
	assert_int_equal(filter_add_comms(&f, "y,z", err, sizeof(err)), -1);
	assert_string_equal(err, "too many command names: at most 16");
	assert_int_equal(f.ncomms, TT_MAX_FILTER);
	assert_int_equal(filter_add_comms(&f, "y", err, sizeof(err)), -1);
	assert_string_equal(err, "too many command names: at most 16");
}

static void test_states(void **state)
{
	uint32_t mask = 0;
	char err[300];

	assert_int_equal(filter_add_states(&mask, "LISTEN", err, sizeof(err)), 0);
	assert_int_equal(mask, 1u << TT_LISTEN);
	assert_int_equal(
		filter_add_states(&mask, "close-wait,time_wait,Established", err, sizeof(err)), 0);
	assert_int_equal(mask, 1u << TT_LISTEN | 1u << TT_CLOSE_WAIT | 1u << TT_TIME_WAIT |
				       1u << TT_ESTABLISHED);
	/* FIN_WAIT2 includes the timewait substate that ss and netstat show as FIN_WAIT2. */
	mask = 0;
	assert_int_equal(filter_add_states(&mask, "fin-wait2", err, sizeof(err)), 0);
	assert_int_equal(mask, 1u << TT_FIN_WAIT2 | 1u << TT_FIN_WAIT2_TW);
	mask = 0;
	assert_int_equal(filter_add_states(&mask, "FIN_WAIT2_TW,syn-recv", err, sizeof(err)), 0);
	assert_int_equal(mask, 1u << TT_FIN_WAIT2_TW | 1u << TT_SYN_RECV);

	assert_int_equal(filter_add_states(&mask, "LISTEN,bogus", err, sizeof(err)), -1);
	assert_string_equal(err, "'bogus' is not valid here (states: LISTEN SYN_SENT SYN_RECV "
				 "ESTABLISHED FIN_WAIT1 FIN_WAIT2 TIME_WAIT CLOSE CLOSE_WAIT "
				 "LAST_ACK CLOSING)");
	assert_int_equal(filter_add_states(&mask, "", err, sizeof(err)), -1);
	/* A short error buffer is truncated, not overrun. */
	{
		char small[8];

		memset(small, 'X', sizeof(small));
		assert_int_equal(filter_add_states(&mask, "nope", small, sizeof(small)), -1);
		assert_int_equal(small[7], '\0');
	}
}

/* ---- matching ---- */

static void mk_event(struct tt_event *e, int family, const char *sa, uint16_t sport, const char *da,
		     uint16_t dport)
{
	memset(e, 0, sizeof(*e));
	e->family = (uint8_t)family;
	if (family == AF_INET) {
		assert_int_equal(inet_pton(AF_INET, sa, e->saddr), 1);
		assert_int_equal(inet_pton(AF_INET, da, e->daddr), 1);
	} else {
		assert_int_equal(inet_pton(AF_INET6, sa, e->saddr), 1);
		assert_int_equal(inet_pton(AF_INET6, da, e->daddr), 1);
	}
	e->sport = sport;
	e->dport = dport;
	e->oldstate = TT_ESTABLISHED;
	e->newstate = TT_FIN_WAIT1;
	e->type = TT_EV_STATE;
	e->flags = TT_F_OWNER_KNOWN;
	e->pid = 100;
	e->netns = 4026531840u;
	strcpy(e->comm, "curl");
}

static void test_match_empty(void **state)
{
	struct tt_filter f = {0};
	struct tt_event e;

	mk_event(&e, AF_INET, "1.2.3.4", 1000, "5.6.7.8", 80);
	assert_true(filter_match(&f, &e));
	e.flags = 0;
	assert_true(filter_match(&f, &e));
	mk_event(&e, AF_INET6, "::1", 1000, "::1", 80);
	assert_true(filter_match(&f, &e));
}

static void test_match_family(void **state)
{
	struct tt_filter f = {0};
	struct tt_event v4, v6, mapped, half;

	mk_event(&v4, AF_INET, "1.2.3.4", 1000, "5.6.7.8", 80);
	mk_event(&v6, AF_INET6, "2001:db8::1", 1000, "2001:db8::2", 80);
	mk_event(&mapped, AF_INET6, "::ffff:1.2.3.4", 1000, "::ffff:5.6.7.8", 80);
	/* A listening v6 socket has :: as the remote address: not IPv4 traffic. */
	mk_event(&half, AF_INET6, "::ffff:1.2.3.4", 1000, "::", 0);
	f.family = 4;
	assert_true(filter_match(&f, &v4));
	assert_false(filter_match(&f, &v6));
	assert_true(filter_match(&f, &mapped));
	assert_false(filter_match(&f, &half));
	f.family = 6;
	assert_false(filter_match(&f, &v4));
	assert_true(filter_match(&f, &v6));
	assert_false(filter_match(&f, &mapped));
	assert_true(filter_match(&f, &half));
}

static void test_match_ports(void **state)
{
	struct tt_filter f = {0};
	struct tt_event e;
	char err[100];

	mk_event(&e, AF_INET, "1.2.3.4", 1000, "5.6.7.8", 80);
	/* --port: either side, list OR-ed. */
	assert_int_equal(filter_add_ports(f.ports, &f.nports, "443,80", NULL, err, sizeof(err)), 0);
	assert_true(filter_match(&f, &e));
	f.ports[1] = 1000;
	assert_true(filter_match(&f, &e));
	f.ports[1] = 999;
	assert_false(filter_match(&f, &e));
	/* --lport only looks at the local port. */
	memset(&f, 0, sizeof(f));
	assert_int_equal(filter_add_ports(f.lports, &f.nlports, "80", NULL, err, sizeof(err)), 0);
	assert_false(filter_match(&f, &e));
	f.lports[0] = 1000;
	assert_true(filter_match(&f, &e));
	/* --rport only at the remote one; AND-ed with --lport. */
	assert_int_equal(filter_add_ports(f.rports, &f.nrports, "1000", NULL, err, sizeof(err)), 0);
	assert_false(filter_match(&f, &e));
	f.rports[0] = 80;
	assert_true(filter_match(&f, &e));
}

static void test_match_states(void **state)
{
	struct tt_filter f = {0};
	struct tt_event e;

	mk_event(&e, AF_INET, "1.2.3.4", 1000, "5.6.7.8", 80);
	f.state_mask = 1u << TT_ESTABLISHED; /* old state */
	assert_true(filter_match(&f, &e));
	f.state_mask = 1u << TT_FIN_WAIT1; /* new state */
	assert_true(filter_match(&f, &e));
	f.state_mask = 1u << TT_LISTEN | 1u << TT_CLOSE;
	assert_false(filter_match(&f, &e));
	f.state_mask |= 1u << TT_FIN_WAIT1;
	assert_true(filter_match(&f, &e));
	/* States outside the 32-bit mask never match and must not shift out of range. */
	e.oldstate = 200;
	e.newstate = 32;
	assert_false(filter_match(&f, &e));
	f.state_mask = 0;
	assert_true(filter_match(&f, &e));
}

static void test_match_owner(void **state)
{
	struct tt_filter f = {0};
	struct tt_event e;
	char err[100];

	mk_event(&e, AF_INET, "1.2.3.4", 1000, "5.6.7.8", 80);
	assert_int_equal(filter_add_pids(&f, "5,100", err, sizeof(err)), 0);
	assert_true(filter_match(&f, &e));
	e.pid = 101;
	assert_false(filter_match(&f, &e));
	/* Unknown owner: pid 100 left over in the record must not match. */
	e.pid = 100;
	e.flags = 0;
	assert_false(filter_match(&f, &e));

	memset(&f, 0, sizeof(f));
	e.flags = TT_F_OWNER_KNOWN;
	assert_int_equal(filter_add_comms(&f, "nginx,curl", err, sizeof(err)), 0);
	assert_true(filter_match(&f, &e));
	strcpy(e.comm, "curl2");
	assert_false(filter_match(&f, &e));
	strcpy(e.comm, "cur");
	assert_false(filter_match(&f, &e));
	strcpy(e.comm, "curl");
	e.flags = 0;
	assert_false(filter_match(&f, &e));
	/* A 15-byte name matches a 15-byte comm. */
	memset(&f, 0, sizeof(f));
	e.flags = TT_F_OWNER_KNOWN;
	memcpy(e.comm, "abcdefghijklmno", 16);
	assert_int_equal(filter_add_comms(&f, "abcdefghijklmno", err, sizeof(err)), 0);
	assert_true(filter_match(&f, &e));
}

/*
 * The kernel's match is this very function (include/filter_match.h, event_wanted()): --pid and
 * --comm left out for an event still waiting for its acceptor, the rest applied.
 */
static void test_kernel_match_pre_accept(void **state)
{
	struct tt_filter f = {0};
	struct tt_event e;
	char err[100];

	mk_event(&e, AF_INET, "1.2.3.4", 1000, "5.6.7.8", 80);
	assert_int_equal(filter_add_pids(&f, "7", err, sizeof(err)), 0);
	e.pid = 100;
	e.flags |= TT_F_PRE_ACCEPT;
	assert_false(tt_kfilter_match(&f.k, &e, 1));
	assert_true(tt_kfilter_match(&f.k, &e, 0));
	assert_int_equal(filter_add_comms(&f, "nginx", err, sizeof(err)), 0);
	assert_true(tt_kfilter_match(&f.k, &e, 0));
	f.nports = 1;
	f.ports[0] = 443;
	assert_false(tt_kfilter_match(&f.k, &e, 0)); /* the rest still applies */
	/* k and the members are the same bytes: the loader copies k to the kernel. */
	assert_ptr_equal((void *)&f.k.nports, (void *)&f.nports);
	assert_int_equal(sizeof(f.k), sizeof(struct tt_kfilter));
}

static void test_match_netns_and_combined(void **state)
{
	struct tt_filter f = {0};
	struct tt_event e;
	char err[100];

	mk_event(&e, AF_INET, "1.2.3.4", 1000, "5.6.7.8", 80);
	assert_int_equal(filter_add_netns(&f, "1,4026531840", err, sizeof(err)), 0);
	assert_true(filter_match(&f, &e));
	e.netns = 2;
	assert_false(filter_match(&f, &e));
	e.netns = 1;
	/* Every filter must hold. */
	f.family = 4;
	f.state_mask = 1u << TT_ESTABLISHED;
	assert_int_equal(filter_add_ports(f.ports, &f.nports, "80", NULL, err, sizeof(err)), 0);
	assert_int_equal(filter_add_pids(&f, "100", err, sizeof(err)), 0);
	assert_int_equal(filter_add_comms(&f, "curl", err, sizeof(err)), 0);
	assert_true(filter_match(&f, &e));
	e.dport = 81;
	assert_false(filter_match(&f, &e));
	e.dport = 80;
	e.pid = 1;
	assert_false(filter_match(&f, &e));
	e.pid = 100;
	e.family = AF_INET6;
	assert_false(filter_match(&f, &e));
	e.family = AF_INET;
	e.oldstate = TT_LISTEN;
	assert_false(filter_match(&f, &e));
	e.oldstate = TT_ESTABLISHED;
	assert_true(filter_match(&f, &e));
}

static void test_match_endpoints(void **state)
{
	struct tt_filter f = {0};
	uint8_t a[16] = {0}, b[16] = {0};

	assert_true(filter_match_endpoints(&f, AF_INET, a, b, 1, 2, 3));
	f.nlports = 1;
	f.lports[0] = 1;
	f.nrports = 1;
	f.rports[0] = 2;
	f.nnetns = 1;
	f.netns[0] = 3;
	assert_true(filter_match_endpoints(&f, AF_INET, a, b, 1, 2, 3));
	assert_false(filter_match_endpoints(&f, AF_INET, a, b, 2, 1, 3));
	assert_false(filter_match_endpoints(&f, AF_INET, a, b, 1, 2, 4));
	f.family = 6;
	assert_false(filter_match_endpoints(&f, AF_INET, a, b, 1, 2, 3));
	assert_true(filter_match_endpoints(&f, AF_INET6, a, b, 1, 2, 3));
}

/* ---- cgroups and containers ---- */

#define CID "4c6b5a1f2e3d4c5b6a7980e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5"

static void test_add_cgroups(void **state)
{
	static struct tt_filter f; /* 17 KiB: not on the stack */
	char err[200], big[TT_CGROUP_ARG_MAX + 1];

	memset(&f, 0, sizeof(f));
	assert_int_equal(filter_add_cgroups(&f, "/a//b/,x/y", err, sizeof(err)), 0);
	assert_int_equal(filter_add_cgroups(&f, "/sys/fs/cgroup/unified/z", err, sizeof(err)), 0);
	assert_int_equal(f.ncgroups, 3);
	assert_string_equal(f.cgroups[0], "/a/b");
	assert_string_equal(f.cgroups[1], "/x/y");
	/* the mount point comes off later, when it is known */
	assert_string_equal(f.cgroups[2], "/sys/fs/cgroup/unified/z");
	assert_int_equal(
		filter_resolve_cgroups(&f, "/sys/fs/cgroup/unified", 0, 0, err, sizeof(err)), 0);
	assert_string_equal(f.cgroups[2], "/z");
	assert_string_equal(f.cgroups[0], "/a/b");

	assert_int_equal(filter_add_cgroups(&f, "/a/../b", err, sizeof(err)), -1);
	assert_string_equal(err, "'.' and '..' are not allowed in a cgroup path: '/a/../b'");
	assert_int_equal(filter_add_cgroups(&f, "/a,,/b", err, sizeof(err)), -1);
	assert_string_equal(err, "empty item in list '/a,,/b'");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(filter_add_cgroups(&f, big, err, sizeof(err)), -1);
	assert_string_equal(err, "a path is at most 1023 bytes");
	f.ncgroups = TT_MAX_FILTER;
	assert_int_equal(filter_add_cgroups(&f, "/c", err, sizeof(err)), -1);
	assert_string_equal(err, "too many paths: at most 16");
}

static void test_add_containers(void **state)
{
	static struct tt_filter f;
	char err[200];

	memset(&f, 0, sizeof(f));
	assert_int_equal(filter_add_containers(&f, "4C6B5A,0f", err, sizeof(err)), 0);
	assert_int_equal(filter_add_containers(&f, CID, err, sizeof(err)), 0);
	assert_int_equal(f.ncontainers, 3);
	assert_string_equal(f.containers[0], "4c6b5a");
	assert_string_equal(f.containers[1], "0f");
	assert_string_equal(f.containers[2], CID);
	assert_int_equal(filter_add_containers(&f, CID "0", err, sizeof(err)), -1);
	assert_string_equal(err, "container ids are 1-64 hex digits: '" CID "0'");
	assert_int_equal(filter_add_containers(&f, "web", err, sizeof(err)), -1);
	assert_string_equal(err, "container ids are 1-64 hex digits: 'web'");
	assert_int_equal(filter_add_containers(&f, "", err, sizeof(err)), -1);
	assert_string_equal(err, "empty list");
	f.ncontainers = TT_MAX_FILTER;
	assert_int_equal(filter_add_containers(&f, "ab", err, sizeof(err)), -1);
	assert_string_equal(err, "too many items: at most 16");
}

static struct cg_desc desc(const char *path, const char *container)
{
	struct cg_desc d;

	memset(&d, 0, sizeof(d));
	d.path = path;
	d.path_len = path ? strlen(path) : 0;
	if (container)
		strcpy(d.ident.container_id, container);
	return d;
}

static void test_match_cgroup(void **state)
{
	static struct tt_filter f;
	struct cg_desc a = desc("/tt-test-A", NULL), a2 = desc("/tt-test-A/sub", NULL);
	struct cg_desc ab = desc("/tt-test-AB", NULL), none = desc(NULL, NULL);
	struct cg_desc c = desc("/tt-test-B/docker-" CID ".scope", CID);
	char err[200];

	memset(&f, 0, sizeof(f));
	/* no cgroup filters: everything, known or not */
	assert_true(filter_match_cgroup(&f, NULL));
	assert_true(filter_match_cgroup(&f, &none));
	assert_true(filter_match_cgroup(&f, &c));

	assert_int_equal(filter_add_cgroups(&f, "/tt-test-A", err, sizeof(err)), 0);
	assert_true(filter_match_cgroup(&f, &a));
	assert_true(filter_match_cgroup(&f, &a2)); /* descendants */
	assert_false(filter_match_cgroup(&f, &ab));
	assert_false(filter_match_cgroup(&f, &c));
	assert_false(filter_match_cgroup(&f, NULL)); /* unknown: no match */
	assert_false(filter_match_cgroup(&f, &none));
	assert_int_equal(filter_add_cgroups(&f, "/tt-test-B", err, sizeof(err)), 0);
	assert_true(filter_match_cgroup(&f, &c)); /* OR-ed */

	/* --container: a prefix of the id; AND-ed with --cgroup */
	assert_int_equal(filter_add_containers(&f, "4c6b", err, sizeof(err)), 0);
	assert_true(filter_match_cgroup(&f, &c));
	assert_false(filter_match_cgroup(&f, &a));
	/* the container part alone: the path does not count */
	assert_true(filter_match_container(&f, &c));
	assert_false(filter_match_container(&f, &a));
	assert_false(filter_match_container(&f, NULL));
	f.ncgroups = 0;
	assert_true(filter_match_cgroup(&f, &c));
	assert_false(filter_match_cgroup(&f, &none));
	assert_false(filter_match_cgroup(&f, NULL));
	f.ncontainers = 0;
	assert_int_equal(filter_add_containers(&f, "4c6c," CID, err, sizeof(err)), 0);
	assert_true(filter_match_cgroup(&f, &c));
	f.ncontainers = 0;
	assert_int_equal(filter_add_containers(&f, "4c6c", err, sizeof(err)), 0);
	assert_false(filter_match_cgroup(&f, &c));
	/* the root matches every known cgroup */
	memset(&f, 0, sizeof(f));
	assert_int_equal(filter_add_cgroups(&f, "/", err, sizeof(err)), 0);
	assert_true(filter_match_cgroup(&f, &a));
	assert_true(filter_match_cgroup(&f, &c));
	assert_false(filter_match_cgroup(&f, &none));
}

static void test_resolve_cgroups(void **state)
{
	static struct tt_filter f;
	char root[] = "/tmp/tt-filter-XXXXXX", p[160], err[300];
	struct stat st;

	assert_non_null(mkdtemp(root));
	snprintf(p, sizeof(p), "%s/a", root);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/a/b", root);
	assert_int_equal(mkdir(p, 0755), 0);
	assert_int_equal(stat(p, &st), 0);

	memset(&f, 0, sizeof(f));
	snprintf(p, sizeof(p), "%s/a/b/", root);
	assert_int_equal(filter_add_cgroups(&f, p, err, sizeof(err)), 0);
	assert_int_equal(filter_add_cgroups(&f, "/,a", err, sizeof(err)), 0);
	assert_int_equal(filter_resolve_cgroups(&f, root, 0, 1, err, sizeof(err)), 0);
	assert_string_equal(f.cgroups[0], "/a/b");
	assert_int_equal(f.cgroup_ids[0], st.st_ino);
	assert_int_equal(f.cgroup_levels[0], 2);
	assert_string_equal(f.cgroups[1], "/");
	assert_int_equal(f.cgroup_levels[1], 0);
	assert_int_equal(f.cgroup_levels[2], 1);
	/* a mount of a subtree: levels count from the real root */
	assert_int_equal(filter_resolve_cgroups(&f, root, 3, 1, err, sizeof(err)), 0);
	assert_int_equal(f.cgroup_levels[0], 5);

	memset(&f, 0, sizeof(f));
	assert_int_equal(filter_add_cgroups(&f, "/a/missing", err, sizeof(err)), 0);
	assert_int_equal(filter_resolve_cgroups(&f, root, 0, 1, err, sizeof(err)), -1);
	snprintf(p, sizeof(p), "--cgroup: no cgroup '/a/missing' under the cgroup v2 mount %s",
		 root);
	assert_string_equal(err, p);
	/* replay: the log's paths are matched, nothing to find here */
	assert_int_equal(filter_resolve_cgroups(&f, root, 0, 0, err, sizeof(err)), 0);
	assert_int_equal(filter_resolve_cgroups(&f, NULL, 0, 0, err, sizeof(err)), 0);
	assert_int_equal(filter_resolve_cgroups(&f, NULL, 0, 1, err, sizeof(err)), -1);
	assert_string_equal(err, "--cgroup needs cgroup v2, and no cgroup2 file system is mounted "
				 "(see /proc/self/mountinfo)");

	snprintf(p, sizeof(p), "rm -rf '%s'", root);
	assert_int_equal(system(p), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_names),
		cmocka_unit_test(test_state_parse),
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_ports_bad),
		cmocka_unit_test(test_ports_service_names),
		cmocka_unit_test(test_ports_limit),
		cmocka_unit_test(test_pids),
		cmocka_unit_test(test_netns),
		cmocka_unit_test(test_comms),
		cmocka_unit_test(test_states),
		cmocka_unit_test(test_match_empty),
		cmocka_unit_test(test_match_family),
		cmocka_unit_test(test_match_ports),
		cmocka_unit_test(test_match_states),
		cmocka_unit_test(test_match_owner),
		cmocka_unit_test(test_kernel_match_pre_accept),
		cmocka_unit_test(test_match_netns_and_combined),
		cmocka_unit_test(test_match_endpoints),
		cmocka_unit_test(test_add_cgroups),
		cmocka_unit_test(test_add_containers),
		cmocka_unit_test(test_match_cgroup),
		cmocka_unit_test(test_resolve_cgroups),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
