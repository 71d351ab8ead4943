/* A third-party plugin whose ops bring only decompositions (gx_op_desc.decompose), no kernels
 * and no VJPs, for test-loader:
 *   test_swish(x)         x * sigmoid(x), naming sigmoid(x) as the probe "swish.gate"
 *   test_decomp_shape(x)  infer says "same as x" but the decomposition gives sum(x): refused
 *   test_decomp_self(x)   decomposes into itself: the nesting bound stops it
 * It lives in its own directory, away from the refused plugins of bad/. */
#include <gexec/plugin.h>

static gx_status same_infer(gx_infer_ctx *c) {
    gx_dtype dt = c->inputs[0].dtype;
    if (dt != GX_DTYPE_F32 && dt != GX_DTYPE_F64)
        return c->api->set_error(c->host, GX_ERR_DTYPE, "wants f32 or f64");
    c->outputs[0] = c->inputs[0];
    return GX_OK;
}

static gx_status swish_decompose(gx_builder *b, const gx_decompose_args *a) {
    gx_val s;
    gx_status st = gx_emit1(a->api, b, "sigmoid", a->inputs[0], &s);
    if (st != GX_OK) return st;
    a->probe_values[0] = s;
    a->probe_kinds[0] = GX_PROBE_SIGMOID;
    return gx_emit2(a->api, b, "mul", a->inputs[0], s, &a->outputs[0]);
}

static gx_status shape_decompose(gx_builder *b, const gx_decompose_args *a) {
    return gx_emit1(a->api, b, "sum", a->inputs[0], &a->outputs[0]);
}

static gx_status self_decompose(gx_builder *b, const gx_decompose_args *a) {
    return gx_emit1(a->api, b, "test_decomp_self", a->inputs[0], &a->outputs[0]);
}

static const gx_op_example examples[] = {
    {.name = "matrix [2,3]", .n_inputs = 1,
     .inputs = {{.dtype = GX_DTYPE_F64, .ndim = 2, .dims = {2, 3}, .lo = -2, .hi = 2}}},
    {.name = NULL},
};

static const char *const swish_probes[] = {"swish.gate", NULL};

static const gx_op_desc ops[] = {
    {.size = sizeof(gx_op_desc), .name = "test_swish", .doc = "x * sigmoid(x), by decomposition",
     .min_inputs = 1, .max_inputs = 1, .n_outputs = 1, .infer = same_infer,
     .examples = examples, .probes = swish_probes, .decompose = swish_decompose},
    {.size = sizeof(gx_op_desc), .name = "test_decomp_shape", .doc = "a wrong decomposition",
     .min_inputs = 1, .max_inputs = 1, .n_outputs = 1, .infer = same_infer,
     .grad_exempt = "a broken op for the tests", .decompose = shape_decompose},
    {.size = sizeof(gx_op_desc), .name = "test_decomp_self", .doc = "decomposes into itself",
     .min_inputs = 1, .max_inputs = 1, .n_outputs = 1, .infer = same_infer,
     .grad_exempt = "a broken op for the tests", .decompose = self_decompose},
};

GX_PLUGIN_ENTRY(test_decompose, "1.0.0") {
    gx_status st = GX_OK;
    for (size_t i = 0; st == GX_OK && i < sizeof ops / sizeof ops[0]; i++)
        st = api->register_op(host, &ops[i]);
    return st;
}
