/*
 * graph-check.h: checks of whole graphs given as source text, shared by the gradient tests.
 *
 *   gc_check:   the gradient `gexec grad` computes (looped) against central differences of the
 *               loss in f64, for every param and float input entry (or a sample of them), and
 *               the looped graph against the unrolled one (outputs and gradients).
 *   gc_compare: two graphs with the same params and inputs (fused vs composite cells) give the
 *               same outputs and gradients.
 * Params are drawn from their init schemes plus a small jitter, float inputs uniform in
 * [-1, 1], i32 inputs in [0, int_hi), inputs named in `mask_inputs` get 1s then 0s per row
 * (a padding mask: row r is long T - r*T/4 steps).
 */
#ifndef GX_GRAPH_CHECK_H
#define GX_GRAPH_CHECK_H

#include "lower.h"
#include "registry.h"

#include <stdint.h>

typedef struct gc_opts {
    const gx_dim_binding *binds; /* dim values to use where the graph has those dims       */
    int         n_binds;
    int         int_hi;          /* i32 inputs in [0, int_hi)                              */
    const char *mask_inputs;     /* comma-separated input names that are padding masks    */
    int64_t     max_entries;     /* per tensor, finite differences on at most this many
                                    entries (spread over the tensor); 0: all              */
    double      rel_tol;         /* finite differences: 1e-6                               */
    double      unroll_tol;      /* looped vs unrolled: 1e-12 (0: do not compare)          */
} gc_opts;

typedef struct gc_result {
    double  max_rel_err;         /* analytic vs numeric                                    */
    double  max_unroll_diff;     /* looped vs unrolled, relative to max(1, |x|)            */
    int64_t n_checked;
} gc_result;

/* 0 when every check holds; otherwise prints what failed (print_error) and returns 1 */
int gc_check(gx_registry *reg, const char *name, const char *src, const gc_opts *o,
             gc_result *r);
/* 0 when graphs a and b agree within tol on every output of a (incl. gradients) */
int gc_compare(gx_registry *reg, const char *name, const char *src_a, const char *src_b,
               const gc_opts *o, double tol, double *max_diff);

#endif
