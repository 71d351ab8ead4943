/*
 * backend.c: the "vulkan" device and the plugin entry point.
 *
 * Memory is device memory (no GX_BACKEND_HOST_MEMORY): kernels record compute dispatches into
 * the open batch and the engine moves bytes with write/read/copy. A graph's whole run is one
 * batch (the executor opens it, records every kernel and loop copy, submits once and syncs once).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk-impl.h"

static int32_t vk_score(const gx_host_api *api, gx_host *host) {
    (void)api;
    (void)host;
    return vk_probe_score();
}

static void vk_deinit(void *ctx) {
    vk_ctx *c = ctx;
    if (c == NULL) return;
    const char *stats = getenv("GEXEC_VULKAN_STATS");
    if (stats != NULL && *stats && strcmp(stats, "0") != 0)
        fprintf(stderr, "gexec: vulkan: %llu submissions, %llu dispatches, %llu barriers, %d pipelines, "
                "%d descriptor sets\n", (unsigned long long)c->n_submits,
                (unsigned long long)c->n_dispatches, (unsigned long long)c->n_barriers,
                (int)c->n_pipes, (int)c->n_dsets);
    if (c->device) {
        if (c->recording) vk_submit(c);
        if (c->in_flight) vk_sync(c);
        c->vk.DeviceWaitIdle(c->device);
        vk_prof_report(c);
        vk_record_deinit(c);
        vk_memory_deinit(c);
    }
    vk_device_deinit(c);
    free(c);
}

static gx_status vk_init(const gx_host_api *api, gx_host *host, void **out) {
    vk_ctx *c = calloc(1, sizeof *c);
    if (c == NULL) return GX_ERR_NOMEM;
    c->api = api;
    gx_status st = vk_device_init(c, api, host);
    if (st == GX_OK && (st = vk_memory_init(c)) != GX_OK)
        api->set_error(host, st, "no usable Vulkan memory type");
    if (st == GX_OK && (st = vk_record_init(c)) != GX_OK)
        api->set_error(host, st, "could not create the Vulkan command pool and layouts");
    if (st != GX_OK) {
        vk_deinit(c);
        return st;
    }
    *out = c;
    return GX_OK;
}

static const char *type_name(VkPhysicalDeviceType t) {
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:   return "discrete GPU";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated GPU";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:    return "virtual GPU";
    case VK_PHYSICAL_DEVICE_TYPE_CPU:            return "CPU";
    default:                                     return "other";
    }
}

static gx_status vk_describe(void *ctx, char *out, size_t out_size) {
    vk_ctx *c = ctx;
    VkDeviceSize local = 0;
    for (uint32_t i = 0; i < c->mem_props.memoryHeapCount; i++)
        if (c->mem_props.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)
            local += c->mem_props.memoryHeaps[i].size;
    const VkPhysicalDeviceLimits *l = &c->props.limits;
    snprintf(out, out_size, "device %d: %s (%s), %s, Vulkan %u.%u.%u, %llu MiB device memory, "
             "workgroup <= %u invocations, %u KiB shared, storage buffer <= %u MiB%s",
             (int)c->device_index, c->props.deviceName, type_name(c->props.deviceType), c->driver,
             VK_API_VERSION_MAJOR(c->props.apiVersion), VK_API_VERSION_MINOR(c->props.apiVersion),
             VK_API_VERSION_PATCH(c->props.apiVersion), (unsigned long long)(local >> 20),
             l->maxComputeWorkGroupInvocations, l->maxComputeSharedMemorySize / 1024,
             l->maxStorageBufferRange >> 20, c->validation ? ", validation on" : "");
    return GX_OK;
}

static const gx_backend_desc vk_backend = {
    .size         = sizeof(gx_backend_desc),
    .name         = VK_BACKEND_NAME,
    .doc          = "Vulkan compute shaders (GLSL -> SPIR-V by glslang), f32",
    .flags        = 0,
    .score        = vk_score,
    .init         = vk_init,
    .deinit       = vk_deinit,
    .describe     = vk_describe,
    .buffer_alloc = vk_buffer_alloc,
    .buffer_free  = vk_buffer_free,
    .write        = vk_write,
    .read         = vk_read,
    .copy         = vk_copy,
    .begin        = vk_begin,
    .submit       = vk_submit,
    .sync         = vk_sync,
    .read_many    = vk_read_many,
};

GX_PLUGIN_ENTRY(vulkan, "0.1.0") {
    gx_status st = api->register_backend(host, &vk_backend);
    gx_status (*const reg[])(const gx_host_api *, gx_host *) = {
        vk_register_elementwise, vk_register_shape, vk_register_matmul, vk_register_reduce,
        vk_register_nn, vk_register_rnn, vk_register_optim};
    for (size_t i = 0; i < sizeof reg / sizeof reg[0] && st == GX_OK; i++) st = reg[i](api, host);
    return st;
}
