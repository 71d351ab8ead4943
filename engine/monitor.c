/*
 * monitor.c: diagnostics records of a training run (see monitor.h): set-up from the taps of
 * the diagnostics graph, the statistics of one logged step, and the files they go to.
 */
#define _POSIX_C_SOURCE 200809L   /* mkdir */
#include "monitor.h"

#include "probes.h"
#include <gexec/plugin-helpers.h>
#include "tfevents.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* power-iteration steps per logged step (the first does 4x: stats.h) */
#define SPECTRAL_ITERS 12

struct gx_monitor {
    const gx_graph *g;
    gx_mon_record   r;
    int32_t         buckets;
    gx_val         *zero_in;      /* the zero inputs (GRAD_TIME taps)                      */
    int32_t         n_zero;
    void           *zeros;        /* the largest zero input's bytes, zeroed                 */
    uint64_t        zero_bytes;
    void           *buf;          /* a tap's values, read from the plan                    */
    uint64_t        buf_bytes;
    void          **before;       /* per param: its values before the update                */
    FILE           *jsonl, *scalars, *grad_time, *states;
    char           *dir;
    gx_tb_writer   *tb;
};

// ---- set-up -------------------------------------------------------------------------------

static uint64_t val_bytes(const gx_graph *g, gx_val v) {
    const gx_tensor_info *t = &g->values[v].info;
    return (uint64_t)gx_shape_numel(&t->shape) * gx_dtype_size(t->dtype);
}

/* the layer of taps of loop node `loop` (-1: outside loops), added on first sight */
static gx_status layer_for(gx_monitor *m, int32_t loop, int32_t *out, gx_diag *d) {
    for (int32_t i = 0; i < m->r.n_layers; i++)
        if (m->r.layers[i].node == loop) {
            *out = i;
            return GX_OK;
        }
    gx_mon_layer *ls = gx_realloc(m->r.layers, sizeof *ls * (size_t)(m->r.n_layers + 1));
    if (ls == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    m->r.layers = ls;
    gx_mon_layer *L = &ls[m->r.n_layers];
    memset(L, 0, sizeof *L);
    L->node = loop;
    const gx_graph *g = m->g;
    if (loop < 0) snprintf(L->name, sizeof L->name, "graph");
    else {
        const gx_node *nd = &g->nodes[loop];
        L->T = nd->loop->T;
        for (int32_t j = 0; j < nd->n_out && L->name[0] == '\0'; j++)
            if (g->values[nd->out[j]].name)
                snprintf(L->name, sizeof L->name, "%s", g->values[nd->out[j]].name);
        if (L->name[0] == '\0') snprintf(L->name, sizeof L->name, "loop%d", (int)m->r.n_layers + 1);
        snprintf(L->pos, sizeof L->pos, "%s:%d:%d", nd->pos.file ? nd->pos.file : "?",
                 (int)nd->pos.line, (int)nd->pos.col);
    }
    *out = m->r.n_layers++;
    return GX_OK;
}

static void *grow_arr(void *p, int32_t n, size_t elem) { return gx_realloc(p, elem * (size_t)(n + 1)); }

/* The matrix a distribution probe keeps (monitor.h): which rows of the tap, cut to
 * GX_MON_DIST_MAX. A scalar probe, or one with an empty axis, keeps none. */
static gx_status add_dist(gx_monitor *m, gx_mon_gate *G, gx_diag *d) {
    const gx_shape *s = &m->g->values[G->val].info.shape;
    int64_t n = gx_shape_numel(s), width = s->ndim >= 1 ? s->dims[s->ndim - 1] : 0;
    int looped = m->r.layers[G->layer].node >= 0;
    if (n <= 0 || width <= 0 || (looped && s->ndim < 2)) return GX_OK;
    int64_t steps, stride;
    if (looped) {            /* [T, B, ..., S]: the first row of every step */
        steps = s->dims[0];
        stride = n / steps;
    } else {                 /* [B, ..., S]: every row of batch element 0 */
        int64_t batch = s->ndim >= 2 ? s->dims[0] : 1;
        steps = n / batch / width;
        stride = width;
    }
    gx_dist_cut_init(&G->cut, steps, width, stride, GX_MON_DIST_MAX, GX_MON_DIST_MAX);
    G->dist = gx_calloc((size_t)G->cut.rows * (size_t)G->cut.cols, sizeof(double));
    if (G->dist == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    G->entropy = NAN;
    return GX_OK;
}

static gx_status add_gate(gx_monitor *m, const gx_tap *t, int32_t layer, gx_diag *d) {
    gx_mon_gate *gs = grow_arr(m->r.gates, m->r.n_gates, sizeof *gs);
    if (gs == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    m->r.gates = gs;
    gx_mon_gate *G = &gs[m->r.n_gates++];
    memset(G, 0, sizeof *G);
    G->layer = layer;
    G->probe = t->name;
    G->kind = t->probe_kind;
    G->val = t->val;
    int64_t T = m->r.layers[layer].T;
    int32_t K = m->buckets > 1 && T > 1 ? m->buckets : 0;
    if (K > T) K = (int32_t)T;
    if (K > 0) {
        G->t0 = gx_malloc(sizeof(int64_t) * (size_t)K);
        G->t1 = gx_malloc(sizeof(int64_t) * (size_t)K);
        G->bucket = gx_calloc((size_t)K, sizeof(gx_summary));
        if (!G->t0 || !G->t1 || !G->bucket) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
        for (int32_t k = 0; k < K; k++) {
            G->t0[k] = T * k / K;
            G->t1[k] = T * (k + 1) / K;
        }
        G->n_buckets = K;
    }
    return t->probe_kind == GX_PROBE_DIST ? add_dist(m, G, d) : GX_OK;
}

static gx_status add_series(gx_mon_series **arr, int32_t *n, const char *carry, int32_t layer,
                            int64_t T, gx_val v, int with_sat, gx_diag *d) {
    gx_mon_series *ss = grow_arr(*arr, *n, sizeof *ss);
    if (ss == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    *arr = ss;
    gx_mon_series *S = &ss[(*n)++];
    memset(S, 0, sizeof *S);
    S->layer = layer;
    S->carry = carry;
    S->T = T;
    S->val = v;
    S->norm = gx_calloc((size_t)T + 1, sizeof(double));
    if (with_sat) S->saturated = gx_calloc((size_t)T + 1, sizeof(double));
    if (S->norm == NULL || (with_sat && S->saturated == NULL))
        return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    return GX_OK;
}

/* follow transposes (in g) back to a param; -1 when v is not a param's (transposed) value */
static int32_t param_through_transposes(const gx_graph *g, gx_val v) {
    for (int hops = 0; hops < 8; hops++) {
        const gx_value *x = &g->values[v];
        if (x->kind == GX_VALUE_PARAM) {
            for (int32_t i = 0; i < g->n_params; i++)
                if (g->params[i].val == v) return i;
            return -1;
        }
        if (x->kind != GX_VALUE_NODE) return -1;
        const gx_node *nd = &g->nodes[x->node];
        if (nd->loop || strcmp(nd->op->name, "transpose") != 0) return -1;
        v = nd->in[0];
    }
    return -1;
}

/* outer value of body value bv of loop node `node` when bv is an invariant, else NONE; a
 * transpose inside the body is followed first */
static gx_val invariant_source(const gx_graph *g, int32_t node, gx_val bv) {
    const gx_node *nd = &g->nodes[node];
    const gx_loop *l = nd->loop;
    const gx_graph *body = l->body;
    for (int hops = 0; hops < 4; hops++) {
        for (int32_t k = 0; k < l->n_inv; k++)
            if (l->inv_in[k] == bv) return nd->in[l->n_carry + l->n_seq + k];
        const gx_value *x = &body->values[bv];
        if (x->kind != GX_VALUE_NODE) return GX_VAL_NONE;
        const gx_node *bn = &body->nodes[x->node];
        if (bn->loop || strcmp(bn->op->name, "transpose") != 0) return GX_VAL_NONE;
        bv = bn->in[0];
    }
    return GX_VAL_NONE;
}

static void mark_recurrent(gx_monitor *m, int32_t param) {
    if (param >= 0 && param < m->r.n_params) m->r.params[param].recurrent = 1;
}

/* The recurrent weight matrices: in every top-level loop, the inputs a fused op declares
 * recurrent (gx_op_desc.recurrent_inputs), and the weight of every matmul whose other operand
 * depends on a carry (h @ transpose(W_hh) in a composite cell). */
static gx_status find_recurrent(gx_monitor *m, gx_diag *d) {
    const gx_graph *g = m->g;
    for (int32_t n = 0; n < g->n_forward_nodes; n++) {
        const gx_node *nd = &g->nodes[n];
        if (nd->loop == NULL || nd->loop->backward) continue;
        const gx_loop *l = nd->loop;
        const gx_graph *body = l->body;
        unsigned char *dep = gx_calloc((size_t)body->n_values + 1, 1);
        if (dep == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
        for (int32_t k = 0; k < l->n_carry; k++) dep[l->carry_in[k]] = 1;
        for (int32_t b = 0; b < body->n_nodes; b++) {
            const gx_node *bn = &body->nodes[b];
            int any = 0;
            for (int32_t i = 0; i < bn->n_in; i++) any |= dep[bn->in[i]];
            for (int32_t j = 0; j < bn->n_out; j++) dep[bn->out[j]] = (unsigned char)any;
            if (bn->loop) continue;
            uint32_t rec = bn->op->desc.recurrent_inputs;
            for (int32_t i = 0; i < bn->n_in && i < 32; i++)
                if ((rec >> i) & 1u) {
                    gx_val ov = invariant_source(g, n, bn->in[i]);
                    if (ov != GX_VAL_NONE) mark_recurrent(m, param_through_transposes(g, ov));
                }
            if (strcmp(bn->op->name, "matmul") == 0 && bn->n_in == 2)
                for (int32_t i = 0; i < 2; i++)
                    if (dep[bn->in[1 - i]]) {
                        gx_val ov = invariant_source(g, n, bn->in[i]);
                        if (ov != GX_VAL_NONE) mark_recurrent(m, param_through_transposes(g, ov));
                    }
        }
        gx_free(dep);
    }
    for (int32_t i = 0; i < m->r.n_params; i++) {
        gx_mon_param *P = &m->r.params[i];
        if (!P->recurrent) continue;
        const gx_tensor_info *t = &g->values[g->params[i].val].info;
        int64_t r = t->shape.ndim == 2 ? t->shape.dims[0] : 0, c = t->shape.ndim == 2 ? t->shape.dims[1] : 0;
        int64_t H = r < c ? r : c;
        if (H <= 0 || gx_spectral_init(&P->spec, r, c, H) != GX_OK) P->recurrent = 0;
    }
    return GX_OK;
}

static FILE *open_in(gx_monitor *m, const char *name, const char *header, gx_diag *d) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", m->dir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        gx_diag_set(d, GX_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
        return NULL;
    }
    if (header) fprintf(f, "%s\n", header);
    return f;
}

static gx_status make_dir(const char *dir, gx_diag *d) {
    char path[4096];
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(path, 0777) != 0 && errno != EEXIST)
                return gx_diag_set(d, GX_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
            *p = '/';
        }
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        return gx_diag_set(d, GX_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    return GX_OK;
}

static gx_status setup(gx_monitor *m, const gx_monitor_opts *o, gx_diag *d) {
    const gx_graph *g = m->g;
    m->r.params = gx_calloc((size_t)g->n_params + 1, sizeof(gx_mon_param));
    m->before = gx_calloc((size_t)g->n_params + 1, sizeof(void *));
    m->zero_in = gx_calloc((size_t)g->n_taps + 1, sizeof(gx_val));
    if (!m->r.params || !m->before || !m->zero_in) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    m->r.n_params = g->n_params;
    for (int32_t i = 0; i < g->n_params; i++) {
        m->r.params[i].name = g->params[i].name;
        m->r.params[i].index = i;
        m->before[i] = gx_malloc(val_bytes(g, g->params[i].val) + 8);
        if (m->before[i] == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    }
    GX_TRY(find_recurrent(m, d));
    for (int32_t i = 0; i < g->n_taps; i++) {
        const gx_tap *t = &g->taps[i];
        int32_t layer = 0;
        GX_TRY(layer_for(m, t->loop, &layer, d));
        int64_t T = m->r.layers[layer].T;
        if (t->kind == GX_TAP_PROBE) GX_TRY(add_gate(m, t, layer, d));
        else if (t->kind == GX_TAP_STATE)
            GX_TRY(add_series(&m->r.states, &m->r.n_states, t->name, layer, T, t->val, 1, d));
        else {
            char name[256];
            snprintf(name, sizeof name, "grad.%s", g->values[t->val].name);
            int32_t k = gx_graph_find_output(g, name);
            if (k < 0) continue;   /* the loss does not depend on this carry */
            GX_TRY(add_series(&m->r.grad_time, &m->r.n_grad_time, t->name, layer, T,
                              g->outputs[k].val, 0, d));
            m->zero_in[m->n_zero++] = t->val;
            uint64_t b = val_bytes(g, t->val);
            if (b > m->zero_bytes) m->zero_bytes = b;
        }
    }
    for (int32_t i = 0; i < g->n_taps; i++) {
        uint64_t b = val_bytes(g, g->taps[i].val);
        if (b > m->buf_bytes) m->buf_bytes = b;
    }
    for (int32_t i = 0; i < m->r.n_grad_time; i++) {
        uint64_t b = val_bytes(g, m->r.grad_time[i].val);
        if (b > m->buf_bytes) m->buf_bytes = b;
    }
    m->buf = gx_malloc(m->buf_bytes + 8);
    m->zeros = gx_calloc(1, m->zero_bytes + 8);
    if (!m->buf || !m->zeros) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    if (o->dir) {
        m->dir = gx_strdup(o->dir);
        if (m->dir == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
        GX_TRY(make_dir(o->dir, d));
        if (!(m->jsonl = open_in(m, "diag.jsonl", NULL, d)) ||
            !(m->scalars = open_in(m, "scalars.csv", "step,name,value", d)) ||
            !(m->grad_time = open_in(m, "grad_time.csv", "step,layer,carry,t,lag,norm", d)) ||
            !(m->states = open_in(m, "states.csv", "step,layer,carry,t,norm,saturated", d)))
            return d->status;
    }
    if (o->tensorboard) GX_TRY(gx_tb_open(o->tensorboard, &m->tb, d));
    return GX_OK;
}

gx_status gx_monitor_new(const gx_graph *g, const gx_monitor_opts *o, gx_monitor **out,
                         gx_diag *d) {
    *out = NULL;
    gx_monitor *m = gx_calloc(1, sizeof *m);
    if (m == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    m->g = g;
    m->buckets = o->buckets;
    gx_status st = setup(m, o, d);
    if (st != GX_OK) {
        gx_monitor_free(m);
        return st;
    }
    *out = m;
    return GX_OK;
}

void gx_monitor_free(gx_monitor *m) {
    if (m == NULL) return;
    for (int32_t i = 0; i < m->r.n_gates; i++) {
        gx_free(m->r.gates[i].t0);
        gx_free(m->r.gates[i].t1);
        gx_free(m->r.gates[i].bucket);
        gx_free(m->r.gates[i].dist);
    }
    for (int32_t i = 0; i < m->r.n_states; i++) {
        gx_free(m->r.states[i].norm);
        gx_free(m->r.states[i].saturated);
    }
    for (int32_t i = 0; i < m->r.n_grad_time; i++) gx_free(m->r.grad_time[i].norm);
    for (int32_t i = 0; i < m->r.n_params; i++) {
        gx_spectral_free(&m->r.params[i].spec);
        if (m->before) gx_free(m->before[i]);
    }
    gx_free(m->r.layers);
    gx_free(m->r.gates);
    gx_free(m->r.states);
    gx_free(m->r.grad_time);
    gx_free(m->r.params);
    gx_free(m->before);
    gx_free(m->zero_in);
    gx_free(m->zeros);
    gx_free(m->buf);
    gx_free(m->dir);
    FILE *fs[4] = {m->jsonl, m->scalars, m->grad_time, m->states};
    for (int i = 0; i < 4; i++)
        if (fs[i]) fclose(fs[i]);
    gx_tb_close(m->tb);
    gx_free(m);
}

int32_t gx_monitor_n_wanted(const gx_monitor *m) {
    return m->r.n_gates + m->r.n_states + m->r.n_grad_time;
}

void gx_monitor_wanted(const gx_monitor *m, gx_val *out) {
    int32_t n = 0;
    for (int32_t i = 0; i < m->r.n_gates; i++) out[n++] = m->r.gates[i].val;
    for (int32_t i = 0; i < m->r.n_states; i++) out[n++] = m->r.states[i].val;
    for (int32_t i = 0; i < m->r.n_grad_time; i++) out[n++] = m->r.grad_time[i].val;
}

gx_status gx_monitor_feed(gx_monitor *m, gx_exec *e, gx_diag *d) {
    for (int32_t i = 0; i < m->n_zero; i++)
        GX_TRY(gx_exec_write(e, m->zero_in[i], m->zeros, val_bytes(m->g, m->zero_in[i]), d));
    return GX_OK;
}

const gx_mon_record *gx_monitor_record(const gx_monitor *m) { return &m->r; }

// ---- one logged step ----------------------------------------------------------------------

static gx_status read_val(gx_monitor *m, gx_exec *e, gx_val v, gx_diag *d) {
    return gx_exec_read(e, v, m->buf, val_bytes(m->g, v), d);
}

static const void *elem(const void *base, gx_dtype dt, int64_t i) {
    return (const char *)base + (size_t)i * gx_dtype_size(dt);
}

gx_status gx_monitor_collect(gx_monitor *m, gx_exec *e, gx_optim *opt, int64_t step,
                             double loss, gx_diag *d) {
    const gx_graph *g = m->g;
    m->r.step = step;
    m->r.loss = loss;
    for (int32_t i = 0; i < m->r.n_gates; i++) {
        gx_mon_gate *G = &m->r.gates[i];
        const gx_tensor_info *t = &g->values[G->val].info;
        int64_t n = gx_shape_numel(&t->shape);
        GX_TRY(read_val(m, e, G->val, d));
        gx_summarize(m->buf, t->dtype, n, G->kind, &G->all);
        if (m->tb && t->dtype == GX_DTYPE_F32) {   /* TensorBoard's histograms tab */
            char tag[512];
            snprintf(tag, sizeof tag, "gate/%s/%s", m->r.layers[G->layer].name, G->probe);
            GX_TRY(gx_tb_histogram_f32(m->tb, tag, step, m->buf, n, d));
        }
        int64_t T = m->r.layers[G->layer].T, per = T > 0 ? n / T : 0;
        for (int32_t k = 0; k < G->n_buckets; k++)
            gx_summarize(elem(m->buf, t->dtype, G->t0[k] * per), t->dtype,
                         (G->t1[k] - G->t0[k]) * per, G->kind, &G->bucket[k]);
        if (G->dist) {
            gx_dist_cut_apply(&G->cut, m->buf, t->dtype, G->dist);
            G->entropy = gx_mean_entropy(m->buf, t->dtype, n, G->cut.width);
        }
    }
    for (int32_t i = 0; i < m->r.n_states; i++) {
        gx_mon_series *S = &m->r.states[i];
        const gx_tensor_info *t = &g->values[S->val].info;
        GX_TRY(read_val(m, e, S->val, d));
        int64_t per = gx_shape_numel(&t->shape) / (S->T > 0 ? S->T : 1);
        int64_t rows = t->shape.ndim >= 3 ? t->shape.dims[1] : 1, width = per / rows;
        for (int64_t s = 0; s < S->T; s++) {
            double norm = 0;
            for (int64_t b = 0; b < rows; b++)
                norm += gx_norm2(elem(m->buf, t->dtype, s * per + b * width), t->dtype, width);
            S->norm[s] = norm / (double)rows;
            S->saturated[s] = gx_saturated_fraction(elem(m->buf, t->dtype, s * per), t->dtype,
                                                    per, GX_PROBE_TANH);
        }
    }
    for (int32_t i = 0; i < m->r.n_grad_time; i++) {
        gx_mon_series *S = &m->r.grad_time[i];
        const gx_tensor_info *t = &g->values[S->val].info;
        GX_TRY(read_val(m, e, S->val, d));
        int64_t per = gx_shape_numel(&t->shape) / (S->T > 0 ? S->T : 1);
        for (int64_t s = 0; s < S->T; s++)
            S->norm[s] = gx_norm2(elem(m->buf, t->dtype, s * per), t->dtype, per);
    }
    for (int32_t i = 0; i < m->r.n_params; i++) {
        gx_mon_param *P = &m->r.params[i];
        gx_optim_param *op = gx_optim_param_at(opt, i);
        gx_dtype dt = (gx_dtype)op->dtype;
        P->norm = gx_norm2(op->data, dt, op->n);
        P->grad_norm = gx_norm2(op->grad, dt, op->n);
        memcpy(m->before[i], op->data, (size_t)op->n * gx_dtype_size(dt));
        if (P->recurrent) gx_spectral_update(&P->spec, op->data, dt, SPECTRAL_ITERS);
    }
    return GX_OK;
}

// ---- writing ------------------------------------------------------------------------------

static void jnum(FILE *f, double x) {
    if (isfinite(x)) fprintf(f, "%.7g", x);
    else fputs("null", f);
}

static void jstr(FILE *f, const char *s) { gx_json_str(f, s); }

static void jarr(FILE *f, const double *x, int64_t n) {
    fputc('[', f);
    for (int64_t i = 0; i < n; i++) {
        if (i) fputc(',', f);
        jnum(f, x[i]);
    }
    fputc(']', f);
}

/* ,"key":value: a number (null when not finite), a string (null when NULL), an array */
static void kn(FILE *f, const char *key, double v) {
    fprintf(f, ",\"%s\":", key);
    jnum(f, v);
}

static void ks(FILE *f, const char *key, const char *v) {
    fprintf(f, ",\"%s\":", key);
    if (v) jstr(f, v);
    else fputs("null", f);
}

static void ka(FILE *f, const char *key, const double *x, int64_t n) {
    fprintf(f, ",\"%s\":", key);
    jarr(f, x, n);
}

static void jsummary(FILE *f, const gx_summary *s) {
    kn(f, "mean", s->mean);
    kn(f, "std", s->std);
    kn(f, "p5", s->p5);
    kn(f, "p50", s->p50);
    kn(f, "p95", s->p95);
    kn(f, "saturated", s->saturated);
}

/* one scalar to scalars.csv and TensorBoard */
static gx_status scalar(gx_monitor *m, int64_t step, const char *name, double v, gx_diag *d) {
    if (m->scalars) {
        fprintf(m->scalars, "%lld,%s,", (long long)step, name);
        if (isfinite(v)) fprintf(m->scalars, "%.7g\n", v);
        else fputs("\n", m->scalars);
    }
    if (m->tb && isfinite(v)) return gx_tb_scalar(m->tb, name, step, v, d);
    return GX_OK;
}

static gx_status flush_all(gx_monitor *m, gx_diag *d) {
    FILE *fs[4] = {m->jsonl, m->scalars, m->grad_time, m->states};
    for (int i = 0; i < 4; i++)
        if (fs[i] && (fflush(fs[i]) != 0 || ferror(fs[i])))
            return gx_diag_set(d, GX_ERR_IO, "%s: cannot write the diagnostics: %s", m->dir,
                               strerror(errno));
    return m->tb ? gx_tb_flush(m->tb, d) : GX_OK;
}

static const char *kind_name(int32_t k) {
    return k == GX_PROBE_SIGMOID ? "sigmoid" : k == GX_PROBE_TANH ? "tanh"
         : k == GX_PROBE_DIST ? "dist" : "plain";
}

/* ,"entropy":..,"dist":{"T":..,"S":..,"rows":..,"cols":..,"row_stride":..,"col_stride":..,
 * "cut":..,"weights":[[..],..]} (the README's schema): five digits are plenty for a colour
 * and keep a full 128 x 128 matrix under about 180 KB a record */
static void jdist(FILE *f, const gx_mon_gate *G) {
    const gx_dist_cut *c = &G->cut;
    kn(f, "entropy", G->entropy);
    fprintf(f, ",\"dist\":{\"T\":%lld,\"S\":%lld,\"rows\":%d,\"cols\":%d,\"row_stride\":%d,"
               "\"col_stride\":%d,\"cut\":%s,\"weights\":[", (long long)c->steps,
            (long long)c->width, (int)c->rows, (int)c->cols, (int)c->row_stride,
            (int)c->col_stride, c->row_stride > 1 || c->col_stride > 1 ? "true" : "false");
    for (int32_t r = 0; r < c->rows; r++) {
        fputs(r ? ",[" : "[", f);
        for (int32_t k = 0; k < c->cols; k++) {
            double v = G->dist[(size_t)r * (size_t)c->cols + (size_t)k];
            if (k) fputc(',', f);
            if (isfinite(v)) fprintf(f, "%.5g", v);
            else fputs("null", f);
        }
        fputc(']', f);
    }
    fputs("]}", f);
}

/* {"layer":..,"carry":..,"norm":[..](,"saturated":[..])} */
static void jseries(FILE *f, const gx_mon_record *r, const gx_mon_series *S, int first) {
    fprintf(f, "%s{\"layer\":", first ? "" : ",");
    jstr(f, r->layers[S->layer].name);
    ks(f, "carry", S->carry);
    ka(f, "norm", S->norm, S->T);
    if (S->saturated) ka(f, "saturated", S->saturated, S->T);
    fputc('}', f);
}

static void write_diag_json(gx_monitor *m) {
    FILE *f = m->jsonl;
    const gx_mon_record *r = &m->r;
    fprintf(f, "{\"type\":\"diag\",\"step\":%lld", (long long)r->step);
    kn(f, "loss", r->loss);
    kn(f, "lr", r->lr);
    kn(f, "grad_norm", r->grad_norm);
    kn(f, "grad_norm_clipped", r->grad_norm_clipped);
    fprintf(f, ",\"clipped\":%s,\"params\":[", r->clipped ? "true" : "false");
    for (int32_t i = 0; i < r->n_params; i++) {
        const gx_mon_param *P = &r->params[i];
        fprintf(f, "%s{\"name\":", i ? "," : "");
        jstr(f, P->name);
        kn(f, "norm", P->norm);
        kn(f, "grad_norm", P->grad_norm);
        kn(f, "update_ratio", P->update_ratio);
        fputc('}', f);
    }
    fputs("],\"gates\":[", f);
    for (int32_t i = 0; i < r->n_gates; i++) {
        const gx_mon_gate *G = &r->gates[i];
        fprintf(f, "%s{\"layer\":", i ? "," : "");
        jstr(f, r->layers[G->layer].name);
        ks(f, "probe", G->probe);
        ks(f, "kind", kind_name(G->kind));
        jsummary(f, &G->all);
        fputs(",\"buckets\":[", f);
        for (int32_t k = 0; k < G->n_buckets; k++) {
            fprintf(f, "%s{\"t0\":%lld,\"t1\":%lld", k ? "," : "", (long long)G->t0[k],
                    (long long)G->t1[k]);
            jsummary(f, &G->bucket[k]);
            fputc('}', f);
        }
        fputc(']', f);
        if (G->dist) jdist(f, G);
        fputc('}', f);
    }
    fputs("],\"states\":[", f);
    for (int32_t i = 0; i < r->n_states; i++) jseries(f, r, &r->states[i], i == 0);
    fputs("],\"grad_time\":[", f);
    for (int32_t i = 0; i < r->n_grad_time; i++) jseries(f, r, &r->grad_time[i], i == 0);
    fputs("],\"spectral\":[", f);
    int first = 1;
    for (int32_t i = 0; i < r->n_params; i++) {
        const gx_mon_param *P = &r->params[i];
        if (!P->recurrent) continue;
        fprintf(f, "%s{\"param\":", first ? "" : ",");
        first = 0;
        jstr(f, P->name);
        fprintf(f, ",\"blocks\":%d", (int)P->spec.blocks);
        ka(f, "rho", P->spec.rho, P->spec.blocks);
        kn(f, "sigma_max", P->spec.sigma_max);
        fputc('}', f);
    }
    fputs("]}\n", f);
}

static gx_status write_diag_scalars(gx_monitor *m, gx_diag *d) {
    const gx_mon_record *r = &m->r;
    int64_t s = r->step;
    char name[512];
    GX_TRY(scalar(m, s, "grad_norm_clipped", r->grad_norm_clipped, d));
    for (int32_t i = 0; i < r->n_params; i++) {
        const gx_mon_param *P = &r->params[i];
        snprintf(name, sizeof name, "param/%s/norm", P->name);
        GX_TRY(scalar(m, s, name, P->norm, d));
        snprintf(name, sizeof name, "param/%s/grad_norm", P->name);
        GX_TRY(scalar(m, s, name, P->grad_norm, d));
        snprintf(name, sizeof name, "param/%s/update_ratio", P->name);
        GX_TRY(scalar(m, s, name, P->update_ratio, d));
        if (!P->recurrent) continue;
        double rho = 0;
        for (int32_t b = 0; b < P->spec.blocks; b++) rho = P->spec.rho[b] > rho ? P->spec.rho[b] : rho;
        snprintf(name, sizeof name, "spectral/%s/rho_max", P->name);
        GX_TRY(scalar(m, s, name, rho, d));
        snprintf(name, sizeof name, "spectral/%s/sigma_max", P->name);
        GX_TRY(scalar(m, s, name, P->spec.sigma_max, d));
    }
    for (int32_t i = 0; i < r->n_gates; i++) {
        const gx_mon_gate *G = &r->gates[i];
        const char *ln = r->layers[G->layer].name;
        const char *what[6] = {"mean", "std", "p5", "p50", "p95", "saturated"};
        double val[6] = {G->all.mean, G->all.std, G->all.p5, G->all.p50, G->all.p95, G->all.saturated};
        for (int k = 0; k < 6; k++) {
            if (k == 5 && !gx_probe_saturates(G->kind)) continue;
            snprintf(name, sizeof name, "gate/%s/%s/%s", ln, G->probe, what[k]);
            GX_TRY(scalar(m, s, name, val[k], d));
        }
        if (G->dist) {
            snprintf(name, sizeof name, "gate/%s/%s/entropy", ln, G->probe);
            GX_TRY(scalar(m, s, name, G->entropy, d));
        }
    }
    for (int32_t i = 0; i < r->n_grad_time; i++) {
        const gx_mon_series *S = &r->grad_time[i];
        const char *ln = r->layers[S->layer].name;
        for (int64_t t = 0; m->grad_time && t < S->T; t++) {
            fprintf(m->grad_time, "%lld,%s,%s,%lld,%lld,", (long long)s, ln, S->carry,
                    (long long)t, (long long)(S->T - 1 - t));
            if (isfinite(S->norm[t])) fprintf(m->grad_time, "%.7g\n", S->norm[t]);
            else fputs("\n", m->grad_time);
        }
        if (S->T > 0) {
            snprintf(name, sizeof name, "grad_time/%s/%s/first", ln, S->carry);
            GX_TRY(scalar(m, s, name, S->norm[0], d));
            snprintf(name, sizeof name, "grad_time/%s/%s/last", ln, S->carry);
            GX_TRY(scalar(m, s, name, S->norm[S->T - 1], d));
        }
    }
    for (int32_t i = 0; i < r->n_states; i++) {
        const gx_mon_series *S = &r->states[i];
        for (int64_t t = 0; m->states && t < S->T; t++)
            fprintf(m->states, "%lld,%s,%s,%lld,%.7g,%.7g\n", (long long)s,
                    r->layers[S->layer].name, S->carry, (long long)t, S->norm[t], S->saturated[t]);
    }
    return GX_OK;
}

gx_status gx_monitor_finish(gx_monitor *m, gx_optim *opt, double lr, double grad_norm,
                            double grad_norm_clipped, int clipped, gx_diag *d) {
    m->r.lr = lr;
    m->r.grad_norm = grad_norm;
    m->r.grad_norm_clipped = grad_norm_clipped;
    m->r.clipped = clipped;
    for (int32_t i = 0; i < m->r.n_params; i++) {
        gx_optim_param *op = gx_optim_param_at(opt, i);
        gx_mon_param *P = &m->r.params[i];
        double du = gx_diff_norm2(op->data, m->before[i], (gx_dtype)op->dtype, op->n);
        P->update_ratio = P->norm > 0 ? du / P->norm : NAN;
    }
    if (m->jsonl) write_diag_json(m);
    GX_TRY(write_diag_scalars(m, d));
    return flush_all(m, d);
}

gx_status gx_monitor_meta_record(gx_monitor *m, const gx_monitor_meta *x, gx_diag *d) {
    FILE *f = m->jsonl;
    if (f == NULL) return GX_OK;
    fputs("{\"type\":\"meta\",\"version\":1", f);
    ks(f, "graph", x->graph);
    ks(f, "path", x->path);
    ks(f, "backend", x->backend);
    ks(f, "dims", x->dims);
    fprintf(f, ",\"steps\":%lld,\"diag_every\":%lld", (long long)x->steps, (long long)x->every);
    kn(f, "clip", x->clip);
    fputs(",\"layers\":[", f);
    for (int32_t i = 0; i < m->r.n_layers; i++) {
        const gx_mon_layer *L = &m->r.layers[i];
        fprintf(f, "%s{\"name\":", i ? "," : "");
        jstr(f, L->name);
        ks(f, "pos", L->pos);
        fprintf(f, ",\"T\":%lld,\"carries\":[", (long long)L->T);
        int first = 1;
        for (int32_t k = 0; k < m->r.n_states; k++)
            if (m->r.states[k].layer == i) {
                fputs(first ? "" : ",", f);
                jstr(f, m->r.states[k].carry);
                first = 0;
            }
        fputs("]}", f);
    }
    fputs("],\"params\":[", f);
    for (int32_t i = 0; i < m->r.n_params; i++) {
        const gx_tensor_info *t = &m->g->values[m->g->params[i].val].info;
        fprintf(f, "%s{\"name\":", i ? "," : "");
        jstr(f, m->r.params[i].name);
        fputs(",\"shape\":[", f);
        for (int32_t q = 0; q < t->shape.ndim; q++)
            fprintf(f, "%s%lld", q ? "," : "", (long long)t->shape.dims[q]);
        fprintf(f, "],\"recurrent\":%s}", m->r.params[i].recurrent ? "true" : "false");
    }
    fputs("]}\n", f);
    return flush_all(m, d);
}

gx_status gx_monitor_train(gx_monitor *m, int64_t step, double loss, double lr,
                           double grad_norm, int clipped, double elapsed_s, gx_diag *d) {
    if (m->jsonl) {
        fprintf(m->jsonl, "{\"type\":\"train\",\"step\":%lld", (long long)step);
        kn(m->jsonl, "loss", loss);
        kn(m->jsonl, "lr", lr);
        kn(m->jsonl, "grad_norm", grad_norm);
        fprintf(m->jsonl, ",\"clipped\":%s,\"elapsed_s\":%.4f}\n", clipped ? "true" : "false",
                elapsed_s);
    }
    GX_TRY(scalar(m, step, "loss", loss, d));
    GX_TRY(scalar(m, step, "lr", lr, d));
    GX_TRY(scalar(m, step, "grad_norm", grad_norm, d));
    return scalar(m, step, "clipped", clipped ? 1 : 0, d);
}

gx_status gx_monitor_val(gx_monitor *m, int64_t step, double loss, int32_t n_metrics,
                         const char *const *names, const double *values, gx_diag *d) {
    if (m->jsonl) {
        fprintf(m->jsonl, "{\"type\":\"val\",\"step\":%lld", (long long)step);
        kn(m->jsonl, "loss", loss);
        fputs(",\"metrics\":{", m->jsonl);
        for (int32_t i = 0; i < n_metrics; i++) {
            fputs(i ? "," : "", m->jsonl);
            jstr(m->jsonl, names[i]);
            fputc(':', m->jsonl);
            jnum(m->jsonl, values[i]);
        }
        fputs("}}\n", m->jsonl);
    }
    GX_TRY(scalar(m, step, "val_loss", loss, d));
    char name[300];
    for (int32_t i = 0; i < n_metrics; i++) {
        snprintf(name, sizeof name, "val_%s", names[i]);
        GX_TRY(scalar(m, step, name, values[i], d));
    }
    return flush_all(m, d);
}

gx_status gx_monitor_nan(gx_monitor *m, int64_t step, const char *what, const char *op,
                         const char *where, int32_t output, int64_t time_step,
                         const char *loop, int backward, const char *action, gx_diag *d) {
    if (m->jsonl) {
        FILE *f = m->jsonl;
        fprintf(f, "{\"type\":\"nan\",\"step\":%lld", (long long)step);
        ks(f, "what", what);
        ks(f, "op", op);
        ks(f, "where", where);
        fprintf(f, ",\"output\":%d", (int)output);
        kn(f, "time_step", time_step >= 0 ? (double)time_step : NAN);
        ks(f, "loop", loop);
        ks(f, "phase", backward ? "backward" : "forward");
        ks(f, "action", action);
        fputs("}\n", f);
    }
    return flush_all(m, d);
}

gx_status gx_monitor_done(gx_monitor *m, int64_t step, double elapsed_s, double val_loss,
                          gx_diag *d) {
    if (m->jsonl) {
        fprintf(m->jsonl, "{\"type\":\"done\",\"step\":%lld,\"elapsed_s\":%.3f", (long long)step,
                elapsed_s);
        kn(m->jsonl, "val_loss", val_loss);
        fputs("}\n", m->jsonl);
    }
    return flush_all(m, d);
}
