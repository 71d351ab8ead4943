/*
 * kernels-rnn.c: cpu-scalar kernels of the recurrent cells and their fused backward ops:
 * rnn_cell, lstm_cell, gru_cell, rnn_cell_backward, lstm_cell_backward, gru_cell_backward.
 *
 * The equations and weight layouts are PyTorch's (see ops/README.md): W_ih is [G*H, I], W_hh is
 * [G*H, H], the gate blocks stacked along the first axis (lstm: i f g o, gru: r z n), and the
 * biases [G*H] are optional (both or neither). The forward kernels compute one (b, j) at a time,
 * the gates of unit j straight from dot products, so they need no scratch. The backward kernels
 * recompute the gates from the forward inputs, store the gradients of the two affine maps
 * (gi = x W_ih^T + b_ih and gh = h W_hh^T + b_hh) in a workspace of doubles, and then share one
 * tail that turns them into dx, dh, dW_ih, dW_hh, db_ih and db_hh. Every output is written in
 * full on each call (the engine sums gradients; nothing accumulates across calls).
 */
#include <math.h>
#include <string.h>

#include "cpu-scalar.h"

// the f32 and f64 kernels of one op that asks for a workspace
#define CS_KERNELS_FLOAT_WS(opname, fn, ws)                                                \
    { .size = sizeof(gx_kernel_desc), .op = (opname), .backend = CS_BACKEND_NAME,          \
      .dtype = GX_DTYPE_F32, .run = (fn), .workspace = (ws) },                             \
    { .size = sizeof(gx_kernel_desc), .op = (opname), .backend = CS_BACKEND_NAME,          \
      .dtype = GX_DTYPE_F64, .run = (fn), .workspace = (ws) }

// ---- shared pieces ------------------------------------------------------------------------------

static double cs_sigmoid(double v) {
    return v >= 0.0 ? 1.0 / (1.0 + exp(-v)) : exp(v) / (1.0 + exp(v));
}

// in is [B, K], w is [R, K], bias is [R] or NULL: bias[row] + sum_k in[b, k] * w[row, k]
static double cs_rnn_affine(const gx_tensor *in, const gx_tensor *w, const gx_tensor *bias,
                            int64_t b, int64_t row, int64_t K) {
    double acc = bias != NULL ? cs_load(bias, row) : 0.0;
    for (int64_t k = 0; k < K; k++) acc += cs_load(in, b * K + k) * cs_load(w, row * K + k);
    return acc;
}

// the pre-activation of gate row `row` for batch row b when the cell only uses the sum of the two
// affine maps: x W_ih^T + b_ih + h W_hh^T + b_hh (x is [B, I], h is [B, H])
static double cs_rnn_pre(const gx_tensor *x, const gx_tensor *h, const gx_tensor *w_ih,
                         const gx_tensor *w_hh, const gx_tensor *b_ih, const gx_tensor *b_hh,
                         int64_t b, int64_t row, int64_t I, int64_t H) {
    return cs_rnn_affine(x, w_ih, b_ih, b, row, I) + cs_rnn_affine(h, w_hh, b_hh, b, row, H);
}

// The workspace must hold `doubles` doubles; the planner gives what the workspace callback asked,
// so a shortfall means the caller skipped it (report it rather than write past the end).
static gx_status cs_rnn_workspace(const gx_kernel_args *a, const char *op, int64_t doubles,
                                  double **ws) {
    uint64_t need = (uint64_t)doubles * sizeof(double);
    uint64_t have = a->workspace.shape.ndim == 1 ? (uint64_t)a->workspace.shape.dims[0] : 0;
    *ws = NULL;
    if (need == 0) return GX_OK;
    if (a->workspace.data == NULL || have < need)
        return a->api->set_error(a->host, GX_ERR_INVALID,
                                 "%s: needs a workspace of %llu bytes, got %llu", op,
                                 (unsigned long long)need, (unsigned long long)have);
    *ws = a->workspace.data;
    return GX_OK;
}

// The end of every backward kernel. x is [B, I], h is [B, H], w_ih is [R, I], w_hh is [R, H]
// (R = G*H); dgi and dgh are [B, R] doubles, the gradients of gi = x W_ih^T + b_ih and
// gh = h W_hh^T + b_hh (the same array when the cell only uses their sum); dh_extra is [B, H]
// doubles added to dh, or NULL. outs points at (dx, dh, dW_ih, dW_hh, db_ih, db_hh):
//   dx = dgi W_ih, dh = dgh W_hh + dh_extra, dW_ih = dgi^T x, dW_hh = dgh^T h,
//   db_ih = sum_b dgi, db_hh = sum_b dgh
static void cs_rnn_backward_tail(const gx_tensor *x, const gx_tensor *h, const gx_tensor *w_ih,
                                 const gx_tensor *w_hh, const double *dgi, const double *dgh,
                                 const double *dh_extra, const gx_tensor *dx, const gx_tensor *dh,
                                 const gx_tensor *dw_ih, const gx_tensor *dw_hh,
                                 const gx_tensor *db_ih, const gx_tensor *db_hh, int64_t R) {
    int64_t B = x->shape.dims[0], I = x->shape.dims[1], H = h->shape.dims[1];
    for (int64_t b = 0; b < B; b++) {
        for (int64_t k = 0; k < I; k++) {
            double acc = 0.0;
            for (int64_t r = 0; r < R; r++) acc += dgi[b * R + r] * cs_load(w_ih, r * I + k);
            cs_store(dx, b * I + k, acc);
        }
        for (int64_t k = 0; k < H; k++) {
            double acc = dh_extra != NULL ? dh_extra[b * H + k] : 0.0;
            for (int64_t r = 0; r < R; r++) acc += dgh[b * R + r] * cs_load(w_hh, r * H + k);
            cs_store(dh, b * H + k, acc);
        }
    }
    for (int64_t r = 0; r < R; r++) {
        for (int64_t k = 0; k < I; k++) {
            double acc = 0.0;
            for (int64_t b = 0; b < B; b++) acc += dgi[b * R + r] * cs_load(x, b * I + k);
            cs_store(dw_ih, r * I + k, acc);
        }
        for (int64_t k = 0; k < H; k++) {
            double acc = 0.0;
            for (int64_t b = 0; b < B; b++) acc += dgh[b * R + r] * cs_load(h, b * H + k);
            cs_store(dw_hh, r * H + k, acc);
        }
        double si = 0.0, sh = 0.0;
        for (int64_t b = 0; b < B; b++) {
            si += dgi[b * R + r];
            sh += dgh[b * R + r];
        }
        cs_store(db_ih, r, si);
        cs_store(db_hh, r, sh);
    }
}

// B and H of a backward op, read from its output 1 (dh, [B, H]); 0 when it is not there
static void cs_rnn_backward_dims(int32_t n_outputs, const gx_tensor_info *outputs, int64_t *B,
                                 int64_t *H) {
    *B = *H = 0;
    if (n_outputs < 2 || outputs[1].shape.ndim != 2) return;
    *B = outputs[1].shape.dims[0];
    *H = outputs[1].shape.dims[1];
}

// ---- inputs ------------------------------------------------------------------------------------

/* A cell kernel's inputs: n_grads output gradients (backward ops), then x, h, [c,] W_ih, W_hh
 * and, when given, b_ih, b_hh. The one place that knows this layout. */
typedef struct cs_cell_in {
    const gx_tensor *x, *h, *c, *w_ih, *w_hh, *b_ih, *b_hh;
} cs_cell_in;

static cs_cell_in cs_cell_unpack(const gx_kernel_args *a, int32_t n_grads, int has_c) {
    const gx_tensor *in = a->inputs + n_grads;
    int32_t k = has_c ? 3 : 2; /* index of W_ih */
    cs_cell_in r = {.x = &in[0], .h = &in[1], .c = has_c ? &in[2] : NULL,
                    .w_ih = &in[k], .w_hh = &in[k + 1]};
    if (a->n_inputs - n_grads > k + 2) {
        r.b_ih = &in[k + 2];
        r.b_hh = &in[k + 3];
    }
    return r;
}

// ---- rnn_cell -----------------------------------------------------------------------------------

static int cs_rnn_is_relu(const gx_kernel_args *a) {
    return a->attrs != NULL && a->attrs[0].s != NULL && strcmp(a->attrs[0].s, "relu") == 0;
}

// x is [B, I], h is [B, H], w_ih is [H, I], w_hh is [H, H], b_ih and b_hh are [H] (optional),
// y is [B, H]: act(x W_ih^T + b_ih + h W_hh^T + b_hh). attrs: nonlinearity ("tanh" or "relu")
static gx_status rnn_cell_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const cs_cell_in in = cs_cell_unpack(a, 0, 0);
    const gx_tensor *x = in.x, *h = in.h, *w_ih = in.w_ih, *w_hh = in.w_hh;
    const gx_tensor *b_ih = in.b_ih, *b_hh = in.b_hh;
    const gx_tensor *y = &a->outputs[0];
    int64_t B = x->shape.dims[0], I = x->shape.dims[1], H = h->shape.dims[1];
    int relu = cs_rnn_is_relu(a);
    for (int64_t b = 0; b < B; b++)
        for (int64_t j = 0; j < H; j++) {
            double pre = cs_rnn_pre(x, h, w_ih, w_hh, b_ih, b_hh, b, j, I, H);
            cs_store(y, b * H + j, relu ? (pre > 0.0 ? pre : 0.0) : tanh(pre));
        }
    return GX_OK;
}

static uint64_t rnn_cell_backward_ws(int32_t n_inputs, const gx_tensor_info *inputs,
                                     int32_t n_outputs, const gx_tensor_info *outputs,
                                     const gx_attr_value *attrs) {
    int64_t B, H;
    cs_rnn_backward_dims(n_outputs, outputs, &B, &H);
    return (uint64_t)(B * H) * sizeof(double);   // dpre [B, H]
}

// dy is [B, H], then rnn_cell's inputs; outputs dx [B, I], dh [B, H], dW_ih [H, I], dW_hh [H, H],
// db_ih [H], db_hh [H]. dpre = dy * act'(pre): tanh: 1 - y^2, relu: 1 where pre > 0 else 0.
// workspace: dpre, B*H doubles. attrs: nonlinearity
static gx_status rnn_cell_backward_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *dy = &a->inputs[0];
    const cs_cell_in in = cs_cell_unpack(a, 1, 0);
    const gx_tensor *x = in.x, *h = in.h, *w_ih = in.w_ih, *w_hh = in.w_hh;
    const gx_tensor *b_ih = in.b_ih, *b_hh = in.b_hh;
    const gx_tensor *o = a->outputs;
    int64_t B = x->shape.dims[0], I = x->shape.dims[1], H = h->shape.dims[1];
    int relu = cs_rnn_is_relu(a);
    double *dpre;
    gx_status st = cs_rnn_workspace(a, "rnn_cell_backward", B * H, &dpre);
    if (st != GX_OK) return st;
    for (int64_t b = 0; b < B; b++)
        for (int64_t j = 0; j < H; j++) {
            double pre = cs_rnn_pre(x, h, w_ih, w_hh, b_ih, b_hh, b, j, I, H);
            double g = cs_load(dy, b * H + j), t = tanh(pre);
            dpre[b * H + j] = relu ? (pre > 0.0 ? g : 0.0) : g * (1.0 - t * t);
        }
    cs_rnn_backward_tail(x, h, w_ih, w_hh, dpre, dpre, NULL, &o[0], &o[1], &o[2], &o[3], &o[4],
                         &o[5], H);
    return GX_OK;
}

// ---- lstm_cell ----------------------------------------------------------------------------------

// the four gates of unit j of batch row b, activated: i, f, g, o (gates = x W_ih^T + b_ih +
// h W_hh^T + b_hh, blocks of H rows in that order)
static void cs_lstm_gates(const gx_tensor *x, const gx_tensor *h, const gx_tensor *w_ih,
                          const gx_tensor *w_hh, const gx_tensor *b_ih, const gx_tensor *b_hh,
                          int64_t b, int64_t j, int64_t I, int64_t H, double gate[4]) {
    for (int k = 0; k < 4; k++) {
        int64_t row = k * H + j;
        double pre = cs_rnn_pre(x, h, w_ih, w_hh, b_ih, b_hh, b, row, I, H);
        gate[k] = k == 2 ? tanh(pre) : cs_sigmoid(pre);
    }
}

// x is [B, I], h and c are [B, H], w_ih is [4H, I], w_hh is [4H, H], b_ih and b_hh are [4H]
// (optional); h' and c' are [B, H]: c' = f c + i g, h' = o tanh(c')
static gx_status lstm_cell_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const cs_cell_in in = cs_cell_unpack(a, 0, 1);
    const gx_tensor *x = in.x, *h = in.h, *c = in.c, *w_ih = in.w_ih, *w_hh = in.w_hh;
    const gx_tensor *b_ih = in.b_ih, *b_hh = in.b_hh;
    const gx_tensor *h_out = &a->outputs[0], *c_out = &a->outputs[1];
    int64_t B = x->shape.dims[0], I = x->shape.dims[1], H = h->shape.dims[1];
    for (int64_t b = 0; b < B; b++)
        for (int64_t j = 0; j < H; j++) {
            double gt[4];
            cs_lstm_gates(x, h, w_ih, w_hh, b_ih, b_hh, b, j, I, H, gt);
            double cn = gt[1] * cs_load(c, b * H + j) + gt[0] * gt[2];
            cs_store(c_out, b * H + j, cn);
            cs_store(h_out, b * H + j, gt[3] * tanh(cn));
        }
    return GX_OK;
}

static uint64_t lstm_cell_backward_ws(int32_t n_inputs, const gx_tensor_info *inputs,
                                      int32_t n_outputs, const gx_tensor_info *outputs,
                                      const gx_attr_value *attrs) {
    int64_t B, H;
    cs_rnn_backward_dims(n_outputs, outputs, &B, &H);
    return (uint64_t)(B * 4 * H) * sizeof(double);   // dgates [B, 4H]
}

// dh' and dc' are [B, H], then lstm_cell's inputs; outputs dx [B, I], dh [B, H], dc [B, H],
// dW_ih [4H, I], dW_hh [4H, H], db_ih [4H], db_hh [4H]. With t = tanh(c'):
//   dc_total = dc' + dh' o (1 - t^2),  dc = dc_total f
//   da_i = dc_total g i (1 - i),  da_f = dc_total c f (1 - f),  da_g = dc_total i (1 - g^2),
//   da_o = dh' t o (1 - o)
// workspace: dgates, B*4H doubles
static gx_status lstm_cell_backward_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *dhn = &a->inputs[0], *dcn = &a->inputs[1];
    const cs_cell_in in = cs_cell_unpack(a, 2, 1);
    const gx_tensor *x = in.x, *h = in.h, *c = in.c, *w_ih = in.w_ih, *w_hh = in.w_hh;
    const gx_tensor *b_ih = in.b_ih, *b_hh = in.b_hh;
    const gx_tensor *o = a->outputs;   // dx dh dc dW_ih dW_hh db_ih db_hh
    int64_t B = x->shape.dims[0], I = x->shape.dims[1], H = h->shape.dims[1], R = 4 * H;
    double *dg;
    gx_status st = cs_rnn_workspace(a, "lstm_cell_backward", B * R, &dg);
    if (st != GX_OK) return st;
    for (int64_t b = 0; b < B; b++)
        for (int64_t j = 0; j < H; j++) {
            double gt[4];
            cs_lstm_gates(x, h, w_ih, w_hh, b_ih, b_hh, b, j, I, H, gt);
            double ig = gt[0], fg = gt[1], gg = gt[2], og = gt[3];
            double cv = cs_load(c, b * H + j);
            double t = tanh(fg * cv + ig * gg);
            double gh = cs_load(dhn, b * H + j);
            double dct = cs_load(dcn, b * H + j) + gh * og * (1.0 - t * t);
            cs_store(&o[2], b * H + j, dct * fg);
            dg[b * R + j] = dct * gg * ig * (1.0 - ig);
            dg[b * R + H + j] = dct * cv * fg * (1.0 - fg);
            dg[b * R + 2 * H + j] = dct * ig * (1.0 - gg * gg);
            dg[b * R + 3 * H + j] = gh * t * og * (1.0 - og);
        }
    cs_rnn_backward_tail(x, h, w_ih, w_hh, dg, dg, NULL, &o[0], &o[1], &o[3], &o[4], &o[5], &o[6],
                         R);
    return GX_OK;
}

// ---- gru_cell -----------------------------------------------------------------------------------

// the gates of unit j of batch row b: r, z, n, and gh_n (needed by the backward)
static void cs_gru_gates(const gx_tensor *x, const gx_tensor *h, const gx_tensor *w_ih,
                         const gx_tensor *w_hh, const gx_tensor *b_ih, const gx_tensor *b_hh,
                         int64_t b, int64_t j, int64_t I, int64_t H, double *r, double *z,
                         double *n, double *gh_n) {
    *r = cs_sigmoid(cs_rnn_pre(x, h, w_ih, w_hh, b_ih, b_hh, b, j, I, H));
    *z = cs_sigmoid(cs_rnn_pre(x, h, w_ih, w_hh, b_ih, b_hh, b, H + j, I, H));
    *gh_n = cs_rnn_affine(h, w_hh, b_hh, b, 2 * H + j, H);
    *n = tanh(cs_rnn_affine(x, w_ih, b_ih, b, 2 * H + j, I) + *r * *gh_n);
}

// x is [B, I], h is [B, H], w_ih is [3H, I], w_hh is [3H, H], b_ih and b_hh are [3H]
// (optional), y is [B, H]: (1 - z) n + z h
static gx_status gru_cell_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const cs_cell_in in = cs_cell_unpack(a, 0, 0);
    const gx_tensor *x = in.x, *h = in.h, *w_ih = in.w_ih, *w_hh = in.w_hh;
    const gx_tensor *b_ih = in.b_ih, *b_hh = in.b_hh;
    const gx_tensor *y = &a->outputs[0];
    int64_t B = x->shape.dims[0], I = x->shape.dims[1], H = h->shape.dims[1];
    for (int64_t b = 0; b < B; b++)
        for (int64_t j = 0; j < H; j++) {
            double r, z, n, gh_n;
            cs_gru_gates(x, h, w_ih, w_hh, b_ih, b_hh, b, j, I, H, &r, &z, &n, &gh_n);
            cs_store(y, b * H + j, (1.0 - z) * n + z * cs_load(h, b * H + j));
        }
    return GX_OK;
}

static uint64_t gru_cell_backward_ws(int32_t n_inputs, const gx_tensor_info *inputs,
                                     int32_t n_outputs, const gx_tensor_info *outputs,
                                     const gx_attr_value *attrs) {
    int64_t B, H;
    cs_rnn_backward_dims(n_outputs, outputs, &B, &H);
    return (uint64_t)(2 * B * 3 * H + B * H) * sizeof(double);   // dgi, dgh [B, 3H]; z dy [B, H]
}

// dy is [B, H], then gru_cell's inputs; outputs dx [B, I], dh [B, H], dW_ih [3H, I],
// dW_hh [3H, H], db_ih [3H], db_hh [3H]. With da_n = dy (1 - z) (1 - n^2):
//   dgi = [da_r, da_z, da_n],  dgh = [da_r, da_z, da_n r],  dh gets dy z besides dgh W_hh
//   da_r = da_n gh_n r (1 - r),  da_z = dy (h - n) z (1 - z)
// workspace: dgi and dgh (B*3H doubles each), then dy z (B*H doubles)
static gx_status gru_cell_backward_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *dy = &a->inputs[0];
    const cs_cell_in in = cs_cell_unpack(a, 1, 0);
    const gx_tensor *x = in.x, *h = in.h, *w_ih = in.w_ih, *w_hh = in.w_hh;
    const gx_tensor *b_ih = in.b_ih, *b_hh = in.b_hh;
    const gx_tensor *o = a->outputs;   // dx dh dW_ih dW_hh db_ih db_hh
    int64_t B = x->shape.dims[0], I = x->shape.dims[1], H = h->shape.dims[1], R = 3 * H;
    double *ws;
    gx_status st = cs_rnn_workspace(a, "gru_cell_backward", 2 * B * R + B * H, &ws);
    if (st != GX_OK) return st;
    double *dgi = ws, *dgh = ws + B * R, *dh_direct = ws + 2 * B * R;
    for (int64_t b = 0; b < B; b++)
        for (int64_t j = 0; j < H; j++) {
            double r, z, n, gh_n;
            cs_gru_gates(x, h, w_ih, w_hh, b_ih, b_hh, b, j, I, H, &r, &z, &n, &gh_n);
            double g = cs_load(dy, b * H + j), hv = cs_load(h, b * H + j);
            double da_n = g * (1.0 - z) * (1.0 - n * n);
            double da_r = da_n * gh_n * r * (1.0 - r);
            double da_z = g * (hv - n) * z * (1.0 - z);
            dgi[b * R + j] = dgh[b * R + j] = da_r;
            dgi[b * R + H + j] = dgh[b * R + H + j] = da_z;
            dgi[b * R + 2 * H + j] = da_n;
            dgh[b * R + 2 * H + j] = da_n * r;
            dh_direct[b * H + j] = g * z;
        }
    cs_rnn_backward_tail(x, h, w_ih, w_hh, dgi, dgh, dh_direct, &o[0], &o[1], &o[2], &o[3], &o[4],
                         &o[5], R);
    return GX_OK;
}

static const gx_kernel_desc cs_rnn_kernels[] = {
    CS_KERNELS_FLOAT("rnn_cell", rnn_cell_run),
    CS_KERNELS_FLOAT("lstm_cell", lstm_cell_run),
    CS_KERNELS_FLOAT("gru_cell", gru_cell_run),
    CS_KERNELS_FLOAT_WS("rnn_cell_backward", rnn_cell_backward_run, rnn_cell_backward_ws),
    CS_KERNELS_FLOAT_WS("lstm_cell_backward", lstm_cell_backward_run, lstm_cell_backward_ws),
    CS_KERNELS_FLOAT_WS("gru_cell_backward", gru_cell_backward_run, gru_cell_backward_ws),
};

gx_status cs_register_rnn(const gx_host_api *api, gx_host *host) {
    return gx_register_kernels(api, host, cs_rnn_kernels,
                             sizeof cs_rnn_kernels / sizeof cs_rnn_kernels[0]);
}
