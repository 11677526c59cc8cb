/* pool.h -- a small fixed pool of worker threads (pthreads) that runs the
 * jobs 0..n-1 of one parallel step and returns when all are done.  The
 * calling thread takes jobs too, so a pool of T threads has T - 1 workers.
 *
 * Used by the round scheduler to run its virtual cores (round.c).  Which
 * thread runs which job is not deterministic; the callers make the results
 * independent of it (each job touches only its own data).
 *
 * Threading: icxPool_run is called by one thread at a time (the owner's);
 * icxPool_new/free by the owner. */
#ifndef ICX_POOL_H
#define ICX_POOL_H

#include "core.h"

typedef struct icxPool icxPool;

/* A pool running jobs on `threads` threads (the caller + threads - 1
 * workers; threads >= 1, at most ICX_POOL_MAX_THREADS).  ICX_ENOMEM,
 * ICX_EINTERNAL (a thread could not be started; nothing is left running). */
#define ICX_POOL_MAX_THREADS 256u
ICX_INTERNAL icx_status icxPool_new(const icxAllocator *a, uint32_t threads, icxPool **out,
                                    icxErr *err);
/* Stop and join the workers, free the pool.  NULL: no-op. */
ICX_INTERNAL void icxPool_free(icxPool *p);
ICX_INTERNAL uint32_t icxPool_threads(const icxPool *p);

/* Run fn(ud, j) for every j in 0..njobs-1, spread over the pool's threads;
 * returns when every call has returned.  A pool of one thread (or p NULL)
 * runs the jobs in order on the calling thread. */
ICX_INTERNAL void icxPool_run(icxPool *p, uint32_t njobs, void (*fn)(void *ud, uint32_t job),
                              void *ud);

#endif
