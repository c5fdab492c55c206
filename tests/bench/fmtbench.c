// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Userspace formatting cost per event, without the kernel: formats a churn-like mix of events
 * (6 transitions per connection, 127.0.0.1, ephemeral ports) as text and as JSON into an outbuf
 * that is emptied every 64 KiB, the way src/trace.c does, and prints ns per event.
 *   fmtbench [EVENTS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include "format.h"
#include "outbuf.h"
#include "services.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void make_event(struct tt_event *e, unsigned i)
{
	static const unsigned char trans[6][2] = {{7, 2}, {2, 1}, {7, 3}, {3, 1}, {1, 7}, {1, 7}};
	unsigned k = i % 6;
	int client = k < 2 || k == 4;

	memset(e, 0, sizeof(*e));
	e->ts_ns = 1000000000ULL * 3600 + (uint64_t)i * 1700;
	e->sock_cookie = 100000 + i / 3;
	e->delta_ns = k == 0 || k == 2 ? 0 : 12345 + i % 1000;
	e->pid = 4242;
	e->netns = 4026532177u;
	e->saddr[0] = 127, e->saddr[3] = 1;
	e->daddr[0] = 127, e->daddr[3] = 1;
	e->sport = client ? (uint16_t)(32768 + (i / 6) % 28000) : 20000;
	e->dport = client ? 20000 : (uint16_t)(32768 + (i / 6) % 28000);
	e->family = AF_INET;
	e->oldstate = trans[k][0];
	e->newstate = trans[k][1];
	e->type = TT_EV_STATE;
	e->flags =
		TT_F_OWNER_KNOWN | (e->delta_ns ? TT_F_DELTA_KNOWN : 0) | (k >= 4 ? TT_F_RESET : 0);
	memcpy(e->comm, "churn", 6);
}

static double run(const struct services *svc, int json, unsigned n, size_t *bytes)
{
	/* as the cache hands it out: every event of a service's sockets has the same */
	static const struct cg_desc cg = {.serial = 1,
					  .path = "/system.slice/churn.service",
					  .path_len = sizeof("/system.slice/churn.service") - 1,
					  .ident = {.unit = "churn.service"}};
	struct fmt_ctx c;
	struct outbuf ob;
	struct tt_event ev[600];
	uint64_t off = 1700000000ULL * 1000000000ULL;
	double t0, t1;

	for (unsigned i = 0; i < 600; i++)
		make_event(&ev[i], i);
	fmt_ctx_init(&c, 0);
	ob_init(&ob);
	*bytes = 0;
	t0 = now_s();
	for (unsigned i = 0; i < n; i++) {
		struct tt_event *e = &ev[i % 600];
		const char *l = services_name(svc, e->sport), *r = services_name(svc, e->dport);

		e->ts_ns += 1700 * 600;
		if (json)
			fmt_event_json(&ob, &c, e, e->ts_ns + off, l, r, NULL, &cg);
		else
			fmt_event_text(&ob, &c, e, e->ts_ns + off, l, r, NULL, &cg);
		if (ob.len >= 64 * 1024) {
			*bytes += ob.len;
			ob_reset(&ob);
		}
	}
	t1 = now_s();
	*bytes += ob.len;
	ob_free(&ob);
	return (t1 - t0) / n * 1e9;
}

int main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)atoi(argv[1]) : 5000000;
	struct services *svc = services_load("/etc/services");
	size_t bytes;
	double ns;

	if (!svc)
		svc = services_new();
	for (int json = 0; json < 2; json++) {
		ns = run(svc, json, n, &bytes);
		printf("%s ns_per_event=%.1f bytes_per_event=%.1f\n", json ? "json" : "text", ns,
		       (double)bytes / n);
	}
	services_free(svc);
	return 0;
}
