/*
 * vk.h: the Vulkan backend's internals, shared by its files.
 *
 * The device side (vk-device.c) finds the loader at run time (dlopen of libvulkan.so.1, so the
 * plugin loads and reports "no Vulkan" cleanly on a machine without it), creates the instance,
 * picks a device and a compute queue. vk-memory.c sub-allocates buffers from a few large blocks of
 * device memory and moves bytes through host-visible staging buffers. vk-record.c records work:
 * one command buffer per batch (a whole training step), barriers only where a later command
 * touches bytes an earlier one in the same batch wrote (or writes bytes it read), pipelines made
 * once per (shader, specialization) and descriptor sets made once per binding tuple and reused.
 *
 * What a kernel sees is vk_launch below: a kernel file describes one dispatch (shader, the
 * tensors bound to bindings 0..n-1 as storage buffers, push constants, workgroup counts) and
 * calls vk_launch_run with its gx_kernel_args' backend_ctx. Nothing runs until the batch is
 * submitted: kernels only record.
 */
#ifndef GX_VK_H
#define GX_VK_H

#include <gexec/plugin-helpers.h>

#define VK_BACKEND_NAME "vulkan"

/* SPIR-V of one compute shader, embedded at build time (glslangValidator -V --vn NAME_spv). */
typedef struct vk_shader {
    const char     *name;
    const uint32_t *code;
    size_t          code_bytes;
} vk_shader;
#define VK_SHADER(var) { #var, var, sizeof(var) }

#define VK_MAX_BINDINGS 16    /* storage buffers of one dispatch                              */
#define VK_MAX_SPEC     8     /* int specialization constants, constant_id 0..n-1              */
#define VK_MAX_PUSH     128   /* bytes of push constants (the guaranteed minimum)              */

/* One dispatch. Binding i of descriptor set 0 is tensor bind[i]: a storage buffer viewing exactly
 * that tensor's bytes (so the shader indexes from 0). `writes` has bit i set when the shader
 * writes binding i; the recorder orders it after earlier readers and writers of those bytes.
 * groups[] are the workgroup counts; use vk_groups to stay under the device's limits and loop
 * in the shader (grid-stride) over what one pass does not cover. */
typedef struct vk_launch {
    const vk_shader *shader;
    uint32_t         n_spec;
    int32_t          spec[VK_MAX_SPEC];
    uint32_t         n_bind;
    const gx_tensor *bind[VK_MAX_BINDINGS];
    uint32_t         writes;
    const void      *push;
    uint32_t         push_bytes;
    uint32_t         groups[3];
} vk_launch;

/* Record one dispatch into the open batch. [exec] Returns GX_ERR_BACKEND (with a message) on a
 * Vulkan error, GX_ERR_INVALID for a tensor the device cannot bind. */
gx_status vk_launch_run(void *backend_ctx, const gx_host_api *api, gx_host *host,
                        const vk_launch *l);

/* sh-copy.comp (kernels-shape.c): the shape ops' copy, which the recorder also uses for a run of
 * equally strided buffer copies */
extern const vk_shader vk_sh_copy;

/* ceil(n / per_group) workgroups, at most the device's limit (kernels loop over the rest) */
uint32_t vk_groups(void *backend_ctx, uint64_t n, uint32_t per_group);

/* ---- registration (one per kernel file) ---- */
gx_status vk_register_elementwise(const gx_host_api *api, gx_host *host);
gx_status vk_register_shape(const gx_host_api *api, gx_host *host);
gx_status vk_register_matmul(const gx_host_api *api, gx_host *host);
gx_status vk_register_reduce(const gx_host_api *api, gx_host *host);
gx_status vk_register_nn(const gx_host_api *api, gx_host *host);
gx_status vk_register_rnn(const gx_host_api *api, gx_host *host);
gx_status vk_register_optim(const gx_host_api *api, gx_host *host);

#define VK_KERNEL(opname, fn, dt) \
    { .size = sizeof(gx_kernel_desc), .op = (opname), .backend = VK_BACKEND_NAME, \
      .dtype = (dt), .run = (fn) }

#endif
