/*
 * kernels-elementwise.c: cpu-sleef kernels of the element-wise ops: add sub mul div gt eq
 * (binary, broadcast), neg tanh sigmoid relu exp log (unary), where (ternary, broadcast) and
 * full (no input; f32 and i32).
 *
 * Broadcasting goes through csl_iter (strided.c): the output is cut into runs along the
 * coalesced innermost dim, where each input is either contiguous (stride 1) or one repeated
 * element (stride 0); each case has its own loop, which the compiler vectorises. tanh, sigmoid,
 * exp and log are SLEEF vector functions (csl_vec); neg and relu are plain loops.
 */
#include "cpu-sleef.h"

// ---- binary, broadcast --------------------------------------------------------------------------

// one run: y[i] = f(a[i * sa], b[i * sb]) for i < n, with a specialised loop per stride pattern
typedef void (*csl_binary_run)(float *y, const float *a, int64_t sa, const float *b, int64_t sb,
                               int64_t n);

#define CSL_BINARY(name, EXPR)                                                              \
    static void name##_inner(float *y, const float *a, int64_t sa, const float *b,          \
                             int64_t sb, int64_t n) {                                       \
        if (sa == 1 && sb == 1) {                                                           \
            for (int64_t i = 0; i < n; i++) {                                               \
                float x = a[i], z = b[i];                                                   \
                y[i] = (EXPR);                                                              \
            }                                                                               \
        } else if (sa == 1 && sb == 0) {                                                    \
            const float z = b[0];                                                           \
            for (int64_t i = 0; i < n; i++) {                                               \
                float x = a[i];                                                             \
                y[i] = (EXPR);                                                              \
            }                                                                               \
        } else if (sa == 0 && sb == 1) {                                                    \
            const float x = a[0];                                                           \
            for (int64_t i = 0; i < n; i++) {                                               \
                float z = b[i];                                                             \
                y[i] = (EXPR);                                                              \
            }                                                                               \
        } else {                                                                            \
            for (int64_t i = 0; i < n; i++) {                                               \
                float x = a[i * sa], z = b[i * sb];                                         \
                y[i] = (EXPR);                                                              \
            }                                                                               \
        }                                                                                   \
    }                                                                                       \
    static gx_status name##_run(const gx_kernel_args *a) {                                  \
        return csl_binary(a, name##_inner);                                                 \
    }

// a and b broadcast to y (NumPy rules)
static gx_status csl_binary(const gx_kernel_args *a, csl_binary_run run) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *x = &a->inputs[0], *z = &a->inputs[1], *y = &a->outputs[0];
    const float *px = csl_f32(x), *pz = csl_f32(z);
    float *py = csl_f32(y);
    const gx_shape *shapes[2] = {&x->shape, &z->shape};
    csl_iter it;
    csl_iter_broadcast(&it, &y->shape, shapes, 2);
    for (int64_t r = 0; r < it.runs; r++) {
        run(py + it.off[0], px + it.off[1], it.inner_stride[1], pz + it.off[2],
            it.inner_stride[2], it.inner);
        csl_iter_next(&it);
    }
    return GX_OK;
}

CSL_BINARY(add, x + z)
CSL_BINARY(sub, x - z)
CSL_BINARY(mul, x * z)
CSL_BINARY(div, x / z)
CSL_BINARY(gt, x > z ? 1.0f : 0.0f)
CSL_BINARY(eq, x == z ? 1.0f : 0.0f)

// ---- unary --------------------------------------------------------------------------------------

// x and y have the same shape
static gx_status neg_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const float *x = csl_f32(&a->inputs[0]);
    float *y = csl_f32(&a->outputs[0]);
    int64_t n = csl_numel(&a->outputs[0]);
    for (int64_t i = 0; i < n; i++) y[i] = -x[i];
    return GX_OK;
}

// x > 0 ? x : 0, as cpu-scalar (NaN gives 0)
static gx_status relu_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const float *x = csl_f32(&a->inputs[0]);
    float *y = csl_f32(&a->outputs[0]);
    int64_t n = csl_numel(&a->outputs[0]);
    for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
    return GX_OK;
}

#define CSL_VECTOR_MAP(name)                                                   \
    static gx_status name##_run(const gx_kernel_args *a) {                     \
        if (a->ith != 0) return GX_OK;                                         \
        csl_vec->name(csl_f32(&a->outputs[0]), csl_f32(&a->inputs[0]),         \
                      csl_numel(&a->outputs[0]));                              \
        return GX_OK;                                                          \
    }

CSL_VECTOR_MAP(tanh)
CSL_VECTOR_MAP(sigmoid)
CSL_VECTOR_MAP(exp)
CSL_VECTOR_MAP(log)

// ---- where, full --------------------------------------------------------------------------------

// cond (i32 or f32; non-zero is true), a and b broadcast to y; y is f32
static gx_status where_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *c = &a->inputs[0], *t = &a->inputs[1], *f = &a->inputs[2];
    const gx_tensor *y = &a->outputs[0];
    const gx_shape *shapes[3] = {&c->shape, &t->shape, &f->shape};
    csl_iter it;
    csl_iter_broadcast(&it, &y->shape, shapes, 3);
    const float *pt = csl_f32(t), *pf = csl_f32(f);
    float *py = csl_f32(y);
    int cond_i32 = c->dtype == GX_DTYPE_I32;
    for (int64_t r = 0; r < it.runs; r++) {
        int64_t sc = it.inner_stride[1], s1 = it.inner_stride[2], s2 = it.inner_stride[3];
        const float *a1 = pt + it.off[2], *a2 = pf + it.off[3];
        float *out = py + it.off[0];
        if (cond_i32) {
            const int32_t *cc = (const int32_t *)c->data + it.off[1];
            for (int64_t i = 0; i < it.inner; i++)
                out[i] = cc[i * sc] != 0 ? a1[i * s1] : a2[i * s2];
        } else {
            const float *cc = csl_f32(c) + it.off[1];
            for (int64_t i = 0; i < it.inner; i++)
                out[i] = cc[i * sc] != 0.0f ? a1[i * s1] : a2[i * s2];
        }
        csl_iter_next(&it);
    }
    return GX_OK;
}

// no inputs; y is `shape` filled with `value`. attrs: shape, value, dtype (y is already typed)
static gx_status full_f32_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    float v = (float)a->attrs[1].f, *y = csl_f32(&a->outputs[0]);
    int64_t n = csl_numel(&a->outputs[0]);
    for (int64_t i = 0; i < n; i++) y[i] = v;
    return GX_OK;
}

// i32: the value is an exact integer (checked by infer); converted as cpu-scalar does
static gx_status full_i32_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    int32_t v = (int32_t)a->attrs[1].f, *y = (int32_t *)a->outputs[0].data;
    int64_t n = csl_numel(&a->outputs[0]);
    for (int64_t i = 0; i < n; i++) y[i] = v;
    return GX_OK;
}

static const gx_kernel_desc csl_elementwise_kernels[] = {
    CSL_F32("add", add_run),
    CSL_F32("sub", sub_run),
    CSL_F32("mul", mul_run),
    CSL_F32("div", div_run),
    CSL_F32("gt", gt_run),
    CSL_F32("eq", eq_run),
    CSL_F32("neg", neg_run),
    CSL_F32("tanh", tanh_run),
    CSL_F32("sigmoid", sigmoid_run),
    CSL_F32("relu", relu_run),
    CSL_F32("exp", exp_run),
    CSL_F32("log", log_run),
    CSL_F32("where", where_run),
    CSL_F32("full", full_f32_run),
    CSL_KERNEL("full", full_i32_run, GX_DTYPE_I32),
};

gx_status csl_register_elementwise(const gx_host_api *api, gx_host *host) {
    return gx_register_kernels(api, host, csl_elementwise_kernels,
                               GX_COUNT(csl_elementwise_kernels));
}
