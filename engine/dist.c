/*
 * dist.c: the MPI collectives of data-parallel training (see dist.h).
 *
 * Every collective is the non-blocking form (MPI_Ibcast, MPI_Iallreduce, MPI_Igather) waited on
 * by a loop of MPI_Test with a deadline: a blocking call has no timeout, so a rank that was
 * stopped, or a launcher that does not kill the job when a rank dies, would hang the others
 * forever (see wait_done).
 */
#define _POSIX_C_SOURCE 200809L   /* nanosleep */
#include "dist.h"
#include "util.h"

#include <gexec/plugin-helpers.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef GX_HAVE_MPI
#include <mpi.h>
#endif

struct gx_dist {
    int     rank, size;
    double  timeout_s;
    double  wait_s;       /* time in wait_done */
};

int gx_dist_rank(const gx_dist *g) { return g ? g->rank : 0; }
int gx_dist_size(const gx_dist *g) { return g ? g->size : 1; }
double gx_dist_wait_seconds(const gx_dist *g) { return g ? g->wait_s : 0; }

typedef struct bucket {
    int32_t first, count;    /* gradients order[first .. first + count) */
    int64_t off, numel;      /* elements into buf, extras included (last bucket)   */
    int32_t missing;         /* gradients not in yet this step                       */
    int     started, done;
#ifdef GX_HAVE_MPI
    MPI_Request req;
#endif
} bucket;

struct gx_dist_grads {
    gx_dist *g;
    int      dtype;
    size_t   esize;
    int32_t  n, n_buckets, n_extra;
    int32_t *order;          /* gradients in ready order                  */
    int32_t *bucket_of;      /* per gradient                              */
    int64_t *off, *numel;    /* per gradient: elements into buf, count    */
    bucket  *b;
    void    *buf;
    int64_t  total;          /* elements in buf                           */
};

int32_t gx_dist_grads_order_at(const gx_dist_grads *b, int32_t k) { return b->order[k]; }
int32_t gx_dist_grads_n_buckets(const gx_dist_grads *b) { return b->n_buckets; }
size_t gx_dist_grads_bytes(const gx_dist_grads *b) { return (size_t)b->total * b->esize; }
void *gx_dist_grads_slot(gx_dist_grads *b, int32_t i) {
    return (char *)b->buf + (size_t)b->off[i] * b->esize;
}

void gx_dist_grads_free(gx_dist_grads *b) {
    if (b == NULL) return;
    gx_free(b->order);
    gx_free(b->bucket_of);
    gx_free(b->off);
    gx_free(b->numel);
    gx_free(b->b);
    gx_free(b->buf);
    gx_free(b);
}

/* Bucket layout, the same with or without MPI (the tests check it in any build). */
gx_status gx_dist_grads_new(gx_dist *g, int32_t n, const int64_t *numel, int dtype,
                            const int32_t *ready_step, size_t bucket_bytes, int32_t n_extra,
                            gx_dist_grads **out, gx_diag *d) {
    *out = NULL;
    if (dtype != GX_DTYPE_F32 && dtype != GX_DTYPE_F64)
        return gx_diag_set(d, GX_ERR_DTYPE, "--distributed averages f32 or f64 gradients, not %s",
                           gx_dtype_name((gx_dtype)dtype));
    gx_dist_grads *b = gx_calloc(1, sizeof *b);
    if (b == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    b->g = g;
    b->dtype = dtype;
    b->esize = gx_dtype_size((gx_dtype)dtype);
    b->n = n;
    b->n_extra = n_extra;
    size_t k = (size_t)n + 1;
    b->order = gx_malloc(k * sizeof *b->order);
    b->bucket_of = gx_malloc(k * sizeof *b->bucket_of);
    b->off = gx_malloc(k * sizeof *b->off);
    b->numel = gx_malloc(k * sizeof *b->numel);
    b->b = gx_calloc(k, sizeof *b->b);
    if (!b->order || !b->bucket_of || !b->off || !b->numel || !b->b) {
        gx_dist_grads_free(b);
        return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    }
    /* ready order: a stable insertion sort by ready step (params are few) */
    for (int32_t i = 0; i < n; i++) {
        int32_t j = i;
        while (j > 0 && ready_step[b->order[j - 1]] > ready_step[i]) {
            b->order[j] = b->order[j - 1];
            j--;
        }
        b->order[j] = i;
    }
    int64_t cap = (int64_t)(bucket_bytes / b->esize);
    if (cap < 1) cap = 1;
    int64_t off = 0;
    for (int32_t k2 = 0; k2 < n; k2++) {
        int32_t i = b->order[k2];
        bucket *cur = b->n_buckets ? &b->b[b->n_buckets - 1] : NULL;
        if (cur == NULL || cur->numel >= cap) {   /* a full bucket: start the next */
            cur = &b->b[b->n_buckets++];
            cur->first = k2;
            cur->off = off;
        }
        cur->count++;
        cur->numel += numel[i];
        b->bucket_of[i] = b->n_buckets - 1;
        b->off[i] = off;
        b->numel[i] = numel[i];
        off += numel[i];
    }
    if (b->n_buckets == 0) b->b[b->n_buckets++].off = 0;   /* no params: extras only */
    b->b[b->n_buckets - 1].numel += n_extra;
    b->total = off + n_extra;
    b->buf = gx_calloc((size_t)b->total + 1, b->esize);
    if (b->buf == NULL) {
        gx_dist_grads_free(b);
        return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    }
    *out = b;
    return GX_OK;
}

void gx_dist_grads_begin(gx_dist_grads *b) {
    for (int32_t k = 0; k < b->n_buckets; k++) {
        b->b[k].missing = b->b[k].count;
        b->b[k].started = b->b[k].done = 0;
    }
}

#ifdef GX_HAVE_MPI

int gx_dist_available(void) { return 1; }

static gx_status mpi_fail(gx_dist *g, int rc, const char *what, gx_diag *d) {
    char msg[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    return gx_diag_set(d, GX_ERR_IO, "MPI failed in %s: %s", what, msg);
}

gx_status gx_dist_init(double timeout_s, gx_dist **out, gx_diag *d) {
    *out = NULL;
    int inited = 0, provided = 0;
    MPI_Initialized(&inited);
    if (inited) return gx_diag_set(d, GX_ERR_INVALID, "MPI is already initialised");
    /* only the main thread calls MPI; the backends' worker threads never do */
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return gx_diag_set(d, GX_ERR_IO, "MPI_Init failed: is this run under mpirun?");
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    gx_dist *g = gx_calloc(1, sizeof *g);
    if (g == NULL) {
        MPI_Finalize();
        return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &g->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g->size);
    g->timeout_s = timeout_s > 0 ? timeout_s : 300;
    *out = g;
    return GX_OK;
}

void gx_dist_finalize(gx_dist *g) {
    if (g == NULL) return;
    MPI_Finalize();
    gx_free(g);
}

void gx_dist_abort(gx_dist *g, int code) {
    (void)g;
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, code);
}

static double wall(void) { return MPI_Wtime(); }

static void nap(long ns) {
    struct timespec ts = {0, ns};
    nanosleep(&ts, NULL);
}

/* Wait for *r until done or the deadline. Open MPI's non-blocking collectives advance only
 * inside MPI calls, one round of the algorithm per call, so the first 0.2 s call MPI_Test
 * back to back (with 1 ms naps between calls a 1.3 MB allreduce took 29 ms instead of 1 ms);
 * a longer wait (a rank validating or writing a checkpoint) then naps in growing steps of at
 * most 1 ms, so a waiting rank does not hold a core another rank may need. */
static gx_status wait_done(gx_dist *g, MPI_Request *r, const char *what, gx_diag *d) {
    double t0 = wall(), waited = 0;
    long spins = 0, ns = 20000;
    for (;;) {
        int done = 0;
        int rc = MPI_Test(r, &done, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) return mpi_fail(g, rc, what, d);
        if (done) break;
        if ((++spins & 255) != 0) continue;
        waited = wall() - t0;
        if (waited > g->timeout_s) {
            g->wait_s += waited;
            return gx_diag_set(d, GX_ERR_IO, "no answer from the other ranks for %.0f s "
                               "in %s: a rank died, hangs or is far behind (--dist-timeout "
                               "sets the limit)", waited, what);
        }
        if (waited < 0.2) continue;
        nap(ns);
        if (ns < 1000000) ns *= 2;
    }
    g->wait_s += wall() - t0;
    return GX_OK;
}

static MPI_Datatype mpi_type(int dtype) {
    switch (dtype) {
    case GX_DTYPE_F32: return MPI_FLOAT;
    case GX_DTYPE_F64: return MPI_DOUBLE;
    case GX_DTYPE_I32: return MPI_INT32_T;
    default:           return MPI_UINT64_T;
    }
}

static MPI_Op mpi_op(gx_dist_op op) {
    return op == GX_DIST_MIN ? MPI_MIN : op == GX_DIST_MAX ? MPI_MAX : MPI_SUM;
}

/* MPI counts are int: larger messages go in chunks */
#define CHUNK ((int64_t)1 << 30)

gx_status gx_dist_bcast(gx_dist *g, void *buf, size_t bytes, const char *what, gx_diag *d) {
    for (size_t at = 0; at < bytes; at += (size_t)CHUNK) {
        int n = (int)(bytes - at < (size_t)CHUNK ? bytes - at : (size_t)CHUNK);
        MPI_Request r;
        int rc = MPI_Ibcast((char *)buf + at, n, MPI_BYTE, 0, MPI_COMM_WORLD, &r);
        if (rc != MPI_SUCCESS) return mpi_fail(g, rc, what, d);
        GX_TRY(wait_done(g, &r, what, d));
    }
    return GX_OK;
}

gx_status gx_dist_allreduce(gx_dist *g, void *buf, int64_t n, int dtype, gx_dist_op op,
                            const char *what, gx_diag *d) {
    size_t es = dtype == GX_DIST_U64 ? 8 : gx_dtype_size((gx_dtype)dtype);
    for (int64_t at = 0; at < n; at += CHUNK) {
        int k = (int)(n - at < CHUNK ? n - at : CHUNK);
        MPI_Request r;
        int rc = MPI_Iallreduce(MPI_IN_PLACE, (char *)buf + (size_t)at * es, k, mpi_type(dtype),
                                mpi_op(op), MPI_COMM_WORLD, &r);
        if (rc != MPI_SUCCESS) return mpi_fail(g, rc, what, d);
        GX_TRY(wait_done(g, &r, what, d));
    }
    return GX_OK;
}

gx_status gx_dist_gather(gx_dist *g, const void *send, size_t bytes, void *recv,
                         const char *what, gx_diag *d) {
    if (bytes > (size_t)CHUNK)
        return gx_diag_set(d, GX_ERR_INVALID, "%s: %zu bytes per rank is over the 1 GiB a "
                           "gather takes", what, bytes);
    MPI_Request r;
    int rc = MPI_Igather(send, (int)bytes, MPI_BYTE, recv, (int)bytes, MPI_BYTE, 0,
                         MPI_COMM_WORLD, &r);
    if (rc != MPI_SUCCESS) return mpi_fail(g, rc, what, d);
    return wait_done(g, &r, what, d);
}

static gx_status start_bucket(gx_dist_grads *b, bucket *k, gx_diag *d) {
    if (k->numel > CHUNK)
        return gx_diag_set(d, GX_ERR_INVALID, "a gradient bucket of %lld elements is over what "
                           "one MPI call takes; use a smaller --bucket-mb", (long long)k->numel);
    int rc = MPI_Iallreduce(MPI_IN_PLACE, (char *)b->buf + (size_t)k->off * b->esize,
                            (int)k->numel, mpi_type(b->dtype), MPI_SUM, MPI_COMM_WORLD, &k->req);
    if (rc != MPI_SUCCESS) return mpi_fail(b->g, rc, "the gradient allreduce", d);
    k->started = 1;
    return GX_OK;
}

gx_status gx_dist_grads_ready(gx_dist_grads *b, int32_t i, gx_diag *d) {
    bucket *k = &b->b[b->bucket_of[i]];
    /* the last bucket waits for the extras, added in finish */
    if (--k->missing == 0 && k != &b->b[b->n_buckets - 1]) GX_TRY(start_bucket(b, k, d));
    return GX_OK;
}

gx_status gx_dist_grads_poll(gx_dist_grads *b, gx_diag *d) {
    for (int32_t j = 0; j < b->n_buckets; j++) {
        bucket *k = &b->b[j];
        if (!k->started || k->done) continue;
        int done = 0;
        int rc = MPI_Test(&k->req, &done, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) return mpi_fail(b->g, rc, "the gradient allreduce", d);
        k->done = done;
    }
    return GX_OK;
}

gx_status gx_dist_grads_finish(gx_dist_grads *b, double *extra, void *const *dst, gx_diag *d) {
    bucket *last = &b->b[b->n_buckets - 1];
    char *ex = (char *)b->buf + (size_t)(b->total - b->n_extra) * b->esize;
    for (int32_t e = 0; e < b->n_extra; e++) {
        if (b->dtype == GX_DTYPE_F64) ((double *)(void *)ex)[e] = extra[e];
        else ((float *)(void *)ex)[e] = (float)extra[e];
    }
    for (int32_t j = 0; j < b->n_buckets; j++)
        if (b->b[j].missing > 0)
            return gx_diag_set(d, GX_ERR_INVALID, "gradient bucket %d is missing %d gradients",
                               (int)j, (int)b->b[j].missing);
    GX_TRY(start_bucket(b, last, d));
    for (int32_t j = 0; j < b->n_buckets; j++)
        if (!b->b[j].done) GX_TRY(wait_done(b->g, &b->b[j].req, "the gradient allreduce", d));
    double inv = 1.0 / (double)b->g->size;
    for (int32_t i = 0; i < b->n; i++) {
        const char *src = gx_dist_grads_slot(b, i);
        if (b->dtype == GX_DTYPE_F64) {
            const double *s = (const double *)(const void *)src;
            double *o = dst[i];
            for (int64_t e = 0; e < b->numel[i]; e++) o[e] = s[e] * inv;
        } else {
            const float *s = (const float *)(const void *)src;
            float *o = dst[i];
            float fi = (float)inv;
            for (int64_t e = 0; e < b->numel[i]; e++) o[e] = s[e] * fi;
        }
    }
    for (int32_t e = 0; e < b->n_extra; e++)
        extra[e] = b->dtype == GX_DTYPE_F64 ? ((double *)(void *)ex)[e]
                                            : (double)((float *)(void *)ex)[e];
    return GX_OK;
}

#else   /* built without MPI */

int gx_dist_available(void) { return 0; }

gx_status gx_dist_init(double timeout_s, gx_dist **out, gx_diag *d) {
    (void)timeout_s;
    *out = NULL;
    return gx_diag_set(d, GX_ERR_UNSUPPORTED, "this gexec was built without MPI, so it cannot "
                       "train --distributed: install Open MPI (apt-get install openmpi-bin "
                       "libopenmpi-dev) and configure again (cmake -DGX_MPI=ON)");
}

void gx_dist_finalize(gx_dist *g) { gx_free(g); }
void gx_dist_abort(gx_dist *g, int code) {
    (void)g;
    exit(code);
}

static gx_status no_mpi(gx_diag *d) {
    return gx_diag_set(d, GX_ERR_UNSUPPORTED, "built without MPI");
}
gx_status gx_dist_bcast(gx_dist *g, void *buf, size_t bytes, const char *what, gx_diag *d) {
    (void)g; (void)buf; (void)bytes; (void)what;
    return no_mpi(d);
}
gx_status gx_dist_allreduce(gx_dist *g, void *buf, int64_t n, int dtype, gx_dist_op op,
                            const char *what, gx_diag *d) {
    (void)g; (void)buf; (void)n; (void)dtype; (void)op; (void)what;
    return no_mpi(d);
}
gx_status gx_dist_gather(gx_dist *g, const void *send, size_t bytes, void *recv,
                         const char *what, gx_diag *d) {
    (void)g; (void)send; (void)bytes; (void)recv; (void)what;
    return no_mpi(d);
}
gx_status gx_dist_grads_ready(gx_dist_grads *b, int32_t i, gx_diag *d) {
    (void)b; (void)i;
    return no_mpi(d);
}
gx_status gx_dist_grads_poll(gx_dist_grads *b, gx_diag *d) {
    (void)b;
    return no_mpi(d);
}
gx_status gx_dist_grads_finish(gx_dist_grads *b, double *extra, void *const *dst, gx_diag *d) {
    (void)b; (void)extra; (void)dst;
    return no_mpi(d);
}

#endif
