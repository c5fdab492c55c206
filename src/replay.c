// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* `tcptrail replay FILE...`: print a recording exactly as live tracing did, or summarise it. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "config.h"
#include "filter.h"
#include "format.h"
#include "html.h"
#include "jsonw.h"
#include "logread.h"
#include "outbuf.h"
#include "owners.h"
#include "parse.h"
#include "replay.h"
#include "summary.h"

#define OUT_FLUSH (64 * 1024)
#define GAPS_SAID 20 /* seq gaps said one by one; the rest are only counted */

struct replay {
	const struct config *cfg;
	struct fmt_ctx fmt;
	struct outbuf out;
	struct summary *sum;
	struct html *html; /* --html: the page's records, written at the end */
	int out_broken;
	int out_error;	 /* writing failed other than by a closed pipe: exit 1 */
	int header_done; /* text column titles, before the first event as live */
	struct lr_seq seq;
	uint64_t gaps, missing;	  /* seq gaps found, and the records they leave out */
	uint64_t records;	  /* in all the files read */
	const char **header_only; /* files of a header and no records, said if no file had any */
	int nheader_only;
	char err[512]; /* the one error, printed after everything that could be read */
};

static void flush_out(struct replay *rp)
{
	/*
	 * A buffer that lost an append to a failed allocation has a hole in it: nothing of it is
	 * written (what was flushed before stays whole) and the replay ends.
	 */
	if (rp->out.oom && !rp->out_broken) {
		if (!rp->err[0])
			snprintf(rp->err, sizeof(rp->err), "out of memory");
		rp->out_broken = 1;
		rp->out_error = 1;
	}
	if (ob_flush_fd(&rp->out, STDOUT_FILENO, &rp->out_broken))
		rp->out_error = 1;
}

static int in_time(const struct config *cfg, uint64_t wall)
{
	return (!cfg->has_since || wall >= cfg->since_ns) &&
	       (!cfg->has_until || wall < cfg->until_ns);
}

/* --pid/--comm match any holder a stuck alert names, as they did while tracing. */
static int match(const struct tt_filter *f, const struct lr_record *r)
{
	struct tt_filter rest;

	/* --cgroup: by the recorded path (the ids are another boot's), as a prefix. */
	if (!filter_match_cgroup(f, r->cg))
		return 0;
	if (!r->holders || (!f->npids && !f->ncomms))
		return filter_match(f, &r->ev);
	rest = *f;
	rest.npids = 0;
	rest.ncomms = 0;
	return filter_match(&rest, &r->ev) && owners_match(f, r->holders->recs, r->holders->n);
}

static void add_html(struct replay *rp, const struct lr_record *r, const char *line, size_t len)
{
	if (html_add(rp->html, r, line, len) && !rp->out_broken) {
		snprintf(rp->err, sizeof(rp->err), "out of memory");
		rp->out_broken = 1;
		rp->out_error = 1;
	}
}

static void record(struct replay *rp, const struct lr_record *r, const char *line, size_t len)
{
	const struct config *cfg = rp->cfg;

	switch (r->type) {
	case LR_HEADER:
	case LR_OTHER:
		/* describes the file: kept whatever the filters */
		if (rp->html)
			add_html(rp, r, line, len);
		else if (rp->sum)
			summary_add(rp->sum, r);
		else if (cfg->json) {
			ob_put(&rp->out, line, len);
			ob_putc(&rp->out, '\n');
		}
		return;
	case LR_LOST:
		if (!in_time(cfg, r->wall_ns))
			return;
		if (rp->html) {
			add_html(rp, r, line, len);
		} else if (rp->sum) {
			summary_add(rp->sum, r);
		} else if (cfg->json) {
			fmt_lost_json(&rp->out, r->wall_ns, r->lost_count, r->lost_total);
			if (r->has_seq)
				jw_line_seq(&rp->out, r->seq);
		} else {
			char tbuf[12];

			/* live tracing says this on stderr, in order with the events */
			flush_out(rp);
			fmt_time_local(&rp->fmt, r->wall_ns, tbuf);
			fprintf(stderr,
				"tcptrail: WARNING: %llu events lost (ring buffer full) at %.12s, "
				"%llu in total\n",
				(unsigned long long)r->lost_count, tbuf,
				(unsigned long long)r->lost_total);
		}
		return;
	default:
		break;
	}
	if (!in_time(cfg, r->wall_ns) || !match(&cfg->filter, r))
		return;
	if (rp->html) {
		add_html(rp, r, line, len);
		return;
	}
	if (rp->sum)
		summary_add(rp->sum, r);
	else if (cfg->json) {
		fmt_event_json(&rp->out, &rp->fmt, &r->ev, r->wall_ns, r->lsvc, r->rsvc, r->holders,
			       r->cg);
		/* as it was recorded: the number too */
		if (r->has_seq)
			jw_line_seq(&rp->out, r->seq);
	}
	if (rp->sum || cfg->json)
		return;
	if (!rp->header_done) {
		fmt_text_header(&rp->out, &rp->fmt);
		rp->header_done = 1;
	}
	if (cfg->numeric)
		fmt_event_text(&rp->out, &rp->fmt, &r->ev, r->wall_ns, NULL, NULL, r->holders,
			       r->cg);
	else
		fmt_event_text(&rp->out, &rp->fmt, &r->ev, r->wall_ns, r->lsvc, r->rsvc, r->holders,
			       r->cg);
}

/*
 * A record that does not follow the one before it in its run: said on stderr (in order with
 * the events, as lost events are), the first GAPS_SAID of them one by one.
 */
static void seq_gap(struct replay *rp, const char *name, uint64_t lineno, const struct lr_gap *g)
{
	rp->gaps++;
	if (!g->back)
		rp->missing += g->to - g->from + 1;
	if (rp->gaps > GAPS_SAID)
		return;
	flush_out(rp);
	if (g->back)
		fprintf(stderr,
			"tcptrail: %s:%llu: seq goes back from %llu to %llu: records repeated or "
			"files out of order\n",
			name, (unsigned long long)lineno, (unsigned long long)g->from,
			(unsigned long long)g->to);
	else
		fprintf(stderr, "tcptrail: %s:%llu: %llu records missing (seq %llu to %llu)%s\n",
			name, (unsigned long long)lineno, (unsigned long long)(g->to - g->from + 1),
			(unsigned long long)g->from, (unsigned long long)g->to,
			g->at_header ? " before this file: a file of the recording is missing"
				     : ": not written, or cut out of the file");
}

/* One file; 0, or -1 after printing the error. */
static int replay_file(struct replay *rp, const char *path)
{
	int is_stdin = !strcmp(path, "-");
	const char *name = is_stdin ? "stdin" : path;
	struct lr_reader *rd;
	struct lr_record rec;
	struct lr_gap gap;
	struct stat st;
	char err[256];
	const char *line;
	size_t len;
	uint64_t headers = 0, records = 0;
	int fd, r, ret = 0;

	fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(rp->err, sizeof(rp->err), "%s: %s", name, strerror(errno));
		return -1;
	}
	if (!fstat(fd, &st) && S_ISDIR(st.st_mode)) {
		snprintf(rp->err, sizeof(rp->err), "%s: %s", name, strerror(EISDIR));
		close(fd);
		return -1;
	}
	rd = lr_open_fd(fd);
	if (!rd) {
		snprintf(rp->err, sizeof(rp->err), "out of memory");
		if (!is_stdin)
			close(fd);
		return -1;
	}
	while (!rp->out_broken && (r = lr_next(rd, &line, &len, err, sizeof(err))) > 0) {
		if (lr_parse_line(line, len, &rec, err, sizeof(err))) {
			snprintf(rp->err, sizeof(rp->err), "%s:%llu: %s", name,
				 (unsigned long long)lr_lineno(rd), err);
			ret = -1;
			break;
		}
		if (rec.type == LR_HEADER)
			headers++;
		else
			records++;
		if (lr_seq_check(&rp->seq, &rec, &gap))
			seq_gap(rp, name, lr_lineno(rd), &gap);
		record(rp, &rec, line, len);
		if (rp->out.len >= OUT_FLUSH)
			flush_out(rp);
	}
	if (!ret && !rp->out_broken && r < 0) {
		snprintf(rp->err, sizeof(rp->err), "%s:%llu: %s", name,
			 (unsigned long long)lr_lineno(rd) + 1, err);
		ret = -1;
	}
	rp->records += records;
	if (!ret && !rp->out_broken && !records) {
		/*
		 * Silence would look like "nothing happened". tcptrail writes the header as soon
		 * as it starts, so a file without one is not a recording at all (a wrong or
		 * truncated file, /dev/null): said now. A header alone is a recording of no
		 * events, said at the end unless other files had records: the newest file of a
		 * rotated set may hold just its header.
		 */
		flush_out(rp);
		if (!headers)
			fprintf(stderr,
				"tcptrail: %s: no records, and no header: empty input, "
				"not a recording\n",
				name);
		else
			rp->header_only[rp->nheader_only++] = name;
	}
	lr_free(rd);
	if (!is_stdin)
		close(fd);
	return ret;
}

/*
 * TCPTRAIL_SUMMARY_MEM=BYTES lowers the summary's memory bound, so that tests reach it with a
 * small log. Not an option: it can only lower the documented bound, never raise it.
 */
static size_t summary_mem_env(void)
{
	return (size_t)parse_env_bound("TCPTRAIL_SUMMARY_MEM", 0, SUMMARY_MEM_MAX, 0);
}

/*
 * --html FILE: the page goes to a temporary file beside FILE, renamed over it once it is
 * whole, so FILE is never half a page. "-" is standard output. 0, or -1 after saying why.
 */
static int write_html(struct replay *rp, const char *path)
{
	struct outbuf ob;
	char *tmp = NULL, *slash;
	mode_t mask;
	int fd = -1, ret = -1;

	ob_init(&ob);
	html_write(rp->html, &ob);
	if (ob.oom) {
		fprintf(stderr, "tcptrail: out of memory\n");
		goto out;
	}
	if (!strcmp(path, "-")) {
		ret = ob_flush_fd(&ob, STDOUT_FILENO, &rp->out_broken);
		goto out;
	}
	slash = strrchr(path, '/');
	if (asprintf(&tmp, "%.*s.%s.XXXXXX", slash ? (int)(slash - path + 1) : 0, path,
		     slash ? slash + 1 : path) < 0) {
		tmp = NULL;
		fprintf(stderr, "tcptrail: out of memory\n");
		goto out;
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		fprintf(stderr, "tcptrail: %s: cannot create %s: %s\n", path, tmp, strerror(errno));
		goto out;
	}
	/* mkstemp's 0600, widened to what the umask allows for a new file */
	mask = umask(0);
	umask(mask);
	if (fchmod(fd, 0666 & ~mask) || ob_write_fd(fd, ob.data, ob.len) || fsync(fd) ||
	    close(fd)) {
		fprintf(stderr, "tcptrail: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
		unlink(tmp);
		goto out;
	}
	fd = -1;
	if (rename(tmp, path)) {
		fprintf(stderr, "tcptrail: %s: %s\n", path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	ret = 0;
out:
	free(tmp);
	ob_free(&ob);
	return ret;
}

int run_replay(const struct config *cfg, const struct services *svc)
{
	struct replay rp;
	int ret = 0;

	memset(&rp, 0, sizeof(rp));
	rp.cfg = cfg;
	lr_seq_init(&rp.seq);
	fmt_ctx_init(&rp.fmt, cfg->extended);
	ob_init(&rp.out);
	signal(SIGPIPE, SIG_IGN);
	if (cfg->summary) {
		rp.sum = summary_new_opts(&(struct summary_opts){.mem_max = summary_mem_env()});
		if (!rp.sum) {
			fprintf(stderr, "tcptrail: out of memory\n");
			return 1;
		}
	}
	if (cfg->html_path) {
		rp.html = html_new(&(struct html_opts){.numeric = cfg->numeric});
		if (!rp.html) {
			fprintf(stderr, "tcptrail: out of memory\n");
			return 1;
		}
	}
	rp.header_only = calloc(cfg->nfiles ? cfg->nfiles : 1, sizeof(*rp.header_only));
	if (!rp.header_only) {
		fprintf(stderr, "tcptrail: out of memory\n");
		summary_free(rp.sum);
		html_free(rp.html);
		return 1;
	}
	for (int i = 0; i < cfg->nfiles && !rp.out_broken; i++) {
		if (replay_file(&rp, cfg->files[i])) {
			ret = 1;
			break;
		}
	}
	for (int i = 0; !rp.records && i < rp.nheader_only; i++)
		fprintf(stderr,
			"tcptrail: %s: no records: a recording with a header and no events\n",
			rp.header_only[i]);
	free(rp.header_only);
	if (rp.sum) {
		if (cfg->json)
			summary_json(rp.sum, &rp.out);
		else
			summary_text(rp.sum, &rp.out, cfg->numeric);
		summary_free(rp.sum);
	}
	if (rp.html) {
		/* the page of everything that could be read, as replay prints it, unless memory ran out */
		if (!rp.out_error && write_html(&rp, cfg->html_path))
			ret = 1;
		html_free(rp.html);
	}
	flush_out(&rp);
	if (rp.gaps > GAPS_SAID)
		fprintf(stderr, "tcptrail: %llu seq gaps in all (%llu records missing)\n",
			(unsigned long long)rp.gaps, (unsigned long long)rp.missing);
	if (rp.out_error)
		ret = 1;
	ob_free(&rp.out);
	if (rp.err[0])
		fprintf(stderr, "tcptrail: %s\n", rp.err);
	return ret;
}
