// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer target: the parsers a scraper or the command line feeds. The Accept header of any
 * request reaches prom_negotiate(); --metrics ADDR:PORT reaches prom_parse_listen(); any
 * process name reaches prom_label_value(), whose output must stay a valid label value: no raw
 * control byte, every quote and backslash escaped.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "prom.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_label(const char *s, size_t n)
{
	struct outbuf ob;

	ob_init(&ob);
	prom_label_value(&ob, s, n);
	for (size_t i = 0; i < ob.len; i++) {
		unsigned char c = (unsigned char)ob.data[i];

		if (c < 0x20 || c == 0x7f)
			abort();
		if (c == '\\') {
			/* An escape is followed by the byte it escapes. */
			if (i + 1 >= ob.len || (ob.data[i + 1] != '\\' && ob.data[i + 1] != '"'))
				abort();
			i++;
		} else if (c == '"') {
			abort();
		}
	}
	if (ob.len > 2 * PROM_LABEL_MAX * 4)
		abort();
	ob_free(&ob);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_storage sa;
	char err[256], *s;
	socklen_t len;
	int any;
	enum prom_format f = prom_negotiate((const char *)data, size);

	if (f != PROM_TEXT && f != PROM_OPENMETRICS)
		abort();
	check_label((const char *)data, size);
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (!prom_parse_listen(s, &sa, &len, &any, err, sizeof(err))) {
		if (sa.ss_family != AF_INET && sa.ss_family != AF_INET6)
			abort();
		if (any && sa.ss_family != AF_INET6)
			abort();
	} else if (!err[0]) {
		abort();
	}
	free(s);
	return 0;
}
