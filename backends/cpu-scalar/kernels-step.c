/*
 * kernels-step.c: cpu-scalar kernels of matmul_tn and of the recurrent steps with their input
 * projection already done (ops/rnn/step.c): rnn_step, lstm_step, gru_step and their
 * *_step_backward ops.
 *
 * The step ops take gi = x W_ih^T (+ biases) computed for the whole sequence before the loop,
 * so a step is one product h W_hh^T plus the gate maths. The backward ops are pure element-wise
 * maps from the output gradients and the saved activations (`act`) to the gate pre-activation
 * gradients; the products of the backward pass are separate matmul / matmul_tn nodes. Plain
 * loops, sums in double, one thread (all the work when ith == 0).
 */
#include <math.h>
#include <string.h>

#include "cpu-scalar.h"

static double cs_step_sigmoid(double v) {
    return v >= 0.0 ? 1.0 / (1.0 + exp(-v)) : exp(v) / (1.0 + exp(v));
}

// ---- matmul_tn ---------------------------------------------------------------------------------

// a is [..., M], b is [..., N] with the same leading dims, y is [M, N]:
// y[m, n] = sum over the L = numel(a) / M leading positions of a[l, m] b[l, n]
static gx_status matmul_tn_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *x = &a->inputs[0], *w = &a->inputs[1], *y = &a->outputs[0];
    int64_t M = y->shape.dims[0], N = y->shape.dims[1];
    int64_t L = M > 0 ? cs_numel(x) / M : (N > 0 ? cs_numel(w) / N : 0);
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            double acc = 0.0;
            for (int64_t l = 0; l < L; l++) acc += cs_load(x, l * M + m) * cs_load(w, l * N + n);
            cs_store(y, m * N + n, acc);
        }
    return GX_OK;
}

// ---- forward steps -----------------------------------------------------------------------------

// gh[b, row] = b_hh[row] + sum_k h[b, k] W_hhT[k, row]; h is [B, H], W_hhT is [H, R] (the
// transposed recurrent weights), b_hh [R] or NULL
static double cs_step_gh(const gx_tensor *h, const gx_tensor *w_hht, const gx_tensor *b_hh,
                         int64_t b, int64_t row, int64_t H) {
    int64_t R = w_hht->shape.dims[1];
    double acc = b_hh != NULL ? cs_load(b_hh, row) : 0.0;
    for (int64_t k = 0; k < H; k++) acc += cs_load(h, b * H + k) * cs_load(w_hht, k * R + row);
    return acc;
}

static int cs_step_is_relu(const gx_kernel_args *a) {
    return a->attrs != NULL && a->attrs[0].s != NULL && strcmp(a->attrs[0].s, "relu") == 0;
}

// gi [B, H], h [B, H], W_hhT [H, H], b_hh [H] (optional) -> h' [B, H] = act(gi + h W_hh^T + b_hh).
// attrs: nonlinearity ("tanh" or "relu")
static gx_status rnn_step_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *gi = &a->inputs[0], *h = &a->inputs[1], *w_hh = &a->inputs[2];
    const gx_tensor *b_hh = a->n_inputs > 3 ? &a->inputs[3] : NULL;
    const gx_tensor *y = &a->outputs[0];
    int64_t B = h->shape.dims[0], H = h->shape.dims[1];
    int relu = cs_step_is_relu(a);
    for (int64_t b = 0; b < B; b++)
        for (int64_t j = 0; j < H; j++) {
            double pre = cs_load(gi, b * H + j) + cs_step_gh(h, w_hh, b_hh, b, j, H);
            cs_store(y, b * H + j, relu ? (pre > 0.0 ? pre : 0.0) : tanh(pre));
        }
    return GX_OK;
}

// gi [B, 4H], h and c [B, H], W_hhT [H, 4H], b_hh [4H] (optional) -> h', c' [B, H], act [B, 4H]:
// pre = gi + h W_hh^T + b_hh (blocks i f g o); act = (σ(i), σ(f), tanh(g), σ(o));
// c' = f c + i g, h' = o tanh(c')
static gx_status lstm_step_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *gi = &a->inputs[0], *h = &a->inputs[1], *c = &a->inputs[2];
    const gx_tensor *w_hh = &a->inputs[3], *b_hh = a->n_inputs > 4 ? &a->inputs[4] : NULL;
    const gx_tensor *h_out = &a->outputs[0], *c_out = &a->outputs[1], *act = &a->outputs[2];
    int64_t B = h->shape.dims[0], H = h->shape.dims[1], R = 4 * H;
    for (int64_t b = 0; b < B; b++)
        for (int64_t j = 0; j < H; j++) {
            double gt[4];
            for (int k = 0; k < 4; k++) {
                int64_t row = k * H + j;
                double pre = cs_load(gi, b * R + row) + cs_step_gh(h, w_hh, b_hh, b, row, H);
                gt[k] = k == 2 ? tanh(pre) : cs_step_sigmoid(pre);
                cs_store(act, b * R + row, gt[k]);
            }
            double cn = gt[1] * cs_load(c, b * H + j) + gt[0] * gt[2];
            cs_store(c_out, b * H + j, cn);
            cs_store(h_out, b * H + j, gt[3] * tanh(cn));
        }
    return GX_OK;
}

// gi [B, 3H], h [B, H], W_hhT [H, 3H], b_hh [3H] (optional) -> h' [B, H], act [B, 4H]:
// gh = h W_hh^T + b_hh (blocks r z n); r = σ(gi_r + gh_r), z = σ(gi_z + gh_z),
// n = tanh(gi_n + r gh_n), h' = (1 - z) n + z h; act = (r, z, n, gh_n)
static gx_status gru_step_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *gi = &a->inputs[0], *h = &a->inputs[1], *w_hh = &a->inputs[2];
    const gx_tensor *b_hh = a->n_inputs > 3 ? &a->inputs[3] : NULL;
    const gx_tensor *y = &a->outputs[0], *act = &a->outputs[1];
    int64_t B = h->shape.dims[0], H = h->shape.dims[1], R = 3 * H, A = 4 * H;
    for (int64_t b = 0; b < B; b++)
        for (int64_t j = 0; j < H; j++) {
            double r = cs_step_sigmoid(cs_load(gi, b * R + j) + cs_step_gh(h, w_hh, b_hh, b, j, H));
            double z = cs_step_sigmoid(cs_load(gi, b * R + H + j) +
                                       cs_step_gh(h, w_hh, b_hh, b, H + j, H));
            double ghn = cs_step_gh(h, w_hh, b_hh, b, 2 * H + j, H);
            double n = tanh(cs_load(gi, b * R + 2 * H + j) + r * ghn);
            cs_store(y, b * H + j, (1.0 - z) * n + z * cs_load(h, b * H + j));
            cs_store(act, b * A + j, r);
            cs_store(act, b * A + H + j, z);
            cs_store(act, b * A + 2 * H + j, n);
            cs_store(act, b * A + 3 * H + j, ghn);
        }
    return GX_OK;
}

// ---- backward steps ----------------------------------------------------------------------------

// dh' [B, H], h' [B, H] -> dg [B, H] = dh' act'(pre), read from h': tanh: 1 - h'^2;
// relu: 1 where h' > 0 (pre > 0), else 0. attrs: nonlinearity
static gx_status rnn_step_backward_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *dh = &a->inputs[0], *hn = &a->inputs[1], *dg = &a->outputs[0];
    int64_t n = cs_numel(dg);
    int relu = cs_step_is_relu(a);
    for (int64_t i = 0; i < n; i++) {
        double g = cs_load(dh, i), y = cs_load(hn, i);
        cs_store(dg, i, relu ? (y > 0.0 ? g : 0.0) : g * (1.0 - y * y));
    }
    return GX_OK;
}

// dh', dc' [B, H], act [B, 4H] (i f g o activated), c, c' [B, H][, dact [B, 4H]]
// -> dg [B, 4H], dc [B, H]. With t = tanh(c'):
//   dct = dc' + dh' o (1 - t^2),  dc = dct f
//   di = dct g, df = dct c, dgg = dct i, do = dh' t  (each + its block of dact)
//   dg = (di i (1 - i), df f (1 - f), dgg (1 - g^2), do o (1 - o))
static gx_status lstm_step_backward_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *dhn = &a->inputs[0], *dcn = &a->inputs[1], *act = &a->inputs[2];
    const gx_tensor *c = &a->inputs[3], *cn = &a->inputs[4];
    const gx_tensor *dact = a->n_inputs > 5 ? &a->inputs[5] : NULL;
    const gx_tensor *dg = &a->outputs[0], *dc = &a->outputs[1];
    int64_t B = c->shape.dims[0], H = c->shape.dims[1], R = 4 * H;
    for (int64_t b = 0; b < B; b++)
        for (int64_t j = 0; j < H; j++) {
            int64_t k = b * H + j, o = b * R + j;
            double ig = cs_load(act, o), fg = cs_load(act, o + H);
            double gg = cs_load(act, o + 2 * H), og = cs_load(act, o + 3 * H);
            double t = tanh(cs_load(cn, k)), gh = cs_load(dhn, k);
            double dct = cs_load(dcn, k) + gh * og * (1.0 - t * t);
            double d[4] = {dct * gg, dct * cs_load(c, k), dct * ig, gh * t};
            if (dact != NULL)
                for (int q = 0; q < 4; q++) d[q] += cs_load(dact, o + q * H);
            cs_store(dc, k, dct * fg);
            cs_store(dg, o, d[0] * ig * (1.0 - ig));
            cs_store(dg, o + H, d[1] * fg * (1.0 - fg));
            cs_store(dg, o + 2 * H, d[2] * (1.0 - gg * gg));
            cs_store(dg, o + 3 * H, d[3] * og * (1.0 - og));
        }
    return GX_OK;
}

// dh' [B, H], act [B, 4H] (r z n gh_n), h [B, H][, dact [B, 4H]]
// -> dgi, dgh [B, 3H], dh_direct [B, H]:
//   dn = dh' (1 - z) + dact_n,  dz = dh' (h - n) + dact_z,  dh_direct = dh' z
//   dpn = dn (1 - n^2),  dr = dpn gh_n + dact_r,  dpr = dr r (1 - r),  dpz = dz z (1 - z)
//   dgi = (dpr, dpz, dpn),  dgh = (dpr, dpz, dpn r + dact_ghn)
static gx_status gru_step_backward_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *dhn = &a->inputs[0], *act = &a->inputs[1], *h = &a->inputs[2];
    const gx_tensor *dact = a->n_inputs > 3 ? &a->inputs[3] : NULL;
    const gx_tensor *dgi = &a->outputs[0], *dgh = &a->outputs[1], *dhd = &a->outputs[2];
    int64_t B = h->shape.dims[0], H = h->shape.dims[1], R = 3 * H, A = 4 * H;
    for (int64_t b = 0; b < B; b++)
        for (int64_t j = 0; j < H; j++) {
            int64_t k = b * H + j, o = b * A + j, p = b * R + j;
            double r = cs_load(act, o), z = cs_load(act, o + H), n = cs_load(act, o + 2 * H);
            double ghn = cs_load(act, o + 3 * H);
            double d[4] = {0.0, 0.0, 0.0, 0.0};   // dact: r z n gh_n
            if (dact != NULL)
                for (int q = 0; q < 4; q++) d[q] = cs_load(dact, o + q * H);
            double g = cs_load(dhn, k);
            double dn = g * (1.0 - z) + d[2];
            double dz = g * (cs_load(h, k) - n) + d[1];
            double dpn = dn * (1.0 - n * n);
            double dpr = (dpn * ghn + d[0]) * r * (1.0 - r);
            double dpz = dz * z * (1.0 - z);
            cs_store(dgi, p, dpr);
            cs_store(dgh, p, dpr);
            cs_store(dgi, p + H, dpz);
            cs_store(dgh, p + H, dpz);
            cs_store(dgi, p + 2 * H, dpn);
            cs_store(dgh, p + 2 * H, dpn * r + d[3]);
            cs_store(dhd, k, g * z);
        }
    return GX_OK;
}

static const gx_kernel_desc cs_step_kernels[] = {
    CS_KERNELS_FLOAT("matmul_tn", matmul_tn_run),
    CS_KERNELS_FLOAT("rnn_step", rnn_step_run),
    CS_KERNELS_FLOAT("lstm_step", lstm_step_run),
    CS_KERNELS_FLOAT("gru_step", gru_step_run),
    CS_KERNELS_FLOAT("rnn_step_backward", rnn_step_backward_run),
    CS_KERNELS_FLOAT("lstm_step_backward", lstm_step_backward_run),
    CS_KERNELS_FLOAT("gru_step_backward", gru_step_backward_run),
};

gx_status cs_register_step(const gx_host_api *api, gx_host *host) {
    return gx_register_kernels(api, host, cs_step_kernels, GX_COUNT(cs_step_kernels));
}
