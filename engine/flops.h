/*
 * flops.h: how much arithmetic a graph does, for `gexec bench`'s GFLOP/s.
 *
 * These are model FLOPs, counted from the shapes in the IR, not measured: a multiply-add is 2
 * FLOPs, and each op is charged by a formula of its name.
 *
 *   matmul            2 * M * N * K * batches   ([..., M, K] @ [..., K, N]; batches = the
 *                                               output's leading axes)
 *   matmul_tn         2 * M * N * (numel(a) / M)  (y[M, N] = sum over the leading axes of
 *                                               a[..., M] b[..., N])
 *   rnn_cell, lstm_cell, gru_cell
 *                     2 * B * G * H * (I + H)   (the two gate products; G = 1, 4, 3 gate
 *                     + 4 * B * G * H           blocks from W_ih's first dim / H) plus an
 *                                               elementwise term (biases, nonlinearities,
 *                                               the state update)
 *   *_cell_backward   4 * B * G * H * (I + H)   (dx, dh, dW_ih, dW_hh)
 *                     + 2 * B * G * H * (I + H) (the forward it recomputes from its inputs)
 *                     + 12 * B * G * H          (elementwise: the recomputed gates and their
 *                                               derivatives)
 *   rnn_step, lstm_step, gru_step
 *                     2 * B * G * H * H         (gi [B, G*H] comes in precomputed; only the
 *                     + 4 * B * G * H           recurrent product is inside the step)
 *   *_step_backward   one per output element    (elementwise only; the products are
 *                                               separate matmul / matmul_tn nodes)
 *   a loop node       its body's count, T times (recursively; a backward loop alike);
 *                     only the body nodes the loop's carries, yields and residuals need
 *                     (after autodiff, a forward body also holds the backward nodes that
 *                     were copied into the backward loop's body; they do not run there)
 *   every other op    one per output element    (this charges data movement such as
 *                                               transpose, slices and gathers as if it were
 *                                               arithmetic: a small overcount next to the
 *                                               products, which dominate recurrent models)
 *
 * Not counted: the optimizer update and gradient clipping (they run on the host, outside the
 * graph, about 10 FLOPs per parameter per step), and copies in and out of a plan.
 */
#ifndef GX_FLOPS_H
#define GX_FLOPS_H

#include "exec.h"
#include "graph.h"

/* FLOPs of one run of g: the nodes that g's outputs and loss need. `plan` may be NULL. exec.h
 * does not say which values a plan wants, so the plan does not narrow the count: a plan that
 * wants fewer values than all of g's outputs is charged for the nodes only those need too.
 * The trainer's plans want the loss, every param gradient and the carried states, which need
 * (nearly) every node, so the difference is small there. */
double gx_graph_flops(const gx_graph *g, const gx_exec *plan);

#endif
