/*
 * kernels-nn.c: cpu-sleef kernels of the losses and lookups: cross_entropy, cross_entropy_grad,
 * mse, embedding, embedding_backward.
 *
 * The losses sum in double; each row's logsumexp is a max pass plus one SLEEF exp pass with a
 * double sum (csl_vec->exp_shift_sum), and the gradient reuses that pass to write the
 * probabilities straight into dx. Indices are checked at run time with the messages cpu-scalar
 * gives: a target or an index out of range is reported through set_error (GX_ERR_INVALID).
 *
 * Threads: the targets are checked and the weights summed first, serially, in position order;
 * then the rows go to the pool in blocks of csl_ce_rows(P, C) rows (a function of the shape).
 * cross_entropy keeps one loss sum per block and adds the blocks' sums in block order; mse
 * does the same with blocks of csl_mse_chunk(N) elements; cross_entropy_grad's rows are
 * independent. The lookups are memory copies (and a scatter-add whose rows may collide) and
 * stay serial.
 */
#include <math.h>
#include <string.h>

#include "cpu-sleef.h"

/* Blocks: about CSL_CHUNK_MATH logits (or CSL_SUM_CHUNK squared differences) each, and at most
 * CSL_NN_MAX_PARTS of them, whose partial sums live on the stack. */
#define CSL_NN_MAX_PARTS 256
#define CSL_MSE_CHUNK    16384

// ---- cross entropy ------------------------------------------------------------------------------

// The weight of position p: 0 when its target is ignore_index, else its mask value (1 without a
// mask). Call only on checked targets (csl_ce_check).
static double csl_ce_w(const gx_kernel_args *a, const int32_t *targets, const float *mask,
                       int64_t p) {
    if (targets[p] == a->attrs[0].i) return 0.0;
    return mask != NULL ? (double)mask[p] : 1.0;
}

// Check every target and return the weights' sum (in position order). A target outside [0, C)
// that is not ignored is an error even where the mask is 0, so bad data is caught wherever it
// sits.
static gx_status csl_ce_check(const gx_kernel_args *a, const char *op, const int32_t *targets,
                              const float *mask, int64_t P, int64_t C, double *total) {
    *total = 0.0;
    for (int64_t p = 0; p < P; p++) {
        int32_t t = targets[p];
        if (t != a->attrs[0].i && (t < 0 || t >= C))
            return a->api->set_error(a->host, GX_ERR_INVALID,
                                     "%s: target %d at position %lld is outside [0, %lld)", op,
                                     (int)t, (long long)p, (long long)C);
        *total += csl_ce_w(a, targets, mask, p);
    }
    return GX_OK;
}

// rows per block: about CSL_CHUNK_MATH logits, at most CSL_NN_MAX_PARTS blocks
static int64_t csl_ce_rows(int64_t P, int64_t C) {
    int64_t rows = C >= CSL_CHUNK_MATH ? 1 : CSL_CHUNK_MATH / (C > 0 ? C : 1);
    int64_t fewest = csl_n_chunks(P, CSL_NN_MAX_PARTS);
    return rows > fewest ? rows : fewest;
}

// max and log(sum(exp(l - max))) of the C logits of one row
static void csl_logsumexp_parts(const float *l, int64_t C, float *mx, double *log_sum) {
    float m = -INFINITY;
    for (int64_t c = 0; c < C; c++) m = l[c] > m ? l[c] : m;
    *mx = m;
    *log_sum = log(csl_vec->exp_shift_sum(NULL, l, m, C));
}

typedef struct csl_ce_job {
    const gx_kernel_args *a;
    const float          *logits, *mask;
    const int32_t        *targets;
    float                *dx;
    int64_t               P, C, rows;
    double                total, g;
    double               *part;    /* cross_entropy: each block's loss sum */
} csl_ce_job;

// cross_entropy: block t's sum of w_p * (logsumexp(l_p) - l_p[t_p]), rows in order
static void csl_ce_task(void *arg, int64_t t) {
    const csl_ce_job *j = arg;
    int64_t p0 = t * j->rows, p1 = p0 + j->rows < j->P ? p0 + j->rows : j->P;
    double loss = 0.0;
    for (int64_t p = p0; p < p1; p++) {
        double w = csl_ce_w(j->a, j->targets, j->mask, p);
        if (w == 0.0) continue;   // skip the row: garbage logits under a zero weight stay out
        const float *l = j->logits + p * j->C;
        float mx;
        double log_sum;
        csl_logsumexp_parts(l, j->C, &mx, &log_sum);
        loss += w * (((double)mx + log_sum) - (double)l[j->targets[p]]);
    }
    j->part[t] = loss;
}

// logits is [..., C] (P rows), targets is i32 [...], mask is f32 [...] (optional), y is a scalar:
// sum_p w_p * (logsumexp(l_p) - l_p[t_p]) / sum_p w_p, or 0 when no position has weight.
// attrs: ignore_index
static gx_status cross_entropy_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *l = &a->inputs[0];
    csl_ce_job j = {.a = a, .logits = csl_f32(l), .targets = (const int32_t *)a->inputs[1].data,
                    .mask = a->n_inputs > 2 ? csl_f32(&a->inputs[2]) : NULL,
                    .C = l->shape.dims[l->shape.ndim - 1], .P = csl_numel(&a->inputs[1])};
    GX_TRY(csl_ce_check(a, "cross_entropy", j.targets, j.mask, j.P, j.C, &j.total));
    double part[CSL_NN_MAX_PARTS], loss = 0.0;
    j.rows = csl_ce_rows(j.P, j.C);
    j.part = part;
    int64_t n = csl_n_chunks(j.P, j.rows);
    csl_parallel(a->backend_ctx, csl_ce_task, &j, n);
    for (int64_t t = 0; t < n; t++) loss += part[t];   // block order, whatever ran them
    csl_f32(&a->outputs[0])[0] = (float)(j.total != 0.0 ? loss / j.total : 0.0);
    return GX_OK;
}

// cross_entropy_grad: rows [p0, p1)
static void csl_ce_grad_task(void *arg, int64_t p0, int64_t p1) {
    const csl_ce_job *j = arg;
    int64_t C = j->C;
    for (int64_t p = p0; p < p1; p++) {
        double w = csl_ce_w(j->a, j->targets, j->mask, p);
        float *row = j->dx + p * C;
        if (w == 0.0 || j->total == 0.0) {
            memset(row, 0, (size_t)C * sizeof(float));
            continue;
        }
        const float *lr = j->logits + p * C;
        float mx = -INFINITY;
        for (int64_t c = 0; c < C; c++) mx = lr[c] > mx ? lr[c] : mx;
        double sum = csl_vec->exp_shift_sum(row, lr, mx, C);   // row = exp(l - max)
        double scale = w / j->total * j->g;
        float k = (float)(scale / sum);
        for (int64_t c = 0; c < C; c++) row[c] *= k;
        int32_t t = j->targets[p];
        row[t] = (float)((double)row[t] - scale);
    }
}

// dy is a scalar, logits is [..., C], targets is i32 [...], mask is f32 [...] (optional),
// dx is [..., C] = (softmax(l_p) - onehot(t_p)) * w_p / sum w * dy; rows with w_p = 0 are zero,
// and everything is zero when sum w = 0. attrs: ignore_index
static gx_status cross_entropy_grad_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *l = &a->inputs[1];
    csl_ce_job j = {.a = a, .logits = csl_f32(l), .targets = (const int32_t *)a->inputs[2].data,
                    .mask = a->n_inputs > 3 ? csl_f32(&a->inputs[3]) : NULL,
                    .dx = csl_f32(&a->outputs[0]), .C = l->shape.dims[l->shape.ndim - 1],
                    .P = csl_numel(&a->inputs[2]), .g = csl_f32(&a->inputs[0])[0]};
    // the normaliser is needed before the first row, so weigh (and check) every position first
    GX_TRY(csl_ce_check(a, "cross_entropy_grad", j.targets, j.mask, j.P, j.C, &j.total));
    csl_parallel_range(a->backend_ctx, csl_ce_grad_task, &j, j.P, csl_ce_rows(j.P, j.C));
    return GX_OK;
}

// ---- mse ----------------------------------------------------------------------------------------

// elements per block: at least CSL_MSE_CHUNK, at most CSL_NN_MAX_PARTS blocks
static int64_t csl_mse_chunk(int64_t N) {
    int64_t c = csl_n_chunks(csl_n_chunks(N, CSL_NN_MAX_PARTS), 64) * 64;
    return c > CSL_MSE_CHUNK ? c : CSL_MSE_CHUNK;
}

typedef struct csl_mse_job {
    const float *pred, *target;
    int64_t      N, chunk;
    double      *part;
} csl_mse_job;

// block t's sum of squared differences: eight partial sums in double, added in a fixed order
static void csl_mse_task(void *arg, int64_t t) {
    const csl_mse_job *j = arg;
    int64_t i = t * j->chunk, end = i + j->chunk < j->N ? i + j->chunk : j->N;
    double part[8] = {0};
    for (; i + 8 <= end; i += 8)
        for (int k = 0; k < 8; k++) {
            double d = (double)j->pred[i + k] - (double)j->target[i + k];
            part[k] += d * d;
        }
    for (int k = 0; i < end; i++, k++) {
        double d = (double)j->pred[i] - (double)j->target[i];
        part[k] += d * d;
    }
    j->part[t] = ((part[0] + part[1]) + (part[2] + part[3])) +
                 ((part[4] + part[5]) + (part[6] + part[7]));
}

// pred and target have the same shape [...] of N elements, y is a scalar: mean((pred - target)^2),
// 0 when N = 0; blocks' sums added in block order.
static gx_status mse_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    double part[CSL_NN_MAX_PARTS], sum = 0.0;
    csl_mse_job j = {.pred = csl_f32(&a->inputs[0]), .target = csl_f32(&a->inputs[1]),
                     .N = csl_numel(&a->inputs[0]), .part = part};
    j.chunk = csl_mse_chunk(j.N);
    int64_t n = csl_n_chunks(j.N, j.chunk);
    csl_parallel(a->backend_ctx, csl_mse_task, &j, n);
    for (int64_t t = 0; t < n; t++) sum += part[t];
    csl_f32(&a->outputs[0])[0] = (float)(j.N > 0 ? sum / (double)j.N : 0.0);
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
