/*
 * cpu-scalar.h: shared helpers of the cpu-scalar backend, the readable reference backend.
 *
 * Kernels read every element as a double (cs_load), compute in double and store back in the output's
 * dtype (cs_store), so one function serves f32 and f64. Clarity over speed: no SIMD, no blocking.
 * Threads: the reference kernels do not split work. A kernel does all of it when ith == 0 and
 * nothing when ith > 0 (`if (a->ith != 0) return GX_OK;`), which is deterministic for any nth.
 * Kernels never allocate: the engine has already inferred output shapes and allocated the buffers.
 */
#ifndef GX_CPU_SCALAR_H
#define GX_CPU_SCALAR_H

#include <gexec/plugin-helpers.h>

#define CS_BACKEND_NAME "cpu-scalar"

// ---- element access ----------------------------------------------------------------------------

// element i of t as a double (i32 converts exactly)
static inline double cs_load(const gx_tensor *t, int64_t i) {
    switch (t->dtype) {
    case GX_DTYPE_F32: return ((const float *)t->data)[i];
    case GX_DTYPE_F64: return ((const double *)t->data)[i];
    case GX_DTYPE_I32: return ((const int32_t *)t->data)[i];
    default:           return 0.0;
    }
}

// store v as element i of t; i32 truncates towards zero (only `full` stores floats into i32)
static inline void cs_store(const gx_tensor *t, int64_t i, double v) {
    switch (t->dtype) {
    case GX_DTYPE_F32: ((float *)t->data)[i] = (float)v; break;
    case GX_DTYPE_F64: ((double *)t->data)[i] = v; break;
    case GX_DTYPE_I32: ((int32_t *)t->data)[i] = (int32_t)v; break;
    default: break;
    }
}

// element i of an i32 tensor (indices, targets)
static inline int32_t cs_load_i32(const gx_tensor *t, int64_t i) {
    return ((const int32_t *)t->data)[i];
}

static inline int64_t cs_numel(const gx_tensor *t) {
    return gx_shape_numel(&t->shape);
}

// ---- shapes ------------------------------------------------------------------------------------

// a possibly negative axis (Python style) as an index in [0, ndim)
static inline int32_t cs_axis(int64_t axis, int32_t ndim) {
    return (int32_t)(axis < 0 ? axis + ndim : axis);
}

// product of dims[from..to), 1 when the range is empty (outer/inner sizes around an axis)
static inline int64_t cs_dims_prod(const gx_shape *s, int32_t from, int32_t to) {
    int64_t n = 1;
    for (int32_t d = from; d < to; d++) n *= s->dims[d];
    return n;
}

// NumPy broadcasting: the linear index into an input of shape `in` that feeds element `out_i` of a
// result of shape `out`. Shapes are aligned on the right; an input dim of 1, or one missing on the
// left, has stride 0 (the same input element is read for every coordinate along it).
static inline int64_t cs_broadcast_index(const gx_shape *in, const gx_shape *out, int64_t out_i) {
    int64_t in_i = 0, in_stride = 1;
    int32_t k = in->ndim - 1;
    for (int32_t d = out->ndim - 1; d >= 0; d--, k--) {
        int64_t coord = out_i % out->dims[d];
        out_i /= out->dims[d];
        if (k < 0) continue;
        if (in->dims[k] != 1) in_i += coord * in_stride;
        in_stride *= in->dims[k];
    }
    return in_i;
}

// ---- registration ------------------------------------------------------------------------------

// the f32 and f64 kernels of one op: a kernel's dtype is the dtype of its output 0
#define CS_KERNEL(opname, fn, dt) \
    { .size = sizeof(gx_kernel_desc), .op = (opname), .backend = CS_BACKEND_NAME, \
      .dtype = (dt), .run = (fn) }
#define CS_KERNELS_FLOAT(opname, fn) \
    CS_KERNEL(opname, fn, GX_DTYPE_F32), CS_KERNEL(opname, fn, GX_DTYPE_F64)

// one per kernel file; each registers that file's kernel table
gx_status cs_register_elementwise(const gx_host_api *api, gx_host *host);
gx_status cs_register_matmul(const gx_host_api *api, gx_host *host);
gx_status cs_register_shape(const gx_host_api *api, gx_host *host);
gx_status cs_register_reduce(const gx_host_api *api, gx_host *host);
gx_status cs_register_nn(const gx_host_api *api, gx_host *host);
gx_status cs_register_rnn(const gx_host_api *api, gx_host *host);
gx_status cs_register_masks(const gx_host_api *api, gx_host *host);
gx_status cs_register_step(const gx_host_api *api, gx_host *host);
gx_status cs_register_optim(const gx_host_api *api, gx_host *host);

#endif /* GX_CPU_SCALAR_H */
