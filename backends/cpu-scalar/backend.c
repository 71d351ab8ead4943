/*
 * backend.c: the "cpu-scalar" device and the plugin entry point.
 *
 * Buffers are plain 64-byte-aligned host memory, copies are memcpy, and work runs synchronously
 * inside the kernel calls, so begin/submit/sync have nothing to do. The kernels themselves live in
 * kernels-*.c; the entry point registers the backend first, then every kernel table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu-scalar.h"

// The backend keeps no state, but init must hand back a context: a static, read-only one serves
// every init and is safe to share between threads.
static const int cs_ctx_token = 0;

static int32_t cs_score(const gx_host_api *api, gx_host *host) {
    return 1;   // always usable, and the last choice when a real backend is present
}

static gx_status cs_init(const gx_host_api *api, gx_host *host, void **ctx) {
    *ctx = (void *)&cs_ctx_token;
    return GX_OK;
}

static void cs_deinit(void *ctx) {
}

static gx_status cs_describe(void *ctx, char *out, size_t out_size) {
    if (out != NULL && out_size > 0) snprintf(out, out_size, "host CPU, scalar reference kernels");
    return GX_OK;
}

// ---- buffers -------------------------------------------------------------------------------------

#define CS_ALIGN 64u

static gx_status cs_buffer_alloc(void *ctx, uint64_t bytes, void **buf) {
    // aligned_alloc wants a size that is a multiple of the alignment, and a zero-size request must
    // still give a distinct pointer the engine can free, so round up with a minimum of one block.
    if (bytes > (uint64_t)SIZE_MAX - CS_ALIGN) return GX_ERR_NOMEM;
    size_t size = ((size_t)bytes + CS_ALIGN - 1) / CS_ALIGN * CS_ALIGN;
    if (size == 0) size = CS_ALIGN;
    void *p = aligned_alloc(CS_ALIGN, size);
    if (p == NULL) return GX_ERR_NOMEM;
    *buf = p;
    return GX_OK;
}

static void cs_buffer_free(void *ctx, void *buf) {
    free(buf);
}

static void *cs_buffer_host_ptr(void *ctx, void *buf) {
    return buf;
}

static gx_status cs_write(void *ctx, void *buf, uint64_t offset, const void *src, uint64_t bytes) {
    if (bytes > 0) memcpy((char *)buf + offset, src, (size_t)bytes);
    return GX_OK;
}

static gx_status cs_read(void *ctx, void *buf, uint64_t offset, void *dst, uint64_t bytes) {
    if (bytes > 0) memcpy(dst, (const char *)buf + offset, (size_t)bytes);
    return GX_OK;
}

static gx_status cs_copy(void *ctx, void *dst, uint64_t dst_offset,
                         void *src, uint64_t src_offset, uint64_t bytes) {
    // memmove: the planner may copy between overlapping ranges of one buffer
    if (bytes > 0) memmove((char *)dst + dst_offset, (const char *)src + src_offset, (size_t)bytes);
    return GX_OK;
}

// kernels run when they are called, so there is never a batch in flight
static gx_status cs_begin(void *ctx) { return GX_OK; }
static gx_status cs_submit(void *ctx) { return GX_OK; }
static gx_status cs_sync(void *ctx) { return GX_OK; }

static const gx_backend_desc cs_backend = {
    .size            = sizeof(gx_backend_desc),
    .name            = CS_BACKEND_NAME,
    .doc             = "readable reference kernels, f32 and f64, one thread",
    .flags           = GX_BACKEND_HOST_MEMORY,
    .score           = cs_score,
    .init            = cs_init,
    .deinit          = cs_deinit,
    .describe        = cs_describe,
    .buffer_alloc    = cs_buffer_alloc,
    .buffer_free     = cs_buffer_free,
    .buffer_host_ptr = cs_buffer_host_ptr,
    .write           = cs_write,
    .read            = cs_read,
    .copy            = cs_copy,
    .begin           = cs_begin,
    .submit          = cs_submit,
    .sync            = cs_sync,
};

// ---- entry point ---------------------------------------------------------------------------------

GX_PLUGIN_ENTRY(cpu_scalar, "0.1.0") {
    // the backend first, so the host knows "cpu-scalar" before kernels name it
    gx_status st = api->register_backend(host, &cs_backend);
    if (st == GX_OK) st = cs_register_elementwise(api, host);
    if (st == GX_OK) st = cs_register_matmul(api, host);
    if (st == GX_OK) st = cs_register_shape(api, host);
    if (st == GX_OK) st = cs_register_reduce(api, host);
    if (st == GX_OK) st = cs_register_nn(api, host);
    if (st == GX_OK) st = cs_register_masks(api, host);
    if (st == GX_OK) st = cs_register_rnn(api, host);
    if (st == GX_OK) st = cs_register_step(api, host);
    if (st == GX_OK) st = cs_register_optim(api, host);
    return st;
}
