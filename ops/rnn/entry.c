/*
 * entry.c: the entry point of gx-op-rnn.so, the recurrent-cell op library.
 *
 * Registers rnn_cell, lstm_cell and gru_cell (PyTorch's RNNCell, LSTMCell and GRUCell: same
 * equations, same weight layouts), their fused backward ops, and the same cells after the
 * input projection (rnn_step, lstm_step, gru_step; step.c) that hoisted loops run; the semantics are specified in
 * ops/README.md. Schemas only: shape inference, VJPs and gradient-check examples. Kernels come
 * from the backend plugins.
 */
#include "rnn.h"

/* Registration order does not matter: VJPs name ops by string, resolved when they are emitted. */
static gx_status (*const rnn_families[])(const gx_host_api *api, gx_host *host) = {
    gx_rnn_register_rnn_cell,
    gx_rnn_register_lstm_cell,
    gx_rnn_register_gru_cell,
    gx_rnn_register_steps,
};

GX_PLUGIN_ENTRY(rnn_ops, "0.1.0") {
    for (size_t i = 0; i < GX_COUNT(rnn_families); i++) {
        gx_status st = rnn_families[i](api, host);
        if (st != GX_OK) return st;
    }
    return GX_OK;
}
