/*
 * kernels-step.c: cpu-sleef kernels of matmul_tn and of the recurrent steps with their input
 * projection already done (ops/rnn/step.c): rnn_step, lstm_step, gru_step and their
 * *_step_backward ops. f32 only.
 *
 * A forward step is one sgemm, h W_hhT (= h W_hh^T: the weights come transposed, so the product
 * reads them in place), then one vector pass per batch row (csl_vec->*_row, simd-template.h)
 * that adds gi and b_hh and applies the gates. The sgemm writes straight into an output the
 * pass then overwrites in place, so no kernel here needs a workspace: rnn_step into h' [B, H];
 * lstm_step into act [B, 4H]; gru_step into the first 3H of every row of act [B, 4H]
 * (ldc = 4H), since the pass turns (gh_r, gh_z, gh_n) into (r, z, n, gh_n) and the gru needs
 * h W_hh^T apart from gi anyway. The backward steps are pure vector passes.
 *
 * Threads: csl_sgemm splits its products over the backend's pool by itself, and the row passes
 * go to the pool (csl_parallel_range) in chunks of whole batch rows, about CSL_CHUNK_MATH gate
 * floats a chunk. Every row is the same call whatever chunk it lands in, and the chunks depend
 * on B and H only, so the bits do not depend on the thread count; a small step is one chunk
 * and runs inline. (ith == 0 still does everything; the engine calls with nth = 1.)
 */
#include <string.h>

#include "cpu-sleef.h"

// ---- matmul_tn ---------------------------------------------------------------------------------

// a [..., M], b [..., N] with the same leading dims -> y [M, N] = a^T b with the leading dims
// flattened: A is read as [K, M] row-major and B as [K, N], K = numel(a) / M
static gx_status matmul_tn_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *x = &a->inputs[0], *w = &a->inputs[1], *y = &a->outputs[0];
    int64_t M = y->shape.dims[0], N = y->shape.dims[1];
    int64_t K = csl_dims_prod(&x->shape, 0, x->shape.ndim - 1);
    return csl_sgemm(a, "matmul_tn", 1, 0, M, N, K, 1.0f, csl_f32(x), M, csl_f32(w), N, 0.0f,
                     csl_f32(y), N);
}

// ---- forward steps -----------------------------------------------------------------------------

static int csl_step_is_relu(const gx_kernel_args *a) {
    return a->attrs != NULL && a->attrs[0].s != NULL && strcmp(a->attrs[0].s, "relu") == 0;
}

// batch rows per chunk of a row pass that touches `floats` gate values per row
static int64_t csl_step_rows_per_chunk(int64_t floats) {
    return floats > 0 && floats < CSL_CHUNK_MATH ? CSL_CHUNK_MATH / floats : 1;
}

/* What a row pass reads and writes, as whole [B, ...] arrays (b_hh: [G*H]); each pass uses its
 * own fields and does the rows [b0, b1) (rnn_step_backward: the elements [i0, i1)). */
typedef struct csl_step_job {
    const float *gi, *h, *c, *b_hh;                    /* forward inputs                  */
    float       *y, *c_out, *act;                      /* forward outputs                 */
    const float *dy, *dc_next, *y_in, *act_in, *c_new, *dact;   /* backward inputs        */
    float       *dg, *dgh, *dc, *dh_direct;            /* backward outputs (gru: dg is dgi) */
    int64_t      H;
    int          relu;
} csl_step_job;

// C [B, ldc] (its first G*H columns) = h W_hhT; h [B, H], W_hhT [H, G*H] (the recurrent
// weights transposed, so the product reads them row-major in place)
static gx_status csl_step_gemm(const gx_kernel_args *a, const char *op, const float *h,
                               const float *w_hht, int64_t B, int64_t H, int64_t G, float *C,
                               int64_t ldc) {
    return csl_sgemm(a, op, 0, 0, B, G * H, H, 1.0f, h, H, w_hht, G * H, 0.0f, C, ldc);
}

static void rnn_step_rows(void *arg, int64_t b0, int64_t b1) {
    const csl_step_job *j = arg;
    int64_t H = j->H;
    for (int64_t b = b0; b < b1; b++)
        csl_vec->rnn_fwd_row(j->y + b * H, j->y + b * H, j->gi + b * H, j->b_hh, H, j->relu);
}

// gi [B, H], h [B, H], W_hhT [H, H], b_hh [H] (optional) -> h' [B, H] = act(gi + h W_hh^T + b_hh).
// The row pass is rnn_cell's, with gi in the place of b_ih (both are just added).
// attrs: nonlinearity ("tanh" or "relu")
static gx_status rnn_step_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const float *gi = csl_f32(&a->inputs[0]), *h = csl_f32(&a->inputs[1]);
    const float *w_hht = csl_f32(&a->inputs[2]);
    const float *b_hh = a->n_inputs > 3 ? csl_f32(&a->inputs[3]) : NULL;
    float *y = csl_f32(&a->outputs[0]);
    int64_t B = a->inputs[1].shape.dims[0], H = a->inputs[1].shape.dims[1];
    GX_TRY(csl_step_gemm(a, "rnn_step", h, w_hht, B, H, 1, y, H));
    csl_step_job j = {.gi = gi, .b_hh = b_hh, .y = y, .H = H, .relu = csl_step_is_relu(a)};
    csl_parallel_range(a->backend_ctx, rnn_step_rows, &j, B, csl_step_rows_per_chunk(H));
    return GX_OK;
}

static void lstm_step_rows(void *arg, int64_t b0, int64_t b1) {
    const csl_step_job *j = arg;
    int64_t H = j->H, R = 4 * H;
    for (int64_t b = b0; b < b1; b++)
        csl_vec->lstm_step_fwd_row(j->act + b * R, j->gi + b * R, j->b_hh, j->c + b * H,
                                   j->y + b * H, j->c_out + b * H, H);
}

// gi [B, 4H], h and c [B, H], W_hhT [H, 4H], b_hh [4H] (optional) -> h', c' [B, H], act [B, 4H]
// (the activated gates i f g o); h W_hh^T goes into act first
static gx_status lstm_step_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const float *gi = csl_f32(&a->inputs[0]), *h = csl_f32(&a->inputs[1]);
    const float *c = csl_f32(&a->inputs[2]), *w_hht = csl_f32(&a->inputs[3]);
    const float *b_hh = a->n_inputs > 4 ? csl_f32(&a->inputs[4]) : NULL;
    float *h_out = csl_f32(&a->outputs[0]), *c_out = csl_f32(&a->outputs[1]);
    float *act = csl_f32(&a->outputs[2]);
    int64_t B = a->inputs[1].shape.dims[0], H = a->inputs[1].shape.dims[1], R = 4 * H;
    GX_TRY(csl_step_gemm(a, "lstm_step", h, w_hht, B, H, 4, act, R));
    csl_step_job j = {.gi = gi, .c = c, .b_hh = b_hh, .y = h_out, .c_out = c_out, .act = act,
                      .H = H};
    csl_parallel_range(a->backend_ctx, lstm_step_rows, &j, B, csl_step_rows_per_chunk(R));
    return GX_OK;
}

static void gru_step_rows(void *arg, int64_t b0, int64_t b1) {
    const csl_step_job *j = arg;
    int64_t H = j->H;
    for (int64_t b = b0; b < b1; b++)
        csl_vec->gru_step_fwd_row(j->act + b * 4 * H, j->gi + b * 3 * H, j->b_hh, j->h + b * H,
                                  j->y + b * H, H);
}

// gi [B, 3H], h [B, H], W_hhT [H, 3H], b_hh [3H] (optional) -> h' [B, H], act [B, 4H]
// (r, z, n, gh_n); h W_hh^T goes into the first 3H of every act row first
static gx_status gru_step_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const float *gi = csl_f32(&a->inputs[0]), *h = csl_f32(&a->inputs[1]);
    const float *w_hht = csl_f32(&a->inputs[2]);
    const float *b_hh = a->n_inputs > 3 ? csl_f32(&a->inputs[3]) : NULL;
    float *y = csl_f32(&a->outputs[0]), *act = csl_f32(&a->outputs[1]);
    int64_t B = a->inputs[1].shape.dims[0], H = a->inputs[1].shape.dims[1];
    GX_TRY(csl_step_gemm(a, "gru_step", h, w_hht, B, H, 3, act, 4 * H));
    csl_step_job j = {.gi = gi, .h = h, .b_hh = b_hh, .y = y, .act = act, .H = H};
    csl_parallel_range(a->backend_ctx, gru_step_rows, &j, B, csl_step_rows_per_chunk(4 * H));
    return GX_OK;
}

// ---- backward steps ----------------------------------------------------------------------------

// element-wise, so its chunks are runs of elements (whole vectors: CSL_CHUNK_CHEAP is a
// multiple of 64), not rows
static void rnn_step_backward_range(void *arg, int64_t i0, int64_t i1) {
    const csl_step_job *j = arg;
    csl_vec->rnn_step_bwd(j->dg + i0, j->dy + i0, j->y_in + i0, i1 - i0, j->relu);
}

// dh' [B, H], h' [B, H] -> dg [B, H] = dh' act'(pre), from h'. attrs: nonlinearity
static gx_status rnn_step_backward_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    csl_step_job j = {.dy = csl_f32(&a->inputs[0]), .y_in = csl_f32(&a->inputs[1]),
                      .dg = csl_f32(&a->outputs[0]), .relu = csl_step_is_relu(a)};
    csl_parallel_range(a->backend_ctx, rnn_step_backward_range, &j, csl_numel(&a->outputs[0]),
                       CSL_CHUNK_CHEAP);
    return GX_OK;
}

static void lstm_step_backward_rows(void *arg, int64_t b0, int64_t b1) {
    const csl_step_job *j = arg;
    int64_t H = j->H, R = 4 * H;
    for (int64_t b = b0; b < b1; b++)
        csl_vec->lstm_step_bwd_row(j->dg + b * R, j->dc + b * H, j->act_in + b * R,
                                   j->c + b * H, j->c_new + b * H, j->dy + b * H,
                                   j->dc_next + b * H, j->dact ? j->dact + b * R : NULL, H);
}

// dh', dc' [B, H], act [B, 4H], c, c' [B, H][, dact [B, 4H]] -> dg [B, 4H], dc [B, H]
static gx_status lstm_step_backward_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const float *dh = csl_f32(&a->inputs[0]), *dcn = csl_f32(&a->inputs[1]);
    const float *act = csl_f32(&a->inputs[2]), *c = csl_f32(&a->inputs[3]);
    const float *cn = csl_f32(&a->inputs[4]);
    const float *dact = a->n_inputs > 5 ? csl_f32(&a->inputs[5]) : NULL;
    int64_t B = a->inputs[3].shape.dims[0], H = a->inputs[3].shape.dims[1];
    csl_step_job j = {.c = c, .c_new = cn, .act_in = act, .dy = dh, .dc_next = dcn,
                      .dact = dact, .dg = csl_f32(&a->outputs[0]),
                      .dc = csl_f32(&a->outputs[1]), .H = H};
    csl_parallel_range(a->backend_ctx, lstm_step_backward_rows, &j, B,
                       csl_step_rows_per_chunk(4 * H));
    return GX_OK;
}

static void gru_step_backward_rows(void *arg, int64_t b0, int64_t b1) {
    const csl_step_job *j = arg;
    int64_t H = j->H;
    for (int64_t b = b0; b < b1; b++)
        csl_vec->gru_step_bwd_row(j->dg + b * 3 * H, j->dgh + b * 3 * H, j->dh_direct + b * H,
                                  j->act_in + b * 4 * H, j->h + b * H, j->dy + b * H,
                                  j->dact ? j->dact + b * 4 * H : NULL, H);
}

// dh' [B, H], act [B, 4H], h [B, H][, dact [B, 4H]] -> dgi, dgh [B, 3H], dh_direct [B, H]
static gx_status gru_step_backward_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const float *dy = csl_f32(&a->inputs[0]), *act = csl_f32(&a->inputs[1]);
    const float *h = csl_f32(&a->inputs[2]);
    const float *dact = a->n_inputs > 3 ? csl_f32(&a->inputs[3]) : NULL;
    int64_t B = a->inputs[2].shape.dims[0], H = a->inputs[2].shape.dims[1];
    csl_step_job j = {.h = h, .act_in = act, .dy = dy, .dact = dact,
                      .dg = csl_f32(&a->outputs[0]), .dgh = csl_f32(&a->outputs[1]),
                      .dh_direct = csl_f32(&a->outputs[2]), .H = H};
    csl_parallel_range(a->backend_ctx, gru_step_backward_rows, &j, B,
                       csl_step_rows_per_chunk(4 * H));
    return GX_OK;
}

static const gx_kernel_desc csl_step_kernels[] = {
    CSL_F32("matmul_tn", matmul_tn_run),
    CSL_F32("rnn_step", rnn_step_run),
    CSL_F32("lstm_step", lstm_step_run),
    CSL_F32("gru_step", gru_step_run),
    CSL_F32("rnn_step_backward", rnn_step_backward_run),
    CSL_F32("lstm_step_backward", lstm_step_backward_run),
    CSL_F32("gru_step_backward", gru_step_backward_run),
};

gx_status csl_register_step(const gx_host_api *api, gx_host *host) {
    return gx_register_kernels(api, host, csl_step_kernels, GX_COUNT(csl_step_kernels));
}
