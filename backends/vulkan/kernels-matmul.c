/*
 * kernels-matmul.c: the Vulkan matmul and matmul_tn, both one dispatch of the tiled product
 * shaders/mm-gemm.comp.
 *
 * matmul is [..., M, K] @ [..., K, N] with the batch dims broadcast NumPy-style: the shader gets
 * the output's batch dims and, per dim, the matrix stride of each operand (0 where it is
 * broadcast). matmul_tn(a [..., M], b [..., N]) is a^T b over the flattened leading axes, i.e.
 * one un-batched product with K = L leading positions and A read transposed (specialization
 * constant TRANS_A), so no transpose is ever materialised for the weight gradients.
 */
#include <stdint.h>

#include "vk.h"

#include "mm_gemm_spv.h"

static const vk_shader sh_mm_gemm = VK_SHADER(mm_gemm_spv);

#define MM_TILE      64u      /* output tile of one workgroup, both ways (mm-gemm.comp's TM, TN) */
#define MM_MAX_BATCH 6        /* batch dims: rank <= GX_MAX_DIMS minus the two matrix dims       */
#define MM_MAX_GROUPS 65535u  /* the guaranteed per-dimension workgroup count limit              */

/* mirrors mm-gemm.comp's push constant block */
typedef struct mm_push {
    uint32_t M, N, K, batches, nbd;
    uint32_t ydim[MM_MAX_BATCH];
    uint32_t astr[MM_MAX_BATCH];
    uint32_t bstr[MM_MAX_BATCH];
} mm_push;

/* the shader indexes with 32-bit unsigned arithmetic */
static int mm_fits(int64_t v) {
    return v >= 0 && v <= (int64_t)UINT32_MAX;
}

static uint32_t mm_cap(uint64_t n) {
    return n > MM_MAX_GROUPS ? MM_MAX_GROUPS : (uint32_t)n;
}

static gx_status mm_dispatch(const gx_kernel_args *a, int trans_a, const mm_push *pc) {
    vk_launch l = {
        .shader = &sh_mm_gemm,
        .n_spec = 1,
        .spec = { trans_a },
        .n_bind = 3,
        /* K = 0 leaves both operands without bytes to bind: y stands in (nothing reads them) */
        .bind = { pc->K ? &a->inputs[0] : &a->outputs[0], pc->K ? &a->inputs[1] : &a->outputs[0],
                  &a->outputs[0] },
        .writes = 1u << 2,
        .push = pc,
        .push_bytes = sizeof *pc,
        .groups = { vk_groups(a->backend_ctx, (pc->N + MM_TILE - 1) / MM_TILE, 1),
                    mm_cap((pc->M + MM_TILE - 1) / MM_TILE), mm_cap(pc->batches) },
    };
    return vk_launch_run(a->backend_ctx, a->api, a->host, &l);
}

/* a is [..., M, K], b is [..., K, N], y is [..., M, N]; the batch dims of a and b broadcast to y's */
static gx_status matmul_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *x = &a->inputs[0], *w = &a->inputs[1], *y = &a->outputs[0];
    if (gx_shape_numel(&y->shape) == 0) return GX_OK;
    int32_t r = y->shape.ndim, rx = x->shape.ndim, rw = w->shape.ndim;
    int64_t M = y->shape.dims[r - 2], N = y->shape.dims[r - 1], K = x->shape.dims[rx - 1];
    if (!mm_fits(gx_shape_numel(&x->shape)) || !mm_fits(gx_shape_numel(&w->shape)) ||
        !mm_fits(gx_shape_numel(&y->shape)) || r - 2 > MM_MAX_BATCH)
        return a->api->set_error(a->host, GX_ERR_UNSUPPORTED,
                                 "matmul: tensors of 2^32 elements or more are not supported on "
                                 "vulkan");
    mm_push pc = { .M = (uint32_t)M, .N = (uint32_t)N, .K = (uint32_t)K,
                   .nbd = (uint32_t)(r - 2) };
    /* walk the batch dims right to left, aligning a's and b's on the right like NumPy; a dim of
     * size 1 (or one missing on the left) has stride 0 */
    uint64_t batches = 1, sa = 1, sb = 1;
    for (int32_t d = r - 3; d >= 0; d--) {
        int32_t ka = d - (r - rx), kb = d - (r - rw);
        int64_t da = ka >= 0 ? x->shape.dims[ka] : 1, db = kb >= 0 ? w->shape.dims[kb] : 1;
        pc.ydim[d] = (uint32_t)y->shape.dims[d];
        pc.astr[d] = da != 1 ? (uint32_t)sa : 0u;
        pc.bstr[d] = db != 1 ? (uint32_t)sb : 0u;
        sa *= (uint64_t)da;
        sb *= (uint64_t)db;
        batches *= (uint64_t)y->shape.dims[d];
    }
    pc.batches = (uint32_t)batches;
    return mm_dispatch(a, 0, &pc);
}

/* a is [..., M], b is [..., N] with the same leading dims (L positions), y is [M, N]:
 * y[m, n] = sum_l a[l, m] b[l, n], the product of a stored [K = L, M] read transposed and b */
static gx_status matmul_tn_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *x = &a->inputs[0], *w = &a->inputs[1], *y = &a->outputs[0];
    if (gx_shape_numel(&y->shape) == 0) return GX_OK;
    int64_t M = y->shape.dims[0], N = y->shape.dims[1];
    int64_t L = gx_shape_numel(&x->shape) / M;
    if (!mm_fits(gx_shape_numel(&x->shape)) || !mm_fits(gx_shape_numel(&w->shape)) ||
        !mm_fits(gx_shape_numel(&y->shape)))
        return a->api->set_error(a->host, GX_ERR_UNSUPPORTED,
                                 "matmul_tn: tensors of 2^32 elements or more are not supported "
                                 "on vulkan");
    mm_push pc = { .M = (uint32_t)M, .N = (uint32_t)N, .K = (uint32_t)L, .batches = 1 };
    return mm_dispatch(a, 1, &pc);
}

static const gx_kernel_desc vk_matmul_kernels[] = {
    VK_KERNEL("matmul", matmul_run, GX_DTYPE_F32),
    VK_KERNEL("matmul_tn", matmul_tn_run, GX_DTYPE_F32),
};

gx_status vk_register_matmul(const gx_host_api *api, gx_host *host) {
    return gx_register_kernels(api, host, vk_matmul_kernels, GX_COUNT(vk_matmul_kernels));
}
