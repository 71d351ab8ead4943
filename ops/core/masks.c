/*
 * masks.c: schemas of the ops that make or apply masks: dropout (random, training only),
 * sequence_mask (per-sequence lengths to a [B, T] padding mask), argmax (the index of the
 * largest value, for accuracy metrics and greedy decoding) and cast (dtype conversion, e.g. an
 * i32 comparison into a float mask).
 *
 * dropout is GX_OP_RANDOM: its mask is a pure function of (the run's random key, the call
 * site's key, the element index), so its VJP redraws the very same mask instead of saving it:
 * the gradient of dropout is dropout of the gradient with the same key.
 */
#include "core.h"

// ---- dropout ------------------------------------------------------------------------------

enum { DROPOUT_P, DROPOUT_KEY };

static gx_status dropout_infer(gx_infer_ctx *c) {
    const char *op = "dropout";
    GX_TRY(core_check_inputs(c, op, 2, 2));
    GX_TRY(core_check_float(c, op, 0, "x"));
    GX_TRY(core_check_attr(c, op, DROPOUT_P, "p", GX_ATTR_FLOAT));
    GX_TRY(core_check_attr(c, op, DROPOUT_KEY, "key", GX_ATTR_INT));
    double p = c->attrs[DROPOUT_P].f;
    if (!(p >= 0.0 && p < 1.0))
        return gx_infer_fail(c, GX_ERR_INVALID, op, "p (the drop probability) must be in [0, 1), "
                             "got %g", p);
    const gx_tensor_info *rng = &c->inputs[1];
    if (rng->dtype != GX_DTYPE_I32 || rng->shape.ndim != 1 || rng->shape.dims[0] != 2)
        return gx_infer_fail(c, GX_ERR_SHAPE, op, "the random key must be i32[2] (seed, step), "
                             "got %s%s", gx_dtype_name(rng->dtype), GX_SHAPE(&rng->shape));
    c->outputs[0] = c->inputs[0];
    return GX_OK;
}

static gx_status dropout_vjp(gx_builder *b, const gx_vjp_args *a) {
    if (a->d_outputs[0] == GX_VAL_NONE) return GX_OK;
    gx_val in[2] = {a->d_outputs[0], a->inputs[1]};
    gx_attr_kv kv[2] = {{.name = "p", .value = {.type = GX_ATTR_FLOAT, .f = a->attrs[DROPOUT_P].f}},
                        core_kv_int("key", a->attrs[DROPOUT_KEY].i)};
    return a->api->emit(b, "dropout", in, 2, kv, 2, &a->d_inputs[0], 1);
}

static const gx_attr_desc dropout_attrs[] = {
    {.name = "p", .type = GX_ATTR_FLOAT, .dflt = {.type = GX_ATTR_FLOAT, .f = 0.5},
     .doc = "probability of zeroing an element; kept elements are scaled by 1 / (1 - p)"},
    CORE_ATTR_INT("key", 0, "set by the engine: which call site this is"),
    CORE_ATTR_END,
};

/* For a fixed key the op is linear in x, so the gradient check applies as for any op. */
static const gx_op_example dropout_examples[] = {
    {.name = "[4,6], p = 0.5", .n_inputs = 2,
     .inputs = {CORE_EX_F64(-2, 2, 4, 6), CORE_EX_I32(0, 1000, 2)}},
    {.name = "[3,2,5], p = 0.2, key 7", .n_inputs = 2,
     .inputs = {CORE_EX_F64(-2, 2, 3, 2, 5), CORE_EX_I32(0, 1000, 2)},
     .n_attrs = 2, .attrs = {CORE_KV_FLOAT("p", 0.2), CORE_KV_INT("key", 7)}},
    {.name = NULL},
};

// ---- sequence_mask ------------------------------------------------------------------------

enum { SEQMASK_T, SEQMASK_DTYPE };

static gx_status sequence_mask_infer(gx_infer_ctx *c) {
    const char *op = "sequence_mask";
    GX_TRY(core_check_inputs(c, op, 1, 1));
    GX_TRY(core_check_attr(c, op, SEQMASK_T, "T", GX_ATTR_INT));
    GX_TRY(core_check_attr(c, op, SEQMASK_DTYPE, "dtype", GX_ATTR_DTYPE));
    const gx_tensor_info *len = &c->inputs[0];
    if (len->dtype != GX_DTYPE_I32)
        return gx_infer_fail(c, GX_ERR_DTYPE, op, "lengths must be i32, got %s",
                             gx_dtype_name(len->dtype));
    if (len->shape.ndim >= GX_MAX_DIMS)
        return gx_infer_fail(c, GX_ERR_SHAPE, op, "lengths %s has too many dims",
                             GX_SHAPE(&len->shape));
    int64_t T = c->attrs[SEQMASK_T].i;
    if (T < 0) return gx_infer_fail(c, GX_ERR_INVALID, op, "T must be >= 0, got %lld", (long long)T);
    gx_dtype dt = (gx_dtype)c->attrs[SEQMASK_DTYPE].i;
    if (!core_dtype_float(dt))
        return gx_infer_fail(c, GX_ERR_DTYPE, op, "dtype must be f32 or f64, got %s",
                             gx_dtype_name(dt));
    gx_tensor_info out = {.dtype = dt, .shape = len->shape};
    out.shape.dims[out.shape.ndim++] = T;
    c->outputs[0] = out;
    return GX_OK;
}

static const gx_attr_desc sequence_mask_attrs[] = {
    CORE_ATTR_REQUIRED("T", GX_ATTR_INT, "length of the time axis of the mask"),
    {.name = "dtype", .type = GX_ATTR_DTYPE, .dflt = {.type = GX_ATTR_DTYPE, .i = GX_DTYPE_F32},
     .doc = "dtype of the mask (f32 or f64)"},
    CORE_ATTR_END,
};

static const gx_op_example sequence_mask_examples[] = {
    {.name = "lengths [4], T = 6", .n_inputs = 1, .inputs = {CORE_EX_I32(0, 6, 4)},
     .n_attrs = 1, .attrs = {CORE_KV_INT("T", 6)}},
    {.name = NULL},
};

// ---- argmax -------------------------------------------------------------------------------

enum { ARGMAX_AXIS };

static gx_status argmax_infer(gx_infer_ctx *c) {
    const char *op = "argmax";
    GX_TRY(core_check_inputs(c, op, 1, 1));
    GX_TRY(core_check_float(c, op, 0, "x"));
    GX_TRY(core_check_attr(c, op, ARGMAX_AXIS, "axis", GX_ATTR_INT));
    const gx_shape *s = &c->inputs[0].shape;
    int32_t axis = 0;
    GX_TRY(core_infer_axis(c, op, "axis", c->attrs[ARGMAX_AXIS].i, s, &axis));
    if (s->dims[axis] == 0)
        return gx_infer_fail(c, GX_ERR_SHAPE, op, "axis %d of %s is empty", (int)axis, GX_SHAPE(s));
    gx_tensor_info out = {.dtype = GX_DTYPE_I32};
    for (int32_t d = 0; d < s->ndim; d++)
        if (d != axis) out.shape.dims[out.shape.ndim++] = s->dims[d];
    c->outputs[0] = out;
    return GX_OK;
}

static const gx_attr_desc argmax_attrs[] = {
    CORE_ATTR_INT("axis", -1, "the axis searched; it is removed from the result"),
    CORE_ATTR_END,
};

static const gx_op_example argmax_examples[] = {
    {.name = "last axis of [3,5]", .n_inputs = 1, .inputs = {CORE_EX_F64(-2, 2, 3, 5)}},
    {.name = "axis 0 of [4,2,3]", .n_inputs = 1, .inputs = {CORE_EX_F64(-2, 2, 4, 2, 3)},
     .n_attrs = 1, .attrs = {CORE_KV_INT("axis", 0)}},
    {.name = NULL},
};

// ---- cast ---------------------------------------------------------------------------------

enum { CAST_DTYPE };

static gx_status cast_infer(gx_infer_ctx *c) {
    const char *op = "cast";
    GX_TRY(core_check_inputs(c, op, 1, 1));
    GX_TRY(core_check_attr(c, op, CAST_DTYPE, "dtype", GX_ATTR_DTYPE));
    gx_dtype dt = (gx_dtype)c->attrs[CAST_DTYPE].i;
    if (!core_dtype_valid(dt))
        return gx_infer_fail(c, GX_ERR_DTYPE, op, "dtype must be f32, f64 or i32");
    c->outputs[0].dtype = dt;
    c->outputs[0].shape = c->inputs[0].shape;
    return GX_OK;
}

/* float to float: the gradient is cast back; anything through i32 has none */
static gx_status cast_vjp(gx_builder *b, const gx_vjp_args *a) {
    gx_tensor_info in, out;
    GX_TRY(core_info(b, a, a->inputs[0], &in));
    GX_TRY(core_info(b, a, a->outputs[0], &out));
    if (a->d_outputs[0] == GX_VAL_NONE || !core_dtype_float(in.dtype) || !core_dtype_float(out.dtype))
        return GX_OK;
    gx_attr_kv kv = {.name = "dtype", .value = {.type = GX_ATTR_DTYPE, .i = in.dtype}};
    return core_emit1a(b, a, "cast", a->d_outputs[0], &kv, 1, &a->d_inputs[0]);
}

static const gx_attr_desc cast_attrs[] = {
    CORE_ATTR_REQUIRED("dtype", GX_ATTR_DTYPE, "the dtype to convert to (i32 truncates)"),
    CORE_ATTR_END,
};

#define CORE_KV_DTYPE(name_, v) { .name = (name_), .value = { .type = GX_ATTR_DTYPE, .i = (v) } }
/* f64 to f64 only: a narrowing cast's rounding would swamp the finite differences */
static const gx_op_example cast_examples[] = {
    {.name = "[3,4] to f64", .n_inputs = 1, .inputs = {CORE_EX_F64(-2, 2, 3, 4)},
     .n_attrs = 1, .attrs = {CORE_KV_DTYPE("dtype", GX_DTYPE_F64)}},
    {.name = NULL},
};

// ---- the table ----------------------------------------------------------------------------

static const gx_op_desc mask_ops[] = {
    {.size = sizeof(gx_op_desc), .name = "dropout",
     .doc = "zero each element with probability p while training; scale the rest by 1/(1-p)",
     .min_inputs = 2, .max_inputs = 2, .n_outputs = 1, .attrs = dropout_attrs,
     .nodiff_inputs = 0x2, .infer = dropout_infer, .vjp = dropout_vjp,
     .examples = dropout_examples, .flags = GX_OP_RANDOM | GX_OP_TRAIN_ONLY},
    {.size = sizeof(gx_op_desc), .name = "sequence_mask",
     .doc = "mask[..., t] = 1 where t < lengths[...] else 0",
     .min_inputs = 1, .max_inputs = 1, .n_outputs = 1, .attrs = sequence_mask_attrs,
     .nodiff_inputs = 0x1, .infer = sequence_mask_infer, .examples = sequence_mask_examples,
     .grad_exempt = "integer input: nothing to differentiate"},
    {.size = sizeof(gx_op_desc), .name = "argmax",
     .doc = "index (i32) of the largest value along an axis; the first one on ties",
     .min_inputs = 1, .max_inputs = 1, .n_outputs = 1, .attrs = argmax_attrs,
     .nodiff_inputs = 0x1, .infer = argmax_infer, .examples = argmax_examples,
     .grad_exempt = "integer output: piecewise constant"},
    {.size = sizeof(gx_op_desc), .name = "cast",
     .doc = "convert to another dtype (float to i32 truncates towards zero)",
     .min_inputs = 1, .max_inputs = 1, .n_outputs = 1, .attrs = cast_attrs,
     .infer = cast_infer, .vjp = cast_vjp, .examples = cast_examples},
};

gx_status gx_core_register_masks(const gx_host_api *api, gx_host *host) {
    return gx_register_ops(api, host, mask_ops, GX_COUNT(mask_ops));
}
