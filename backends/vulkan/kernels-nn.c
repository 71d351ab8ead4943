/*
 * kernels-nn.c: the Vulkan kernels of the losses and lookups: cross_entropy, cross_entropy_grad,
 * mse, embedding, embedding_backward (shaders/nn-*.comp).
 *
 * The losses are single-workgroup reductions with fixed trees (a scalar per training step, so
 * one workgroup is plenty), cross_entropy_grad spreads rows over workgroups, and
 * embedding_backward gives every element of the table's gradient to one invocation that scans
 * all indices in order: no atomics anywhere, so every result is bit-identical run to run.
 *
 * cpu-scalar checks indices and targets and fails the step on a bad one. A kernel here only
 * records work and cannot see the data, so bad data shows in the result instead: NaN for a bad
 * target (the loss, or all of dx) and for an embedding row read from a bad index; a bad index
 * adds nothing in embedding_backward.
 */
#include <stdint.h>

#include "vk.h"

#include "nn_embedding_backward_spv.h"
#include "nn_embedding_spv.h"
#include "nn_mse_spv.h"
#include "nn_xent_grad_spv.h"
#include "nn_xent_spv.h"

static const vk_shader sh_nn_xent = VK_SHADER(nn_xent_spv);
static const vk_shader sh_nn_xent_grad = VK_SHADER(nn_xent_grad_spv);
static const vk_shader sh_nn_mse = VK_SHADER(nn_mse_spv);
static const vk_shader sh_nn_embedding = VK_SHADER(nn_embedding_spv);
static const vk_shader sh_nn_embedding_backward = VK_SHADER(nn_embedding_backward_spv);

#define NN_GROUP         256u   /* invocations per workgroup of every nn-* shader            */
#define NN_GRAD_MAX_GROUPS 256u /* cross_entropy_grad: each group re-sums all the weights     */

/* the shaders index with 32-bit unsigned arithmetic (and compare row numbers as i32) */
static int nn_fits(int64_t v) {
    return v >= 0 && v <= (int64_t)INT32_MAX;
}

static gx_status nn_too_big(const gx_kernel_args *a, const char *op) {
    return a->api->set_error(a->host, GX_ERR_UNSUPPORTED,
                             "%s: tensors of 2^31 elements or more are not supported on vulkan",
                             op);
}

/* An empty tensor has no bytes to bind: `stand_in` (never read then) takes its binding. */
static const gx_tensor *nn_bindable(const gx_tensor *t, const gx_tensor *stand_in) {
    return gx_shape_numel(&t->shape) > 0 ? t : stand_in;
}

// ---- cross entropy -------------------------------------------------------------------------------

/* mirrors the push constant block of nn-xent.comp and nn-xent-grad.comp */
typedef struct nn_xent_push {
    uint32_t P, C;
    int32_t  ignore_index;
    uint32_t has_ignore;
} nn_xent_push;

/* invocations per row: enough that each reads about 4 logits, 8 to 256 */
static int32_t nn_team(int64_t C) {
    int32_t team = 8;
    while (team < (int32_t)NN_GROUP && (int64_t)team * 4 < C) team *= 2;
    return team;
}

/* logits [..., C] (P rows) with targets [...] at input `first`, mask after them (optional) */
static gx_status nn_xent_push_fill(const gx_kernel_args *a, const char *op, int32_t first,
                                   nn_xent_push *pc) {
    const gx_tensor *l = &a->inputs[first];
    int64_t C = l->shape.dims[l->shape.ndim - 1];
    int64_t P = gx_shape_numel(&a->inputs[first + 1].shape);
    if (!nn_fits(gx_shape_numel(&l->shape)) || !nn_fits(P)) return nn_too_big(a, op);
    int64_t ig = a->attrs[0].i;
    pc->P = (uint32_t)P;
    pc->C = (uint32_t)C;
    pc->has_ignore = ig >= INT32_MIN && ig <= INT32_MAX;
    pc->ignore_index = pc->has_ignore ? (int32_t)ig : 0;
    return GX_OK;
}

/* logits [..., C], targets i32 [...], mask [...] (optional) -> y a scalar. attrs: ignore_index */
static gx_status cross_entropy_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *l = &a->inputs[0], *y = &a->outputs[0];
    int has_mask = a->n_inputs > 2;
    nn_xent_push pc;
    gx_status st = nn_xent_push_fill(a, "cross_entropy", 0, &pc);
    if (st != GX_OK) return st;
    const gx_tensor *lb = nn_bindable(l, y);
    vk_launch launch = {
        .shader = &sh_nn_xent,
        .n_spec = 2,
        .spec = { has_mask, nn_team(pc.C) },
        .n_bind = 4,
        .bind = { lb, nn_bindable(&a->inputs[1], y),
                  has_mask ? nn_bindable(&a->inputs[2], y) : lb, y },
        .writes = 1u << 3,
        .push = &pc,
        .push_bytes = sizeof pc,
        .groups = { 1, 1, 1 },
    };
    return vk_launch_run(a->backend_ctx, a->api, a->host, &launch);
}

/* dy a scalar, logits [..., C], targets i32 [...], mask [...] (optional) -> dx [..., C].
 * attrs: ignore_index */
static gx_status cross_entropy_grad_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *dx = &a->outputs[0];
    if (gx_shape_numel(&dx->shape) == 0) return GX_OK;
    int has_mask = a->n_inputs > 3;
    nn_xent_push pc;
    gx_status st = nn_xent_push_fill(a, "cross_entropy_grad", 1, &pc);
    if (st != GX_OK) return st;
    int32_t team = nn_team(pc.C);
    uint32_t groups = vk_groups(a->backend_ctx, pc.P, NN_GROUP / (uint32_t)team);
    if (groups > NN_GRAD_MAX_GROUPS) groups = NN_GRAD_MAX_GROUPS;
    vk_launch launch = {
        .shader = &sh_nn_xent_grad,
        .n_spec = 2,
        .spec = { has_mask, team },
        .n_bind = 5,
        .bind = { &a->inputs[0], &a->inputs[1], &a->inputs[2],
                  has_mask ? &a->inputs[3] : &a->inputs[1], dx },
        .writes = 1u << 4,
        .push = &pc,
        .push_bytes = sizeof pc,
        .groups = { groups, 1, 1 },
    };
    return vk_launch_run(a->backend_ctx, a->api, a->host, &launch);
}

// ---- mse -----------------------------------------------------------------------------------------

/* pred, target [...] of N elements -> y = mean((pred - target)^2), 0 when N = 0 */
static gx_status mse_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *y = &a->outputs[0];
    int64_t N = gx_shape_numel(&a->inputs[0].shape);
    if (!nn_fits(N)) return nn_too_big(a, "mse");
    uint32_t pc = (uint32_t)N;
    vk_launch launch = {
        .shader = &sh_nn_mse,
        .n_bind = 3,
        .bind = { nn_bindable(&a->inputs[0], y), nn_bindable(&a->inputs[1], y), y },
        .writes = 1u << 2,
        .push = &pc,
        .push_bytes = sizeof pc,
        .groups = { 1, 1, 1 },
    };
    return vk_launch_run(a->backend_ctx, a->api, a->host, &launch);
}

// ---- embedding -----------------------------------------------------------------------------------

/* table [V, E], idx i32 [...] (P positions) -> y [..., E] */
static gx_status embedding_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *table = &a->inputs[0], *y = &a->outputs[0];
    int64_t n = gx_shape_numel(&y->shape);
    if (n == 0) return GX_OK;
    int64_t V = table->shape.dims[0], E = table->shape.dims[1];
    if (!nn_fits(n) || !nn_fits(gx_shape_numel(&table->shape))) return nn_too_big(a, "embedding");
    uint32_t pc[3] = { (uint32_t)n, (uint32_t)E, (uint32_t)V };
    vk_launch launch = {
        .shader = &sh_nn_embedding,
        .n_bind = 3,
        /* V = 0 leaves the table empty; every index is then out of range and nothing reads it */
        .bind = { nn_bindable(table, y), &a->inputs[1], y },
        .writes = 1u << 2,
        .push = pc,
        .push_bytes = sizeof pc,
        .groups = { vk_groups(a->backend_ctx, (uint64_t)n, NN_GROUP), 1, 1 },
    };
    return vk_launch_run(a->backend_ctx, a->api, a->host, &launch);
}

/* dy [..., E] (P rows), idx i32 [...] -> dtable [rows, E]. attrs: rows */
static gx_status embedding_backward_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *dt = &a->outputs[0];
    if (gx_shape_numel(&dt->shape) == 0) return GX_OK;
    int64_t rows = dt->shape.dims[0], E = dt->shape.dims[1];
    int64_t P = gx_shape_numel(&a->inputs[1].shape);
    if (!nn_fits(gx_shape_numel(&dt->shape)) || !nn_fits(gx_shape_numel(&a->inputs[0].shape)) ||
        !nn_fits(P))
        return nn_too_big(a, "embedding_backward");
    /* columns per workgroup: E rounded up to a power of two, 32 to 256; the rest of the 256
     * invocations take further rows */
    int32_t ex = 32;
    while (ex < (int32_t)NN_GROUP && ex < E) ex *= 2;
    uint32_t rpw = NN_GROUP / (uint32_t)ex;
    uint32_t pc[3] = { (uint32_t)P, (uint32_t)E, (uint32_t)rows };
    vk_launch launch = {
        .shader = &sh_nn_embedding_backward,
        .n_spec = 1,
        .spec = { ex },
        .n_bind = 3,
        .bind = { nn_bindable(&a->inputs[0], dt), nn_bindable(&a->inputs[1], dt), dt },
        .writes = 1u << 2,
        .push = pc,
        .push_bytes = sizeof pc,
        .groups = { vk_groups(a->backend_ctx, (uint64_t)rows, rpw), 1, 1 },
    };
    return vk_launch_run(a->backend_ctx, a->api, a->host, &launch);
}

static const gx_kernel_desc vk_nn_kernels[] = {
    VK_KERNEL("cross_entropy", cross_entropy_run, GX_DTYPE_F32),
    VK_KERNEL("cross_entropy_grad", cross_entropy_grad_run, GX_DTYPE_F32),
    VK_KERNEL("mse", mse_run, GX_DTYPE_F32),
    VK_KERNEL("embedding", embedding_run, GX_DTYPE_F32),
    VK_KERNEL("embedding_backward", embedding_backward_run, GX_DTYPE_F32),
};

gx_status vk_register_nn(const gx_host_api *api, gx_host *host) {
    return gx_register_kernels(api, host, vk_nn_kernels, GX_COUNT(vk_nn_kernels));
}
