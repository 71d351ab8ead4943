/*
 * kernels-shape.c: cpu-scalar kernels that move elements without computing on them: transpose,
 * permute, reshape, broadcast_to, concat, split, slice, pad, index.
 *
 * They copy whole elements as bytes (gx_dtype_size), so the same code serves f32, f64 and i32;
 * i32 kernels are registered too because index tensors get sliced, indexed and reshaped (a time step
 * of i32 tokens [B, T] is index(tokens, 1, t)). Most ops view the tensor as [outer, axis, inner]
 * around one axis and copy contiguous runs of `inner` elements.
 */
#include <string.h>

#include "cpu-scalar.h"

// copy n elements of size esz from src[si] to dst[di]; memmove, as a planner may alias buffers
static void cs_move(const gx_tensor *dst, int64_t di, const gx_tensor *src, int64_t si,
                    int64_t n, size_t esz) {
    if (n <= 0) return;
    memmove((char *)dst->data + (size_t)di * esz, (const char *)src->data + (size_t)si * esz,
            (size_t)n * esz);
}

// zero n elements of dst from di (all-zero bytes are 0.0 in IEEE floats and 0 in i32)
static void cs_zero(const gx_tensor *dst, int64_t di, int64_t n, size_t esz) {
    if (n <= 0) return;
    memset((char *)dst->data + (size_t)di * esz, 0, (size_t)n * esz);
}

// ---- transpose, permute --------------------------------------------------------------------------

// x is [d0, d1, ...], y is [x.dims[perm[0]], x.dims[perm[1]], ...]: y's coordinate i walks x's axis
// perm[i], so the source offset is the sum of y's coordinates times x's strides, permuted.
static void cs_permute(const gx_tensor *x, const gx_tensor *y, const int32_t *perm) {
    int32_t r = x->shape.ndim;
    int64_t xstride[GX_MAX_DIMS];
    int64_t s = 1;
    for (int32_t d = r - 1; d >= 0; d--) {
        xstride[d] = s;
        s *= x->shape.dims[d];
    }
    size_t esz = gx_dtype_size(y->dtype);
    int64_t n = cs_numel(y);
    for (int64_t i = 0; i < n; i++) {
        int64_t rest = i, src = 0;
        for (int32_t d = r - 1; d >= 0; d--) {
            src += (rest % y->shape.dims[d]) * xstride[perm[d]];
            rest /= y->shape.dims[d];
        }
        cs_move(y, i, x, src, 1, esz);
    }
}

// x is [..., A, ..., B, ...], y is x with axes dim0 and dim1 swapped. attrs: dim0, dim1
static gx_status transpose_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *x = &a->inputs[0];
    int32_t r = x->shape.ndim, perm[GX_MAX_DIMS];
    for (int32_t d = 0; d < r; d++) perm[d] = d;
    int32_t d0 = cs_axis(a->attrs[0].i, r), d1 = cs_axis(a->attrs[1].i, r);
    perm[d0] = d1;
    perm[d1] = d0;
    cs_permute(x, &a->outputs[0], perm);
    return GX_OK;
}

// x is [d0, d1, ...], y.dims[i] = x.dims[axes[i]]. attrs: axes
static gx_status permute_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *x = &a->inputs[0];
    int32_t r = x->shape.ndim, perm[GX_MAX_DIMS];
    for (int32_t d = 0; d < r; d++) perm[d] = cs_axis(a->attrs[0].ints[d], r);
    cs_permute(x, &a->outputs[0], perm);
    return GX_OK;
}

// ---- reshape, broadcast_to -----------------------------------------------------------------------

// x and y hold the same elements in the same row-major order; only the shape differs
static gx_status reshape_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *y = &a->outputs[0];
    cs_move(y, 0, &a->inputs[0], 0, cs_numel(y), gx_dtype_size(y->dtype));
    return GX_OK;
}

// x broadcasts (NumPy rules) to y, whose shape is the `shape` attribute
static gx_status broadcast_to_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *x = &a->inputs[0], *y = &a->outputs[0];
    size_t esz = gx_dtype_size(y->dtype);
    int64_t n = cs_numel(y);
    for (int64_t i = 0; i < n; i++)
        cs_move(y, i, x, cs_broadcast_index(&x->shape, &y->shape, i), 1, esz);
    return GX_OK;
}

// ---- concat, split -------------------------------------------------------------------------------

// inputs k are [outer, L_k, inner], y is [outer, sum L_k, inner]. attrs: axis
static gx_status concat_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *y = &a->outputs[0];
    int32_t axis = cs_axis(a->attrs[0].i, y->shape.ndim);
    int64_t outer = cs_dims_prod(&y->shape, 0, axis);
    int64_t inner = cs_dims_prod(&y->shape, axis + 1, y->shape.ndim);
    int64_t ly = y->shape.dims[axis];
    size_t esz = gx_dtype_size(y->dtype);
    int64_t at = 0;   // where input k starts along the axis of y
    for (int32_t k = 0; k < a->n_inputs; k++) {
        const gx_tensor *x = &a->inputs[k];
        int64_t lx = x->shape.dims[axis];
        for (int64_t o = 0; o < outer; o++)
            cs_move(y, (o * ly + at) * inner, x, o * lx * inner, lx * inner, esz);
        at += lx;
    }
    return GX_OK;
}

// x is [outer, L, inner], output k is [outer, L / parts, inner]. attrs: parts, axis
static gx_status split_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *x = &a->inputs[0];
    int32_t axis = cs_axis(a->attrs[1].i, x->shape.ndim);
    int64_t outer = cs_dims_prod(&x->shape, 0, axis);
    int64_t inner = cs_dims_prod(&x->shape, axis + 1, x->shape.ndim);
    int64_t lx = x->shape.dims[axis];
    size_t esz = gx_dtype_size(x->dtype);
    int64_t at = 0;   // where output k starts along the axis of x
    for (int32_t k = 0; k < a->n_outputs; k++) {
        const gx_tensor *y = &a->outputs[k];
        int64_t ly = y->shape.dims[axis];
        for (int64_t o = 0; o < outer; o++)
            cs_move(y, o * ly * inner, x, (o * lx + at) * inner, ly * inner, esz);
        at += ly;
    }
    return GX_OK;
}

// ---- slice, pad, index ---------------------------------------------------------------------------

// x is [outer, D, inner], y is [outer, end - start, inner]: positions [start, end) of the axis.
// attrs: axis, start, end (negative start/end count from the end)
static gx_status slice_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *x = &a->inputs[0], *y = &a->outputs[0];
    int32_t axis = cs_axis(a->attrs[0].i, x->shape.ndim);
    int64_t lx = x->shape.dims[axis], ly = y->shape.dims[axis];
    int64_t start = a->attrs[1].i < 0 ? a->attrs[1].i + lx : a->attrs[1].i;
    // inference checked this; a wrong start here would read outside x, so refuse rather than trust
    if (start < 0 || start + ly > lx)
        return a->api->set_error(a->host, GX_ERR_INVALID,
                                 "slice: [%lld, %lld) is outside [0, %lld)", (long long)start,
                                 (long long)(start + ly), (long long)lx);
    int64_t outer = cs_dims_prod(&x->shape, 0, axis);
    int64_t inner = cs_dims_prod(&x->shape, axis + 1, x->shape.ndim);
    size_t esz = gx_dtype_size(y->dtype);
    for (int64_t o = 0; o < outer; o++)
        cs_move(y, o * ly * inner, x, (o * lx + start) * inner, ly * inner, esz);
    return GX_OK;
}

// x is [outer, D, inner], y is [outer, before + D + after, inner]: zeros around x. attrs: axis,
// before, after. Position j of y's axis holds x's position j - before when that exists, else zero.
static gx_status pad_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *x = &a->inputs[0], *y = &a->outputs[0];
    int32_t axis = cs_axis(a->attrs[0].i, x->shape.ndim);
    int64_t before = a->attrs[1].i;
    int64_t lx = x->shape.dims[axis], ly = y->shape.dims[axis];
    int64_t outer = cs_dims_prod(&x->shape, 0, axis);
    int64_t inner = cs_dims_prod(&x->shape, axis + 1, x->shape.ndim);
    size_t esz = gx_dtype_size(y->dtype);
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t j = 0; j < ly; j++) {
            int64_t src = j - before;
            if (src >= 0 && src < lx)
                cs_move(y, (o * ly + j) * inner, x, (o * lx + src) * inner, inner, esz);
            else
                cs_zero(y, (o * ly + j) * inner, inner, esz);
        }
    }
    return GX_OK;
}

// x is [outer, D, inner], y is [outer, inner]: position i of the axis, the axis removed.
// attrs: axis, i (negative counts from the end)
static gx_status index_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *x = &a->inputs[0], *y = &a->outputs[0];
    int32_t axis = cs_axis(a->attrs[0].i, x->shape.ndim);
    int64_t lx = x->shape.dims[axis];
    int64_t at = a->attrs[1].i < 0 ? a->attrs[1].i + lx : a->attrs[1].i;
    if (at < 0 || at >= lx)
        return a->api->set_error(a->host, GX_ERR_INVALID, "index: %lld is outside [0, %lld)",
                                 (long long)at, (long long)lx);
    int64_t outer = cs_dims_prod(&x->shape, 0, axis);
    int64_t inner = cs_dims_prod(&x->shape, axis + 1, x->shape.ndim);
    size_t esz = gx_dtype_size(y->dtype);
    for (int64_t o = 0; o < outer; o++)
        cs_move(y, o * inner, x, (o * lx + at) * inner, inner, esz);
    return GX_OK;
}

// f32, f64 and i32: these kernels only move bytes
#define CS_KERNELS_ANY(opname, fn) \
    CS_KERNELS_FLOAT(opname, fn), CS_KERNEL(opname, fn, GX_DTYPE_I32)

static const gx_kernel_desc cs_shape_kernels[] = {
    CS_KERNELS_ANY("transpose", transpose_run),
    CS_KERNELS_ANY("permute", permute_run),
    CS_KERNELS_ANY("reshape", reshape_run),
    CS_KERNELS_ANY("broadcast_to", broadcast_to_run),
    CS_KERNELS_ANY("concat", concat_run),
    CS_KERNELS_ANY("split", split_run),
    CS_KERNELS_ANY("slice", slice_run),
    CS_KERNELS_ANY("pad", pad_run),
    CS_KERNELS_ANY("index", index_run),
};

gx_status cs_register_shape(const gx_host_api *api, gx_host *host) {
    return gx_register_kernels(api, host, cs_shape_kernels,
                             sizeof cs_shape_kernels / sizeof cs_shape_kernels[0]);
}
