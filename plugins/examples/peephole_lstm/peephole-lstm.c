/*
 * peephole-lstm.c: the schemas of peephole_lstm_cell and of its fused backward op, the probes
 * that diagnostics read, the gradient-check examples, and the plugin's entry point.
 *
 *   a = x W_ih^T + b_ih + h W_hh^T + b_hh, split along the last axis into a_i a_f a_g a_o
 *   i  = sigmoid(a_i + p_i * c)         p_i, p_f, p_o: the blocks of w_peep
 *   f  = sigmoid(a_f + p_f * c)
 *   g  = tanh(a_g)
 *   c' = f * c + i * g
 *   o  = sigmoid(a_o + p_o * c')        the output gate peeks at the new cell state
 *   h' = o * tanh(c')
 *
 * The VJP emits one peephole_lstm_cell_backward node, which recomputes the gates from the
 * cell's inputs (kernels-cpu-scalar.c), so a loop over time keeps only each step's inputs for
 * the backward pass, as the built-in lstm_cell does.
 */
#include "peephole-lstm.h"

static const char *const pl_input_names[PL_N_GRADS + PL_N_INPUTS] = {
    "dh_next", "dc_next", "x", "h", "c", "W_ih", "W_hh", "b_ih", "b_hh", "w_peep"};

// ---- shape inference ------------------------------------------------------------------------

typedef struct pl_dims {
    int64_t  B, I, H;
    gx_dtype dtype;
} pl_dims;

/* Is input k exactly [d0] (ndim 1) or [d0, d1] (ndim 2)? */
static int pl_is(const gx_infer_ctx *c, int32_t k, int32_t ndim, int64_t d0, int64_t d1) {
    const gx_shape *s = &c->inputs[k].shape;
    return s->ndim == ndim && s->dims[0] == d0 && (ndim < 2 || s->dims[1] == d1);
}

/* Checks the cell's inputs, which start at index `first` (after the backward op's gradients),
 * and returns B, I, H and the dtype. Messages name the input and the shape it must have. */
static gx_status pl_check(gx_infer_ctx *c, const char *op, int32_t first, pl_dims *d) {
    if (c->n_inputs != first + PL_N_INPUTS)
        return gx_infer_fail(c, GX_ERR_INVALID, op, "takes %d inputs, got %d",
                             (int)(first + PL_N_INPUTS), (int)c->n_inputs);
    gx_dtype dt = c->inputs[first + PL_X].dtype;
    if (dt != GX_DTYPE_F32 && dt != GX_DTYPE_F64)
        return gx_infer_fail(c, GX_ERR_DTYPE, op, "x must be f32 or f64, got %s",
                             gx_dtype_name(dt));
    for (int32_t k = 0; k < c->n_inputs; k++)
        if (c->inputs[k].dtype != dt)
            return gx_infer_fail(c, GX_ERR_DTYPE, op, "all inputs must be %s like x: %s is %s",
                                 gx_dtype_name(dt), pl_input_names[PL_N_GRADS - first + k],
                                 gx_dtype_name(c->inputs[k].dtype));
    const gx_shape *sx = &c->inputs[first + PL_X].shape, *sh = &c->inputs[first + PL_H].shape;
    if (sx->ndim != 2 || sh->ndim != 2)
        return gx_infer_fail(c, GX_ERR_SHAPE, op, "x and h must be [B, I] and [B, H], got %s "
                             "and %s", GX_SHAPE(sx), GX_SHAPE(sh));
    int64_t B = sx->dims[0], I = sx->dims[1], H = sh->dims[1];
    if (sh->dims[0] != B)
        return gx_infer_fail(c, GX_ERR_SHAPE, op, "h must have x's batch size %lld, got %s",
                             (long long)B, GX_SHAPE(sh));
    if (H > INT64_MAX / 4)
        return gx_infer_fail(c, GX_ERR_SHAPE, op, "hidden size %lld too large", (long long)H);
    /* what every other input must be, given B, I and H */
    static const struct { int32_t k, ndim, g; const char *want; } rules[] = {
        {PL_C, 2, 0, "[B, H]"},    {PL_W_IH, 2, 4, "[4H, I]"}, {PL_W_HH, 2, 4, "[4H, H]"},
        {PL_B_IH, 1, 4, "[4H]"},   {PL_B_HH, 1, 4, "[4H]"},    {PL_W_PEEP, 1, 3, "[3H]"}};
    for (size_t r = 0; r < GX_COUNT(rules); r++) {
        int32_t k = rules[r].k;
        int64_t d0 = rules[r].g ? rules[r].g * H : B;
        int64_t d1 = k == PL_W_IH ? I : H;
        if (!pl_is(c, first + k, rules[r].ndim, d0, d1))
            return gx_infer_fail(c, GX_ERR_SHAPE, op, "%s must be %s with B = %lld, I = %lld, "
                                 "H = %lld, got %s", pl_input_names[PL_N_GRADS + k],
                                 rules[r].want, (long long)B, (long long)I, (long long)H,
                                 GX_SHAPE(&c->inputs[first + k].shape));
    }
    /* the backward op's dh' and dc' are [B, H] like h */
    for (int32_t k = 0; k < first; k++)
        if (!pl_is(c, k, 2, B, H))
            return gx_infer_fail(c, GX_ERR_SHAPE, op, "%s must be [B, H] = [%lld, %lld], got %s",
                                 pl_input_names[k], (long long)B, (long long)H,
                                 GX_SHAPE(&c->inputs[k].shape));
    d->B = B;
    d->I = I;
    d->H = H;
    d->dtype = dt;
    return GX_OK;
}

static gx_tensor_info pl_info(gx_dtype dt, int32_t ndim, int64_t d0, int64_t d1) {
    gx_tensor_info t = {.dtype = dt, .shape = {.ndim = ndim, .dims = {d0, d1}}};
    return t;
}

static gx_status pl_cell_infer(gx_infer_ctx *c) {
    pl_dims d;
    GX_TRY(pl_check(c, "peephole_lstm_cell", 0, &d));
    c->outputs[0] = pl_info(d.dtype, 2, d.B, d.H);   /* h' */
    c->outputs[1] = pl_info(d.dtype, 2, d.B, d.H);   /* c' */
    c->n_outputs = 2;
    return GX_OK;
}

/* one gradient per cell input, shaped like it: dx dh dc dW_ih dW_hh db_ih db_hh dw_peep */
static gx_status pl_backward_infer(gx_infer_ctx *c) {
    pl_dims d;
    GX_TRY(pl_check(c, "peephole_lstm_cell_backward", PL_N_GRADS, &d));
    for (int32_t k = 0; k < PL_N_INPUTS; k++) c->outputs[k] = c->inputs[PL_N_GRADS + k];
    c->n_outputs = PL_N_INPUTS;
    return GX_OK;
}

// ---- VJP --------------------------------------------------------------------------------------

/* One fused node, peephole_lstm_cell_backward(dh', dc', the cell's inputs...). When only h' or
 * only c' reaches the loss, the other gradient is a zeros constant: the kernel then needs no
 * special case, and the constant costs one fill. */
static gx_status pl_cell_vjp(gx_builder *b, const gx_vjp_args *a) {
    if (a->n_inputs != PL_N_INPUTS || a->n_outputs != 2)
        return a->api->set_error(a->host, GX_ERR_INVALID,
                                 "peephole_lstm_cell: gradient: unexpected node (%d inputs, %d "
                                 "outputs)", (int)a->n_inputs, (int)a->n_outputs);
    gx_val in[PL_N_GRADS + PL_N_INPUTS], out[PL_N_INPUTS];
    for (int32_t j = 0; j < PL_N_GRADS; j++) {
        in[j] = a->d_outputs[j];
        if (in[j] == GX_VAL_NONE) {
            gx_tensor_info info;
            GX_TRY(a->api->value_info(b, a->outputs[j], &info));
            GX_TRY(a->api->emit_constant(b, 0.0, info.dtype, &info.shape, &in[j]));
        }
    }
    for (int32_t k = 0; k < PL_N_INPUTS; k++) in[PL_N_GRADS + k] = a->inputs[k];
    GX_TRY(a->api->emit(b, "peephole_lstm_cell_backward", in, PL_N_GRADS + PL_N_INPUTS, NULL, 0,
                        out, PL_N_INPUTS));
    for (int32_t k = 0; k < PL_N_INPUTS; k++) a->d_inputs[k] = out[k];
    return GX_OK;
}

// ---- probes -----------------------------------------------------------------------------------

/* The fused cell keeps no gates, so its probes recompute them with core ops, the way a
 * composite cell written in a .graph file would: diagnostics run these nodes only on the steps
 * they log, and report them under the same names as lstm_cell's. */
static const char *const pl_probes[] = {"gate.input", "gate.forget", "gate.cell", "gate.output",
                                        "cell", NULL};

static gx_status pl_split(const gx_probe_args *a, gx_builder *b, gx_val v, int32_t parts,
                          gx_val *out) {
    gx_attr_kv kv[2] = {{.name = "parts", .value = {.type = GX_ATTR_INT, .i = parts}},
                        {.name = "axis", .value = {.type = GX_ATTR_INT, .i = -1}}};
    return a->api->emit(b, "split", &v, 1, kv, 2, out, parts);
}

/* v @ transpose(w) + bias */
static gx_status pl_affine(const gx_probe_args *a, gx_builder *b, gx_val v, gx_val w, gx_val bias,
                           gx_val *out) {
    gx_val wt;
    GX_TRY(gx_emit1(a->api, b, "transpose", w, &wt));
    GX_TRY(gx_emit2(a->api, b, "matmul", v, wt, out));
    return gx_emit2(a->api, b, "add", *out, bias, out);
}

/* sigmoid(pre + peep * state): a gate that peeks at a cell state */
static gx_status pl_peek(const gx_probe_args *a, gx_builder *b, gx_val pre, gx_val peep,
                         gx_val state, gx_val *out) {
    gx_val t;
    GX_TRY(gx_emit2(a->api, b, "mul", state, peep, &t));
    GX_TRY(gx_emit2(a->api, b, "add", pre, t, &t));
    return gx_emit1(a->api, b, "sigmoid", t, out);
}

static gx_status pl_cell_probe(gx_builder *b, const gx_probe_args *a) {
    if (a->n_probes < 5 || a->n_inputs != PL_N_INPUTS || a->n_outputs != 2) return GX_OK;
    const gx_val *in = a->inputs;
    gx_val gi, gh, pre, blk[4], peep[3];
    GX_TRY(pl_affine(a, b, in[PL_X], in[PL_W_IH], in[PL_B_IH], &gi));
    GX_TRY(pl_affine(a, b, in[PL_H], in[PL_W_HH], in[PL_B_HH], &gh));
    GX_TRY(gx_emit2(a->api, b, "add", gi, gh, &pre));
    GX_TRY(pl_split(a, b, pre, 4, blk));
    GX_TRY(pl_split(a, b, in[PL_W_PEEP], 3, peep));
    GX_TRY(pl_peek(a, b, blk[0], peep[0], in[PL_C], &a->values[0]));
    GX_TRY(pl_peek(a, b, blk[1], peep[1], in[PL_C], &a->values[1]));
    GX_TRY(gx_emit1(a->api, b, "tanh", blk[2], &a->values[2]));
    GX_TRY(pl_peek(a, b, blk[3], peep[2], a->outputs[1], &a->values[3]));
    a->values[4] = a->outputs[1];
    a->kinds[0] = a->kinds[1] = a->kinds[3] = GX_PROBE_SIGMOID;
    a->kinds[2] = GX_PROBE_TANH;
    a->kinds[4] = GX_PROBE_PLAIN;
    return GX_OK;
}

// ---- gradient-check examples -----------------------------------------------------------------

/* an f64 input drawn from [-1, 1] */
#define PL_EX1(d0) {.dtype = GX_DTYPE_F64, .ndim = 1, .dims = {d0}, .lo = -1.0, .hi = 1.0}
#define PL_EX2(d0, d1) {.dtype = GX_DTYPE_F64, .ndim = 2, .dims = {d0, d1}, .lo = -1.0, .hi = 1.0}
/* the cell's 8 inputs for batch B, input size I, hidden size H */
#define PL_CASE(label, B, I, H)                                                             \
    {.name = label, .n_inputs = PL_N_INPUTS,                                                \
     .inputs = {PL_EX2(B, I), PL_EX2(B, H), PL_EX2(B, H), PL_EX2(4 * (H), I),               \
                PL_EX2(4 * (H), H), PL_EX1(4 * (H)), PL_EX1(4 * (H)), PL_EX1(3 * (H))}}

#if GX_MAX_EXAMPLE_INPUTS < 8
#error "peephole_lstm_cell's gradient-check examples need GX_MAX_EXAMPLE_INPUTS >= 8"
#endif
/* `gexec check-op` also draws random variants of each case's dims, some of which keep a dim
 * that is a multiple of a smaller one (4H, 3H) tied to it. In the last case 4H and 3H are
 * multiples of H and of no other dim, so those variants are valid cells. */
static const gx_op_example pl_examples[] = {
    PL_CASE("B=2 I=3 H=4", 2, 3, 4),
    PL_CASE("B=1 I=3 H=4", 1, 3, 4),
    PL_CASE("B=5 I=7 H=4", 5, 7, 4),
    {.name = NULL},
};

// ---- the table and the entry point -----------------------------------------------------------

static const gx_op_desc pl_ops[] = {
    {.size = sizeof(gx_op_desc), .name = "peephole_lstm_cell",
     .doc = "peephole LSTM cell (Gers & Schmidhuber 2000), gates i f g o: (x, h, c, W_ih, W_hh, "
            "b_ih, b_hh, w_peep[3H]) -> (h', c')",
     .min_inputs = PL_N_INPUTS, .max_inputs = PL_N_INPUTS, .n_outputs = 2,
     .infer = pl_cell_infer, .vjp = pl_cell_vjp, .examples = pl_examples, .probes = pl_probes,
     .probe = pl_cell_probe, .recurrent_inputs = 1u << PL_W_HH},
    {.size = sizeof(gx_op_desc), .name = "peephole_lstm_cell_backward",
     .doc = "gradients of peephole_lstm_cell: (dh', dc', x, h, c, W_ih, W_hh, b_ih, b_hh, w_peep) "
            "-> (dx, dh, dc, dW_ih, dW_hh, db_ih, db_hh, dw_peep)",
     .min_inputs = PL_N_GRADS + PL_N_INPUTS, .max_inputs = PL_N_GRADS + PL_N_INPUTS,
     .n_outputs = PL_N_INPUTS, .infer = pl_backward_infer,
     .grad_exempt = "a backward op: checked through the gradient check of peephole_lstm_cell"},
};

GX_PLUGIN_ENTRY(peephole_lstm, "0.1.0") {
    GX_TRY(gx_register_ops(api, host, pl_ops, GX_COUNT(pl_ops)));
    return pl_register_cpu_scalar(api, host);
}
