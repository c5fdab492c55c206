// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Request/response generator for tcptrail's benchmarks (issue 10): PAIRS established loopback
 * TCP connections with TCP_NODELAY, each between a client process and a server process that
 * bounce one byte back and forth with write(2)/read(2) as fast as they can. No state changes
 * happen while it counts, so what a tracer costs here is the cost of its hooks on socket I/O
 * (four syscalls and two segments per round trip), not of its state-change events.
 *
 *   pingpong [-s SECONDS] [-n PAIRS] [-p BASEPORT] [-u]
 *
 * -u bounces the byte over AF_UNIX socket pairs instead: no TCP at all, the I/O of the host's
 * other processes (D-Bus, journald, a database's local clients), which a TCP tracer must not
 * slow down.
 *
 * Prints "roundtrips=N seconds=S rate=R pairs=P all=A" on stdout at the end (R = round trips
 * per second, all pairs together, counted over SECONDS after a 0.1 s warm-up; A = every round
 * trip made, warm-up included). Run it in a private network namespace (unshare -n, lo up).
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
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#define MAX_PAIRS 64

/* One cache line per pair so that counting does not bounce lines between the clients' cores. */
struct slot {
	volatile unsigned long long trips;
	volatile int listening;
	volatile int connected;
	char pad[48];
};

struct shared {
	volatile int go;
	volatile int stop;
	char pad[56];
	struct slot p[MAX_PAIRS];
};

static int unix_pairs;		   /* -u */
static int pair_fds[MAX_PAIRS][2]; /* -u: client, server */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "pingpong: %s: %s\n", what, strerror(errno));
	_exit(1);
}

/*
 * Latency, not throughput: without TCP_NODELAY Nagle would hold a byte back while the previous
 * one is unacknowledged. The receive timeout keeps a bench from hanging forever when the peer
 * dies; nothing in a healthy run waits that long.
 */
static void tune(int fd)
{
	struct timeval tmo = {.tv_sec = 10};
	int one = 1;

	if ((!unix_pairs && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one))) ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo)))
		die("setsockopt");
}

static struct sockaddr_in loopback(unsigned short port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

/* -u: this process's end of pair idx (0 the client's, 1 the server's); the other end closed. */
static int pair_end(int idx, int end)
{
	close(pair_fds[idx][!end]);
	return pair_fds[idx][end];
}

/*
 * The server accepts its own connection and the client makes its own, so that each socket is
 * used by the process that created it, as in a steady-state server: the run measures the hooks'
 * common case, an owner that does not change.
 */
static int tcp_accept_one(struct shared *sh, int idx, unsigned short port)
{
	struct sockaddr_in a = loopback(port);
	int one = 1, lfd = socket(AF_INET, SOCK_STREAM, 0), fd;

	if (lfd < 0)
		die("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 1))
		die("bind/listen on 127.0.0.1");
	sh->p[idx].listening = 1;
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		die("accept");
	close(lfd);
	return fd;
}

static void server(struct shared *sh, int idx, unsigned short port)
{
	int fd;
	char b;

	fd = unix_pairs ? pair_end(idx, 1) : tcp_accept_one(sh, idx, port);
	tune(fd);
	for (;;) {
		ssize_t n = read(fd, &b, 1);

		if (n == 0)
			break; /* the client closed: the run is over */
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("server read");
		}
		if (write(fd, &b, 1) != 1)
			die("server write");
	}
	close(fd);
	_exit(0);
}

static int tcp_connect(struct shared *sh, int idx, unsigned short port)
{
	struct sockaddr_in a = loopback(port);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		die("socket");
	while (!sh->p[idx].listening)
		usleep(1000);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)))
		die("connect");
	return fd;
}

static void client(struct shared *sh, int idx, unsigned short port)
{
	unsigned long long n = 0;
	char b = 'x';
	int fd;

	fd = unix_pairs ? pair_end(idx, 0) : tcp_connect(sh, idx, port);
	tune(fd);
	sh->p[idx].connected = 1;
	while (!sh->go)
		usleep(1000);
	while (!sh->stop) {
		if (write(fd, &b, 1) != 1)
			die("client write");
		if (read(fd, &b, 1) != 1)
			die("client read");
		sh->p[idx].trips = ++n;
	}
	close(fd);
	_exit(0);
}

static unsigned long long total(struct shared *sh, int n)
{
	unsigned long long t = 0;

	for (int i = 0; i < n; i++)
		t += sh->p[i].trips;
	return t;
}

static void usage(void)
{
	fprintf(stderr, "usage: pingpong [-s SECONDS] [-n PAIRS] [-p BASEPORT] [-u]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"seconds", required_argument, NULL, 's'},
		{"pairs", required_argument, NULL, 'n'},
		{"port", required_argument, NULL, 'p'},
		{"unix", no_argument, NULL, 'u'},
		{NULL, 0, NULL, 0},
	};
	double seconds = 5, t0, t1;
	int pairs = 2, base = 21000, opt, status, bad = 0, nproc = 0;
	unsigned long long n0, n1;
	pid_t pids[2 * MAX_PAIRS];
	struct shared *sh;

	while ((opt = getopt_long(argc, argv, "s:n:p:u", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			seconds = atof(optarg);
			break;
		case 'n':
			pairs = atoi(optarg);
			break;
		case 'p':
			base = atoi(optarg);
			break;
		case 'u':
			unix_pairs = 1;
			break;
		default:
			usage();
		}
	}
	if (seconds <= 0 || pairs < 1 || pairs > MAX_PAIRS || base < 1024 || base + pairs > 65535 ||
	    (base <= 2024 && base + pairs > 2024))
		usage();

	/* A dying peer must show up as a failed write, not kill the process silently. */
	signal(SIGPIPE, SIG_IGN);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		die("mmap");
	memset(sh, 0, sizeof(*sh));
	for (int i = 0; i < pairs; i++) {
		if (unix_pairs && socketpair(AF_UNIX, SOCK_STREAM, 0, pair_fds[i]))
			die("socketpair");
		for (int role = 0; role < 2; role++) {
			pid_t pid = fork();

			if (pid < 0)
				die("fork");
			if (pid == 0) {
				if (role == 0)
					server(sh, i, (unsigned short)(base + i));
				client(sh, i, (unsigned short)(base + i));
			}
			pids[nproc++] = pid;
		}
		/* Only the pair's two processes hold it: the server sees the client's close. */
		if (unix_pairs) {
			close(pair_fds[i][0]);
			close(pair_fds[i][1]);
		}
	}
	for (int i = 0; i < pairs; i++) {
		while (!sh->p[i].connected) {
			/* A child that died before connecting would leave us waiting forever. */
			if (waitpid(-1, &status, WNOHANG) > 0) {
				fprintf(stderr, "pingpong: a child exited during set-up\n");
				for (int k = 0; k < nproc; k++)
					kill(pids[k], SIGKILL);
				return 1;
			}
			usleep(1000);
		}
	}

	sh->go = 1;
	/*
	 * Count from a short warm-up on: the first round trips pay for faulting in the loop and,
	 * under a tracer, for learning each socket's owner, which is not the steady state.
	 */
	usleep(100000);
	n0 = total(sh, pairs);
	t0 = now_s();
	while (now_s() < t0 + seconds)
		usleep((useconds_t)((t0 + seconds - now_s()) * 1e6) + 1);
	n1 = total(sh, pairs);
	t1 = now_s();
	sh->stop = 1;
	for (int i = 0; i < nproc; i++) {
		if (waitpid(pids[i], &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
			bad = 1;
	}
	/* all= counts the warm-up and the last trips too: what per-trip hook counts divide by. */
	printf("roundtrips=%llu seconds=%.3f rate=%.0f pairs=%d all=%llu\n", n1 - n0, t1 - t0,
	       (double)(n1 - n0) / (t1 - t0), pairs, total(sh, pairs));
	return bad;
}
