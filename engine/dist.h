/*
 * dist.h: data-parallel training across processes with MPI (`mpirun -np N gexec train
 * --distributed`).
 *
 * Every rank holds the whole model and trains on its own rows of each batch; after the backward
 * pass the gradients are averaged with MPI_Allreduce, so every rank applies the same update and
 * the params stay identical. This file is the only one that includes <mpi.h>: it wraps the few
 * collectives the trainer needs, each started non-blocking and waited on with a deadline, so a
 * rank that died or hangs gives a clear error instead of a hang.
 *
 * Built without MPI (GX_HAVE_MPI undefined), gx_dist_init says how to enable it and the rest is
 * never reached.
 */
#ifndef GX_DIST_H
#define GX_DIST_H

#include "diag.h"
#include "graph.h"

#include <stddef.h>
#include <stdint.h>

typedef struct gx_dist gx_dist;

/* 1 when this gexec was built with MPI */
int       gx_dist_available(void);
/* Start MPI (once per process). timeout_s: how long a collective may wait for the other ranks
 * before it fails. Errors from MPI are returned, never fatal (MPI_ERRORS_RETURN). */
gx_status gx_dist_init(double timeout_s, gx_dist **out, gx_diag *d);
/* MPI_Finalize; NULL is fine */
void      gx_dist_finalize(gx_dist *g);
/* End every rank now (MPI_Abort): after an error only this rank saw, the others would
 * otherwise wait for it. */
void      gx_dist_abort(gx_dist *g, int code);

int       gx_dist_rank(const gx_dist *g);   /* 0 for NULL */
int       gx_dist_size(const gx_dist *g);   /* 1 for NULL */

typedef enum gx_dist_op { GX_DIST_SUM, GX_DIST_MIN, GX_DIST_MAX } gx_dist_op;

/* rank 0's bytes into every rank's buf */
gx_status gx_dist_bcast(gx_dist *g, void *buf, size_t bytes, const char *what, gx_diag *d);
/* elementwise op over the ranks, in place; dtype GX_DTYPE_F32, _F64, _I32 or GX_DIST_U64 */
#define GX_DIST_U64 100
gx_status gx_dist_allreduce(gx_dist *g, void *buf, int64_t n, int dtype, gx_dist_op op,
                            const char *what, gx_diag *d);
/* every rank's `bytes` into rank 0's recv (rank order); recv is ignored on other ranks */
gx_status gx_dist_gather(gx_dist *g, const void *send, size_t bytes, void *recv,
                         const char *what, gx_diag *d);
/* seconds spent waiting in collectives so far */
double    gx_dist_wait_seconds(const gx_dist *g);

/*
 * Gradient buckets. The gradients (all of one float dtype) are averaged in buckets of about
 * bucket_bytes, packed in the order they become final in the backward pass (ready_step, from
 * gx_exec_ready_steps): a bucket's allreduce starts as soon as its last gradient is in, while
 * the backward pass goes on, and is driven by gx_dist_grads_poll between the executor's steps.
 * The last bucket also carries n_extra scalars (the loss, metrics, a stop flag), summed, so a
 * step needs no other collective. Small models have one bucket: one MPI_Allreduce per step.
 */
typedef struct gx_dist_grads gx_dist_grads;

gx_status gx_dist_grads_new(gx_dist *g, int32_t n, const int64_t *numel, int dtype,
                            const int32_t *ready_step, size_t bucket_bytes, int32_t n_extra,
                            gx_dist_grads **out, gx_diag *d);
void      gx_dist_grads_free(gx_dist_grads *b);
/* the k-th gradient in ready order: gradients must be handed in (..._ready) in this order, so
 * every rank starts its buckets' allreduces in the same order, as MPI requires */
int32_t   gx_dist_grads_order_at(const gx_dist_grads *b, int32_t k);
/* a new step: nothing is in yet */
void      gx_dist_grads_begin(gx_dist_grads *b);
/* where gradient i goes (numel elements of the dtype); write it, then call ..._ready */
void     *gx_dist_grads_slot(gx_dist_grads *b, int32_t i);
/* gradient i is in; starts its bucket's allreduce when that bucket is complete */
gx_status gx_dist_grads_ready(gx_dist_grads *b, int32_t i, gx_diag *d);
/* let started allreduces progress (MPI moves data only inside MPI calls) */
gx_status gx_dist_grads_poll(gx_dist_grads *b, gx_diag *d);
/* Every gradient must be in: add the extras (summed over ranks into extra[]), wait for every
 * bucket and copy the averages (sum / size) into dst[i]. */
gx_status gx_dist_grads_finish(gx_dist_grads *b, double *extra, void *const *dst, gx_diag *d);
int32_t   gx_dist_grads_n_buckets(const gx_dist_grads *b);
size_t    gx_dist_grads_bytes(const gx_dist_grads *b);

#endif
