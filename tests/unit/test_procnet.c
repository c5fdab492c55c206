// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Unit tests of src/procnet.[ch]: counters from /proc/net/netstat text, nsfs mounts. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "procnet.h"

static const char sample[] = "TcpExt: SyncookiesSent TCPTimeWaitOverflow TCPOrigDataSent\n"
			     "TcpExt: 0 42 12345\n"
			     "IpExt: InNoRoutes TCPTimeWaitOverflow\n"
			     "IpExt: 7 99\n";

static int get(const char *text, const char *group, const char *name, uint64_t *v)
{
	return procnet_counter(text, strlen(text), group, name, v);
}

static void test_finds_counter_in_its_group(void **state)
{
	uint64_t v = 0;

	assert_int_equal(get(sample, "TcpExt", "TCPTimeWaitOverflow", &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(get(sample, "TcpExt", "TCPOrigDataSent", &v), 0);
	assert_int_equal(v, 12345);
	assert_int_equal(get(sample, "IpExt", "TCPTimeWaitOverflow", &v), 0);
	assert_int_equal(v, 99);
}

static void test_absent_or_malformed(void **state)
{
	uint64_t v = 5;

	assert_int_equal(get(sample, "TcpExt", "NoSuchCounter", &v), -1);
	assert_int_equal(get(sample, "Tcp", "TCPTimeWaitOverflow", &v), -1);
	assert_int_equal(get("TcpExt: A B\n", "TcpExt", "B", &v), -1);		   /* no values */
	assert_int_equal(get("TcpExt: A B\nIpExt: 1 2\n", "TcpExt", "B", &v), -1); /* wrong group */
	assert_int_equal(get("TcpExt: A B\nTcpExt: 1\n", "TcpExt", "B", &v), -1);  /* short */
	assert_int_equal(get("TcpExt: A B\nTcpExt: 1 x\n", "TcpExt", "B", &v), -1);
	assert_int_equal(get("TcpExt: B\nTcpExt: 99999999999999999999\n", "TcpExt", "B", &v), -1);
	assert_int_equal(get("", "TcpExt", "B", &v), -1);
	assert_int_equal(v, 5);
}

static void test_no_trailing_newline(void **state)
{
	uint64_t v = 0;

	assert_int_equal(get("TcpExt: X Y\nTcpExt: 3 4", "TcpExt", "Y", &v), 0);
	assert_int_equal(v, 4);
}

static int mount_line(const char *line, char *path, size_t pathsz, uint64_t *ino)
{
	return procnet_nsfs_net_mount(line, strlen(line), path, pathsz, ino);
}

static void test_nsfs_net_mount(void **state)
{
	char path[64];
	uint64_t ino = 0;

	assert_int_equal(mount_line("1046 28 0:4 net:[4026532301] /run/netns/blue rw,nosuid "
				    "shared:633 - nsfs nsfs rw",
				    path, sizeof(path), &ino),
			 1);
	assert_string_equal(path, "/run/netns/blue");
	assert_int_equal(ino, 4026532301ULL);
	/* No optional fields; a space and a backslash escaped in the mount point. */
	assert_int_equal(mount_line("7 1 0:4 net:[5] /run/netns/a\\040b\\134c rw - nsfs nsfs rw",
				    path, sizeof(path), &ino),
			 1);
	assert_string_equal(path, "/run/netns/a b\\c");
	assert_int_equal(ino, 5);
	/* Several optional fields. */
	assert_int_equal(mount_line("7 1 0:4 net:[6] /x rw shared:1 master:2 - nsfs nsfs rw", path,
				    sizeof(path), &ino),
			 1);
	assert_int_equal(ino, 6);
}

static void test_nsfs_other_mounts(void **state)
{
	char path[64] = "unchanged";
	uint64_t ino = 9;

	/* Another namespace type, another filesystem, a "net:[" root on another filesystem. */
	assert_int_equal(mount_line("7 1 0:4 mnt:[4026531841] /run/m rw - nsfs nsfs rw", path,
				    sizeof(path), &ino),
			 0);
	assert_int_equal(mount_line("22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw", path,
				    sizeof(path), &ino),
			 0);
	assert_int_equal(
		mount_line("7 1 0:4 net:[5] /x rw - tmpfs tmpfs rw", path, sizeof(path), &ino), 0);
	assert_string_equal(path, "unchanged");
	assert_int_equal(ino, 9);
}

static void test_nsfs_malformed(void **state)
{
	char path[8];
	uint64_t ino = 9;

	assert_int_equal(mount_line("", path, sizeof(path), &ino), -1);
	assert_int_equal(mount_line("7 1 0:4 net:[5] /x rw", path, sizeof(path), &ino), -1);
	assert_int_equal(mount_line("7 1 0:4 net:[5] /x rw -", path, sizeof(path), &ino), -1);
	assert_int_equal(
		mount_line("7 1 0:4 net:[5x] /x rw - nsfs nsfs rw", path, sizeof(path), &ino), -1);
	assert_int_equal(mount_line("7 1 0:4 net:[99999999999999999999] /x rw - nsfs n rw", path,
				    sizeof(path), &ino),
			 -1);
	/* Too long for path[8]; a NUL escaped into the path. */
	assert_int_equal(mount_line("7 1 0:4 net:[5] /run/netns/x rw - nsfs nsfs rw", path,
				    sizeof(path), &ino),
			 -1);
	assert_int_equal(
		mount_line("7 1 0:4 net:[5] /a\\000 rw - nsfs nsfs rw", path, sizeof(path), &ino),
		-1);
	assert_int_equal(ino, 9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_finds_counter_in_its_group),
		cmocka_unit_test(test_absent_or_malformed),
		cmocka_unit_test(test_no_trailing_newline),
		cmocka_unit_test(test_nsfs_net_mount),
		cmocka_unit_test(test_nsfs_other_mounts),
		cmocka_unit_test(test_nsfs_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
