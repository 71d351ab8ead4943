/*
 * kernels-optim.c: the Vulkan kernels of sumsq and optim_step, which keep a training step on the
 * device: the trainer appends one sumsq per gradient and one optim_step per param to the
 * training graph, so parameters and gradients never travel to the host.
 */
#include <stdint.h>

#include "opt_step_spv.h"
#include "opt_sumsq_spv.h"
#include "vk.h"

static const vk_shader sh_sumsq = VK_SHADER(opt_sumsq_spv);
static const vk_shader sh_step = VK_SHADER(opt_step_spv);

static gx_status too_big(const gx_kernel_args *a, const char *op) {
    return a->api->set_error(a->host, GX_ERR_UNSUPPORTED, "vulkan: %s of more than 2^32 elements", op);
}

static gx_status sumsq_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    int64_t n = gx_shape_numel(&a->inputs[0].shape);
    if (n > UINT32_MAX) return too_big(a, "sumsq");
    uint32_t push = (uint32_t)n;
    vk_launch l = {.shader = &sh_sumsq, .n_bind = 2, .bind = {&a->inputs[0], &a->outputs[0]},
                   .writes = 1u << 1, .push = &push, .push_bytes = sizeof push, .groups = {1, 1, 1}};
    return vk_launch_run(a->backend_ctx, a->api, a->host, &l);
}

static gx_status optim_step_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    int64_t n = gx_shape_numel(&a->inputs[0].shape);
    if (n == 0) return GX_OK;
    if (n > UINT32_MAX) return too_big(a, "optim_step");
    uint32_t push = (uint32_t)n;
    vk_launch l = {.shader = &sh_step, .n_spec = 2, .spec = {(int32_t)a->attrs[0].i, (int32_t)a->attrs[1].i},
                   .n_bind = 9,
                   .bind = {&a->inputs[0], &a->inputs[1], &a->inputs[2], &a->inputs[3], &a->inputs[4],
                            &a->inputs[5], &a->outputs[0], &a->outputs[1], &a->outputs[2]},
                   .writes = 7u << 6, .push = &push, .push_bytes = sizeof push,
                   .groups = {vk_groups(a->backend_ctx, (uint64_t)n, 256), 1, 1}};
    return vk_launch_run(a->backend_ctx, a->api, a->host, &l);
}

static const gx_kernel_desc vk_optim_kernels[] = {
    VK_KERNEL("sumsq", sumsq_run, GX_DTYPE_F32),
    VK_KERNEL("optim_step", optim_step_run, GX_DTYPE_F32),
};

gx_status vk_register_optim(const gx_host_api *api, gx_host *host) {
    return gx_register_kernels(api, host, vk_optim_kernels, GX_COUNT(vk_optim_kernels));
}
