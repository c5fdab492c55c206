// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <ctype.h>
#include <string.h>
#include <linux/types.h>
#include "tcptrail.h"
#include "states.h"

static const char *const state_names[TT_STATE_MAX] = {
	[TT_ESTABLISHED] = "ESTABLISHED",
	[TT_SYN_SENT] = "SYN_SENT",
	[TT_SYN_RECV] = "SYN_RECV",
	[TT_FIN_WAIT1] = "FIN_WAIT1",
	[TT_FIN_WAIT2] = "FIN_WAIT2",
	[TT_TIME_WAIT] = "TIME_WAIT",
	[TT_CLOSE] = "CLOSE",
	[TT_CLOSE_WAIT] = "CLOSE_WAIT",
	[TT_LAST_ACK] = "LAST_ACK",
	[TT_LISTEN] = "LISTEN",
	[TT_CLOSING] = "CLOSING",
	[TT_NEW_SYN_RECV] = "NEW_SYN_RECV",
	[TT_FIN_WAIT2_TW] = "FIN_WAIT2_TW",
};

const char *tt_state_name(int state)
{
	if (state <= 0 || state >= TT_STATE_MAX)
		return "UNKNOWN";
	return state_names[state];
}

int tt_state_parse(const char *name, unsigned long len)
{
	char norm[32];

	if (len == 0 || len >= sizeof(norm))
		return -1;
	for (unsigned long i = 0; i < len; i++) {
		char c = name[i];

		if (c == '-')
			c = '_';
		norm[i] = (char)toupper((unsigned char)c);
	}
	norm[len] = '\0';
	for (int s = 1; s < TT_STATE_MAX; s++) {
		if (!strcmp(norm, state_names[s]))
			return s;
	}
	return -1;
}
