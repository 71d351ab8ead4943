/* (h) A good third-party plugin, built outside the engine's tree with only the SDK header: one
 * op, test_double (y = 2x), with inference, a VJP, a gradient-check example and cpu-scalar
 * kernels for f32 and f64. It proves a plugin found through GEXEC_PLUGIN_PATH loads and runs. */
#include <gexec/plugin.h>

static gx_status double_infer(gx_infer_ctx *c) {
    if (c->n_inputs != 1)
        return c->api->set_error(c->host, GX_ERR_INVALID, "test_double takes one input");
    gx_dtype dt = c->inputs[0].dtype;
    if (dt != GX_DTYPE_F32 && dt != GX_DTYPE_F64)
        return c->api->set_error(c->host, GX_ERR_DTYPE, "test_double wants f32 or f64");
    c->outputs[0] = c->inputs[0];
    return GX_OK;
}

/* dx = dy * 2, the constant a scalar that mul broadcasts */
static gx_status double_vjp(gx_builder *b, const gx_vjp_args *a) {
    gx_val dy = a->d_outputs[0];
    if (dy == GX_VAL_NONE) return GX_OK;
    gx_tensor_info info;
    gx_status st = a->api->value_info(b, dy, &info);
    if (st != GX_OK) return st;
    gx_shape scalar = {0};
    gx_val two;
    st = a->api->emit_constant(b, 2.0, info.dtype, &scalar, &two);
    if (st != GX_OK) return st;
    return gx_emit2(a->api, b, "mul", dy, two, &a->d_inputs[0]);
}

static const gx_op_example double_examples[] = {
    {.name = "matrix [2,3]", .n_inputs = 1,
     .inputs = {{.dtype = GX_DTYPE_F64, .ndim = 2, .dims = {2, 3}, .lo = -2, .hi = 2}}},
    {.name = NULL},
};

static const gx_op_desc double_op = {
    .size = sizeof(gx_op_desc), .name = "test_double", .doc = "2 * x (a third-party test op)",
    .min_inputs = 1, .max_inputs = 1, .n_outputs = 1, .infer = double_infer, .vjp = double_vjp,
    .examples = double_examples,
};

/* Each of nth workers takes one contiguous slice, so the result does not depend on nth. */
static void slice(int64_t n, int32_t ith, int32_t nth, int64_t *lo, int64_t *hi) {
    *lo = n * ith / nth;
    *hi = n * (ith + 1) / nth;
}

static gx_status double_f32(const gx_kernel_args *a) {
    const float *x = a->inputs[0].data;
    float *y = a->outputs[0].data;
    int64_t lo, hi;
    slice(gx_shape_numel(&a->outputs[0].shape), a->ith, a->nth, &lo, &hi);
    for (int64_t i = lo; i < hi; i++) y[i] = 2.0f * x[i];
    return GX_OK;
}

static gx_status double_f64(const gx_kernel_args *a) {
    const double *x = a->inputs[0].data;
    double *y = a->outputs[0].data;
    int64_t lo, hi;
    slice(gx_shape_numel(&a->outputs[0].shape), a->ith, a->nth, &lo, &hi);
    for (int64_t i = lo; i < hi; i++) y[i] = 2.0 * x[i];
    return GX_OK;
}

static const gx_kernel_desc kernels[] = {
    {.size = sizeof(gx_kernel_desc), .op = "test_double", .backend = "cpu-scalar",
     .dtype = GX_DTYPE_F32, .run = double_f32},
    {.size = sizeof(gx_kernel_desc), .op = "test_double", .backend = "cpu-scalar",
     .dtype = GX_DTYPE_F64, .run = double_f64},
};

GX_PLUGIN_ENTRY(test_double, "1.2.3") {
    gx_status st = api->register_op(host, &double_op);
    for (size_t i = 0; st == GX_OK && i < sizeof kernels / sizeof kernels[0]; i++)
        st = api->register_kernel(host, &kernels[i]);
    return st;
}
