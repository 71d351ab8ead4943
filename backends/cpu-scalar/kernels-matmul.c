/*
 * kernels-matmul.c: the cpu-scalar matmul, batched, with NumPy broadcasting of the batch dims.
 *
 * A plain triple loop with a double accumulator per output element: the reference the fast
 * backends (blocked, SIMD, BLAS, GPU) are compared against, not a fast kernel itself.
 */
#include "cpu-scalar.h"

// the leading (batch) dims of a rank >= 2 shape, i.e. the shape without its last two dims
static gx_shape cs_batch_shape(const gx_shape *s) {
    gx_shape b = { .ndim = s->ndim - 2 };
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
    gx_shape xb = cs_batch_shape(&x->shape), wb = cs_batch_shape(&w->shape);
    gx_shape yb = cs_batch_shape(&y->shape);
    int64_t batches = gx_shape_numel(&yb);
    for (int64_t bi = 0; bi < batches; bi++) {
        // start of this batch's matrices in each tensor (a broadcast batch dim re-reads one matrix)
        int64_t xo = cs_broadcast_index(&xb, &yb, bi) * M * K;
        int64_t wo = cs_broadcast_index(&wb, &yb, bi) * K * N;
        int64_t yo = bi * M * N;
        for (int64_t m = 0; m < M; m++) {
            for (int64_t n = 0; n < N; n++) {
                double acc = 0.0;
                for (int64_t k = 0; k < K; k++)
                    acc += cs_load(x, xo + m * K + k) * cs_load(w, wo + k * N + n);
                cs_store(y, yo + m * N + n, acc);
            }
        }
    }
    return GX_OK;
}

static const gx_kernel_desc cs_matmul_kernels[] = {
    CS_KERNELS_FLOAT("matmul", matmul_run),
};

gx_status cs_register_matmul(const gx_host_api *api, gx_host *host) {
    return gx_register_kernels(api, host, cs_matmul_kernels,
                             sizeof cs_matmul_kernels / sizeof cs_matmul_kernels[0]);
}
