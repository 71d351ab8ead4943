/*
 * pool.c: the worker threads of cpu-sleef, one pool per backend context (backend.c makes it in
 * init and joins it in deinit).
 *
 * A job is "run fn(arg, t) for t = 0 .. n_tasks - 1". The caller publishes it in one 64-bit
 * word, `claim` = generation (24 bits) | n_tasks (20 bits) | next task (20 bits); every thread,
 * the caller included, takes the next task with a compare-and-swap on that word, so a task runs
 * exactly once, on whichever thread gets there first. A thread reads the job's fn, arg and base
 * only after its swap succeeded: the job cannot end before that task is done, so they are the
 * job's own. A worker that wakes late, after its job ended, finds no task in the word and never
 * touches the next job's fields by mistake (its swap of the old word fails; and were the 24-bit
 * generation ever to wrap back to the very same word, the swap would take a task that is really
 * free in the job that is really running, which is still right). Each finished task adds one to
 * `done`; the caller returns once done == n_tasks.
 *
 * Waiting: an idle worker spins on the word for CSL_POOL_SPIN_NS (pause instructions, checking
 * the clock every 64 rounds), then sleeps on a condition variable; the caller wakes sleepers
 * only when there are some (n_sleeping, a Dekker pair with the word: both sides use seq_cst).
 * The caller, once it finds no task left to take, spins the same while for the tasks still
 * running and then sleeps until the worker that finishes the last task signals it. So a busy
 * pool hands out a job in well under a microsecond (0.2-0.4 us measured, 2 to 8 empty tasks),
 * and an idle one costs no CPU after the spin; waking a sleeping worker costs the caller the
 * futex wake, about 50 us on the 2-core VMs here (a handful of times per training step).
 *
 * One job at a time: csl_parallel takes `dispatch` with trylock; a second caller (another host
 * thread running a graph on the same backend, or a task that calls csl_parallel itself) runs its
 * tasks inline, in order, instead of waiting. The results are the same either way, because what
 * a task computes never depends on which thread runs it or on how many there are.
 *
 * Nothing here allocates after csl_pool_new: the job lives in the pool, and csl_parallel_range's
 * trampoline lives on the caller's stack.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "cpu-sleef.h"

#define CSL_POOL_SPIN_NS 100000   /* spin this long (100 us) before sleeping */

#define CLAIM_BITS  20
#define CLAIM_MASK  ((UINT64_C(1) << CLAIM_BITS) - 1)
#define CLAIM_N(w)    (((w) >> CLAIM_BITS) & CLAIM_MASK)
#define CLAIM_NEXT(w) ((w) & CLAIM_MASK)

struct csl_pool {
    int32_t          n_threads;    /* workers + the caller                                 */
    int32_t          n_workers;    /* threads started                                       */
    pthread_t       *workers;
    _Atomic uint64_t claim;        /* generation | n_tasks | next (see the top)              */
    atomic_int_fast64_t done;      /* tasks finished in the current job                      */
    csl_task_fn      fn;           /* the current job: written by the caller before it       */
    void            *arg;          /*   publishes `claim`, read by a thread after it claimed */
    int64_t          base;         /*   a task (added to the task index)                     */
    uint64_t         gen;          /* jobs published (caller side, under `dispatch`)         */
    atomic_int       n_sleeping;   /* workers in (or entering) the wait on `wake`            */
    atomic_int       caller_waiting;
    atomic_int       stop;
    pthread_mutex_t  lock;         /* for the two condition variables                        */
    pthread_cond_t   wake;         /* workers sleep here                                     */
    pthread_cond_t   finished;     /* the caller sleeps here                                 */
    pthread_mutex_t  dispatch;     /* one job at a time                                      */
};

static inline void csl_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#else
    atomic_signal_fence(memory_order_seq_cst);
#endif
}

static uint64_t csl_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int csl_pool_has_task(csl_pool *p) {
    uint64_t w = atomic_load(&p->claim);
    return CLAIM_NEXT(w) < CLAIM_N(w);
}

// Take one task of the current job and run it; 0 when none is left. `caller`: the thread that
// published the job, which never needs to be told that it finished.
static int csl_pool_run_one(csl_pool *p, int caller) {
    uint64_t w = atomic_load_explicit(&p->claim, memory_order_acquire);
    for (;;) {
        uint64_t n = CLAIM_N(w), i = CLAIM_NEXT(w);
        if (i >= n) return 0;
        if (atomic_compare_exchange_weak_explicit(&p->claim, &w, w + 1, memory_order_acq_rel,
                                                  memory_order_acquire))
            break;
    }
    uint64_t n = CLAIM_N(w);
    p->fn(p->arg, p->base + (int64_t)CLAIM_NEXT(w));
    int64_t finished = atomic_fetch_add(&p->done, 1) + 1;
    if (!caller && finished == (int64_t)n && atomic_load(&p->caller_waiting)) {
        pthread_mutex_lock(&p->lock);
        pthread_cond_signal(&p->finished);
        pthread_mutex_unlock(&p->lock);
    }
    return 1;
}

static void *csl_pool_worker(void *arg) {
    csl_pool *p = arg;
    for (;;) {
        if (csl_pool_run_one(p, 0)) continue;
        if (atomic_load(&p->stop)) return NULL;
        // spin a while: jobs of one graph run come microseconds apart
        uint64_t t0 = csl_now_ns();
        int found = 0;
        for (uint32_t k = 1; !found; k++) {
            csl_cpu_relax();
            found = csl_pool_has_task(p) || atomic_load(&p->stop);
            if (!found && (k & 63) == 0 && csl_now_ns() - t0 > CSL_POOL_SPIN_NS) break;
        }
        if (found) continue;
        pthread_mutex_lock(&p->lock);
        atomic_fetch_add(&p->n_sleeping, 1);
        while (!csl_pool_has_task(p) && !atomic_load(&p->stop))
            pthread_cond_wait(&p->wake, &p->lock);
        atomic_fetch_sub(&p->n_sleeping, 1);
        pthread_mutex_unlock(&p->lock);
    }
}

csl_pool *csl_pool_new(int32_t n_threads) {
    csl_pool *p = calloc(1, sizeof *p);
    if (p == NULL) return NULL;
    if (n_threads < 1) n_threads = 1;
    p->n_threads = 1;
    atomic_init(&p->claim, 0);
    atomic_init(&p->done, 0);
    atomic_init(&p->n_sleeping, 0);
    atomic_init(&p->caller_waiting, 0);
    atomic_init(&p->stop, 0);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->finished, NULL);
    pthread_mutex_init(&p->dispatch, NULL);
    if (n_threads == 1) return p;
    p->workers = calloc((size_t)(n_threads - 1), sizeof *p->workers);
    if (p->workers == NULL) return p;   // runs everything on the caller
    // workers take no signals: the host's handlers run on its own threads
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    while (p->n_workers < n_threads - 1 &&
           pthread_create(&p->workers[p->n_workers], NULL, csl_pool_worker, p) == 0)
        p->n_workers++;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    p->n_threads = p->n_workers + 1;
    return p;
}

void csl_pool_free(csl_pool *p) {
    if (p == NULL) return;
    pthread_mutex_lock(&p->lock);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (int32_t k = 0; k < p->n_workers; k++) pthread_join(p->workers[k], NULL);
    free(p->workers);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->finished);
    pthread_mutex_destroy(&p->dispatch);
    free(p);
}

int32_t csl_pool_threads(const csl_pool *p) {
    return p != NULL ? p->n_threads : 1;
}

// one job of n tasks (1 < n <= CLAIM_MASK) numbered from base; the caller holds `dispatch`
static void csl_pool_job(csl_pool *p, csl_task_fn fn, void *arg, int64_t base, int64_t n) {
    p->fn = fn;
    p->arg = arg;
    p->base = base;
    atomic_store(&p->done, 0);
    p->gen++;
    uint64_t w = (p->gen << (2 * CLAIM_BITS)) | ((uint64_t)n << CLAIM_BITS);
    atomic_store(&p->claim, w);   // published: from here any thread may take a task
    int sleeping = atomic_load(&p->n_sleeping);
    if (sleeping > 0) {
        pthread_mutex_lock(&p->lock);
        if (sleeping >= n - 1) {
            pthread_cond_broadcast(&p->wake);
        } else {
            for (int k = 0; k < n - 1; k++) pthread_cond_signal(&p->wake);
        }
        pthread_mutex_unlock(&p->lock);
    }
    while (csl_pool_run_one(p, 1)) {
    }
    // every task is taken; wait for the ones still running elsewhere
    if (atomic_load(&p->done) == n) return;
    uint64_t t0 = csl_now_ns();
    for (uint32_t k = 1; atomic_load(&p->done) != n; k++) {
        csl_cpu_relax();
        if ((k & 63) == 0 && csl_now_ns() - t0 > CSL_POOL_SPIN_NS) break;
    }
    if (atomic_load(&p->done) == n) return;
    pthread_mutex_lock(&p->lock);
    atomic_store(&p->caller_waiting, 1);
    while (atomic_load(&p->done) != n) pthread_cond_wait(&p->finished, &p->lock);
    atomic_store(&p->caller_waiting, 0);
    pthread_mutex_unlock(&p->lock);
}

void csl_parallel(void *backend_ctx, csl_task_fn fn, void *arg, int64_t n_tasks) {
    csl_pool *p = backend_ctx != NULL ? ((csl_ctx *)backend_ctx)->pool : NULL;
    if (n_tasks <= 0) return;
    if (n_tasks == 1 || p == NULL || p->n_threads == 1 ||
        pthread_mutex_trylock(&p->dispatch) != 0) {
        for (int64_t t = 0; t < n_tasks; t++) fn(arg, t);
        return;
    }
    for (int64_t base = 0; base < n_tasks; base += (int64_t)CLAIM_MASK) {
        int64_t n = n_tasks - base < (int64_t)CLAIM_MASK ? n_tasks - base : (int64_t)CLAIM_MASK;
        if (n == 1) fn(arg, base);
        else csl_pool_job(p, fn, arg, base, n);
    }
    pthread_mutex_unlock(&p->dispatch);
}

// ---- ranges --------------------------------------------------------------------------------

typedef struct csl_range_job {
    csl_range_fn fn;
    void        *arg;
    int64_t      n, chunk;
} csl_range_job;

static void csl_range_task(void *arg, int64_t t) {
    const csl_range_job *j = arg;
    int64_t begin = t * j->chunk, end = begin + j->chunk < j->n ? begin + j->chunk : j->n;
    j->fn(j->arg, begin, end);
}

void csl_parallel_range(void *backend_ctx, csl_range_fn fn, void *arg, int64_t n, int64_t chunk) {
    if (n <= 0) return;
    if (chunk < 1) chunk = 1;
    int64_t tasks = csl_n_chunks(n, chunk);
    if (tasks == 1) {
        fn(arg, 0, n);
        return;
    }
    csl_range_job j = {.fn = fn, .arg = arg, .n = n, .chunk = chunk};
    csl_parallel(backend_ctx, csl_range_task, &j, tasks);
}
