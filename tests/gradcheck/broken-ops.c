/*
 * broken-ops.c: a third-party plugin whose ops each break one thing `gexec check-op` checks,
 * so test-cli can see every check fail on what it is there to catch (and nothing crash):
 *   broken_vjp(x)      y = 2x, but the VJP says dx = dy                  -> grad fails
 *   broken_f32(x)      y = 2x, the f32 kernel adds 0.01                  -> f32 fails
 *   broken_sleef(x)    y = 2x, cpu-sleef's kernel adds 0.01              -> backend fails
 *   broken_cell(x, h)  h' = x + h, plus a counter the kernel keeps across calls, so no two
 *                      runs agree                                        -> loop fails
 *   broken_infer(x)    infer refuses even the op's own example           -> reported, no crash
 * Built into its own directory (never the built-in one) and never installed.
 */
#include <gexec/plugin.h>

static gx_status same_infer(gx_infer_ctx *c) {
    c->outputs[0] = c->inputs[0];
    return GX_OK;
}

static gx_status refuse_infer(gx_infer_ctx *c) {
    return c->api->set_error(c->host, GX_ERR_SHAPE, "broken_infer refuses every shape");
}

/* dx = dy for every input: wrong for y = 2x, right for x + h */
static gx_status pass_vjp(gx_builder *b, const gx_vjp_args *a) {
    (void)b;
    for (int32_t i = 0; i < a->n_inputs; i++) a->d_inputs[i] = a->d_outputs[0];
    return GX_OK;
}

/* dx = 2 dy */
static gx_status twice_vjp(gx_builder *b, const gx_vjp_args *a) {
    return gx_emit2(a->api, b, "add", a->d_outputs[0], a->d_outputs[0], &a->d_inputs[0]);
}

static int64_t numel(const gx_kernel_args *a) { return gx_shape_numel(&a->outputs[0].shape); }

static gx_status twice_f64(const gx_kernel_args *a) {
    const double *x = a->inputs[0].data;
    double *y = a->outputs[0].data;
    for (int64_t i = a->ith; i < numel(a); i += a->nth) y[i] = 2 * x[i];
    return GX_OK;
}

static gx_status twice_f32(const gx_kernel_args *a) {
    const float *x = a->inputs[0].data;
    float *y = a->outputs[0].data;
    for (int64_t i = a->ith; i < numel(a); i += a->nth) y[i] = 2 * x[i];
    return GX_OK;
}

static gx_status twice_f32_off(const gx_kernel_args *a) {
    const float *x = a->inputs[0].data;
    float *y = a->outputs[0].data;
    for (int64_t i = a->ith; i < numel(a); i += a->nth) y[i] = 2 * x[i] + 0.01f;
    return GX_OK;
}

static int calls;   /* the bug: state that outlives a call */

static gx_status cell_f64(const gx_kernel_args *a) {
    const double *x = a->inputs[0].data, *h = a->inputs[1].data;
    double *y = a->outputs[0].data;
    if (a->ith == 0) calls++;
    for (int64_t i = a->ith; i < numel(a); i += a->nth) y[i] = x[i] + h[i] + 1e-6 * calls;
    return GX_OK;
}

#define F64_IN(...) {.dtype = GX_DTYPE_F64, .ndim = 2, .dims = {__VA_ARGS__}, .lo = -1, .hi = 1}

static const gx_op_example one_input[] = {
    {.name = "[2,3]", .n_inputs = 1, .inputs = {F64_IN(2, 3)}},
    {.name = NULL},
};

static const gx_op_example cell_inputs[] = {
    {.name = "B=2 H=3", .n_inputs = 2, .inputs = {F64_IN(2, 3), F64_IN(2, 3)}},
    {.name = NULL},
};

static const gx_op_desc ops[] = {
    {.size = sizeof(gx_op_desc), .name = "broken_vjp", .doc = "y = 2x with a wrong VJP",
     .min_inputs = 1, .max_inputs = 1, .n_outputs = 1, .infer = same_infer, .vjp = pass_vjp,
     .examples = one_input},
    {.size = sizeof(gx_op_desc), .name = "broken_f32", .doc = "y = 2x, off in f32",
     .min_inputs = 1, .max_inputs = 1, .n_outputs = 1, .infer = same_infer, .vjp = twice_vjp,
     .examples = one_input},
    {.size = sizeof(gx_op_desc), .name = "broken_sleef", .doc = "y = 2x, off on cpu-sleef",
     .min_inputs = 1, .max_inputs = 1, .n_outputs = 1, .infer = same_infer, .vjp = twice_vjp,
     .examples = one_input},
    {.size = sizeof(gx_op_desc), .name = "broken_cell", .doc = "h' = x + h with a stateful kernel",
     .min_inputs = 2, .max_inputs = 2, .n_outputs = 1, .infer = same_infer, .vjp = pass_vjp,
     .examples = cell_inputs, .recurrent_inputs = 1u << 1},
    {.size = sizeof(gx_op_desc), .name = "broken_infer", .doc = "refuses every shape",
     .min_inputs = 1, .max_inputs = 1, .n_outputs = 1, .infer = refuse_infer, .vjp = pass_vjp,
     .examples = one_input},
};

#define KERNEL(op_, backend_, dtype_, run_) \
    {.size = sizeof(gx_kernel_desc), .op = op_, .backend = backend_, .dtype = dtype_, .run = run_}

static const gx_kernel_desc kernels[] = {
    KERNEL("broken_vjp", "cpu-scalar", GX_DTYPE_F64, twice_f64),
    KERNEL("broken_vjp", "cpu-scalar", GX_DTYPE_F32, twice_f32),
    KERNEL("broken_f32", "cpu-scalar", GX_DTYPE_F64, twice_f64),
    KERNEL("broken_f32", "cpu-scalar", GX_DTYPE_F32, twice_f32_off),
    KERNEL("broken_sleef", "cpu-scalar", GX_DTYPE_F64, twice_f64),
    KERNEL("broken_sleef", "cpu-scalar", GX_DTYPE_F32, twice_f32),
    KERNEL("broken_sleef", "cpu-sleef", GX_DTYPE_F32, twice_f32_off),
    KERNEL("broken_cell", "cpu-scalar", GX_DTYPE_F64, cell_f64),
};

GX_PLUGIN_ENTRY(test_broken, "1.0.0") {
    gx_status st = GX_OK;
    for (size_t i = 0; st == GX_OK && i < sizeof ops / sizeof ops[0]; i++)
        st = api->register_op(host, &ops[i]);
    for (size_t i = 0; st == GX_OK && i < sizeof kernels / sizeof kernels[0]; i++)
        st = api->register_kernel(host, &kernels[i]);
    return st;
}
