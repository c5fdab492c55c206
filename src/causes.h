/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_CAUSES_H
#define TT_CAUSES_H

/*
 * Why and how a connection ended, in words: the names of enum tt_cause, errno names for sk_err,
 * the kernel's reset reasons, and the totals of a final transition (TT_F_TOTALS) as JSON keys
 * and as the compact text of -e. Pure: no libbpf, unit-tested and fuzzed.
 */

#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "outbuf.h"
#include "tcptrail.h"
#include "record.h" /* totals_json(), for format.c */

/* "closed", "reset_out", ...; NULL for TT_CAUSE_NONE and values out of range. */
const char *cause_name(unsigned int cause);

/*
 * A cause by name: case-insensitive, '-' for '_' ("reset-in"), as --state takes states.
 * The cause, or -1.
 */
int cause_parse(const char *s, size_t len);

/*
 * --cause LIST: adds bit (1 << cause) of every name in the comma-separated list to *mask.
 * 0, or -1 with a one-line reason in err naming the valid causes.
 */
int cause_add_list(uint32_t *mask, const char *arg, char *err, size_t errlen);

/* The valid names, comma-separated ("closed, timewait, ..."), for messages. */
const char *cause_all_names(void);

/* "ECONNRESET" for 104: Linux's errno names; NULL for 0 and numbers without one. */
const char *errno_name(unsigned int err);

/*
 * Reset reasons. The kernel's enum sk_rst_reason is numbered differently from one kernel to
 * the next, so tt_event.reset_reason means nothing without the names of the kernel that made
 * it. One table per process: the tracer fills it from the running kernel's BTF (values as the
 * kernel has them); replay, which may read logs of several kernels, interns the names it reads
 * and gets values of its own (RST_LOG_BASE and up), which only this table knows.
 */
#define RST_NAME_MAX   48  /* with the NUL */
#define RST_KERNEL_MAX 256 /* kernel values kept: sk_rst_reason has about 25 */
#define RST_LOG_BASE   0x8000
#define RST_LOG_MAX    128 /* distinct names interned from logs */

/*
 * The kernel's name for value (without its SK_RST_REASON_ prefix). 0, or -1 when value is out
 * of the table's range or name is not a C identifier shorter than RST_NAME_MAX.
 */
int rst_reason_set(unsigned int value, const char *name, size_t len);
/* A value standing for a name read from a log; 0, or -1 (not an identifier, table full). */
int rst_reason_intern(const char *name, size_t len, uint16_t *value);
/* The name of a value from either source; NULL when it has none. */
const char *rst_reason_name(unsigned int value);
/* Forgets every name (tests and the fuzzer start from an empty table). */
void rst_reason_clear(void);

/* "340", "1.2K", "17M": n bytes in at most 5 characters (1024-based). Returns the length. */
size_t bytes_compact(char buf[8], uint64_t n);

/*
 * Whether a final transition ended in a reset (refused, reset_in, reset_out): the "reset" key
 * says so then. The kernel sends the reset of a close with unread data or SO_LINGER 0 after
 * the transition, too late for its reset flag.
 */
int totals_reset(const struct tt_event *e);

/* -e text: "reset_out" (the CAUSE column), "1.2K/340" (TX/RX; "-" for a listener). */
const char *totals_cause_text(const struct tt_event *e);
void totals_bytes_text(struct outbuf *ob, const struct tt_event *e);

#endif
