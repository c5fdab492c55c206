// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * mksockets N [PORT [HOLDERS]]: opens about N TCP sockets on loopback for the snapshot benchmark,
 * spread over worker processes of at most 18000 fds each: per worker a listener (PORT, PORT+1,
 * ...) and established pairs to it (client + accepted server side). With HOLDERS > 1 each worker
 * then forks HOLDERS - 1 children that hold the same sockets, as the workers of a pre-forking
 * server share theirs (every socket has HOLDERS owners). Prints "ready N" when all are up and
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

/* Holds what was inherited until stdin closes. */
static void hold(void)
{
	char c;

	while (read(0, &c, 1) > 0)
		;
}

/* One worker: a listener on port and `pairs` established pairs to it, held by `holders`. */
static void worker(int port, long pairs, int holders, int ready_fd)
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
	for (int i = 1; i < holders; i++) {
		pid_t pid = fork();

		if (pid < 0)
			die("fork");
		if (pid == 0) {
			close(ready_fd);
			hold();
			exit(0);
		}
	}
	if (write(ready_fd, &c, 1) != 1)
		die("write");
	close(ready_fd);
	hold();
	while (wait(NULL) > 0)
		;
	exit(0);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100000;
	int port = argc > 2 ? atoi(argv[2]) : 20000;
	int holders = argc > 3 ? atoi(argv[3]) : 1;
	long left, made = 0;
	int nproc = 0, p[2];
	char c;

	if (n < 3 || port < 1 || port > 60000 || holders < 1 || holders > 64) {
		fprintf(stderr, "usage: mksockets N [PORT [HOLDERS]]\n");
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
			worker(port + nproc, pairs, holders, p[1]);
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
