/*
 * shape-ops.c: schemas of the ops that move data without arithmetic: reshape, broadcast_to,
 * concat, split, slice, pad and index.
 *
 * They accept any dtype (f32, f64, i32), so integer tensors such as token ids can be sliced and
 * indexed too. The VJPs pair them up: concat <-> split/slice, slice <-> pad, index -> reshape +
 * pad, broadcast_to -> sum_to. No kernels here.
 */
#include "core.h"

/* An INTS attribute as a shape, only for messages. */
static gx_shape ints_as_shape(const gx_attr_value *v) {
    gx_shape s = {0};
    s.ndim = v->n_ints;
    for (int32_t i = 0; i < v->n_ints; i++) s.dims[i] = v->ints[i];
    return s;
}

// ---- reshape ------------------------------------------------------------------------------

enum { RESHAPE_SHAPE };

static gx_status reshape_infer(gx_infer_ctx *c) {
    const char *op = "reshape";
    GX_TRY(core_check_inputs(c, op, 1, 1));
    GX_TRY(core_check_attr(c, op, RESHAPE_SHAPE, "shape", GX_ATTR_INTS));
    const gx_shape *s = &c->inputs[0].shape;
    gx_shape want = ints_as_shape(&c->attrs[RESHAPE_SHAPE]);
    int64_t numel, known = 1;
    int32_t wild = -1;
    if (!core_numel(s, &numel))
        return gx_infer_fail(c, GX_ERR_SHAPE, op, "input %s has too many elements", GX_SHAPE(s));
    for (int32_t i = 0; i < want.ndim; i++) {
        int64_t d = want.dims[i];
        if (d == -1) {
            if (wild >= 0)
                return gx_infer_fail(c, GX_ERR_SHAPE, op, "shape %s has more than one -1",
                                 GX_SHAPE(&want));
            wild = i;
        } else if (d < 0) {
            return gx_infer_fail(c, GX_ERR_SHAPE, op, "shape %s has a negative dim other than -1",
                             GX_SHAPE(&want));
        } else {
            if (d != 0 && known > INT64_MAX / d)
                return gx_infer_fail(c, GX_ERR_SHAPE, op, "shape %s has too many elements",
                                 GX_SHAPE(&want));
            known *= d;
        }
    }
    if (wild >= 0) {
        /* With a 0 among the other dims, any size fits the -1: refuse rather than guess. */
        if (known == 0 || numel % known != 0)
            return gx_infer_fail(c, GX_ERR_SHAPE, op, "cannot reshape %s (%lld elements) into %s",
                             GX_SHAPE(s), (long long)numel, GX_SHAPE(&want));
        want.dims[wild] = numel / known;
    } else if (known != numel) {
        return gx_infer_fail(c, GX_ERR_SHAPE, op,
                         "cannot reshape %s (%lld elements) into %s (%lld elements)",
                         GX_SHAPE(s), (long long)numel, GX_SHAPE(&want), (long long)known);
    }
    c->outputs[0].dtype = c->inputs[0].dtype;
    c->outputs[0].shape = want;
    return GX_OK;
}

static gx_status reshape_vjp(gx_builder *b, const gx_vjp_args *a) {
    gx_tensor_info x;
    if (a->d_outputs[0] == GX_VAL_NONE) return GX_OK;
    GX_TRY(core_info(b, a, a->inputs[0], &x));
    gx_attr_kv kv = core_kv_shape("shape", &x.shape);
    return core_emit1a(b, a, "reshape", a->d_outputs[0], &kv, 1, &a->d_inputs[0]);
}

// ---- broadcast_to -------------------------------------------------------------------------

enum { BROADCAST_SHAPE };

static gx_status broadcast_to_infer(gx_infer_ctx *c) {
    const char *op = "broadcast_to";
    GX_TRY(core_check_inputs(c, op, 1, 1));
    GX_TRY(core_check_attr(c, op, BROADCAST_SHAPE, "shape", GX_ATTR_INTS));
    const gx_shape *s = &c->inputs[0].shape;
    gx_shape want = ints_as_shape(&c->attrs[BROADCAST_SHAPE]), got;
    int64_t numel;
    for (int32_t i = 0; i < want.ndim; i++)
        if (want.dims[i] < 0)
            return gx_infer_fail(c, GX_ERR_SHAPE, op, "shape %s has a negative dim",
                             GX_SHAPE(&want));
    if (!core_numel(&want, &numel))
        return gx_infer_fail(c, GX_ERR_SHAPE, op, "shape %s has too many elements",
                         GX_SHAPE(&want));
    /* x broadcasts to `want` when broadcasting the two gives `want` back unchanged. */
    if (!core_broadcast2(s, &want, &got) || !core_shape_equal(&got, &want))
        return gx_infer_fail(c, GX_ERR_SHAPE, op, "input %s does not broadcast to %s", GX_SHAPE(s),
                         GX_SHAPE(&want));
    c->outputs[0].dtype = c->inputs[0].dtype;
    c->outputs[0].shape = want;
    return GX_OK;
}

static gx_status broadcast_to_vjp(gx_builder *b, const gx_vjp_args *a) {
    gx_tensor_info x;
    if (a->d_outputs[0] == GX_VAL_NONE) return GX_OK;
    GX_TRY(core_info(b, a, a->inputs[0], &x));
    return a->api->emit_sum_to(b, a->d_outputs[0], &x.shape, &a->d_inputs[0]);
}

// ---- concat -------------------------------------------------------------------------------

enum { CONCAT_AXIS };

static gx_status concat_infer(gx_infer_ctx *c) {
    const char *op = "concat";
    GX_TRY(core_check_inputs(c, op, 1, -1));
    GX_TRY(core_check_attr(c, op, CONCAT_AXIS, "axis", GX_ATTR_INT));
    const gx_shape *s0 = &c->inputs[0].shape;
    int32_t axis = 0;
    GX_TRY(core_infer_axis(c, op, "axis", c->attrs[CONCAT_AXIS].i, s0, &axis));
    gx_shape out = *s0;
    for (int32_t i = 1; i < c->n_inputs; i++) {
        const gx_shape *si = &c->inputs[i].shape;
        if (c->inputs[i].dtype != c->inputs[0].dtype)
            return gx_infer_fail(c, GX_ERR_DTYPE, op, "input %d is %s but input 0 is %s", (int)i,
                             gx_dtype_name(c->inputs[i].dtype),
                             gx_dtype_name(c->inputs[0].dtype));
        int ok = si->ndim == s0->ndim;
        for (int32_t d = 0; ok && d < s0->ndim; d++)
            if (d != axis && si->dims[d] != s0->dims[d]) ok = 0;
        if (!ok)
            return gx_infer_fail(c, GX_ERR_SHAPE, op,
                             "input %d has shape %s, input 0 has %s: they must be equal except "
                             "on axis %d", (int)i, GX_SHAPE(si), GX_SHAPE(s0), (int)axis);
        if (out.dims[axis] > INT64_MAX - si->dims[axis])
            return gx_infer_fail(c, GX_ERR_SHAPE, op, "the concatenated axis is too long");
        out.dims[axis] += si->dims[axis];
    }
    c->outputs[0].dtype = c->inputs[0].dtype;
    c->outputs[0].shape = out;
    return GX_OK;
}

/* Each input's gradient is its window of dy along the axis. */
static gx_status concat_vjp(gx_builder *b, const gx_vjp_args *a) {
    gx_val dy = a->d_outputs[0];
    gx_tensor_info x;
    if (dy == GX_VAL_NONE) return GX_OK;
    GX_TRY(core_info(b, a, a->inputs[0], &x));
    int32_t axis = 0;
    if (!core_axis(a->attrs[CONCAT_AXIS].i, x.shape.ndim, &axis))
        return core_vjp_fail(a, "concat", "axis out of range");
    int64_t start = 0;
    for (int32_t i = 0; i < a->n_inputs; i++) {
        GX_TRY(core_info(b, a, a->inputs[i], &x));
        if (x.shape.ndim <= axis) return core_vjp_fail(a, "concat", "input ranks differ");
        int64_t end = start + x.shape.dims[axis];
        gx_attr_kv kv[3] = {core_kv_int("axis", axis), core_kv_int("start", start),
                            core_kv_int("end", end)};
        GX_TRY(core_emit1a(b, a, "slice", dy, kv, 3, &a->d_inputs[i]));
        start = end;
    }
    return GX_OK;
}

// ---- split --------------------------------------------------------------------------------

enum { SPLIT_PARTS, SPLIT_AXIS };

static gx_status split_infer(gx_infer_ctx *c) {
    const char *op = "split";
    GX_TRY(core_check_inputs(c, op, 1, 1));
    GX_TRY(core_check_attr(c, op, SPLIT_PARTS, "parts", GX_ATTR_INT));
    GX_TRY(core_check_attr(c, op, SPLIT_AXIS, "axis", GX_ATTR_INT));
    const gx_shape *s = &c->inputs[0].shape;
    int64_t parts = c->attrs[SPLIT_PARTS].i;
    int32_t axis = 0;
    if (parts <= 0)
        return gx_infer_fail(c, GX_ERR_INVALID, op, "parts must be > 0, got %lld", (long long)parts);
    if (parts > c->max_outputs)
        return gx_infer_fail(c, GX_ERR_INVALID, op, "parts = %lld is more than the %d outputs allowed",
                         (long long)parts, (int)c->max_outputs);
    GX_TRY(core_infer_axis(c, op, "axis", c->attrs[SPLIT_AXIS].i, s, &axis));
    if (s->dims[axis] % parts != 0)
        return gx_infer_fail(c, GX_ERR_SHAPE, op,
                         "axis %d of input %s has size %lld, not divisible by parts = %lld",
                         (int)axis, GX_SHAPE(s), (long long)s->dims[axis], (long long)parts);
    gx_tensor_info part = c->inputs[0];
    part.shape.dims[axis] = s->dims[axis] / parts;
    c->n_outputs = (int32_t)parts;
    for (int32_t i = 0; i < c->n_outputs; i++) c->outputs[i] = part;
    return GX_OK;
}

/* Concatenate the output gradients; an output nobody used contributes zeros. */
static gx_status split_vjp(gx_builder *b, const gx_vjp_args *a) {
    gx_val local[16];
    gx_val *parts = local;
    gx_tensor_info x;
    gx_status st = GX_OK;
    int32_t n = a->n_outputs, axis = 0;
    GX_TRY(core_info(b, a, a->inputs[0], &x));
    if (n <= 0) return core_vjp_fail(a, "split", "no outputs");
    if (!core_axis(a->attrs[SPLIT_AXIS].i, x.shape.ndim, &axis))
        return core_vjp_fail(a, "split", "axis out of range");
    if ((size_t)n > GX_COUNT(local)) {
        parts = a->api->alloc(a->host, (size_t)n * sizeof *parts);
        if (parts == NULL)
            return a->api->set_error(a->host, GX_ERR_NOMEM, "split: gradient: out of memory");
    }
    for (int32_t j = 0; j < n && st == GX_OK; j++) {
        parts[j] = a->d_outputs[j];
        if (parts[j] != GX_VAL_NONE) continue;
        gx_tensor_info out;
        st = core_info(b, a, a->outputs[j], &out);
        if (st == GX_OK) st = a->api->emit_constant(b, 0.0, out.dtype, &out.shape, &parts[j]);
    }
    if (st == GX_OK) {
        gx_attr_kv kv = core_kv_int("axis", axis);
        st = a->api->emit(b, "concat", parts, n, &kv, 1, &a->d_inputs[0], 1);
    }
    if (parts != local) a->api->free(a->host, parts);
    return st;
}

// ---- slice --------------------------------------------------------------------------------

enum { SLICE_AXIS, SLICE_START, SLICE_END };

/* Resolve negative bounds; 0 when the window is not inside [0, dim]. */
static int slice_bounds(int64_t start, int64_t end, int64_t dim, int64_t *s, int64_t *e) {
    if (start < 0) start += dim;
    if (end < 0) end += dim;
    if (!(0 <= start && start <= end && end <= dim)) return 0;
    *s = start;
    *e = end;
    return 1;
}

static gx_status slice_infer(gx_infer_ctx *c) {
    const char *op = "slice";
    GX_TRY(core_check_inputs(c, op, 1, 1));
    GX_TRY(core_check_attr(c, op, SLICE_AXIS, "axis", GX_ATTR_INT));
    GX_TRY(core_check_attr(c, op, SLICE_START, "start", GX_ATTR_INT));
    GX_TRY(core_check_attr(c, op, SLICE_END, "end", GX_ATTR_INT));
    const gx_shape *s = &c->inputs[0].shape;
    int32_t axis = 0;
    int64_t start = 0, end = 0;
    GX_TRY(core_infer_axis(c, op, "axis", c->attrs[SLICE_AXIS].i, s, &axis));
    if (!slice_bounds(c->attrs[SLICE_START].i, c->attrs[SLICE_END].i, s->dims[axis], &start, &end))
        return gx_infer_fail(c, GX_ERR_SHAPE, op,
                         "[start, end) = [%lld, %lld) is not inside axis %d of input %s (size "
                         "%lld); need 0 <= start <= end <= size after negative values count from "
                         "the end", (long long)c->attrs[SLICE_START].i,
                         (long long)c->attrs[SLICE_END].i, (int)axis, GX_SHAPE(s),
                         (long long)s->dims[axis]);
    c->outputs[0] = c->inputs[0];
    c->outputs[0].shape.dims[axis] = end - start;
    return GX_OK;
}

/* The window's gradient is dy; everything around it got none, so pad with zeros. */
static gx_status slice_vjp(gx_builder *b, const gx_vjp_args *a) {
    gx_tensor_info x;
    int32_t axis = 0;
    int64_t start = 0, end = 0;
    if (a->d_outputs[0] == GX_VAL_NONE) return GX_OK;
    GX_TRY(core_info(b, a, a->inputs[0], &x));
    if (!core_axis(a->attrs[SLICE_AXIS].i, x.shape.ndim, &axis) ||
        !slice_bounds(a->attrs[SLICE_START].i, a->attrs[SLICE_END].i, x.shape.dims[axis], &start,
                      &end))
        return core_vjp_fail(a, "slice", "window out of range");
    gx_attr_kv kv[3] = {core_kv_int("axis", axis), core_kv_int("before", start),
                        core_kv_int("after", x.shape.dims[axis] - end)};
    return core_emit1a(b, a, "pad", a->d_outputs[0], kv, 3, &a->d_inputs[0]);
}

// ---- pad ----------------------------------------------------------------------------------

enum { PAD_AXIS, PAD_BEFORE, PAD_AFTER };

static gx_status pad_infer(gx_infer_ctx *c) {
    const char *op = "pad";
    GX_TRY(core_check_inputs(c, op, 1, 1));
    GX_TRY(core_check_attr(c, op, PAD_AXIS, "axis", GX_ATTR_INT));
    GX_TRY(core_check_attr(c, op, PAD_BEFORE, "before", GX_ATTR_INT));
    GX_TRY(core_check_attr(c, op, PAD_AFTER, "after", GX_ATTR_INT));
    const gx_shape *s = &c->inputs[0].shape;
    int64_t before = c->attrs[PAD_BEFORE].i, after = c->attrs[PAD_AFTER].i;
    int32_t axis = 0;
    GX_TRY(core_infer_axis(c, op, "axis", c->attrs[PAD_AXIS].i, s, &axis));
    if (before < 0 || after < 0)
        return gx_infer_fail(c, GX_ERR_INVALID, op, "before and after must be >= 0, got %lld and %lld",
                         (long long)before, (long long)after);
    int64_t dim = s->dims[axis];
    if (before > INT64_MAX - dim || after > INT64_MAX - dim - before)
        return gx_infer_fail(c, GX_ERR_SHAPE, op, "the padded axis is too long");
    c->outputs[0] = c->inputs[0];
    c->outputs[0].shape.dims[axis] = before + dim + after;
    return GX_OK;
}

static gx_status pad_vjp(gx_builder *b, const gx_vjp_args *a) {
    gx_tensor_info x;
    int32_t axis = 0;
    if (a->d_outputs[0] == GX_VAL_NONE) return GX_OK;
    GX_TRY(core_info(b, a, a->inputs[0], &x));
    if (!core_axis(a->attrs[PAD_AXIS].i, x.shape.ndim, &axis))
        return core_vjp_fail(a, "pad", "axis out of range");
    int64_t before = a->attrs[PAD_BEFORE].i;
    gx_attr_kv kv[3] = {core_kv_int("axis", axis), core_kv_int("start", before),
                        core_kv_int("end", before + x.shape.dims[axis])};
    return core_emit1a(b, a, "slice", a->d_outputs[0], kv, 3, &a->d_inputs[0]);
}

// ---- index --------------------------------------------------------------------------------

enum { INDEX_AXIS, INDEX_I };

static int index_position(int64_t i, int64_t dim, int64_t *out) {
    if (i < 0) i += dim;
    if (i < 0 || i >= dim) return 0;
    *out = i;
    return 1;
}

static gx_status index_infer(gx_infer_ctx *c) {
    const char *op = "index";
    GX_TRY(core_check_inputs(c, op, 1, 1));
    GX_TRY(core_check_attr(c, op, INDEX_AXIS, "axis", GX_ATTR_INT));
    GX_TRY(core_check_attr(c, op, INDEX_I, "i", GX_ATTR_INT));
    const gx_shape *s = &c->inputs[0].shape;
    int32_t axis = 0;
    int64_t i = 0;
    GX_TRY(core_infer_axis(c, op, "axis", c->attrs[INDEX_AXIS].i, s, &axis));
    if (!index_position(c->attrs[INDEX_I].i, s->dims[axis], &i))
        return gx_infer_fail(c, GX_ERR_SHAPE, op, "i = %lld is out of range for axis %d of input %s",
                         (long long)c->attrs[INDEX_I].i, (int)axis, GX_SHAPE(s));
    gx_shape out = {0};
    for (int32_t d = 0; d < s->ndim; d++)
        if (d != axis) out.dims[out.ndim++] = s->dims[d];
    c->outputs[0].dtype = c->inputs[0].dtype;
    c->outputs[0].shape = out;
    return GX_OK;
}

/* Put the removed axis back with size 1, then pad it with zeros up to the input's size. */
static gx_status index_vjp(gx_builder *b, const gx_vjp_args *a) {
    gx_tensor_info x;
    int32_t axis = 0;
    int64_t i = 0;
    gx_val g;
    if (a->d_outputs[0] == GX_VAL_NONE) return GX_OK;
    GX_TRY(core_info(b, a, a->inputs[0], &x));
    if (!core_axis(a->attrs[INDEX_AXIS].i, x.shape.ndim, &axis) ||
        !index_position(a->attrs[INDEX_I].i, x.shape.dims[axis], &i))
        return core_vjp_fail(a, "index", "position out of range");
    gx_shape kept = x.shape;
    kept.dims[axis] = 1;
    GX_TRY(core_reshape_to(b, a, a->d_outputs[0], &kept, &g));
    gx_attr_kv kv[3] = {core_kv_int("axis", axis), core_kv_int("before", i),
                        core_kv_int("after", x.shape.dims[axis] - 1 - i)};
    return core_emit1a(b, a, "pad", g, kv, 3, &a->d_inputs[0]);
}

// ---- examples -----------------------------------------------------------------------------

static const gx_op_example reshape_examples[] = {
    {.name = "[2,3,4] to [4,-1]", .n_inputs = 1, .inputs = {CORE_EX_F64(-2, 2, 2, 3, 4)},
     .n_attrs = 1, .attrs = {CORE_KV_INTS("shape", 4, -1)}},
    {.name = "[1,1] to a scalar", .n_inputs = 1, .inputs = {CORE_EX_F64(-2, 2, 1, 1)},
     .n_attrs = 1, .attrs = {{.name = "shape", .value = {.type = GX_ATTR_INTS, .n_ints = 0}}}},
    {.name = NULL},
};

static const gx_op_example broadcast_to_examples[] = {
    {.name = "[3,1] to [2,3,4]", .n_inputs = 1, .inputs = {CORE_EX_F64(-2, 2, 3, 1)},
     .n_attrs = 1, .attrs = {CORE_KV_INTS("shape", 2, 3, 4)}},
    {.name = "scalar to [2,3]", .n_inputs = 1, .inputs = {CORE_EX_F64_SCALAR(-2, 2)},
     .n_attrs = 1, .attrs = {CORE_KV_INTS("shape", 2, 3)}},
    {.name = NULL},
};

static const gx_op_example concat_examples[] = {
    {.name = "three inputs on axis 1", .n_inputs = 3,
     .inputs = {CORE_EX_F64(-2, 2, 2, 1, 3), CORE_EX_F64(-2, 2, 2, 2, 3),
                CORE_EX_F64(-2, 2, 2, 3, 3)},
     .n_attrs = 1, .attrs = {CORE_KV_INT("axis", 1)}},
    {.name = "two inputs on the default axis 0", .n_inputs = 2,
     .inputs = {CORE_EX_F64(-2, 2, 2, 3), CORE_EX_F64(-2, 2, 1, 3)}},
    {.name = "axis -1", .n_inputs = 2,
     .inputs = {CORE_EX_F64(-2, 2, 2, 2), CORE_EX_F64(-2, 2, 2, 3)},
     .n_attrs = 1, .attrs = {CORE_KV_INT("axis", -1)}},
    {.name = NULL},
};

static const gx_op_example split_examples[] = {
    {.name = "3 parts on the last axis", .n_inputs = 1, .inputs = {CORE_EX_F64(-2, 2, 2, 6)},
     .n_attrs = 1, .attrs = {CORE_KV_INT("parts", 3)}},
    {.name = "2 parts on axis 0", .n_inputs = 1, .inputs = {CORE_EX_F64(-2, 2, 4, 3)},
     .n_attrs = 2, .attrs = {CORE_KV_INT("parts", 2), CORE_KV_INT("axis", 0)}},
    {.name = NULL},
};

static const gx_op_example slice_examples[] = {
    {.name = "[1,4) of axis 1 of [4,5]", .n_inputs = 1, .inputs = {CORE_EX_F64(-2, 2, 4, 5)},
     .n_attrs = 3,
     .attrs = {CORE_KV_INT("axis", 1), CORE_KV_INT("start", 1), CORE_KV_INT("end", 4)}},
    {.name = "negative axis and bounds", .n_inputs = 1, .inputs = {CORE_EX_F64(-2, 2, 4, 5)},
     .n_attrs = 3,
     .attrs = {CORE_KV_INT("axis", -2), CORE_KV_INT("start", -3), CORE_KV_INT("end", -1)}},
    {.name = NULL},
};

static const gx_op_example pad_examples[] = {
    {.name = "both sides of axis 1", .n_inputs = 1, .inputs = {CORE_EX_F64(-2, 2, 2, 3)},
     .n_attrs = 3,
     .attrs = {CORE_KV_INT("axis", 1), CORE_KV_INT("before", 1), CORE_KV_INT("after", 2)}},
    {.name = "after only, axis -2", .n_inputs = 1, .inputs = {CORE_EX_F64(-2, 2, 2, 3)},
     .n_attrs = 2, .attrs = {CORE_KV_INT("axis", -2), CORE_KV_INT("after", 1)}},
    {.name = NULL},
};

static const gx_op_example index_examples[] = {
    {.name = "row 1 of [3,4]", .n_inputs = 1, .inputs = {CORE_EX_F64(-2, 2, 3, 4)},
     .n_attrs = 2, .attrs = {CORE_KV_INT("axis", 0), CORE_KV_INT("i", 1)}},
    {.name = "last of the last axis of [2,3,4]", .n_inputs = 1,
     .inputs = {CORE_EX_F64(-2, 2, 2, 3, 4)},
     .n_attrs = 2, .attrs = {CORE_KV_INT("axis", -1), CORE_KV_INT("i", -1)}},
    {.name = NULL},
};

// ---- attributes ---------------------------------------------------------------------------

static const gx_attr_desc reshape_attrs[] = {
    CORE_ATTR_REQUIRED("shape", GX_ATTR_INTS, "the new shape; one entry may be -1 (inferred)"),
    CORE_ATTR_END,
};

static const gx_attr_desc broadcast_to_attrs[] = {
    CORE_ATTR_REQUIRED("shape", GX_ATTR_INTS, "the target shape; x must broadcast to it"),
    CORE_ATTR_END,
};

static const gx_attr_desc concat_attrs[] = {
    CORE_ATTR_INT("axis", 0, "the axis to join on"),
    CORE_ATTR_END,
};

static const gx_attr_desc split_attrs[] = {
    CORE_ATTR_REQUIRED("parts", GX_ATTR_INT, "number of equal outputs"),
    CORE_ATTR_INT("axis", -1, "the axis to cut"),
    CORE_ATTR_END,
};

static const gx_attr_desc slice_attrs[] = {
    CORE_ATTR_REQUIRED("axis", GX_ATTR_INT, "the axis to cut"),
    CORE_ATTR_REQUIRED("start", GX_ATTR_INT, "first position kept; negative counts from the end"),
    CORE_ATTR_REQUIRED("end", GX_ATTR_INT,
                       "one past the last position; negative counts from the end"),
    CORE_ATTR_END,
};

static const gx_attr_desc pad_attrs[] = {
    CORE_ATTR_REQUIRED("axis", GX_ATTR_INT, "the axis to extend"),
    CORE_ATTR_INT("before", 0, "zeros added before the data"),
    CORE_ATTR_INT("after", 0, "zeros added after the data"),
    CORE_ATTR_END,
};

static const gx_attr_desc index_attrs[] = {
    CORE_ATTR_REQUIRED("axis", GX_ATTR_INT, "the axis to index (removed from the output)"),
    CORE_ATTR_REQUIRED("i", GX_ATTR_INT, "the position; negative counts from the end"),
    CORE_ATTR_END,
};

// ---- the table ----------------------------------------------------------------------------

#define SHAPE_OP(name_, doc_, min_in_, max_in_, n_out_, prefix_)                               \
    {.size = sizeof(gx_op_desc), .name = name_, .doc = doc_, .min_inputs = min_in_,             \
     .max_inputs = max_in_, .n_outputs = n_out_, .attrs = prefix_##_attrs,                      \
     .infer = prefix_##_infer, .vjp = prefix_##_vjp, .examples = prefix_##_examples}

static const gx_op_desc shape_ops[] = {
    SHAPE_OP("reshape", "same elements in a new shape", 1, 1, 1, reshape),
    SHAPE_OP("broadcast_to", "stretch size-1 and missing axes to a shape", 1, 1, 1, broadcast_to),
    SHAPE_OP("concat", "join tensors along an axis", 1, -1, 1, concat),
    SHAPE_OP("split", "cut a tensor into equal parts along an axis", 1, 1, -1, split),
    SHAPE_OP("slice", "the window [start, end) of an axis", 1, 1, 1, slice),
    SHAPE_OP("pad", "add zeros before and after an axis", 1, 1, 1, pad),
    SHAPE_OP("index", "one position of an axis, that axis removed", 1, 1, 1, index),
};

gx_status gx_core_register_shape(const gx_host_api *api, gx_host *host) {
    return gx_register_ops(api, host, shape_ops, GX_COUNT(shape_ops));
}
