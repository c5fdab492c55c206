/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_THREAD_H
#define TT_THREAD_H

#include <pthread.h>

/*
 * Ends a helper thread that waits on cond for *stop: sets it under lock, wakes every waiter and
 * waits for the thread to return.
 */
static inline void tt_thread_stop(pthread_t t, pthread_mutex_t *lock, pthread_cond_t *cond,
				  int *stop)
{
	pthread_mutex_lock(lock);
	*stop = 1;
	pthread_cond_broadcast(cond);
	pthread_mutex_unlock(lock);
	pthread_join(t, NULL);
}

#endif
