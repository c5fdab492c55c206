// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The system call tax of a tracer (issue 20): a loop of getppid(2) calls, which touch nothing a
 * TCP tracer watches, so any slowdown while a tracer runs is what it makes every process pay
 * (a syscalls:* tracepoint, once enabled, sends every system call through the slow path).
 *
 *   getppid [-n CALLS]
 *
 * Prints "calls=N seconds=S rate=R ns=T" (R calls per second, T ns per call).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	long calls = 8000000;
	double start, secs;
	int opt;

	while ((opt = getopt(argc, argv, "n:")) != -1) {
		if (opt != 'n' || (calls = atol(optarg)) <= 0) {
			fprintf(stderr, "usage: getppid [-n CALLS]\n");
			return 2;
		}
	}
	start = now();
	/* syscall(): glibc caches nothing for getppid, but say what is meant. */
	for (long i = 0; i < calls; i++)
		syscall(SYS_getppid);
	secs = now() - start;
	printf("calls=%ld seconds=%.3f rate=%.0f ns=%.1f\n", calls, secs, calls / secs,
	       secs * 1e9 / calls);
	return 0;
}
