// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * mksockets N [PORT]: opens about N TCP sockets on loopback for the snapshot benchmark, spread
 * over worker processes of at most 18000 fds each: per worker a listener (PORT, PORT+1, ...) and
 * established pairs to it (client + accepted server side). Prints "ready N" when all are up and
 * holds them until stdin closes. Run it in a private netns.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#define PER_PROC 18000 /* fds per worker: stays under a 20000 RLIMIT_NOFILE hard limit */

static void die(const char *what)
{
	fprintf(stderr, "mksockets: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		die("getrlimit");
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < PER_PROC + 64) {
		errno = EMFILE;
		die("RLIMIT_NOFILE hard limit below 18064");
	}
}

/* One worker: a listener on port and `pairs` established pairs to it. */
static void worker(int port, long pairs, int ready_fd)
{
	struct sockaddr_in sa;
	int one = 1, lfd;
	char c = 'r';

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0)
		die("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 4096))
		die("bind/listen");
	for (long i = 0; i < pairs; i++) {
		int cfd = socket(AF_INET, SOCK_STREAM, 0);

		if (cfd < 0)
			die("socket");
		if (connect(cfd, (struct sockaddr *)&sa, sizeof(sa)))
			die("connect");
		/* Loopback completes the handshake inside connect(): accept right away. */
		if (accept(lfd, NULL, NULL) < 0)
			die("accept");
	}
	if (write(ready_fd, &c, 1) != 1)
		die("write");
	close(ready_fd);
	while (read(0, &c, 1) > 0)
		;
	exit(0);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100000;
	int port = argc > 2 ? atoi(argv[2]) : 20000;
	long left, made = 0;
	int nproc = 0, p[2];
	char c;

	if (n < 3 || port < 1 || port > 60000) {
		fprintf(stderr, "usage: mksockets N [PORT]\n");
		return 2;
	}
	raise_nofile();
	if (pipe(p))
		die("pipe");
	for (left = n; left >= 3; nproc++) {
		long share = left < PER_PROC ? left : PER_PROC;
		long pairs = (share - 1) / 2;
		pid_t pid = fork();

		if (pid < 0)
			die("fork");
		if (pid == 0) {
			close(p[0]);
			worker(port + nproc, pairs, p[1]);
		}
		made += 1 + 2 * pairs;
		left -= share;
	}
	close(p[1]);
	for (int i = 0; i < nproc; i++) {
		if (read(p[0], &c, 1) != 1) {
			fprintf(stderr, "mksockets: a worker failed\n");
			return 1;
		}
	}
	printf("ready %ld\n", made);
	fflush(stdout);
	while (read(0, &c, 1) > 0)
		;
	while (wait(NULL) > 0)
		;
	return 0;
}
