/*
 * kernels-rnn.c: cpu-sleef kernels of the recurrent cells and their fused backward ops:
 * rnn_cell, lstm_cell, gru_cell, rnn_cell_backward, lstm_cell_backward, gru_cell_backward.
 *
 * Equations and weight layouts are PyTorch's (ops/README.md): W_ih is [G*H, I], W_hh is
 * [G*H, H], gate blocks stacked along the first axis (lstm: i f g o, gru: r z n), biases [G*H]
 * optional (both or neither). Every cell is the same three steps:
 *
 *   1. two sgemms into a workspace of gate pre-activations: x W_ih^T and h W_hh^T (summed into
 *      one [B, G*H] array, or kept apart for the GRU, whose n gate scales h W_hn^T by r);
 *   2. one vector pass per batch row (csl_vec->*_row, simd-template.h) that adds the biases,
 *      applies the nonlinearities and writes the outputs (forward) or turns the pre-activations
 *      into their gradients in place (backward);
 *   3. backward only, four sgemms and two column sums (csl_cell_tail):
 *      dx = dgi W_ih, dh = dgh W_hh (+ the direct path), dW_ih = dgi^T x, dW_hh = dgh^T h,
 *      db_ih = sum_b dgi, db_hh = sum_b dgh.
 *
 * Every output is written in full on each call (the engine sums gradients; nothing accumulates
 * across calls).
 *
 * Threads: the products split themselves (csl_sgemm); the backward tail's four products go to
 * the pool in one dispatch (csl_sgemm_many), and the GRU's two forward ones too (the other cells
 * add h W_hh^T onto x W_ih^T, so theirs run one after the other). The vector pass is split into
 * blocks of rows (rows are independent; a block is about CSL_CHUNK_MATH gate values) and the
 * column sums into blocks of columns; each row and each column is computed by the same code
 * whatever block it falls in, so the bits never depend on the thread count.
 */
#include <string.h>

#include "cpu-sleef.h"

// ---- inputs ------------------------------------------------------------------------------------

/* A cell kernel's inputs: n_grads output gradients (backward ops), then x, h, [c,] W_ih, W_hh
 * and, when given, b_ih, b_hh. The one place that knows this layout. */
typedef struct csl_cell_in {
    const float *x, *h, *c, *w_ih, *w_hh, *b_ih, *b_hh;
    int64_t      B, I, H;
} csl_cell_in;

static csl_cell_in csl_cell_unpack(const gx_kernel_args *a, int32_t n_grads, int has_c) {
    const gx_tensor *in = a->inputs + n_grads;
    int32_t k = has_c ? 3 : 2;   // index of W_ih
    csl_cell_in r = {.x = csl_f32(&in[0]), .h = csl_f32(&in[1]),
                     .c = has_c ? csl_f32(&in[2]) : NULL,
                     .w_ih = csl_f32(&in[k]), .w_hh = csl_f32(&in[k + 1]),
                     .B = in[0].shape.dims[0], .I = in[0].shape.dims[1],
                     .H = in[1].shape.dims[1]};
    if (a->n_inputs - n_grads > k + 2) {
        r.b_ih = csl_f32(&in[k + 2]);
        r.b_hh = csl_f32(&in[k + 3]);
    }
    return r;
}

static int csl_rnn_is_relu(const gx_kernel_args *a) {
    return a->attrs != NULL && a->attrs[0].s != NULL && strcmp(a->attrs[0].s, "relu") == 0;
}

// ---- shared pieces -----------------------------------------------------------------------------

// gi = x W_ih^T into gi [B, R]; gh = h W_hh^T into gh [B, R], or added to gi when gh == gi
static gx_status csl_cell_gemms(const gx_kernel_args *a, const char *op, const csl_cell_in *in,
                                int64_t R, float *gi, float *gh) {
    csl_gemm g[2] = {
        {.trans_b = 1, .M = in->B, .N = R, .K = in->I, .alpha = 1.0f, .A = in->x, .lda = in->I,
         .B = in->w_ih, .ldb = in->I, .beta = 0.0f, .C = gi, .ldc = R},
        {.trans_b = 1, .M = in->B, .N = R, .K = in->H, .alpha = 1.0f, .A = in->h, .lda = in->H,
         .B = in->w_hh, .ldb = in->H, .beta = gh == gi ? 1.0f : 0.0f, .C = gh, .ldc = R},
    };
    if (gh != gi) return csl_sgemm_many(a, op, g, 2);
    GX_TRY(csl_sgemm_many(a, op, &g[0], 1));
    return csl_sgemm_many(a, op, &g[1], 1);
}

// ---- splitting the vector passes and the column sums ----------------------------------------

// Rows of a [B, R] pass per task: about CSL_CHUNK_MATH values (a function of R alone)
static int64_t csl_rows_per_task(int64_t R) {
    return R >= CSL_CHUNK_MATH ? 1 : CSL_CHUNK_MATH / (R > 0 ? R : 1);
}

// What a row-pass task needs: every cell's pointers, the kernel fills the ones it uses.
typedef struct csl_rows {
    const csl_cell_in *in;
    int64_t            R;
    int                relu;
    float             *g, *gh, *out0, *out1;
    const float       *dy, *dy2;
} csl_rows;

static void csl_rows_run(const gx_kernel_args *a, csl_range_fn fn, csl_rows *job) {
    csl_parallel_range(a->backend_ctx, fn, job, job->in->B, csl_rows_per_task(job->R));
}

// out[r] = sum_b g[b, r] of a [B, R] array, in double, a block of columns at a time: columns
// [c0, c1) of it (a column's sum is the same whatever block it is in)
static void csl_colsum(const float *g, int64_t B, int64_t R, float *out, int64_t c0, int64_t c1) {
    enum { COLS = 64 };
    for (int64_t r0 = c0; r0 < c1; r0 += COLS) {
        int64_t n = c1 - r0 < COLS ? c1 - r0 : COLS;
        double acc[COLS];
        for (int64_t k = 0; k < n; k++) acc[k] = 0.0;
        for (int64_t b = 0; b < B; b++)
            for (int64_t k = 0; k < n; k++) acc[k] += g[b * R + r0 + k];
        for (int64_t k = 0; k < n; k++) out[r0 + k] = (float)acc[k];
    }
}

// the column sums of two [B, R] arrays (db_ih, db_hh) as one job: columns in blocks of a
// multiple of 64 holding about CSL_CHUNK_CHEAP values; task t < n_blocks sums the first array
typedef struct csl_colsums {
    const float *g[2];
    float       *out[2];
    int64_t      B, R, cols, n_blocks;
} csl_colsums;

static void csl_colsums_task(void *arg, int64_t t) {
    const csl_colsums *j = arg;
    int k = t >= j->n_blocks;
    int64_t c0 = (t - k * j->n_blocks) * j->cols;
    int64_t c1 = c0 + j->cols < j->R ? c0 + j->cols : j->R;
    csl_colsum(j->g[k], j->B, j->R, j->out[k], c0, c1);
}

// The end of every backward kernel: dgi and dgh are [B, R] (R = G*H), the gradients of
// gi = x W_ih^T + b_ih and gh = h W_hh^T + b_hh (the same array when the cell only uses their
// sum). outs points at (dx, dh, dW_ih, dW_hh, db_ih, db_hh). dh_add: dh already holds the
// direct path's gradient, so the product is added to it.
static gx_status csl_cell_tail(const gx_kernel_args *a, const char *op, const csl_cell_in *in,
                               const float *dgi, const float *dgh, int dh_add,
                               const gx_tensor *outs, int64_t R) {
    int64_t B = in->B, I = in->I, H = in->H;
    csl_gemm g[4] = {
        {.M = B, .N = I, .K = R, .alpha = 1.0f, .A = dgi, .lda = R, .B = in->w_ih, .ldb = I,
         .beta = 0.0f, .C = csl_f32(&outs[0]), .ldc = I},
        {.M = B, .N = H, .K = R, .alpha = 1.0f, .A = dgh, .lda = R, .B = in->w_hh, .ldb = H,
         .beta = dh_add ? 1.0f : 0.0f, .C = csl_f32(&outs[1]), .ldc = H},
        {.trans_a = 1, .M = R, .N = I, .K = B, .alpha = 1.0f, .A = dgi, .lda = R, .B = in->x,
         .ldb = I, .beta = 0.0f, .C = csl_f32(&outs[2]), .ldc = I},
        {.trans_a = 1, .M = R, .N = H, .K = B, .alpha = 1.0f, .A = dgh, .lda = R, .B = in->h,
         .ldb = H, .beta = 0.0f, .C = csl_f32(&outs[3]), .ldc = H},
    };
    GX_TRY(csl_sgemm_many(a, op, g, 4));
    if (B <= 0 || R <= 0) {
        csl_colsum(dgi, B, R, csl_f32(&outs[4]), 0, R);
        csl_colsum(dgh, B, R, csl_f32(&outs[5]), 0, R);
        return GX_OK;
    }
    int64_t cols = CSL_CHUNK_CHEAP / B / 64 * 64;
    csl_colsums job = {.g = {dgi, dgh}, .out = {csl_f32(&outs[4]), csl_f32(&outs[5])}, .B = B,
                       .R = R, .cols = cols < 64 ? 64 : cols};
    job.n_blocks = csl_n_chunks(R, job.cols);
    csl_parallel(a->backend_ctx, csl_colsums_task, &job, 2 * job.n_blocks);
    return GX_OK;
}

// B and H of a cell op, read from its output `k` ([B, H]: y or h' forward, dh backward)
static void csl_cell_dims(int32_t n_outputs, const gx_tensor_info *outputs, int32_t k,
                          int64_t *B, int64_t *H) {
    *B = *H = 0;
    if (n_outputs <= k || outputs[k].shape.ndim != 2) return;
    *B = outputs[k].shape.dims[0];
    *H = outputs[k].shape.dims[1];
}

// workspace sizes: `arrays` float arrays of [B, G*H]
#define CSL_CELL_WS(name, out_index, G, arrays)                                                \
    static uint64_t name(int32_t n_inputs, const gx_tensor_info *inputs, int32_t n_outputs,    \
                         const gx_tensor_info *outputs, const gx_attr_value *attrs) {          \
        int64_t B, H;                                                                          \
        csl_cell_dims(n_outputs, outputs, out_index, &B, &H);                                  \
        return (uint64_t)((arrays) * B * (G) * H) * sizeof(float);                             \
    }

CSL_CELL_WS(rnn_cell_backward_ws, 1, 1, 1)    // pre [B, H]
CSL_CELL_WS(lstm_cell_ws, 0, 4, 1)            // gates [B, 4H]
CSL_CELL_WS(lstm_cell_backward_ws, 1, 4, 1)   // gates [B, 4H]
CSL_CELL_WS(gru_cell_ws, 0, 3, 2)             // gi, gh [B, 3H]
CSL_CELL_WS(gru_cell_backward_ws, 1, 3, 2)    // gi, gh [B, 3H]

// ---- rnn_cell ----------------------------------------------------------------------------------

static void rnn_fwd_rows(void *arg, int64_t b0, int64_t b1) {
    const csl_rows *j = arg;
    int64_t H = j->in->H;
    for (int64_t b = b0; b < b1; b++)
        csl_vec->rnn_fwd_row(j->out0 + b * H, j->out0 + b * H, j->in->b_ih, j->in->b_hh, H,
                             j->relu);
}

// y [B, H] = act(x W_ih^T + b_ih + h W_hh^T + b_hh); the products go straight into y.
// attrs: nonlinearity ("tanh" or "relu")
static gx_status rnn_cell_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const csl_cell_in in = csl_cell_unpack(a, 0, 0);
    float *y = csl_f32(&a->outputs[0]);
    int relu = csl_rnn_is_relu(a);
    GX_TRY(csl_cell_gemms(a, "rnn_cell", &in, in.H, y, y));
    csl_rows job = {.in = &in, .R = in.H, .relu = relu, .out0 = y};
    csl_rows_run(a, rnn_fwd_rows, &job);
    return GX_OK;
}

static void rnn_bwd_rows(void *arg, int64_t b0, int64_t b1) {
    const csl_rows *j = arg;
    int64_t H = j->in->H;
    for (int64_t b = b0; b < b1; b++)
        csl_vec->rnn_bwd_row(j->g + b * H, j->in->b_ih, j->in->b_hh, j->dy + b * H, H, j->relu);
}

// dy [B, H], then rnn_cell's inputs; outputs dx, dh, dW_ih, dW_hh, db_ih, db_hh.
// dpre = dy * act'(pre); workspace: pre, then dpre in its place
static gx_status rnn_cell_backward_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const char *op = "rnn_cell_backward";
    const float *dy = csl_f32(&a->inputs[0]);
    const csl_cell_in in = csl_cell_unpack(a, 1, 0);
    int64_t B = in.B, H = in.H;
    int relu = csl_rnn_is_relu(a);
    float *pre;
    GX_TRY(csl_workspace(a, op, (uint64_t)(B * H) * sizeof(float), (void **)&pre));
    GX_TRY(csl_cell_gemms(a, op, &in, H, pre, pre));
    csl_rows job = {.in = &in, .R = H, .relu = relu, .g = pre, .dy = dy};
    csl_rows_run(a, rnn_bwd_rows, &job);
    return csl_cell_tail(a, op, &in, pre, pre, 0, a->outputs, H);
}

// ---- lstm_cell ---------------------------------------------------------------------------------

static void lstm_fwd_rows(void *arg, int64_t b0, int64_t b1) {
    const csl_rows *j = arg;
    const csl_cell_in *in = j->in;
    int64_t H = in->H, R = j->R;
    for (int64_t b = b0; b < b1; b++)
        csl_vec->lstm_fwd_row(j->g + b * R, in->b_ih, in->b_hh, in->c + b * H, j->out0 + b * H,
                              j->out1 + b * H, H);
}

static void lstm_bwd_rows(void *arg, int64_t b0, int64_t b1) {
    const csl_rows *j = arg;
    const csl_cell_in *in = j->in;
    int64_t H = in->H, R = j->R;
    for (int64_t b = b0; b < b1; b++)
        csl_vec->lstm_bwd_row(j->g + b * R, in->b_ih, in->b_hh, in->c + b * H, j->dy + b * H,
                              j->dy2 + b * H, j->out0 + b * H, H);
}

// x [B, I], h and c [B, H], W_ih [4H, I], W_hh [4H, H], biases [4H] (optional); outputs h', c'
// [B, H]: c' = f c + i g, h' = o tanh(c'). workspace: the gates [B, 4H]
static gx_status lstm_cell_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const char *op = "lstm_cell";
    const csl_cell_in in = csl_cell_unpack(a, 0, 1);
    int64_t B = in.B, H = in.H, R = 4 * H;
    float *g, *h_out = csl_f32(&a->outputs[0]), *c_out = csl_f32(&a->outputs[1]);
    GX_TRY(csl_workspace(a, op, (uint64_t)(B * R) * sizeof(float), (void **)&g));
    GX_TRY(csl_cell_gemms(a, op, &in, R, g, g));
    csl_rows job = {.in = &in, .R = R, .g = g, .out0 = h_out, .out1 = c_out};
    csl_rows_run(a, lstm_fwd_rows, &job);
    return GX_OK;
}

// dh', dc' [B, H], then lstm_cell's inputs; outputs dx, dh, dc, dW_ih, dW_hh, db_ih, db_hh.
// workspace: the gates [B, 4H], replaced by their gradients
static gx_status lstm_cell_backward_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const char *op = "lstm_cell_backward";
    const float *dhn = csl_f32(&a->inputs[0]), *dcn = csl_f32(&a->inputs[1]);
    const csl_cell_in in = csl_cell_unpack(a, 2, 1);
    const gx_tensor *o = a->outputs;   // dx dh dc dW_ih dW_hh db_ih db_hh
    int64_t B = in.B, H = in.H, R = 4 * H;
    float *g, *dc = csl_f32(&o[2]);
    GX_TRY(csl_workspace(a, op, (uint64_t)(B * R) * sizeof(float), (void **)&g));
    GX_TRY(csl_cell_gemms(a, op, &in, R, g, g));
    csl_rows job = {.in = &in, .R = R, .g = g, .dy = dhn, .dy2 = dcn, .out0 = dc};
    csl_rows_run(a, lstm_bwd_rows, &job);
    // the tail's outputs are (dx, dh, dW_ih, dW_hh, db_ih, db_hh): skip dc
    gx_tensor tail[6] = {o[0], o[1], o[3], o[4], o[5], o[6]};
    return csl_cell_tail(a, op, &in, g, g, 0, tail, R);
}

// ---- gru_cell ----------------------------------------------------------------------------------

static void gru_fwd_rows(void *arg, int64_t b0, int64_t b1) {
    const csl_rows *j = arg;
    const csl_cell_in *in = j->in;
    int64_t H = in->H, R = j->R;
    for (int64_t b = b0; b < b1; b++)
        csl_vec->gru_fwd_row(j->g + b * R, j->gh + b * R, in->b_ih, in->b_hh, in->h + b * H,
                             j->out0 + b * H, H);
}

static void gru_bwd_rows(void *arg, int64_t b0, int64_t b1) {
    const csl_rows *j = arg;
    const csl_cell_in *in = j->in;
    int64_t H = in->H, R = j->R;
    for (int64_t b = b0; b < b1; b++)
        csl_vec->gru_bwd_row(j->g + b * R, j->gh + b * R, in->b_ih, in->b_hh, in->h + b * H,
                             j->dy + b * H, j->out0 + b * H, H);
}

// x [B, I], h [B, H], W_ih [3H, I], W_hh [3H, H], biases [3H] (optional); y [B, H] =
// (1 - z) n + z h. workspace: gi and gh [B, 3H]
static gx_status gru_cell_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const char *op = "gru_cell";
    const csl_cell_in in = csl_cell_unpack(a, 0, 0);
    int64_t B = in.B, H = in.H, R = 3 * H;
    float *gi, *y = csl_f32(&a->outputs[0]);
    GX_TRY(csl_workspace(a, op, (uint64_t)(2 * B * R) * sizeof(float), (void **)&gi));
    float *gh = gi + B * R;
    GX_TRY(csl_cell_gemms(a, op, &in, R, gi, gh));
    csl_rows job = {.in = &in, .R = R, .g = gi, .gh = gh, .out0 = y};
    csl_rows_run(a, gru_fwd_rows, &job);
    return GX_OK;
}

// dy [B, H], then gru_cell's inputs; outputs dx, dh, dW_ih, dW_hh, db_ih, db_hh. The row pass
// turns gi, gh into dgi, dgh and writes the direct path dy z into dh, which the tail adds to.
static gx_status gru_cell_backward_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const char *op = "gru_cell_backward";
    const float *dy = csl_f32(&a->inputs[0]);
    const csl_cell_in in = csl_cell_unpack(a, 1, 0);
    int64_t B = in.B, H = in.H, R = 3 * H;
    float *gi, *dh = csl_f32(&a->outputs[1]);
    GX_TRY(csl_workspace(a, op, (uint64_t)(2 * B * R) * sizeof(float), (void **)&gi));
    float *gh = gi + B * R;
    GX_TRY(csl_cell_gemms(a, op, &in, R, gi, gh));
    csl_rows job = {.in = &in, .R = R, .g = gi, .gh = gh, .dy = dy, .out0 = dh};
    csl_rows_run(a, gru_bwd_rows, &job);
    return csl_cell_tail(a, op, &in, gi, gh, 1, a->outputs, R);
}

static const gx_kernel_desc csl_rnn_kernels[] = {
    CSL_F32("rnn_cell", rnn_cell_run),
    CSL_F32_WS("lstm_cell", lstm_cell_run, lstm_cell_ws),
    CSL_F32_WS("gru_cell", gru_cell_run, gru_cell_ws),
    CSL_F32_WS("rnn_cell_backward", rnn_cell_backward_run, rnn_cell_backward_ws),
    CSL_F32_WS("lstm_cell_backward", lstm_cell_backward_run, lstm_cell_backward_ws),
    CSL_F32_WS("gru_cell_backward", gru_cell_backward_run, gru_cell_backward_ws),
};

gx_status csl_register_rnn(const gx_host_api *api, gx_host *host) {
    return gx_register_kernels(api, host, csl_rnn_kernels, GX_COUNT(csl_rnn_kernels));
}
