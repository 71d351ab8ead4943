/*
 * kernels-reduce.c: cpu-sleef reductions: sum, mean, max over a set of axes, and softmax,
 * log_softmax along one axis.
 *
 * sum and mean read x once, in memory order, adding into one double accumulator per output
 * element (a workspace of numel(y) doubles): contiguous reduced runs are summed with eight
 * partial sums, kept runs are added element-wise into the accumulator row, which covers both
 * "reduce the last axes" and "reduce the leading axes" (a sum_to over a batch) without strided
 * reads. max needs no accumulator (it is exact in f32). softmax and log_softmax use SLEEF's exp
 * with double row sums; lines along an inner axis are done a whole [axis, inner] slab at a time
 * with per-column max and sums in a workspace, so every pass stays contiguous.
 *
 * Threads, and the summation orders they must not change: sum and mean recognise the two common
 * layouts. Reducing trailing axes (x is [Q, P], summed over P; a full sum is Q = 1): each output
 * is csl_row_sum of its P elements, which for P > CSL_SUM_CHUNK adds fixed chunks' sums in chunk
 * order (chunk size a function of P), so a row's value is the same whether the chunks run on
 * one thread or many; the pool takes blocks of rows, or a lone row's chunks. Reducing leading
 * axes (x is [P, Q], summed over P, the sum_to of a broadcast): each output column is added
 * over p in order, and the pool takes blocks of columns. Other layouts, max, and softmax along
 * an inner axis stay serial; softmax along the last axis splits its independent lines.
 */
#include <math.h>

#include "cpu-sleef.h"

// ---- sum, mean, max -----------------------------------------------------------------------------

typedef enum csl_reduce_kind { CSL_SUM, CSL_MEAN, CSL_MAX } csl_reduce_kind;

// sum of n contiguous floats in double, eight partial sums added in a fixed order
static double csl_sum_run(const float *x, int64_t n) {
    double p[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) p[k] += x[i + k];
    for (int k = 0; i < n; i++, k++) p[k] += x[i];
    return ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]));
}

// Which axes are reduced (attrs: axes NONE = all, INT, or INTS; may be negative), the number of
// elements reduced into each output element, and y's element stride for every axis of x (0 on
// reduced axes): y keeps x's other axes in order, with or without keepdims.
static int64_t csl_reduce_layout(const gx_kernel_args *a, const gx_shape *xs, int64_t *ystride) {
    const gx_attr_value *axes = &a->attrs[0];
    int32_t r = xs->ndim;
    int reduced[GX_MAX_DIMS] = {0};
    if (axes->type == GX_ATTR_NONE) {
        for (int32_t d = 0; d < r; d++) reduced[d] = 1;
    } else if (axes->type == GX_ATTR_INT) {
        reduced[csl_axis(axes->i, r)] = 1;
    } else {
        // an empty list reduces nothing (NumPy's axis=()); repeated axes count once
        for (int32_t k = 0; k < axes->n_ints; k++) reduced[csl_axis(axes->ints[k], r)] = 1;
    }
    int64_t count = 1, s = 1;
    for (int32_t d = r - 1; d >= 0; d--) {
        if (reduced[d]) {
            ystride[d] = 0;
            count *= xs->dims[d];
        } else {
            ystride[d] = s;
            s *= xs->dims[d];
        }
    }
    return count;
}

static uint64_t sum_ws(int32_t n_inputs, const gx_tensor_info *inputs, int32_t n_outputs,
                       const gx_tensor_info *outputs, const gx_attr_value *attrs) {
    return n_outputs > 0 ? (uint64_t)gx_shape_numel(&outputs[0].shape) * sizeof(double) : 0;
}

// ---- sum and mean in parallel ------------------------------------------------------------------

/* A long row is summed in chunks of csl_sum_chunk(P) elements (at least CSL_SUM_CHUNK, at most
 * CSL_SUM_MAX_PARTS chunks), whose sums are added in order. */
#define CSL_SUM_CHUNK     16384
#define CSL_SUM_MAX_PARTS 256

static int64_t csl_sum_chunk(int64_t P) {
    int64_t c = csl_n_chunks(P, CSL_SUM_MAX_PARTS);
    c = csl_n_chunks(c, 64) * 64;
    return c > CSL_SUM_CHUNK ? c : CSL_SUM_CHUNK;
}

// the sum of n contiguous floats as the kernels define it (see above)
static double csl_row_sum(const float *x, int64_t P) {
    if (P <= CSL_SUM_CHUNK) return csl_sum_run(x, P);
    int64_t chunk = csl_sum_chunk(P);
    double s = 0.0;
    for (int64_t c0 = 0; c0 < P; c0 += chunk)
        s += csl_sum_run(x + c0, P - c0 < chunk ? P - c0 : chunk);
    return s;
}

typedef struct csl_sum_job {
    const float *x;
    float       *y;
    double      *acc;        /* leading: the accumulator row; a lone row: the chunk sums */
    int64_t      P, Q, chunk;
    double       div;        /* 1, or count for mean */
} csl_sum_job;

// trailing axes: rows [q0, q1) of x [Q, P]
static void csl_sum_rows_task(void *arg, int64_t q0, int64_t q1) {
    const csl_sum_job *j = arg;
    for (int64_t q = q0; q < q1; q++)
        j->y[q] = (float)(csl_row_sum(j->x + q * j->P, j->P) / j->div);
}

// a lone row's chunk t
static void csl_sum_part_task(void *arg, int64_t t) {
    const csl_sum_job *j = arg;
    int64_t c0 = t * j->chunk, n = j->P - c0 < j->chunk ? j->P - c0 : j->chunk;
    j->acc[t] = csl_sum_run(j->x + c0, n);
}

// leading axes: columns [c0, c1) of x [P, Q], over every p in order
static void csl_sum_cols_task(void *arg, int64_t c0, int64_t c1) {
    const csl_sum_job *j = arg;
    double *acc = j->acc;
    for (int64_t c = c0; c < c1; c++) acc[c] = 0.0;
    for (int64_t p = 0; p < j->P; p++) {
        const float *row = j->x + p * j->Q;
        for (int64_t c = c0; c < c1; c++) acc[c] += row[c];
    }
    for (int64_t c = c0; c < c1; c++) j->y[c] = (float)(acc[c] / j->div);
}

// The reduction as [Q, P] (trailing: returns 1) or [P, Q] (leading: returns 2), dims of size
// 1 aside; 0 for any other layout or an empty one.
static int csl_sum_layout(const gx_shape *xs, const int64_t *ystride, int64_t *P, int64_t *Q) {
    int seen_kept = 0, seen_red = 0, trailing = 1, leading = 1;
    *P = *Q = 1;
    for (int32_t d = 0; d < xs->ndim; d++) {
        if (xs->dims[d] == 1) continue;
        if (ystride[d] == 0) {
            *P *= xs->dims[d];
            leading &= !seen_kept;
            seen_red = 1;
        } else {
            *Q *= xs->dims[d];
            trailing &= !seen_red;
            seen_kept = 1;
        }
    }
    if (*P == 0 || *Q == 0) return 0;
    return trailing ? 1 : leading ? 2 : 0;
}

// 1 when done here (a layout csl_sum_layout knows), 0 to fall back to the serial walk
static int csl_sum_parallel(const gx_kernel_args *a, const int64_t *ystride, int64_t count,
                            csl_reduce_kind kind, double *acc) {
    const gx_tensor *x = &a->inputs[0];
    csl_sum_job j = {.x = csl_f32(x), .y = csl_f32(&a->outputs[0]), .acc = acc,
                     .div = kind == CSL_MEAN ? (double)count : 1.0};
    int layout = csl_sum_layout(&x->shape, ystride, &j.P, &j.Q);
    if (layout == 1 && j.Q == 1 && j.P > CSL_SUM_CHUNK) {
        double part[CSL_SUM_MAX_PARTS];
        j.chunk = csl_sum_chunk(j.P);
        j.acc = part;
        int64_t n = csl_n_chunks(j.P, j.chunk);
        csl_parallel(a->backend_ctx, csl_sum_part_task, &j, n);
        double s = 0.0;
        for (int64_t t = 0; t < n; t++) s += part[t];   // as csl_row_sum adds them
        j.y[0] = (float)(s / j.div);
        return 1;
    }
    if (layout == 1) {
        int64_t rows = j.P >= CSL_CHUNK_CHEAP ? 1 : CSL_CHUNK_CHEAP / j.P;
        csl_parallel_range(a->backend_ctx, csl_sum_rows_task, &j, j.Q, rows);
        return 1;
    }
    if (layout == 2) {
        int64_t cols = CSL_CHUNK_CHEAP / j.P / 64 * 64;
        csl_parallel_range(a->backend_ctx, csl_sum_cols_task, &j, j.Q, cols < 64 ? 64 : cols);
        return 1;
    }
    return 0;
}

// sum and mean: acc[numel(y)] doubles in the workspace
static gx_status csl_sum_mean(const gx_kernel_args *a, csl_reduce_kind kind) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *x = &a->inputs[0], *y = &a->outputs[0];
    int64_t ny = csl_numel(y);
    double *acc;
    GX_TRY(csl_workspace(a, kind == CSL_SUM ? "sum" : "mean", (uint64_t)ny * sizeof(double),
                         (void **)&acc));
    int64_t ystride[GX_MAX_DIMS];
    int64_t count = csl_reduce_layout(a, &x->shape, ystride);
    if (csl_sum_parallel(a, ystride, count, kind, acc)) return GX_OK;
    for (int64_t o = 0; o < ny; o++) acc[o] = 0.0;
    const float *px = csl_f32(x);
    csl_iter it;
    csl_iter_strided(&it, &x->shape, ystride);   // operand 0 walks x, operand 1 walks y
    for (int64_t r = 0; r < it.runs; r++) {
        const float *run = px + it.off[0];
        double *out = acc + it.off[1];
        if (it.inner_stride[1] == 0) {
            out[0] += csl_sum_run(run, it.inner);
        } else {
            for (int64_t i = 0; i < it.inner; i++) out[i * it.inner_stride[1]] += run[i];
        }
        csl_iter_next(&it);
    }
    float *py = csl_f32(y);
    // sum of nothing is 0; mean of nothing is 0/0 (NaN), as cpu-scalar
    for (int64_t o = 0; o < ny; o++)
        py[o] = (float)(kind == CSL_MEAN ? acc[o] / (double)count : acc[o]);
    return GX_OK;
}

static gx_status sum_run(const gx_kernel_args *a)  { return csl_sum_mean(a, CSL_SUM); }
static gx_status mean_run(const gx_kernel_args *a) { return csl_sum_mean(a, CSL_MEAN); }

// the larger, or NaN once either is NaN (like torch.amax); m starts at -inf
static inline float csl_max2(float m, float v) {
    return v > m || v != v ? v : m;
}

static gx_status max_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *x = &a->inputs[0], *y = &a->outputs[0];
    int64_t ny = csl_numel(y), ystride[GX_MAX_DIMS];
    csl_reduce_layout(a, &x->shape, ystride);
    float *py = csl_f32(y);
    for (int64_t o = 0; o < ny; o++) py[o] = -INFINITY;
    const float *px = csl_f32(x);
    csl_iter it;
    csl_iter_strided(&it, &x->shape, ystride);
    for (int64_t r = 0; r < it.runs; r++) {
        const float *run = px + it.off[0];
        float *out = py + it.off[1];
        if (it.inner_stride[1] == 0) {
            float m = out[0];
            for (int64_t i = 0; i < it.inner; i++) m = csl_max2(m, run[i]);
            out[0] = m;
        } else {
            for (int64_t i = 0; i < it.inner; i++)
                out[i * it.inner_stride[1]] = csl_max2(out[i * it.inner_stride[1]], run[i]);
        }
        csl_iter_next(&it);
    }
    return GX_OK;
}

// ---- softmax, log_softmax -----------------------------------------------------------------------

// x and y are [outer, len, inner]; attrs: axis. The max (NaN ignored, as fmax does) is
// subtracted before exp, which changes nothing mathematically and keeps exp from overflowing.
static void csl_inner_dims(const gx_kernel_args *a, int64_t *outer, int64_t *len, int64_t *inner) {
    const gx_shape *s = &a->inputs[0].shape;
    int32_t axis = csl_axis(a->attrs[0].i, s->ndim);
    *outer = csl_dims_prod(s, 0, axis);
    *len = s->dims[axis];
    *inner = csl_dims_prod(s, axis + 1, s->ndim);
}

// one contiguous line of len elements (inner == 1)
static void csl_softmax_line(const float *x, float *y, int64_t len, int log_out) {
    float mx = -INFINITY;
    for (int64_t j = 0; j < len; j++) mx = x[j] > mx ? x[j] : mx;
    if (!log_out) {
        double sum = csl_vec->exp_shift_sum(y, x, mx, len);
        float inv = (float)(1.0 / sum);
        for (int64_t j = 0; j < len; j++) y[j] *= inv;
    } else {
        double ls = log(csl_vec->exp_shift_sum(NULL, x, mx, len));
        for (int64_t j = 0; j < len; j++) y[j] = (float)(((double)x[j] - mx) - ls);
    }
}

typedef struct csl_softmax_job {
    const float *x;
    float       *y;
    int64_t      len;
    int          log_out;
} csl_softmax_job;

static void csl_softmax_lines(void *arg, int64_t o0, int64_t o1) {
    const csl_softmax_job *j = arg;
    for (int64_t o = o0; o < o1; o++)
        csl_softmax_line(j->x + o * j->len, j->y + o * j->len, j->len, j->log_out);
}

static gx_status csl_softmax(const gx_kernel_args *a, int log_out) {
    if (a->ith != 0) return GX_OK;
    int64_t outer, len, inner;
    csl_inner_dims(a, &outer, &len, &inner);
    const float *px = csl_f32(&a->inputs[0]);
    float *py = csl_f32(&a->outputs[0]);
    if (inner == 1) {   // independent lines, in blocks of about CSL_CHUNK_MATH elements
        csl_softmax_job j = {.x = px, .y = py, .len = len, .log_out = log_out};
        int64_t lines = len >= CSL_CHUNK_MATH ? 1 : CSL_CHUNK_MATH / (len > 0 ? len : 1);
        csl_parallel_range(a->backend_ctx, csl_softmax_lines, &j, outer, lines);
        return GX_OK;
    }
    // a slab [len, inner] at a time: per-column max, then exp and double sums row by row
    void *ws;
    GX_TRY(csl_workspace(a, log_out ? "log_softmax" : "softmax",
                         (uint64_t)inner * (sizeof(double) + sizeof(float)), &ws));
    double *sum = ws;
    float *mx = (float *)(sum + inner);
    for (int64_t o = 0; o < outer; o++) {
        const float *xs = px + o * len * inner;
        float *ys = py + o * len * inner;
        for (int64_t i = 0; i < inner; i++) {
            mx[i] = -INFINITY;
            sum[i] = 0.0;
        }
        for (int64_t j = 0; j < len; j++)
            for (int64_t i = 0; i < inner; i++)
                mx[i] = xs[j * inner + i] > mx[i] ? xs[j * inner + i] : mx[i];
        for (int64_t j = 0; j < len; j++) {
            float *yr = ys + j * inner;
            for (int64_t i = 0; i < inner; i++) yr[i] = xs[j * inner + i] - mx[i];
            csl_vec->exp(yr, yr, inner);
            for (int64_t i = 0; i < inner; i++) sum[i] += yr[i];
        }
        if (!log_out) {
            for (int64_t i = 0; i < inner; i++) mx[i] = (float)(1.0 / sum[i]);   // now 1 / sum
            for (int64_t j = 0; j < len; j++)
                for (int64_t i = 0; i < inner; i++) ys[j * inner + i] *= mx[i];
        } else {
            for (int64_t i = 0; i < inner; i++) sum[i] = log(sum[i]);   // now log(sum)
            for (int64_t j = 0; j < len; j++)
                for (int64_t i = 0; i < inner; i++)
                    ys[j * inner + i] =
                        (float)(((double)xs[j * inner + i] - mx[i]) - sum[i]);
        }
    }
    return GX_OK;
}

static gx_status softmax_run(const gx_kernel_args *a)     { return csl_softmax(a, 0); }
static gx_status log_softmax_run(const gx_kernel_args *a) { return csl_softmax(a, 1); }

// inner * (double + float) bytes when the axis has elements after it, else none
static uint64_t softmax_ws(int32_t n_inputs, const gx_tensor_info *inputs, int32_t n_outputs,
                           const gx_tensor_info *outputs, const gx_attr_value *attrs) {
    if (n_inputs < 1 || attrs == NULL) return 0;
    const gx_shape *s = &inputs[0].shape;
    int32_t axis = csl_axis(attrs[0].i, s->ndim);
    if (axis < 0 || axis >= s->ndim) return 0;
    int64_t inner = csl_dims_prod(s, axis + 1, s->ndim);
    return inner == 1 ? 0 : (uint64_t)inner * (sizeof(double) + sizeof(float));
}

static const gx_kernel_desc csl_reduce_kernels[] = {
    CSL_F32_WS("sum", sum_run, sum_ws),
    CSL_F32_WS("mean", mean_run, sum_ws),
    CSL_F32("max", max_run),
    CSL_F32_WS("softmax", softmax_run, softmax_ws),
    CSL_F32_WS("log_softmax", log_softmax_run, softmax_ws),
};

gx_status csl_register_reduce(const gx_host_api *api, gx_host *host) {
    return gx_register_kernels(api, host, csl_reduce_kernels, GX_COUNT(csl_reduce_kernels));
}
