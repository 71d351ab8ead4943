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

static gx_status csl_softmax(const gx_kernel_args *a, int log_out) {
    if (a->ith != 0) return GX_OK;
    int64_t outer, len, inner;
    csl_inner_dims(a, &outer, &len, &inner);
    const float *px = csl_f32(&a->inputs[0]);
    float *py = csl_f32(&a->outputs[0]);
    if (inner == 1) {
        for (int64_t o = 0; o < outer; o++)
            csl_softmax_line(px + o * len, py + o * len, len, log_out);
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
