/*
 * cpu-sleef.h: shared helpers of the cpu-sleef backend, the fast host-CPU backend.
 *
 * Same device model as cpu-scalar (host memory, synchronous), but f32 kernels built for speed:
 * matrix products through OpenBLAS (cblas_sgemm), transcendental maps through SLEEF's vector
 * functions, and the fused recurrent cells as two GEMMs plus one vector pass per batch row.
 * Kernels exist for every (op, dtype) pair cpu-scalar has except f64: the float ops in f32, the
 * byte-moving shape ops and `full` in f32 and i32.
 *
 * SIMD: the vector code lives in simd-template.h, compiled three times (simd-avx512.c with
 * -mavx512f, simd-avx2.c with -mavx2 -mfma, simd-sse2.c with the x86-64 baseline) into three
 * csl_simd tables. backend.c picks one when the plugin loads (__builtin_cpu_supports), so the
 * plugin loads and runs on any x86-64; only the chosen table's code is ever executed. The rest
 * of the plugin is compiled for the baseline and calls vector code through `csl_vec`.
 *
 * Threads: the backend context owns a pool of worker threads (pool.c; GX_EXT_THREADS, else
 * GEXEC_THREADS, else one per online core, the caller counting as one). The engine calls each
 * kernel once, on its own thread, with ith = 0 and nth = 1; a kernel with enough work splits it
 * into tasks and hands them to the pool with csl_parallel (below). OpenBLAS is pinned to one
 * thread at init, so the only threads are the pool's, and every large product is cut into
 * blocks, each one single-threaded call (cblas_sgemm, or csl_vec's own GEMM loops; csl_sgemm).
 *
 * Rules every kernel follows: never allocate (scratch comes from the engine's workspace, see
 * gx_kernel_desc.workspace; the pool never allocates either), be deterministic with the same
 * bits for any thread count (fixed summation orders; work split by the problem's shape only,
 * never by the thread count, and partial results combined in a fixed order), accumulate long
 * sums in double, and do all the work when ith == 0 and nothing when ith > 0.
 */
#ifndef GX_CPU_SLEEF_H
#define GX_CPU_SLEEF_H

#include <gexec/plugin-helpers.h>

#include <stdint.h>

#define CSL_BACKEND_NAME "cpu-sleef"

// ---- the vector layer (simd-template.h) -------------------------------------------------------

/* Vector routines over contiguous f32 arrays; every length may be any n >= 0 (tails are done
 * with masked or padded vectors, so an element's result never depends on its position). The
 * cell routines handle one batch row: gate blocks of H floats stacked as in the weights, biases
 * NULL when the cell has none. Arrays passed as both input and output are updated in place. */
typedef struct csl_simd {
    const char *name;   /* "AVX-512", "AVX2", "SSE2" */
    void (*tanh)(float *y, const float *x, int64_t n);
    void (*sigmoid)(float *y, const float *x, int64_t n);
    void (*exp)(float *y, const float *x, int64_t n);
    void (*log)(float *y, const float *x, int64_t n);
    /* sum of exp(x[i] - shift) in double; also stored to y[i] when y is not NULL */
    double (*exp_shift_sum)(float *y, const float *x, float shift, int64_t n);

    /* rnn: pre [H] (x W_ih^T + h W_hh^T, no bias) -> y = act(pre + b_ih + b_hh); y may be pre */
    void (*rnn_fwd_row)(float *y, const float *pre, const float *b_ih, const float *b_hh,
                        int64_t H, int relu);
    /* rnn backward: pre [H] is replaced by dpre = dy * act'(pre + biases) */
    void (*rnn_bwd_row)(float *pre, const float *b_ih, const float *b_hh, const float *dy,
                        int64_t H, int relu);
    /* lstm: g [4H] pre-activations (no bias); c [H] -> h_out, c_out [H] */
    void (*lstm_fwd_row)(const float *g, const float *b_ih, const float *b_hh, const float *c,
                         float *h_out, float *c_out, int64_t H);
    /* lstm backward: g [4H] pre-activations are replaced by the gate gradients; dc [H] out */
    void (*lstm_bwd_row)(float *g, const float *b_ih, const float *b_hh, const float *c,
                         const float *dh_next, const float *dc_next, float *dc, int64_t H);
    /* gru: gi = x W_ih^T, gh = h W_hh^T [3H] (no bias); h [H] -> y [H] */
    void (*gru_fwd_row)(const float *gi, const float *gh, const float *b_ih, const float *b_hh,
                        const float *h, float *y, int64_t H);
    /* gru backward: gi, gh are replaced by their gradients; dh_direct [H] = dy * z */
    void (*gru_bwd_row)(float *gi, float *gh, const float *b_ih, const float *b_hh,
                        const float *h, const float *dy, float *dh_direct, int64_t H);
    /* small products for csl_sgemm (same arguments; M, N, K > 0) */
    void (*gemm_small)(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                       const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                       float *C, int64_t ldc);

    /* The step ops (ops/rnn/step.c; rnn_step's forward uses rnn_fwd_row with gi as b_ih).
     * rnn_step backward, element-wise over n: dg = dy * act'(pre) read from y = act(pre)
     * (tanh: 1 - y^2; relu: y > 0) */
    void (*rnn_step_bwd)(float *dg, const float *dy, const float *y, int64_t n, int relu);
    /* lstm_step: act [4H] holds h W_hh^T on entry and the activated gates (i f g o) on exit;
     * gi [4H], b_hh [4H] or NULL, c [H] -> h_out, c_out [H] */
    void (*lstm_step_fwd_row)(float *act, const float *gi, const float *b_hh, const float *c,
                              float *h_out, float *c_out, int64_t H);
    /* lstm_step backward: act [4H], c, c_new, dh, dc_next [H], dact [4H] or NULL -> dg [4H],
     * dc [H] */
    void (*lstm_step_bwd_row)(float *dg, float *dc, const float *act, const float *c,
                              const float *c_new, const float *dh, const float *dc_next,
                              const float *dact, int64_t H);
    /* gru_step: act [4H] holds h W_hh^T (r z n blocks) in its first 3H on entry and
     * (r, z, n, gh_n) on exit, gh_n = (h W_hh^T)_n + b_hh_n; gi [3H], b_hh [3H] or NULL,
     * h [H] -> y [H] */
    void (*gru_step_fwd_row)(float *act, const float *gi, const float *b_hh, const float *h,
                             float *y, int64_t H);
    /* gru_step backward: act [4H], h, dy [H], dact [4H] or NULL -> dgi, dgh [3H],
     * dh_direct [H] = dy * z */
    void (*gru_step_bwd_row)(float *dgi, float *dgh, float *dh_direct, const float *act,
                             const float *h, const float *dy, const float *dact, int64_t H);
    /* C[:, N0:N1] = A B[:, N0:N1] + beta C[:, N0:N1]: A [M, K], B [K, N], C [M, N], row-major
     * with leading dims lda, ldb, ldc; B read in place (no packing), register-blocked
     * micro-tiles of 12 (AVX-512) or 6 rows x 2*VN columns with FMA (the ISAs differ in the
     * last bits).
     * beta == 0 ignores C's old contents (NaN included); M, K >= 0, 0 <= N0 <= N1 <= N.
     * Column panels: calls on [N0, N1) ranges whose boundaries are multiples of 2*VN (32
     * floats covers every ISA) give the same bits as one call on the union, so threads may
     * split N that way (each element is one fixed chain: beta C, then fma over k in order). */
    void (*gemm_nn_cols)(int64_t M, int64_t N0, int64_t N1, int64_t K, const float *A,
                         int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                         int64_t ldc);
} csl_simd;

extern const csl_simd csl_simd_avx512, csl_simd_avx2, csl_simd_sse2;

/* The table in use: set once while the plugin loads (backend.c), read-only afterwards. */
extern const csl_simd *csl_vec;

// ---- tensors -----------------------------------------------------------------------------------

static inline float *csl_f32(const gx_tensor *t) {
    return (float *)t->data;
}

static inline int64_t csl_numel(const gx_tensor *t) {
    return gx_shape_numel(&t->shape);
}

// a possibly negative axis (Python style) as an index in [0, ndim)
static inline int32_t csl_axis(int64_t axis, int32_t ndim) {
    return (int32_t)(axis < 0 ? axis + ndim : axis);
}

// product of dims[from..to), 1 when the range is empty (outer/inner sizes around an axis)
static inline int64_t csl_dims_prod(const gx_shape *s, int32_t from, int32_t to) {
    int64_t n = 1;
    for (int32_t d = from; d < to; d++) n *= s->dims[d];
    return n;
}

/* The kernel's workspace as a pointer to at least `bytes` bytes. The planner gives what the
 * workspace callback asked for, so a shortfall means the caller skipped it: report it rather
 * than write past the end. */
gx_status csl_workspace(const gx_kernel_args *a, const char *op, uint64_t bytes, void **ws);

// ---- strided iteration (strided.c) -------------------------------------------------------------

/* Up to CSL_ITER_MAX operands walked in the row-major order of an output shape, each with its
 * own element strides (0 along broadcast dims). Dims are coalesced where every operand allows
 * it, so the innermost run is as long as possible. Use:
 *     csl_iter it; csl_iter_broadcast(&it, &y->shape, shapes, n);
 *     for (int64_t r = 0; r < it.runs; r++) { ...it.off[k], it.inner_stride[k], it.inner...;
 *                                             csl_iter_next(&it); } */
#define CSL_ITER_MAX 4

typedef struct csl_iter {
    int32_t n_ops;
    int32_t nd;                                  /* coalesced rank, >= 1                   */
    int64_t dims[GX_MAX_DIMS];
    int64_t stride[CSL_ITER_MAX][GX_MAX_DIMS];
    int64_t inner;                               /* dims[nd - 1]: length of one run         */
    int64_t inner_stride[CSL_ITER_MAX];
    int64_t runs;                                /* number of runs (0 when empty)            */
    int64_t idx[GX_MAX_DIMS];                    /* odometer over dims[0 .. nd - 1)          */
    int64_t off[CSL_ITER_MAX];                   /* element offset of the current run        */
} csl_iter;

/* Operand 0 is the output (contiguous, shape `out`); operands 1..n are inputs of `shapes`
 * broadcast to it (NumPy rules). */
void csl_iter_broadcast(csl_iter *it, const gx_shape *out, const gx_shape *const *shapes, int n);
/* Two operands: the output y (contiguous) and a source with explicit element strides per dim
 * of y (a permutation's view of x). */
void csl_iter_strided(csl_iter *it, const gx_shape *out, const int64_t *src_stride);
/* Start over at run 0 (csl_iter_* leave the iterator there). */
void csl_iter_reset(csl_iter *it);

static inline void csl_iter_next(csl_iter *it) {
    for (int32_t d = it->nd - 2; d >= 0; d--) {
        for (int32_t k = 0; k < it->n_ops; k++) it->off[k] += it->stride[k][d];
        if (++it->idx[d] < it->dims[d]) return;
        for (int32_t k = 0; k < it->n_ops; k++) it->off[k] -= it->stride[k][d] * it->dims[d];
        it->idx[d] = 0;
    }
}

// ---- BLAS (kernels-matmul.c) -------------------------------------------------------------------

/* C = alpha op(A) op(B) + beta C, row-major, op = transpose when trans_* is set; A is M x K
 * after op, B is K x N after op. Handles empty sizes (K = 0 scales C by beta) and refuses sizes
 * beyond OpenBLAS's 32-bit integers with set_error. Products of at most CSL_SMALL_GEMM
 * multiply-adds run in csl_vec->gemm_small instead of OpenBLAS (see kernels-matmul.c); that
 * choice is made on the whole product, so every block of one product takes the same path.
 * Products of more than CSL_GEMM_BLOCK_WORK multiply-adds are cut into blocks of rows or of
 * columns of C (by the shape alone, so the result does not depend on the thread count) that
 * the pool runs in parallel; a call from inside a pool task runs its blocks inline. */
#define CSL_SMALL_GEMM 1000000
gx_status csl_sgemm(const gx_kernel_args *a, const char *op, int trans_a, int trans_b,
                    int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                    const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

/* One product for csl_sgemm_many: the arguments of csl_sgemm. */
typedef struct csl_gemm {
    int          trans_a, trans_b;
    int64_t      M, N, K;
    float        alpha, beta;
    const float *A;
    int64_t      lda;
    const float *B;
    int64_t      ldb;
    float       *C;
    int64_t      ldc;
} csl_gemm;

/* Up to CSL_GEMM_MANY independent products (no C overlaps another product's A, B or C) whose
 * blocks all go to the pool in one dispatch: each product's result is the one csl_sgemm gives. */
#define CSL_GEMM_MANY 8
gx_status csl_sgemm_many(const gx_kernel_args *a, const char *op, const csl_gemm *g, int n);

/* OpenBLAS's configuration line, for describe() */
const char *csl_blas_config(void);

// ---- the context and its thread pool (pool.c, backend.c) ----------------------------------------

/* The backend context (gx_kernel_args.backend_ctx in every kernel call): made by csl_init,
 * freed by csl_deinit. `pool` is never NULL in a context csl_init made. */
typedef struct csl_pool csl_pool;
typedef struct csl_ctx {
    csl_pool *pool;
} csl_ctx;

/* A pool of n_threads - 1 workers (the caller of csl_parallel is the n-th); NULL when out of
 * memory. Workers that cannot be started are done without (csl_pool_threads says how many
 * run). csl_pool_free joins them; no job may be running. */
csl_pool *csl_pool_new(int32_t n_threads);
void      csl_pool_free(csl_pool *p);
int32_t   csl_pool_threads(const csl_pool *p);

/* csl_parallel(a->backend_ctx, fn, arg, n_tasks) runs fn(arg, t) once for every t in
 * [0, n_tasks) and returns when all have finished. The contract:
 *   - tasks run concurrently, in any order, on any thread of the pool, the caller included: a
 *     task must not depend on another task of the same call, and tasks that write must write
 *     disjoint memory;
 *   - the split is the kernel's, and must be a function of the problem (shapes, attributes),
 *     NEVER of the thread count, so the results are bit-identical whatever the pool size; a
 *     reduction keeps one partial result per task and combines them in task order afterwards;
 *   - dispatch costs well under a microsecond while the workers are awake (they spin 100 us
 *     after each job, then sleep; waking a sleeping one is a futex wake, about 50 us on the
 *     2-core VMs here): give each task at least tens of microseconds of work, and keep small
 *     tensors serial (call fn yourself, or let n_tasks be 1);
 *   - it never allocates, and fn must not either; fn cannot fail: validate (and set_error) on
 *     the calling thread before dispatching, never from a task (the host is not thread-safe);
 *   - a call made while the pool is busy (from inside a task, or from a second host thread)
 *     runs its tasks inline on the calling thread, in order; so nesting is allowed (a task may
 *     call csl_sgemm) but gets no extra threads;
 *   - a NULL backend_ctx runs everything inline.
 * csl_parallel_range cuts [0, n) into chunks of `chunk` (the last one shorter) and calls
 * fn(arg, begin, end) for each, the same way. */
typedef void (*csl_task_fn)(void *arg, int64_t task);
typedef void (*csl_range_fn)(void *arg, int64_t begin, int64_t end);
void csl_parallel(void *backend_ctx, csl_task_fn fn, void *arg, int64_t n_tasks);
void csl_parallel_range(void *backend_ctx, csl_range_fn fn, void *arg, int64_t n, int64_t chunk);

/* the number of chunks of `chunk` elements that cover n (0 when n <= 0) */
static inline int64_t csl_n_chunks(int64_t n, int64_t chunk) {
    return n <= 0 ? 0 : (n + chunk - 1) / chunk;
}

/* Element counts below which the kernels stay serial, and the chunk sizes they split by (each a
 * multiple of 64 floats, so chunks start on a cache line and on a whole vector). Cheap maps are
 * memory bound (add, mul, copies); math maps call SLEEF (exp, tanh, ...), about 1 ns a float. */
#define CSL_CHUNK_CHEAP 32768
#define CSL_CHUNK_MATH  8192

// ---- registration ------------------------------------------------------------------------------

#define CSL_KERNEL(opname, fn, dt) \
    { .size = sizeof(gx_kernel_desc), .op = (opname), .backend = CSL_BACKEND_NAME, \
      .dtype = (dt), .run = (fn) }
#define CSL_KERNEL_WS(opname, fn, dt, ws) \
    { .size = sizeof(gx_kernel_desc), .op = (opname), .backend = CSL_BACKEND_NAME, \
      .dtype = (dt), .run = (fn), .workspace = (ws) }
#define CSL_F32(opname, fn)        CSL_KERNEL(opname, fn, GX_DTYPE_F32)
#define CSL_F32_WS(opname, fn, ws) CSL_KERNEL_WS(opname, fn, GX_DTYPE_F32, ws)

// one per kernel file; each registers that file's kernel table
gx_status csl_register_elementwise(const gx_host_api *api, gx_host *host);
gx_status csl_register_matmul(const gx_host_api *api, gx_host *host);
gx_status csl_register_shape(const gx_host_api *api, gx_host *host);
gx_status csl_register_reduce(const gx_host_api *api, gx_host *host);
gx_status csl_register_nn(const gx_host_api *api, gx_host *host);
gx_status csl_register_rnn(const gx_host_api *api, gx_host *host);
gx_status csl_register_masks(const gx_host_api *api, gx_host *host);
gx_status csl_register_step(const gx_host_api *api, gx_host *host);
gx_status csl_register_optim(const gx_host_api *api, gx_host *host);

#endif /* GX_CPU_SLEEF_H */
