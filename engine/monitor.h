/*
 * monitor.h: the diagnostics of a training run (`gexec train --diag DIR`, `gexec diag`).
 *
 * The trainer runs a second plan, of the diagnostics graph (probes.h), on every N-th step;
 * the monitor reads that plan's taps and the optimizer's params and gradients, and writes one
 * record per logged step:
 *   - per probe (gate): mean, std, 5/50/95th percentiles, fraction saturated, optionally per
 *     bucket of time steps; for a distribution probe (GX_PROBE_DIST: attention weights) also
 *     the mean entropy of its rows and the weights of batch row 0, one row per time step;
 *   - per loop carry: the norm and saturation of h_t for every time step t, and the norm of
 *     dL/dh_t (the gradient through time: how much of the loss's gradient reaches step t);
 *   - per param: norm, gradient norm, update-to-weight ratio ||dW|| / ||W||; global gradient
 *     norm before and after clipping;
 *   - per recurrent weight matrix: spectral radius per gate block, largest singular value.
 * Files in DIR: diag.jsonl (every record; the schema is in the README, "Diagnostics"),
 * scalars.csv (step,name,value), grad_time.csv and states.csv (one row per time step); and
 * TensorBoard event files in --tensorboard DIR.
 */
#ifndef GX_MONITOR_H
#define GX_MONITOR_H

#include "exec.h"
#include "graph.h"
#include "optim.h"
#include "stats.h"

typedef struct gx_monitor gx_monitor;

typedef struct gx_monitor_opts {
    const char *dir;           /* JSONL and CSV here, or NULL                                */
    const char *tensorboard;   /* event files here, or NULL                                  */
    int32_t     buckets;       /* time-step buckets for gate statistics; 0 or 1: none        */
} gx_monitor_opts;

/* what the run is, for the first record */
typedef struct gx_monitor_meta {
    const char *graph, *path, *backend, *dims;
    int64_t     steps, every;
    double      clip;
} gx_monitor_meta;

/* ---- the record of one logged step (readable after gx_monitor_collect and _finish) ---- */

typedef struct gx_mon_layer {
    char        name[64];      /* a name of the loop's outputs ("hs"), else "loopN"; "graph"
                                  for probes outside loops                                   */
    int32_t     node;          /* the loop node, -1 for "graph"                              */
    char        pos[192];      /* file:line:col of the loop                                   */
    int64_t     T;
} gx_mon_layer;

/* A distribution probe's matrix is cut to at most this many rows and columns (stats.h,
 * gx_dist_cut): 128 x 128 numbers are at most about 180 KB of JSON per probe and logged
 * step, whatever the sequence lengths. */
#define GX_MON_DIST_MAX 128

typedef struct gx_mon_gate {
    int32_t     layer;
    const char *probe;
    int32_t     kind;          /* gx_probe_kind                                             */
    gx_summary  all;
    int32_t     n_buckets;
    int64_t    *t0, *t1;       /* bucket k: time steps [t0, t1)                              */
    gx_summary *bucket;
    gx_val      val;
    /* GX_PROBE_DIST only (dist NULL otherwise). In a loop the tap is [T, B, ..., S]: row t is
     * batch row 0 of step t (its first S values); outside loops it is [B, ..., S]: the rows
     * are every row of batch element 0 ([B, S]: one row). */
    gx_dist_cut cut;
    double     *dist;          /* [cut.rows * cut.cols]                                     */
    double      entropy;       /* mean over every row of the tap (all batch rows), nats      */
} gx_mon_gate;

typedef struct gx_mon_series {
    int32_t     layer;
    const char *carry;
    int64_t     T;
    double     *norm;          /* states: mean over the batch of ||h_t||; grad-time: ||dL/dh_t||
                                  over the whole batch                                       */
    double     *saturated;     /* states: fraction of |h_t| > 0.95; grad-time: NULL           */
    gx_val      val;           /* states: the stacked carry; grad-time: dL/d(zero input)      */
} gx_mon_series;

typedef struct gx_mon_param {
    const char *name;
    int32_t     index;         /* in the optimizer                                          */
    double      norm, grad_norm, update_ratio;
    int32_t     recurrent;     /* 1: spec is kept                                            */
    gx_spectral spec;
} gx_mon_param;

typedef struct gx_mon_record {
    int64_t        step;
    double         loss, lr, grad_norm, grad_norm_clipped;
    int32_t        clipped;
    int32_t        n_layers, n_gates, n_states, n_grad_time, n_params;
    gx_mon_layer  *layers;
    gx_mon_gate   *gates;
    gx_mon_series *states, *grad_time;
    gx_mon_param  *params;
} gx_mon_record;

/* g: the diagnostics graph after autodiff. Opens the output files (DIR is created). */
gx_status gx_monitor_new(const gx_graph *g, const gx_monitor_opts *o, gx_monitor **out,
                         gx_diag *d);
void      gx_monitor_free(gx_monitor *m);
/* the values the diagnostics plan must keep (taps and the gradients of the zero inputs) */
int32_t   gx_monitor_n_wanted(const gx_monitor *m);
void      gx_monitor_wanted(const gx_monitor *m, gx_val *out);
/* write the zero inputs' zeros into the plan (once: a plan's inputs keep their values) */
gx_status gx_monitor_feed(gx_monitor *m, gx_exec *e, gx_diag *d);

gx_status gx_monitor_meta_record(gx_monitor *m, const gx_monitor_meta *meta, gx_diag *d);
/* After a run of the diagnostics plan, before clipping and the update: read the taps, the
 * gradients' and params' norms, the spectra, and keep the params to measure the update. */
gx_status gx_monitor_collect(gx_monitor *m, gx_exec *e, gx_optim *opt, int64_t step,
                             double loss, gx_diag *d);
/* After the update: update ratios; write the record. */
gx_status gx_monitor_finish(gx_monitor *m, gx_optim *opt, double lr, double grad_norm,
                            double grad_norm_clipped, int clipped, gx_diag *d);
const gx_mon_record *gx_monitor_record(const gx_monitor *m);

/* the other records of diag.jsonl (and their scalars) */
gx_status gx_monitor_train(gx_monitor *m, int64_t step, double loss, double lr,
                           double grad_norm, int clipped, double elapsed_s, gx_diag *d);
gx_status gx_monitor_val(gx_monitor *m, int64_t step, double loss, int32_t n_metrics,
                         const char *const *names, const double *values, gx_diag *d);
gx_status gx_monitor_nan(gx_monitor *m, int64_t step, const char *what, const char *op,
                         const char *where, int32_t output, int64_t time_step,
                         const char *loop, int backward, const char *action, gx_diag *d);
gx_status gx_monitor_done(gx_monitor *m, int64_t step, double elapsed_s, double val_loss,
                          gx_diag *d);

#endif
