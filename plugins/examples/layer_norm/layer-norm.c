/*
 * layer-norm.c: layer_norm(x, gamma, beta, eps = 1e-5), an op that brings no kernel and no VJP,
 * only a decomposition into core ops (gx_op_desc.decompose). The engine expands each call into
 * those ops, so the op runs on every backend that runs them (cpu-scalar, cpu-sleef, Vulkan) and
 * autodiff differentiates the expansion.
 *
 * Over the last axis of x [..., D], with gamma and beta [D] (torch.nn.LayerNorm(D)):
 *   mu  = mean(x, axes = [-1], keepdims = 1)
 *   d   = x - mu
 *   var = mean(d * d, axes = [-1], keepdims = 1)           biased, as PyTorch's
 *   y   = d * exp(-0.5 * log(var + eps)) * gamma + beta     1 / sqrt(var + eps): no core sqrt
 */
#include <gexec/plugin-helpers.h>

enum { LN_X, LN_GAMMA, LN_BETA, LN_N_INPUTS };
enum { LN_EPS };   /* attribute indices, in the order of ln_attrs */

static const gx_attr_desc ln_attrs[] = {
    {.name = "eps", .type = GX_ATTR_FLOAT, .dflt = {.type = GX_ATTR_FLOAT, .f = 1e-5},
     .doc = "added to the variance before the inverse square root; > 0"},
    {.name = NULL},
};

static gx_status ln_infer(gx_infer_ctx *c) {
    const gx_tensor_info *x = &c->inputs[LN_X];
    if (x->dtype != GX_DTYPE_F32 && x->dtype != GX_DTYPE_F64)
        return gx_infer_fail(c, GX_ERR_DTYPE, "layer_norm", "x must be f32 or f64, got %s",
                             gx_dtype_name(x->dtype));
    if (x->shape.ndim < 1)
        return gx_infer_fail(c, GX_ERR_SHAPE, "layer_norm", "x must have at least one axis, got "
                             "a scalar");
    int64_t D = x->shape.dims[x->shape.ndim - 1];
    static const char *const names[LN_N_INPUTS] = {"x", "gamma", "beta"};
    for (int32_t k = LN_GAMMA; k <= LN_BETA; k++) {
        const gx_tensor_info *t = &c->inputs[k];
        if (t->dtype != x->dtype)
            return gx_infer_fail(c, GX_ERR_DTYPE, "layer_norm", "%s must be %s like x, got %s",
                                 names[k], gx_dtype_name(x->dtype), gx_dtype_name(t->dtype));
        if (t->shape.ndim != 1 || t->shape.dims[0] != D)
            return gx_infer_fail(c, GX_ERR_SHAPE, "layer_norm", "%s must be [%lld] (the last "
                                 "axis of x %s), got %s", names[k], (long long)D,
                                 GX_SHAPE(&x->shape), GX_SHAPE(&t->shape));
    }
    if (!(c->attrs[LN_EPS].f > 0.0))
        return gx_infer_fail(c, GX_ERR_INVALID, "layer_norm", "eps must be > 0, got %g",
                             c->attrs[LN_EPS].f);
    c->outputs[0] = *x;
    c->n_outputs = 1;
    return GX_OK;
}

/* mean over the last axis, kept as an axis of 1 so that it broadcasts back against x */
static gx_status ln_mean_last(const gx_decompose_args *a, gx_builder *b, gx_val v, gx_val *out) {
    gx_attr_kv kv[2] = {
        {.name = "axes", .value = {.type = GX_ATTR_INTS, .n_ints = 1, .ints = {-1}}},
        {.name = "keepdims", .value = {.type = GX_ATTR_INT, .i = 1}}};
    return a->api->emit(b, "mean", &v, 1, kv, 2, out, 1);
}

/* v op scalar, the scalar a constant of v's dtype that the op broadcasts */
static gx_status ln_scalar(const gx_decompose_args *a, gx_builder *b, const char *op, gx_val v,
                           double s, gx_val *out) {
    gx_tensor_info info;
    GX_TRY(a->api->value_info(b, v, &info));
    gx_shape scalar = {.ndim = 0};
    gx_val k;
    GX_TRY(a->api->emit_constant(b, s, info.dtype, &scalar, &k));
    return gx_emit2(a->api, b, op, v, k, out);
}

static gx_status ln_decompose(gx_builder *b, const gx_decompose_args *a) {
    if (a->n_inputs != LN_N_INPUTS || a->n_outputs != 1)
        return a->api->set_error(a->host, GX_ERR_INVALID, "layer_norm: decomposition: "
                                 "unexpected node (%d inputs, %d outputs)", (int)a->n_inputs,
                                 (int)a->n_outputs);
    const gx_host_api *api = a->api;
    gx_val mu, d, sq, var, t, y;
    GX_TRY(ln_mean_last(a, b, a->inputs[LN_X], &mu));
    GX_TRY(gx_emit2(api, b, "sub", a->inputs[LN_X], mu, &d));
    GX_TRY(gx_emit2(api, b, "mul", d, d, &sq));
    GX_TRY(ln_mean_last(a, b, sq, &var));
    /* 1 / sqrt(var + eps) as exp(-0.5 log(var + eps)): var + eps > 0, so the log is finite */
    GX_TRY(ln_scalar(a, b, "add", var, a->attrs[LN_EPS].f, &t));
    GX_TRY(gx_emit1(api, b, "log", t, &t));
    GX_TRY(ln_scalar(a, b, "mul", t, -0.5, &t));
    GX_TRY(gx_emit1(api, b, "exp", t, &t));
    GX_TRY(gx_emit2(api, b, "mul", d, t, &y));
    GX_TRY(gx_emit2(api, b, "mul", y, a->inputs[LN_GAMMA], &y));
    GX_TRY(gx_emit2(api, b, "add", y, a->inputs[LN_BETA], &a->outputs[0]));
    return GX_OK;
}

// ---- gradient-check examples -----------------------------------------------------------------

/* x's values in [-2, 2]: rows of 3 to 6 of them have a variance far above eps, so the
 * check measures the normalisation, not eps */
#define LN_F64(...)                                                                       \
    {.dtype = GX_DTYPE_F64, .ndim = (int32_t)(sizeof((int64_t[]){__VA_ARGS__}) /          \
                                              sizeof(int64_t)),                          \
     .dims = {__VA_ARGS__}, .lo = -2.0, .hi = 2.0}

static const gx_op_example ln_examples[] = {
    {.name = "x [2, 5]", .n_inputs = 3, .inputs = {LN_F64(2, 5), LN_F64(5), LN_F64(5)}},
    {.name = "x [3, 2, 4], eps 0.1", .n_inputs = 3,
     .inputs = {LN_F64(3, 2, 4), LN_F64(4), LN_F64(4)}, .n_attrs = 1,
     .attrs = {{.name = "eps", .value = {.type = GX_ATTR_FLOAT, .f = 0.1}}}},
    {.name = "x [6]", .n_inputs = 3, .inputs = {LN_F64(6), LN_F64(6), LN_F64(6)}},
    {.name = NULL},
};

// ---- the table and the entry point -----------------------------------------------------------

/* No vjp and no kernels: the decomposition is all the engine needs. */
static const gx_op_desc ln_op = {
    .size = sizeof(gx_op_desc), .name = "layer_norm",
    .doc = "layer normalisation over the last axis (torch.nn.LayerNorm): (x, gamma, beta; eps) "
           "-> y, expanded into core ops",
    .min_inputs = LN_N_INPUTS, .max_inputs = LN_N_INPUTS, .n_outputs = 1, .attrs = ln_attrs,
    .infer = ln_infer, .examples = ln_examples, .decompose = ln_decompose,
};

GX_PLUGIN_ENTRY(layer_norm, "0.1.0") {
    return api->register_op(host, &ln_op);
}
