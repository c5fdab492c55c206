// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Why and how a connection ended, in words: cause, errno and reset reason names, totals. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "causes.h"

static const char *const cause_names[TT_CAUSE_MAX] = {
	[TT_CAUSE_CLOSED] = "closed",	  [TT_CAUSE_TIMEWAIT] = "timewait",
	[TT_CAUSE_REFUSED] = "refused",	  [TT_CAUSE_TIMEOUT] = "timeout",
	[TT_CAUSE_RESET_IN] = "reset_in", [TT_CAUSE_RESET_OUT] = "reset_out",
	[TT_CAUSE_ABORT] = "abort",	  [TT_CAUSE_LISTENER_CLOSED] = "listener_closed",
	[TT_CAUSE_UNKNOWN] = "unknown",
};

const char *cause_name(unsigned int cause)
{
	return cause < TT_CAUSE_MAX ? cause_names[cause] : NULL;
}

const char *cause_all_names(void)
{
	return "closed, timewait, refused, timeout, reset_in, reset_out, abort, listener_closed, "
	       "unknown";
}

int cause_parse(const char *s, size_t len)
{
	for (unsigned int c = 1; c < TT_CAUSE_MAX; c++) {
		const char *n = cause_names[c];
		size_t i;

		if (strlen(n) != len)
			continue;
		for (i = 0; i < len; i++) {
			char ch = s[i] == '-' ? '_' : s[i];

			if (ch >= 'A' && ch <= 'Z')
				ch = (char)(ch - 'A' + 'a');
			if (ch != n[i])
				break;
		}
		if (i == len)
			return (int)c;
	}
	return -1;
}

int cause_add_list(uint32_t *mask, const char *arg, char *err, size_t errlen)
{
	const char *p = arg;
	uint32_t m = 0;

	if (!arg || !*arg) {
		snprintf(err, errlen, "empty list (causes: %s)", cause_all_names());
		return -1;
	}
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		int c;

		if (!len) {
			snprintf(err, errlen, "empty item in list '%.40s'", arg);
			return -1;
		}
		c = cause_parse(p, len);
		if (c < 0) {
			/* The item is cut short: the list of valid names must fit in the message. */
			snprintf(err, errlen, "'%.*s' is not a cause (%s)",
				 len > 32 ? 32 : (int)len, p, cause_all_names());
			return -1;
		}
		m |= 1u << c;
		if (!comma)
			break;
		p = comma + 1;
	}
	*mask |= m;
	return 0;
}

/*
 * sk_err holds this machine's errno numbers (the kernel's, which differ between architectures),
 * so the table is built from <errno.h> itself.
 */
#define E(x) [x] = #x
static const char *const errno_names[] = {
	E(EPERM),
	E(ENOENT),
	E(ESRCH),
	E(EINTR),
	E(EIO),
	E(ENXIO),
	E(E2BIG),
	E(ENOEXEC),
	E(EBADF),
	E(ECHILD),
	E(EAGAIN),
	E(ENOMEM),
	E(EACCES),
	E(EFAULT),
	E(ENOTBLK),
	E(EBUSY),
	E(EEXIST),
	E(EXDEV),
	E(ENODEV),
	E(ENOTDIR),
	E(EISDIR),
	E(EINVAL),
	E(ENFILE),
	E(EMFILE),
	E(ENOTTY),
	E(ETXTBSY),
	E(EFBIG),
	E(ENOSPC),
	E(ESPIPE),
	E(EROFS),
	E(EMLINK),
	E(EPIPE),
	E(EDOM),
	E(ERANGE),
	E(EDEADLK),
	E(ENAMETOOLONG),
	E(ENOLCK),
	E(ENOSYS),
	E(ENOTEMPTY),
	E(ELOOP),
	E(ENOMSG),
	E(EIDRM),
	E(ECHRNG),
	E(EL2NSYNC),
	E(EL3HLT),
	E(EL3RST),
	E(ELNRNG),
	E(EUNATCH),
	E(ENOCSI),
	E(EL2HLT),
	E(EBADE),
	E(EBADR),
	E(EXFULL),
	E(ENOANO),
	E(EBADRQC),
	E(EBADSLT),
	E(EBFONT),
	E(ENOSTR),
	E(ENODATA),
	E(ETIME),
	E(ENOSR),
	E(ENONET),
	E(ENOPKG),
	E(EREMOTE),
	E(ENOLINK),
	E(EADV),
	E(ESRMNT),
	E(ECOMM),
	E(EPROTO),
	E(EMULTIHOP),
	E(EDOTDOT),
	E(EBADMSG),
	E(EOVERFLOW),
	E(ENOTUNIQ),
	E(EBADFD),
	E(EREMCHG),
	E(ELIBACC),
	E(ELIBBAD),
	E(ELIBSCN),
	E(ELIBMAX),
	E(ELIBEXEC),
	E(EILSEQ),
	E(ERESTART),
	E(ESTRPIPE),
	E(EUSERS),
	E(ENOTSOCK),
	E(EDESTADDRREQ),
	E(EMSGSIZE),
	E(EPROTOTYPE),
	E(ENOPROTOOPT),
	E(EPROTONOSUPPORT),
	E(ESOCKTNOSUPPORT),
	E(EOPNOTSUPP),
	E(EPFNOSUPPORT),
	E(EAFNOSUPPORT),
	E(EADDRINUSE),
	E(EADDRNOTAVAIL),
	E(ENETDOWN),
	E(ENETUNREACH),
	E(ENETRESET),
	E(ECONNABORTED),
	E(ECONNRESET),
	E(ENOBUFS),
	E(EISCONN),
	E(ENOTCONN),
	E(ESHUTDOWN),
	E(ETOOMANYREFS),
	E(ETIMEDOUT),
	E(ECONNREFUSED),
	E(EHOSTDOWN),
	E(EHOSTUNREACH),
	E(EALREADY),
	E(EINPROGRESS),
	E(ESTALE),
	E(EUCLEAN),
	E(ENOTNAM),
	E(ENAVAIL),
	E(EISNAM),
	E(EREMOTEIO),
	E(EDQUOT),
	E(ENOMEDIUM),
	E(EMEDIUMTYPE),
	E(ECANCELED),
	E(ENOKEY),
	E(EKEYEXPIRED),
	E(EKEYREVOKED),
	E(EKEYREJECTED),
	E(EOWNERDEAD),
	E(ENOTRECOVERABLE),
	E(ERFKILL),
	E(EHWPOISON),
};
#undef E

const char *errno_name(unsigned int err)
{
	return err < sizeof(errno_names) / sizeof(errno_names[0]) ? errno_names[err] : NULL;
}

/* ---- reset reasons: one table per process, see causes.h ---- */

static char rst_kernel[RST_KERNEL_MAX][RST_NAME_MAX];
static char rst_log[RST_LOG_MAX][RST_NAME_MAX];
static unsigned int rst_nlog;

/* A C identifier, as enumerator names are: nothing a terminal or a JSON reader could trip on. */
static int rst_name_ok(const char *name, size_t len)
{
	if (!len || len >= RST_NAME_MAX || (name[0] >= '0' && name[0] <= '9'))
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return 0;
	}
	return 1;
}

int rst_reason_set(unsigned int value, const char *name, size_t len)
{
	if (value >= RST_KERNEL_MAX || !rst_name_ok(name, len))
		return -1;
	memcpy(rst_kernel[value], name, len);
	rst_kernel[value][len] = '\0';
	return 0;
}

int rst_reason_intern(const char *name, size_t len, uint16_t *value)
{
	unsigned int i;

	if (!rst_name_ok(name, len))
		return -1;
	for (i = 0; i < rst_nlog; i++) {
		if (!strncmp(rst_log[i], name, len) && !rst_log[i][len])
			break;
	}
	if (i == rst_nlog) {
		if (rst_nlog == RST_LOG_MAX)
			return -1;
		memcpy(rst_log[i], name, len);
		rst_log[i][len] = '\0';
		rst_nlog++;
	}
	*value = (uint16_t)(RST_LOG_BASE + i);
	return 0;
}

const char *rst_reason_name(unsigned int value)
{
	if (value < RST_KERNEL_MAX)
		return rst_kernel[value][0] ? rst_kernel[value] : NULL;
	if (value >= RST_LOG_BASE && value - RST_LOG_BASE < rst_nlog)
		return rst_log[value - RST_LOG_BASE];
	return NULL;
}

void rst_reason_clear(void)
{
	memset(rst_kernel, 0, sizeof(rst_kernel));
	memset(rst_log, 0, sizeof(rst_log));
	rst_nlog = 0;
}

/* ---- totals ---- */

/* n / 1024^(u + 1), times scale, rounded to nearest */
static uint64_t in_unit(uint64_t n, int u, unsigned int scale)
{
	return (uint64_t)(((unsigned __int128)n * scale + (512ULL << (10 * u))) >> (10 * (u + 1)));
}

size_t bytes_compact(char buf[8], uint64_t n)
{
	static const char units[] = "KMGTPE";
	uint64_t tenths, whole;
	size_t len;
	int u = 0;

	if (n < 1024)
		return u64_to_dec(buf, n);
	/* the largest unit that leaves at least 1 */
	while (u < 5 && n >= (1024ULL << (10 * (u + 1))))
		u++;
	tenths = in_unit(n, u, 10);
	whole = in_unit(n, u, 1); /* rounded from n, not from tenths: no double rounding */
	if (whole >= 1024 && u < 5) {
		/* 1023.5K and up are the next unit's 1.0 */
		whole = 1;
		tenths = 10;
		u++;
	}
	if (tenths < 100) {
		buf[0] = (char)('0' + tenths / 10);
		buf[1] = '.';
		buf[2] = (char)('0' + tenths % 10);
		buf[3] = units[u];
		return 4;
	}
	len = u64_to_dec(buf, whole);
	buf[len] = units[u];
	return len + 1;
}

int totals_reset(const struct tt_event *e)
{
	return e->cause == TT_CAUSE_REFUSED || e->cause == TT_CAUSE_RESET_IN ||
	       e->cause == TT_CAUSE_RESET_OUT;
}

const char *totals_cause_text(const struct tt_event *e)
{
	const char *cause = cause_name(e->cause);

	return cause ? cause : "unknown";
}

void totals_bytes_text(struct outbuf *ob, const struct tt_event *e)
{
	char buf[8];

	if (e->oldstate == TT_LISTEN) {
		ob_putc(ob, '-');
		return;
	}
	ob_put(ob, buf, bytes_compact(buf, e->bytes_sent));
	ob_putc(ob, '/');
	ob_put(ob, buf, bytes_compact(buf, e->bytes_received));
}
