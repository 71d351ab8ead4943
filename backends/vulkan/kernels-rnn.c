/*
 * kernels-rnn.c: Vulkan kernels of the recurrent cells and steps (the semantics of
 * backends/cpu-scalar/kernels-rnn.c and kernels-step.c, in f32):
 *   rnn_cell, lstm_cell, gru_cell and their fused *_cell_backward ops;
 *   rnn_step, lstm_step, gru_step (input projection hoisted) and their *_step_backward ops.
 *
 * Weight layouts are PyTorch's (ops/rnn/rnn.h): W_ih [G*H, I], W_hh [G*H, H], gate blocks
 * stacked along the first axis (lstm: i f g o, gru: r z n), biases [G*H] optional (both or
 * neither); the steps take W_hhT = W_hh^T [H, G*H] and gi = x W_ih^T (+ biases) precomputed.
 *
 * A forward is (1) the products into a gate workspace with one tiled matmul shader
 * (rnn-mm.comp, whose epilogue adds a bias, adds another matrix and can apply tanh / relu, so
 * the plain rnn is done by the product alone) and (2) one element-wise pass doing the gate
 * maths (rnn-lstm-fwd, rnn-gru-fwd). The cell backward ops recompute the gates the same way,
 * run the element-wise backward pass (rnn-*-bwd) into gate-gradient workspaces dgi / dgh and
 * finish with products: dx = dgi W_ih, dh = dgh W_hh (+ dh_direct, gru), dW_ih = dgi^T x,
 * dW_hh = dgh^T h (one output per invocation looping over the batch in order), and column
 * sums for the bias gradients (rnn-colsum). The step backward ops are the element-wise pass
 * alone. Every sum runs in a fixed order in one invocation, so results are bit-identical run
 * to run. Workspaces hold f32 (cpu-scalar keeps doubles; the difference is rounding).
 */
#include <stdint.h>
#include <string.h>

#include "vk.h"

#include "rnn_colsum_spv.h"
#include "rnn_gru_bwd_spv.h"
#include "rnn_gru_fwd_spv.h"
#include "rnn_lstm_bwd_spv.h"
#include "rnn_lstm_fwd_spv.h"
#include "rnn_mm_spv.h"
#include "rnn_rnn_bwd_spv.h"

static const vk_shader sh_rnn_mm = VK_SHADER(rnn_mm_spv);
static const vk_shader sh_rnn_colsum = VK_SHADER(rnn_colsum_spv);
static const vk_shader sh_rnn_rnn_bwd = VK_SHADER(rnn_rnn_bwd_spv);
static const vk_shader sh_rnn_lstm_fwd = VK_SHADER(rnn_lstm_fwd_spv);
static const vk_shader sh_rnn_lstm_bwd = VK_SHADER(rnn_lstm_bwd_spv);
static const vk_shader sh_rnn_gru_fwd = VK_SHADER(rnn_gru_fwd_spv);
static const vk_shader sh_rnn_gru_bwd = VK_SHADER(rnn_gru_bwd_spv);

/* The shaders index with 32-bit unsigned arithmetic, and a grid-stride loop may step an index
 * up to the device's invocation count past the end: keep every count below 2^31. */
#define RNN_MAX_ELEMS ((int64_t)INT32_MAX)

/* Workspace blocks start on this many bytes, a multiple of every device's
 * minStorageBufferOffsetAlignment (the spec caps it at 256), so each can be bound on its own. */
#define RNN_WS_ALIGN 256u

/* rnn-mm's ACT */
enum { RNN_ACT_NONE = 0, RNN_ACT_TANH = 1, RNN_ACT_RELU = 2 };

/* the maximum workgroup count per dimension every device supports */
#define RNN_MAX_GROUPS_2D 65535u

// ---- shared pieces ------------------------------------------------------------------------------

static int64_t rnn_numel(const gx_tensor *t) {
    return gx_shape_numel(&t->shape);
}

static int rnn_is_relu(const gx_kernel_args *a) {
    return a->attrs != NULL && a->attrs[0].s != NULL && strcmp(a->attrs[0].s, "relu") == 0;
}

/* Every tensor of the call, and the n_extra sizes the kernel adds (workspace blocks), must fit
 * the shaders' 32-bit indexing. */
static gx_status rnn_check_sizes(const gx_kernel_args *a, const char *op, const int64_t *extra,
                                 int n_extra) {
    int64_t worst = 0;
    for (int32_t i = 0; i < a->n_inputs; i++)
        if (rnn_numel(&a->inputs[i]) > worst) worst = rnn_numel(&a->inputs[i]);
    for (int32_t i = 0; i < a->n_outputs; i++)
        if (rnn_numel(&a->outputs[i]) > worst) worst = rnn_numel(&a->outputs[i]);
    for (int i = 0; i < n_extra; i++)
        if (extra[i] > worst) worst = extra[i];
    if (worst > RNN_MAX_ELEMS)
        return a->api->set_error(a->host, GX_ERR_UNSUPPORTED,
                                 "%s: a tensor of %lld elements is too large for the vulkan "
                                 "backend (at most %lld)", op, (long long)worst,
                                 (long long)RNN_MAX_ELEMS);
    return GX_OK;
}

/* bytes of one workspace block of `floats` floats, rounded up to RNN_WS_ALIGN */
static uint64_t rnn_ws_block(int64_t floats) {
    uint64_t bytes = (uint64_t)(floats > 0 ? floats : 0) * sizeof(float);
    return (bytes + RNN_WS_ALIGN - 1) / RNN_WS_ALIGN * RNN_WS_ALIGN;
}

/* Splits the workspace into n blocks of `floats` floats each, as f32 tensors [floats] the
 * shaders can bind (the engine hands it over untyped). The planner gives what the workspace
 * callback asked, so a shortfall means the caller skipped it: report it rather than bind past
 * the end. */
static gx_status rnn_ws_split(const gx_kernel_args *a, const char *op, int n, int64_t floats,
                              gx_tensor *out) {
    uint64_t block = rnn_ws_block(floats), need = block * (uint64_t)n;
    uint64_t have = a->workspace.shape.ndim == 1 ? (uint64_t)a->workspace.shape.dims[0] : 0;
    if (need > 0 && (a->workspace.buf == NULL || have < need))
        return a->api->set_error(a->host, GX_ERR_INVALID,
                                 "%s: needs a workspace of %llu bytes, got %llu", op,
                                 (unsigned long long)need, (unsigned long long)have);
    for (int i = 0; i < n; i++) {
        gx_tensor t = a->workspace;
        t.dtype = GX_DTYPE_F32;
        t.shape.ndim = 1;
        t.shape.dims[0] = floats;
        t.offset = a->workspace.offset + block * (uint64_t)i;
        t.data = NULL;
        out[i] = t;
    }
    return GX_OK;
}

/* t when it has elements, else `other`: a shader that reads nothing from a binding (a sum over
 * an empty axis) still needs a valid, non-empty buffer there */
static const gx_tensor *rnn_nonempty(const gx_tensor *t, const gx_tensor *other) {
    return t != NULL && rnn_numel(t) > 0 ? t : other;
}

static uint32_t rnn_groups_2d(void *ctx, uint32_t tiles) {
    uint32_t g = vk_groups(ctx, tiles, 1);
    return g < RNN_MAX_GROUPS_2D ? g : RNN_MAX_GROUPS_2D;
}

/*
 * C [M, N] = act(A B + bias + D) on rnn-mm.comp. A is [M, K] (ta = 0) or stored [K, M]
 * (ta = 1); Bm is [K, N] (tb = 0) or stored [N, K] (tb = 1); bias [N] and D [M, N] may be NULL.
 * D may be C itself. Nothing to do when C is empty; with K = 0 C is bias + D.
 */
static gx_status rnn_mm(const gx_kernel_args *a, const gx_tensor *A, int ta, const gx_tensor *Bm,
                        int tb, const gx_tensor *bias, const gx_tensor *D, int act,
                        const gx_tensor *C, int64_t M, int64_t N, int64_t K) {
    if (M == 0 || N == 0) return GX_OK;
    struct { uint32_t M, N, K; } pc = {(uint32_t)M, (uint32_t)N, (uint32_t)K};
    vk_launch l = {
        .shader = &sh_rnn_mm,
        .n_spec = 5,
        .spec = {ta, tb, bias != NULL, D != NULL, act},
        .n_bind = 5,
        .bind = {rnn_nonempty(A, C), rnn_nonempty(Bm, C), bias != NULL ? bias : C,
                 D != NULL ? D : C, C},
        .writes = 1u << 4,
        .push = &pc,
        .push_bytes = sizeof pc,
        .groups = {rnn_groups_2d(a->backend_ctx, (uint32_t)((N + 15) / 16)),
                   rnn_groups_2d(a->backend_ctx, (uint32_t)((M + 15) / 16)), 1},
    };
    return vk_launch_run(a->backend_ctx, a->api, a->host, &l);
}

/* One element-wise pass over n items: the shader, its first n_spec (<= 2) specialization
 * constants, bindings and push constants. */
static gx_status rnn_pass(const gx_kernel_args *a, const vk_shader *sh, uint32_t n_spec,
                          int32_t spec0, int32_t spec1, const gx_tensor *const *bind,
                          uint32_t n_bind, uint32_t writes, const void *push,
                          uint32_t push_bytes, int64_t n) {
    if (n == 0) return GX_OK;
    vk_launch l = {
        .shader = sh,
        .n_spec = n_spec,
        .spec = {spec0, spec1},
        .n_bind = n_bind,
        .writes = writes,
        .push = push,
        .push_bytes = push_bytes,
        .groups = {vk_groups(a->backend_ctx, (uint64_t)n, 256), 1, 1},
    };
    for (uint32_t i = 0; i < n_bind; i++) l.bind[i] = bind[i];
    return vk_launch_run(a->backend_ctx, a->api, a->host, &l);
}

/*
 * The end of every cell backward op. x is [B, I], h is [B, H], w_ih [R, I], w_hh [R, H]
 * (R = G*H); dgi and dgh are [B, R] workspace blocks (the same one when the cell only uses the
 * sum of the two affine maps). outs are (dx, dh, dW_ih, dW_hh, db_ih, db_hh); with dh_direct
 * set, dh already holds it (the gru's z dh' path) and the product adds to it:
 *   dx = dgi W_ih, dh = dgh W_hh (+ dh), dW_ih = dgi^T x, dW_hh = dgh^T h,
 *   db_ih = sum_b dgi, db_hh = sum_b dgh
 */
static gx_status rnn_backward_tail(const gx_kernel_args *a, const gx_tensor *x,
                                   const gx_tensor *h, const gx_tensor *w_ih,
                                   const gx_tensor *w_hh, const gx_tensor *dgi,
                                   const gx_tensor *dgh, int dh_direct,
                                   const gx_tensor *const outs[6], int64_t R) {
    int64_t B = x->shape.dims[0], I = x->shape.dims[1], H = h->shape.dims[1];
    const gx_tensor *dx = outs[0], *dh = outs[1], *dw_ih = outs[2], *dw_hh = outs[3];
    const gx_tensor *db_ih = outs[4], *db_hh = outs[5];
    GX_TRY(rnn_mm(a, dgi, 0, w_ih, 0, NULL, NULL, RNN_ACT_NONE, dx, B, I, R));
    GX_TRY(rnn_mm(a, dgh, 0, w_hh, 0, NULL, dh_direct ? dh : NULL, RNN_ACT_NONE, dh, B, H, R));
    GX_TRY(rnn_mm(a, dgi, 1, x, 0, NULL, NULL, RNN_ACT_NONE, dw_ih, R, I, B));
    GX_TRY(rnn_mm(a, dgh, 1, h, 0, NULL, NULL, RNN_ACT_NONE, dw_hh, R, H, B));
    if (R == 0) return GX_OK;
    struct { uint32_t rows, cols; } pc = {(uint32_t)B, (uint32_t)R};
    const gx_tensor *bind[4] = {rnn_nonempty(dgi, db_ih), rnn_nonempty(dgh, db_hh), db_ih, db_hh};
    return rnn_pass(a, &sh_rnn_colsum, 0, 0, 0, bind, 4, (1u << 2) | (1u << 3), &pc, sizeof pc, R);
}

/* B and H of a backward op, read from its output 1 (dh, [B, H]); 0 when it is not there */
static void rnn_backward_dims(int32_t n_outputs, const gx_tensor_info *outputs, int64_t *B,
                              int64_t *H) {
    *B = *H = 0;
    if (n_outputs < 2 || outputs[1].shape.ndim != 2) return;
    *B = outputs[1].shape.dims[0];
    *H = outputs[1].shape.dims[1];
}

/* B and H of a forward op, from its input 1 (h, [B, H], for the cells and the steps alike) */
static void rnn_forward_dims(int32_t n_inputs, const gx_tensor_info *inputs, int64_t *B,
                             int64_t *H) {
    *B = *H = 0;
    if (n_inputs < 2 || inputs[1].shape.ndim != 2) return;
    *B = inputs[1].shape.dims[0];
    *H = inputs[1].shape.dims[1];
}

// ---- inputs -------------------------------------------------------------------------------------

/* A cell kernel's inputs: n_grads output gradients (backward ops), then x, h, [c,] W_ih, W_hh
 * and, when given, b_ih, b_hh. The one place that knows this layout. */
typedef struct rnn_cell_in {
    const gx_tensor *x, *h, *c, *w_ih, *w_hh, *b_ih, *b_hh;
} rnn_cell_in;

static rnn_cell_in rnn_cell_unpack(const gx_kernel_args *a, int32_t n_grads, int has_c) {
    const gx_tensor *in = a->inputs + n_grads;
    int32_t k = has_c ? 3 : 2; /* index of W_ih */
    rnn_cell_in r = {.x = &in[0], .h = &in[1], .c = has_c ? &in[2] : NULL,
                     .w_ih = &in[k], .w_hh = &in[k + 1]};
    if (a->n_inputs - n_grads > k + 2) {
        r.b_ih = &in[k + 2];
        r.b_hh = &in[k + 3];
    }
    return r;
}

/* The gate pre-activations of a cell that uses only the sum of its affine maps, into ws [B, R]:
 * ws = x W_ih^T + b_ih, then ws = h W_hh^T + b_hh + ws in place (act applied, for the rnn) */
static gx_status rnn_cell_pre(const gx_kernel_args *a, const rnn_cell_in *in, const gx_tensor *ws,
                              int act, const gx_tensor *out, int64_t R) {
    int64_t B = in->x->shape.dims[0], I = in->x->shape.dims[1], H = in->h->shape.dims[1];
    GX_TRY(rnn_mm(a, in->x, 0, in->w_ih, 1, in->b_ih, NULL, RNN_ACT_NONE, ws, B, R, I));
    return rnn_mm(a, in->h, 0, in->w_hh, 1, in->b_hh, ws, act, out, B, R, H);
}

// ---- rnn_cell -----------------------------------------------------------------------------------

static uint64_t rnn_cell_ws(int32_t n_inputs, const gx_tensor_info *inputs, int32_t n_outputs,
                            const gx_tensor_info *outputs, const gx_attr_value *attrs) {
    (void)n_outputs, (void)outputs, (void)attrs;
    int64_t B, H;
    rnn_forward_dims(n_inputs, inputs, &B, &H);
    return rnn_ws_block(B * H);   // gi [B, H]
}

// y [B, H] = act(x W_ih^T + b_ih + h W_hh^T + b_hh): gi into the workspace, then the recurrent
// product adds it and applies act in its epilogue. attrs: nonlinearity ("tanh" or "relu")
static gx_status rnn_cell_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const rnn_cell_in in = rnn_cell_unpack(a, 0, 0);
    int64_t B = in.x->shape.dims[0], H = in.h->shape.dims[1];
    if (B * H == 0) return GX_OK;
    GX_TRY(rnn_check_sizes(a, "rnn_cell", NULL, 0));
    gx_tensor ws;
    GX_TRY(rnn_ws_split(a, "rnn_cell", 1, B * H, &ws));
    return rnn_cell_pre(a, &in, &ws, rnn_is_relu(a) ? RNN_ACT_RELU : RNN_ACT_TANH, &a->outputs[0],
                        H);
}

static uint64_t rnn_cell_backward_ws(int32_t n_inputs, const gx_tensor_info *inputs,
                                     int32_t n_outputs, const gx_tensor_info *outputs,
                                     const gx_attr_value *attrs) {
    (void)n_inputs, (void)inputs, (void)attrs;
    int64_t B, H;
    rnn_backward_dims(n_outputs, outputs, &B, &H);
    return 2 * rnn_ws_block(B * H);   // pre, dpre [B, H]
}

// dy [B, H], then rnn_cell's inputs -> dx, dh, dW_ih, dW_hh, db_ih, db_hh.
// dpre = dy act'(pre) (tanh: 1 - tanh(pre)^2, relu: pre > 0), then the shared tail.
static gx_status rnn_cell_backward_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *dy = &a->inputs[0];
    const rnn_cell_in in = rnn_cell_unpack(a, 1, 0);
    int64_t B = in.x->shape.dims[0], H = in.h->shape.dims[1];
    GX_TRY(rnn_check_sizes(a, "rnn_cell_backward", NULL, 0));
    gx_tensor ws[2];
    GX_TRY(rnn_ws_split(a, "rnn_cell_backward", 2, B * H, ws));
    int relu = rnn_is_relu(a);
    if (B * H > 0) {
        GX_TRY(rnn_cell_pre(a, &in, &ws[0], RNN_ACT_NONE, &ws[0], H));
        struct { uint32_t n; } pc = {(uint32_t)(B * H)};
        const gx_tensor *bind[3] = {dy, &ws[0], &ws[1]};
        GX_TRY(rnn_pass(a, &sh_rnn_rnn_bwd, 2, relu, 1, bind, 3, 1u << 2, &pc, sizeof pc, B * H));
    }
    const gx_tensor *o = a->outputs;
    const gx_tensor *outs[6] = {&o[0], &o[1], &o[2], &o[3], &o[4], &o[5]};
    return rnn_backward_tail(a, in.x, in.h, in.w_ih, in.w_hh, &ws[1], &ws[1], 0, outs, H);
}

// ---- lstm_cell ----------------------------------------------------------------------------------

static uint64_t lstm_cell_ws(int32_t n_inputs, const gx_tensor_info *inputs, int32_t n_outputs,
                             const gx_tensor_info *outputs, const gx_attr_value *attrs) {
    (void)n_outputs, (void)outputs, (void)attrs;
    int64_t B, H;
    rnn_forward_dims(n_inputs, inputs, &B, &H);
    return rnn_ws_block(B * 4 * H);   // pre [B, 4H]
}

// x [B, I], h, c [B, H], W_ih [4H, I], W_hh [4H, H][, b_ih, b_hh [4H]] -> h', c' [B, H]:
// pre = x W_ih^T + b_ih + h W_hh^T + b_hh (two products into the workspace), then rnn-lstm-fwd:
// c' = f c + i g, h' = o tanh(c')
static gx_status lstm_cell_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const rnn_cell_in in = rnn_cell_unpack(a, 0, 1);
    int64_t B = in.x->shape.dims[0], H = in.h->shape.dims[1];
    if (B * H == 0) return GX_OK;
    int64_t extra = B * 4 * H;
    GX_TRY(rnn_check_sizes(a, "lstm_cell", &extra, 1));
    gx_tensor ws;
    GX_TRY(rnn_ws_split(a, "lstm_cell", 1, B * 4 * H, &ws));
    GX_TRY(rnn_cell_pre(a, &in, &ws, RNN_ACT_NONE, &ws, 4 * H));
    struct { uint32_t B, H; } pc = {(uint32_t)B, (uint32_t)H};
    // binding 4 (act) is not touched without HAS_ACT: any valid tensor will do
    const gx_tensor *bind[5] = {&ws, in.c, &a->outputs[0], &a->outputs[1], &a->outputs[0]};
    return rnn_pass(a, &sh_rnn_lstm_fwd, 1, 0, 0, bind, 5, (1u << 2) | (1u << 3), &pc, sizeof pc,
                    B * H);
}

static uint64_t lstm_cell_backward_ws(int32_t n_inputs, const gx_tensor_info *inputs,
                                      int32_t n_outputs, const gx_tensor_info *outputs,
                                      const gx_attr_value *attrs) {
    (void)n_inputs, (void)inputs, (void)attrs;
    int64_t B, H;
    rnn_backward_dims(n_outputs, outputs, &B, &H);
    return 2 * rnn_ws_block(B * 4 * H);   // pre, dgates [B, 4H]
}

// dh', dc' [B, H], then lstm_cell's inputs -> dx, dh, dc, dW_ih, dW_hh, db_ih, db_hh.
// The gates are recomputed into the workspace; rnn-lstm-bwd writes dc and dgates; the tail
// does the rest.
static gx_status lstm_cell_backward_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *dhn = &a->inputs[0], *dcn = &a->inputs[1];
    const rnn_cell_in in = rnn_cell_unpack(a, 2, 1);
    int64_t B = in.x->shape.dims[0], H = in.h->shape.dims[1], R = 4 * H;
    int64_t extra = B * R;
    GX_TRY(rnn_check_sizes(a, "lstm_cell_backward", &extra, 1));
    gx_tensor ws[2];
    GX_TRY(rnn_ws_split(a, "lstm_cell_backward", 2, B * R, ws));
    const gx_tensor *o = a->outputs;   // dx dh dc dW_ih dW_hh db_ih db_hh
    if (B * H > 0) {
        GX_TRY(rnn_cell_pre(a, &in, &ws[0], RNN_ACT_NONE, &ws[0], R));
        struct { uint32_t B, H; } pc = {(uint32_t)B, (uint32_t)H};
        // bindings 4 (c') and 5 (dact) are read only by the step's variant
        const gx_tensor *bind[8] = {dhn, dcn, &ws[0], in.c, dhn, dhn, &ws[1], &o[2]};
        GX_TRY(rnn_pass(a, &sh_rnn_lstm_bwd, 2, 1, 0, bind, 8, (1u << 6) | (1u << 7), &pc,
                        sizeof pc, B * H));
    }
    const gx_tensor *outs[6] = {&o[0], &o[1], &o[3], &o[4], &o[5], &o[6]};
    return rnn_backward_tail(a, in.x, in.h, in.w_ih, in.w_hh, &ws[1], &ws[1], 0, outs, R);
}

// ---- gru_cell -----------------------------------------------------------------------------------

static uint64_t gru_cell_ws(int32_t n_inputs, const gx_tensor_info *inputs, int32_t n_outputs,
                            const gx_tensor_info *outputs, const gx_attr_value *attrs) {
    (void)n_outputs, (void)outputs, (void)attrs;
    int64_t B, H;
    rnn_forward_dims(n_inputs, inputs, &B, &H);
    return 2 * rnn_ws_block(B * 3 * H);   // gi, gh [B, 3H]
}

/* gi = x W_ih^T + b_ih and gh = h W_hh^T + b_hh, each [B, 3H], apart (the n gate scales gh_n) */
static gx_status gru_cell_affine(const gx_kernel_args *a, const rnn_cell_in *in,
                                 const gx_tensor *gi, const gx_tensor *gh) {
    int64_t B = in->x->shape.dims[0], I = in->x->shape.dims[1], H = in->h->shape.dims[1];
    GX_TRY(rnn_mm(a, in->x, 0, in->w_ih, 1, in->b_ih, NULL, RNN_ACT_NONE, gi, B, 3 * H, I));
    return rnn_mm(a, in->h, 0, in->w_hh, 1, in->b_hh, NULL, RNN_ACT_NONE, gh, B, 3 * H, H);
}

// x [B, I], h [B, H], W_ih [3H, I], W_hh [3H, H][, b_ih, b_hh [3H]] -> y [B, H] = (1 - z) n + z h
static gx_status gru_cell_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const rnn_cell_in in = rnn_cell_unpack(a, 0, 0);
    int64_t B = in.x->shape.dims[0], H = in.h->shape.dims[1];
    if (B * H == 0) return GX_OK;
    int64_t extra = B * 3 * H;
    GX_TRY(rnn_check_sizes(a, "gru_cell", &extra, 1));
    gx_tensor ws[2];
    GX_TRY(rnn_ws_split(a, "gru_cell", 2, B * 3 * H, ws));
    GX_TRY(gru_cell_affine(a, &in, &ws[0], &ws[1]));
    struct { uint32_t B, H; } pc = {(uint32_t)B, (uint32_t)H};
    // binding 4 (act) is not touched without HAS_ACT
    const gx_tensor *bind[5] = {&ws[0], &ws[1], in.h, &a->outputs[0], &a->outputs[0]};
    return rnn_pass(a, &sh_rnn_gru_fwd, 1, 0, 0, bind, 5, 1u << 3, &pc, sizeof pc, B * H);
}

static uint64_t gru_cell_backward_ws(int32_t n_inputs, const gx_tensor_info *inputs,
                                     int32_t n_outputs, const gx_tensor_info *outputs,
                                     const gx_attr_value *attrs) {
    (void)n_inputs, (void)inputs, (void)attrs;
    int64_t B, H;
    rnn_backward_dims(n_outputs, outputs, &B, &H);
    return 4 * rnn_ws_block(B * 3 * H);   // gi, gh, dgi, dgh [B, 3H]
}

// dy [B, H], then gru_cell's inputs -> dx, dh, dW_ih, dW_hh, db_ih, db_hh. rnn-gru-bwd writes
// dgi, dgh and dh_direct = dy z straight into dh, to which the tail's dgh W_hh adds.
static gx_status gru_cell_backward_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *dy = &a->inputs[0];
    const rnn_cell_in in = rnn_cell_unpack(a, 1, 0);
    int64_t B = in.x->shape.dims[0], H = in.h->shape.dims[1], R = 3 * H;
    int64_t extra = B * R;
    GX_TRY(rnn_check_sizes(a, "gru_cell_backward", &extra, 1));
    gx_tensor ws[4];
    GX_TRY(rnn_ws_split(a, "gru_cell_backward", 4, B * R, ws));
    const gx_tensor *o = a->outputs;   // dx dh dW_ih dW_hh db_ih db_hh
    if (B * H > 0) {
        GX_TRY(gru_cell_affine(a, &in, &ws[0], &ws[1]));
        struct { uint32_t B, H; } pc = {(uint32_t)B, (uint32_t)H};
        // binding 4 (dact) is read only by the step's variant
        const gx_tensor *bind[8] = {dy, &ws[0], &ws[1], in.h, dy, &ws[2], &ws[3], &o[1]};
        GX_TRY(rnn_pass(a, &sh_rnn_gru_bwd, 2, 1, 0, bind, 8, (1u << 5) | (1u << 6) | (1u << 7),
                        &pc, sizeof pc, B * H));
    }
    const gx_tensor *outs[6] = {&o[0], &o[1], &o[2], &o[3], &o[4], &o[5]};
    return rnn_backward_tail(a, in.x, in.h, in.w_ih, in.w_hh, &ws[2], &ws[3], 1, outs, R);
}

// ---- forward steps ------------------------------------------------------------------------------

// gi [B, H], h [B, H], W_hhT [H, H][, b_hh [H]] -> h' = act(h W_hhT + b_hh + gi): the product
// alone, its epilogue adding gi and applying act. attrs: nonlinearity
static gx_status rnn_step_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *gi = &a->inputs[0], *h = &a->inputs[1], *w_hh = &a->inputs[2];
    const gx_tensor *b_hh = a->n_inputs > 3 ? &a->inputs[3] : NULL;
    int64_t B = h->shape.dims[0], H = h->shape.dims[1];
    if (B * H == 0) return GX_OK;
    GX_TRY(rnn_check_sizes(a, "rnn_step", NULL, 0));
    return rnn_mm(a, h, 0, w_hh, 0, b_hh, gi, rnn_is_relu(a) ? RNN_ACT_RELU : RNN_ACT_TANH,
                  &a->outputs[0], B, H, H);
}

static uint64_t lstm_step_ws(int32_t n_inputs, const gx_tensor_info *inputs, int32_t n_outputs,
                             const gx_tensor_info *outputs, const gx_attr_value *attrs) {
    (void)n_outputs, (void)outputs, (void)attrs;
    int64_t B, H;
    rnn_forward_dims(n_inputs, inputs, &B, &H);
    return rnn_ws_block(B * 4 * H);   // pre [B, 4H]
}

// gi [B, 4H], h, c [B, H], W_hhT [H, 4H][, b_hh [4H]] -> h', c' [B, H], act [B, 4H]:
// pre = h W_hhT + b_hh + gi into the workspace, then rnn-lstm-fwd with act
static gx_status lstm_step_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *gi = &a->inputs[0], *h = &a->inputs[1], *c = &a->inputs[2];
    const gx_tensor *w_hh = &a->inputs[3], *b_hh = a->n_inputs > 4 ? &a->inputs[4] : NULL;
    int64_t B = h->shape.dims[0], H = h->shape.dims[1];
    if (B * H == 0) return GX_OK;
    GX_TRY(rnn_check_sizes(a, "lstm_step", NULL, 0));
    gx_tensor ws;
    GX_TRY(rnn_ws_split(a, "lstm_step", 1, B * 4 * H, &ws));
    GX_TRY(rnn_mm(a, h, 0, w_hh, 0, b_hh, gi, RNN_ACT_NONE, &ws, B, 4 * H, H));
    struct { uint32_t B, H; } pc = {(uint32_t)B, (uint32_t)H};
    const gx_tensor *o = a->outputs;
    const gx_tensor *bind[5] = {&ws, c, &o[0], &o[1], &o[2]};
    return rnn_pass(a, &sh_rnn_lstm_fwd, 1, 1, 0, bind, 5, (1u << 2) | (1u << 3) | (1u << 4), &pc,
                    sizeof pc, B * H);
}

static uint64_t gru_step_ws(int32_t n_inputs, const gx_tensor_info *inputs, int32_t n_outputs,
                            const gx_tensor_info *outputs, const gx_attr_value *attrs) {
    (void)n_outputs, (void)outputs, (void)attrs;
    int64_t B, H;
    rnn_forward_dims(n_inputs, inputs, &B, &H);
    return rnn_ws_block(B * 3 * H);   // gh [B, 3H]
}

// gi [B, 3H], h [B, H], W_hhT [H, 3H][, b_hh [3H]] -> h' [B, H], act [B, 4H] = (r, z, n, gh_n):
// gh = h W_hhT + b_hh into the workspace, then rnn-gru-fwd with act
static gx_status gru_step_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *gi = &a->inputs[0], *h = &a->inputs[1], *w_hh = &a->inputs[2];
    const gx_tensor *b_hh = a->n_inputs > 3 ? &a->inputs[3] : NULL;
    int64_t B = h->shape.dims[0], H = h->shape.dims[1];
    if (B * H == 0) return GX_OK;
    int64_t extra = B * 4 * H;
    GX_TRY(rnn_check_sizes(a, "gru_step", &extra, 1));
    gx_tensor ws;
    GX_TRY(rnn_ws_split(a, "gru_step", 1, B * 3 * H, &ws));
    GX_TRY(rnn_mm(a, h, 0, w_hh, 0, b_hh, NULL, RNN_ACT_NONE, &ws, B, 3 * H, H));
    struct { uint32_t B, H; } pc = {(uint32_t)B, (uint32_t)H};
    const gx_tensor *o = a->outputs;
    const gx_tensor *bind[5] = {gi, &ws, h, &o[0], &o[1]};
    return rnn_pass(a, &sh_rnn_gru_fwd, 1, 1, 0, bind, 5, (1u << 3) | (1u << 4), &pc, sizeof pc,
                    B * H);
}

// ---- backward steps -----------------------------------------------------------------------------

// dh' [B, H], h' [B, H] -> dg [B, H] = dh' act'(pre), read from h'. attrs: nonlinearity
static gx_status rnn_step_backward_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    int64_t n = rnn_numel(&a->outputs[0]);
    if (n == 0) return GX_OK;
    GX_TRY(rnn_check_sizes(a, "rnn_step_backward", NULL, 0));
    struct { uint32_t n; } pc = {(uint32_t)n};
    const gx_tensor *bind[3] = {&a->inputs[0], &a->inputs[1], &a->outputs[0]};
    return rnn_pass(a, &sh_rnn_rnn_bwd, 2, rnn_is_relu(a), 0, bind, 3, 1u << 2, &pc, sizeof pc, n);
}

// dh', dc' [B, H], act [B, 4H], c, c' [B, H][, dact [B, 4H]] -> dg [B, 4H], dc [B, H]
static gx_status lstm_step_backward_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *in = a->inputs, *c = &a->inputs[3];
    int64_t B = c->shape.dims[0], H = c->shape.dims[1];
    if (B * H == 0) return GX_OK;
    GX_TRY(rnn_check_sizes(a, "lstm_step_backward", NULL, 0));
    int has_dact = a->n_inputs > 5;
    struct { uint32_t B, H; } pc = {(uint32_t)B, (uint32_t)H};
    const gx_tensor *bind[8] = {&in[0], &in[1], &in[2], &in[3], &in[4],
                                has_dact ? &in[5] : &in[0], &a->outputs[0], &a->outputs[1]};
    return rnn_pass(a, &sh_rnn_lstm_bwd, 2, 0, has_dact, bind, 8, (1u << 6) | (1u << 7), &pc,
                    sizeof pc, B * H);
}

// dh' [B, H], act [B, 4H], h [B, H][, dact [B, 4H]] -> dgi, dgh [B, 3H], dh_direct [B, H]
static gx_status gru_step_backward_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *in = a->inputs, *h = &a->inputs[2];
    int64_t B = h->shape.dims[0], H = h->shape.dims[1];
    if (B * H == 0) return GX_OK;
    GX_TRY(rnn_check_sizes(a, "gru_step_backward", NULL, 0));
    int has_dact = a->n_inputs > 3;
    struct { uint32_t B, H; } pc = {(uint32_t)B, (uint32_t)H};
    const gx_tensor *o = a->outputs;
    // binding 2 (gh) is read only by the cell's variant
    const gx_tensor *bind[8] = {&in[0], &in[1], &in[1], h, has_dact ? &in[3] : &in[0],
                                &o[0], &o[1], &o[2]};
    return rnn_pass(a, &sh_rnn_gru_bwd, 2, 0, has_dact, bind, 8, (1u << 5) | (1u << 6) | (1u << 7),
                    &pc, sizeof pc, B * H);
}

// ---- registration -------------------------------------------------------------------------------

#define RNN_KERNEL_WS(opname, fn, ws)                                                   \
    { .size = sizeof(gx_kernel_desc), .op = (opname), .backend = VK_BACKEND_NAME,       \
      .dtype = GX_DTYPE_F32, .run = (fn), .workspace = (ws) }

static const gx_kernel_desc vk_rnn_kernels[] = {
    RNN_KERNEL_WS("rnn_cell", rnn_cell_run, rnn_cell_ws),
    RNN_KERNEL_WS("lstm_cell", lstm_cell_run, lstm_cell_ws),
    RNN_KERNEL_WS("gru_cell", gru_cell_run, gru_cell_ws),
    RNN_KERNEL_WS("rnn_cell_backward", rnn_cell_backward_run, rnn_cell_backward_ws),
    RNN_KERNEL_WS("lstm_cell_backward", lstm_cell_backward_run, lstm_cell_backward_ws),
    RNN_KERNEL_WS("gru_cell_backward", gru_cell_backward_run, gru_cell_backward_ws),
    VK_KERNEL("rnn_step", rnn_step_run, GX_DTYPE_F32),
    RNN_KERNEL_WS("lstm_step", lstm_step_run, lstm_step_ws),
    RNN_KERNEL_WS("gru_step", gru_step_run, gru_step_ws),
    VK_KERNEL("rnn_step_backward", rnn_step_backward_run, GX_DTYPE_F32),
    VK_KERNEL("lstm_step_backward", lstm_step_backward_run, GX_DTYPE_F32),
    VK_KERNEL("gru_step_backward", gru_step_backward_run, GX_DTYPE_F32),
};

gx_status vk_register_rnn(const gx_host_api *api, gx_host *host) {
    return gx_register_kernels(api, host, vk_rnn_kernels, GX_COUNT(vk_rnn_kernels));
}
