/*
 * kernels-nn.c: cpu-scalar kernels of the losses and lookups: cross_entropy, cross_entropy_grad,
 * mse, embedding, embedding_backward.
 *
 * These are the kernels that read indices, so they are the ones that check data at run time: a
 * target or an index out of range is reported through set_error (GX_ERR_INVALID), never read.
 */
#include <math.h>

#include "cpu-scalar.h"

// ---- cross entropy -------------------------------------------------------------------------------

// The weight of position p: 0 when its target is ignore_index, else its mask value (1 without a
// mask). A target outside [0, C) that is not ignored is an error even where the mask is 0, so bad
// data is caught wherever it sits.
static gx_status cs_ce_weight(const gx_kernel_args *a, const char *op, const gx_tensor *targets,
                              const gx_tensor *mask, int64_t p, int64_t C, double *w) {
    int32_t t = cs_load_i32(targets, p);
    if (t == a->attrs[0].i) {
        *w = 0.0;
        return GX_OK;
    }
    if (t < 0 || t >= C)
        return a->api->set_error(a->host, GX_ERR_INVALID,
                                 "%s: target %d at position %lld is outside [0, %lld)", op, (int)t,
                                 (long long)p, (long long)C);
    *w = mask != NULL ? cs_load(mask, p) : 1.0;
    return GX_OK;
}

// the sum of the weights of all P positions, checking every target on the way
static gx_status cs_ce_total_weight(const gx_kernel_args *a, const char *op,
                                    const gx_tensor *targets, const gx_tensor *mask, int64_t P,
                                    int64_t C, double *total) {
    *total = 0.0;
    for (int64_t p = 0; p < P; p++) {
        double w;
        gx_status st = cs_ce_weight(a, op, targets, mask, p, C, &w);
        if (st != GX_OK) return st;
        *total += w;
    }
    return GX_OK;
}

// max and log(sum(exp(l - max))) of the C logits starting at l[base]
static void cs_logsumexp_parts(const gx_tensor *l, int64_t base, int64_t C, double *mx,
                               double *log_sum) {
    *mx = -INFINITY;
    for (int64_t c = 0; c < C; c++) *mx = fmax(*mx, cs_load(l, base + c));
    double sum = 0.0;
    for (int64_t c = 0; c < C; c++) sum += exp(cs_load(l, base + c) - *mx);
    *log_sum = log(sum);
}

// logits is [..., C] (P rows), targets is i32 [...], mask is float [...] (optional), y is a scalar:
// sum_p w_p * (logsumexp(l_p) - l_p[t_p]) / sum_p w_p, or 0 when no position has weight.
// attrs: ignore_index
static gx_status cross_entropy_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *l = &a->inputs[0], *targets = &a->inputs[1];
    const gx_tensor *mask = a->n_inputs > 2 ? &a->inputs[2] : NULL;
    int64_t C = l->shape.dims[l->shape.ndim - 1];
    int64_t P = cs_numel(targets);
    double loss = 0.0, total = 0.0;
    for (int64_t p = 0; p < P; p++) {
        double w;
        gx_status st = cs_ce_weight(a, "cross_entropy", targets, mask, p, C, &w);
        if (st != GX_OK) return st;
        if (w == 0.0) continue;   // skip the row: garbage logits under a zero weight stay out
        double mx, log_sum;
        cs_logsumexp_parts(l, p * C, C, &mx, &log_sum);
        int32_t t = cs_load_i32(targets, p);
        loss += w * (mx + log_sum - cs_load(l, p * C + t));
        total += w;
    }
    cs_store(&a->outputs[0], 0, total != 0.0 ? loss / total : 0.0);
    return GX_OK;
}

// dy is a scalar, logits is [..., C], targets is i32 [...], mask is float [...] (optional),
// dx is [..., C] = (softmax(l_p) - onehot(t_p)) * w_p / sum w * dy; rows with w_p = 0 are zero,
// and everything is zero when sum w = 0. attrs: ignore_index
static gx_status cross_entropy_grad_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *dy = &a->inputs[0], *l = &a->inputs[1], *targets = &a->inputs[2];
    const gx_tensor *mask = a->n_inputs > 3 ? &a->inputs[3] : NULL;
    const gx_tensor *dx = &a->outputs[0];
    int64_t C = l->shape.dims[l->shape.ndim - 1];
    int64_t P = cs_numel(targets);
    // the normaliser is needed before the first row, so weigh (and check) every position first
    double total;
    gx_status st = cs_ce_total_weight(a, "cross_entropy_grad", targets, mask, P, C, &total);
    if (st != GX_OK) return st;
    double g = cs_load(dy, 0);
    for (int64_t p = 0; p < P; p++) {
        double w;
        cs_ce_weight(a, "cross_entropy_grad", targets, mask, p, C, &w);   // checked above
        if (w == 0.0 || total == 0.0) {
            for (int64_t c = 0; c < C; c++) cs_store(dx, p * C + c, 0.0);
            continue;
        }
        double mx, log_sum;
        cs_logsumexp_parts(l, p * C, C, &mx, &log_sum);
        int32_t t = cs_load_i32(targets, p);
        double scale = w / total * g;
        for (int64_t c = 0; c < C; c++) {
            double prob = exp(cs_load(l, p * C + c) - mx - log_sum);
            cs_store(dx, p * C + c, (prob - (c == t ? 1.0 : 0.0)) * scale);
        }
    }
    return GX_OK;
}

// ---- mse -----------------------------------------------------------------------------------------

// pred and target have the same shape [...] of N elements, y is a scalar: mean((pred - target)^2),
// 0 when N = 0
static gx_status mse_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *pred = &a->inputs[0], *target = &a->inputs[1];
    int64_t N = cs_numel(pred);
    double sum = 0.0;
    for (int64_t i = 0; i < N; i++) {
        double d = cs_load(pred, i) - cs_load(target, i);
        sum += d * d;
    }
    cs_store(&a->outputs[0], 0, N > 0 ? sum / (double)N : 0.0);
    return GX_OK;
}

// ---- embedding -----------------------------------------------------------------------------------

// table is [V, E], idx is i32 [...] (P positions), y is [..., E]: y[p, :] = table[idx[p], :]
static gx_status embedding_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *table = &a->inputs[0], *idx = &a->inputs[1], *y = &a->outputs[0];
    int64_t V = table->shape.dims[0], E = table->shape.dims[1];
    int64_t P = cs_numel(idx);
    for (int64_t p = 0; p < P; p++) {
        int32_t row = cs_load_i32(idx, p);
        if (row < 0 || row >= V)
            return a->api->set_error(a->host, GX_ERR_INVALID,
                                     "embedding: index %d at position %lld is outside [0, %lld)",
                                     (int)row, (long long)p, (long long)V);
        for (int64_t e = 0; e < E; e++) cs_store(y, p * E + e, cs_load(table, row * E + e));
    }
    return GX_OK;
}

// dy is [..., E] (P rows), idx is i32 [...], dtable is [rows, E]: zeros, then dy[p, :] added into
// row idx[p], so repeated indices accumulate. attrs: rows. The sums accumulate in the output's
// own dtype (a double accumulator per row would need rows * E scratch), in position order, so the
// result is deterministic.
static gx_status embedding_backward_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *dy = &a->inputs[0], *idx = &a->inputs[1], *dt = &a->outputs[0];
    int64_t rows = dt->shape.dims[0], E = dt->shape.dims[1];
    int64_t P = cs_numel(idx);
    int64_t n = cs_numel(dt);
    for (int64_t i = 0; i < n; i++) cs_store(dt, i, 0.0);
    for (int64_t p = 0; p < P; p++) {
        int32_t row = cs_load_i32(idx, p);
        if (row < 0 || row >= rows)
            return a->api->set_error(
                a->host, GX_ERR_INVALID,
                "embedding_backward: index %d at position %lld is outside [0, %lld)", (int)row,
                (long long)p, (long long)rows);
        for (int64_t e = 0; e < E; e++)
            cs_store(dt, row * E + e, cs_load(dt, row * E + e) + cs_load(dy, p * E + e));
    }
    return GX_OK;
}

static const gx_kernel_desc cs_nn_kernels[] = {
    CS_KERNELS_FLOAT("cross_entropy", cross_entropy_run),
    CS_KERNELS_FLOAT("cross_entropy_grad", cross_entropy_grad_run),
    CS_KERNELS_FLOAT("mse", mse_run),
    CS_KERNELS_FLOAT("embedding", embedding_run),
    CS_KERNELS_FLOAT("embedding_backward", embedding_backward_run),
};

gx_status cs_register_nn(const gx_host_api *api, gx_host *host) {
    return gx_register_kernels(api, host, cs_nn_kernels,
                             sizeof cs_nn_kernels / sizeof cs_nn_kernels[0]);
}
