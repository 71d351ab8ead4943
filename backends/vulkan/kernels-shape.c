/*
 * kernels-shape.c: Vulkan kernels of the ops that move elements without computing on them:
 * transpose, permute, reshape, broadcast_to, concat, split, slice, pad, index (the semantics of
 * backends/cpu-scalar/kernels-shape.c).
 *
 * All of them are one shader, sh-copy.comp: a strided copy over a domain of up to 8 dims, each
 * with a stride into x and one into y, plus start offsets and (for pad) one dim whose source is a
 * window with zeros around it. Each op only chooses the domain:
 *   - transpose, permute: y's dims; x's strides permuted;
 *   - broadcast_to:       y's dims; x's stride 0 along broadcast axes;
 *   - reshape:            one dim of numel elements;
 *   - slice, index:       [outer, len, inner] read from an offset window of x;
 *   - concat / split:     one dispatch per input / output: [outer, L_k, inner] into / out of
 *                         the window of y / x that starts at that part's position on the axis;
 *   - pad:                y's [outer, ly * inner], source window [before * inner, + lx * inner).
 * The shader copies 4-byte words as bits, so f32 and i32 share it. Dims that are contiguous in
 * both tensors are merged before dispatch (a slice of the last axis becomes 2 dims, a reshape 1)
 * so the shader's per-element index arithmetic stays short.
 */
#include <stdint.h>

#include "vk.h"

#include "sh_copy_spv.h"

const vk_shader vk_sh_copy = VK_SHADER(sh_copy_spv);   /* vk-record.c's too (vk.h) */

#define SH_MAX_DOMAIN GX_MAX_DIMS
/* the shader indexes with 32-bit unsigned arithmetic and a grid-stride loop adds up to the
 * device's invocation count to an index below numel: keep every count below 2^31 */
#define SH_MAX_ELEMS  ((int64_t)INT32_MAX)

/* the push constants of sh-copy.comp, same order */
typedef struct sh_push {
    uint32_t n, ndim, src_off, dst_off;
    uint32_t dims[SH_MAX_DOMAIN], sstride[SH_MAX_DOMAIN], dstride[SH_MAX_DOMAIN];
    uint32_t pad_dim, pad_before, pad_len;
} sh_push;
_Static_assert(sizeof(sh_push) <= VK_MAX_PUSH, "sh-copy push constants exceed 128 bytes");

/* A copy to dispatch: domain dims and strides in elements, in int64 until checked. pad_dim is
 * the domain dim whose source is a window (-1: none). */
typedef struct sh_copy_desc {
    int32_t ndim;
    int64_t dims[SH_MAX_DOMAIN], sstride[SH_MAX_DOMAIN], dstride[SH_MAX_DOMAIN];
    int64_t src_off, dst_off;
    int32_t pad_dim;
    int64_t pad_before, pad_len;
} sh_copy_desc;

static int64_t sh_numel(const gx_tensor *t) {
    return gx_shape_numel(&t->shape);
}

// product of dims[from..to), 1 when the range is empty (outer/inner sizes around an axis)
static int64_t sh_dims_prod(const gx_shape *s, int32_t from, int32_t to) {
    int64_t n = 1;
    for (int32_t d = from; d < to; d++) n *= s->dims[d];
    return n;
}

// a possibly negative axis as an index in [0, ndim) (inference has range-checked it)
static int32_t sh_axis(int64_t axis, int32_t ndim) {
    return (int32_t)(axis < 0 ? axis + ndim : axis);
}

// row-major strides of a shape, in elements
static void sh_strides(const gx_shape *s, int64_t st[GX_MAX_DIMS]) {
    int64_t k = 1;
    for (int32_t d = s->ndim - 1; d >= 0; d--) {
        st[d] = k;
        k *= s->dims[d];
    }
}

/* Drop size-1 dims and merge each dim into its inner neighbour when both tensors step through
 * the pair as through one dim (outer stride = inner stride * inner size, in x and in y). The
 * pad dim is kept as it is. Element order, and so every (source, destination) pair, is
 * unchanged. */
static void sh_simplify(sh_copy_desc *c) {
    sh_copy_desc o = *c;
    o.ndim = 0;
    o.pad_dim = -1;
    for (int32_t k = 0; k < c->ndim; k++) {
        int is_pad = k == c->pad_dim;
        if (c->dims[k] == 1 && !is_pad) continue;
        int32_t j = o.ndim - 1;
        if (!is_pad && j >= 0 && j != o.pad_dim &&
            o.sstride[j] == c->sstride[k] * c->dims[k] &&
            o.dstride[j] == c->dstride[k] * c->dims[k]) {
            o.dims[j] *= c->dims[k];
            o.sstride[j] = c->sstride[k];
            o.dstride[j] = c->dstride[k];
            continue;
        }
        if (is_pad) o.pad_dim = o.ndim;
        o.dims[o.ndim] = c->dims[k];
        o.sstride[o.ndim] = c->sstride[k];
        o.dstride[o.ndim] = c->dstride[k];
        o.ndim++;
    }
    if (o.ndim == 0) {   // a single element
        o.ndim = 1;
        o.dims[0] = 1;
        o.sstride[0] = o.dstride[0] = 1;
    }
    *c = o;
}

static int sh_fits(int64_t v) {
    return v >= 0 && v <= SH_MAX_ELEMS;
}

/* Record the copy c from x to y (x may be y itself for a pad of an empty x: nothing is read).
 * An empty domain records nothing. */
static gx_status sh_run_copy(const gx_kernel_args *a, const char *op, const gx_tensor *x,
                             const gx_tensor *y, sh_copy_desc *c) {
    int64_t n = 1;
    for (int32_t k = 0; k < c->ndim; k++) n *= c->dims[k];
    if (n == 0) return GX_OK;
    if (!sh_fits(n) || !sh_fits(sh_numel(x)) || !sh_fits(sh_numel(y)))
        return a->api->set_error(a->host, GX_ERR_UNSUPPORTED,
                                 "%s: more than 2^31 - 1 elements (vulkan indexes with 32 bits)",
                                 op);
    sh_simplify(c);
    sh_push p = {0};
    p.n = (uint32_t)n;
    p.ndim = (uint32_t)c->ndim;
    // offsets and strides address elements of x and y, so they are below numel: they fit
    p.src_off = (uint32_t)c->src_off;
    p.dst_off = (uint32_t)c->dst_off;
    for (int32_t k = 0; k < c->ndim; k++) {
        p.dims[k] = (uint32_t)c->dims[k];
        p.sstride[k] = (uint32_t)c->sstride[k];
        p.dstride[k] = (uint32_t)c->dstride[k];
    }
    vk_launch l = {.shader = &vk_sh_copy, .n_spec = 1, .n_bind = 2, .bind = {x, y},
                   .writes = 1u << 1, .push = &p, .push_bytes = sizeof p,
                   .groups = {vk_groups(a->backend_ctx, (uint64_t)n, 256), 1, 1}};
    if (c->pad_dim >= 0) {
        l.spec[0] = 1;
        p.pad_dim = (uint32_t)c->pad_dim;
        p.pad_before = (uint32_t)c->pad_before;
        p.pad_len = (uint32_t)c->pad_len;
    }
    return vk_launch_run(a->backend_ctx, a->api, a->host, &l);
}

/* The copy of a [outer, len, inner] block between an x viewed as [outer, lx, inner] and a y
 * viewed as [outer, ly, inner], starting at position xs of x's axis and yd of y's. */
static sh_copy_desc sh_axis_block(int64_t outer, int64_t len, int64_t inner, int64_t lx,
                                  int64_t xs, int64_t ly, int64_t yd) {
    sh_copy_desc c = {.ndim = 3, .dims = {outer, len, inner},
                      .sstride = {lx * inner, inner, 1}, .dstride = {ly * inner, inner, 1},
                      .src_off = xs * inner, .dst_off = yd * inner, .pad_dim = -1};
    return c;
}

// ---- transpose, permute --------------------------------------------------------------------------

// y's coordinate d walks x's axis perm[d]: y's dims with x's strides permuted
static gx_status sh_permute(const gx_kernel_args *a, const char *op, const int32_t *perm) {
    const gx_tensor *x = &a->inputs[0], *y = &a->outputs[0];
    int64_t xs[GX_MAX_DIMS], ys[GX_MAX_DIMS];
    sh_strides(&x->shape, xs);
    sh_strides(&y->shape, ys);
    sh_copy_desc c = {.ndim = y->shape.ndim, .pad_dim = -1};
    for (int32_t d = 0; d < y->shape.ndim; d++) {
        c.dims[d] = y->shape.dims[d];
        c.sstride[d] = xs[perm[d]];
        c.dstride[d] = ys[d];
    }
    return sh_run_copy(a, op, x, y, &c);
}

// x is [..., A, ..., B, ...], y is x with axes dim0 and dim1 swapped. attrs: dim0, dim1
static gx_status transpose_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    int32_t r = a->inputs[0].shape.ndim, perm[GX_MAX_DIMS];
    for (int32_t d = 0; d < r; d++) perm[d] = d;
    int32_t d0 = sh_axis(a->attrs[0].i, r), d1 = sh_axis(a->attrs[1].i, r);
    perm[d0] = d1;
    perm[d1] = d0;
    return sh_permute(a, "transpose", perm);
}

// x is [d0, d1, ...], y.dims[i] = x.dims[axes[i]]. attrs: axes
static gx_status permute_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    int32_t r = a->inputs[0].shape.ndim, perm[GX_MAX_DIMS];
    for (int32_t d = 0; d < r; d++) perm[d] = sh_axis(a->attrs[0].ints[d], r);
    return sh_permute(a, "permute", perm);
}

// ---- reshape, broadcast_to -----------------------------------------------------------------------

// x and y hold the same elements in the same row-major order: one flat copy
static gx_status reshape_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *y = &a->outputs[0];
    sh_copy_desc c = {.ndim = 1, .dims = {sh_numel(y)}, .sstride = {1}, .dstride = {1},
                      .pad_dim = -1};
    return sh_run_copy(a, "reshape", &a->inputs[0], y, &c);
}

// x broadcasts (NumPy rules, shapes aligned on the right) to y: stride 0 along an axis x lacks or
// has size 1 on
static gx_status broadcast_to_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *x = &a->inputs[0], *y = &a->outputs[0];
    int64_t xs[GX_MAX_DIMS], ys[GX_MAX_DIMS];
    sh_strides(&x->shape, xs);
    sh_strides(&y->shape, ys);
    sh_copy_desc c = {.ndim = y->shape.ndim, .pad_dim = -1};
    int32_t lead = y->shape.ndim - x->shape.ndim;
    for (int32_t d = 0; d < y->shape.ndim; d++) {
        int32_t k = d - lead;
        c.dims[d] = y->shape.dims[d];
        c.sstride[d] = k < 0 || x->shape.dims[k] == 1 ? 0 : xs[k];
        c.dstride[d] = ys[d];
    }
    return sh_run_copy(a, "broadcast_to", x, y, &c);
}

// ---- concat, split -------------------------------------------------------------------------------

/* inputs k are [outer, L_k, inner], y is [outer, sum L_k, inner]: one dispatch per input into its
 * window of y's axis (an empty input records nothing). attrs: axis */
static gx_status concat_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *y = &a->outputs[0];
    if (sh_numel(y) == 0) return GX_OK;
    int32_t axis = sh_axis(a->attrs[0].i, y->shape.ndim);
    int64_t outer = sh_dims_prod(&y->shape, 0, axis);
    int64_t inner = sh_dims_prod(&y->shape, axis + 1, y->shape.ndim);
    int64_t ly = y->shape.dims[axis];
    int64_t at = 0;   // where input k starts along the axis of y
    for (int32_t k = 0; k < a->n_inputs; k++) {
        const gx_tensor *x = &a->inputs[k];
        int64_t lx = x->shape.dims[axis];
        sh_copy_desc c = sh_axis_block(outer, lx, inner, lx, 0, ly, at);
        gx_status st = sh_run_copy(a, "concat", x, y, &c);
        if (st != GX_OK) return st;
        at += lx;
    }
    return GX_OK;
}

/* x is [outer, L, inner], output k is [outer, L_k, inner]: one dispatch per output from its
 * window of x's axis. attrs: parts, axis */
static gx_status split_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *x = &a->inputs[0];
    if (sh_numel(x) == 0) return GX_OK;
    int32_t axis = sh_axis(a->attrs[1].i, x->shape.ndim);
    int64_t outer = sh_dims_prod(&x->shape, 0, axis);
    int64_t inner = sh_dims_prod(&x->shape, axis + 1, x->shape.ndim);
    int64_t lx = x->shape.dims[axis];
    int64_t at = 0;   // where output k starts along the axis of x
    for (int32_t k = 0; k < a->n_outputs; k++) {
        const gx_tensor *y = &a->outputs[k];
        int64_t ly = y->shape.dims[axis];
        sh_copy_desc c = sh_axis_block(outer, ly, inner, lx, at, ly, 0);
        gx_status st = sh_run_copy(a, "split", x, y, &c);
        if (st != GX_OK) return st;
        at += ly;
    }
    return GX_OK;
}

// ---- slice, pad, index ---------------------------------------------------------------------------

/* x is [outer, D, inner], y is [outer, end - start, inner]: positions [start, end) of the axis.
 * attrs: axis, start, end (negative start/end count from the end) */
static gx_status slice_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *x = &a->inputs[0], *y = &a->outputs[0];
    int32_t axis = sh_axis(a->attrs[0].i, x->shape.ndim);
    int64_t lx = x->shape.dims[axis], ly = y->shape.dims[axis];
    int64_t start = a->attrs[1].i < 0 ? a->attrs[1].i + lx : a->attrs[1].i;
    // inference checked this; a wrong start here would read outside x, so refuse rather than trust
    if (start < 0 || start + ly > lx)
        return a->api->set_error(a->host, GX_ERR_INVALID,
                                 "slice: [%lld, %lld) is outside [0, %lld)", (long long)start,
                                 (long long)(start + ly), (long long)lx);
    if (sh_numel(y) == 0) return GX_OK;
    int64_t outer = sh_dims_prod(&x->shape, 0, axis);
    int64_t inner = sh_dims_prod(&x->shape, axis + 1, x->shape.ndim);
    sh_copy_desc c = sh_axis_block(outer, ly, inner, lx, start, ly, 0);
    return sh_run_copy(a, "slice", x, y, &c);
}

/* x is [outer, D, inner], y is [outer, before + D + after, inner]: zeros around x. attrs: axis,
 * before, after. Row o of y, as ly * inner elements, holds x's row o at [before * inner,
 * (before + D) * inner) and zeros elsewhere: one windowed dim. */
static gx_status pad_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *x = &a->inputs[0], *y = &a->outputs[0];
    if (sh_numel(y) == 0) return GX_OK;
    int32_t axis = sh_axis(a->attrs[0].i, x->shape.ndim);
    int64_t before = a->attrs[1].i;
    int64_t lx = x->shape.dims[axis], ly = y->shape.dims[axis];
    int64_t outer = sh_dims_prod(&x->shape, 0, axis);
    int64_t inner = sh_dims_prod(&x->shape, axis + 1, x->shape.ndim);
    sh_copy_desc c = {.ndim = 2, .dims = {outer, ly * inner}, .sstride = {lx * inner, 1},
                      .dstride = {ly * inner, 1}, .pad_dim = 1, .pad_before = before * inner,
                      .pad_len = lx * inner};
    // an empty x has no bytes to bind; every element of y is then a zero and x is never read
    const gx_tensor *src = sh_numel(x) == 0 ? y : x;
    return sh_run_copy(a, "pad", src, y, &c);
}

/* x is [outer, D, inner], y is [outer, inner]: position i of the axis, the axis removed.
 * attrs: axis, i (negative counts from the end) */
static gx_status index_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *x = &a->inputs[0], *y = &a->outputs[0];
    int32_t axis = sh_axis(a->attrs[0].i, x->shape.ndim);
    int64_t lx = x->shape.dims[axis];
    int64_t at = a->attrs[1].i < 0 ? a->attrs[1].i + lx : a->attrs[1].i;
    if (at < 0 || at >= lx)
        return a->api->set_error(a->host, GX_ERR_INVALID, "index: %lld is outside [0, %lld)",
                                 (long long)at, (long long)lx);
    if (sh_numel(y) == 0) return GX_OK;
    int64_t outer = sh_dims_prod(&x->shape, 0, axis);
    int64_t inner = sh_dims_prod(&x->shape, axis + 1, x->shape.ndim);
    sh_copy_desc c = sh_axis_block(outer, 1, inner, lx, at, 1, 0);
    return sh_run_copy(a, "index", x, y, &c);
}

// f32 and i32 (no f64 on Vulkan): the shader copies 4-byte words, whatever they hold
#define SH_KERNELS(opname, fn) \
    VK_KERNEL(opname, fn, GX_DTYPE_F32), VK_KERNEL(opname, fn, GX_DTYPE_I32)

static const gx_kernel_desc vk_shape_kernels[] = {
    SH_KERNELS("transpose", transpose_run),
    SH_KERNELS("permute", permute_run),
    SH_KERNELS("reshape", reshape_run),
    SH_KERNELS("broadcast_to", broadcast_to_run),
    SH_KERNELS("concat", concat_run),
    SH_KERNELS("split", split_run),
    SH_KERNELS("slice", slice_run),
    SH_KERNELS("pad", pad_run),
    SH_KERNELS("index", index_run),
};

gx_status vk_register_shape(const gx_host_api *api, gx_host *host) {
    return gx_register_kernels(api, host, vk_shape_kernels,
                               sizeof vk_shape_kernels / sizeof vk_shape_kernels[0]);
}
