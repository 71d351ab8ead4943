/*
 * kernels-matmul.c: the Vulkan matmul and matmul_tn, both one dispatch of the tiled product
 * shaders/mm-gemm.comp, or two when the product is split along K (below).
 *
 * matmul is [..., M, K] @ [..., K, N] with the batch dims broadcast NumPy-style: the shader gets
 * the output's batch dims and, per dim, the matrix stride of each operand (0 where it is
 * broadcast). matmul_tn(a [..., M], b [..., N]) is a^T b over the flattened leading axes, i.e.
 * one un-batched product with K = L leading positions and A read transposed (specialization
 * constant TRANS_A), so no transpose is ever materialised for the weight gradients.
 */
/*
 * Split-K. mm-gemm gives one workgroup per 64x64 tile of the output, which walks all of K in
 * steps of 16: a product with few tiles and a long K (the backward's dh = dg W_hh, [B, 4H] @
 * [4H, H], 16 workgroups at B = 32, H = 1024; the weight gradients of matmul_tn, K = B*T) leaves
 * most of a GPU idle while a handful of workgroups run a long latency-bound loop. Such a product
 * is split: K is cut into S chunks, workgroup z walks (chunk, batch) and writes its partial
 * product to the workspace ([S][batches][M][N] floats), then mm-splitk-reduce adds the S
 * partials of each output in chunk order. No atomics, so a rerun is bit-identical; the sum
 * order differs from the unsplit product's (rounding only).
 *
 * S depends on the shape alone (mm_plan), because the workspace is sized when the graph is
 * planned, before any device is known: a product of fewer than MM_SPLIT_MIN_TILES tiles gets
 * S = ceil(MM_SPLIT_TARGET / tiles) chunks (a few workgroups per SM on a large GPU), at least
 * MM_SPLIT_MIN_K of K per chunk, at most MM_SPLIT_MAX chunks and MM_SPLIT_MAX_WS bytes of
 * workspace. Products that already fill the device keep the one-dispatch path.
 */
#include <stdint.h>

#include "vk.h"

#include "mm_gemm_spv.h"
#include "mm_splitk_reduce_spv.h"

static const vk_shader sh_mm_gemm = VK_SHADER(mm_gemm_spv);
static const vk_shader sh_mm_splitk_reduce = VK_SHADER(mm_splitk_reduce_spv);

#define MM_TILE      64u      /* output tile of one workgroup, both ways (mm-gemm.comp's TM, TN) */
#define MM_MAX_BATCH 6        /* batch dims: rank <= GX_MAX_DIMS minus the two matrix dims       */
#define MM_MAX_GROUPS 65535u  /* the guaranteed per-dimension workgroup count limit              */
#define MM_TK        16u      /* K step of mm-gemm.comp; a chunk of a split K is a multiple of it */

#define MM_SPLIT_MIN_TILES 128u          /* split only products with fewer output tiles       */
#define MM_SPLIT_TARGET    512u          /* workgroups a split product aims for               */
#define MM_SPLIT_MIN_K     64u           /* K of one chunk, at least                          */
#define MM_SPLIT_MAX       64u           /* chunks, at most                                   */
#define MM_SPLIT_MAX_WS    (32ull << 20) /* workspace bytes, at most (under every device's
                                            storage buffer range, 128 MiB at least)           */
#define MM_WS_ALIGN        256u          /* workspace bytes are rounded up to this            */

/* mirrors mm-gemm.comp's push constant block */
typedef struct mm_push {
    uint32_t M, N, K, batches, nbd;
    uint32_t ydim[MM_MAX_BATCH];
    uint32_t astr[MM_MAX_BATCH];
    uint32_t bstr[MM_MAX_BATCH];
    uint32_t splits, kchunk;      /* K is cut into `splits` chunks of `kchunk` (1 and K: not split) */
} mm_push;

/* How a product of `batches` [M, K] x [K, N] matrices is split along K: the number of chunks
 * (1: not split) and the K of each (*kchunk, a multiple of MM_TK). A function of the shape alone,
 * so the workspace callback and the kernel agree. */
static uint32_t mm_plan(uint64_t M, uint64_t N, uint64_t K, uint64_t batches, uint32_t *kchunk) {
    *kchunk = (uint32_t)K;
    uint64_t tiles = ((M + MM_TILE - 1) / MM_TILE) * ((N + MM_TILE - 1) / MM_TILE) * batches;
    uint64_t out_bytes = M * N * batches * sizeof(float);
    if (tiles == 0 || tiles >= MM_SPLIT_MIN_TILES || K < 2 * MM_SPLIT_MIN_K || K > UINT32_MAX)
        return 1;
    uint64_t s = (MM_SPLIT_TARGET + tiles - 1) / tiles;
    if (s > K / MM_SPLIT_MIN_K) s = K / MM_SPLIT_MIN_K;
    if (s > MM_SPLIT_MAX) s = MM_SPLIT_MAX;
    if (s > MM_SPLIT_MAX_WS / out_bytes) s = MM_SPLIT_MAX_WS / out_bytes;
    if (s < 2) return 1;
    /* chunks of whole K steps; recount so that none is empty */
    uint64_t chunk = (K + s - 1) / s;
    chunk = (chunk + MM_TK - 1) / MM_TK * MM_TK;
    s = (K + chunk - 1) / chunk;
    if (s < 2) return 1;
    *kchunk = (uint32_t)chunk;
    return (uint32_t)s;
}

/* workspace bytes of a product split into `splits` chunks (0 when not split) */
static uint64_t mm_ws_bytes(uint64_t M, uint64_t N, uint64_t batches, uint32_t splits) {
    if (splits < 2) return 0;
    uint64_t bytes = (uint64_t)splits * M * N * batches * sizeof(float);
    return (bytes + MM_WS_ALIGN - 1) / MM_WS_ALIGN * MM_WS_ALIGN;
}

/* the shader indexes with 32-bit unsigned arithmetic */
static int mm_fits(int64_t v) {
    return v >= 0 && v <= (int64_t)UINT32_MAX;
}

static uint32_t mm_cap(uint64_t n) {
    return n > MM_MAX_GROUPS ? MM_MAX_GROUPS : (uint32_t)n;
}

/* The product into y, split along K when mm_plan says so and the planner gave the workspace
 * (without it, which the planner never does, the product runs unsplit: still right). */
static gx_status mm_dispatch(const gx_kernel_args *a, int trans_a, mm_push *pc) {
    const gx_tensor *y = &a->outputs[0];
    uint32_t kchunk;
    uint32_t splits = mm_plan(pc->M, pc->N, pc->K, pc->batches, &kchunk);
    uint64_t need = mm_ws_bytes(pc->M, pc->N, pc->batches, splits);
    uint64_t have = a->workspace.shape.ndim == 1 ? (uint64_t)a->workspace.shape.dims[0] : 0;
    if (splits > 1 && (a->workspace.buf == NULL || have < need)) splits = 1, kchunk = pc->K;
    pc->splits = splits;
    pc->kchunk = kchunk;
    /* the partial products: the workspace as f32 [splits * batches * M * N] */
    gx_tensor ws = a->workspace;
    ws.dtype = GX_DTYPE_F32;
    ws.shape.ndim = 1;
    ws.shape.dims[0] = (int64_t)splits * pc->batches * pc->M * pc->N;
    ws.data = NULL;
    vk_launch l = {
        .shader = &sh_mm_gemm,
        .n_spec = 1,
        .spec = { trans_a },
        .n_bind = 3,
        /* K = 0 leaves both operands without bytes to bind: y stands in (nothing reads them) */
        .bind = { pc->K ? &a->inputs[0] : y, pc->K ? &a->inputs[1] : y, splits > 1 ? &ws : y },
        .writes = 1u << 2,
        .push = pc,
        .push_bytes = sizeof *pc,
        .groups = { vk_groups(a->backend_ctx, (pc->N + MM_TILE - 1) / MM_TILE, 1),
                    mm_cap((pc->M + MM_TILE - 1) / MM_TILE),
                    mm_cap((uint64_t)pc->batches * splits) },
    };
    GX_TRY(vk_launch_run(a->backend_ctx, a->api, a->host, &l));
    if (splits == 1) return GX_OK;
    uint64_t total = (uint64_t)pc->batches * pc->M * pc->N;
    struct { uint32_t total, splits; } rp = { (uint32_t)total, splits };
    vk_launch r = {
        .shader = &sh_mm_splitk_reduce,
        .n_bind = 2,
        .bind = { &ws, y },
        .writes = 1u << 1,
        .push = &rp,
        .push_bytes = sizeof rp,
        .groups = { vk_groups(a->backend_ctx, total, 256), 1, 1 },
    };
    return vk_launch_run(a->backend_ctx, a->api, a->host, &r);
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

static uint64_t info_numel(const gx_tensor_info *t) {
    uint64_t n = 1;
    for (int32_t d = 0; d < t->shape.ndim; d++) n *= (uint64_t)t->shape.dims[d];
    return n;
}

/* [build] the split-K workspace of matmul: the same M, N, K and batches as matmul_run */
static uint64_t matmul_ws(int32_t n_inputs, const gx_tensor_info *inputs, int32_t n_outputs,
                          const gx_tensor_info *outputs, const gx_attr_value *attrs) {
    (void)attrs;
    if (n_inputs < 2 || n_outputs < 1) return 0;
    const gx_tensor_info *x = &inputs[0], *y = &outputs[0];
    int32_t r = y->shape.ndim, rx = x->shape.ndim;
    if (r < 2 || rx < 1 || info_numel(y) == 0) return 0;
    uint64_t M = (uint64_t)y->shape.dims[r - 2], N = (uint64_t)y->shape.dims[r - 1];
    uint64_t K = (uint64_t)x->shape.dims[rx - 1], batches = 1;
    for (int32_t d = 0; d < r - 2; d++) batches *= (uint64_t)y->shape.dims[d];
    uint32_t kchunk;
    return mm_ws_bytes(M, N, batches, mm_plan(M, N, K, batches, &kchunk));
}

/* [build] the split-K workspace of matmul_tn (K = the L leading positions) */
static uint64_t matmul_tn_ws(int32_t n_inputs, const gx_tensor_info *inputs, int32_t n_outputs,
                             const gx_tensor_info *outputs, const gx_attr_value *attrs) {
    (void)attrs;
    if (n_inputs < 2 || n_outputs < 1) return 0;
    const gx_tensor_info *x = &inputs[0], *y = &outputs[0];
    if (y->shape.ndim != 2 || info_numel(y) == 0) return 0;
    uint64_t M = (uint64_t)y->shape.dims[0], N = (uint64_t)y->shape.dims[1];
    uint64_t K = info_numel(x) / M;
    uint32_t kchunk;
    return mm_ws_bytes(M, N, 1, mm_plan(M, N, K, 1, &kchunk));
}

#define MM_KERNEL_WS(opname, fn, ws)                                                    \
    { .size = sizeof(gx_kernel_desc), .op = (opname), .backend = VK_BACKEND_NAME,       \
      .dtype = GX_DTYPE_F32, .run = (fn), .workspace = (ws) }

static const gx_kernel_desc vk_matmul_kernels[] = {
    MM_KERNEL_WS("matmul", matmul_run, matmul_ws),
    MM_KERNEL_WS("matmul_tn", matmul_tn_run, matmul_tn_ws),
};

gx_status vk_register_matmul(const gx_host_api *api, gx_host *host) {
    return gx_register_kernels(api, host, vk_matmul_kernels, GX_COUNT(vk_matmul_kernels));
}
