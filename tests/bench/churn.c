// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Connection churn generator for tcptrail's benchmarks: each worker process owns a listener on
 * 127.0.0.1 (with --any on the wildcard address, as most servers listen) and loops
 * connect/accept/close to 127.0.0.1 as fast as it can. With the default reset close
 * (SO_LINGER {1,0} on the client) a connection is 6 state transitions and leaves no TIME_WAIT,
 * so the loop measures the cost of the transitions and not the port space.
 *
 *   churn [-s SECONDS] [-w WORKERS] [-p BASEPORT] [--graceful] [--any] [--progress]
 *
 * Prints "connections=N seconds=S rate=R workers=W" on stdout at the end; with --progress also
 * "progress T N" (elapsed seconds, connections so far) every 100 ms, for the RSS sampler.
 * Run it in a private network namespace (unshare -n, lo up): it makes a lot of traffic.
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#define MAX_WORKERS 64

/* One cache line per worker so the counters do not bounce between cores. */
struct slot {
	volatile unsigned long long conns;
	volatile int ready;
	volatile int failed;
	char pad[48];
};

struct shared {
	volatile int go;
	volatile int stop;
	char pad[56];
	struct slot w[MAX_WORKERS];
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "churn: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int make_listener(unsigned short port, int any)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		die("socket");
	a.sin_addr.s_addr = htonl(any ? INADDR_ANY : INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 1024))
		die(any ? "bind/listen on 0.0.0.0" : "bind/listen on 127.0.0.1");
	return fd;
}

/* One connection; 0 ok, -1 on a transient failure (e.g. no free port in graceful mode). */
static int one_conn(int lfd, const struct sockaddr_in *a, int graceful)
{
	static const struct linger rst = {.l_onoff = 1, .l_linger = 0};
	int c = socket(AF_INET, SOCK_STREAM, 0), s;

	if (c < 0)
		die("socket");
	if (connect(c, (const struct sockaddr *)a, sizeof(*a))) {
		if (errno != EADDRNOTAVAIL && errno != EAGAIN && errno != ECONNREFUSED)
			die("connect");
		close(c);
		return -1;
	}
	s = accept(lfd, NULL, NULL);
	if (s < 0)
		die("accept");
	if (!graceful)
		setsockopt(c, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst));
	/* The client closes first: its reset (or FIN) ends the server side. */
	close(c);
	close(s);
	return 0;
}

static void worker(struct shared *sh, int idx, unsigned short port, int graceful, int any)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	int lfd = make_listener(port, any);
	unsigned long long n = 0;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sh->w[idx].ready = 1;
	while (!sh->go)
		usleep(1000);
	while (!sh->stop) {
		if (one_conn(lfd, &a, graceful) == 0)
			sh->w[idx].conns = ++n;
	}
	close(lfd);
	_exit(0);
}

static unsigned long long total(struct shared *sh, int n)
{
	unsigned long long t = 0;

	for (int i = 0; i < n; i++)
		t += sh->w[i].conns;
	return t;
}

static void usage(void)
{
	fprintf(stderr, "usage: churn [-s SECONDS] [-w WORKERS] [-p BASEPORT] [--graceful] "
			"[--any] [--progress]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"seconds", required_argument, NULL, 's'},
		{"workers", required_argument, NULL, 'w'},
		{"port", required_argument, NULL, 'p'},
		{"graceful", no_argument, NULL, 'g'},
		{"progress", no_argument, NULL, 'P'},
		{"any", no_argument, NULL, 'a'},
		{NULL, 0, NULL, 0},
	};
	double seconds = 10, t0, t1, next;
	int workers = 1, base = 20000, graceful = 0, any = 0, progress = 0, opt, status, bad = 0;
	struct shared *sh;
	pid_t pids[MAX_WORKERS];

	while ((opt = getopt_long(argc, argv, "s:w:p:gaP", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			seconds = atof(optarg);
			break;
		case 'w':
			workers = atoi(optarg);
			break;
		case 'p':
			base = atoi(optarg);
			break;
		case 'g':
			graceful = 1;
			break;
		case 'P':
			progress = 1;
			break;
		case 'a':
			any = 1;
			break;
		default:
			usage();
		}
	}
	if (seconds <= 0 || workers < 1 || workers > MAX_WORKERS || base < 1024 ||
	    base + workers > 65535 || (base <= 2024 && base + workers > 2024))
		usage();

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		die("mmap");
	memset(sh, 0, sizeof(*sh));
	for (int i = 0; i < workers; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			die("fork");
		if (pids[i] == 0)
			worker(sh, i, (unsigned short)(base + i), graceful, any);
	}
	for (int i = 0; i < workers; i++)
		while (!sh->w[i].ready)
			usleep(1000);

	t0 = now_s();
	sh->go = 1;
	next = t0 + 0.1;
	for (;;) {
		double t = now_s(), end = t0 + seconds;

		if (t >= end)
			break;
		usleep((useconds_t)(((next < end ? next : end) - t) * 1e6) + 1);
		if (progress && now_s() >= next) {
			printf("progress %.2f %llu\n", now_s() - t0, total(sh, workers));
			fflush(stdout);
		}
		while (next <= now_s())
			next += 0.1;
	}
	unsigned long long n = total(sh, workers);

	t1 = now_s();
	sh->stop = 1;
	for (int i = 0; i < workers; i++) {
		if (waitpid(pids[i], &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
			bad = 1;
	}
	printf("connections=%llu seconds=%.3f rate=%.0f workers=%d\n", n, t1 - t0,
	       (double)n / (t1 - t0), workers);
	return bad;
}
