/*
 * peephole-lstm.h: what the two files of the example plugin gx-peephole-lstm.so share.
 *
 * peephole_lstm_cell(x, h, c, W_ih, W_hh, b_ih, b_hh, w_peep) -> (h', c'): an LSTM cell whose
 * input and forget gates also see the old cell state c, and whose output gate sees the new one
 * c', each through a diagonal weight (Gers & Schmidhuber 2000). Everything else is
 * torch.nn.LSTMCell: gate blocks i, f, g, o stacked along the first axis of W_ih [4H, I],
 * W_hh [4H, H], b_ih [4H], b_hh [4H]. The three peephole vectors are stacked the same way in
 * w_peep [3H] (blocks i, f, o), which keeps the op at 8 inputs: GX_MAX_EXAMPLE_INPUTS, so the
 * gradient check can draw every one of them.
 *
 * It is built against the installed SDK only (<gexec/...>), like any third-party plugin.
 */
#ifndef PEEPHOLE_LSTM_H
#define PEEPHOLE_LSTM_H

#include <gexec/plugin-helpers.h>

/* inputs of peephole_lstm_cell, in order */
enum { PL_X, PL_H, PL_C, PL_W_IH, PL_W_HH, PL_B_IH, PL_B_HH, PL_W_PEEP, PL_N_INPUTS };

/* peephole_lstm_cell_backward takes (dh', dc') and then the cell's inputs; it gives one gradient
 * per cell input, in the same order */
#define PL_N_GRADS 2

/* kernels-cpu-scalar.c: the forward and backward kernels on the reference backend */
gx_status pl_register_cpu_scalar(const gx_host_api *api, gx_host *host);

#endif /* PEEPHOLE_LSTM_H */
