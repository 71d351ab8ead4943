/*
 * kernels-nn.c: cpu-sleef kernels of the losses and lookups: cross_entropy, cross_entropy_grad,
 * mse, embedding, embedding_backward.
 *
 * The losses sum in double; each row's logsumexp is a max pass plus one SLEEF exp pass with a
 * double sum (csl_vec->exp_shift_sum), and the gradient reuses that pass to write the
 * probabilities straight into dx. Indices are checked at run time with the messages cpu-scalar
 * gives: a target or an index out of range is reported through set_error (GX_ERR_INVALID).
 */
#include <math.h>
#include <string.h>

#include "cpu-sleef.h"

// ---- cross entropy ------------------------------------------------------------------------------

// The weight of position p: 0 when its target is ignore_index, else its mask value (1 without a
// mask). A target outside [0, C) that is not ignored is an error even where the mask is 0, so bad
// data is caught wherever it sits.
static gx_status csl_ce_weight(const gx_kernel_args *a, const char *op, const int32_t *targets,
                               const float *mask, int64_t p, int64_t C, double *w) {
    int32_t t = targets[p];
    if (t == a->attrs[0].i) {
        *w = 0.0;
        return GX_OK;
    }
    if (t < 0 || t >= C)
        return a->api->set_error(a->host, GX_ERR_INVALID,
                                 "%s: target %d at position %lld is outside [0, %lld)", op, (int)t,
                                 (long long)p, (long long)C);
    *w = mask != NULL ? (double)mask[p] : 1.0;
    return GX_OK;
}

// max and log(sum(exp(l - max))) of the C logits of one row
static void csl_logsumexp_parts(const float *l, int64_t C, float *mx, double *log_sum) {
    float m = -INFINITY;
    for (int64_t c = 0; c < C; c++) m = l[c] > m ? l[c] : m;
    *mx = m;
    *log_sum = log(csl_vec->exp_shift_sum(NULL, l, m, C));
}

// logits is [..., C] (P rows), targets is i32 [...], mask is f32 [...] (optional), y is a scalar:
// sum_p w_p * (logsumexp(l_p) - l_p[t_p]) / sum_p w_p, or 0 when no position has weight.
// attrs: ignore_index
static gx_status cross_entropy_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *l = &a->inputs[0];
    const int32_t *targets = (const int32_t *)a->inputs[1].data;
    const float *mask = a->n_inputs > 2 ? csl_f32(&a->inputs[2]) : NULL;
    const float *pl = csl_f32(l);
    int64_t C = l->shape.dims[l->shape.ndim - 1];
    int64_t P = csl_numel(&a->inputs[1]);
    double loss = 0.0, total = 0.0;
    for (int64_t p = 0; p < P; p++) {
        double w;
        GX_TRY(csl_ce_weight(a, "cross_entropy", targets, mask, p, C, &w));
        if (w == 0.0) continue;   // skip the row: garbage logits under a zero weight stay out
        float mx;
        double log_sum;
        csl_logsumexp_parts(pl + p * C, C, &mx, &log_sum);
        loss += w * (((double)mx + log_sum) - (double)pl[p * C + targets[p]]);
        total += w;
    }
    csl_f32(&a->outputs[0])[0] = (float)(total != 0.0 ? loss / total : 0.0);
    return GX_OK;
}

// dy is a scalar, logits is [..., C], targets is i32 [...], mask is f32 [...] (optional),
// dx is [..., C] = (softmax(l_p) - onehot(t_p)) * w_p / sum w * dy; rows with w_p = 0 are zero,
// and everything is zero when sum w = 0. attrs: ignore_index
static gx_status cross_entropy_grad_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *l = &a->inputs[1];
    const int32_t *targets = (const int32_t *)a->inputs[2].data;
    const float *mask = a->n_inputs > 3 ? csl_f32(&a->inputs[3]) : NULL;
    const float *pl = csl_f32(l);
    float *dx = csl_f32(&a->outputs[0]);
    int64_t C = l->shape.dims[l->shape.ndim - 1];
    int64_t P = csl_numel(&a->inputs[2]);
    // the normaliser is needed before the first row, so weigh (and check) every position first
    double total = 0.0;
    for (int64_t p = 0; p < P; p++) {
        double w;
        GX_TRY(csl_ce_weight(a, "cross_entropy_grad", targets, mask, p, C, &w));
        total += w;
    }
    double g = csl_f32(&a->inputs[0])[0];
    for (int64_t p = 0; p < P; p++) {
        double w;
        csl_ce_weight(a, "cross_entropy_grad", targets, mask, p, C, &w);   // checked above
        float *row = dx + p * C;
        if (w == 0.0 || total == 0.0) {
            memset(row, 0, (size_t)C * sizeof(float));
            continue;
        }
        const float *lr = pl + p * C;
        float mx = -INFINITY;
        for (int64_t c = 0; c < C; c++) mx = lr[c] > mx ? lr[c] : mx;
        double sum = csl_vec->exp_shift_sum(row, lr, mx, C);   // row = exp(l - max)
        double scale = w / total * g;
        float k = (float)(scale / sum);
        for (int64_t c = 0; c < C; c++) row[c] *= k;
        row[targets[p]] = (float)((double)row[targets[p]] - scale);
    }
    return GX_OK;
}

// ---- mse ----------------------------------------------------------------------------------------

// pred and target have the same shape [...] of N elements, y is a scalar: mean((pred - target)^2),
// 0 when N = 0. Eight partial sums in double, added in a fixed order.
static gx_status mse_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const float *pred = csl_f32(&a->inputs[0]), *target = csl_f32(&a->inputs[1]);
    int64_t N = csl_numel(&a->inputs[0]);
    double part[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= N; i += 8)
        for (int k = 0; k < 8; k++) {
            double d = (double)pred[i + k] - (double)target[i + k];
            part[k] += d * d;
        }
    for (int k = 0; i < N; i++, k++) {
        double d = (double)pred[i] - (double)target[i];
        part[k] += d * d;
    }
    double sum = ((part[0] + part[1]) + (part[2] + part[3])) +
                 ((part[4] + part[5]) + (part[6] + part[7]));
    csl_f32(&a->outputs[0])[0] = (float)(N > 0 ? sum / (double)N : 0.0);
    return GX_OK;
}

// ---- embedding ----------------------------------------------------------------------------------

// table is [V, E], idx is i32 [...] (P positions), y is [..., E]: y[p, :] = table[idx[p], :]
static gx_status embedding_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *table = &a->inputs[0];
    const int32_t *idx = (const int32_t *)a->inputs[1].data;
    int64_t V = table->shape.dims[0], E = table->shape.dims[1];
    int64_t P = csl_numel(&a->inputs[1]);
    const float *pt = csl_f32(table);
    float *y = csl_f32(&a->outputs[0]);
    for (int64_t p = 0; p < P; p++) {
        int32_t row = idx[p];
        if (row < 0 || row >= V)
            return a->api->set_error(a->host, GX_ERR_INVALID,
                                     "embedding: index %d at position %lld is outside [0, %lld)",
                                     (int)row, (long long)p, (long long)V);
        if (E > 0) memcpy(y + p * E, pt + row * E, (size_t)E * sizeof(float));
    }
    return GX_OK;
}

// dy is [..., E] (P rows), idx is i32 [...], dtable is [rows, E]: zeros, then dy[p, :] added into
// row idx[p], so repeated indices accumulate. attrs: rows. The sums accumulate in f32, in
// position order (as cpu-scalar does in the output's dtype), so the result is deterministic.
static gx_status embedding_backward_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *dt = &a->outputs[0];
    const int32_t *idx = (const int32_t *)a->inputs[1].data;
    const float *dy = csl_f32(&a->inputs[0]);
    float *pt = csl_f32(dt);
    int64_t rows = dt->shape.dims[0], E = dt->shape.dims[1];
    int64_t P = csl_numel(&a->inputs[1]);
    int64_t n = csl_numel(dt);
    if (n > 0) memset(pt, 0, (size_t)n * sizeof(float));
    for (int64_t p = 0; p < P; p++) {
        int32_t row = idx[p];
        if (row < 0 || row >= rows)
            return a->api->set_error(
                a->host, GX_ERR_INVALID,
                "embedding_backward: index %d at position %lld is outside [0, %lld)", (int)row,
                (long long)p, (long long)rows);
        float *dst = pt + row * E;
        const float *src = dy + p * E;
        for (int64_t e = 0; e < E; e++) dst[e] += src[e];
    }
    return GX_OK;
}

static const gx_kernel_desc csl_nn_kernels[] = {
    CSL_F32("cross_entropy", cross_entropy_run),
    CSL_F32("cross_entropy_grad", cross_entropy_grad_run),
    CSL_F32("mse", mse_run),
    CSL_F32("embedding", embedding_run),
    CSL_F32("embedding_backward", embedding_backward_run),
};

gx_status csl_register_nn(const gx_host_api *api, gx_host *host) {
    return gx_register_kernels(api, host, csl_nn_kernels, GX_COUNT(csl_nn_kernels));
}
