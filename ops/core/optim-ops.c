/*
 * optim-ops.c: the ops of a training step that runs wholly on the device: `sumsq` (the sum of
 * squares a global gradient norm is made of) and `optim_step` (one parameter's optimizer update,
 * gexec/optim-step.h). The trainer appends them to the training graph on backends whose memory
 * is not the host's; on the CPU backends it updates on the host and never plans them.
 */
#include <gexec/optim-step.h>

#include "core.h"

static gx_status sumsq_infer(gx_infer_ctx *c) {
    if (c->inputs[0].dtype == GX_DTYPE_I32)
        return gx_infer_fail(c, GX_ERR_DTYPE, "sumsq", "x must be a float tensor");
    c->outputs[0].dtype = c->inputs[0].dtype;
    c->outputs[0].shape.ndim = 0;
    return GX_OK;
}

/* d(sum x^2)/dx = 2 x dy */
static gx_status sumsq_vjp(gx_builder *b, const gx_vjp_args *a) {
    if (a->d_outputs[0] == GX_VAL_NONE) return GX_OK;
    gx_tensor_info x;
    gx_val two, s;
    GX_TRY(a->api->value_info(b, a->inputs[0], &x));
    GX_TRY(core_scalar(b, a, 2.0, x.dtype, &two));
    GX_TRY(gx_emit2(a->api, b, "mul", a->d_outputs[0], two, &s));
    return gx_emit2(a->api, b, "mul", a->inputs[0], s, &a->d_inputs[0]);
}

static int same_shape(const gx_shape *x, const gx_shape *y) {
    if (x->ndim != y->ndim) return 0;
    for (int32_t i = 0; i < x->ndim; i++)
        if (x->dims[i] != y->dims[i]) return 0;
    return 1;
}

static gx_status optim_step_infer(gx_infer_ctx *c) {
    const gx_tensor_info *in = c->inputs;
    static const char *const names[] = {"p", "g", "s1", "s2"};
    if (in[0].dtype == GX_DTYPE_I32)
        return gx_infer_fail(c, GX_ERR_DTYPE, "optim_step", "p must be a float tensor");
    for (int i = 1; i < 4; i++)
        if (in[i].dtype != in[0].dtype || !same_shape(&in[i].shape, &in[0].shape))
            return gx_infer_fail(c, GX_ERR_SHAPE, "optim_step", "%s must match p (%s %s), got %s %s",
                                 names[i], gx_dtype_name(in[0].dtype), GX_SHAPE(&in[0].shape),
                                 gx_dtype_name(in[i].dtype), GX_SHAPE(&in[i].shape));
    if (in[4].dtype != in[0].dtype || in[4].shape.ndim != 1 || in[4].shape.dims[0] != GX_OPTIM_HYPER_N)
        return gx_infer_fail(c, GX_ERR_SHAPE, "optim_step", "hyper must be %s[%d], got %s %s",
                             gx_dtype_name(in[0].dtype), GX_OPTIM_HYPER_N,
                             gx_dtype_name(in[4].dtype), GX_SHAPE(&in[4].shape));
    if (in[5].dtype != in[0].dtype || in[5].shape.ndim != 0)
        return gx_infer_fail(c, GX_ERR_SHAPE, "optim_step", "gsq must be a %s scalar, got %s",
                             gx_dtype_name(in[0].dtype), GX_SHAPE(&in[5].shape));
    int64_t kind = c->attrs[0].i;
    if (kind < GX_OPTIM_SGD || kind > GX_OPTIM_RMSPROP)
        return gx_infer_fail(c, GX_ERR_INVALID, "optim_step", "kind must be 0 (sgd), 1 (adam), "
                             "2 (adamw) or 3 (rmsprop), got %lld", (long long)kind);
    for (int j = 0; j < 3; j++) c->outputs[j] = in[j == 0 ? 0 : j + 1];
    return GX_OK;
}

static const gx_attr_desc optim_step_attrs[] = {
    CORE_ATTR_REQUIRED("kind", GX_ATTR_INT, "0 sgd, 1 adam, 2 adamw, 3 rmsprop"),
    CORE_ATTR_INT("nesterov", 0, "SGD: 1 for Nesterov momentum"),
    CORE_ATTR_END,
};

/* Hyperparameters drawn in [0.05, 0.95] keep every path live: clipping on (the gradients'
 * norm is above the bound), momentum, decay, bias correction. */
#define OPTIM_EX(name_, kind_, nesterov_)                                                      \
    {.name = name_, .n_inputs = 6,                                                             \
     .inputs = {CORE_EX_F64(-1, 1, 3, 5), CORE_EX_F64(-1, 1, 3, 5), CORE_EX_F64(0.1, 1, 3, 5), \
                CORE_EX_F64(0.1, 1, 3, 5), CORE_EX_F64(0.05, 0.95, GX_OPTIM_HYPER_N),          \
                CORE_EX_F64_SCALAR(1, 4)},                                                     \
     .n_attrs = 2, .attrs = {CORE_KV_INT("kind", kind_), CORE_KV_INT("nesterov", nesterov_)}}

static const gx_op_example optim_step_examples[] = {
    OPTIM_EX("sgd", GX_OPTIM_SGD, 0),
    OPTIM_EX("sgd nesterov", GX_OPTIM_SGD, 1),
    OPTIM_EX("adam", GX_OPTIM_ADAM, 0),
    OPTIM_EX("adamw", GX_OPTIM_ADAMW, 0),
    OPTIM_EX("rmsprop", GX_OPTIM_RMSPROP, 0),
    {.name = NULL},
};

static const gx_op_example sumsq_examples[] = {
    {.name = "[3,4]", .n_inputs = 1, .inputs = {CORE_EX_F64(-2, 2, 3, 4)}},
    {.name = NULL},
};

static const gx_op_desc optim_ops[] = {
    {.size = sizeof(gx_op_desc), .name = "sumsq", .doc = "sum of squares of every element",
     .min_inputs = 1, .max_inputs = 1, .n_outputs = 1, .infer = sumsq_infer, .vjp = sumsq_vjp,
     .examples = sumsq_examples},
    {.size = sizeof(gx_op_desc), .name = "optim_step",
     .doc = "one optimizer update of a param on the device (gexec/optim-step.h)",
     .min_inputs = 6, .max_inputs = 6, .n_outputs = 3, .attrs = optim_step_attrs,
     .nodiff_inputs = 0x3f, .infer = optim_step_infer, .examples = optim_step_examples,
     .grad_exempt = "an optimizer update, applied after the gradients: nothing differentiates it"},
};

gx_status gx_core_register_optim(const gx_host_api *api, gx_host *host) {
    return gx_register_ops(api, host, optim_ops, GX_COUNT(optim_ops));
}
