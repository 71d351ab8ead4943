/*
 * kernels-masks.c: cpu-sleef kernels of dropout, sequence_mask, argmax and cast.
 *
 * dropout draws its mask with gx_random_u01 from the SDK, element by element, exactly as every
 * other backend does, so the mask (and the VJP's redraw of it) is the same on cpu-scalar and
 * here for the same (seed, step, key).
 */
#include "cpu-sleef.h"

// y = x * keep / (1 - p), keep = u >= p with u = gx_random_u01(seed, step, key, i); the product
// is formed in double and rounded once, as cpu-scalar does. inputs: x, rng i32[2]; attrs: p, key
static gx_status dropout_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const int32_t *rng = (const int32_t *)a->inputs[1].data;
    const float *x = csl_f32(&a->inputs[0]);
    float *y = csl_f32(&a->outputs[0]);
    double p = a->attrs[0].f, scale = 1.0 / (1.0 - p);
    uint32_t seed = (uint32_t)rng[0], step = (uint32_t)rng[1], key = (uint32_t)a->attrs[1].i;
    int64_t n = csl_numel(&a->inputs[0]);
    for (int64_t i = 0; i < n; i++) {
        int keep = gx_random_u01(seed, step, key, (uint32_t)i) >= (float)p;
        y[i] = keep ? (float)((double)x[i] * scale) : 0.0f;
    }
    return GX_OK;
}

// mask[r, t] = t < lengths[r]; lengths is i32 of any shape, the mask adds a trailing [T]
static gx_status sequence_mask_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const int32_t *len = (const int32_t *)a->inputs[0].data;
    float *m = csl_f32(&a->outputs[0]);
    int64_t rows = csl_numel(&a->inputs[0]), T = a->attrs[0].i;
    for (int64_t r = 0; r < rows; r++) {
        int64_t L = len[r];
        for (int64_t t = 0; t < T; t++) m[r * T + t] = t < L ? 1.0f : 0.0f;
    }
    return GX_OK;
}

// the first index of the largest value along `axis`; a NaN counts as the largest (the first
// NaN wins). The kernel is keyed by its i32 output, so it may meet an f64 input on a graph that
// mixes backends: both float dtypes are read.
#define CSL_ARGMAX_LOOP(T)                                                                  \
    do {                                                                                    \
        const T *px = (const T *)x->data;                                                   \
        for (int64_t o = 0; o < outer; o++)                                                 \
            for (int64_t i = 0; i < inner; i++) {                                           \
                const T *line = px + o * n * inner + i;                                     \
                int64_t best = 0;                                                           \
                T bv = line[0];                                                             \
                for (int64_t k = 1; k < n && bv == bv; k++) {                               \
                    T v = line[k * inner];                                                  \
                    if (v > bv || v != v) {                                                 \
                        bv = v;                                                             \
                        best = k;                                                           \
                    }                                                                       \
                }                                                                           \
                y[o * inner + i] = (int32_t)best;                                           \
            }                                                                               \
    } while (0)

static gx_status argmax_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *x = &a->inputs[0];
    int32_t *y = (int32_t *)a->outputs[0].data;
    int32_t axis = csl_axis(a->attrs[0].i, x->shape.ndim);
    int64_t outer = csl_dims_prod(&x->shape, 0, axis), n = x->shape.dims[axis];
    int64_t inner = csl_dims_prod(&x->shape, axis + 1, x->shape.ndim);
    if (x->dtype == GX_DTYPE_F64) CSL_ARGMAX_LOOP(double);
    else CSL_ARGMAX_LOOP(float);
    return GX_OK;
}

// ---- cast ---------------------------------------------------------------------------------------

// y = x converted to y's dtype (f32 or i32; i32 truncates towards zero, as cpu-scalar). Keyed by
// the output dtype, so x may be f32, f64 or i32: every source is read (through double, which
// holds each exactly, so the result is the one a direct conversion gives).
#define CSL_CAST_LOOP(TO, FROM)                                                   \
    do {                                                                          \
        const FROM *src = (const FROM *)x->data;                                  \
        TO *dst = (TO *)y->data;                                                  \
        for (int64_t i = 0; i < n; i++) dst[i] = (TO)(double)src[i];             \
    } while (0)

static gx_status cast_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *x = &a->inputs[0], *y = &a->outputs[0];
    int64_t n = csl_numel(x);
    if (y->dtype == GX_DTYPE_F32) {
        if (x->dtype == GX_DTYPE_F64) CSL_CAST_LOOP(float, double);
        else if (x->dtype == GX_DTYPE_I32) CSL_CAST_LOOP(float, int32_t);
        else CSL_CAST_LOOP(float, float);
    } else {
        if (x->dtype == GX_DTYPE_F64) CSL_CAST_LOOP(int32_t, double);
        else if (x->dtype == GX_DTYPE_I32) CSL_CAST_LOOP(int32_t, int32_t);
        else CSL_CAST_LOOP(int32_t, float);
    }
    return GX_OK;
}

static const gx_kernel_desc csl_mask_kernels[] = {
    CSL_KERNEL("cast", cast_run, GX_DTYPE_F32),
    CSL_KERNEL("cast", cast_run, GX_DTYPE_I32),
    CSL_F32("dropout", dropout_run),
    CSL_F32("sequence_mask", sequence_mask_run),
    CSL_KERNEL("argmax", argmax_run, GX_DTYPE_I32),
};

gx_status csl_register_masks(const gx_host_api *api, gx_host *host) {
    return gx_register_kernels(api, host, csl_mask_kernels, GX_COUNT(csl_mask_kernels));
}
