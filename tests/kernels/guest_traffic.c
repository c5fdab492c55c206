// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * guest_traffic: real TCP traffic on 127.0.0.1 for the kernel matrix (tests/kernels/guest.sh),
 * from processes with known names. Built static: the guest has nothing but busybox.
 *
 *   pair PORT       a server process (tt-server) accepts one connection from a client process
 *                   (tt-client); they exchange a few bytes and both close. Prints
 *                   "server_pid=N client_pid=N" when both are done; exit 0 if all went well.
 *   prefork PORT    a master (tt-master) listens and forks a worker (tt-worker) that accepts; a
 *                   client (tt-pclient) closes once the worker has accepted, and the worker
 *                   waits for that FIN with poll() (no socket I/O) before closing. Prints
 *                   "master_pid=N worker_pid=N".
 *   closewait PORT SECONDS
 *                   a server process (tt-holder) accepts a connection from a client process
 *                   (tt-closer) that closes at once; the holder reads the EOF and keeps its
 *                   socket in CLOSE_WAIT for SECONDS (or until it gets SIGUSR1), then closes it.
 *                   Prints "holder_pid=N" and "ready" once the socket is in CLOSE_WAIT, then
 *                   "closed" when the holder closed it.
 *
 *   handoff PORT    a server (tt-handoff) accepts two connections from a client (tt-hclient),
 *                   forks a child for each and closes its own copies; the children keep the
 *                   server's name. One only reads its request, the other only writes a
 *                   greeting; each then waits for the client's FIN with poll() (no socket I/O)
 *                   before closing. Prints "reader_pid=N sender_pid=N".
 *
 * Every process names itself with prctl(PR_SET_NAME) before it opens a socket and checks that
 * /proc/self/comm (the group leader's name: these processes have one thread) says the same,
 * since that is the name tcptrail reports.
 */
#define _GNU_SOURCE /* POLLRDHUP */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

static const char *self = "guest_traffic";

static void die(const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", self, what, strerror(errno));
	exit(1);
}

static void fail(const char *what)
{
	fprintf(stderr, "%s: %s\n", self, what);
	exit(1);
}

/* Lines go out with one write each: stdout is a file the guest script polls. */
static void say(const char *fmt, ...)
{
	char buf[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf) || write(STDOUT_FILENO, buf, (size_t)n) != n)
		die("writing stdout");
}

static void set_name(const char *name)
{
	char got[17] = "", comm[32] = "";
	FILE *f;

	self = name;
	if (prctl(PR_SET_NAME, name, 0, 0, 0) || prctl(PR_GET_NAME, got, 0, 0, 0))
		die("prctl");
	if (strcmp(got, name))
		fail("PR_GET_NAME does not return the name just set");
	f = fopen("/proc/self/comm", "r");
	if (!f)
		die("/proc/self/comm");
	if (!fgets(comm, sizeof(comm), f))
		fail("/proc/self/comm is empty");
	fclose(f);
	comm[strcspn(comm, "\n")] = '\0';
	if (strcmp(comm, name))
		fail("/proc/self/comm does not say the name just set");
}

static struct sockaddr_in loopback(int port)
{
	struct sockaddr_in sa;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	return sa;
}

static int listen_on(int port)
{
	struct sockaddr_in sa = loopback(port);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		die("socket");
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		die("SO_REUSEADDR");
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)))
		die("bind");
	if (listen(fd, 8))
		die("listen");
	return fd;
}

static int connect_to(int port)
{
	struct sockaddr_in sa = loopback(port);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		die("socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		die("connect");
	return fd;
}

static void send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("write");
		buf += n;
		len -= (size_t)n;
	}
}

static void recv_exact(int fd, char *buf, size_t len)
{
	while (len) {
		ssize_t n = read(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("read");
		if (n == 0)
			fail("early EOF");
		buf += n;
		len -= (size_t)n;
	}
}

static void read_eof(int fd)
{
	char c;
	ssize_t n;

	do
		n = read(fd, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		die("read");
	if (n > 0)
		fail("data where EOF was expected");
}

static void close_checked(int fd)
{
	if (close(fd))
		die("close");
}

/* The parent learns that the child's listener is up when it reads one byte from this pipe. */
static void wait_ready(int rfd)
{
	char c;

	if (read(rfd, &c, 1) != 1)
		fail("a child died before it was ready");
	close(rfd);
}

static void signal_ready(int wfd)
{
	if (write(wfd, "r", 1) != 1)
		die("ready pipe");
	close(wfd);
}

static int wait_ok(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			die("waitpid");
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static pid_t spawn(void (*fn)(int, int, int), int port, int arg, int fd)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		fn(port, arg, fd);
		exit(0);
	}
	return pid;
}

/* Listens on port, says so on the ready pipe and accepts one connection (*lfd: the listener). */
static int accept_one(int port, int ready, int *lfd)
{
	int fd;

	*lfd = listen_on(port);
	signal_ready(ready);
	fd = accept(*lfd, NULL, NULL);
	if (fd < 0)
		die("accept");
	return fd;
}

static void pair_server(int port, int unused, int ready)
{
	char buf[4];
	int lfd, fd;

	set_name("tt-server");
	fd = accept_one(port, ready, &lfd);
	recv_exact(fd, buf, 4);
	if (memcmp(buf, "ping", 4))
		fail("unexpected request");
	send_all(fd, "pong", 4);
	read_eof(fd);
	close_checked(fd);
	close_checked(lfd);
}

static void pair_client(int port, int unused, int unused_fd)
{
	char buf[4];
	int fd;

	set_name("tt-client");
	fd = connect_to(port);
	send_all(fd, "ping", 4);
	recv_exact(fd, buf, 4);
	if (memcmp(buf, "pong", 4))
		fail("unexpected reply");
	close_checked(fd);
}

static int cmd_pair(int port)
{
	int p[2], ok;
	pid_t server, client;

	if (pipe(p))
		die("pipe");
	server = spawn(pair_server, port, 0, p[1]);
	close(p[1]);
	wait_ready(p[0]);
	client = spawn(pair_client, port, 0, -1);
	ok = wait_ok(client);
	ok &= wait_ok(server);
	say("server_pid=%d client_pid=%d\n", (int)server, (int)client);
	return ok ? 0 : 1;
}

static volatile sig_atomic_t released;

static void on_usr1(int sig)
{
	released = 1;
}

static void holder(int port, int seconds, int ready)
{
	struct sigaction sa;
	int lfd, fd;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	if (sigaction(SIGUSR1, &sa, NULL))
		die("sigaction");
	set_name("tt-holder");
	fd = accept_one(port, ready, &lfd);
	close_checked(lfd);
	read_eof(fd); /* the peer's FIN is in: this socket is in CLOSE_WAIT */
	say("holder_pid=%d\nready\n", (int)getpid());
	/* Whole seconds, cut short by SIGUSR1 (one that comes just before a sleep costs 1 s). */
	for (int left = seconds; left > 0 && !released; left--)
		sleep(1);
	close_checked(fd);
	say("closed\n");
}

static void closer(int port, int unused, int unused_fd)
{
	set_name("tt-closer");
	close_checked(connect_to(port));
}

static int cmd_closewait(int port, int seconds)
{
	int p[2], ok;
	pid_t server, client;

	if (pipe(p))
		die("pipe");
	server = spawn(holder, port, seconds, p[1]);
	close(p[1]);
	wait_ready(p[0]);
	client = spawn(closer, port, 0, -1);
	ok = wait_ok(client);
	ok &= wait_ok(server);
	return ok ? 0 : 1;
}

/*
 * prefork: a master listens and forks a worker that accepts; the client closes once the worker
 * has accepted, and the worker waits for that FIN without reading (poll is no socket I/O), so
 * only the accept hook can name the worker in ESTABLISHED -> CLOSE_WAIT.
 */
static void prefork_worker(int lfd, int accepted, int unused)
{
	struct pollfd pfd = {.events = POLLRDHUP};

	set_name("tt-worker");
	pfd.fd = accept(lfd, NULL, NULL);
	if (pfd.fd < 0)
		die("accept");
	signal_ready(accepted);
	if (poll(&pfd, 1, 20000) != 1)
		fail("no FIN from the client");
	close_checked(pfd.fd);
}

static void prefork_client(int port, int accepted, int unused)
{
	int fd;

	set_name("tt-pclient");
	fd = connect_to(port);
	wait_ready(accepted);
	close_checked(fd);
}

static int cmd_prefork(int port)
{
	int p[2], lfd, ok;
	pid_t worker, client;

	set_name("tt-master");
	if (pipe(p))
		die("pipe");
	lfd = listen_on(port);
	worker = spawn(prefork_worker, lfd, p[1], -1);
	close(p[1]);
	client = spawn(prefork_client, port, p[0], -1);
	close(p[0]);
	ok = wait_ok(client);
	ok &= wait_ok(worker);
	close_checked(lfd);
	say("master_pid=%d worker_pid=%d\n", (int)getpid(), (int)worker);
	return ok ? 0 : 1;
}

/*
 * handoff: after the fork and the server's close, only a child's own receive or send can name
 * it; the client's FIN then puts each socket in CLOSE_WAIT, an event made by a packet.
 */
static void await_fin(int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLRDHUP};

	if (poll(&pfd, 1, 20000) != 1)
		fail("no FIN from the client");
	close_checked(fd);
}

/* The handoff's pipes and listener, shared by its processes (spawn passes three ints). */
static int ho_done[2];	   /* each child writes a byte once its I/O is done */
static int ho_accepted[2]; /* the server writes a byte once it accepted the first connection */
static int ho_lfd = -1;

/* A stuck step fails the check within the matrix's time rather than hanging the guest. */
#define HANDOFF_ALARM_S 30

static void handoff_reader(int fd, int other, int done)
{
	char buf[4];

	alarm(HANDOFF_ALARM_S);
	close_checked(other);
	recv_exact(fd, buf, 4);
	if (memcmp(buf, "req\n", 4))
		fail("unexpected request");
	signal_ready(done);
	await_fin(fd);
}

static void handoff_sender(int fd, int other, int done)
{
	alarm(HANDOFF_ALARM_S);
	close_checked(other);
	send_all(fd, "hi!\n", 4);
	signal_ready(done);
	await_fin(fd);
}

static void handoff_client(int port, int unused, int unused_fd)
{
	char buf[4];
	int r, w;

	alarm(HANDOFF_ALARM_S);
	set_name("tt-hclient");
	close_checked(ho_lfd);
	close_checked(ho_done[1]);
	close_checked(ho_accepted[1]);
	r = connect_to(port);
	/* The second connection only once the first is accepted: the server tells them apart. */
	wait_ready(ho_accepted[0]);
	w = connect_to(port);
	send_all(r, "req\n", 4);
	recv_exact(w, buf, 4);
	if (memcmp(buf, "hi!\n", 4))
		fail("unexpected greeting");
	/* Both children have done their I/O: one byte each on the done pipe. */
	recv_exact(ho_done[0], buf, 2);
	close_checked(r);
	close_checked(w);
}

static int cmd_handoff(int port)
{
	int r, w, ok;
	pid_t client, reader, sender;

	alarm(HANDOFF_ALARM_S);
	set_name("tt-handoff");
	if (pipe(ho_done) || pipe(ho_accepted))
		die("pipe");
	ho_lfd = listen_on(port);
	client = spawn(handoff_client, port, 0, -1);
	close(ho_done[0]);
	close(ho_accepted[0]);
	r = accept(ho_lfd, NULL, NULL);
	if (r < 0)
		die("accept");
	signal_ready(ho_accepted[1]);
	w = accept(ho_lfd, NULL, NULL);
	if (w < 0)
		die("accept");
	close_checked(ho_lfd);
	reader = spawn(handoff_reader, r, w, ho_done[1]);
	sender = spawn(handoff_sender, w, r, ho_done[1]);
	close(ho_done[1]);
	close_checked(r);
	close_checked(w);
	ok = wait_ok(client);
	ok &= wait_ok(reader);
	ok &= wait_ok(sender);
	say("reader_pid=%d sender_pid=%d\n", (int)reader, (int)sender);
	return ok ? 0 : 1;
}

static int number(const char *s, int min, int max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "%s: bad number '%s'\n", self, s);
		exit(2);
	}
	return (int)v;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "pair"))
		return cmd_pair(number(argv[2], 1, 65535));
	if (argc == 3 && !strcmp(argv[1], "prefork"))
		return cmd_prefork(number(argv[2], 1, 65535));
	if (argc == 4 && !strcmp(argv[1], "closewait"))
		return cmd_closewait(number(argv[2], 1, 65535), number(argv[3], 0, 86400));
	if (argc == 3 && !strcmp(argv[1], "handoff"))
		return cmd_handoff(number(argv[2], 1, 65535));
	fprintf(stderr,
		"usage: %s pair PORT | prefork PORT | closewait PORT SECONDS | handoff PORT\n",
		self);
	return 2;
}
