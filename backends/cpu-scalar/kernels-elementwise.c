/*
 * kernels-elementwise.c: cpu-scalar kernels of the element-wise ops: add sub mul div gt eq (binary,
 * broadcast), neg tanh sigmoid relu exp log (unary), where (ternary, broadcast) and full (no input).
 *
 * Every value goes through double. Binary and ternary ops map each output element back to its
 * inputs with cs_broadcast_index; there is no same-shape fast path, on purpose.
 */
#include <math.h>

#include "cpu-scalar.h"

// ---- binary, broadcast ---------------------------------------------------------------------------

typedef double (*cs_binary_fn)(double x, double z);

static double cs_add(double x, double z) { return x + z; }
static double cs_sub(double x, double z) { return x - z; }
static double cs_mul(double x, double z) { return x * z; }
static double cs_div(double x, double z) { return x / z; }
static double cs_gt(double x, double z)  { return x > z ? 1.0 : 0.0; }
static double cs_eq(double x, double z)  { return x == z ? 1.0 : 0.0; }

// a and b broadcast to y (NumPy rules): y[i] = f(a[ia(i)], b[ib(i)])
static gx_status cs_binary(const gx_kernel_args *a, cs_binary_fn f) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *x = &a->inputs[0], *z = &a->inputs[1], *y = &a->outputs[0];
    int64_t n = cs_numel(y);
    for (int64_t i = 0; i < n; i++) {
        double xv = cs_load(x, cs_broadcast_index(&x->shape, &y->shape, i));
        double zv = cs_load(z, cs_broadcast_index(&z->shape, &y->shape, i));
        cs_store(y, i, f(xv, zv));
    }
    return GX_OK;
}

static gx_status add_run(const gx_kernel_args *a) { return cs_binary(a, cs_add); }
static gx_status sub_run(const gx_kernel_args *a) { return cs_binary(a, cs_sub); }
static gx_status mul_run(const gx_kernel_args *a) { return cs_binary(a, cs_mul); }
static gx_status div_run(const gx_kernel_args *a) { return cs_binary(a, cs_div); }
static gx_status gt_run(const gx_kernel_args *a)  { return cs_binary(a, cs_gt); }
static gx_status eq_run(const gx_kernel_args *a)  { return cs_binary(a, cs_eq); }

// ---- unary ---------------------------------------------------------------------------------------

typedef double (*cs_unary_fn)(double x);

static double cs_neg(double x) { return -x; }
static double cs_tanh(double x) { return tanh(x); }
static double cs_exp(double x) { return exp(x); }
static double cs_log(double x) { return log(x); }
static double cs_relu(double x) { return x > 0.0 ? x : 0.0; }

// Two branches so exp never overflows: for very negative x, 1 / (1 + exp(-x)) goes through
// exp(+large) = inf (the limit 0 is still right, but it raises FE_OVERFLOW); exp(x) / (1 + exp(x))
// is the same function with no intermediate inf.
static double cs_sigmoid(double x) {
    if (x >= 0.0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

// x and y have the same shape: y[i] = f(x[i])
static gx_status cs_unary(const gx_kernel_args *a, cs_unary_fn f) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *x = &a->inputs[0], *y = &a->outputs[0];
    int64_t n = cs_numel(y);
    for (int64_t i = 0; i < n; i++) cs_store(y, i, f(cs_load(x, i)));
    return GX_OK;
}

static gx_status neg_run(const gx_kernel_args *a)     { return cs_unary(a, cs_neg); }
static gx_status tanh_run(const gx_kernel_args *a)    { return cs_unary(a, cs_tanh); }
static gx_status sigmoid_run(const gx_kernel_args *a) { return cs_unary(a, cs_sigmoid); }
static gx_status relu_run(const gx_kernel_args *a)    { return cs_unary(a, cs_relu); }
static gx_status exp_run(const gx_kernel_args *a)     { return cs_unary(a, cs_exp); }
static gx_status log_run(const gx_kernel_args *a)     { return cs_unary(a, cs_log); }

// ---- where, full ---------------------------------------------------------------------------------

// cond (i32 or float; non-zero is true), a and b broadcast to y; y has a's dtype
static gx_status where_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *c = &a->inputs[0], *t = &a->inputs[1], *f = &a->inputs[2];
    const gx_tensor *y = &a->outputs[0];
    int64_t n = cs_numel(y);
    for (int64_t i = 0; i < n; i++) {
        int take_t = cs_load(c, cs_broadcast_index(&c->shape, &y->shape, i)) != 0.0;
        const gx_tensor *src = take_t ? t : f;
        cs_store(y, i, cs_load(src, cs_broadcast_index(&src->shape, &y->shape, i)));
    }
    return GX_OK;
}

// no inputs; y is `shape` filled with `value`. attrs: shape, value, dtype (y is already typed)
static gx_status full_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *y = &a->outputs[0];
    double value = a->attrs[1].f;
    int64_t n = cs_numel(y);
    for (int64_t i = 0; i < n; i++) cs_store(y, i, value);
    return GX_OK;
}

static const gx_kernel_desc cs_elementwise_kernels[] = {
    CS_KERNELS_FLOAT("add", add_run),
    CS_KERNELS_FLOAT("sub", sub_run),
    CS_KERNELS_FLOAT("mul", mul_run),
    CS_KERNELS_FLOAT("div", div_run),
    CS_KERNELS_FLOAT("gt", gt_run),
    CS_KERNELS_FLOAT("eq", eq_run),
    CS_KERNELS_FLOAT("neg", neg_run),
    CS_KERNELS_FLOAT("tanh", tanh_run),
    CS_KERNELS_FLOAT("sigmoid", sigmoid_run),
    CS_KERNELS_FLOAT("relu", relu_run),
    CS_KERNELS_FLOAT("exp", exp_run),
    CS_KERNELS_FLOAT("log", log_run),
    CS_KERNELS_FLOAT("where", where_run),
    CS_KERNELS_FLOAT("full", full_run),
    // full(dtype = i32) is the one element-wise op that can output i32
    CS_KERNEL("full", full_run, GX_DTYPE_I32),
};

gx_status cs_register_elementwise(const gx_host_api *api, gx_host *host) {
    return gx_register_kernels(api, host, cs_elementwise_kernels,
                             sizeof cs_elementwise_kernels / sizeof cs_elementwise_kernels[0]);
}
