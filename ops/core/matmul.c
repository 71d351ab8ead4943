/*
 * matmul.c: schemas of matmul and of the axis-reordering ops transpose and permute.
 *
 * matmul multiplies the last two axes ([..., M, K] @ [..., K, N]) and broadcasts the batch axes
 * in front of them, NumPy-style; there is no 1-D vector form (both operands have rank >= 2).
 * Its VJP reuses transpose and matmul and sums broadcast batch axes back with emit_sum_to;
 * the gradient of a shared right operand ([..., M, K] @ [K, N], every linear layer) is one
 * matmul_tn over all the leading axes, which no transpose has to materialise.
 *
 * matmul_tn(a [..., M], b [..., N]) -> [M, N] contracts every leading axis:
 * y[m, n] = sum over the leading index L of a[L, m] b[L, n] (a^T b with the leading axes
 * flattened). It is the weight gradient of a layer over a whole batch of sequences in one
 * product; the engine lifts a loop's per-step weight gradients into one of these.
 * No kernels here.
 */
#include "core.h"

// ---- matmul -------------------------------------------------------------------------------

static gx_status matmul_infer(gx_infer_ctx *c) {
    const char *op = "matmul";
    GX_TRY(core_check_inputs(c, op, 2, 2));
    GX_TRY(core_check_float(c, op, 0, "a"));
    GX_TRY(core_check_float(c, op, 1, "b"));
    GX_TRY(core_check_same_dtype(c, op, 0, "a", 1, "b"));
    const gx_shape *sa = &c->inputs[0].shape, *sb = &c->inputs[1].shape;
    if (sa->ndim < 2 || sb->ndim < 2)
        return gx_infer_fail(c, GX_ERR_SHAPE, op, "both operands need rank >= 2: a is %s, b is %s",
                         GX_SHAPE(sa), GX_SHAPE(sb));
    int64_t m = sa->dims[sa->ndim - 2], k = sa->dims[sa->ndim - 1];
    int64_t kb = sb->dims[sb->ndim - 2], n = sb->dims[sb->ndim - 1];
    if (k != kb)
        return gx_infer_fail(c, GX_ERR_SHAPE, op, "inner dimensions differ: a is %s, b is %s",
                         GX_SHAPE(sa), GX_SHAPE(sb));
    gx_shape ba = *sa, bb = *sb, batch;
    ba.ndim -= 2;
    bb.ndim -= 2;
    if (!core_broadcast2(&ba, &bb, &batch))
        return gx_infer_fail(c, GX_ERR_SHAPE, op, "batch dimensions do not broadcast: a is %s, b is %s",
                         GX_SHAPE(sa), GX_SHAPE(sb));
    /* batch rank <= GX_MAX_DIMS - 2 since both inputs have rank <= GX_MAX_DIMS */
    batch.dims[batch.ndim] = m;
    batch.dims[batch.ndim + 1] = n;
    batch.ndim += 2;
    c->outputs[0].dtype = c->inputs[0].dtype;
    c->outputs[0].shape = batch;
    return GX_OK;
}

/* da = sum_to(dy @ b^T, a.shape), db = sum_to(a^T @ dy, b.shape). sum_to folds the batch axes
 * that broadcasting stretched (e.g. [2,3,4] @ [4,5]: db arrives as [2,4,5]). */
static gx_status matmul_vjp(gx_builder *b, const gx_vjp_args *a) {
    gx_val dy = a->d_outputs[0], t, g;
    gx_tensor_info ia, ib;
    if (dy == GX_VAL_NONE) return GX_OK;
    GX_TRY(core_info(b, a, a->inputs[0], &ia));
    GX_TRY(core_info(b, a, a->inputs[1], &ib));
    GX_TRY(gx_emit1(a->api, b, "transpose", a->inputs[1], &t));
    GX_TRY(gx_emit2(a->api, b, "matmul", dy, t, &g));
    GX_TRY(a->api->emit_sum_to(b, g, &ia.shape, &a->d_inputs[0]));
    if (ib.shape.ndim == 2)   /* shared b: db = a^T dy summed over every leading axis */
        return gx_emit2(a->api, b, "matmul_tn", a->inputs[0], dy, &a->d_inputs[1]);
    GX_TRY(gx_emit1(a->api, b, "transpose", a->inputs[0], &t));
    GX_TRY(gx_emit2(a->api, b, "matmul", t, dy, &g));
    return a->api->emit_sum_to(b, g, &ib.shape, &a->d_inputs[1]);
}

// ---- matmul_tn ----------------------------------------------------------------------------

static gx_status matmul_tn_infer(gx_infer_ctx *c) {
    const char *op = "matmul_tn";
    GX_TRY(core_check_inputs(c, op, 2, 2));
    GX_TRY(core_check_float(c, op, 0, "a"));
    GX_TRY(core_check_float(c, op, 1, "b"));
    GX_TRY(core_check_same_dtype(c, op, 0, "a", 1, "b"));
    const gx_shape *sa = &c->inputs[0].shape, *sb = &c->inputs[1].shape;
    int same = sa->ndim >= 2 && sa->ndim == sb->ndim;
    for (int32_t d = 0; same && d < sa->ndim - 1; d++) same = sa->dims[d] == sb->dims[d];
    if (!same)
        return gx_infer_fail(c, GX_ERR_SHAPE, op, "a [..., M] and b [..., N] need rank >= 2 and "
                             "the same leading axes: a is %s, b is %s", GX_SHAPE(sa), GX_SHAPE(sb));
    c->outputs[0].dtype = c->inputs[0].dtype;
    c->outputs[0].shape = (gx_shape){.ndim = 2,
                                     .dims = {sa->dims[sa->ndim - 1], sb->dims[sb->ndim - 1]}};
    return GX_OK;
}

/* y = a^T b over the leading axes: da = b dy^T, db = a dy (matmul broadcasts dy's 2-D matrix
 * over the leading axes). */
static gx_status matmul_tn_vjp(gx_builder *b, const gx_vjp_args *a) {
    gx_val dy = a->d_outputs[0], t;
    if (dy == GX_VAL_NONE) return GX_OK;
    GX_TRY(gx_emit1(a->api, b, "transpose", dy, &t));
    GX_TRY(gx_emit2(a->api, b, "matmul", a->inputs[1], t, &a->d_inputs[0]));
    return gx_emit2(a->api, b, "matmul", a->inputs[0], dy, &a->d_inputs[1]);
}

// ---- transpose ----------------------------------------------------------------------------

enum { TRANSPOSE_DIM0, TRANSPOSE_DIM1 };

static gx_status transpose_infer(gx_infer_ctx *c) {
    const char *op = "transpose";
    GX_TRY(core_check_inputs(c, op, 1, 1));
    GX_TRY(core_check_attr(c, op, TRANSPOSE_DIM0, "dim0", GX_ATTR_INT));
    GX_TRY(core_check_attr(c, op, TRANSPOSE_DIM1, "dim1", GX_ATTR_INT));
    const gx_shape *s = &c->inputs[0].shape;
    if (s->ndim < 2)
        return gx_infer_fail(c, GX_ERR_SHAPE, op, "needs rank >= 2, got %s", GX_SHAPE(s));
    int32_t d0 = 0, d1 = 0;
    GX_TRY(core_infer_axis(c, op, "dim0", c->attrs[TRANSPOSE_DIM0].i, s, &d0));
    GX_TRY(core_infer_axis(c, op, "dim1", c->attrs[TRANSPOSE_DIM1].i, s, &d1));
    gx_shape out = *s;
    out.dims[d0] = s->dims[d1];
    out.dims[d1] = s->dims[d0];
    c->outputs[0].dtype = c->inputs[0].dtype;
    c->outputs[0].shape = out;
    return GX_OK;
}

/* A swap is its own inverse: transpose dy over the same two axes. */
static gx_status transpose_vjp(gx_builder *b, const gx_vjp_args *a) {
    if (a->d_outputs[0] == GX_VAL_NONE) return GX_OK;
    gx_attr_kv kv[2] = {core_kv_int("dim0", a->attrs[TRANSPOSE_DIM0].i),
                        core_kv_int("dim1", a->attrs[TRANSPOSE_DIM1].i)};
    return core_emit1a(b, a, "transpose", a->d_outputs[0], kv, 2, &a->d_inputs[0]);
}

// ---- permute ------------------------------------------------------------------------------

enum { PERMUTE_AXES };

/* Normalise axes into perm (a permutation of [0, ndim)); 0 when it is not one. */
static int permute_parse(const gx_attr_value *axes, int32_t ndim, int32_t perm[GX_MAX_DIMS]) {
    unsigned seen = 0;
    if (axes->n_ints != ndim) return 0;
    for (int32_t i = 0; i < ndim; i++) {
        if (!core_axis(axes->ints[i], ndim, &perm[i])) return 0;
        if (seen & (1u << perm[i])) return 0;
        seen |= 1u << perm[i];
    }
    return 1;
}

static gx_status permute_infer(gx_infer_ctx *c) {
    const char *op = "permute";
    GX_TRY(core_check_inputs(c, op, 1, 1));
    GX_TRY(core_check_attr(c, op, PERMUTE_AXES, "axes", GX_ATTR_INTS));
    const gx_shape *s = &c->inputs[0].shape;
    const gx_attr_value *axes = &c->attrs[PERMUTE_AXES];
    int32_t perm[GX_MAX_DIMS];
    if (!permute_parse(axes, s->ndim, perm)) {
        gx_shape as_shape = {0};  /* only to print the list */
        as_shape.ndim = axes->n_ints;
        for (int32_t i = 0; i < axes->n_ints; i++) as_shape.dims[i] = axes->ints[i];
        return gx_infer_fail(c, GX_ERR_SHAPE, op,
                         "axes %s is not a permutation of the %d axes of input %s",
                         GX_SHAPE(&as_shape), (int)s->ndim, GX_SHAPE(s));
    }
    gx_shape out = *s;
    for (int32_t i = 0; i < s->ndim; i++) out.dims[i] = s->dims[perm[i]];
    c->outputs[0].dtype = c->inputs[0].dtype;
    c->outputs[0].shape = out;
    return GX_OK;
}

/* out axis i came from input axis perm[i], so the inverse sends axis perm[i] back to i. */
static gx_status permute_vjp(gx_builder *b, const gx_vjp_args *a) {
    if (a->d_outputs[0] == GX_VAL_NONE) return GX_OK;
    gx_tensor_info x;
    GX_TRY(core_info(b, a, a->inputs[0], &x));
    int32_t perm[GX_MAX_DIMS];
    if (!permute_parse(&a->attrs[PERMUTE_AXES], x.shape.ndim, perm))
        return core_vjp_fail(a, "permute", "axes is not a permutation of the input's axes");
    int64_t inv[GX_MAX_DIMS];
    for (int32_t i = 0; i < x.shape.ndim; i++) inv[perm[i]] = i;
    gx_attr_kv kv = core_kv_ints("axes", inv, x.shape.ndim);
    return core_emit1a(b, a, "permute", a->d_outputs[0], &kv, 1, &a->d_inputs[0]);
}

// ---- examples and attributes --------------------------------------------------------------

static const gx_op_example matmul_examples[] = {
    {.name = "plain [3,4] @ [4,2]", .n_inputs = 2,
     .inputs = {CORE_EX_F64(-2, 2, 3, 4), CORE_EX_F64(-2, 2, 4, 2)}},
    {.name = "batched a, shared b: [2,3,4] @ [4,5]", .n_inputs = 2,
     .inputs = {CORE_EX_F64(-2, 2, 2, 3, 4), CORE_EX_F64(-2, 2, 4, 5)}},
    {.name = "batch broadcast both ways: [2,1,2,3] @ [3,3,2]", .n_inputs = 2,
     .inputs = {CORE_EX_F64(-2, 2, 2, 1, 2, 3), CORE_EX_F64(-2, 2, 3, 3, 2)}},
    /* one output tile over a long K: the shape a GPU backend splits over K */
    {.name = "long K: [2,300] @ [300,3]", .n_inputs = 2,
     .inputs = {CORE_EX_F64(-1, 1, 2, 300), CORE_EX_F64(-1, 1, 300, 3)}},
    {.name = NULL},
};

static const gx_op_example matmul_tn_examples[] = {
    {.name = "[5,3]^T [5,2]", .n_inputs = 2,
     .inputs = {CORE_EX_F64(-2, 2, 5, 3), CORE_EX_F64(-2, 2, 5, 2)}},
    {.name = "over two leading axes: [2,3,4] and [2,3,5]", .n_inputs = 2,
     .inputs = {CORE_EX_F64(-2, 2, 2, 3, 4), CORE_EX_F64(-2, 2, 2, 3, 5)}},
    {.name = "long L: [300,2]^T [300,3]", .n_inputs = 2,
     .inputs = {CORE_EX_F64(-1, 1, 300, 2), CORE_EX_F64(-1, 1, 300, 3)}},
    {.name = NULL},
};

static const gx_op_example transpose_examples[] = {
    {.name = "last two axes of [2,3,4]", .n_inputs = 1, .inputs = {CORE_EX_F64(-2, 2, 2, 3, 4)}},
    {.name = "axes 0 and -1 of [2,3,4]", .n_inputs = 1, .inputs = {CORE_EX_F64(-2, 2, 2, 3, 4)},
     .n_attrs = 2, .attrs = {CORE_KV_INT("dim0", 0), CORE_KV_INT("dim1", -1)}},
    {.name = NULL},
};

static const gx_op_example permute_examples[] = {
    {.name = "[2,3,4] by [2,0,1]", .n_inputs = 1, .inputs = {CORE_EX_F64(-2, 2, 2, 3, 4)},
     .n_attrs = 1, .attrs = {CORE_KV_INTS("axes", 2, 0, 1)}},
    {.name = "negative axes [1,-1,0]", .n_inputs = 1, .inputs = {CORE_EX_F64(-2, 2, 2, 3, 4)},
     .n_attrs = 1, .attrs = {CORE_KV_INTS("axes", 1, -1, 0)}},
    {.name = NULL},
};

static const gx_attr_desc transpose_attrs[] = {
    CORE_ATTR_INT("dim0", -2, "the first axis to swap"),
    CORE_ATTR_INT("dim1", -1, "the second axis to swap"),
    CORE_ATTR_END,
};

static const gx_attr_desc permute_attrs[] = {
    CORE_ATTR_REQUIRED("axes", GX_ATTR_INTS, "output axis i is input axis axes[i]"),
    CORE_ATTR_END,
};

// ---- the table ----------------------------------------------------------------------------

static const gx_op_desc matmul_ops[] = {
    {.size = sizeof(gx_op_desc), .name = "matmul",
     .doc = "matrix product over the last two axes, batch axes broadcast",
     .min_inputs = 2, .max_inputs = 2, .n_outputs = 1, .infer = matmul_infer,
     .vjp = matmul_vjp, .examples = matmul_examples},
    {.size = sizeof(gx_op_desc), .name = "matmul_tn",
     .doc = "a^T b summed over every leading axis: ([..., M], [..., N]) -> [M, N]",
     .min_inputs = 2, .max_inputs = 2, .n_outputs = 1, .infer = matmul_tn_infer,
     .vjp = matmul_tn_vjp, .examples = matmul_tn_examples},
    {.size = sizeof(gx_op_desc), .name = "transpose", .doc = "swap two axes (default the last two)",
     .min_inputs = 1, .max_inputs = 1, .n_outputs = 1, .attrs = transpose_attrs,
     .infer = transpose_infer, .vjp = transpose_vjp, .examples = transpose_examples},
    {.size = sizeof(gx_op_desc), .name = "permute", .doc = "reorder all axes",
     .min_inputs = 1, .max_inputs = 1, .n_outputs = 1, .attrs = permute_attrs,
     .infer = permute_infer, .vjp = permute_vjp, .examples = permute_examples},
};

gx_status gx_core_register_matmul(const gx_host_api *api, gx_host *host) {
    return gx_register_ops(api, host, matmul_ops, GX_COUNT(matmul_ops));
}
