/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_CGROUP_H
#define TT_CGROUP_H

/*
 * The cgroup v2 of a socket, for people: the kernel hands us the id of the cgroup's directory
 * (its inode number on the v2 mount); this module turns it into the path relative to the mount
 * (as ss -e prints it after "cgroup:"), and the path into the container, Kubernetes pod and
 * systemd unit it names. No libbpf: parsing is pure (buffers in, values out), and the id -> path
 * cache only reads the cgroup file system.
 */
#include <stddef.h>
#include <stdint.h>

#define CG_ID_LEN    64	  /* a container id: 64 lowercase hex digits */
#define CG_SHORT_LEN 12	  /* the short id docker ps / crictl ps print */
#define CG_POD_LEN   36	  /* a pod uid as Kubernetes prints it (8-4-4-4-12) */
#define CG_UNIT_MAX  255  /* a systemd unit name is one path component */
#define CG_PATH_MAX  4096 /* PATH_MAX: longer paths are left out of the walk */

/* What a cgroup path names; "" for each part it does not. */
struct cg_ident {
	char container_id[CG_ID_LEN + 1];
	char pod[CG_POD_LEN + 1]; /* dashes, also where a systemd slice has underscores */
	char unit[CG_UNIT_MAX + 1];
};

/* A socket's cgroup as the output shows it. */
struct cg_desc {
	/*
	 * Unique for each description the cache makes, so formatters can memoise the text of a
	 * cgroup by this number alone; 0 (descriptions read from a log) is never memoised.
	 */
	uint64_t serial;
	const char *path; /* relative to the v2 mount, "/" for the root; NULL: not known */
	size_t path_len;
	struct cg_ident ident;
};

/*
 * A cgroup that is not known (id 0, no v2 mount, a cgroup removed before it was seen): every
 * key null, "-" in text. Formatters take NULL for "no cgroup keys at all" (a record of a version
 * before them, replayed as it was written).
 */
extern const struct cg_desc cg_none;

enum cg_found {
	CG_FOUND_CONTAINER = 1 << 0,
	CG_FOUND_POD = 1 << 1,
	CG_FOUND_UNIT = 1 << 2,
};

/*
 * Parses a cgroup path (len bytes, any bytes; need not be NUL-terminated) into what it names;
 * returns the CG_FOUND_* bits set in id.
 *
 * Container: the deepest component that is `docker-ID.scope`, `cri-containerd-ID.scope`,
 * `crio-ID.scope` or `libpod-ID.scope` (the `.scope` is optional: cgroupfs drivers leave it out)
 * or a bare ID (Docker's cgroupfs driver `/docker/ID`, Kubernetes' `/kubepods/.../podUID/ID`);
 * ID is 64 lowercase hex digits. The deepest wins: a pod in kind (Kubernetes in a Docker
 * container) names its own container, not the node's.
 * Pod: `kubepods...-podUID.slice` (systemd driver; underscores become dashes) or a `podUID`
 * component below one whose name contains `kubepods` (cgroupfs driver); UID is a UUID or 32 hex
 * digits (static pods).
 * Unit: the deepest `.service`, `.scope`, `.socket`, `.mount` or `.swap` component that is not a
 * container's scope: a host service (`nginx.service`), a login session (`session-3.scope`), a
 * unit inside a container that runs systemd. Slices group units and are not one.
 */
int cg_parse_path(const char *path, size_t len, struct cg_ident *id);

/*
 * The text that stands for a cgroup in a column: the container's short id, else the unit,
 * else the path; "-" for NULL or an unknown path.
 */
void cg_label(const struct cg_desc *d, const char **s, size_t *len);

/* Whether path is top or below it ("/a" is under "/a" and "/", "/a/b" under "/a", "/ab" not). */
int cg_path_under(const char *path, size_t len, const char *top, size_t toplen);

/*
 * The cgroup v2 mount point in /proc/PID/mountinfo text: of the cgroup2 mounts, the one that
 * shows the most of the hierarchy (the fewest components in its root field), the first of
 * those. Octal escapes (\040 for a space) are undone. root_depth gets the components of the
 * mount's root (0 unless a subtree is bind-mounted): cgroup levels count from the real root.
 * 0, or -1 when there is none or it does not fit in cap.
 */
int cg_mountinfo_v2(const char *text, size_t len, char *mnt, size_t cap, int *root_depth);

/* cg_mountinfo_v2() of /proc/self/mountinfo. */
int cg_find_v2_mount(char *mnt, size_t cap, int *root_depth);

/*
 * A --cgroup argument as a path relative to the v2 mount mnt: "MNT/x/y", "/x/y" and "x/y" all
 * give "/x/y"; MNT itself and "/" give "/"; a path that does not start with MNT is relative to
 * it, leading slash or not. Repeated and trailing slashes are dropped. Idempotent. *level
 * gets the number of components (the root's level is 0). mnt may be NULL (replay of another
 * machine's log: nothing to strip). 0, or -1 for "." or ".." components, or a path that does
 * not fit in cap.
 */
int cg_normalize(const char *mnt, const char *arg, char *out, size_t cap, int *level);

/*
 * The id of cgroup rel (from cg_normalize) under mnt: the inode number of its directory, as the
 * kernel names it. 0, or -errno (ENOENT, ENOTDIR; EXDEV: not on the file system of mnt).
 */
int cg_resolve(const char *mnt, const char *rel, uint64_t *id);

/*
 * id -> description, from one walk of the v2 hierarchy at the start. An id the walk did not see
 * (a cgroup made since) walks again, unless the walks so far would then take more than a tenth
 * of the time (the lookup answers NULL for now and a later one walks); an id that a walk made
 * after its first lookup did not see either is remembered as unknown (the cgroup is gone) and
 * never walks again. A lookup is otherwise one hash probe.
 */
struct cg_cache;

/* mnt: the v2 mount point (NULL: none; every lookup is NULL). NULL when out of memory. */
struct cg_cache *cg_cache_new(const char *mnt);
void cg_cache_free(struct cg_cache *c);

/*
 * The cgroup of id, or NULL (id 0, unknown, no mount). The description stays valid until the
 * next lookup (which may walk again and replace it): use it, do not keep it.
 */
const struct cg_desc *cg_cache_get(struct cg_cache *c, uint64_t id);
/* cg_cache_get() at a given CLOCK_MONOTONIC time (tests). */
const struct cg_desc *cg_cache_get_at(struct cg_cache *c, uint64_t id, uint64_t now_ns);
/* Walks of the hierarchy so far (tests, -v). */
uint64_t cg_cache_walks(const struct cg_cache *c);

#endif
