/*
 * strided.c: the iterator behind every broadcasting or axis-reordering kernel of cpu-sleef.
 *
 * An output shape plus per-operand element strides is reduced to the fewest dims that describe
 * the same walk: dims of size 1 are dropped and neighbouring dims are merged wherever every
 * operand steps through them as through one dim. Kernels then loop over runs of the innermost
 * dim, where each operand's stride is a constant (0 for a broadcast operand, 1 for a contiguous
 * one), which is what the compiler vectorises. A [B*T, V] + [V] bias add becomes B*T runs of V;
 * two tensors of one shape become a single run.
 */
#include "cpu-sleef.h"

// Coalesce the full-rank description (rank r, dims, strides of n_ops operands) into it.
static void csl_iter_finish(csl_iter *it, int32_t r, const int64_t *dims,
                            int64_t stride[CSL_ITER_MAX][GX_MAX_DIMS]) {
    int32_t nd = 0;
    int64_t total = 1;
    for (int32_t d = 0; d < r; d++) total *= dims[d];
    for (int32_t d = 0; d < r; d++) {
        if (dims[d] == 1) continue;   // contributes no steps
        if (nd > 0) {
            // merge d into the previous kept dim when each operand's outer stride is its
            // inner stride times the inner size (contiguous, or broadcast along both)
            int ok = 1;
            for (int32_t k = 0; k < it->n_ops && ok; k++)
                ok = stride[k][d] * dims[d] == it->stride[k][nd - 1];
            if (ok) {
                it->dims[nd - 1] *= dims[d];
                for (int32_t k = 0; k < it->n_ops; k++) it->stride[k][nd - 1] = stride[k][d];
                continue;
            }
        }
        it->dims[nd] = dims[d];
        for (int32_t k = 0; k < it->n_ops; k++) it->stride[k][nd] = stride[k][d];
        nd++;
    }
    if (nd == 0) {   // a scalar, or all dims 1: one run of one element
        it->dims[0] = 1;
        for (int32_t k = 0; k < it->n_ops; k++) it->stride[k][0] = 0;
        nd = 1;
    }
    it->nd = nd;
    it->inner = it->dims[nd - 1];
    for (int32_t k = 0; k < it->n_ops; k++) it->inner_stride[k] = it->stride[k][nd - 1];
    it->runs = total == 0 ? 0 : total / it->inner;
    csl_iter_reset(it);
}

void csl_iter_reset(csl_iter *it) {
    for (int32_t d = 0; d < GX_MAX_DIMS; d++) it->idx[d] = 0;
    for (int32_t k = 0; k < CSL_ITER_MAX; k++) it->off[k] = 0;
}

// row-major element strides of a contiguous tensor of shape s
static void csl_contiguous_strides(const gx_shape *s, int64_t *stride) {
    int64_t st = 1;
    for (int32_t d = s->ndim - 1; d >= 0; d--) {
        stride[d] = st;
        st *= s->dims[d];
    }
}

void csl_iter_broadcast(csl_iter *it, const gx_shape *out, const gx_shape *const *shapes,
                        int n) {
    int64_t stride[CSL_ITER_MAX][GX_MAX_DIMS] = {{0}};
    int32_t r = out->ndim;
    it->n_ops = n + 1;
    csl_contiguous_strides(out, stride[0]);
    for (int k = 0; k < n; k++) {
        const gx_shape *s = shapes[k];
        int64_t own[GX_MAX_DIMS];
        csl_contiguous_strides(s, own);
        // aligned on the right; a missing or size-1 dim does not move the operand
        for (int32_t d = 0; d < r; d++) {
            int32_t e = d - (r - s->ndim);
            stride[k + 1][d] = e >= 0 && s->dims[e] != 1 ? own[e] : 0;
        }
    }
    csl_iter_finish(it, r, out->dims, stride);
}

void csl_iter_strided(csl_iter *it, const gx_shape *out, const int64_t *src_stride) {
    int64_t stride[CSL_ITER_MAX][GX_MAX_DIMS] = {{0}};
    it->n_ops = 2;
    csl_contiguous_strides(out, stride[0]);
    for (int32_t d = 0; d < out->ndim; d++) stride[1][d] = src_stride[d];
    csl_iter_finish(it, out->ndim, out->dims, stride);
}

gx_status csl_workspace(const gx_kernel_args *a, const char *op, uint64_t bytes, void **ws) {
    uint64_t have = a->workspace.shape.ndim == 1 ? (uint64_t)a->workspace.shape.dims[0] : 0;
    *ws = NULL;
    if (bytes == 0) return GX_OK;
    if (a->workspace.data == NULL || have < bytes)
        return a->api->set_error(a->host, GX_ERR_INVALID,
                                 "%s: needs a workspace of %llu bytes, got %llu", op,
                                 (unsigned long long)bytes, (unsigned long long)have);
    *ws = a->workspace.data;
    return GX_OK;
}
