/*
 * kernels-cpu-scalar.c: peephole_lstm_cell and peephole_lstm_cell_backward on the cpu-scalar
 * backend (the engine's reference backend; a plugin may register kernels for a backend another
 * plugin brings). One function per op serves f32 and f64: elements are read as doubles,
 * computed in double and stored in the tensor's dtype, as cpu-scalar's own kernels do.
 *
 * Threads: the engine may call a kernel on nth workers at once, each with its own ith and no
 * barrier between them. Every output element is written by exactly one worker, from values that
 * worker computed itself, in an order that does not depend on nth, so the results are the same
 * bits for any nth.
 */
#include <math.h>

#include "peephole-lstm.h"

// ---- element access and work splitting --------------------------------------------------------

static double pl_ld(const gx_tensor *t, int64_t i) {
    return t->dtype == GX_DTYPE_F32 ? (double)((const float *)t->data)[i]
                                    : ((const double *)t->data)[i];
}

static void pl_st(const gx_tensor *t, int64_t i, double v) {
    if (t->dtype == GX_DTYPE_F32) ((float *)t->data)[i] = (float)v;
    else ((double *)t->data)[i] = v;
}

/* worker ith of nth takes items [lo, hi) of n: contiguous, fixed by (n, ith, nth) alone */
static void pl_slice(int64_t n, int32_t ith, int32_t nth, int64_t *lo, int64_t *hi) {
    if (nth < 1) nth = 1;
    *lo = n * ith / nth;
    *hi = n * (ith + 1) / nth;
}

static double pl_sigmoid(double v) {
    return v >= 0.0 ? 1.0 / (1.0 + exp(-v)) : exp(v) / (1.0 + exp(v));
}

// ---- one unit of the cell ---------------------------------------------------------------------

/* the cell's inputs (from index `first` of the kernel's inputs) and its sizes */
typedef struct pl_cell {
    const gx_tensor *x, *h, *c, *w_ih, *w_hh, *b_ih, *b_hh, *w_peep;
    int64_t B, I, H;
} pl_cell;

static pl_cell pl_unpack(const gx_kernel_args *a, int32_t first) {
    const gx_tensor *in = a->inputs + first;
    pl_cell p = {.x = &in[PL_X], .h = &in[PL_H], .c = &in[PL_C], .w_ih = &in[PL_W_IH],
                 .w_hh = &in[PL_W_HH], .b_ih = &in[PL_B_IH], .b_hh = &in[PL_B_HH],
                 .w_peep = &in[PL_W_PEEP]};
    p.B = p.x->shape.dims[0];
    p.I = p.x->shape.dims[1];
    p.H = p.h->shape.dims[1];
    return p;
}

/* gate row r's pre-activation for batch row b: x W_ih^T + b_ih + h W_hh^T + b_hh, no peephole.
 * x is [B, I], W_ih [4H, I], h [B, H], W_hh [4H, H] */
static double pl_pre(const pl_cell *p, int64_t b, int64_t r) {
    double acc = pl_ld(p->b_ih, r) + pl_ld(p->b_hh, r);
    for (int64_t k = 0; k < p->I; k++)
        acc += pl_ld(p->x, b * p->I + k) * pl_ld(p->w_ih, r * p->I + k);
    for (int64_t k = 0; k < p->H; k++)
        acc += pl_ld(p->h, b * p->H + k) * pl_ld(p->w_hh, r * p->H + k);
    return acc;
}

/* unit j of batch row b, forward: the activated gates, the peephole weights, c, c' and tanh(c') */
typedef struct pl_unit {
    double i, f, g, o;
    double p_i, p_f, p_o;
    double c, cn, t;
} pl_unit;

static pl_unit pl_forward(const pl_cell *p, int64_t b, int64_t j) {
    int64_t H = p->H;
    pl_unit u;
    u.p_i = pl_ld(p->w_peep, j);
    u.p_f = pl_ld(p->w_peep, H + j);
    u.p_o = pl_ld(p->w_peep, 2 * H + j);
    u.c = pl_ld(p->c, b * H + j);
    u.i = pl_sigmoid(pl_pre(p, b, j) + u.p_i * u.c);
    u.f = pl_sigmoid(pl_pre(p, b, H + j) + u.p_f * u.c);
    u.g = tanh(pl_pre(p, b, 2 * H + j));
    u.cn = u.f * u.c + u.i * u.g;
    u.o = pl_sigmoid(pl_pre(p, b, 3 * H + j) + u.p_o * u.cn);
    u.t = tanh(u.cn);
    return u;
}

/* unit (b, j), backward from dh' and dc': the gradients of the four gate pre-activations
 * da = (da_i, da_f, da_g, da_o), and of c. c' reaches the loss through dc', through h' and
 * through the output gate's peephole; c through c' and through the i and f peepholes. */
static void pl_backward(const pl_unit *u, double dh, double dcn, double da[4], double *dc) {
    double da_o = dh * u->t * u->o * (1.0 - u->o);
    double dct = dcn + dh * u->o * (1.0 - u->t * u->t) + da_o * u->p_o;
    da[0] = dct * u->g * u->i * (1.0 - u->i);
    da[1] = dct * u->c * u->f * (1.0 - u->f);
    da[2] = dct * u->i * (1.0 - u->g * u->g);
    da[3] = da_o;
    *dc = dct * u->f + da[0] * u->p_i + da[1] * u->p_f;
}

// ---- peephole_lstm_cell -----------------------------------------------------------------------

/* inputs x [B, I], h [B, H], c [B, H], W_ih [4H, I], W_hh [4H, H], b_ih [4H], b_hh [4H],
 * w_peep [3H]; outputs h' [B, H], c' [B, H]. Work: the B*H units, split over the workers. */
static gx_status pl_cell_run(const gx_kernel_args *a) {
    const pl_cell p = pl_unpack(a, 0);
    const gx_tensor *h_out = &a->outputs[0], *c_out = &a->outputs[1];
    int64_t lo, hi;
    pl_slice(p.B * p.H, a->ith, a->nth, &lo, &hi);
    for (int64_t n = lo; n < hi; n++) {
        pl_unit u = pl_forward(&p, n / p.H, n % p.H);
        pl_st(c_out, n, u.cn);
        pl_st(h_out, n, u.o * u.t);
    }
    return GX_OK;
}

// ---- peephole_lstm_cell_backward ----------------------------------------------------------------

/* Two [B, 4H] double arrays of gate gradients, one per half of the work below: the halves
 * compute the same values for different outputs, and separate arrays keep two workers from
 * ever writing one address. */
static uint64_t pl_backward_ws(int32_t n_inputs, const gx_tensor_info *inputs, int32_t n_outputs,
                               const gx_tensor_info *outputs, const gx_attr_value *attrs) {
    (void)n_inputs, (void)inputs, (void)attrs;
    if (n_outputs < 2 || outputs[1].shape.ndim != 2) return 0;
    uint64_t B = (uint64_t)outputs[1].shape.dims[0], H = (uint64_t)outputs[1].shape.dims[1];
    return 2 * B * 4 * H * sizeof(double);
}

/* inputs dh' [B, H], dc' [B, H], then the cell's; outputs dx [B, I], dh [B, H], dc [B, H],
 * dW_ih [4H, I], dW_hh [4H, H], db_ih [4H], db_hh [4H], dw_peep [3H]. With da [B, 4H] the
 * gradients of the gate pre-activations:
 *   dx = da W_ih, dh = da W_hh, dW_ih = da^T x, dW_hh = da^T h, db_ih = db_hh = sum_b da,
 *   dw_peep = sum_b (da_i c, da_f c, da_o c')
 * The per-batch-row outputs (dx, dh, dc) need all of da's row b, the per-unit ones (weights,
 * biases, peepholes) all of its column j, and no barrier lets one worker wait for another's
 * part of da. So the work is split twice, by batch rows and by units, and each half recomputes
 * the gates it needs: twice the gate arithmetic of the forward, and no cross-worker reads. */
static gx_status pl_backward_run(const gx_kernel_args *a) {
    const gx_tensor *dhn = &a->inputs[0], *dcn = &a->inputs[1];
    const pl_cell p = pl_unpack(a, PL_N_GRADS);
    const gx_tensor *o = a->outputs;   /* dx dh dc dW_ih dW_hh db_ih db_hh dw_peep */
    const int64_t B = p.B, I = p.I, H = p.H, R = 4 * H;
    uint64_t need = 2 * (uint64_t)(B * R) * sizeof(double);
    uint64_t have = a->workspace.shape.ndim == 1 ? (uint64_t)a->workspace.shape.dims[0] : 0;
    if (need > 0 && (a->workspace.data == NULL || have < need))
        return a->api->set_error(a->host, GX_ERR_INVALID, "peephole_lstm_cell_backward: needs "
                                 "a workspace of %llu bytes, got %llu", (unsigned long long)need,
                                 (unsigned long long)have);
    double *da_rows = a->workspace.data, *da_cols = da_rows + B * R;
    int64_t lo, hi;

    /* batch rows [lo, hi): dc, then dx and dh from row b of da */
    pl_slice(B, a->ith, a->nth, &lo, &hi);
    for (int64_t b = lo; b < hi; b++) {
        double *da = da_rows + b * R;
        for (int64_t j = 0; j < H; j++) {
            pl_unit u = pl_forward(&p, b, j);
            double g[4], dc;
            pl_backward(&u, pl_ld(dhn, b * H + j), pl_ld(dcn, b * H + j), g, &dc);
            for (int k = 0; k < 4; k++) da[k * H + j] = g[k];
            pl_st(&o[2], b * H + j, dc);
        }
        for (int64_t k = 0; k < I; k++) {
            double acc = 0.0;
            for (int64_t r = 0; r < R; r++) acc += da[r] * pl_ld(p.w_ih, r * I + k);
            pl_st(&o[0], b * I + k, acc);
        }
        for (int64_t k = 0; k < H; k++) {
            double acc = 0.0;
            for (int64_t r = 0; r < R; r++) acc += da[r] * pl_ld(p.w_hh, r * H + k);
            pl_st(&o[1], b * H + k, acc);
        }
    }

    /* units [lo, hi): the four weight rows, biases and three peepholes of unit j */
    pl_slice(H, a->ith, a->nth, &lo, &hi);
    for (int64_t j = lo; j < hi; j++) {
        double dp_i = 0.0, dp_f = 0.0, dp_o = 0.0;
        for (int64_t b = 0; b < B; b++) {
            pl_unit u = pl_forward(&p, b, j);
            double g[4], dc;
            pl_backward(&u, pl_ld(dhn, b * H + j), pl_ld(dcn, b * H + j), g, &dc);
            for (int k = 0; k < 4; k++) da_cols[b * R + k * H + j] = g[k];
            dp_i += g[0] * u.c;
            dp_f += g[1] * u.c;
            dp_o += g[3] * u.cn;
        }
        pl_st(&o[7], j, dp_i);
        pl_st(&o[7], H + j, dp_f);
        pl_st(&o[7], 2 * H + j, dp_o);
        for (int64_t k4 = 0; k4 < 4; k4++) {
            int64_t r = k4 * H + j;
            double db = 0.0;
            for (int64_t b = 0; b < B; b++) db += da_cols[b * R + r];
            pl_st(&o[5], r, db);
            pl_st(&o[6], r, db);
            for (int64_t k = 0; k < I; k++) {
                double acc = 0.0;
                for (int64_t b = 0; b < B; b++) acc += da_cols[b * R + r] * pl_ld(p.x, b * I + k);
                pl_st(&o[3], r * I + k, acc);
            }
            for (int64_t k = 0; k < H; k++) {
                double acc = 0.0;
                for (int64_t b = 0; b < B; b++) acc += da_cols[b * R + r] * pl_ld(p.h, b * H + k);
                pl_st(&o[4], r * H + k, acc);
            }
        }
    }
    return GX_OK;
}

// ---- registration ------------------------------------------------------------------------------

/* a kernel's dtype is the dtype of its output 0; one function serves both */
#define PL_KERNEL(opname, fn, ws, dt)                                                       \
    {.size = sizeof(gx_kernel_desc), .op = (opname), .backend = "cpu-scalar", .dtype = (dt), \
     .run = (fn), .workspace = (ws)}

static const gx_kernel_desc pl_kernels[] = {
    PL_KERNEL("peephole_lstm_cell", pl_cell_run, NULL, GX_DTYPE_F32),
    PL_KERNEL("peephole_lstm_cell", pl_cell_run, NULL, GX_DTYPE_F64),
    PL_KERNEL("peephole_lstm_cell_backward", pl_backward_run, pl_backward_ws, GX_DTYPE_F32),
    PL_KERNEL("peephole_lstm_cell_backward", pl_backward_run, pl_backward_ws, GX_DTYPE_F64),
};

gx_status pl_register_cpu_scalar(const gx_host_api *api, gx_host *host) {
    return gx_register_kernels(api, host, pl_kernels, GX_COUNT(pl_kernels));
}
