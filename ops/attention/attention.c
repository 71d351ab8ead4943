/*
 * attention.c: gx-op-attention.so, attention over a sequence of encoder states for one decoder
 * step, as decompositions into core ops (no kernels, no VJPs):
 *
 *   attention_dot(q, keys, mask)                     Luong dot      score_s = q . k_s
 *   attention_general(q, keys, mask, W)              Luong general  score_s = q W k_s^T
 *   attention_additive(q, keys, mask, W_q, W_k, v)   Bahdanau       score_s = v . tanh(W_q q
 *                                                                             + W_k k_s)
 *
 * then weights = softmax over the unmasked positions and context = sum_s weights_s k_s (the keys
 * are also the values, as in Luong's and Bahdanau's models where both are the encoder states).
 * Shapes: q [B, Hq], keys [B, S, Hk], mask [B, S] (i32, or the float dtype of q; non-zero =
 * attend). Outputs: context [B, Hk], weights [B, S]. The formulas and layouts are in
 * ops/README.md.
 *
 * Why decompositions: the engine expands an op that has one and no kernel into the ops it emits
 * wherever it is called, so attention runs on every backend that runs matmul/softmax/where and
 * autodiff differentiates the expansion; a fused kernel could be registered later without
 * changing any graph. The weights are named as the probe "attention.weights" (GX_PROBE_DIST),
 * which diagnostics keep per time step and the report draws as a heatmap.
 */
#include <gexec/plugin-helpers.h>

#include <stdint.h>

/* The score given to masked positions before the softmax: exp(NEG - max) is exactly 0 in f32
 * and f64 whenever one position is unmasked, and finite (no -inf - -inf = NaN) when none is. */
#define ATT_NEG (-1e30)

enum { ATT_DOT, ATT_GENERAL, ATT_ADDITIVE };

static const char *const att_names[] = {"attention_dot", "attention_general", "attention_additive"};

// ---- shape inference ----------------------------------------------------------------------

static int att_dtype_float(gx_dtype dt) {
    return dt == GX_DTYPE_F32 || dt == GX_DTYPE_F64;
}

/* input k must be `dt` with rank `ndim` and the given dims (-1: any) */
static gx_status att_check(const gx_infer_ctx *c, const char *op, int32_t k, const char *what,
                           const char *want_text, gx_dtype dt, int32_t ndim, const int64_t *dims) {
    const gx_tensor_info *t = &c->inputs[k];
    if (t->dtype != dt)
        return gx_infer_fail(c, GX_ERR_DTYPE, op, "%s must be %s like the query, got %s", what,
                             gx_dtype_name(dt), gx_dtype_name(t->dtype));
    int ok = t->shape.ndim == ndim;
    for (int32_t i = 0; ok && i < ndim; i++) ok = dims[i] < 0 || t->shape.dims[i] == dims[i];
    if (!ok)
        return gx_infer_fail(c, GX_ERR_SHAPE, op, "%s must be %s, got %s", what, want_text,
                             GX_SHAPE(&t->shape));
    return GX_OK;
}

/*
 * query [B, Hq], keys [B, S, Hk], mask [B, S], then per kind: nothing (dot: Hq = Hk), W [Hq, Hk]
 * (general), W_q [A, Hq], W_k [A, Hk], v [A] (additive). Outputs context [B, Hk], weights [B, S].
 */
static gx_status att_infer(gx_infer_ctx *c, int kind) {
    const char *op = att_names[kind];
    static const int32_t n_in[] = {3, 4, 6};
    if (c->n_inputs != n_in[kind])
        return gx_infer_fail(c, GX_ERR_INVALID, op, "takes %d inputs, got %d", (int)n_in[kind],
                             (int)c->n_inputs);
    if (c->inputs == NULL || c->outputs == NULL)
        return gx_infer_fail(c, GX_ERR_INVALID, op, "no input descriptions or no room for outputs");
    const gx_tensor_info *q = &c->inputs[0], *keys = &c->inputs[1], *mask = &c->inputs[2];
    if (!att_dtype_float(q->dtype))
        return gx_infer_fail(c, GX_ERR_DTYPE, op, "query must be f32 or f64, got %s",
                             gx_dtype_name(q->dtype));
    if (q->shape.ndim != 2)
        return gx_infer_fail(c, GX_ERR_SHAPE, op, "query must be [B, Hq], got %s",
                             GX_SHAPE(&q->shape));
    int64_t B = q->shape.dims[0], Hq = q->shape.dims[1];
    int64_t want_keys[3] = {B, -1, kind == ATT_DOT ? Hq : -1};
    GX_TRY(att_check(c, op, 1, "keys", kind == ATT_DOT ? "[B, S, H] (H of the query)"
                     : "[B, S, Hk] (B of the query)", q->dtype, 3, want_keys));
    int64_t S = keys->shape.dims[1], Hk = keys->shape.dims[2];
    if (S < 1)
        return gx_infer_fail(c, GX_ERR_SHAPE, op, "keys %s has no positions to attend to",
                             GX_SHAPE(&keys->shape));
    if (mask->dtype != GX_DTYPE_I32 && mask->dtype != q->dtype)
        return gx_infer_fail(c, GX_ERR_DTYPE, op, "mask must be i32 or %s (the query's dtype), "
                             "got %s", gx_dtype_name(q->dtype), gx_dtype_name(mask->dtype));
    int64_t want_mask[2] = {B, S};
    GX_TRY(att_check(c, op, 2, "mask", "[B, S] like the keys", mask->dtype, 2, want_mask));
    if (kind == ATT_GENERAL) {
        int64_t want_w[2] = {Hq, Hk};
        GX_TRY(att_check(c, op, 3, "W", "[Hq, Hk] (query size, key size)", q->dtype, 2, want_w));
    } else if (kind == ATT_ADDITIVE) {
        int64_t want_wq[2] = {-1, Hq};
        GX_TRY(att_check(c, op, 3, "W_q", "[A, Hq] (A: the attention size)", q->dtype, 2,
                         want_wq));
        int64_t A = c->inputs[3].shape.dims[0];
        int64_t want_wk[2] = {A, Hk}, want_v[1] = {A};
        GX_TRY(att_check(c, op, 4, "W_k", "[A, Hk] (A of W_q)", q->dtype, 2, want_wk));
        GX_TRY(att_check(c, op, 5, "v", "[A] (A of W_q)", q->dtype, 1, want_v));
    }
    c->outputs[0].dtype = q->dtype;
    c->outputs[0].shape = (gx_shape){.ndim = 2, .dims = {B, Hk}};
    c->outputs[1].dtype = q->dtype;
    c->outputs[1].shape = (gx_shape){.ndim = 2, .dims = {B, S}};
    c->n_outputs = 2;
    return GX_OK;
}

static gx_status att_dot_infer(gx_infer_ctx *c) { return att_infer(c, ATT_DOT); }
static gx_status att_general_infer(gx_infer_ctx *c) { return att_infer(c, ATT_GENERAL); }
static gx_status att_additive_infer(gx_infer_ctx *c) { return att_infer(c, ATT_ADDITIVE); }

// ---- decomposition ------------------------------------------------------------------------

typedef struct att_builder {
    gx_builder              *b;
    const gx_decompose_args *a;
} att_builder;

static gx_status att_reshape(const att_builder *ab, gx_val x, int32_t ndim, int64_t d0,
                             int64_t d1, int64_t d2, gx_val *out) {
    gx_attr_kv kv = {.name = "shape", .value = {.type = GX_ATTR_INTS, .n_ints = ndim,
                                                .ints = {d0, d1, d2}}};
    return ab->a->api->emit(ab->b, "reshape", &x, 1, &kv, 1, out, 1);
}

static gx_status att_op2(const att_builder *ab, const char *op, gx_val x, gx_val y, gx_val *out) {
    return gx_emit2(ab->a->api, ab->b, op, x, y, out);
}

static gx_status att_op1(const att_builder *ab, const char *op, gx_val x, gx_val *out) {
    return gx_emit1(ab->a->api, ab->b, op, x, out);
}

static gx_status att_where(const att_builder *ab, gx_val cond, gx_val x, double otherwise,
                           gx_dtype dt, gx_val *out) {
    gx_shape scalar = {0};
    gx_val k, in[3];
    GX_TRY(ab->a->api->emit_constant(ab->b, otherwise, dt, &scalar, &k));
    in[0] = cond;
    in[1] = x;
    in[2] = k;
    return ab->a->api->emit(ab->b, "where", in, 3, NULL, 0, out, 1);
}

/*
 * scores [B, S] of the kind, then
 *   weights = where(mask, softmax(where(mask, scores, NEG)), 0)
 *   context = reshape(reshape(weights, [B, 1, S]) @ keys, [B, Hk])
 * The outer where makes masked weights exactly 0 and turns a fully masked row (whose softmax
 * is uniform over NEGs) into zeros: its context is 0 and no NaN appears, forward or backward.
 */
static gx_status att_decompose(gx_builder *b, const gx_decompose_args *a, int kind) {
    static const int32_t n_in[] = {3, 4, 6};
    const att_builder ab = {b, a};
    if (a->n_inputs != n_in[kind] || a->n_outputs != 2)
        return a->api->set_error(a->host, GX_ERR_INVALID, "%s: decomposition: unexpected input "
                                 "or output count", att_names[kind]);
    gx_val q = a->inputs[0], keys = a->inputs[1], mask = a->inputs[2];
    gx_tensor_info qi, ki;
    GX_TRY(a->api->value_info(b, q, &qi));
    GX_TRY(a->api->value_info(b, keys, &ki));
    int64_t B = qi.shape.dims[0], S = ki.shape.dims[1], Hk = ki.shape.dims[2];
    gx_val scores, t, u;
    if (kind == ATT_ADDITIVE) {
        gx_tensor_info wi;
        GX_TRY(a->api->value_info(b, a->inputs[3], &wi));
        int64_t A = wi.shape.dims[0];
        gx_val qp, kp, e;
        GX_TRY(att_op1(&ab, "transpose", a->inputs[3], &t));
        GX_TRY(att_op2(&ab, "matmul", q, t, &qp));                  /* [B, A]      */
        GX_TRY(att_reshape(&ab, qp, 3, B, 1, A, &qp));               /* [B, 1, A]   */
        GX_TRY(att_op1(&ab, "transpose", a->inputs[4], &t));
        GX_TRY(att_op2(&ab, "matmul", keys, t, &kp));                /* [B, S, A]   */
        GX_TRY(att_op2(&ab, "add", kp, qp, &e));
        GX_TRY(att_op1(&ab, "tanh", e, &e));
        GX_TRY(att_reshape(&ab, a->inputs[5], 2, A, 1, 0, &u));      /* v as [A, 1] */
        GX_TRY(att_op2(&ab, "matmul", e, u, &scores));               /* [B, S, 1]   */
    } else {
        gx_val qk = q;
        if (kind == ATT_GENERAL)
            GX_TRY(att_op2(&ab, "matmul", q, a->inputs[3], &qk));    /* [B, Hk]     */
        GX_TRY(att_reshape(&ab, qk, 3, B, 1, Hk, &u));               /* [B, 1, Hk]  */
        GX_TRY(att_op1(&ab, "transpose", keys, &t));                 /* [B, Hk, S]  */
        GX_TRY(att_op2(&ab, "matmul", u, t, &scores));               /* [B, 1, S]   */
    }
    GX_TRY(att_reshape(&ab, scores, 2, B, S, 0, &scores));
    gx_val w, ctx;
    GX_TRY(att_where(&ab, mask, scores, ATT_NEG, qi.dtype, &t));
    gx_attr_kv axis = {.name = "axis", .value = {.type = GX_ATTR_INT, .i = -1}};
    GX_TRY(a->api->emit(b, "softmax", &t, 1, &axis, 1, &u, 1));
    GX_TRY(att_where(&ab, mask, u, 0.0, qi.dtype, &w));
    GX_TRY(att_reshape(&ab, w, 3, B, 1, S, &t));
    GX_TRY(att_op2(&ab, "matmul", t, keys, &ctx));                   /* [B, 1, Hk]  */
    GX_TRY(att_reshape(&ab, ctx, 2, B, Hk, 0, &a->outputs[0]));
    a->outputs[1] = w;
    if (a->n_probes >= 1 && a->probe_values != NULL && a->probe_kinds != NULL) {
        a->probe_values[0] = w;
        a->probe_kinds[0] = GX_PROBE_DIST;
    }
    return GX_OK;
}

static gx_status att_dot_decompose(gx_builder *b, const gx_decompose_args *a) {
    return att_decompose(b, a, ATT_DOT);
}
static gx_status att_general_decompose(gx_builder *b, const gx_decompose_args *a) {
    return att_decompose(b, a, ATT_GENERAL);
}
static gx_status att_additive_decompose(gx_builder *b, const gx_decompose_args *a) {
    return att_decompose(b, a, ATT_ADDITIVE);
}

// ---- examples -----------------------------------------------------------------------------

#define ATT_NARGS(...) ((int32_t)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)))
#define ATT_EX(...)                                                                     \
    { .dtype = GX_DTYPE_F64, .ndim = ATT_NARGS(__VA_ARGS__), .dims = {__VA_ARGS__},     \
      .lo = -1.0, .hi = 1.0 }
/* an i32 mask of 0s and 1s: some positions, sometimes whole rows, are padding */
#define ATT_MASK(...)                                                                   \
    { .dtype = GX_DTYPE_I32, .ndim = ATT_NARGS(__VA_ARGS__), .dims = {__VA_ARGS__},     \
      .lo = 0, .hi = 1 }
/* a mask of zeros: every row fully masked (weights and context 0, gradients 0, no NaN) */
#define ATT_NONE(...)                                                                   \
    { .dtype = GX_DTYPE_I32, .ndim = ATT_NARGS(__VA_ARGS__), .dims = {__VA_ARGS__},     \
      .lo = 0, .hi = 0 }
/* a mask of ones in the query's dtype (a float mask whose every position attends) */
#define ATT_ONES(...)                                                                   \
    { .dtype = GX_DTYPE_F64, .ndim = ATT_NARGS(__VA_ARGS__), .dims = {__VA_ARGS__},     \
      .lo = 1.0, .hi = 1.0 }

static const gx_op_example att_dot_examples[] = {
    {.name = "B=2 S=4 H=3, i32 mask", .n_inputs = 3,
     .inputs = {ATT_EX(2, 3), ATT_EX(2, 4, 3), ATT_MASK(2, 4)}},
    {.name = "B=3 S=5 H=2, i32 mask", .n_inputs = 3,
     .inputs = {ATT_EX(3, 2), ATT_EX(3, 5, 2), ATT_MASK(3, 5)}},
    {.name = "B=2 S=3 H=4, float mask of ones", .n_inputs = 3,
     .inputs = {ATT_EX(2, 4), ATT_EX(2, 3, 4), ATT_ONES(2, 3)}},
    {.name = "B=2 S=3 H=2, every row masked", .n_inputs = 3,
     .inputs = {ATT_EX(2, 2), ATT_EX(2, 3, 2), ATT_NONE(2, 3)}},
    {.name = NULL},
};

static const gx_op_example att_general_examples[] = {
    {.name = "B=2 S=4 Hq=3 Hk=5, i32 mask", .n_inputs = 4,
     .inputs = {ATT_EX(2, 3), ATT_EX(2, 4, 5), ATT_MASK(2, 4), ATT_EX(3, 5)}},
    {.name = "B=3 S=2 Hq=2 Hk=2, i32 mask", .n_inputs = 4,
     .inputs = {ATT_EX(3, 2), ATT_EX(3, 2, 2), ATT_MASK(3, 2), ATT_EX(2, 2)}},
    {.name = "B=1 S=5 Hq=4 Hk=3, float mask of ones", .n_inputs = 4,
     .inputs = {ATT_EX(1, 4), ATT_EX(1, 5, 3), ATT_ONES(1, 5), ATT_EX(4, 3)}},
    {.name = NULL},
};

static const gx_op_example att_additive_examples[] = {
    {.name = "B=2 S=4 Hq=3 Hk=5 A=6, i32 mask", .n_inputs = 6,
     .inputs = {ATT_EX(2, 3), ATT_EX(2, 4, 5), ATT_MASK(2, 4), ATT_EX(6, 3), ATT_EX(6, 5),
                ATT_EX(6)}},
    {.name = "B=3 S=3 Hq=2 Hk=2 A=4, i32 mask", .n_inputs = 6,
     .inputs = {ATT_EX(3, 2), ATT_EX(3, 3, 2), ATT_MASK(3, 3), ATT_EX(4, 2), ATT_EX(4, 2),
                ATT_EX(4)}},
    {.name = "B=1 S=6 Hq=3 Hk=4 A=2, float mask of ones", .n_inputs = 6,
     .inputs = {ATT_EX(1, 3), ATT_EX(1, 6, 4), ATT_ONES(1, 6), ATT_EX(2, 3), ATT_EX(2, 4),
                ATT_EX(2)}},
    {.name = NULL},
};

// ---- the table ----------------------------------------------------------------------------

static const char *const att_probes[] = {"attention.weights", NULL};

#define ATT_OP(name_, doc_, n_in_, infer_, decompose_, examples_)                          \
    {.size = sizeof(gx_op_desc), .name = (name_), .doc = (doc_), .min_inputs = (n_in_),   \
     .max_inputs = (n_in_), .n_outputs = 2, .nodiff_inputs = 1u << 2, .infer = (infer_),  \
     .examples = (examples_), .probes = att_probes, .decompose = (decompose_)}

static const gx_op_desc att_ops[] = {
    ATT_OP("attention_dot", "Luong dot attention: (context [B, H], weights [B, S]) of query "
           "[B, H] over keys [B, S, H] with mask [B, S]", 3, att_dot_infer, att_dot_decompose,
           att_dot_examples),
    ATT_OP("attention_general", "Luong general attention: score = q W k^T, W [Hq, Hk]; "
           "(context [B, Hk], weights [B, S])", 4, att_general_infer, att_general_decompose,
           att_general_examples),
    ATT_OP("attention_additive", "Bahdanau attention: score = v . tanh(W_q q + W_k k), "
           "W_q [A, Hq], W_k [A, Hk], v [A]; (context [B, Hk], weights [B, S])", 6,
           att_additive_infer, att_additive_decompose, att_additive_examples),
};

GX_PLUGIN_ENTRY(attention_ops, "0.1.0") {
    return gx_register_ops(api, host, att_ops, GX_COUNT(att_ops));
}
