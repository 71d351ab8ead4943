/*
 * kernels-matmul.c: the cpu-sleef matmul (batched, NumPy broadcasting of the batch dims) and the
 * one sgemm wrapper every kernel of the backend goes through (the recurrent cells use it too).
 *
 * A batched product whose right operand has no batch of its own ([B, T, H] @ [H, V], the output
 * projection of every sequence model) is one sgemm with the batch folded into M; anything else
 * is one sgemm per output batch, each operand's matrix found through the broadcast iterator,
 * CSL_GEMM_MANY of them per dispatch to the pool.
 *
 * Small products (M N K <= CSL_SMALL_GEMM, 1e6) do not go to OpenBLAS: OpenBLAS 0.3.21 sends them
 * to its "small matrix" kernels, and on AVX-512 CPUs (SkylakeX/Cooperlake targets) the NN one
 * mallocs a packing buffer on every call (when N is not a multiple of 16), which would break the
 * engine's rule that a planned graph runs without allocating. Our own register-blocked vector
 * loops (simd-template.h) take them; they are deterministic and, at these sizes, not far from
 * OpenBLAS.
 *
 * Short, wide plain products (op(A) = A, op(B) = B, M <= CSL_DIRECT_M: a recurrent step's
 * h W_hhT and dg W_hh, where M is the batch) go to csl_vec->gemm_nn_cols instead, which reads B
 * where it lies: OpenBLAS would pack all of B, the weight matrix, on every call, which at these
 * shapes costs about as much as the multiply.
 *
 * Threads: OpenBLAS runs single-threaded (backend.c pins it); a product is split here instead.
 * The split is a pure function of the shape: C is cut along its longer side (rows when M > N,
 * else columns) into blocks of whole 16-row or 16-column units, about one block per
 * CSL_GEMM_BLOCK_WORK multiply-adds, and every block is one cblas_sgemm (or gemm_small) call on
 * the sub-matrices. The blocks of a product that goes to OpenBLAS each keep more than
 * CSL_SMALL_GEMM multiply-adds, so no block falls into OpenBLAS's allocating small kernels. Each
 * element of C is computed by exactly one call whose arguments do not depend on the thread
 * count, so the bits do not either.
 */
#include <cblas.h>
#include <limits.h>

#include "cpu-sleef.h"

/* Multiply-adds per block: OpenBLAS products (a block is 10-30 us of one core; 2^21 measured
 * best of 2^20..2^23 on char_lstm, 2 cores), gemm_small ones. Every block is its own sgemm call
 * and packs its own copy of the operand the blocks share (all of A for blocks of columns, all of
 * B for blocks of rows), so a big product stops at CSL_GEMM_MAX_BLOCKS blocks, plus one per
 * CSL_GEMM_BIG_WORK beyond that: single-threaded OpenBLAS 0.3.21 measured 5-10% slower on
 * 8 blocks than on one call, 30-50% slower on 64 (256x1024x2048 TN, 2048x1024x64 NN). Blocks
 * are whole units of CSL_GEMM_UNIT rows or columns (the last one may be short). */
#define CSL_GEMM_BLOCK_WORK  (1 << 21)
#define CSL_GEMM_MAX_BLOCKS  8
#define CSL_GEMM_BIG_WORK    (1 << 26)
#define CSL_SMALL_BLOCK_WORK (1 << 18)
#define CSL_GEMM_UNIT        16
/* the direct path: at most this many rows; its column blocks are whole 32-column panels (2 VN
 * on AVX-512), the split gemm_nn_cols keeps bit-identical */
#define CSL_DIRECT_M         64
#define CSL_DIRECT_UNIT      32

const char *csl_blas_config(void) {
    const char *s = openblas_get_config();
    return s != NULL ? s : "OpenBLAS";
}

// a product and its blocks
typedef struct csl_gemm_plan {
    csl_gemm g;
    int      small;      /* every block through csl_vec->gemm_small, else cblas_sgemm */
    int      direct;     /* every block through csl_vec->gemm_nn_cols (takes precedence)  */
    int      by_rows;    /* blocks of rows of C, else of columns                      */
    int64_t  n_blocks;
} csl_gemm_plan;

// rows or columns [*start, *start + *len) of block b: the units shared out evenly, the spare
// ones to the first blocks, so only the last block can be short
static void csl_gemm_block_range(const csl_gemm_plan *p, int64_t b, int64_t *start, int64_t *len) {
    int64_t D = p->by_rows ? p->g.M : p->g.N, unit = p->direct ? CSL_DIRECT_UNIT : CSL_GEMM_UNIT;
    int64_t units = csl_n_chunks(D, unit), nb = p->n_blocks;
    int64_t q = units / nb, r = units % nb;
    int64_t u0 = b * q + (b < r ? b : r), nu = q + (b < r);
    *start = u0 * unit;
    int64_t end = (u0 + nu) * unit;
    *len = (end < D ? end : D) - *start;
}

// the path and the blocks of a product with M, N, K > 0: a function of the shape only
static void csl_gemm_plan_make(csl_gemm_plan *p, const csl_gemm *g) {
    p->g = *g;
    double work = (double)g->M * (double)g->N * (double)g->K;
    p->small = work <= CSL_SMALL_GEMM;
    p->direct = !g->trans_a && !g->trans_b && g->alpha == 1.0f &&
                (g->beta == 0.0f || g->beta == 1.0f) && g->M <= CSL_DIRECT_M;
    p->by_rows = !p->direct && g->M > g->N;
    int64_t D = p->by_rows ? g->M : g->N;
    double per_block = p->small && !p->direct ? CSL_SMALL_BLOCK_WORK : CSL_GEMM_BLOCK_WORK;
    double want = work / per_block, cap = work / CSL_GEMM_BIG_WORK;
    if (cap < CSL_GEMM_MAX_BLOCKS) cap = CSL_GEMM_MAX_BLOCKS;
    if (want > cap) want = cap;
    int64_t units = csl_n_chunks(D, p->direct ? CSL_DIRECT_UNIT : CSL_GEMM_UNIT);
    p->n_blocks = want < 1.0 ? 1 : want > (double)units ? units : (int64_t)want;
    // an OpenBLAS block must stay above CSL_SMALL_GEMM (see the top); the last is the smallest
    while (!p->small && !p->direct && p->n_blocks > 1) {
        int64_t start, len;
        csl_gemm_block_range(p, p->n_blocks - 1, &start, &len);
        if (work / (double)D * (double)len > CSL_SMALL_GEMM) break;
        p->n_blocks--;
    }
}

static void csl_gemm_block_run(const csl_gemm_plan *p, int64_t b) {
    const csl_gemm *g = &p->g;
    const float *A = g->A, *B = g->B;
    float *C = g->C;
    int64_t M = g->M, N = g->N, start, len;
    csl_gemm_block_range(p, b, &start, &len);
    if (p->direct) {
        csl_vec->gemm_nn_cols(M, start, start + len, g->K, A, g->lda, B, g->ldb, g->beta, C,
                              g->ldc);
        return;
    }
    if (p->by_rows) {   // rows start.. of C and of op(A)
        A += g->trans_a ? start : start * g->lda;
        C += start * g->ldc;
        M = len;
    } else {            // columns start.. of C and of op(B)
        B += g->trans_b ? start * g->ldb : start;
        C += start;
        N = len;
    }
    if (p->small) {
        csl_vec->gemm_small(g->trans_a, g->trans_b, M, N, g->K, g->alpha, A, g->lda, B, g->ldb,
                            g->beta, C, g->ldc);
        return;
    }
    cblas_sgemm(CblasRowMajor, g->trans_a ? CblasTrans : CblasNoTrans,
                g->trans_b ? CblasTrans : CblasNoTrans, (blasint)M, (blasint)N, (blasint)g->K,
                g->alpha, A, (blasint)g->lda, B, (blasint)g->ldb, g->beta, C, (blasint)g->ldc);
}

typedef struct csl_gemm_job {
    csl_gemm_plan plans[CSL_GEMM_MANY];
    int64_t       first[CSL_GEMM_MANY + 1];   /* task index of each product's first block */
    int           n;
} csl_gemm_job;

static void csl_gemm_task(void *arg, int64_t t) {
    const csl_gemm_job *j = arg;
    int k = 0;
    while (t >= j->first[k + 1]) k++;
    csl_gemm_block_run(&j->plans[k], t - j->first[k]);
}

gx_status csl_sgemm_many(const gx_kernel_args *ka, const char *op, const csl_gemm *g, int n) {
    csl_gemm_job job;
    job.n = 0;
    job.first[0] = 0;
    for (int i = 0; i < n && i < CSL_GEMM_MANY; i++) {
        const csl_gemm *p = &g[i];
        if (p->M <= 0 || p->N <= 0) continue;
        if (p->K <= 0) {
            // an empty sum: C = beta C (BLAS does the same, but some builds refuse lda = 0)
            for (int64_t m = 0; m < p->M; m++)
                for (int64_t c = 0; c < p->N; c++)
                    p->C[m * p->ldc + c] = p->beta == 0.0f ? 0.0f : p->beta * p->C[m * p->ldc + c];
            continue;
        }
        if (p->M > INT_MAX || p->N > INT_MAX || p->K > INT_MAX || p->lda > INT_MAX ||
            p->ldb > INT_MAX || p->ldc > INT_MAX)
            return ka->api->set_error(ka->host, GX_ERR_UNSUPPORTED,
                                      "%s: a %lld x %lld x %lld matrix product is too large for "
                                      "OpenBLAS's 32-bit sizes", op, (long long)p->M,
                                      (long long)p->N, (long long)p->K);
        csl_gemm_plan_make(&job.plans[job.n], p);
        job.first[job.n + 1] = job.first[job.n] + job.plans[job.n].n_blocks;
        job.n++;
    }
    csl_parallel(ka->backend_ctx, csl_gemm_task, &job, job.first[job.n]);
    return GX_OK;
}

gx_status csl_sgemm(const gx_kernel_args *ka, const char *op, int trans_a, int trans_b,
                    int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                    const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    csl_gemm g = {.trans_a = trans_a, .trans_b = trans_b, .M = M, .N = N, .K = K, .alpha = alpha,
                  .beta = beta, .A = A, .lda = lda, .B = B, .ldb = ldb, .C = C, .ldc = ldc};
    return csl_sgemm_many(ka, op, &g, 1);
}

// the leading (batch) dims of a rank >= 2 shape, i.e. the shape without its last two dims
static gx_shape csl_batch_shape(const gx_shape *s) {
    gx_shape b = {.ndim = s->ndim - 2};
    for (int32_t d = 0; d < b.ndim; d++) b.dims[d] = s->dims[d];
    return b;
}

// a is [..., M, K], b is [..., K, N], y is [..., M, N]; the batch dims of a and b broadcast to y's
static gx_status matmul_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *x = &a->inputs[0], *w = &a->inputs[1], *y = &a->outputs[0];
    int32_t r = y->shape.ndim;
    int64_t M = y->shape.dims[r - 2], N = y->shape.dims[r - 1];
    int64_t K = x->shape.dims[x->shape.ndim - 1];
    gx_shape xb = csl_batch_shape(&x->shape), wb = csl_batch_shape(&w->shape);
    gx_shape yb = csl_batch_shape(&y->shape);
    int64_t batches = gx_shape_numel(&yb);
    const float *px = csl_f32(x), *pw = csl_f32(w);
    float *py = csl_f32(y);
    if (gx_shape_numel(&wb) == 1 && gx_shape_numel(&xb) == batches)
        // one shared right matrix and every left matrix distinct: stack them into one product
        return csl_sgemm(a, "matmul", 0, 0, batches * M, N, K, 1.0f, px, K, pw, N, 0.0f, py, N);
    // one product per output batch, CSL_GEMM_MANY per dispatch
    const gx_shape *shapes[2] = {&xb, &wb};
    csl_iter it;
    csl_iter_broadcast(&it, &yb, shapes, 2);
    csl_gemm g[CSL_GEMM_MANY];
    int n = 0;
    for (int64_t run = 0; run < it.runs; run++) {
        for (int64_t i = 0; i < it.inner; i++) {
            int64_t bi = it.off[0] + i;
            int64_t xo = (it.off[1] + i * it.inner_stride[1]) * M * K;
            int64_t wo = (it.off[2] + i * it.inner_stride[2]) * K * N;
            g[n++] = (csl_gemm){.M = M, .N = N, .K = K, .alpha = 1.0f, .A = px + xo, .lda = K,
                                .B = pw + wo, .ldb = N, .beta = 0.0f, .C = py + bi * M * N,
                                .ldc = N};
            if (n == CSL_GEMM_MANY) {
                GX_TRY(csl_sgemm_many(a, "matmul", g, n));
                n = 0;
            }
        }
        csl_iter_next(&it);
    }
    return n > 0 ? csl_sgemm_many(a, "matmul", g, n) : GX_OK;
}

static const gx_kernel_desc csl_matmul_kernels[] = {
    CSL_F32("matmul", matmul_run),
};

gx_status csl_register_matmul(const gx_host_api *api, gx_host *host) {
    return gx_register_kernels(api, host, csl_matmul_kernels, GX_COUNT(csl_matmul_kernels));
}
