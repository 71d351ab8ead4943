/*
 * autodiff.h: reverse mode. Walks the forward nodes backwards, asks each op's VJP to emit the
 * nodes that compute its input gradients, and sums gradients over fan-in. The backward graph is
 * appended to the same graph, so it is planned and run like any other nodes, on any backend.
 */
#ifndef GX_AUTODIFF_H
#define GX_AUTODIFF_H

#include "graph.h"

/* Differentiate `loss` (summed, if not a scalar) with respect to every param and every float
 * input. Adds an output "grad.<name>" for each (zeros when the loss does not depend on it). */
gx_status gx_autodiff(gx_graph *g, gx_val loss, gx_diag *d);

/* The general form: seeds dys[i] (values already in g) for outputs ys[i]; the gradients of xs
 * come back in dxs (GX_VAL_NONE where x does not influence any y). Appends the backward nodes
 * to g; adds no outputs. */
gx_status gx_autodiff_vjp(gx_graph *g, const gx_val *ys, const gx_val *dys, int32_t n_y,
                          const gx_val *xs, int32_t n_x, gx_val *dxs, gx_diag *d);

#endif
