/*
 * reduce.c: schemas of the reductions sum, mean and max, and of softmax and log_softmax.
 *
 * `axes` absent means every axis; an explicit list means exactly those axes (an empty list
 * reduces nothing, as in NumPy). The VJPs bring the reduced gradient back to the input's shape
 * with reshape (re-inserting size-1 axes when keepdims = 0) and broadcast_to. No kernels here.
 */
#include "core.h"

// ---- axes ---------------------------------------------------------------------------------

enum { REDUCE_AXES, REDUCE_KEEPDIMS };

/* Which axes of a rank-ndim input `axes` reduces. Returns 0 (with *bad set to the offending
 * entry's index) when an axis is out of range or repeated. */
static int reduce_mask(const gx_attr_value *axes, int32_t ndim, int reduced[GX_MAX_DIMS],
                       int32_t *bad) {
    for (int32_t d = 0; d < GX_MAX_DIMS; d++) reduced[d] = axes->type == GX_ATTR_NONE && d < ndim;
    if (axes->type == GX_ATTR_NONE) return 1;
    if (axes->n_ints < 0 || axes->n_ints > GX_MAX_DIMS) return 0;
    for (int32_t k = 0; k < axes->n_ints; k++) {
        int32_t d;
        *bad = k;
        if (!core_axis(axes->ints[k], ndim, &d) || reduced[d]) return 0;
        reduced[d] = 1;
    }
    return 1;
}

/* The input's shape with reduced axes set to 1: the output shape under keepdims = 1. */
static gx_shape reduce_kept_shape(const gx_shape *x, const int reduced[GX_MAX_DIMS]) {
    gx_shape s = *x;
    for (int32_t d = 0; d < x->ndim; d++)
        if (reduced[d]) s.dims[d] = 1;
    return s;
}

/* needs_elements: the reduction has no value over an empty axis (max: NumPy refuses it too). */
static gx_status reduce_infer(gx_infer_ctx *c, const char *op, int needs_elements) {
    GX_TRY(core_check_inputs(c, op, 1, 1));
    GX_TRY(core_check_float(c, op, 0, "x"));
    if (c->attrs == NULL) return gx_infer_fail(c, GX_ERR_INVALID, op, "attributes missing");
    const gx_attr_value *axes = &c->attrs[REDUCE_AXES];
    if (axes->type != GX_ATTR_NONE)
        GX_TRY(core_check_attr(c, op, REDUCE_AXES, "axes", GX_ATTR_INTS));
    GX_TRY(core_check_attr(c, op, REDUCE_KEEPDIMS, "keepdims", GX_ATTR_INT));
    const gx_shape *s = &c->inputs[0].shape;
    int reduced[GX_MAX_DIMS];
    int32_t bad = 0;
    if (!reduce_mask(axes, s->ndim, reduced, &bad)) {
        int32_t d;
        if (core_axis(axes->ints[bad], s->ndim, &d))
            return gx_infer_fail(c, GX_ERR_SHAPE, op, "axis %lld is listed twice (input %s)",
                             (long long)axes->ints[bad], GX_SHAPE(s));
        return core_infer_axis(c, op, "axis", axes->ints[bad], s, &d);
    }
    int64_t keepdims = c->attrs[REDUCE_KEEPDIMS].i;
    if (keepdims != 0 && keepdims != 1)
        return gx_infer_fail(c, GX_ERR_INVALID, op, "keepdims must be 0 or 1, got %lld",
                         (long long)keepdims);
    gx_shape out = {0};
    for (int32_t d = 0; d < s->ndim; d++) {
        if (needs_elements && reduced[d] && s->dims[d] == 0)
            return gx_infer_fail(c, GX_ERR_SHAPE, op, "cannot reduce axis %d of input %s: it is empty",
                             (int)d, GX_SHAPE(s));
        if (!reduced[d]) out.dims[out.ndim++] = s->dims[d];
        else if (keepdims) out.dims[out.ndim++] = 1;
    }
    c->outputs[0].dtype = c->inputs[0].dtype;
    c->outputs[0].shape = out;
    return GX_OK;
}

static gx_status sum_infer(gx_infer_ctx *c) { return reduce_infer(c, "sum", 0); }
static gx_status mean_infer(gx_infer_ctx *c) { return reduce_infer(c, "mean", 0); }
static gx_status max_infer(gx_infer_ctx *c) { return reduce_infer(c, "max", 1); }

// ---- reduction VJPs -----------------------------------------------------------------------

/* The parts of a reduction's VJP: the input, which axes were reduced, and the gradient
 * reshaped to the keepdims shape so that it broadcasts against the input. */
typedef struct reduce_grad {
    gx_tensor_info x;
    int            reduced[GX_MAX_DIMS];
    gx_shape       kept;
    gx_val         dy_kept;
    int64_t        count;   /* elements folded into each output element */
} reduce_grad;

static gx_status reduce_grad_init(gx_builder *b, const gx_vjp_args *a, const char *op,
                                  reduce_grad *r) {
    int32_t bad = 0;
    GX_TRY(core_info(b, a, a->inputs[0], &r->x));
    if (!reduce_mask(&a->attrs[REDUCE_AXES], r->x.shape.ndim, r->reduced, &bad))
        return core_vjp_fail(a, op, "bad axes");
    r->kept = reduce_kept_shape(&r->x.shape, r->reduced);
    r->count = 1;
    for (int32_t d = 0; d < r->x.shape.ndim; d++)
        if (r->reduced[d]) r->count *= r->x.shape.dims[d];
    return core_reshape_to(b, a, a->d_outputs[0], &r->kept, &r->dy_kept);
}

/* The reduced axes as an explicit list, for emitting sum over the same axes. */
static gx_attr_kv reduce_axes_kv(const reduce_grad *r) {
    int64_t axes[GX_MAX_DIMS];
    int32_t n = 0;
    for (int32_t d = 0; d < r->x.shape.ndim; d++)
        if (r->reduced[d]) axes[n++] = d;
    return core_kv_ints("axes", axes, n);
}

static gx_status sum_vjp(gx_builder *b, const gx_vjp_args *a) {
    reduce_grad r;
    if (a->d_outputs[0] == GX_VAL_NONE) return GX_OK;
    GX_TRY(reduce_grad_init(b, a, "sum", &r));
    gx_attr_kv kv = core_kv_shape("shape", &r.x.shape);
    return core_emit1a(b, a, "broadcast_to", r.dy_kept, &kv, 1, &a->d_inputs[0]);
}

/* Scale before broadcasting: the small tensor gets the division. */
static gx_status mean_vjp(gx_builder *b, const gx_vjp_args *a) {
    reduce_grad r;
    gx_val n, g;
    if (a->d_outputs[0] == GX_VAL_NONE) return GX_OK;
    GX_TRY(reduce_grad_init(b, a, "mean", &r));
    GX_TRY(core_scalar(b, a, (double)r.count, r.x.dtype, &n));
    GX_TRY(gx_emit2(a->api, b, "div", r.dy_kept, n, &g));
    gx_attr_kv kv = core_kv_shape("shape", &r.x.shape);
    return core_emit1a(b, a, "broadcast_to", g, &kv, 1, &a->d_inputs[0]);
}

/* Like torch.amax: dy is shared equally among the positions equal to the maximum.
 * mask = eq(x, y), dx = mask * dy / sum(mask) with the sum over the reduced axes. */
static gx_status max_vjp(gx_builder *b, const gx_vjp_args *a) {
    reduce_grad r;
    gx_val y_kept, mask, count, share;
    if (a->d_outputs[0] == GX_VAL_NONE) return GX_OK;
    GX_TRY(reduce_grad_init(b, a, "max", &r));
    GX_TRY(core_reshape_to(b, a, a->outputs[0], &r.kept, &y_kept));
    GX_TRY(gx_emit2(a->api, b, "eq", a->inputs[0], y_kept, &mask));
    gx_attr_kv kv[2] = {reduce_axes_kv(&r), core_kv_int("keepdims", 1)};
    GX_TRY(core_emit1a(b, a, "sum", mask, kv, 2, &count));
    GX_TRY(gx_emit2(a->api, b, "div", r.dy_kept, count, &share));
    return gx_emit2(a->api, b, "mul", mask, share, &a->d_inputs[0]);
}

// ---- softmax and log_softmax --------------------------------------------------------------

enum { SOFTMAX_AXIS };

static gx_status softmax_like_infer(gx_infer_ctx *c, const char *op) {
    GX_TRY(core_check_inputs(c, op, 1, 1));
    GX_TRY(core_check_float(c, op, 0, "x"));
    GX_TRY(core_check_attr(c, op, SOFTMAX_AXIS, "axis", GX_ATTR_INT));
    int32_t axis = 0;
    GX_TRY(core_infer_axis(c, op, "axis", c->attrs[SOFTMAX_AXIS].i, &c->inputs[0].shape, &axis));
    c->outputs[0] = c->inputs[0];
    return GX_OK;
}

static gx_status softmax_infer(gx_infer_ctx *c) { return softmax_like_infer(c, "softmax"); }
static gx_status log_softmax_infer(gx_infer_ctx *c) { return softmax_like_infer(c, "log_softmax"); }

/* sum(v, [axis], keepdims = 1) over the op's axis (passed through as given: sum normalises it). */
static gx_status sum_over_axis(gx_builder *b, const gx_vjp_args *a, gx_val v, gx_val *out) {
    int64_t axis = a->attrs[SOFTMAX_AXIS].i;
    gx_attr_kv kv[2] = {core_kv_ints("axes", &axis, 1), core_kv_int("keepdims", 1)};
    return core_emit1a(b, a, "sum", v, kv, 2, out);
}

/* y * (dy - sum(dy * y, axis, keepdims)). */
static gx_status softmax_vjp(gx_builder *b, const gx_vjp_args *a) {
    gx_val dy = a->d_outputs[0], y = a->outputs[0], p, s, d;
    if (dy == GX_VAL_NONE) return GX_OK;
    GX_TRY(gx_emit2(a->api, b, "mul", dy, y, &p));
    GX_TRY(sum_over_axis(b, a, p, &s));
    GX_TRY(gx_emit2(a->api, b, "sub", dy, s, &d));
    return gx_emit2(a->api, b, "mul", y, d, &a->d_inputs[0]);
}

/* dy - exp(y) * sum(dy, axis, keepdims): exp(y) is the softmax, recovered from the output. */
static gx_status log_softmax_vjp(gx_builder *b, const gx_vjp_args *a) {
    gx_val dy = a->d_outputs[0], s, e, t;
    if (dy == GX_VAL_NONE) return GX_OK;
    GX_TRY(sum_over_axis(b, a, dy, &s));
    GX_TRY(gx_emit1(a->api, b, "exp", a->outputs[0], &e));
    GX_TRY(gx_emit2(a->api, b, "mul", e, s, &t));
    return gx_emit2(a->api, b, "sub", dy, t, &a->d_inputs[0]);
}

// ---- examples and attributes --------------------------------------------------------------

/* Continuous random values: ties in max have probability zero. */
static const gx_op_example reduce_examples[] = {
    {.name = "all axes of [2,3,4]", .n_inputs = 1, .inputs = {CORE_EX_F64(-2, 2, 2, 3, 4)}},
    {.name = "axis 1, keepdims", .n_inputs = 1, .inputs = {CORE_EX_F64(-2, 2, 2, 3, 4)},
     .n_attrs = 2, .attrs = {CORE_KV_INTS("axes", 1), CORE_KV_INT("keepdims", 1)}},
    {.name = "axes 0 and -1", .n_inputs = 1, .inputs = {CORE_EX_F64(-2, 2, 2, 3, 4)},
     .n_attrs = 1, .attrs = {CORE_KV_INTS("axes", 0, -1)}},
    {.name = NULL},
};

static const gx_op_example softmax_examples[] = {
    {.name = "last axis of [2,5]", .n_inputs = 1, .inputs = {CORE_EX_F64(-2, 2, 2, 5)}},
    {.name = "middle axis of [3,4,2]", .n_inputs = 1, .inputs = {CORE_EX_F64(-2, 2, 3, 4, 2)},
     .n_attrs = 1, .attrs = {CORE_KV_INT("axis", 1)}},
    {.name = NULL},
};

static const gx_attr_desc reduce_attrs[] = {
    CORE_ATTR_OPTIONAL("axes", GX_ATTR_INTS, "axes to reduce; absent: all axes"),
    CORE_ATTR_INT("keepdims", 0, "1: keep reduced axes with size 1"),
    CORE_ATTR_END,
};

static const gx_attr_desc softmax_attrs[] = {
    CORE_ATTR_INT("axis", -1, "the axis that is normalised"),
    CORE_ATTR_END,
};

// ---- the table ----------------------------------------------------------------------------

#define REDUCE_OP(name_, doc_, infer_, vjp_, attrs_, examples_)                              \
    {.size = sizeof(gx_op_desc), .name = name_, .doc = doc_, .min_inputs = 1,               \
     .max_inputs = 1, .n_outputs = 1, .attrs = attrs_, .infer = infer_, .vjp = vjp_,        \
     .examples = examples_}

static const gx_op_desc reduce_ops[] = {
    REDUCE_OP("sum", "sum over axes", sum_infer, sum_vjp, reduce_attrs, reduce_examples),
    REDUCE_OP("mean", "mean over axes", mean_infer, mean_vjp, reduce_attrs, reduce_examples),
    REDUCE_OP("max", "maximum over axes; ties share the gradient", max_infer, max_vjp,
              reduce_attrs, reduce_examples),
    REDUCE_OP("softmax", "exp(x) / sum(exp(x)) along an axis", softmax_infer, softmax_vjp,
              softmax_attrs, softmax_examples),
    REDUCE_OP("log_softmax", "x - log(sum(exp(x))) along an axis", log_softmax_infer,
              log_softmax_vjp, softmax_attrs, softmax_examples),
};

gx_status gx_core_register_reduce(const gx_host_api *api, gx_host *host) {
    return gx_register_ops(api, host, reduce_ops, GX_COUNT(reduce_ops));
}
