/*
 * kernels-reduce.c: the Vulkan reductions: sum, mean, max over a set of axes, softmax and
 * log_softmax along one axis, and argmax (i32 output) along one axis.
 *
 * Each is one dispatch in which a workgroup of 256 owns a few outputs (or lines) and reduces
 * them with a serial pass per invocation followed by a fixed binary tree in shared memory
 * (shaders/rd-*.comp), so every sum's order depends on the shapes alone and results are
 * bit-identical run to run. The C side only reshapes the problem: it merges dims, picks how many
 * outputs share a workgroup (specialization constant OX) and fills the push constants.
 */
#include <stdint.h>

#include "vk.h"

#include "rd_argmax_spv.h"
#include "rd_reduce_spv.h"
#include "rd_softmax_spv.h"

static const vk_shader sh_rd_reduce = VK_SHADER(rd_reduce_spv);
static const vk_shader sh_rd_softmax = VK_SHADER(rd_softmax_spv);
static const vk_shader sh_rd_argmax = VK_SHADER(rd_argmax_spv);

#define RD_GROUP   256u   /* invocations per workgroup (local_size_x of the rd-* shaders) */
#define RD_MAX_OX  64u    /* most outputs one workgroup reads side by side                 */
#define RD_GROUPS  4      /* kept / reduced dim groups after merging (8 dims alternate)    */

/* the shaders index with 32-bit unsigned arithmetic */
static int rd_fits(int64_t v) {
    return v >= 0 && v <= (int64_t)UINT32_MAX;
}

static gx_status rd_too_big(const gx_kernel_args *a, const char *op) {
    return a->api->set_error(a->host, GX_ERR_UNSUPPORTED,
                             "%s: tensors of 2^32 elements or more are not supported on vulkan", op);
}

static int32_t rd_axis(int64_t axis, int32_t ndim) {
    return (int32_t)(axis < 0 ? axis + ndim : axis);
}

/* How many outputs share a workgroup. `side` is how many consecutive outputs read consecutive
 * elements (the innermost kept dim; 1 when the innermost dim is reduced): that many invocations
 * side by side make coalesced reads. Then, while the 256 / OX invocations per output outnumber
 * its `count` elements, more outputs share the group instead of leaving invocations idle. */
static int32_t rd_pick_ox(uint64_t side, uint64_t count, uint64_t nout) {
    uint32_t ox = 1;
    while (ox < RD_MAX_OX && (uint64_t)ox * 2 <= side) ox *= 2;
    while (ox < RD_GROUP && RD_GROUP / (ox * 2) >= count && ox < nout) ox *= 2;
    return (int32_t)ox;
}

// ---- sum, mean, max ------------------------------------------------------------------------------

enum { RD_SUM = 0, RD_MEAN = 1, RD_MAX = 2 };   /* rd-reduce.comp's OP */

/* mirrors rd-reduce.comp's push constant block */
typedef struct rd_push {
    uint32_t nout, count, nk, nr;
    uint32_t kdim[RD_GROUPS], kstr[RD_GROUPS];
    uint32_t rdim[RD_GROUPS], rstr[RD_GROUPS];
} rd_push;

/* x is [d0, d1, ...]; y is x without the reduced dims (or with them set to 1: the same order).
 * attrs: axes (NONE: all; INT or INTS, may be negative; an empty list reduces nothing), keepdims.
 * Dims of size 1 are dropped and neighbouring dims of the same kind merged (they are contiguous
 * in x), which leaves at most 4 kept and 4 reduced groups, alternating. */
static gx_status rd_reduce(const gx_kernel_args *a, int op, const char *name) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *x = &a->inputs[0], *y = &a->outputs[0];
    const gx_attr_value *axes = &a->attrs[0];
    int32_t r = x->shape.ndim;
    int64_t nout = gx_shape_numel(&y->shape);
    if (nout == 0) return GX_OK;
    if (!rd_fits(gx_shape_numel(&x->shape)) || !rd_fits(nout)) return rd_too_big(a, name);

    int reduced[GX_MAX_DIMS] = { 0 };
    if (axes->type == GX_ATTR_NONE) {
        for (int32_t d = 0; d < r; d++) reduced[d] = 1;
    } else if (axes->type == GX_ATTR_INT) {
        reduced[rd_axis(axes->i, r)] = 1;
    } else {
        for (int32_t k = 0; k < axes->n_ints; k++) reduced[rd_axis(axes->ints[k], r)] = 1;
    }

    rd_push pc = { .nout = (uint32_t)nout };
    /* groups built right to left (innermost first), then reversed into the push block */
    uint32_t kd[GX_MAX_DIMS], ks[GX_MAX_DIMS], rdm[GX_MAX_DIMS], rs[GX_MAX_DIMS];
    int32_t nk = 0, nr = 0, last = -1;   /* last: kind of the group being extended, -1 none */
    int first_kept = 0;                  /* the innermost group is a kept one                */
    uint64_t stride = 1, count = 1;
    for (int32_t d = r - 1; d >= 0; d--) {
        uint64_t n = (uint64_t)x->shape.dims[d];
        if (n == 1) continue;
        if (n == 0) {   /* an empty reduced dim (a kept one would make y empty) */
            count = 0;
            break;
        }
        if (last < 0) first_kept = !reduced[d];
        if (reduced[d]) {
            if (last == 1) rdm[nr - 1] *= (uint32_t)n;
            else { rdm[nr] = (uint32_t)n; rs[nr++] = (uint32_t)stride; }
            count *= n;
        } else {
            if (last == 0) kd[nk - 1] *= (uint32_t)n;
            else { kd[nk] = (uint32_t)n; ks[nk++] = (uint32_t)stride; }
        }
        last = reduced[d] ? 1 : 0;
        stride *= n;
    }
    /* nothing to read: every output is the identity (0/0 for mean, as on cpu-scalar) */
    if (count == 0) nk = nr = 0;
    if (nk > RD_GROUPS || nr > RD_GROUPS) return rd_too_big(a, name);   /* 8 dims: cannot be */
    pc.count = (uint32_t)count;
    pc.nk = (uint32_t)nk;
    pc.nr = (uint32_t)nr;
    for (int32_t k = 0; k < nk; k++) {
        pc.kdim[k] = kd[nk - 1 - k];
        pc.kstr[k] = ks[nk - 1 - k];
    }
    for (int32_t k = 0; k < nr; k++) {
        pc.rdim[k] = rdm[nr - 1 - k];
        pc.rstr[k] = rs[nr - 1 - k];
    }

    int32_t ox = rd_pick_ox(first_kept && nk > 0 ? kd[0] : 1, count, (uint64_t)nout);
    vk_launch l = {
        .shader = &sh_rd_reduce,
        .n_spec = 2,
        .spec = { op, ox },
        .n_bind = 2,
        /* an empty x has no bytes to bind: y stands in (nothing reads binding 0 then) */
        .bind = { count == 0 ? y : x, y },
        .writes = 1u << 1,
        .push = &pc,
        .push_bytes = sizeof pc,
        .groups = { vk_groups(a->backend_ctx, (uint64_t)nout, (uint32_t)ox), 1, 1 },
    };
    return vk_launch_run(a->backend_ctx, a->api, a->host, &l);
}

static gx_status sum_run(const gx_kernel_args *a)  { return rd_reduce(a, RD_SUM, "sum"); }
static gx_status mean_run(const gx_kernel_args *a) { return rd_reduce(a, RD_MEAN, "mean"); }
static gx_status max_run(const gx_kernel_args *a)  { return rd_reduce(a, RD_MAX, "max"); }

// ---- lines along one axis: softmax, log_softmax, argmax ------------------------------------------

/* mirrors the push constant block of rd-softmax.comp and rd-argmax.comp */
typedef struct rd_line_push {
    uint32_t lines, len, inner;
} rd_line_push;

/* x viewed as [outer, len, inner] around `axis`; y gets one dispatch of `sh` whose OX comes after
 * the first n_spec_pre specialization constants */
static gx_status rd_lines(const gx_kernel_args *a, const vk_shader *sh, const char *name,
                          int32_t n_spec_pre, int32_t spec0) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *x = &a->inputs[0], *y = &a->outputs[0];
    int64_t numel = gx_shape_numel(&x->shape);
    if (numel == 0 || gx_shape_numel(&y->shape) == 0) return GX_OK;
    if (!rd_fits(numel)) return rd_too_big(a, name);
    int32_t r = x->shape.ndim, axis = rd_axis(a->attrs[0].i, r);
    int64_t len = x->shape.dims[axis], inner = 1;
    for (int32_t d = axis + 1; d < r; d++) inner *= x->shape.dims[d];
    rd_line_push pc = { .lines = (uint32_t)(numel / len), .len = (uint32_t)len,
                        .inner = (uint32_t)inner };
    int32_t ox = rd_pick_ox((uint64_t)inner, (uint64_t)len, pc.lines);
    vk_launch l = {
        .shader = sh,
        .n_spec = (uint32_t)n_spec_pre + 1,
        .n_bind = 2,
        .bind = { x, y },
        .writes = 1u << 1,
        .push = &pc,
        .push_bytes = sizeof pc,
        .groups = { vk_groups(a->backend_ctx, pc.lines, (uint32_t)ox), 1, 1 },
    };
    if (n_spec_pre > 0) l.spec[0] = spec0;
    l.spec[n_spec_pre] = ox;
    return vk_launch_run(a->backend_ctx, a->api, a->host, &l);
}

/* attrs: axis */
static gx_status softmax_run(const gx_kernel_args *a) {
    return rd_lines(a, &sh_rd_softmax, "softmax", 1, 0);
}
static gx_status log_softmax_run(const gx_kernel_args *a) {
    return rd_lines(a, &sh_rd_softmax, "log_softmax", 1, 1);
}
/* attrs: axis (removed from y, which keeps the [outer, inner] order) */
static gx_status argmax_run(const gx_kernel_args *a) {
    return rd_lines(a, &sh_rd_argmax, "argmax", 0, 0);
}

static const gx_kernel_desc vk_reduce_kernels[] = {
    VK_KERNEL("sum", sum_run, GX_DTYPE_F32),
    VK_KERNEL("mean", mean_run, GX_DTYPE_F32),
    VK_KERNEL("max", max_run, GX_DTYPE_F32),
    VK_KERNEL("softmax", softmax_run, GX_DTYPE_F32),
    VK_KERNEL("log_softmax", log_softmax_run, GX_DTYPE_F32),
    VK_KERNEL("argmax", argmax_run, GX_DTYPE_I32),
};

gx_status vk_register_reduce(const gx_host_api *api, gx_host *host) {
    return gx_register_kernels(api, host, vk_reduce_kernels, GX_COUNT(vk_reduce_kernels));
}
