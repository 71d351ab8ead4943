/*
 * kernels-masks.c: cpu-scalar kernels of dropout, sequence_mask, argmax and cast.
 *
 * dropout draws its mask with gx_random_u01 from the SDK, element by element, so every backend
 * (and the VJP, which redraws it) gets the same mask for the same (seed, step, key).
 */
#include "cpu-scalar.h"

// y = x * keep / (1 - p), keep = u >= p with u = gx_random_u01(seed, step, key, i).
// inputs: x, rng i32[2]; attrs: p, key
static gx_status dropout_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *x = &a->inputs[0], *rng = &a->inputs[1], *y = &a->outputs[0];
    double p = a->attrs[0].f, scale = 1.0 / (1.0 - p);
    uint32_t seed = (uint32_t)cs_load_i32(rng, 0), step = (uint32_t)cs_load_i32(rng, 1);
    uint32_t key = (uint32_t)a->attrs[1].i;
    int64_t n = cs_numel(x);
    for (int64_t i = 0; i < n; i++) {
        int keep = gx_random_u01(seed, step, key, (uint32_t)i) >= (float)p;
        cs_store(y, i, keep ? cs_load(x, i) * scale : 0.0);
    }
    return GX_OK;
}

// mask[r, t] = t < lengths[r]; lengths is i32 of any shape, the mask adds a trailing [T]
static gx_status sequence_mask_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *len = &a->inputs[0], *m = &a->outputs[0];
    int64_t rows = cs_numel(len), T = a->attrs[0].i;
    for (int64_t r = 0; r < rows; r++) {
        int64_t L = cs_load_i32(len, r);
        for (int64_t t = 0; t < T; t++) cs_store(m, r * T + t, t < L ? 1.0 : 0.0);
    }
    return GX_OK;
}

// the first index of the largest value along `axis`; a NaN counts as the largest
static gx_status argmax_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *x = &a->inputs[0], *y = &a->outputs[0];
    int32_t axis = cs_axis(a->attrs[0].i, x->shape.ndim);
    int64_t outer = cs_dims_prod(&x->shape, 0, axis), n = x->shape.dims[axis];
    int64_t inner = cs_dims_prod(&x->shape, axis + 1, x->shape.ndim);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            int64_t best = 0;
            double bv = cs_load(x, o * n * inner + i);
            for (int64_t k = 1; k < n && bv == bv; k++) {
                double v = cs_load(x, (o * n + k) * inner + i);
                if (v > bv || v != v) {
                    bv = v;
                    best = k;
                }
            }
            ((int32_t *)y->data)[o * inner + i] = (int32_t)best;
        }
    return GX_OK;
}

// y = x converted to y's dtype (cs_store truncates towards zero into i32)
static gx_status cast_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    int64_t n = cs_numel(&a->inputs[0]);
    for (int64_t i = 0; i < n; i++) cs_store(&a->outputs[0], i, cs_load(&a->inputs[0], i));
    return GX_OK;
}

static const gx_kernel_desc cs_mask_kernels[] = {
    CS_KERNEL("cast", cast_run, GX_DTYPE_F32),
    CS_KERNEL("cast", cast_run, GX_DTYPE_F64),
    CS_KERNEL("cast", cast_run, GX_DTYPE_I32),
    CS_KERNELS_FLOAT("dropout", dropout_run),
    CS_KERNELS_FLOAT("sequence_mask", sequence_mask_run),
    CS_KERNEL("argmax", argmax_run, GX_DTYPE_I32),
};

gx_status cs_register_masks(const gx_host_api *api, gx_host *host) {
    return gx_register_kernels(api, host, cs_mask_kernels, GX_COUNT(cs_mask_kernels));
}
