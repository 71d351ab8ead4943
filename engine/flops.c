/*
 * flops.c: model FLOPs of a graph, op by op from the inferred shapes (the formulas are in
 * flops.h).
 */
#include "flops.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static const gx_shape *in_shape(const gx_graph *g, const gx_node *n, int32_t k) {
    if (k < 0 || k >= n->n_in || n->in[k] < 0 || n->in[k] >= g->n_values) return NULL;
    return &g->values[n->in[k]].info.shape;
}

static double out_elems(const gx_graph *g, const gx_node *n) {
    double s = 0;
    for (int32_t k = 0; k < n->n_out; k++)
        if (n->out[k] >= 0 && n->out[k] < g->n_values)
            s += (double)gx_shape_numel(&g->values[n->out[k]].info.shape);
    return s;
}

/* "lstm_cell_backward" has prefix "lstm" and suffix "_cell_backward" */
static int is_cell_op(const char *name, const char *suffix, int *has_c) {
    static const char *const cells[] = {"rnn", "lstm", "gru"};
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(cells[i]);
        if (strncmp(name, cells[i], n) == 0 && strcmp(name + n, suffix) == 0) {
            *has_c = i == 1;
            return 1;
        }
    }
    return 0;
}

/*
 * Sizes of a cell node: inputs [n_grads gradients], x [B, I], h [B, H], [c], W_ih [G*H, I], ...
 * (ops/rnn/rnn.h). 0 when the shapes are not what a cell has.
 */
static int cell_dims(const gx_graph *g, const gx_node *n, int32_t n_grads, int has_c,
                     double *B, double *I, double *H, double *G) {
    const gx_shape *x = in_shape(g, n, n_grads), *h = in_shape(g, n, n_grads + 1);
    const gx_shape *w = in_shape(g, n, n_grads + 2 + has_c);
    if (x == NULL || h == NULL || w == NULL || x->ndim != 2 || h->ndim != 2 || w->ndim != 2 ||
        h->dims[1] <= 0)
        return 0;
    *B = (double)x->dims[0];
    *I = (double)x->dims[1];
    *H = (double)h->dims[1];
    *G = (double)(w->dims[0] / h->dims[1]);
    return 1;
}

static double body_flops(const gx_loop *l);

static double node_flops(const gx_graph *g, const gx_node *n) {
    if (n->loop != NULL) return (double)n->loop->T * body_flops(n->loop);
    const char *name = n->op && n->op->name ? n->op->name : "";
    double B, I, H, G;
    int has_c;
    if (strcmp(name, "matmul") == 0) {
        const gx_shape *a = in_shape(g, n, 0);
        if (a != NULL && a->ndim >= 2) return 2.0 * out_elems(g, n) * (double)a->dims[a->ndim - 1];
    } else if (strcmp(name, "matmul_tn") == 0) {
        const gx_shape *a = in_shape(g, n, 0);
        /* y[M, N] = sum over the leading axes of a[..., M] b[..., N]: M*N outputs, each a sum
         * of numel(a) / M products */
        if (a != NULL && a->ndim >= 1 && a->dims[a->ndim - 1] > 0)
            return 2.0 * out_elems(g, n) * (double)gx_shape_numel(a) / (double)a->dims[a->ndim - 1];
    } else if (is_cell_op(name, "_cell", &has_c)) {
        if (cell_dims(g, n, 0, has_c, &B, &I, &H, &G))
            return 2.0 * B * G * H * (I + H) + 4.0 * B * G * H;
    } else if (is_cell_op(name, "_cell_backward", &has_c)) {
        if (cell_dims(g, n, has_c ? 2 : 1, has_c, &B, &I, &H, &G))
            return 6.0 * B * G * H * (I + H) + 12.0 * B * G * H;
    } else if (is_cell_op(name, "_step", &has_c)) {
        /* gi [B, G*H], h [B, H]: the recurrent product h @ W_hh^T and the gates */
        const gx_shape *gi = in_shape(g, n, 0), *h = in_shape(g, n, 1);
        if (gi != NULL && h != NULL && gi->ndim == 2 && h->ndim == 2)
            return 2.0 * (double)gx_shape_numel(gi) * (double)h->dims[1] +
                   4.0 * (double)gx_shape_numel(gi);
    }
    /* *_step_backward and every other op: one per output element */
    return out_elems(g, n);
}

/*
 * FLOPs of the nodes of g that the values in want[0..n_want) need. A loop body holds, after
 * autodiff, the backward nodes the backward loop copied out of it, which the forward loop does
 * not run: walking back from what the loop reads out of its body leaves them out.
 */
static double live_flops(const gx_graph *g, const gx_val *want, int32_t n_want) {
    char *live_val = gx_calloc((size_t)g->n_values + 1, 1);
    if (live_val == NULL) return 0;
    for (int32_t i = 0; i < n_want; i++)
        if (want[i] >= 0 && want[i] < g->n_values) live_val[want[i]] = 1;
    double s = 0;
    for (int32_t i = g->n_nodes - 1; i >= 0; i--) {
        const gx_node *n = &g->nodes[i];
        int live = 0;
        for (int32_t k = 0; k < n->n_out && !live; k++)
            live = n->out[k] >= 0 && n->out[k] < g->n_values && live_val[n->out[k]];
        if (!live) continue;
        s += node_flops(g, n);
        for (int32_t k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0 && n->in[k] < g->n_values) live_val[n->in[k]] = 1;
    }
    gx_free(live_val);
    return s;
}

static double body_flops(const gx_loop *l) {
    if (l->body == NULL) return 0;
    int32_t n = l->n_carry + l->n_yield + l->n_res, k = 0;
    gx_val *want = gx_malloc(sizeof(gx_val) * ((size_t)n + 1));
    if (want == NULL) return 0;
    for (int32_t i = 0; i < l->n_carry; i++) want[k++] = l->carry_out[i];
    for (int32_t i = 0; i < l->n_yield; i++) want[k++] = l->yield_out[i];
    for (int32_t i = 0; i < l->n_res; i++) want[k++] = l->res_out[i];
    double s = live_flops(l->body, want, k);
    gx_free(want);
    return s;
}

double gx_graph_flops(const gx_graph *g, const gx_exec *plan) {
    (void)plan;   /* the nodes the outputs need are counted, plan or not: see flops.h */
    if (g == NULL) return 0;
    gx_val *want = gx_malloc(sizeof(gx_val) * ((size_t)g->n_outputs + 1));
    if (want == NULL) return 0;
    int32_t k = 0;
    for (int32_t i = 0; i < g->n_outputs; i++) want[k++] = g->outputs[i].val;
    if (g->loss != GX_VAL_NONE) want[k++] = g->loss;
    double s = live_flops(g, want, k);
    gx_free(want);
    return s;
}
