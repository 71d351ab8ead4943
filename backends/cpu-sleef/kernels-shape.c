/*
 * kernels-shape.c: cpu-sleef kernels that move elements without computing on them: transpose,
 * permute, reshape, broadcast_to, concat, split, slice, pad, index; f32 and i32 alike (both are
 * 4-byte elements, moved as uint32_t or with memcpy).
 *
 * concat, split, slice, pad and index view the tensor as [outer, axis, inner] around one axis
 * and copy contiguous runs of `inner` elements. transpose and permute walk the output in tiles
 * of its last two (coalesced) dims, so that reads and writes both stay in cache whichever of
 * the two is strided. broadcast_to uses the broadcast iterator.
 */
#include <string.h>

#include "cpu-sleef.h"

#define CSL_TILE 32

// copy n elements of size esz from src[si] to dst[di]; memmove, as a planner may alias buffers
static void csl_move(const gx_tensor *dst, int64_t di, const gx_tensor *src, int64_t si,
                     int64_t n, size_t esz) {
    if (n <= 0) return;
    memmove((char *)dst->data + (size_t)di * esz, (const char *)src->data + (size_t)si * esz,
            (size_t)n * esz);
}

// zero n elements of dst from di (all-zero bytes are 0.0f in IEEE floats and 0 in i32)
static void csl_zero(const gx_tensor *dst, int64_t di, int64_t n, size_t esz) {
    if (n <= 0) return;
    memset((char *)dst->data + (size_t)di * esz, 0, (size_t)n * esz);
}

// ---- transpose, permute -------------------------------------------------------------------------

// y's coordinate i walks x's axis perm[i]. After coalescing, the last two dims (rows R, columns C
// of y, with source strides sr and sc) are copied in CSL_TILE x CSL_TILE tiles; the dims in
// front of them are walked one (R x C) block at a time.
static void csl_permute(const gx_tensor *x, const gx_tensor *y, const int32_t *perm) {
    int32_t r = x->shape.ndim;
    int64_t xstride[GX_MAX_DIMS], src[GX_MAX_DIMS];
    int64_t s = 1;
    for (int32_t d = r - 1; d >= 0; d--) {
        xstride[d] = s;
        s *= x->shape.dims[d];
    }
    for (int32_t d = 0; d < r; d++) src[d] = xstride[perm[d]];
    if (csl_numel(y) == 0) return;
    csl_iter it;
    csl_iter_strided(&it, &y->shape, src);
    const uint32_t *px = (const uint32_t *)x->data;
    uint32_t *py = (uint32_t *)y->data;
    int32_t nd = it.nd;
    int64_t R = nd >= 2 ? it.dims[nd - 2] : 1, C = it.dims[nd - 1];
    int64_t sr = nd >= 2 ? it.stride[1][nd - 2] : 0, sc = it.stride[1][nd - 1];
    int64_t blocks = 1;
    for (int32_t d = 0; d < nd - 2; d++) blocks *= it.dims[d];
    for (int64_t blk = 0; blk < blocks; blk++) {
        int64_t rest = blk, so = 0;
        for (int32_t d = nd - 3; d >= 0; d--) {
            so += (rest % it.dims[d]) * it.stride[1][d];
            rest /= it.dims[d];
        }
        const uint32_t *xb = px + so;
        uint32_t *yb = py + blk * R * C;
        for (int64_t i0 = 0; i0 < R; i0 += CSL_TILE) {
            int64_t i1 = i0 + CSL_TILE < R ? i0 + CSL_TILE : R;
            for (int64_t j0 = 0; j0 < C; j0 += CSL_TILE) {
                int64_t j1 = j0 + CSL_TILE < C ? j0 + CSL_TILE : C;
                for (int64_t i = i0; i < i1; i++)
                    for (int64_t j = j0; j < j1; j++) yb[i * C + j] = xb[i * sr + j * sc];
            }
        }
    }
}

// x is [..., A, ..., B, ...], y is x with axes dim0 and dim1 swapped. attrs: dim0, dim1
static gx_status transpose_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *x = &a->inputs[0];
    int32_t r = x->shape.ndim, perm[GX_MAX_DIMS];
    for (int32_t d = 0; d < r; d++) perm[d] = d;
    int32_t d0 = csl_axis(a->attrs[0].i, r), d1 = csl_axis(a->attrs[1].i, r);
    perm[d0] = d1;
    perm[d1] = d0;
    csl_permute(x, &a->outputs[0], perm);
    return GX_OK;
}

// x is [d0, d1, ...], y.dims[i] = x.dims[axes[i]]. attrs: axes
static gx_status permute_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *x = &a->inputs[0];
    int32_t r = x->shape.ndim, perm[GX_MAX_DIMS];
    for (int32_t d = 0; d < r; d++) perm[d] = csl_axis(a->attrs[0].ints[d], r);
    csl_permute(x, &a->outputs[0], perm);
    return GX_OK;
}

// ---- reshape, broadcast_to ----------------------------------------------------------------------

// x and y hold the same elements in the same row-major order; only the shape differs
static gx_status reshape_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *y = &a->outputs[0];
    csl_move(y, 0, &a->inputs[0], 0, csl_numel(y), gx_dtype_size(y->dtype));
    return GX_OK;
}

// x broadcasts (NumPy rules) to y, whose shape is the `shape` attribute
static gx_status broadcast_to_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *x = &a->inputs[0], *y = &a->outputs[0];
    const gx_shape *shapes[1] = {&x->shape};
    csl_iter it;
    csl_iter_broadcast(&it, &y->shape, shapes, 1);
    const uint32_t *px = (const uint32_t *)x->data;
    uint32_t *py = (uint32_t *)y->data;
    for (int64_t r = 0; r < it.runs; r++) {
        uint32_t *out = py + it.off[0];
        const uint32_t *in = px + it.off[1];
        if (it.inner_stride[1] == 0) {
            uint32_t v = in[0];
            for (int64_t i = 0; i < it.inner; i++) out[i] = v;
        } else {
            for (int64_t i = 0; i < it.inner; i++) out[i] = in[i * it.inner_stride[1]];
        }
        csl_iter_next(&it);
    }
    return GX_OK;
}

// ---- concat, split ------------------------------------------------------------------------------

// inputs k are [outer, L_k, inner], y is [outer, sum L_k, inner]. attrs: axis
static gx_status concat_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *y = &a->outputs[0];
    int32_t axis = csl_axis(a->attrs[0].i, y->shape.ndim);
    int64_t outer = csl_dims_prod(&y->shape, 0, axis);
    int64_t inner = csl_dims_prod(&y->shape, axis + 1, y->shape.ndim);
    int64_t ly = y->shape.dims[axis];
    size_t esz = gx_dtype_size(y->dtype);
    int64_t at = 0;   // where input k starts along the axis of y
    for (int32_t k = 0; k < a->n_inputs; k++) {
        const gx_tensor *x = &a->inputs[k];
        int64_t lx = x->shape.dims[axis];
        for (int64_t o = 0; o < outer; o++)
            csl_move(y, (o * ly + at) * inner, x, o * lx * inner, lx * inner, esz);
        at += lx;
    }
    return GX_OK;
}

// x is [outer, L, inner], output k is [outer, L / parts, inner]. attrs: parts, axis
static gx_status split_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *x = &a->inputs[0];
    int32_t axis = csl_axis(a->attrs[1].i, x->shape.ndim);
    int64_t outer = csl_dims_prod(&x->shape, 0, axis);
    int64_t inner = csl_dims_prod(&x->shape, axis + 1, x->shape.ndim);
    int64_t lx = x->shape.dims[axis];
    size_t esz = gx_dtype_size(x->dtype);
    int64_t at = 0;   // where output k starts along the axis of x
    for (int32_t k = 0; k < a->n_outputs; k++) {
        const gx_tensor *y = &a->outputs[k];
        int64_t ly = y->shape.dims[axis];
        for (int64_t o = 0; o < outer; o++)
            csl_move(y, o * ly * inner, x, (o * lx + at) * inner, ly * inner, esz);
        at += ly;
    }
    return GX_OK;
}

// ---- slice, pad, index --------------------------------------------------------------------------

// x is [outer, D, inner], y is [outer, end - start, inner]: positions [start, end) of the axis.
// attrs: axis, start, end (negative start/end count from the end)
static gx_status slice_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *x = &a->inputs[0], *y = &a->outputs[0];
    int32_t axis = csl_axis(a->attrs[0].i, x->shape.ndim);
    int64_t lx = x->shape.dims[axis], ly = y->shape.dims[axis];
    int64_t start = a->attrs[1].i < 0 ? a->attrs[1].i + lx : a->attrs[1].i;
    // inference checked this; a wrong start here would read outside x, so refuse rather than trust
    if (start < 0 || start + ly > lx)
        return a->api->set_error(a->host, GX_ERR_INVALID,
                                 "slice: [%lld, %lld) is outside [0, %lld)", (long long)start,
                                 (long long)(start + ly), (long long)lx);
    int64_t outer = csl_dims_prod(&x->shape, 0, axis);
    int64_t inner = csl_dims_prod(&x->shape, axis + 1, x->shape.ndim);
    size_t esz = gx_dtype_size(y->dtype);
    for (int64_t o = 0; o < outer; o++)
        csl_move(y, o * ly * inner, x, (o * lx + start) * inner, ly * inner, esz);
    return GX_OK;
}

// x is [outer, D, inner], y is [outer, before + D + after, inner]: zeros around x. attrs: axis,
// before, after. Per outer block: `before` rows of zeros, x's D rows, then the rest zeros.
static gx_status pad_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *x = &a->inputs[0], *y = &a->outputs[0];
    int32_t axis = csl_axis(a->attrs[0].i, x->shape.ndim);
    int64_t before = a->attrs[1].i;
    int64_t lx = x->shape.dims[axis], ly = y->shape.dims[axis];
    int64_t outer = csl_dims_prod(&x->shape, 0, axis);
    int64_t inner = csl_dims_prod(&x->shape, axis + 1, x->shape.ndim);
    size_t esz = gx_dtype_size(y->dtype);
    int64_t after = ly - before - lx;
    for (int64_t o = 0; o < outer; o++) {
        csl_zero(y, o * ly * inner, before * inner, esz);
        csl_move(y, (o * ly + before) * inner, x, o * lx * inner, lx * inner, esz);
        csl_zero(y, (o * ly + before + lx) * inner, after * inner, esz);
    }
    return GX_OK;
}

// x is [outer, D, inner], y is [outer, inner]: position i of the axis, the axis removed.
// attrs: axis, i (negative counts from the end)
static gx_status index_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *x = &a->inputs[0], *y = &a->outputs[0];
    int32_t axis = csl_axis(a->attrs[0].i, x->shape.ndim);
    int64_t lx = x->shape.dims[axis];
    int64_t at = a->attrs[1].i < 0 ? a->attrs[1].i + lx : a->attrs[1].i;
    if (at < 0 || at >= lx)
        return a->api->set_error(a->host, GX_ERR_INVALID, "index: %lld is outside [0, %lld)",
                                 (long long)at, (long long)lx);
    int64_t outer = csl_dims_prod(&x->shape, 0, axis);
    int64_t inner = csl_dims_prod(&x->shape, axis + 1, x->shape.ndim);
    size_t esz = gx_dtype_size(y->dtype);
    for (int64_t o = 0; o < outer; o++)
        csl_move(y, o * inner, x, (o * lx + at) * inner, inner, esz);
    return GX_OK;
}

// f32 and i32: these kernels only move 4-byte elements
#define CSL_KERNELS_ANY(opname, fn) \
    CSL_KERNEL(opname, fn, GX_DTYPE_F32), CSL_KERNEL(opname, fn, GX_DTYPE_I32)

static const gx_kernel_desc csl_shape_kernels[] = {
    CSL_KERNELS_ANY("transpose", transpose_run),
    CSL_KERNELS_ANY("permute", permute_run),
    CSL_KERNELS_ANY("reshape", reshape_run),
    CSL_KERNELS_ANY("broadcast_to", broadcast_to_run),
    CSL_KERNELS_ANY("concat", concat_run),
    CSL_KERNELS_ANY("split", split_run),
    CSL_KERNELS_ANY("slice", slice_run),
    CSL_KERNELS_ANY("pad", pad_run),
    CSL_KERNELS_ANY("index", index_run),
};

gx_status csl_register_shape(const gx_host_api *api, gx_host *host) {
    return gx_register_kernels(api, host, csl_shape_kernels, GX_COUNT(csl_shape_kernels));
}
