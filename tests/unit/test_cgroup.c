// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Unit tests of src/cgroup.[ch]: cgroup paths -> container/pod/unit, the v2 mount, the cache. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>
#include "tt_test.h"
#include "cgroup.h"

#define ID1  "4c6b5a1f2e3d4c5b6a7980e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5"
#define ID2  "0f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff0"
#define UID  "0a1b2c3d-4e5f-6789-abcd-ef0123456789"
#define UIDU "0a1b2c3d_4e5f_6789_abcd_ef0123456789" /* as a systemd slice spells it */

struct want {
	const char *path;
	const char *container; /* NULL: none */
	const char *pod;
	const char *unit;
};

static void check(const struct want *w)
{
	struct cg_ident id;
	int found = cg_parse_path(w->path, strlen(w->path), &id);
	int expect = (w->container ? CG_FOUND_CONTAINER : 0) | (w->pod ? CG_FOUND_POD : 0) |
		     (w->unit ? CG_FOUND_UNIT : 0);

	if (strcmp(id.container_id, w->container ? w->container : ""))
		fail_msg("%s: container '%s', want '%s'", w->path, id.container_id,
			 w->container ? w->container : "");
	if (strcmp(id.pod, w->pod ? w->pod : ""))
		fail_msg("%s: pod '%s', want '%s'", w->path, id.pod, w->pod ? w->pod : "");
	if (strcmp(id.unit, w->unit ? w->unit : ""))
		fail_msg("%s: unit '%s', want '%s'", w->path, id.unit, w->unit ? w->unit : "");
	if (found != expect)
		fail_msg("%s: found %#x, want %#x", w->path, found, expect);
}

static void check_all(const struct want *w, size_t n)
{
	for (size_t i = 0; i < n; i++)
		check(&w[i]);
}

static void test_docker(void **state)
{
	static const struct want w[] = {
		/* systemd cgroup driver (Debian, Ubuntu, Fedora defaults) */
		{"/system.slice/docker-" ID1 ".scope", ID1, NULL, NULL},
		/* cgroupfs driver */
		{"/docker/" ID1, ID1, NULL, NULL},
		/* docker in docker with cgroupfs: the inner container */
		{"/docker/" ID1 "/docker/" ID2, ID2, NULL, NULL},
		/* a container that runs systemd (cgroupns=private): its units are seen too */
		{"/system.slice/docker-" ID1 ".scope/system.slice/nginx.service", ID1, NULL,
		 "nginx.service"},
		{"/system.slice/docker-" ID1 ".scope/init.scope", ID1, NULL, "init.scope"},
		/* rootless docker with systemd: under the user's manager */
		{"/user.slice/user-1000.slice/user@1000.service/user.slice/docker-" ID1 ".scope",
		 ID1, NULL, "user@1000.service"},
		/* the daemon itself is a host service */
		{"/system.slice/docker.service", NULL, NULL, "docker.service"},
		{"/system.slice/containerd.service", NULL, NULL, "containerd.service"},
		/* ids from other tools that name cgroups by container id (GitHub Actions, ECS) */
		{"/actions_job/" ID2, ID2, NULL, NULL},
		{"/ecs/8f5b2ad1c7e44d2a9d1f3b6c2e8a4f70/" ID1, ID1, NULL, NULL},
	};

	check_all(w, sizeof(w) / sizeof(w[0]));
}

static void test_kubernetes(void **state)
{
	static const struct want w[] = {
		/* systemd driver, containerd */
		{"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UIDU
		 ".slice/cri-containerd-" ID1 ".scope",
		 ID1, UID, NULL},
		{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UIDU
		 ".slice/cri-containerd-" ID2 ".scope",
		 ID2, UID, NULL},
		/* guaranteed QoS has no QoS slice */
		{"/kubepods.slice/kubepods-pod" UIDU ".slice/cri-containerd-" ID1 ".scope", ID1,
		 UID, NULL},
		/* CRI-O, and its conmon (a monitor process, not the container) */
		{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UIDU
		 ".slice/crio-" ID1 ".scope",
		 ID1, UID, NULL},
		{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UIDU
		 ".slice/crio-conmon-" ID1 ".scope",
		 NULL, UID, "crio-conmon-" ID1 ".scope"},
		/* dockershim */
		{"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UIDU
		 ".slice/docker-" ID1 ".scope",
		 ID1, UID, NULL},
		/* the pod slice itself, and the QoS slices above it */
		{"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UIDU ".slice",
		 NULL, UID, NULL},
		{"/kubepods.slice/kubepods-besteffort.slice", NULL, NULL, NULL},
		{"/kubepods.slice", NULL, NULL, NULL},
		/* cgroupfs driver: dashes kept, the container a bare id (or crio-ID) */
		{"/kubepods/burstable/pod" UID "/" ID1, ID1, UID, NULL},
		{"/kubepods/besteffort/pod" UID "/" ID2, ID2, UID, NULL},
		{"/kubepods/pod" UID "/" ID1, ID1, UID, NULL},
		{"/kubepods/besteffort/pod" UID "/crio-" ID1, ID1, UID, NULL},
		{"/kubepods/besteffort/pod" UID, NULL, UID, NULL},
		/* static (mirror) pods: the uid is a 32-digit hash */
		{"/kubepods.slice/kubepods-burstable.slice/"
		 "kubepods-burstable-pod5f6e3b5d0bc8f3ee5d5a0e1b0b3c7a9d.slice/cri-containerd-" ID1
		 ".scope",
		 ID1, "5f6e3b5d0bc8f3ee5d5a0e1b0b3c7a9d", NULL},
		/* kind: a pod inside a node container; the pod's container wins */
		{"/system.slice/docker-" ID2 ".scope/kubelet.slice/kubelet-kubepods.slice/"
		 "kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod" UIDU
		 ".slice/cri-containerd-" ID1 ".scope",
		 ID1, UID, NULL},
		/* k3s (cgroupfs under its own root) */
		{"/k3s/kubepods/burstable/pod" UID "/" ID1, ID1, UID, NULL},
	};

	check_all(w, sizeof(w) / sizeof(w[0]));
}

static void test_podman(void **state)
{
	static const struct want w[] = {
		{"/machine.slice/libpod-" ID1 ".scope", ID1, NULL, NULL},
		/* --cgroupns=private with systemd mode: the payload is one level down */
		{"/machine.slice/libpod-" ID1 ".scope/container", ID1, NULL, NULL},
		{"/machine.slice/libpod-conmon-" ID1 ".scope", NULL, NULL,
		 "libpod-conmon-" ID1 ".scope"},
		/* cgroupfs manager */
		{"/libpod_parent/libpod-" ID1, ID1, NULL, NULL},
		/* rootless */
		{"/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" ID2 ".scope",
		 ID2, NULL, "user@1000.service"},
		/* a pod's infra container */
		{"/machine.slice/machine-libpod_pod_8a1c2e.slice/libpod-" ID1 ".scope", ID1, NULL,
		 NULL},
	};

	check_all(w, sizeof(w) / sizeof(w[0]));
}

static void test_host_units(void **state)
{
	static const struct want w[] = {
		{"/system.slice/nginx.service", NULL, NULL, "nginx.service"},
		{"/system.slice/system-getty.slice/getty@tty1.service", NULL, NULL,
		 "getty@tty1.service"},
		/* login sessions are scope units: systemctl status session-3.scope */
		{"/user.slice/user-1000.slice/session-3.scope", NULL, NULL, "session-3.scope"},
		{"/user.slice/user-1000.slice/user@1000.service/app.slice/"
		 "app-gnome-firefox-4711.scope",
		 NULL, NULL, "app-gnome-firefox-4711.scope"},
		{"/user.slice/user-1000.slice/user@1000.service/init.scope", NULL, NULL,
		 "init.scope"},
		{"/init.scope", NULL, NULL, "init.scope"},
		/* sub-cgroups a service delegates name the service */
		{"/system.slice/myapp.service/workers/7", NULL, NULL, "myapp.service"},
		/* other unit types that hold processes for a while */
		{"/system.slice/home.mount", NULL, NULL, "home.mount"},
		{"/system.slice/sshd.socket", NULL, NULL, "sshd.socket"},
		{"/system.slice/dev-sda2.swap", NULL, NULL, "dev-sda2.swap"},
		/* systemd-nspawn and machines */
		{"/machine.slice/systemd-nspawn@web.service/payload/system.slice/sshd.service",
		 NULL, NULL, "sshd.service"},
		/* slices group units and are not one */
		{"/system.slice", NULL, NULL, NULL},
		{"/user.slice/user-1000.slice", NULL, NULL, NULL},
		{"/", NULL, NULL, NULL},
		{"", NULL, NULL, NULL},
		/* cgroups of no known kind */
		{"/tt-test-A", NULL, NULL, NULL},
		{"/lxc.payload.web1", NULL, NULL, NULL},
	};

	check_all(w, sizeof(w) / sizeof(w[0]));
}

static void test_not_containers(void **state)
{
	char upper[] = "/docker/" ID1;
	static const struct want w[] = {
		/* one digit short, one too many, not hex */
		{"/system.slice/docker-" ID1 "0.scope", NULL, NULL, "docker-" ID1 "0.scope"},
		{"/docker/" ID1 "0", NULL, NULL, NULL},
		{"/system.slice/"
		 "docker-4c6b5a1f2e3d4c5b6a7980e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c.scope",
		 NULL, NULL,
		 "docker-4c6b5a1f2e3d4c5b6a7980e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c.scope"},
		{"/system.slice/docker-xyz.scope", NULL, NULL, "docker-xyz.scope"},
		/* unknown runtime prefix: a unit, not a container */
		{"/system.slice/rkt-" ID1 ".scope", NULL, NULL, "rkt-" ID1 ".scope"},
		/* a 64-hex name with a suffix is not a bare id */
		{"/x/" ID1 ".scope", NULL, NULL, ID1 ".scope"},
		/* a pod directory outside kubepods, a pod slice outside kubepods */
		{"/pod" UID "/" ID1, ID1, NULL, NULL},
		{"/other.slice/other-pod" UIDU ".slice", NULL, NULL, NULL},
		/* malformed uids */
		{"/kubepods/besteffort/pod0a1b2c3d-4e5f-6789-abcd-ef012345678", NULL, NULL, NULL},
		{"/kubepods/besteffort/pod0a1b2c3d-4e5f-6789-abcd-ef01234567890", NULL, NULL, NULL},
		{"/kubepods/besteffort/pod0a1b2c3d+4e5f-6789-abcd-ef0123456789", NULL, NULL, NULL},
		{"/kubepods/besteffort/podxa1b2c3d-4e5f-6789-abcd-ef0123456789", NULL, NULL, NULL},
		{"/kubepods.slice/kubepods-besteffort-pod.slice", NULL, NULL, NULL},
		{"/kubepods.slice/kubepods-besteffort-podnotauid.slice", NULL, NULL, NULL},
	};

	check_all(w, sizeof(w) / sizeof(w[0]));
	/* container ids are lowercase */
	for (char *p = upper + 8; *p; p++) {
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	}
	check(&(struct want){upper, NULL, NULL, NULL});
}

static void test_path_shapes(void **state)
{
	static const struct want w[] = {
		/* no leading slash, repeated and trailing slashes */
		{"system.slice/docker-" ID1 ".scope", ID1, NULL, NULL},
		{"//system.slice///nginx.service//", NULL, NULL, "nginx.service"},
		/* the deepest unit wins, the container too */
		{"/a.service/b.service", NULL, NULL, "b.service"},
		/* a unit may be anywhere relative to the container */
		{"/system.slice/myapp.service/libpod-" ID1, ID1, NULL, "myapp.service"},
	};
	char lng[300], path[400];
	struct cg_ident id;

	check_all(w, sizeof(w) / sizeof(w[0]));
	/* a unit name is at most 255 bytes */
	memset(lng, 'u', sizeof(lng));
	memcpy(lng + 255 - strlen(".service"), ".service", strlen(".service"));
	lng[255] = '\0';
	snprintf(path, sizeof(path), "/system.slice/%s", lng);
	assert_int_equal(cg_parse_path(path, strlen(path), &id), CG_FOUND_UNIT);
	assert_string_equal(id.unit, lng);
	memset(lng, 'u', sizeof(lng));
	memcpy(lng + 256 - strlen(".service"), ".service", strlen(".service"));
	lng[256] = '\0';
	snprintf(path, sizeof(path), "/system.slice/%s", lng);
	assert_int_equal(cg_parse_path(path, strlen(path), &id), 0);
	/* len bounds the parse: a NUL or more bytes after it are not read */
	assert_int_equal(cg_parse_path("/docker/" ID1 "xyz", 8 + 64, &id), CG_FOUND_CONTAINER);
	assert_string_equal(id.container_id, ID1);
	assert_int_equal(cg_parse_path("/a/x.service\0/b", 15, &id), 0);
	assert_int_equal(cg_parse_path(NULL, 0, &id), 0);
}

static void test_label(void **state)
{
	struct cg_desc d;
	const char *s;
	size_t n;

	cg_label(NULL, &s, &n);
	assert_int_equal(n, 1);
	assert_memory_equal(s, "-", 1);
	memset(&d, 0, sizeof(d));
	cg_label(&d, &s, &n);
	assert_memory_equal(s, "-", n);
	d.path = "/tt-test-A";
	d.path_len = strlen(d.path);
	cg_label(&d, &s, &n);
	assert_int_equal(n, d.path_len);
	assert_memory_equal(s, "/tt-test-A", n);
	strcpy(d.ident.unit, "nginx.service");
	cg_label(&d, &s, &n);
	assert_int_equal(n, 13);
	assert_memory_equal(s, "nginx.service", n);
	strcpy(d.ident.container_id, ID1);
	cg_label(&d, &s, &n);
	assert_int_equal(n, CG_SHORT_LEN);
	assert_memory_equal(s, ID1, n);
	/* a log may hold a shorter id */
	strcpy(d.ident.container_id, "abc");
	cg_label(&d, &s, &n);
	assert_int_equal(n, 3);
}

static void test_under(void **state)
{
#define UNDER(p, t) cg_path_under(p, strlen(p), t, strlen(t))
	assert_true(UNDER("/a", "/a"));
	assert_true(UNDER("/a/b", "/a"));
	assert_true(UNDER("/a/b/c", "/a/b"));
	assert_false(UNDER("/ab", "/a"));
	assert_false(UNDER("/a", "/a/b"));
	assert_false(UNDER("/b", "/a"));
	assert_true(UNDER("/", "/"));
	assert_true(UNDER("/anything/at/all", "/"));
	assert_false(UNDER("", "/"));
	assert_false(UNDER("", "/a"));
#undef UNDER
}

static const char hybrid[] =
	"22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n"
	"31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
	"32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
	"40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
	"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

static void test_mountinfo(void **state)
{
	static const char unified[] =
		"25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
		"29 25 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 "
		"cgroup2 rw,nsdelegate,memory_recursiveprot\n";
	/* a subtree bind-mounted first, then the whole hierarchy: the whole one wins */
	static const char two[] =
		"50 22 0:38 /system.slice/x.service /run/x/cg rw - cgroup2 cgroup2 rw\n"
		"51 22 0:38 / /mnt/cg\\040v2 rw shared:3 master:1 - cgroup2 none rw\n";
	static const char subtree[] =
		"50 22 0:38 /kubepods.slice/a.slice /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
	static const char none[] = "31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n"
				   "32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n";
	/* the fstype is what counts, even on a line cut short after it; before it, no mount */
	static const char cut[] = "33 31 0:29 / /x rw - cgroup2\n";
	static const char cut_more[] = "33 31 0:29 / /x rw -\n34 1 0:1 / /y rw - cgroup2";
	static const char nul[] = "1 1 0:1 / /a\\000b rw - cgroup2 x rw\n";
	char mnt[64];
	int depth = -1;

	assert_int_equal(cg_mountinfo_v2(hybrid, strlen(hybrid), mnt, sizeof(mnt), &depth), 0);
	assert_string_equal(mnt, "/sys/fs/cgroup/unified");
	assert_int_equal(depth, 0);
	assert_int_equal(cg_mountinfo_v2(unified, strlen(unified), mnt, sizeof(mnt), &depth), 0);
	assert_string_equal(mnt, "/sys/fs/cgroup");
	assert_int_equal(cg_mountinfo_v2(two, strlen(two), mnt, sizeof(mnt), &depth), 0);
	assert_string_equal(mnt, "/mnt/cg v2");
	assert_int_equal(depth, 0);
	assert_int_equal(cg_mountinfo_v2(subtree, strlen(subtree), mnt, sizeof(mnt), &depth), 0);
	assert_string_equal(mnt, "/sys/fs/cgroup");
	assert_int_equal(depth, 2);
	assert_int_equal(cg_mountinfo_v2(none, strlen(none), mnt, sizeof(mnt), &depth), -1);
	assert_int_equal(cg_mountinfo_v2(cut, strlen(cut), mnt, sizeof(mnt), &depth), 0);
	assert_string_equal(mnt, "/x");
	assert_int_equal(cg_mountinfo_v2(cut_more, strlen(cut_more), mnt, sizeof(mnt), &depth), 0);
	assert_string_equal(mnt, "/y");
	assert_int_equal(cg_mountinfo_v2(cut_more, strlen(cut_more) - 8, mnt, sizeof(mnt), &depth),
			 -1);
	assert_int_equal(cg_mountinfo_v2("", 0, mnt, sizeof(mnt), &depth), -1);
	/* too small for the mount point */
	assert_int_equal(cg_mountinfo_v2(hybrid, strlen(hybrid), mnt, 10, &depth), -1);
	/* a NUL escape cannot make a path */
	assert_int_equal(cg_mountinfo_v2(nul, strlen(nul), mnt, sizeof(mnt), NULL), -1);
	/* the machine's own (when it has one): an absolute path */
	if (!cg_find_v2_mount(mnt, sizeof(mnt), &depth))
		assert_int_equal(mnt[0], '/');
}

static void norm_ok(const char *mnt, const char *arg, const char *want, int want_level)
{
	char out[CG_PATH_MAX];
	int level = -1;

	if (cg_normalize(mnt, arg, out, sizeof(out), &level))
		fail_msg("rejected '%s'", arg);
	if (strcmp(out, want) || level != want_level)
		fail_msg("'%s' -> '%s' level %d, want '%s' level %d", arg, out, level, want,
			 want_level);
}

static void test_normalize(void **state)
{
	const char *m = "/sys/fs/cgroup/unified";
	char out[16], big[CG_PATH_MAX + 10];
	int level;

	norm_ok(m, "/sys/fs/cgroup/unified/tt-test-A", "/tt-test-A", 1);
	norm_ok(m, "/sys/fs/cgroup/unified/a/b/", "/a/b", 2);
	norm_ok(m, "/sys/fs/cgroup/unified", "/", 0);
	norm_ok(m, "/sys/fs/cgroup/unified/", "/", 0);
	norm_ok(m, "//sys//fs/cgroup/unified//a", "/a", 1);
	norm_ok(m, "/a//b/", "/a/b", 2);
	norm_ok(m, "a/b", "/a/b", 2);
	norm_ok(m, "/", "/", 0);
	/* not under the mount: taken as relative to it (and will not resolve) */
	norm_ok(m, "/sys/fs/cgroup/unifiedX/a", "/sys/fs/cgroup/unifiedX/a", 5);
	norm_ok(m, "/sys/fs/cgroup/system.slice", "/sys/fs/cgroup/system.slice", 4);
	/* the leading slash does not matter */
	norm_ok(m, "sys/fs/cgroup/unified/a", "/a", 1);
	/* no mount known (replay): nothing to strip */
	norm_ok(NULL, "/system.slice/x.service", "/system.slice/x.service", 2);
	norm_ok("/", "/a", "/a", 1);
	norm_ok("/sys/fs/cgroup", "/sys/fs/cgroup/kubepods.slice", "/kubepods.slice", 1);
	assert_int_equal(cg_normalize(m, "/a/../b", out, sizeof(out), &level), -1);
	assert_int_equal(cg_normalize(m, "/a/./b", out, sizeof(out), &level), -1);
	assert_int_equal(cg_normalize(m, "..", out, sizeof(out), &level), -1);
	assert_int_equal(cg_normalize(m, "/0123456789abcdef", out, sizeof(out), &level), -1);
	assert_int_equal(cg_normalize(m, NULL, out, sizeof(out), &level), -1);
	/* names that merely start with dots are names */
	norm_ok(m, "/...", "/...", 1);
	norm_ok(m, "/.hidden", "/.hidden", 1);
	memset(big, 'a', sizeof(big) - 1);
	big[0] = '/';
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(cg_normalize(m, big, out, sizeof(out), &level), -1);
}

/* A scratch hierarchy standing in for the v2 mount: cgroup ids are its inode numbers. */
struct tree {
	char root[64];
};

static uint64_t ino_of(const char *root, const char *rel)
{
	char p[512];
	struct stat st;

	snprintf(p, sizeof(p), "%s%s", root, rel);
	assert_int_equal(stat(p, &st), 0);
	return (uint64_t)st.st_ino;
}

static void mk(const char *root, const char *rel)
{
	char p[512];

	snprintf(p, sizeof(p), "%s%s", root, rel);
	assert_int_equal(mkdir(p, 0755), 0);
}

static int tree_setup(void **state)
{
	struct tree *t = calloc(1, sizeof(*t));
	char p[512];
	FILE *f;

	if (!t)
		return -1;
	strcpy(t->root, "/tmp/tt-cgroup-XXXXXX");
	if (!mkdtemp(t->root))
		return -1;
	mk(t->root, "/a");
	mk(t->root, "/a/b");
	mk(t->root, "/system.slice");
	mk(t->root, "/system.slice/docker-" ID1 ".scope");
	mk(t->root, "/system.slice/nginx.service");
	mk(t->root, "/with space");
	/* files are not cgroups */
	snprintf(p, sizeof(p), "%s/a/cgroup.procs", t->root);
	f = fopen(p, "w");
	if (!f)
		return -1;
	fclose(f);
	*state = t;
	return 0;
}

static int tree_teardown(void **state)
{
	struct tree *t = *state;

	rm_tree(t->root);
	free(t);
	return 0;
}

static void expect_path(struct cg_cache *c, uint64_t id, const char *path)
{
	const struct cg_desc *d = cg_cache_get(c, id);

	if (!d)
		fail_msg("id %llu not found, want %s", (unsigned long long)id, path);
	assert_int_equal(d->path_len, strlen(path));
	assert_memory_equal(d->path, path, d->path_len);
	assert_int_equal(d->path[d->path_len], '\0');
}

static void test_cache_walk(void **state)
{
	struct tree *t = *state;
	struct cg_cache *c = cg_cache_new(t->root);
	const struct cg_desc *d;
	uint64_t serial;

	assert_non_null(c);
	assert_int_equal(cg_cache_walks(c), 1);
	expect_path(c, ino_of(t->root, ""), "/");
	expect_path(c, ino_of(t->root, "/a"), "/a");
	expect_path(c, ino_of(t->root, "/a/b"), "/a/b");
	expect_path(c, ino_of(t->root, "/with space"), "/with space");
	expect_path(c, ino_of(t->root, "/system.slice/nginx.service"),
		    "/system.slice/nginx.service");
	d = cg_cache_get(c, ino_of(t->root, "/system.slice/docker-" ID1 ".scope"));
	assert_non_null(d);
	assert_string_equal(d->ident.container_id, ID1);
	assert_string_equal(d->ident.unit, "");
	d = cg_cache_get(c, ino_of(t->root, "/system.slice/nginx.service"));
	assert_string_equal(d->ident.unit, "nginx.service");
	/* found ones are lookups, not walks; the same description each time */
	serial = d->serial;
	assert_true(serial > 0);
	assert_ptr_equal(cg_cache_get(c, ino_of(t->root, "/system.slice/nginx.service")), d);
	assert_int_equal(cg_cache_walks(c), 1);
	/* id 0 is "unknown" from the kernel: never a walk */
	assert_null(cg_cache_get(c, 0));
	assert_int_equal(cg_cache_walks(c), 1);
	cg_cache_free(c);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void test_cache_miss(void **state)
{
	struct tree *t = *state;
	struct cg_cache *c = cg_cache_new(t->root);
	uint64_t file = ino_of(t->root, "/a/cgroup.procs"), later = now_ns() + 1000000000000ULL;
	uint64_t nginx = ino_of(t->root, "/system.slice/nginx.service"), id, serial;
	const struct cg_desc *d;

	assert_non_null(c);
	serial = cg_cache_get(c, nginx)->serial;
	/* unknown: one walk, then remembered as gone */
	assert_null(cg_cache_get_at(c, file, later));
	assert_int_equal(cg_cache_walks(c), 2);
	assert_null(cg_cache_get_at(c, file, later * 2));
	assert_int_equal(cg_cache_walks(c), 2);
	/* a re-walk made new descriptions: a memo keyed by serial sees the change */
	d = cg_cache_get(c, nginx);
	assert_non_null(d);
	assert_true(d->serial != serial);

	/* made after the walk: found by the next one */
	mk(t->root, "/a/new");
	id = ino_of(t->root, "/a/new");
	later = now_ns() + 2000000000000ULL;
	d = cg_cache_get_at(c, id, later);
	assert_non_null(d);
	assert_string_equal(d->path, "/a/new");
	assert_int_equal(cg_cache_walks(c), 3);

	/* right after a walk, a miss waits (no walk, not remembered as gone) */
	mk(t->root, "/a/newer");
	id = ino_of(t->root, "/a/newer");
	assert_null(cg_cache_get_at(c, id, later + 1));
	assert_int_equal(cg_cache_walks(c), 3);
	d = cg_cache_get_at(c, id, later + 1000000000000ULL);
	assert_non_null(d);
	assert_string_equal(d->path, "/a/newer");
	assert_int_equal(cg_cache_walks(c), 4);

	/* removed: the old table keeps answering until a walk drops it */
	rm_tree(t->root); /* teardown's rm -rf of a missing dir is fine */
	assert_non_null(cg_cache_get(c, id));
	assert_null(cg_cache_get_at(c, 12345678, later + 3000000000000ULL));
	assert_int_equal(cg_cache_walks(c), 5);
	/* the walk failed: the old table stays */
	assert_non_null(cg_cache_get(c, id));
	cg_cache_free(c);
}

static void test_cache_none(void **state)
{
	struct cg_cache *c = cg_cache_new(NULL);

	assert_non_null(c);
	assert_null(cg_cache_get(c, 1));
	assert_int_equal(cg_cache_walks(c), 0);
	cg_cache_free(c);
	assert_null(cg_cache_get(NULL, 1));
	cg_cache_free(NULL);
	/* a mount point that is not there */
	c = cg_cache_new("/nonexistent/tt-cgroup");
	assert_non_null(c);
	assert_null(cg_cache_get_at(c, 1, now_ns() + 1000000000000ULL));
	cg_cache_free(c);
}

static void test_resolve(void **state)
{
	struct tree *t = *state;
	uint64_t id = 0;

	assert_int_equal(cg_resolve(t->root, "/a/b", &id), 0);
	assert_int_equal(id, ino_of(t->root, "/a/b"));
	assert_int_equal(cg_resolve(t->root, "/", &id), 0);
	assert_int_equal(id, ino_of(t->root, ""));
	assert_int_equal(cg_resolve(t->root, "/missing", &id), -ENOENT);
	assert_int_equal(cg_resolve(t->root, "/a/cgroup.procs", &id), -ENOTDIR);
	assert_int_equal(cg_resolve("/nonexistent/tt-cgroup", "/a", &id), -ENOENT);
	/* /proc is another file system: not a cgroup of this mount */
	assert_int_equal(cg_resolve("/tmp", "/../proc", &id), -EXDEV);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_docker),
		cmocka_unit_test(test_kubernetes),
		cmocka_unit_test(test_podman),
		cmocka_unit_test(test_host_units),
		cmocka_unit_test(test_not_containers),
		cmocka_unit_test(test_path_shapes),
		cmocka_unit_test(test_label),
		cmocka_unit_test(test_under),
		cmocka_unit_test(test_mountinfo),
		cmocka_unit_test(test_normalize),
		cmocka_unit_test_setup_teardown(test_cache_walk, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_cache_miss, tree_setup, tree_teardown),
		cmocka_unit_test(test_cache_none),
		cmocka_unit_test_setup_teardown(test_resolve, tree_setup, tree_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
