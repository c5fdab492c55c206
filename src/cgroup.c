// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* cgroup v2 ids -> paths -> container, pod, unit. Pure parsing plus a cache of one walk. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include "cgroup.h"

const struct cg_desc cg_none;

/* ---- parsing ---- */

static int is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static int all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!is_hex(s[i]))
			return 0;
	}
	return 1;
}

static int has_suffix(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);

	return n > k && !memcmp(s + n - k, suffix, k);
}

static int has_prefix(const char *s, size_t n, const char *prefix)
{
	size_t k = strlen(prefix);

	return n >= k && !memcmp(s, prefix, k);
}

/* The container id a component names, if any (see cg_parse_path). */
static const char *container_in(const char *c, size_t n)
{
	/* Runtimes that put each container in a cgroup (systemd scope) named after its id. */
	static const char *const runtimes[] = {"docker-", "cri-containerd-", "crio-", "libpod-"};

	if (n == CG_ID_LEN && all_hex(c, n))
		return c;
	if (has_suffix(c, n, ".scope"))
		n -= strlen(".scope");
	for (size_t i = 0; i < sizeof(runtimes) / sizeof(runtimes[0]); i++) {
		size_t k = strlen(runtimes[i]);

		if (n == k + CG_ID_LEN && has_prefix(c, n, runtimes[i]) &&
		    all_hex(c + k, CG_ID_LEN))
			return c + k;
	}
	return NULL;
}

/*
 * A pod uid: a UUID (dashes, or the underscores systemd slices need) or 32 hex digits. out is
 * only written when it is one: a shallower pod stays when a deeper name is not.
 */
static int pod_uid(const char *u, size_t n, char out[CG_POD_LEN + 1])
{
	char buf[CG_POD_LEN + 1];

	if (n == 32 && all_hex(u, n)) {
		memcpy(out, u, n);
		out[n] = '\0';
		return 1;
	}
	if (n != CG_POD_LEN)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (u[i] != '-' && u[i] != '_')
				return 0;
			buf[i] = '-';
		} else if (is_hex(u[i])) {
			buf[i] = u[i];
		} else {
			return 0;
		}
	}
	buf[n] = '\0';
	memcpy(out, buf, sizeof(buf));
	return 1;
}

/*
 * The pod uid a component names: `kubepods[-QOS]-podUID.slice` (systemd driver, also kind's
 * `kubelet-kubepods-...`), or `podUID` below a kubepods cgroup (cgroupfs driver).
 */
static int pod_in(const char *c, size_t n, int below_kubepods, char out[CG_POD_LEN + 1])
{
	if (has_suffix(c, n, ".slice")) {
		size_t end = n - strlen(".slice");

		for (size_t i = end; i >= 4; i--) {
			if (memcmp(c + i - 4, "-pod", 4))
				continue;
			return memmem(c, i - 4, "kubepods", 8) && pod_uid(c + i, end - i, out);
		}
		return 0;
	}
	return below_kubepods && has_prefix(c, n, "pod") && pod_uid(c + 3, n - 3, out);
}

/* Whether a component is a systemd unit that holds processes (slices only group units). */
static int unit_in(const char *c, size_t n)
{
	static const char *const types[] = {".service", ".scope", ".socket", ".mount", ".swap"};

	if (n > CG_UNIT_MAX || memchr(c, '\0', n))
		return 0;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (has_suffix(c, n, types[i]))
			return 1;
	}
	return 0;
}

int cg_parse_path(const char *path, size_t len, struct cg_ident *id)
{
	int found = 0, below_kubepods = 0;
	size_t i = 0;

	memset(id, 0, sizeof(*id));
	while (i < len) {
		const char *c, *cid;
		size_t n = 0;

		while (i < len && path[i] == '/')
			i++;
		c = path + i;
		while (i < len && path[i] != '/') {
			i++;
			n++;
		}
		if (!n)
			break;
		/* Deeper components override: the innermost container, pod and unit win. */
		cid = container_in(c, n);
		if (cid) {
			memcpy(id->container_id, cid, CG_ID_LEN);
			id->container_id[CG_ID_LEN] = '\0';
			found |= CG_FOUND_CONTAINER;
		} else if (unit_in(c, n)) {
			memcpy(id->unit, c, n);
			id->unit[n] = '\0';
			found |= CG_FOUND_UNIT;
		}
		if (pod_in(c, n, below_kubepods, id->pod))
			found |= CG_FOUND_POD;
		if (memmem(c, n, "kubepods", 8))
			below_kubepods = 1;
	}
	return found;
}

void cg_label(const struct cg_desc *d, const char **s, size_t *len)
{
	if (d && d->ident.container_id[0]) {
		*s = d->ident.container_id;
		*len = strnlen(d->ident.container_id, CG_SHORT_LEN);
	} else if (d && d->ident.unit[0]) {
		*s = d->ident.unit;
		*len = strlen(d->ident.unit);
	} else if (d && d->path) {
		*s = d->path;
		*len = d->path_len;
	} else {
		*s = "-";
		*len = 1;
	}
}

int cg_path_under(const char *path, size_t len, const char *top, size_t toplen)
{
	if (toplen == 1 && top[0] == '/')
		return len >= 1 && path[0] == '/';
	return len >= toplen && !memcmp(path, top, toplen) &&
	       (len == toplen || path[toplen] == '/');
}

/* ---- finding the v2 mount ---- */

/* The next space-separated field of a mountinfo line; 0 at the end of the line. */
static int next_field(const char **p, const char *end, const char **f, size_t *n)
{
	while (*p < end && **p == ' ')
		(*p)++;
	if (*p >= end)
		return 0;
	*f = *p;
	while (*p < end && **p != ' ')
		(*p)++;
	*n = (size_t)(*p - *f);
	return 1;
}

/* A mountinfo field with its \ooo escapes undone, into out; -1 if it does not fit. */
static int unescape(const char *f, size_t n, char *out, size_t cap)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		char ch = f[i];

		if (ch == '\\' && i + 3 < n && f[i + 1] >= '0' && f[i + 1] <= '3' &&
		    f[i + 2] >= '0' && f[i + 2] <= '7' && f[i + 3] >= '0' && f[i + 3] <= '7') {
			ch = (char)((f[i + 1] - '0') * 64 + (f[i + 2] - '0') * 8 +
				    (f[i + 3] - '0'));
			i += 3;
		}
		if (ch == '\0' || k + 1 >= cap)
			return -1;
		out[k++] = ch;
	}
	if (k >= cap)
		return -1;
	out[k] = '\0';
	return 0;
}

static int components(const char *s)
{
	int n = 0;

	for (; *s; s++) {
		if (*s != '/' && (s[1] == '/' || s[1] == '\0'))
			n++;
	}
	return n;
}

int cg_mountinfo_v2(const char *text, size_t len, char *mnt, size_t cap, int *root_depth)
{
	const char *line = text, *end = text + len;
	int best = -1;

	while (line < end) {
		const char *eol = memchr(line, '\n', (size_t)(end - line));
		const char *p = line, *f, *root = NULL, *point = NULL;
		size_t n, root_len = 0, point_len = 0;
		int field = 0, dash = 0;

		if (!eol)
			eol = end;
		/* id parent major:minor root mountpoint options [optional...] - fstype source ... */
		while (next_field(&p, eol, &f, &n)) {
			if (field == 3) {
				root = f;
				root_len = n;
			} else if (field == 4) {
				point = f;
				point_len = n;
			} else if (field > 5 && !dash && n == 1 && f[0] == '-') {
				dash = 1;
			} else if (dash) {
				char rbuf[CG_PATH_MAX], pbuf[CG_PATH_MAX];
				int depth;

				if (n != 7 || memcmp(f, "cgroup2", 7) || !point ||
				    unescape(root, root_len, rbuf, sizeof(rbuf)) ||
				    unescape(point, point_len, pbuf, sizeof(pbuf)) ||
				    pbuf[0] != '/' || strlen(pbuf) >= cap)
					break;
				depth = components(rbuf);
				if (best < 0 || depth < best) {
					strcpy(mnt, pbuf);
					best = depth;
					if (root_depth)
						*root_depth = depth;
				}
				break;
			}
			field++;
		}
		line = eol + 1;
	}
	return best < 0 ? -1 : 0;
}

int cg_find_v2_mount(char *mnt, size_t cap, int *root_depth)
{
	char *buf = NULL;
	size_t len = 0, bufcap = 0;
	int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return -1;
	for (;;) {
		ssize_t r;

		if (len + 4096 > bufcap) {
			char *nb = realloc(buf, bufcap ? bufcap * 2 : 16384);

			if (!nb) {
				free(buf);
				close(fd);
				return -1;
			}
			buf = nb;
			bufcap = bufcap ? bufcap * 2 : 16384;
		}
		r = read(fd, buf + len, bufcap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	ret = buf ? cg_mountinfo_v2(buf, len, mnt, cap, root_depth) : -1;
	free(buf);
	return ret;
}

/* ---- --cgroup arguments ---- */

/* Appends arg's components to out ("/a/b"), collapsing slashes; -1 for . and .. or no room. */
static int put_components(const char *arg, char *out, size_t cap, size_t *len, int *level)
{
	const char *p = arg;

	while (*p) {
		const char *c;
		size_t n;

		while (*p == '/')
			p++;
		c = p;
		while (*p && *p != '/')
			p++;
		n = (size_t)(p - c);
		if (!n)
			break;
		/* A cgroup path is walked in the kernel by ids, where ".." means nothing. */
		if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return -1;
		if (*len + 1 + n + 1 > cap)
			return -1;
		out[(*len)++] = '/';
		memcpy(out + *len, c, n);
		*len += n;
		(*level)++;
	}
	return 0;
}

int cg_normalize(const char *mnt, const char *arg, char *out, size_t cap, int *level)
{
	char m[CG_PATH_MAX];
	size_t len = 0, mlen = 0;
	int lv = 0, mlv = 0;

	if (!arg || cap < 2 || put_components(arg, out, cap, &len, &lv))
		return -1;
	out[len] = '\0';
	/* Strip the mount point from a path under it (compared component-wise). */
	if (mnt && !put_components(mnt, m, sizeof(m), &mlen, &mlv) && mlen &&
	    cg_path_under(out, len, m, mlen)) {
		memmove(out, out + mlen, len - mlen + 1);
		len -= mlen;
		lv -= mlv;
	}
	if (!len) {
		out[0] = '/';
		out[1] = '\0';
	}
	*level = lv;
	return 0;
}

int cg_resolve(const char *mnt, const char *rel, uint64_t *id)
{
	char full[CG_PATH_MAX * 2];
	struct stat mst, st;

	if (stat(mnt, &mst))
		return -errno;
	snprintf(full, sizeof(full), "%s%s", mnt, strcmp(rel, "/") ? rel : "");
	if (stat(full, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (st.st_dev != mst.st_dev)
		return -EXDEV;
	*id = (uint64_t)st.st_ino;
	return 0;
}

/* ---- the id -> path cache ---- */

#define CG_MAX_CGROUPS	   (1u << 20) /* a walk stops here: memory stays bounded */
#define CG_NEG_SLOTS	   1024	      /* ids known to be gone, direct-mapped */
#define CG_WALK_GAP_FACTOR 9	      /* idle time after a walk, in walk durations */
#define CG_WALK_MIN_NS	   1000

struct cg_node {
	uint64_t id; /* 0: the directory vanished during the walk */
	uint32_t off;
	uint32_t len;
	struct cg_desc *desc; /* made at the first lookup */
};

struct cg_cache {
	char *mnt;
	struct cg_node *nodes;
	size_t n;
	uint32_t *slots; /* node index + 1; 0 empty */
	size_t mask;
	char *pool; /* NUL-terminated paths */
	uint64_t neg[CG_NEG_SLOTS];
	uint64_t next_walk_ns;
	uint64_t walks;
	uint64_t serial;
};

struct walk {
	struct cg_node *nodes;
	size_t n, cap;
	char *pool;
	size_t len, pool_cap;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static size_t slot_of(uint64_t id, size_t mask)
{
	return (size_t)((id * 0x9e3779b97f4a7c15ULL) >> 32) & mask;
}

/* Adds parent's path + "/" + name (or "/" for the root: parent < 0). -1 when out of room. */
static int walk_add(struct walk *w, long parent, const char *name, size_t nlen)
{
	size_t plen = parent < 0 ? 0 : w->nodes[parent].len, need;
	struct cg_node *node;

	if (parent >= 0 && plen == 1)
		plen = 0; /* the root's "/" is not repeated */
	need = plen + 1 + nlen + 1;
	if (w->n >= CG_MAX_CGROUPS || need > CG_PATH_MAX)
		return -1;
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 256;
		struct cg_node *nn = realloc(w->nodes, cap * sizeof(*nn));

		if (!nn)
			return -1;
		w->nodes = nn;
		w->cap = cap;
	}
	if (w->len + need > w->pool_cap) {
		size_t cap = w->pool_cap ? w->pool_cap * 2 : 16384;
		char *np;

		while (cap < w->len + need)
			cap *= 2;
		if (cap > UINT32_MAX || !(np = realloc(w->pool, cap)))
			return -1;
		w->pool = np;
		w->pool_cap = cap;
	}
	node = &w->nodes[w->n];
	memset(node, 0, sizeof(*node));
	node->off = (uint32_t)w->len;
	if (plen)
		memcpy(w->pool + w->len, w->pool + w->nodes[parent].off, plen);
	w->pool[w->len + plen] = '/';
	memcpy(w->pool + w->len + plen + 1, name, nlen);
	node->len = (uint32_t)(plen + 1 + nlen);
	w->pool[w->len + node->len] = '\0';
	w->len += node->len + 1;
	w->n++;
	return 0;
}

/* Opens node i's directory and queues its subdirectories; fills the node's id. */
static void walk_dir(struct walk *w, int root, dev_t dev, size_t i)
{
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd;

	if (i == 0)
		fd = openat(root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	else
		fd = openat(root, w->pool + w->nodes[i].off + 1,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return; /* removed since its parent was read */
	if (fstat(fd, &st) || st.st_dev != dev) {
		close(fd);
		return;
	}
	w->nodes[i].id = (uint64_t)st.st_ino;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d))) {
		size_t nlen = strlen(de->d_name);

		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (de->d_type == DT_UNKNOWN &&
		    (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) ||
		     !S_ISDIR(st.st_mode)))
			continue;
		walk_add(w, (long)i, de->d_name, nlen);
	}
	closedir(d);
}

static void free_nodes(struct cg_node *nodes, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(nodes[i].desc);
	free(nodes);
}

/* One walk of the whole hierarchy, replacing the table; the old one stays if it fails. */
static int walk(struct cg_cache *c)
{
	struct walk w = {0};
	struct stat st;
	uint32_t *slots;
	size_t nslots = 64;
	int root;

	c->walks++;
	root = open(c->mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return -1;
	if (fstat(root, &st) || walk_add(&w, -1, "", 0)) {
		close(root);
		free(w.nodes);
		free(w.pool);
		return -1;
	}
	/* Breadth first, the node array being the queue: no recursion, one fd at a time. */
	for (size_t i = 0; i < w.n; i++)
		walk_dir(&w, root, st.st_dev, i);
	close(root);
	while (nslots < w.n * 2)
		nslots *= 2;
	slots = calloc(nslots, sizeof(*slots));
	if (!slots) {
		free(w.nodes);
		free(w.pool);
		return -1;
	}
	for (size_t i = 0; i < w.n; i++) {
		size_t s;

		if (!w.nodes[i].id)
			continue;
		for (s = slot_of(w.nodes[i].id, nslots - 1); slots[s]; s = (s + 1) & (nslots - 1)) {
			if (w.nodes[slots[s] - 1].id == w.nodes[i].id)
				break;
		}
		if (!slots[s])
			slots[s] = (uint32_t)(i + 1);
	}
	free_nodes(c->nodes, c->n);
	free(c->slots);
	free(c->pool);
	c->nodes = w.nodes;
	c->n = w.n;
	c->pool = w.pool;
	c->slots = slots;
	c->mask = nslots - 1;
	return 0;
}

static struct cg_node *find(const struct cg_cache *c, uint64_t id)
{
	if (!c->slots)
		return NULL;
	for (size_t s = slot_of(id, c->mask); c->slots[s]; s = (s + 1) & c->mask) {
		struct cg_node *node = &c->nodes[c->slots[s] - 1];

		if (node->id == id)
			return node;
	}
	return NULL;
}

static const struct cg_desc *desc_of(struct cg_cache *c, struct cg_node *node)
{
	struct cg_desc *d = node->desc;

	if (d)
		return d;
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->serial = ++c->serial;
	d->path = c->pool + node->off;
	d->path_len = node->len;
	/* Parsed once per cgroup, at its first lookup: most cgroups never have a socket. */
	cg_parse_path(d->path, d->path_len, &d->ident);
	node->desc = d;
	return d;
}

struct cg_cache *cg_cache_new(const char *mnt)
{
	struct cg_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	if (mnt) {
		c->mnt = strdup(mnt);
		if (!c->mnt) {
			free(c);
			return NULL;
		}
		walk(c);
	}
	return c;
}

void cg_cache_free(struct cg_cache *c)
{
	if (!c)
		return;
	free_nodes(c->nodes, c->n);
	free(c->slots);
	free(c->pool);
	free(c->mnt);
	free(c);
}

const struct cg_desc *cg_cache_get_at(struct cg_cache *c, uint64_t id, uint64_t now_ns)
{
	struct cg_node *node;
	uint64_t *neg, start, took;

	if (!c || !c->mnt || !id)
		return NULL;
	node = find(c, id);
	if (node)
		return desc_of(c, node);
	neg = &c->neg[slot_of(id, CG_NEG_SLOTS - 1)];
	if (*neg == id || now_ns < c->next_walk_ns)
		return NULL;
	start = mono_ns();
	walk(c);
	took = mono_ns() - start;
	if (took < CG_WALK_MIN_NS)
		took = CG_WALK_MIN_NS;
	/* Walks take at most a tenth of the time, however many unknown ids come. */
	c->next_walk_ns = now_ns + took + CG_WALK_GAP_FACTOR * took;
	node = find(c, id);
	if (node)
		return desc_of(c, node);
	/* The socket outlived its cgroup: ids are not reused, so it stays unknown. */
	*neg = id;
	return NULL;
}

const struct cg_desc *cg_cache_get(struct cg_cache *c, uint64_t id)
{
	struct cg_node *node;

	if (!c || !c->mnt || !id)
		return NULL;
	/* The clock only on a miss: a hit, every event but a cgroup's first, is one probe. */
	node = find(c, id);
	if (node)
		return desc_of(c, node);
	return cg_cache_get_at(c, id, mono_ns());
}

uint64_t cg_cache_walks(const struct cg_cache *c)
{
	return c ? c->walks : 0;
}
