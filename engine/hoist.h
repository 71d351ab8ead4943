/*
 * hoist.h: the engine's graph optimizations for recurrent loops, and their switches.
 *
 *   hoist  a recurrent cell in a loop body whose input x is a slice of the loop's sequence
 *          computes x W_ih^T (+ biases) for every time step at once, as one matrix product
 *          before the loop; the body keeps only the recurrent part (rnn_step, lstm_step,
 *          gru_step). Its backward pass then gets dW_ih as one product over the sequence too.
 *   lift   in a backward loop, a weight gradient that each step computes as matmul_tn(a, b)
 *          (dW_hh = dg^T h) is not summed step by step: the loop yields a and b, and one
 *          matmul_tn over the whole sequence follows it (loop.c). Likewise sum(a, axes 0).
 *
 * Both are on by default. GEXEC_DISABLE=hoist,lift (a comma list) turns them off, for
 * measuring what each is worth; results agree either way within f32 reassociation.
 */
#ifndef GX_HOIST_H
#define GX_HOIST_H

#include "graph.h"

/* 0 when `name` is listed in GEXEC_DISABLE */
int gx_opt_enabled(const char *name);

/*
 * Called by the lowering with a loop that is about to be added to `outer`: hoists the input
 * projections of the body's cells (see above) by emitting their products into `outer` and
 * giving the loop one more sequence per hoisted cell. *in (carry inits, sequences, invariants,
 * in that order, malloc'd) is replaced by a longer array when sequences are added. A loop with
 * nothing to hoist is left alone.
 */
gx_status gx_hoist_loop(gx_graph *outer, gx_loop *l, gx_val **in, gx_diag *d);

#endif
