/*
 * backend.c: the "cpu-sleef" device and the plugin entry point.
 *
 * The device is the host CPU, as for cpu-scalar: buffers are 64-byte-aligned host memory, copies
 * are memcpy, and kernels run synchronously inside their calls, so begin/submit/sync have
 * nothing to do. What differs is the kernels (kernels-*.c): OpenBLAS for matrix products, SLEEF
 * vector functions for the transcendental maps and the fused recurrent cells.
 *
 * The vector instruction set is chosen once, when the plugin loads: AVX-512 when the CPU has it,
 * else AVX2 (with FMA), else SSE2 (any x86-64). GEXEC_CPU_SLEEF_ISA=avx512|avx2|sse2 asks for a
 * lower one, which is how the tests exercise the fallbacks on an AVX-512 machine; a request the
 * CPU cannot honour is ignored with a warning.
 *
 * Threads: the context owns a pool of worker threads (pool.c) that the kernels split their work
 * over (csl_parallel; every split is a function of the shapes, so the bits do not depend on the
 * thread count). Its size is the host's GX_EXT_THREADS (`gexec ... --threads N`, or
 * gx_registry_set_threads); when that is 0 (or the host has no such extension), the environment
 * variable GEXEC_THREADS (a positive integer) if set, else the number of online cores. The
 * calling thread counts as one, so N threads means N - 1 workers. Idle workers spin for 100 us
 * and then sleep on a condition variable, so a pool between runs costs no CPU.
 *
 * OpenBLAS is pinned to one thread here (openblas_set_num_threads(1), process-wide), and
 * csl_sgemm splits big products into blocks instead, each one single-threaded sgemm. Before,
 * OpenBLAS's own pool (one thread per core) split every product above CSL_SMALL_GEMM itself;
 * measured on 2 cores with char_lstm B32 H256 (OpenBLAS 0.3.21), that cost a lot of scheduler
 * time (sched_yield in its idle loop), a malloc of a job table on every threaded call (the one
 * allocation left in a planned run), and it was slower than one thread. Two pools of threads
 * on the same cores also fought each other; now there is only ours.
 */
#define _POSIX_C_SOURCE 200809L /* sysconf */

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpu-sleef.h"

const csl_simd *csl_vec = &csl_simd_sse2;

#define CSL_MAX_THREADS 256

static int32_t csl_score(const gx_host_api *api, gx_host *host) {
    return 10;   // always usable on x86-64, and preferred over cpu-scalar (1)
}

// GX_EXT_THREADS, else GEXEC_THREADS, else the online cores (see the top); at most CSL_MAX_THREADS
static int32_t csl_pick_threads(const gx_host_api *api, gx_host *host) {
    const int32_t *ext = api->get_extension != NULL ? api->get_extension(host, GX_EXT_THREADS)
                                                    : NULL;
    long n = ext != NULL ? *ext : 0;
    const char *env = getenv("GEXEC_THREADS");
    if (n <= 0 && env != NULL && *env != '\0') {
        char *end;
        long v = strtol(env, &end, 10);
        if (*end == '\0' && v > 0) n = v;
        else
            api->log(host, GX_LOG_WARN,
                     "cpu-sleef: GEXEC_THREADS=%s is not a positive integer; ignored", env);
    }
    if (n <= 0) n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n <= 0) n = 1;
    return (int32_t)(n > CSL_MAX_THREADS ? CSL_MAX_THREADS : n);
}

static gx_status csl_init(const gx_host_api *api, gx_host *host, void **ctx) {
    // one OpenBLAS thread: the pool splits the products (kernels-matmul.c)
    openblas_set_num_threads(1);
    csl_ctx *c = calloc(1, sizeof *c);
    if (c == NULL) return GX_ERR_NOMEM;
    c->pool = csl_pool_new(csl_pick_threads(api, host));
    if (c->pool == NULL) {
        free(c);
        return GX_ERR_NOMEM;
    }
    *ctx = c;
    return GX_OK;
}

static void csl_deinit(void *ctx) {
    csl_ctx *c = ctx;
    if (c == NULL) return;
    csl_pool_free(c->pool);
    free(c);
}

static gx_status csl_describe(void *ctx, char *out, size_t out_size) {
    const csl_ctx *c = ctx;
    if (out != NULL && out_size > 0)
        snprintf(out, out_size, "host CPU, %d threads, %s SLEEF kernels, %s",
                 (int)csl_pool_threads(c != NULL ? c->pool : NULL), csl_vec->name,
                 csl_blas_config());
    return GX_OK;
}

// ---- buffers ------------------------------------------------------------------------------------

#define CSL_ALIGN 64u

static gx_status csl_buffer_alloc(void *ctx, uint64_t bytes, void **buf) {
    // aligned_alloc wants a size that is a multiple of the alignment, and a zero-size request must
    // still give a distinct pointer the engine can free, so round up with a minimum of one block.
    if (bytes > (uint64_t)SIZE_MAX - CSL_ALIGN) return GX_ERR_NOMEM;
    size_t size = ((size_t)bytes + CSL_ALIGN - 1) / CSL_ALIGN * CSL_ALIGN;
    if (size == 0) size = CSL_ALIGN;
    void *p = aligned_alloc(CSL_ALIGN, size);
    if (p == NULL) return GX_ERR_NOMEM;
    *buf = p;
    return GX_OK;
}

static void csl_buffer_free(void *ctx, void *buf) {
    free(buf);
}

static void *csl_buffer_host_ptr(void *ctx, void *buf) {
    return buf;
}

static gx_status csl_write(void *ctx, void *buf, uint64_t offset, const void *src,
                           uint64_t bytes) {
    if (bytes > 0) memcpy((char *)buf + offset, src, (size_t)bytes);
    return GX_OK;
}

static gx_status csl_read(void *ctx, void *buf, uint64_t offset, void *dst, uint64_t bytes) {
    if (bytes > 0) memcpy(dst, (const char *)buf + offset, (size_t)bytes);
    return GX_OK;
}

static gx_status csl_copy(void *ctx, void *dst, uint64_t dst_offset, void *src,
                          uint64_t src_offset, uint64_t bytes) {
    // memmove: the planner may copy between overlapping ranges of one buffer
    if (bytes > 0)
        memmove((char *)dst + dst_offset, (const char *)src + src_offset, (size_t)bytes);
    return GX_OK;
}

// kernels run when they are called, so there is never a batch in flight
static gx_status csl_begin(void *ctx) { return GX_OK; }
static gx_status csl_submit(void *ctx) { return GX_OK; }
static gx_status csl_sync(void *ctx) { return GX_OK; }

static const gx_backend_desc csl_backend = {
    .size            = sizeof(gx_backend_desc),
    .name            = CSL_BACKEND_NAME,
    .doc             = "host CPU: OpenBLAS matrix products, SLEEF vector maths, f32",
    .flags           = GX_BACKEND_HOST_MEMORY,
    .score           = csl_score,
    .init            = csl_init,
    .deinit          = csl_deinit,
    .describe        = csl_describe,
    .buffer_alloc    = csl_buffer_alloc,
    .buffer_free     = csl_buffer_free,
    .buffer_host_ptr = csl_buffer_host_ptr,
    .write           = csl_write,
    .read            = csl_read,
    .copy            = csl_copy,
    .begin           = csl_begin,
    .submit          = csl_submit,
    .sync            = csl_sync,
};

// ---- instruction set ----------------------------------------------------------------------------

// the best table this CPU runs, lowered to GEXEC_CPU_SLEEF_ISA when that names one it can run
static const csl_simd *csl_pick_simd(const gx_host_api *api, gx_host *host) {
    __builtin_cpu_init();
    int has512 = __builtin_cpu_supports("avx512f");
    int has2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    const csl_simd *best = has512 ? &csl_simd_avx512 : has2 ? &csl_simd_avx2 : &csl_simd_sse2;
    const char *want = getenv("GEXEC_CPU_SLEEF_ISA");
    if (want == NULL || *want == '\0') return best;
    if (strcmp(want, "avx512") == 0 && has512) return &csl_simd_avx512;
    if (strcmp(want, "avx2") == 0 && has2) return &csl_simd_avx2;
    if (strcmp(want, "sse2") == 0) return &csl_simd_sse2;
    api->log(host, GX_LOG_WARN,
             "cpu-sleef: GEXEC_CPU_SLEEF_ISA=%s is not avx512, avx2 or sse2 supported by this "
             "CPU; using %s", want, best->name);
    return best;
}

// ---- entry point --------------------------------------------------------------------------------

GX_PLUGIN_ENTRY(cpu_sleef, "0.1.0") {
    csl_vec = csl_pick_simd(api, host);
    // the backend first, so the host knows "cpu-sleef" before kernels name it
    gx_status st = api->register_backend(host, &csl_backend);
    if (st == GX_OK) st = csl_register_elementwise(api, host);
    if (st == GX_OK) st = csl_register_matmul(api, host);
    if (st == GX_OK) st = csl_register_shape(api, host);
    if (st == GX_OK) st = csl_register_reduce(api, host);
    if (st == GX_OK) st = csl_register_nn(api, host);
    if (st == GX_OK) st = csl_register_rnn(api, host);
    if (st == GX_OK) st = csl_register_masks(api, host);
    if (st == GX_OK) st = csl_register_step(api, host);
    if (st == GX_OK) st = csl_register_optim(api, host);
    return st;
}
