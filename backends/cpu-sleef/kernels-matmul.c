/*
 * kernels-matmul.c: the cpu-sleef matmul (batched, NumPy broadcasting of the batch dims) and the
 * one sgemm wrapper every kernel of the backend goes through (the recurrent cells use it too).
 *
 * A batched product whose right operand has no batch of its own ([B, T, H] @ [H, V], the output
 * projection of every sequence model) is one sgemm with the batch folded into M; anything else
 * is one sgemm per output batch, each operand's matrix found through the broadcast iterator.
 *
 * Small products (M N K <= CSL_SMALL_GEMM, 1e6) do not go to OpenBLAS: OpenBLAS 0.3.21 sends them
 * to its "small matrix" kernels, and on AVX-512 CPUs (SkylakeX/Cooperlake targets) the NN one
 * mallocs a packing buffer on every call, which would break the engine's rule that a planned
 * graph runs without allocating. Our own register-blocked vector loops (simd-template.h) take
 * them; they are deterministic and, at these sizes, not far from OpenBLAS.
 */
#include <cblas.h>
#include <limits.h>

#include "cpu-sleef.h"

const char *csl_blas_config(void) {
    const char *s = openblas_get_config();
    return s != NULL ? s : "OpenBLAS";
}

gx_status csl_sgemm(const gx_kernel_args *ka, const char *op, int trans_a, int trans_b,
                    int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                    const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    if (M <= 0 || N <= 0) return GX_OK;
    if (K <= 0) {
        // an empty sum: C = beta C (BLAS does the same, but some builds refuse lda = 0)
        for (int64_t m = 0; m < M; m++)
            for (int64_t n = 0; n < N; n++)
                C[m * ldc + n] = beta == 0.0f ? 0.0f : beta * C[m * ldc + n];
        return GX_OK;
    }
    if (M > INT_MAX || N > INT_MAX || K > INT_MAX || lda > INT_MAX || ldb > INT_MAX ||
        ldc > INT_MAX)
        return ka->api->set_error(ka->host, GX_ERR_UNSUPPORTED,
                                  "%s: a %lld x %lld x %lld matrix product is too large for "
                                  "OpenBLAS's 32-bit sizes", op, (long long)M, (long long)N,
                                  (long long)K);
    if ((double)M * (double)N * (double)K <= CSL_SMALL_GEMM) {
        csl_vec->gemm_small(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return GX_OK;
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, (blasint)M, (blasint)N, (blasint)K, alpha,
                A, (blasint)lda, B, (blasint)ldb, beta, C, (blasint)ldc);
    return GX_OK;
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
    const gx_shape *shapes[2] = {&xb, &wb};
    csl_iter it;
    csl_iter_broadcast(&it, &yb, shapes, 2);
    for (int64_t run = 0; run < it.runs; run++) {
        for (int64_t i = 0; i < it.inner; i++) {
            int64_t bi = it.off[0] + i;
            int64_t xo = (it.off[1] + i * it.inner_stride[1]) * M * K;
            int64_t wo = (it.off[2] + i * it.inner_stride[2]) * K * N;
            GX_TRY(csl_sgemm(a, "matmul", 0, 0, M, N, K, 1.0f, px + xo, K, pw + wo, N, 0.0f,
                             py + bi * M * N, N));
        }
        csl_iter_next(&it);
    }
    return GX_OK;
}

static const gx_kernel_desc csl_matmul_kernels[] = {
    CSL_F32("matmul", matmul_run),
};

gx_status csl_register_matmul(const gx_host_api *api, gx_host *host) {
    return gx_register_kernels(api, host, csl_matmul_kernels, GX_COUNT(csl_matmul_kernels));
}
