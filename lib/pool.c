/* pool.c -- worker threads for the round's virtual cores (pool.h).
 *
 * One mutex and two condition variables.  A step is published by bumping
 * `gen` with the job function, its argument and the job count; workers
 * (and the caller) take job numbers from an atomic counter until it runs
 * past njobs, then report with `active`.  The caller waits until every
 * worker has left the step, so the next step cannot overlap it. */
#include "pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

struct icxPool {
  icxAllocator alloc;
  pthread_mutex_t mu;
  pthread_cond_t go;   /* workers wait here for a new step (or stop) */
  pthread_cond_t done; /* the caller waits here for the workers */
  uint64_t gen;        /* step number, under mu */
  int stop;            /* under mu */
  uint32_t active;     /* workers still inside the current step, under mu */
  void (*fn)(void *ud, uint32_t job);
  void *ud;
  uint32_t njobs;
  _Atomic uint32_t next; /* next job number to take */
  uint32_t nworkers;
  pthread_t *workers;
};

static void take_jobs(icxPool *p) {
  for (;;) {
    uint32_t j = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
    if (j >= p->njobs) return;
    p->fn(p->ud, j);
  }
}

static void *worker_main(void *arg) {
  icxPool *p = arg;
  uint64_t seen = 0;
  pthread_mutex_lock(&p->mu);
  for (;;) {
    while (!p->stop && p->gen == seen) pthread_cond_wait(&p->go, &p->mu);
    if (p->stop) break;
    seen = p->gen;
    pthread_mutex_unlock(&p->mu);
    take_jobs(p);
    pthread_mutex_lock(&p->mu);
    if (--p->active == 0) pthread_cond_signal(&p->done);
  }
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

uint32_t icxPool_threads(const icxPool *p) { return p ? p->nworkers + 1 : 1; }

static void stop_workers(icxPool *p, uint32_t started) {
  pthread_mutex_lock(&p->mu);
  p->stop = 1;
  pthread_cond_broadcast(&p->go);
  pthread_mutex_unlock(&p->mu);
  for (uint32_t i = 0; i < started; i++) pthread_join(p->workers[i], NULL);
}

icx_status icxPool_new(const icxAllocator *a, uint32_t threads, icxPool **out, icxErr *err) {
  *out = NULL;
  if (threads == 0 || threads > ICX_POOL_MAX_THREADS)
    return icxErr_set(err, ICX_EINVAL, "pool: %u threads (1 to %u)", (unsigned)threads,
                      ICX_POOL_MAX_THREADS);
  icxPool *p = icxCore_alloc(a, sizeof *p);
  if (!p) return icxErr_set(err, ICX_ENOMEM, "pool: out of memory");
  memset(p, 0, sizeof *p);
  p->alloc = *a;
  p->nworkers = threads - 1;
  atomic_init(&p->next, 0);
  if (p->nworkers) {
    p->workers = icxCore_allocn(a, p->nworkers, sizeof *p->workers);
    if (!p->workers) {
      icxCore_free(a, p, sizeof *p);
      return icxErr_set(err, ICX_ENOMEM, "pool: out of memory");
    }
  }
  if (pthread_mutex_init(&p->mu, NULL) != 0) goto fail_mu;
  if (pthread_cond_init(&p->go, NULL) != 0) goto fail_go;
  if (pthread_cond_init(&p->done, NULL) != 0) goto fail_done;
  for (uint32_t i = 0; i < p->nworkers; i++) {
    if (pthread_create(&p->workers[i], NULL, worker_main, p) != 0) {
      stop_workers(p, i);
      pthread_cond_destroy(&p->done);
      goto fail_done;
    }
  }
  *out = p;
  return ICX_OK;
fail_done:
  pthread_cond_destroy(&p->go);
fail_go:
  pthread_mutex_destroy(&p->mu);
fail_mu:
  if (p->workers) icxCore_free(a, p->workers, (size_t)p->nworkers * sizeof *p->workers);
  icxCore_free(a, p, sizeof *p);
  return icxErr_set(err, ICX_EINTERNAL, "pool: cannot start %u worker threads",
                    (unsigned)(threads - 1));
}

void icxPool_free(icxPool *p) {
  if (!p) return;
  stop_workers(p, p->nworkers);
  pthread_cond_destroy(&p->done);
  pthread_cond_destroy(&p->go);
  pthread_mutex_destroy(&p->mu);
  icxAllocator a = p->alloc;
  if (p->workers) icxCore_free(&a, p->workers, (size_t)p->nworkers * sizeof *p->workers);
  icxCore_free(&a, p, sizeof *p);
}

void icxPool_run(icxPool *p, uint32_t njobs, void (*fn)(void *ud, uint32_t job), void *ud) {
  if (njobs == 0) return;
  if (!p || p->nworkers == 0 || njobs == 1) {
    for (uint32_t j = 0; j < njobs; j++) fn(ud, j);
    return;
  }
  pthread_mutex_lock(&p->mu);
  p->fn = fn;
  p->ud = ud;
  p->njobs = njobs;
  atomic_store_explicit(&p->next, 0, memory_order_relaxed);
  p->active = p->nworkers;
  p->gen++;
  pthread_cond_broadcast(&p->go);
  pthread_mutex_unlock(&p->mu);
  take_jobs(p);
  pthread_mutex_lock(&p->mu);
  while (p->active) pthread_cond_wait(&p->done, &p->mu);
  pthread_mutex_unlock(&p->mu);
}
