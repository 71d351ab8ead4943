/*
 * nn.c: schemas of the losses and lookups of a network: cross_entropy (and its fused backward
 * cross_entropy_grad), mse, embedding (and its backward embedding_backward).
 *
 * Index inputs (targets, idx) are i32 and get no gradient; neither does the loss mask, which is
 * data. Out-of-range indices can only be seen at run time, so the kernels report them; infer
 * checks shapes and dtypes. No kernels here.
 */
#include "core.h"

// ---- cross_entropy ------------------------------------------------------------------------

enum { CE_IGNORE_INDEX };

/* Checks logits [..., C], targets i32[...] and the optional mask float[...] starting at input
 * `first` (0 for cross_entropy, 1 for cross_entropy_grad, whose input 0 is dy). */
static gx_status ce_check(gx_infer_ctx *c, const char *op, int32_t first) {
    const gx_tensor_info *logits = &c->inputs[first], *targets = &c->inputs[first + 1];
    GX_TRY(core_check_attr(c, op, CE_IGNORE_INDEX, "ignore_index", GX_ATTR_INT));
    GX_TRY(core_check_float(c, op, first, "logits"));
    if (logits->shape.ndim < 1)
        return gx_infer_fail(c, GX_ERR_SHAPE, op,
                         "logits must have a class axis ([..., C]), got a scalar");
    if (logits->shape.dims[logits->shape.ndim - 1] == 0)
        return gx_infer_fail(c, GX_ERR_SHAPE, op, "logits %s has no classes",
                         GX_SHAPE(&logits->shape));
    if (targets->dtype != GX_DTYPE_I32)
        return gx_infer_fail(c, GX_ERR_DTYPE, op, "targets must be i32, got %s",
                         gx_dtype_name(targets->dtype));
    gx_shape lead = logits->shape;
    lead.ndim -= 1;
    if (!core_shape_equal(&targets->shape, &lead))
        return gx_infer_fail(c, GX_ERR_SHAPE, op,
                         "targets must be logits' shape without the class axis: logits %s wants "
                         "targets %s, got %s", GX_SHAPE(&logits->shape), GX_SHAPE(&lead),
                         GX_SHAPE(&targets->shape));
    if (c->n_inputs > first + 2) {
        const gx_tensor_info *mask = &c->inputs[first + 2];
        if (mask->dtype != logits->dtype)
            return gx_infer_fail(c, GX_ERR_DTYPE, op, "mask must be %s like logits, got %s",
                             gx_dtype_name(logits->dtype), gx_dtype_name(mask->dtype));
        if (!core_shape_equal(&mask->shape, &lead))
            return gx_infer_fail(c, GX_ERR_SHAPE, op, "mask must have the shape of targets %s, got %s",
                             GX_SHAPE(&lead), GX_SHAPE(&mask->shape));
    }
    return GX_OK;
}

static gx_status cross_entropy_infer(gx_infer_ctx *c) {
    const char *op = "cross_entropy";
    GX_TRY(core_check_inputs(c, op, 2, 3));
    GX_TRY(ce_check(c, op, 0));
    gx_tensor_info out = {.dtype = c->inputs[0].dtype};   /* a scalar */
    c->outputs[0] = out;
    return GX_OK;
}

static gx_status cross_entropy_grad_infer(gx_infer_ctx *c) {
    const char *op = "cross_entropy_grad";
    GX_TRY(core_check_inputs(c, op, 3, 4));
    GX_TRY(ce_check(c, op, 1));
    const gx_tensor_info *dy = &c->inputs[0];
    if (dy->dtype != c->inputs[1].dtype)
        return gx_infer_fail(c, GX_ERR_DTYPE, op, "dy must be %s like logits, got %s",
                         gx_dtype_name(c->inputs[1].dtype), gx_dtype_name(dy->dtype));
    if (dy->shape.ndim != 0)
        return gx_infer_fail(c, GX_ERR_SHAPE, op, "dy must be a scalar, got %s",
                         GX_SHAPE(&dy->shape));
    c->outputs[0] = c->inputs[1];
    return GX_OK;
}

/* One fused backward node: softmax, one-hot and the masked mean in a single kernel. */
static gx_status cross_entropy_vjp(gx_builder *b, const gx_vjp_args *a) {
    gx_val in[4];
    int32_t n = 0;
    if (a->d_outputs[0] == GX_VAL_NONE) return GX_OK;
    if (a->n_inputs < 2 || a->n_inputs > 3)
        return core_vjp_fail(a, "cross_entropy", "takes 2 or 3 inputs");
    in[n++] = a->d_outputs[0];
    for (int32_t i = 0; i < a->n_inputs; i++) in[n++] = a->inputs[i];
    gx_attr_kv kv = core_kv_int("ignore_index", a->attrs[CE_IGNORE_INDEX].i);
    return a->api->emit(b, "cross_entropy_grad", in, n, &kv, 1, &a->d_inputs[0], 1);
}

// ---- mse ----------------------------------------------------------------------------------

static gx_status mse_infer(gx_infer_ctx *c) {
    const char *op = "mse";
    GX_TRY(core_check_inputs(c, op, 2, 2));
    GX_TRY(core_check_float(c, op, 0, "pred"));
    GX_TRY(core_check_float(c, op, 1, "target"));
    GX_TRY(core_check_same_dtype(c, op, 0, "pred", 1, "target"));
    /* no broadcasting: a [N] vs [N, 1] mix-up would silently average an N x N grid */
    if (!core_shape_equal(&c->inputs[0].shape, &c->inputs[1].shape))
        return gx_infer_fail(c, GX_ERR_SHAPE, op, "pred and target must have the same shape, got %s "
                         "and %s", GX_SHAPE(&c->inputs[0].shape),
                         GX_SHAPE(&c->inputs[1].shape));
    gx_tensor_info out = {.dtype = c->inputs[0].dtype};   /* a scalar */
    c->outputs[0] = out;
    return GX_OK;
}

/* dpred = dy * 2 (pred - target) / N, dtarget = -dpred. */
static gx_status mse_vjp(gx_builder *b, const gx_vjp_args *a) {
    gx_val dy = a->d_outputs[0], diff, k, t;
    gx_tensor_info pred;
    int64_t n;
    if (dy == GX_VAL_NONE) return GX_OK;
    GX_TRY(core_info(b, a, a->inputs[0], &pred));
    if (!core_numel(&pred.shape, &n)) return core_vjp_fail(a, "mse", "bad input shape");
    GX_TRY(gx_emit2(a->api, b, "sub", a->inputs[0], a->inputs[1], &diff));
    /* an empty input has an empty gradient: avoid 2/0 in the constant */
    GX_TRY(core_scalar(b, a, n > 0 ? 2.0 / (double)n : 0.0, pred.dtype, &k));
    GX_TRY(gx_emit2(a->api, b, "mul", diff, k, &t));
    GX_TRY(gx_emit2(a->api, b, "mul", t, dy, &a->d_inputs[0]));
    return gx_emit1(a->api, b, "neg", a->d_inputs[0], &a->d_inputs[1]);
}

// ---- embedding ----------------------------------------------------------------------------

static gx_status embedding_infer(gx_infer_ctx *c) {
    const char *op = "embedding";
    GX_TRY(core_check_inputs(c, op, 2, 2));
    GX_TRY(core_check_float(c, op, 0, "table"));
    const gx_tensor_info *table = &c->inputs[0], *idx = &c->inputs[1];
    if (table->shape.ndim != 2)
        return gx_infer_fail(c, GX_ERR_SHAPE, op, "table must be [V, E], got %s",
                         GX_SHAPE(&table->shape));
    if (idx->dtype != GX_DTYPE_I32)
        return gx_infer_fail(c, GX_ERR_DTYPE, op, "idx must be i32, got %s",
                         gx_dtype_name(idx->dtype));
    if (idx->shape.ndim + 1 > GX_MAX_DIMS)
        return gx_infer_fail(c, GX_ERR_SHAPE, op,
                         "idx %s has rank %d: the output would exceed rank %d",
                         GX_SHAPE(&idx->shape), (int)idx->shape.ndim, GX_MAX_DIMS);
    gx_tensor_info out = {.dtype = table->dtype, .shape = idx->shape};
    out.shape.dims[out.shape.ndim++] = table->shape.dims[1];
    c->outputs[0] = out;
    return GX_OK;
}

/* Scatter-add dy into a zero table of V rows. */
static gx_status embedding_vjp(gx_builder *b, const gx_vjp_args *a) {
    gx_tensor_info table;
    gx_val in[2];
    if (a->d_outputs[0] == GX_VAL_NONE) return GX_OK;
    GX_TRY(core_info(b, a, a->inputs[0], &table));
    if (table.shape.ndim != 2) return core_vjp_fail(a, "embedding", "table is not [V, E]");
    in[0] = a->d_outputs[0];
    in[1] = a->inputs[1];
    gx_attr_kv kv = core_kv_int("rows", table.shape.dims[0]);
    return a->api->emit(b, "embedding_backward", in, 2, &kv, 1, &a->d_inputs[0], 1);
}

enum { EMB_BACKWARD_ROWS };

static gx_status embedding_backward_infer(gx_infer_ctx *c) {
    const char *op = "embedding_backward";
    GX_TRY(core_check_inputs(c, op, 2, 2));
    GX_TRY(core_check_attr(c, op, EMB_BACKWARD_ROWS, "rows", GX_ATTR_INT));
    GX_TRY(core_check_float(c, op, 0, "dy"));
    const gx_tensor_info *dy = &c->inputs[0], *idx = &c->inputs[1];
    int64_t rows = c->attrs[EMB_BACKWARD_ROWS].i;
    if (rows < 0)
        return gx_infer_fail(c, GX_ERR_INVALID, op, "rows must be >= 0, got %lld", (long long)rows);
    if (idx->dtype != GX_DTYPE_I32)
        return gx_infer_fail(c, GX_ERR_DTYPE, op, "idx must be i32, got %s",
                         gx_dtype_name(idx->dtype));
    gx_shape lead = dy->shape;
    lead.ndim -= 1;
    if (dy->shape.ndim < 1 || !core_shape_equal(&lead, &idx->shape))
        return gx_infer_fail(c, GX_ERR_SHAPE, op,
                         "dy must be idx's shape plus [E]: idx is %s, dy is %s",
                         GX_SHAPE(&idx->shape), GX_SHAPE(&dy->shape));
    gx_tensor_info out = {.dtype = dy->dtype};
    out.shape.ndim = 2;
    out.shape.dims[0] = rows;
    out.shape.dims[1] = dy->shape.dims[dy->shape.ndim - 1];
    c->outputs[0] = out;
    return GX_OK;
}

/* embedding_backward is linear in dy; its transpose is the row gather. */
static gx_status embedding_backward_vjp(gx_builder *b, const gx_vjp_args *a) {
    if (a->d_outputs[0] == GX_VAL_NONE) return GX_OK;
    return gx_emit2(a->api, b, "embedding", a->d_outputs[0], a->inputs[1], &a->d_inputs[0]);
}

// ---- examples -----------------------------------------------------------------------------

/* Targets stay in [0, C-1]; the ignore_index case uses a class that does occur, so some
 * positions drop out; the mask is continuous in [0, 1] (weights, not just on/off). */
static const gx_op_example cross_entropy_examples[] = {
    {.name = "logits [4,5], no mask", .n_inputs = 2,
     .inputs = {CORE_EX_F64(-2, 2, 4, 5), CORE_EX_I32(0, 4, 4)}},
    {.name = "logits [2,3,4] with a mask", .n_inputs = 3,
     .inputs = {CORE_EX_F64(-2, 2, 2, 3, 4), CORE_EX_I32(0, 3, 2, 3), CORE_EX_F64(0, 1, 2, 3)}},
    {.name = "ignore_index = 1 on logits [6,3]", .n_inputs = 2,
     .inputs = {CORE_EX_F64(-2, 2, 6, 3), CORE_EX_I32(0, 2, 6)},
     .n_attrs = 1, .attrs = {CORE_KV_INT("ignore_index", 1)}},
    {.name = NULL},
};

/* For gexec check-op only: cross_entropy_grad is exempt from the gradient check. */
static const gx_op_example cross_entropy_grad_examples[] = {
    {.name = "logits [4,5] with a mask", .n_inputs = 4,
     .inputs = {CORE_EX_F64_SCALAR(0.5, 2), CORE_EX_F64(-2, 2, 4, 5), CORE_EX_I32(0, 4, 4),
                CORE_EX_F64(0, 1, 4)}},
    {.name = NULL},
};

static const gx_op_example mse_examples[] = {
    {.name = "[2,3]", .n_inputs = 2,
     .inputs = {CORE_EX_F64(-2, 2, 2, 3), CORE_EX_F64(-2, 2, 2, 3)}},
    {.name = "scalars", .n_inputs = 2,
     .inputs = {CORE_EX_F64_SCALAR(-2, 2), CORE_EX_F64_SCALAR(-2, 2)}},
    {.name = NULL},
};

/* 8 lookups into 5 rows: some rows repeat, so the gradient accumulation is exercised. */
static const gx_op_example embedding_examples[] = {
    {.name = "table [5,3], idx [2,4]", .n_inputs = 2,
     .inputs = {CORE_EX_F64(-2, 2, 5, 3), CORE_EX_I32(0, 4, 2, 4)}},
    {.name = "scalar idx", .n_inputs = 2,
     .inputs = {CORE_EX_F64(-2, 2, 5, 3), CORE_EX_I32_SCALAR(0, 4)}},
    {.name = NULL},
};

static const gx_op_example embedding_backward_examples[] = {
    {.name = "dy [2,4,3] into 5 rows", .n_inputs = 2,
     .inputs = {CORE_EX_F64(-2, 2, 2, 4, 3), CORE_EX_I32(0, 4, 2, 4)},
     .n_attrs = 1, .attrs = {CORE_KV_INT("rows", 5)}},
    {.name = "dy [3,2] into 4 rows", .n_inputs = 2,
     .inputs = {CORE_EX_F64(-2, 2, 3, 2), CORE_EX_I32(0, 3, 3)},
     .n_attrs = 1, .attrs = {CORE_KV_INT("rows", 4)}},
    {.name = NULL},
};

// ---- attributes ---------------------------------------------------------------------------

static const gx_attr_desc cross_entropy_attrs[] = {
    CORE_ATTR_INT("ignore_index", -100, "positions with this target do not count"),
    CORE_ATTR_END,
};

static const gx_attr_desc embedding_backward_attrs[] = {
    CORE_ATTR_REQUIRED("rows", GX_ATTR_INT, "V, the number of rows of the table"),
    CORE_ATTR_END,
};

// ---- the table ----------------------------------------------------------------------------

static const gx_op_desc nn_ops[] = {
    {.size = sizeof(gx_op_desc), .name = "cross_entropy",
     .doc = "mean of -log_softmax(logits)[target] over counted positions (mask, ignore_index)",
     .min_inputs = 2, .max_inputs = 3, .n_outputs = 1, .attrs = cross_entropy_attrs,
     .nodiff_inputs = 0x6, .infer = cross_entropy_infer, .vjp = cross_entropy_vjp,
     .examples = cross_entropy_examples},
    {.size = sizeof(gx_op_desc), .name = "cross_entropy_grad",
     .doc = "gradient of cross_entropy w.r.t. logits: (softmax - onehot) * w / sum(w) * dy",
     .min_inputs = 3, .max_inputs = 4, .n_outputs = 1, .attrs = cross_entropy_attrs,
     .nodiff_inputs = 0xF, .infer = cross_entropy_grad_infer,
     .examples = cross_entropy_grad_examples,
     .grad_exempt = "a backward op: its correctness is checked through the gradient check of "
                    "cross_entropy"},
    {.size = sizeof(gx_op_desc), .name = "mse", .doc = "mean of (pred - target)^2",
     .min_inputs = 2, .max_inputs = 2, .n_outputs = 1, .infer = mse_infer, .vjp = mse_vjp,
     .examples = mse_examples},
    {.size = sizeof(gx_op_desc), .name = "embedding", .doc = "rows of table [V, E] at i32 idx",
     .min_inputs = 2, .max_inputs = 2, .n_outputs = 1, .nodiff_inputs = 0x2,
     .infer = embedding_infer, .vjp = embedding_vjp, .examples = embedding_examples},
    {.size = sizeof(gx_op_desc), .name = "embedding_backward",
     .doc = "scatter-add dy rows at idx into a zero [rows, E] table",
     .min_inputs = 2, .max_inputs = 2, .n_outputs = 1, .attrs = embedding_backward_attrs,
     .nodiff_inputs = 0x2, .infer = embedding_backward_infer, .vjp = embedding_backward_vjp,
     .examples = embedding_backward_examples},
};

gx_status gx_core_register_nn(const gx_host_api *api, gx_host *host) {
    return gx_register_ops(api, host, nn_ops, GX_COUNT(nn_ops));
}
