/*
 * elementwise.c: schemas of the element-wise ops: the broadcasting binaries (add sub mul div gt
 * eq), the unary maps (neg tanh sigmoid relu exp log), where, and full.
 *
 * Shape inference, VJPs and gradient-check examples only; the kernels live in the backends.
 * Binary ops broadcast NumPy-style, so each VJP sums its gradient back to the input's shape
 * (emit_sum_to). gt, eq and full have no VJP (see grad_exempt).
 */
#include "core.h"

// ---- infer --------------------------------------------------------------------------------

/* Two float inputs of one dtype, broadcast together; the output has their dtype. */
static gx_status binary_infer(gx_infer_ctx *c, const char *op) {
    GX_TRY(core_check_inputs(c, op, 2, 2));
    GX_TRY(core_check_float(c, op, 0, "a"));
    GX_TRY(core_check_float(c, op, 1, "b"));
    GX_TRY(core_check_same_dtype(c, op, 0, "a", 1, "b"));
    gx_shape out;
    GX_TRY(core_broadcast_inputs(c, op, 0, 2, &out));
    c->outputs[0].dtype = c->inputs[0].dtype;
    c->outputs[0].shape = out;
    return GX_OK;
}

/* One float input; the output is the same tensor type. */
static gx_status unary_infer(gx_infer_ctx *c, const char *op) {
    GX_TRY(core_check_inputs(c, op, 1, 1));
    GX_TRY(core_check_float(c, op, 0, "x"));
    c->outputs[0] = c->inputs[0];
    return GX_OK;
}

/* gx_infer_ctx does not name the op, so each op gets a one-line wrapper for its messages. */
static gx_status add_infer(gx_infer_ctx *c) { return binary_infer(c, "add"); }
static gx_status sub_infer(gx_infer_ctx *c) { return binary_infer(c, "sub"); }
static gx_status mul_infer(gx_infer_ctx *c) { return binary_infer(c, "mul"); }
static gx_status div_infer(gx_infer_ctx *c) { return binary_infer(c, "div"); }
static gx_status gt_infer(gx_infer_ctx *c) { return binary_infer(c, "gt"); }
static gx_status eq_infer(gx_infer_ctx *c) { return binary_infer(c, "eq"); }
static gx_status neg_infer(gx_infer_ctx *c) { return unary_infer(c, "neg"); }
static gx_status tanh_infer(gx_infer_ctx *c) { return unary_infer(c, "tanh"); }
static gx_status sigmoid_infer(gx_infer_ctx *c) { return unary_infer(c, "sigmoid"); }
static gx_status relu_infer(gx_infer_ctx *c) { return unary_infer(c, "relu"); }
static gx_status exp_infer(gx_infer_ctx *c) { return unary_infer(c, "exp"); }
static gx_status log_infer(gx_infer_ctx *c) { return unary_infer(c, "log"); }

/* where(cond, a, b): a and b float of one dtype; cond either i32 or that same float dtype (a
 * float cond of another dtype would be an implicit conversion, which no op does). */
static gx_status where_infer(gx_infer_ctx *c) {
    const char *op = "where";
    GX_TRY(core_check_inputs(c, op, 3, 3));
    GX_TRY(core_check_float(c, op, 1, "a"));
    GX_TRY(core_check_float(c, op, 2, "b"));
    GX_TRY(core_check_same_dtype(c, op, 1, "a", 2, "b"));
    gx_dtype cd = c->inputs[0].dtype;
    if (cd != GX_DTYPE_I32 && cd != c->inputs[1].dtype)
        return gx_infer_fail(c, GX_ERR_DTYPE, op,
                         "cond must be i32 or %s (the dtype of a and b), got %s",
                         gx_dtype_name(c->inputs[1].dtype), gx_dtype_name(cd));
    gx_shape out;
    GX_TRY(core_broadcast_inputs(c, op, 0, 3, &out));
    c->outputs[0].dtype = c->inputs[1].dtype;
    c->outputs[0].shape = out;
    return GX_OK;
}

enum { FULL_SHAPE, FULL_VALUE, FULL_DTYPE };

static gx_status full_infer(gx_infer_ctx *c) {
    const char *op = "full";
    GX_TRY(core_check_inputs(c, op, 0, 0));
    GX_TRY(core_check_attr(c, op, FULL_SHAPE, "shape", GX_ATTR_INTS));
    GX_TRY(core_check_attr(c, op, FULL_VALUE, "value", GX_ATTR_FLOAT));
    GX_TRY(core_check_attr(c, op, FULL_DTYPE, "dtype", GX_ATTR_DTYPE));
    const gx_attr_value *shape = &c->attrs[FULL_SHAPE];
    gx_shape out = {0};
    out.ndim = shape->n_ints;
    for (int32_t i = 0; i < shape->n_ints; i++) {
        out.dims[i] = shape->ints[i];
        if (shape->ints[i] < 0)
            return gx_infer_fail(c, GX_ERR_SHAPE, op, "shape %s has a negative dim", GX_SHAPE(&out));
    }
    int64_t numel;
    if (!core_numel(&out, &numel))
        return gx_infer_fail(c, GX_ERR_SHAPE, op, "shape %s has too many elements", GX_SHAPE(&out));
    int64_t dt = c->attrs[FULL_DTYPE].i;
    if (dt != GX_DTYPE_F32 && dt != GX_DTYPE_F64 && dt != GX_DTYPE_I32)
        return gx_infer_fail(c, GX_ERR_DTYPE, op, "dtype must be f32, f64 or i32");
    double v = c->attrs[FULL_VALUE].f;
    /* An i32 constant must hold the value exactly; silently truncating 0.5 to 0 hides bugs. */
    if (dt == GX_DTYPE_I32 && !(v >= -2147483648.0 && v <= 2147483647.0 && v == (double)(int64_t)v))
        return gx_infer_fail(c, GX_ERR_INVALID, op, "value %g is not an i32 integer (dtype is i32)", v);
    c->outputs[0].dtype = (gx_dtype)dt;
    c->outputs[0].shape = out;
    return GX_OK;
}

// ---- VJPs ---------------------------------------------------------------------------------

/* dx_i = sum_to(g, shape of input i). */
static gx_status sum_to_input(gx_builder *b, const gx_vjp_args *a, gx_val g, int32_t i) {
    gx_tensor_info x;
    GX_TRY(core_info(b, a, a->inputs[i], &x));
    return a->api->emit_sum_to(b, g, &x.shape, &a->d_inputs[i]);
}

static gx_status add_vjp(gx_builder *b, const gx_vjp_args *a) {
    gx_val dy = a->d_outputs[0];
    if (dy == GX_VAL_NONE) return GX_OK;
    GX_TRY(sum_to_input(b, a, dy, 0));
    return sum_to_input(b, a, dy, 1);
}

static gx_status sub_vjp(gx_builder *b, const gx_vjp_args *a) {
    gx_val dy = a->d_outputs[0], ndy;
    if (dy == GX_VAL_NONE) return GX_OK;
    GX_TRY(sum_to_input(b, a, dy, 0));
    GX_TRY(gx_emit1(a->api, b, "neg", dy, &ndy));
    return sum_to_input(b, a, ndy, 1);
}

static gx_status mul_vjp(gx_builder *b, const gx_vjp_args *a) {
    gx_val dy = a->d_outputs[0], ga, gb;
    if (dy == GX_VAL_NONE) return GX_OK;
    GX_TRY(gx_emit2(a->api, b, "mul", dy, a->inputs[1], &ga));
    GX_TRY(sum_to_input(b, a, ga, 0));
    GX_TRY(gx_emit2(a->api, b, "mul", dy, a->inputs[0], &gb));
    return sum_to_input(b, a, gb, 1);
}

/* y = a / b: da = dy / b, db = -dy * y / b (reuses y instead of recomputing a / b^2). */
static gx_status div_vjp(gx_builder *b, const gx_vjp_args *a) {
    gx_val dy = a->d_outputs[0], ga, y_over_b, t, gb;
    if (dy == GX_VAL_NONE) return GX_OK;
    GX_TRY(gx_emit2(a->api, b, "div", dy, a->inputs[1], &ga));
    GX_TRY(sum_to_input(b, a, ga, 0));
    GX_TRY(gx_emit2(a->api, b, "div", a->outputs[0], a->inputs[1], &y_over_b));
    GX_TRY(gx_emit2(a->api, b, "mul", dy, y_over_b, &t));
    GX_TRY(gx_emit1(a->api, b, "neg", t, &gb));
    return sum_to_input(b, a, gb, 1);
}

static gx_status neg_vjp(gx_builder *b, const gx_vjp_args *a) {
    if (a->d_outputs[0] == GX_VAL_NONE) return GX_OK;
    return gx_emit1(a->api, b, "neg", a->d_outputs[0], &a->d_inputs[0]);
}

/* dy * (1 - y*y), from the output so the forward tanh is not recomputed. */
static gx_status tanh_vjp(gx_builder *b, const gx_vjp_args *a) {
    gx_val dy = a->d_outputs[0], y = a->outputs[0], yy, one, t;
    gx_tensor_info info;
    if (dy == GX_VAL_NONE) return GX_OK;
    GX_TRY(core_info(b, a, y, &info));
    GX_TRY(gx_emit2(a->api, b, "mul", y, y, &yy));
    GX_TRY(core_scalar(b, a, 1.0, info.dtype, &one));
    GX_TRY(gx_emit2(a->api, b, "sub", one, yy, &t));
    return gx_emit2(a->api, b, "mul", dy, t, &a->d_inputs[0]);
}

/* dy * y * (1 - y). */
static gx_status sigmoid_vjp(gx_builder *b, const gx_vjp_args *a) {
    gx_val dy = a->d_outputs[0], y = a->outputs[0], one, t, u;
    gx_tensor_info info;
    if (dy == GX_VAL_NONE) return GX_OK;
    GX_TRY(core_info(b, a, y, &info));
    GX_TRY(core_scalar(b, a, 1.0, info.dtype, &one));
    GX_TRY(gx_emit2(a->api, b, "sub", one, y, &t));
    GX_TRY(gx_emit2(a->api, b, "mul", y, t, &u));
    return gx_emit2(a->api, b, "mul", dy, u, &a->d_inputs[0]);
}

/* dy * gt(x, 0): the mask is taken from the input, so the kink at 0 gets gradient 0. */
static gx_status relu_vjp(gx_builder *b, const gx_vjp_args *a) {
    gx_val dy = a->d_outputs[0], x = a->inputs[0], zero, mask;
    gx_tensor_info info;
    if (dy == GX_VAL_NONE) return GX_OK;
    GX_TRY(core_info(b, a, x, &info));
    GX_TRY(core_scalar(b, a, 0.0, info.dtype, &zero));
    GX_TRY(gx_emit2(a->api, b, "gt", x, zero, &mask));
    return gx_emit2(a->api, b, "mul", dy, mask, &a->d_inputs[0]);
}

static gx_status exp_vjp(gx_builder *b, const gx_vjp_args *a) {
    if (a->d_outputs[0] == GX_VAL_NONE) return GX_OK;
    return gx_emit2(a->api, b, "mul", a->d_outputs[0], a->outputs[0], &a->d_inputs[0]);
}

static gx_status log_vjp(gx_builder *b, const gx_vjp_args *a) {
    if (a->d_outputs[0] == GX_VAL_NONE) return GX_OK;
    return gx_emit2(a->api, b, "div", a->d_outputs[0], a->inputs[0], &a->d_inputs[0]);
}

/* The gradient goes to a where cond holds and to b elsewhere; cond gets none. */
static gx_status where_vjp(gx_builder *b, const gx_vjp_args *a) {
    gx_val dy = a->d_outputs[0], zero, in[3], ga, gb;
    gx_tensor_info info;
    if (dy == GX_VAL_NONE) return GX_OK;
    GX_TRY(core_info(b, a, dy, &info));
    GX_TRY(core_scalar(b, a, 0.0, info.dtype, &zero));
    in[0] = a->inputs[0];
    in[1] = dy;
    in[2] = zero;
    GX_TRY(a->api->emit(b, "where", in, 3, NULL, 0, &ga, 1));
    GX_TRY(sum_to_input(b, a, ga, 1));
    in[1] = zero;
    in[2] = dy;
    GX_TRY(a->api->emit(b, "where", in, 3, NULL, 0, &gb, 1));
    return sum_to_input(b, a, gb, 2);
}

// ---- examples -----------------------------------------------------------------------------

/* Broadcasting both ways, a trailing-axis vector, and a scalar operand, for add/sub/mul. */
static const gx_op_example binary_examples[] = {
    {.name = "broadcast both ways [3,1] and [1,4]", .n_inputs = 2,
     .inputs = {CORE_EX_F64(-2, 2, 3, 1), CORE_EX_F64(-2, 2, 1, 4)}},
    {.name = "row vector [2,3] and [3]", .n_inputs = 2,
     .inputs = {CORE_EX_F64(-2, 2, 2, 3), CORE_EX_F64(-2, 2, 3)}},
    {.name = "scalar operand [] and [2,3]", .n_inputs = 2,
     .inputs = {CORE_EX_F64_SCALAR(-2, 2), CORE_EX_F64(-2, 2, 2, 3)}},
    {.name = NULL},
};

/* The denominator stays in [0.5, 2] so the finite differences do not meet the pole at 0. */
static const gx_op_example div_examples[] = {
    {.name = "broadcast both ways [3,1] / [1,4]", .n_inputs = 2,
     .inputs = {CORE_EX_F64(-2, 2, 3, 1), CORE_EX_F64(0.5, 2, 1, 4)}},
    {.name = "scalar denominator [2,3] / []", .n_inputs = 2,
     .inputs = {CORE_EX_F64(-2, 2, 2, 3), CORE_EX_F64_SCALAR(0.5, 2)}},
    {.name = "scalar numerator [] / [2,3]", .n_inputs = 2,
     .inputs = {CORE_EX_F64_SCALAR(-2, 2), CORE_EX_F64(0.5, 2, 2, 3)}},
    {.name = NULL},
};

/* For gexec check-op only: gt and eq are exempt from the gradient check. */
static const gx_op_example compare_examples[] = {
    {.name = "broadcast [3,1] and [1,4]", .n_inputs = 2,
     .inputs = {CORE_EX_F64(-2, 2, 3, 1), CORE_EX_F64(-2, 2, 1, 4)}},
    {.name = NULL},
};

static const gx_op_example unary_examples[] = {
    {.name = "matrix [2,3]", .n_inputs = 1, .inputs = {CORE_EX_F64(-2, 2, 2, 3)}},
    {.name = "scalar", .n_inputs = 1, .inputs = {CORE_EX_F64_SCALAR(-2, 2)}},
    {.name = NULL},
};

/* min_abs keeps every element away from the kink at 0. */
static const gx_op_example relu_examples[] = {
    {.name = "matrix [2,3]", .n_inputs = 1,
     .inputs = {{.dtype = GX_DTYPE_F64, .ndim = 2, .dims = {2, 3}, .lo = -2, .hi = 2,
                 .min_abs = 0.1}}},
    {.name = "rank 3 [2,2,3]", .n_inputs = 1,
     .inputs = {{.dtype = GX_DTYPE_F64, .ndim = 3, .dims = {2, 2, 3}, .lo = -2, .hi = 2,
                 .min_abs = 0.1}}},
    {.name = NULL},
};

/* log is only defined for x > 0, and 1/x stays tame on [0.5, 2]. */
static const gx_op_example log_examples[] = {
    {.name = "matrix [2,3]", .n_inputs = 1, .inputs = {CORE_EX_F64(0.5, 2, 2, 3)}},
    {.name = "scalar", .n_inputs = 1, .inputs = {CORE_EX_F64_SCALAR(0.5, 2)}},
    {.name = NULL},
};

/* An i32 cond in {0, 1} mixes both branches; random floats are never exactly 0, so the f64
 * cond case only takes the a branch but checks that a float cond is accepted. */
static const gx_op_example where_examples[] = {
    {.name = "i32 cond, same shapes [2,3]", .n_inputs = 3,
     .inputs = {CORE_EX_I32(0, 1, 2, 3), CORE_EX_F64(-2, 2, 2, 3), CORE_EX_F64(-2, 2, 2, 3)}},
    {.name = "i32 cond [3,1], a [1,4], scalar b", .n_inputs = 3,
     .inputs = {CORE_EX_I32(0, 1, 3, 1), CORE_EX_F64(-2, 2, 1, 4), CORE_EX_F64_SCALAR(-2, 2)}},
    {.name = "f64 cond [3], a [2,3], b [2,1]", .n_inputs = 3,
     .inputs = {CORE_EX_F64(-1, 1, 3), CORE_EX_F64(-2, 2, 2, 3), CORE_EX_F64(-2, 2, 2, 1)}},
    {.name = NULL},
};

static const gx_op_example full_examples[] = {
    {.name = "[2,3] of 1.5", .n_inputs = 0, .n_attrs = 2,
     .attrs = {CORE_KV_INTS("shape", 2, 3), CORE_KV_FLOAT("value", 1.5)}},
    {.name = NULL},
};

// ---- attributes ---------------------------------------------------------------------------

static const gx_attr_desc full_attrs[] = {
    {.name = "shape", .type = GX_ATTR_INTS, .dflt = {.type = GX_ATTR_INTS, .n_ints = 0},
     .doc = "the output shape; [] is a scalar"},
    {.name = "value", .type = GX_ATTR_FLOAT, .dflt = {.type = GX_ATTR_FLOAT, .f = 0.0},
     .doc = "the value of every element"},
    {.name = "dtype", .type = GX_ATTR_DTYPE, .dflt = {.type = GX_ATTR_DTYPE, .i = GX_DTYPE_F32},
     .doc = "the output dtype: f32, f64 or i32"},
    CORE_ATTR_END,
};

// ---- the table ----------------------------------------------------------------------------

#define BINARY(name_, doc_, infer_, vjp_, examples_)                                    \
    {.size = sizeof(gx_op_desc), .name = name_, .doc = doc_, .min_inputs = 2,             \
     .max_inputs = 2, .n_outputs = 1, .infer = infer_, .vjp = vjp_, .examples = examples_}
#define UNARY(name_, doc_, infer_, vjp_, examples_)                                     \
    {.size = sizeof(gx_op_desc), .name = name_, .doc = doc_, .min_inputs = 1,             \
     .max_inputs = 1, .n_outputs = 1, .infer = infer_, .vjp = vjp_, .examples = examples_}

static const char piecewise_constant[] = "piecewise constant: zero gradient almost everywhere";

static const gx_op_desc elementwise_ops[] = {
    BINARY("add", "a + b, broadcasting", add_infer, add_vjp, binary_examples),
    BINARY("sub", "a - b, broadcasting", sub_infer, sub_vjp, binary_examples),
    BINARY("mul", "a * b, broadcasting", mul_infer, mul_vjp, binary_examples),
    BINARY("div", "a / b, broadcasting", div_infer, div_vjp, div_examples),
    {.size = sizeof(gx_op_desc), .name = "gt", .doc = "1 where a > b else 0, broadcasting",
     .min_inputs = 2, .max_inputs = 2, .n_outputs = 1, .nodiff_inputs = 0x3, .infer = gt_infer,
     .examples = compare_examples, .grad_exempt = piecewise_constant},
    {.size = sizeof(gx_op_desc), .name = "eq", .doc = "1 where a == b else 0, broadcasting",
     .min_inputs = 2, .max_inputs = 2, .n_outputs = 1, .nodiff_inputs = 0x3, .infer = eq_infer,
     .examples = compare_examples, .grad_exempt = piecewise_constant},
    UNARY("neg", "-x", neg_infer, neg_vjp, unary_examples),
    UNARY("tanh", "hyperbolic tangent", tanh_infer, tanh_vjp, unary_examples),
    UNARY("sigmoid", "logistic function 1 / (1 + exp(-x))", sigmoid_infer, sigmoid_vjp,
          unary_examples),
    UNARY("relu", "max(x, 0)", relu_infer, relu_vjp, relu_examples),
    UNARY("exp", "e to the x", exp_infer, exp_vjp, unary_examples),
    UNARY("log", "natural logarithm", log_infer, log_vjp, log_examples),
    {.size = sizeof(gx_op_desc), .name = "where",
     .doc = "a where cond is non-zero else b, broadcasting",
     .min_inputs = 3, .max_inputs = 3, .n_outputs = 1, .nodiff_inputs = 0x1,
     .infer = where_infer, .vjp = where_vjp, .examples = where_examples},
    {.size = sizeof(gx_op_desc), .name = "full", .doc = "a constant tensor of a given shape",
     .min_inputs = 0, .max_inputs = 0, .n_outputs = 1, .attrs = full_attrs, .infer = full_infer,
     .examples = full_examples, .grad_exempt = "no inputs"},
};

gx_status gx_core_register_elementwise(const gx_host_api *api, gx_host *host) {
    return gx_register_ops(api, host, elementwise_ops, GX_COUNT(elementwise_ops));
}
