/*
 * loop.c: loop nodes in the IR and their reverse mode.
 *
 * The VJP of a loop is another loop that runs the other way. Its body is the backward part of
 * the forward body: autodiff is run on the forward body with seeds for the step's outputs, and
 * the backward nodes are copied into a new body graph. Every forward value those nodes read
 * becomes an input of the backward body:
 *   - an invariant (a weight)            -> an invariant of the backward loop,
 *   - a slice of a sequence              -> the same sequence, sliced again,
 *   - anything else (a carry, a gate...) -> a residual: the forward loop saves it every step
 *                                           in a [T, ...] stack, the backward loop slices it.
 * So exactly the values the VJPs read are saved. The backward loop carries the gradients of
 * the carries, and one accumulator per invariant that sums its gradient over the steps.
 */
#include "autodiff.h"
#include "graph.h"
#include "hoist.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static gx_status no_infer(gx_infer_ctx *c) {
    return c->api->set_error(c->host, GX_ERR_INVALID, "loop nodes are not built through infer");
}

static const gx_op loop_op = {
    .desc = {.size = sizeof(gx_op_desc), .name = "loop", .doc = "a loop over time steps",
             .min_inputs = 0, .max_inputs = -1, .n_outputs = -1, .infer = no_infer},
    .name = "loop",
    .plugin = -1,
};

const gx_op *gx_loop_op(void) { return &loop_op; }

gx_loop *gx_loop_new(void) { return gx_calloc(1, sizeof(gx_loop)); }

void gx_loop_free(gx_loop *l) {
    if (l == NULL) return;
    gx_graph_free(l->body);
    gx_free(l->carry_in);
    gx_free(l->seq_in);
    gx_free(l->inv_in);
    gx_free(l->carry_out);
    gx_free(l->yield_out);
    gx_free(l->res_out);
    gx_free(l->seq_axis);
    gx_free(l->yield_axis);
    gx_free(l);
}

// ---- editing a loop before it is added (hoisting, diagnostics) ---------------------------

/* every reader of body value `from` (later nodes, carries, yields, outputs) reads `to` */
void gx_loop_redirect(gx_graph *body, gx_loop *l, int32_t after, gx_val from, gx_val to) {
    for (int32_t n = after + 1; n < body->n_nodes; n++)
        for (int32_t i = 0; i < body->nodes[n].n_in; i++)
            if (body->nodes[n].in[i] == from) body->nodes[n].in[i] = to;
    for (int32_t k = 0; k < l->n_carry; k++)
        if (l->carry_out[k] == from) l->carry_out[k] = to;
    for (int32_t j = 0; j < l->n_yield; j++)
        if (l->yield_out[j] == from) l->yield_out[j] = to;
    for (int32_t i = 0; i < body->n_outputs; i++)
        if (body->outputs[i].val == from) body->outputs[i].val = to;
    body->values[to].name = body->values[from].name;
    body->values[to].probe = body->values[from].probe;
}

/* one more loop sequence: body input `slice` is step t of outer value `seq` along `axis` */
gx_status gx_loop_add_sequence(gx_loop *l, gx_val **in, gx_val slice, gx_val seq, int32_t axis,
                               gx_diag *d) {
    int32_t n_in = l->n_carry + l->n_seq + l->n_inv;
    gx_val *si = gx_realloc(l->seq_in, sizeof(gx_val) * (size_t)(l->n_seq + 2));
    if (si) l->seq_in = si;
    int32_t *sa = si ? gx_realloc(l->seq_axis, sizeof(int32_t) * (size_t)(l->n_seq + 2)) : NULL;
    if (sa) l->seq_axis = sa;
    gx_val *ni = sa ? gx_realloc(*in, sizeof(gx_val) * (size_t)(n_in + 2)) : NULL;
    if (ni == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    *in = ni;
    int32_t at = l->n_carry + l->n_seq;   /* sequences end here; invariants follow */
    memmove(&ni[at + 1], &ni[at], sizeof(gx_val) * (size_t)(n_in - at));
    ni[at] = seq;
    l->seq_in[l->n_seq] = slice;
    l->seq_axis[l->n_seq] = axis;
    l->n_seq++;
    return GX_OK;
}

/* one more loop invariant: body input `body_v` is outer value `outer_v` */
gx_status gx_loop_add_invariant(gx_loop *l, gx_val **in, gx_val body_v, gx_val outer_v,
                                gx_diag *d) {
    int32_t n_in = l->n_carry + l->n_seq + l->n_inv;
    gx_val *iv = gx_realloc(l->inv_in, sizeof(gx_val) * (size_t)(l->n_inv + 2));
    if (iv) l->inv_in = iv;
    gx_val *ni = iv ? gx_realloc(*in, sizeof(gx_val) * (size_t)(n_in + 2)) : NULL;
    if (ni == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    *in = ni;
    ni[n_in] = outer_v;
    l->inv_in[l->n_inv++] = body_v;
    return GX_OK;
}

/* one more yield: body value body_v, stacked along `axis` */
gx_status gx_loop_add_yield(gx_loop *l, gx_val body_v, int32_t axis, gx_diag *d) {
    gx_val *yo = gx_realloc(l->yield_out, sizeof(gx_val) * (size_t)(l->n_yield + 1));
    if (yo) l->yield_out = yo;
    int32_t *ya = yo ? gx_realloc(l->yield_axis, sizeof(int32_t) * (size_t)(l->n_yield + 1)) : NULL;
    if (ya == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    l->yield_axis = ya;
    l->yield_out[l->n_yield] = body_v;
    l->yield_axis[l->n_yield++] = axis;
    return GX_OK;
}

/* a shape with `n` inserted at `axis` */
static gx_shape insert_dim(const gx_shape *s, int32_t axis, int64_t n) {
    gx_shape r = {.ndim = s->ndim + 1};
    for (int32_t i = 0, k = 0; i < r.ndim; i++) r.dims[i] = i == axis ? n : s->dims[k++];
    return r;
}

static gx_status add_out(gx_graph *g, gx_tensor_info info, int32_t node, int32_t idx,
                         gx_srcpos pos, gx_val *out, gx_diag *d) {
    gx_value v = {.info = info, .kind = GX_VALUE_NODE, .node = node, .out_index = idx, .pos = pos};
    gx_value *vs = gx_grow(g->values, &g->cap_values, g->n_values + 1, sizeof v);
    if (vs == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    g->values = vs;
    g->values[g->n_values] = v;
    *out = g->n_values++;
    return GX_OK;
}

gx_status gx_graph_add_loop(gx_graph *g, gx_loop *l, const gx_val *in, gx_srcpos pos,
                            gx_val *out, gx_diag *d) {
    const gx_graph *body = l->body;
    int32_t n_in = l->n_carry + l->n_seq + l->n_inv;
    int32_t n_out = l->n_yield + l->n_carry + l->n_res;
    if (l->n_seq < 1) return gx_diag_at(d, GX_ERR_INVALID, pos, "a loop needs a sequence");
    /* T, and every input against what the body expects */
    for (int32_t k = 0; k < l->n_seq; k++) {
        const gx_tensor_info *si = &g->values[in[l->n_carry + k]].info;
        const gx_tensor_info *bi = &body->values[l->seq_in[k]].info;
        int32_t ax = l->seq_axis[k];
        if (ax < 0 || ax >= si->shape.ndim)
            return gx_diag_at(d, GX_ERR_SHAPE, pos, "sequence %d has rank %d, no time axis %d",
                              (int)k + 1, (int)si->shape.ndim, (int)ax);
        int64_t t = si->shape.dims[ax];
        if (k == 0) l->T = t;
        else if (t != l->T)
            return gx_diag_at(d, GX_ERR_SHAPE, pos, "sequences have different lengths: %lld and "
                              "%lld steps", (long long)l->T, (long long)t);
        gx_shape want = insert_dim(&bi->shape, ax, t);
        int same = want.ndim == si->shape.ndim && bi->dtype == si->dtype;
        for (int i = 0; same && i < want.ndim; i++) same = want.dims[i] == si->shape.dims[i];
        if (!same) return gx_diag_at(d, GX_ERR_SHAPE, pos, "loop sequence %d does not match its "
                                     "step slice", (int)k + 1);
    }
    for (int32_t k = 0; k < l->n_carry; k++) {
        const gx_tensor_info *ci = &g->values[in[k]].info;
        const gx_tensor_info *bi = &body->values[l->carry_in[k]].info;
        const gx_tensor_info *bo = &body->values[l->carry_out[k]].info;
        char a1[128], a2[128];
        int same = ci->dtype == bo->dtype && ci->shape.ndim == bo->shape.ndim &&
                   bi->dtype == bo->dtype;
        for (int i = 0; same && i < ci->shape.ndim; i++) same = ci->shape.dims[i] == bo->shape.dims[i];
        if (!same)
            return gx_diag_at(d, GX_ERR_SHAPE, pos, "carry %d starts as %s%s but the body makes "
                              "it %s%s; a carry must keep its type", (int)k + 1,
                              gx_dtype_name(ci->dtype), gx_shape_str(&ci->shape, a1, sizeof a1),
                              gx_dtype_name(bo->dtype), gx_shape_str(&bo->shape, a2, sizeof a2));
    }
    gx_val *ins = gx_arena_alloc(&g->arena, sizeof(gx_val) * (size_t)(n_in ? n_in : 1));
    /* room for the residual outputs autodiff may add later is allocated then */
    gx_val *outs = gx_arena_alloc(&g->arena, sizeof(gx_val) * (size_t)(n_out ? n_out : 1));
    gx_node *nodes = gx_grow(g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof(gx_node));
    if (!ins || !outs || !nodes) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    g->nodes = nodes;
    memcpy(ins, in, sizeof(gx_val) * (size_t)n_in);
    int32_t id = g->n_nodes;
    gx_status st = GX_OK;
    for (int32_t j = 0; j < l->n_yield && st == GX_OK; j++) {
        gx_tensor_info yi = body->values[l->yield_out[j]].info;
        if (l->yield_axis[j] < 0 || l->yield_axis[j] > yi.shape.ndim || yi.shape.ndim >= GX_MAX_DIMS)
            return gx_diag_at(d, GX_ERR_SHAPE, pos, "yield %d has rank %d: it cannot be stacked "
                              "on axis %d", (int)j + 1, (int)yi.shape.ndim, (int)l->yield_axis[j]);
        yi.shape = insert_dim(&yi.shape, l->yield_axis[j], l->T);
        st = add_out(g, yi, id, j, pos, &outs[j], d);
    }
    for (int32_t k = 0; k < l->n_carry && st == GX_OK; k++)
        st = add_out(g, g->values[in[k]].info, id, l->n_yield + k, pos, &outs[l->n_yield + k], d);
    for (int32_t r = 0; r < l->n_res && st == GX_OK; r++) {
        gx_tensor_info ri = body->values[l->res_out[r]].info;
        ri.shape = insert_dim(&ri.shape, 0, l->T);
        st = add_out(g, ri, id, l->n_yield + l->n_carry + r, pos, &outs[l->n_yield + l->n_carry + r], d);
    }
    if (st != GX_OK) return st;
    g->nodes[id] = (gx_node){.op = &loop_op, .loop = l, .n_in = n_in, .n_out = n_out, .in = ins,
                             .out = outs, .pos = pos, .backward = l->backward};
    g->n_nodes++;
    memcpy(out, outs, sizeof(gx_val) * (size_t)n_out);
    return GX_OK;
}

/* ---- reverse mode ---- */

/* appends to an int array pair (values and a parallel int), growing both */
typedef struct vlist {
    gx_val  *v;
    int32_t *aux;
    int32_t  n, cap;
} vlist;

static int vlist_push(vlist *l, gx_val v, int32_t aux) {
    if (l->n == l->cap) {
        int32_t cap = l->cap;
        gx_val *nv = gx_grow(l->v, &cap, l->n + 1, sizeof(gx_val));
        if (nv == NULL) return 0;
        l->v = nv;
        cap = l->cap;
        int32_t *na = gx_grow(l->aux, &cap, l->n + 1, sizeof(int32_t));
        if (na == NULL) return 0;
        l->aux = na;
        l->cap = cap;
    }
    l->v[l->n] = v;
    l->aux[l->n++] = aux;
    return 1;
}

/* add a residual (a forward body value saved every step) to forward loop node `node`: a new
 * body output and a new [T, ...] output of the node; returns the outer stack value */
static gx_status add_residual(gx_graph *g, int32_t node, gx_val body_v, gx_val *stack, gx_diag *d) {
    gx_loop *l = g->nodes[node].loop;
    for (int32_t r = 0; r < l->n_res; r++)
        if (l->res_out[r] == body_v) {
            *stack = g->nodes[node].out[l->n_yield + l->n_carry + r];
            return GX_OK;
        }
    int32_t cap = l->cap_res;
    gx_val *ro = gx_grow(l->res_out, &cap, l->n_res + 1, sizeof(gx_val));
    if (ro == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    l->res_out = ro;
    l->cap_res = cap;
    gx_node *nd = &g->nodes[node];
    gx_val *outs = gx_arena_alloc(&g->arena, sizeof(gx_val) * (size_t)(nd->n_out + 1));
    if (outs == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    memcpy(outs, nd->out, sizeof(gx_val) * (size_t)nd->n_out);
    gx_tensor_info ri = l->body->values[body_v].info;
    ri.shape = insert_dim(&ri.shape, 0, l->T);
    gx_status st = add_out(g, ri, node, nd->n_out, nd->pos, &outs[nd->n_out], d);
    if (st != GX_OK) return st;
    nd = &g->nodes[node];
    nd->out = outs;
    *stack = outs[nd->n_out];
    nd->n_out++;
    l->res_out[l->n_res++] = body_v;
    return GX_OK;
}

typedef struct bwd {
    gx_graph *g;          /* the outer graph                                           */
    int32_t   node;       /* the forward loop node                                     */
    gx_loop  *fl;         /* its loop                                                  */
    gx_graph *fb;         /* its body                                                  */
    gx_graph *bb;         /* the backward body being built                             */
    gx_val   *map;        /* forward body value -> backward body value                 */
    int32_t   n_map;
    vlist     seqs;       /* backward-body sequence inputs: v = bb input, aux = outer seq */
    vlist     seq_axes;   /* parallel: axes                                            */
    vlist     invs;       /* v = bb input, aux = outer invariant                        */
    gx_diag  *d;
} bwd;

/* the backward-body value standing for forward-body value v (made on first use) */
static gx_status bwd_value(bwd *w, gx_val v, gx_val *out) {
    if (w->map[v] != GX_VAL_NONE) {
        *out = w->map[v];
        return GX_OK;
    }
    const gx_value *fv = &w->fb->values[v];
    gx_loop *fl = w->fl;
    gx_val in;
    gx_status st = gx_graph_add_input(w->bb, fv->name ? fv->name : "v", fv->info, fv->pos, &in, w->d);
    if (st != GX_OK) return st;
    int32_t node_in_base = fl->n_carry;
    for (int32_t k = 0; k < fl->n_inv; k++)
        if (fl->inv_in[k] == v) {
            gx_val outer = w->g->nodes[w->node].in[node_in_base + fl->n_seq + k];
            if (!vlist_push(&w->invs, in, outer)) return gx_diag_set(w->d, GX_ERR_NOMEM, "out of memory");
            w->map[v] = in;
            *out = in;
            return GX_OK;
        }
    for (int32_t k = 0; k < fl->n_seq; k++)
        if (fl->seq_in[k] == v) {
            gx_val outer = w->g->nodes[w->node].in[node_in_base + k];
            if (!vlist_push(&w->seqs, in, outer) || !vlist_push(&w->seq_axes, in, fl->seq_axis[k]))
                return gx_diag_set(w->d, GX_ERR_NOMEM, "out of memory");
            w->map[v] = in;
            *out = in;
            return GX_OK;
        }
    /* a carry or an intermediate: saved by the forward loop every step */
    gx_val stack = GX_VAL_NONE;
    st = add_residual(w->g, w->node, v, &stack, w->d);
    if (st != GX_OK) return st;
    if (!vlist_push(&w->seqs, in, stack) || !vlist_push(&w->seq_axes, in, 0))
        return gx_diag_set(w->d, GX_ERR_NOMEM, "out of memory");
    w->map[v] = in;
    *out = in;
    return GX_OK;
}

static gx_status zeros_like(gx_builder *b, const gx_tensor_info *info, gx_val *out) {
    return gx_builder_emit_constant(b, 0.0, info->dtype, &info->shape, out);
}

/*
 * Lifting (hoist.h, "lift"). An invariant's gradient that every step computes as
 * matmul_tn(a, b) (a weight: dW_hh = dg^T h) or sum(a, axes 0) (a bias) sums to the same op over
 * the stacked steps: matmul_tn contracts every leading axis, so matmul_tn(A, B) with A, B the
 * [T, ...] stacks of a and b is the whole sum, one product instead of T small ones and T adds.
 * The backward loop then yields a (and b) instead of accumulating; an operand that already is
 * a [T, ...] stack outside (a residual the forward loop saved) is used as it is.
 */
typedef struct lifted {
    int32_t inv;          /* the invariant whose gradient this is                       */
    int     is_sum;       /* sum(a, axes 0); else matmul_tn(a, b)                         */
    gx_val  outer[2];     /* per operand: its [T, ...] stack outside, once known          */
    int32_t yield[2];     /* per operand: its yield in the backward loop, or -1           */
    gx_val  body_v[2];    /* per operand: the backward body value                         */
} lifted;

/* dv (a forward-body value) is matmul_tn(a, b) or sum(a, axes 0): the operands */
static int lift_pattern(const gx_graph *fb, gx_val dv, lifted *lf, gx_val ops[2]) {
    const gx_value *v = &fb->values[dv];
    if (v->kind != GX_VALUE_NODE) return 0;
    const gx_node *nd = &fb->nodes[v->node];
    if (nd->loop || nd->n_out != 1) return 0;
    if (strcmp(nd->op->name, "matmul_tn") == 0 && nd->n_in == 2) {
        lf->is_sum = 0;
        ops[0] = nd->in[0];
        ops[1] = nd->in[1];
        return 1;
    }
    if (strcmp(nd->op->name, "sum") == 0 && nd->n_in == 1 && nd->attrs[0].type == GX_ATTR_INTS &&
        nd->attrs[0].n_ints == 1 && nd->attrs[1].i == 0) {
        int32_t nd0 = fb->values[nd->in[0]].info.shape.ndim;
        if (nd0 < 1 || (nd->attrs[0].ints[0] != 0 && nd->attrs[0].ints[0] != -nd0)) return 0;
        lf->is_sum = 1;
        ops[0] = nd->in[0];
        ops[1] = GX_VAL_NONE;
        return 1;
    }
    return 0;
}

/* the outer value of backward-body value v when v is an invariant of the backward loop, else NONE */
static gx_val invariant_outer(const bwd *w, gx_val v) {
    for (int32_t j = 0; j < w->invs.n; j++)
        if (w->invs.v[j] == v) return w->invs.aux[j];
    return GX_VAL_NONE;
}

/* Set up lifting the gradient dv of invariant k: *ok = 0 when dv does not have the pattern or
 * an operand is itself an invariant (then it is accumulated step by step, as before). */
static gx_status lift_prepare(bwd *w, gx_val dv, int32_t k, lifted *lf, int *ok) {
    gx_val ops[2];
    *ok = 0;
    if (!gx_opt_enabled("lift") || !lift_pattern(w->fb, dv, lf, ops)) return GX_OK;
    lf->inv = k;
    for (int i = 0; i < 2; i++) {
        lf->outer[i] = GX_VAL_NONE;
        lf->yield[i] = -1;
        lf->body_v[i] = GX_VAL_NONE;
        if (ops[i] == GX_VAL_NONE) continue;
        gx_status st = bwd_value(w, ops[i], &lf->body_v[i]);
        if (st != GX_OK) return st;
        if (invariant_outer(w, lf->body_v[i]) != GX_VAL_NONE) return GX_OK;   /* not per step */
        for (int32_t j = 0; j < w->seqs.n; j++)
            if (w->seqs.v[j] == lf->body_v[i] && w->seq_axes.aux[j] == 0) lf->outer[i] = w->seqs.aux[j];
    }
    *ok = 1;
    return GX_OK;
}

/* A backward node that reads only invariants (transpose(W), the layout a step's backward product
 * wants) computes the same every step: it runs once in the outer graph instead, and its
 * outputs become invariants of the backward loop. bb_in: its inputs as backward-body values. */
static gx_status hoist_invariant_node(bwd *w, int32_t n, const gx_val *bb_in, int *moved) {
    const gx_node *fn = &w->fb->nodes[n];
    gx_val outer_in[64], outs[64];
    *moved = 0;
    if (!gx_opt_enabled("hoist") || fn->n_in < 1 || (fn->op->desc.flags & GX_OP_RANDOM)) return GX_OK;
    for (int32_t i = 0; i < fn->n_in; i++)
        if ((outer_in[i] = invariant_outer(w, bb_in[i])) == GX_VAL_NONE) return GX_OK;
    int32_t got = 0;
    gx_status st = gx_graph_add_node(w->g, fn->op, outer_in, fn->n_in, fn->attrs, fn->pos, 1, outs,
                                     64, &got, w->d);
    fn = &w->fb->nodes[n];
    for (int32_t j = 0; j < got && st == GX_OK; j++) {
        gx_val in;
        st = gx_graph_add_input(w->bb, "invariant", w->g->values[outs[j]].info, fn->pos, &in, w->d);
        if (st == GX_OK && !vlist_push(&w->invs, in, outs[j]))
            st = gx_diag_set(w->d, GX_ERR_NOMEM, "out of memory");
        w->map[fn->out[j]] = in;
    }
    *moved = st == GX_OK;
    return st;
}

gx_status gx_loop_vjp(gx_builder *b, int32_t node, const gx_val *d_out, gx_val *d_in) {
    gx_graph *g = b->g;
    gx_diag *d = b->diag;
    gx_node *nd = &g->nodes[node];
    gx_loop *fl = nd->loop;
    gx_srcpos pos = nd->pos;
    if (fl->backward)
        return gx_diag_at(d, GX_ERR_UNSUPPORTED, pos, "second derivatives through loops are not "
                          "supported");
    gx_graph *fb = fl->body;
    int32_t nc = fl->n_carry, ny = fl->n_yield;

    /* 1. seeds in the forward body and its backward nodes */
    gx_val *seed_y = gx_malloc(sizeof(gx_val) * (size_t)(ny + 1));
    gx_val *seed_c = gx_malloc(sizeof(gx_val) * (size_t)(nc + 1));
    int32_t n_x = nc + fl->n_seq + fl->n_inv, n_ys = 0;
    gx_val *xs = gx_malloc(sizeof(gx_val) * (size_t)(n_x + 1)), *dxs = gx_malloc(sizeof(gx_val) * (size_t)(n_x + 1));
    gx_val *ys = gx_malloc(sizeof(gx_val) * (size_t)(ny + nc + 1)), *dys = gx_malloc(sizeof(gx_val) * (size_t)(ny + nc + 1));
    bwd w = {.g = g, .node = node, .fl = fl, .fb = fb, .d = d};
    gx_loop *bl = gx_loop_new();
    gx_status st = GX_OK;
    if (!seed_y || !seed_c || !xs || !dxs || !ys || !dys || !bl) {
        st = gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
        goto done;
    }
    int32_t fb_nodes_before = fb->n_nodes;
    for (int32_t j = 0; j < ny && st == GX_OK; j++) {
        seed_y[j] = GX_VAL_NONE;
        if (d_out[j] == GX_VAL_NONE) continue;
        st = gx_graph_add_input(fb, "seed.yield", fb->values[fl->yield_out[j]].info, pos, &seed_y[j], d);
        ys[n_ys] = fl->yield_out[j];
        dys[n_ys++] = seed_y[j];
    }
    for (int32_t k = 0; k < nc && st == GX_OK; k++) {
        st = gx_graph_add_input(fb, "seed.carry", fb->values[fl->carry_out[k]].info, pos, &seed_c[k], d);
        ys[n_ys] = fl->carry_out[k];
        dys[n_ys++] = seed_c[k];
    }
    for (int32_t k = 0; k < nc; k++) xs[k] = fl->carry_in[k];
    for (int32_t k = 0; k < fl->n_seq; k++) xs[nc + k] = fl->seq_in[k];
    for (int32_t k = 0; k < fl->n_inv; k++) xs[nc + fl->n_seq + k] = fl->inv_in[k];
    if (st == GX_OK) st = gx_autodiff_vjp(fb, ys, dys, n_ys, xs, n_x, dxs, d);
    if (st != GX_OK) goto done;

    /* 2. the backward body: the backward nodes, reading forward values as inputs */
    w.bb = gx_graph_new(g->reg);
    w.n_map = fb->n_values;
    w.map = gx_malloc(sizeof(gx_val) * (size_t)(w.n_map + 1));
    if (w.bb == NULL || w.map == NULL) {
        st = gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
        goto done;
    }
    w.bb->name = "backward";
    bl->body = w.bb;
    for (int32_t v = 0; v < w.n_map; v++) w.map[v] = GX_VAL_NONE;
    /* the carried gradients come first among the backward body's inputs */
    bl->n_carry = nc;
    bl->carry_in = gx_malloc(sizeof(gx_val) * (size_t)(nc + fl->n_inv + 1));
    bl->carry_out = gx_malloc(sizeof(gx_val) * (size_t)(nc + fl->n_inv + 1));
    if (!bl->carry_in || !bl->carry_out) {
        st = gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int32_t k = 0; k < nc && st == GX_OK; k++) {
        st = gx_graph_add_input(w.bb, "d.carry", fb->values[seed_c[k]].info, pos, &bl->carry_in[k], d);
        w.map[seed_c[k]] = bl->carry_in[k];
    }
    /* the yields' gradients are sequences of the backward loop */
    for (int32_t j = 0; j < ny && st == GX_OK; j++) {
        if (seed_y[j] == GX_VAL_NONE) continue;
        gx_val in;
        st = gx_graph_add_input(w.bb, "d.yield", fb->values[seed_y[j]].info, pos, &in, d);
        if (st == GX_OK && (!vlist_push(&w.seqs, in, d_out[j]) ||
                            !vlist_push(&w.seq_axes, in, fl->yield_axis[j])))
            st = gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
        w.map[seed_y[j]] = in;
    }
    for (int32_t n = fb_nodes_before; n < fb->n_nodes && st == GX_OK; n++) {
        const gx_node *fn = &fb->nodes[n];
        gx_val in[64], outs[64];
        if (fn->loop || fn->n_in > 64 || fn->n_out > 64) {
            st = gx_diag_at(d, GX_ERR_UNSUPPORTED, fn->pos, "unsupported node in a loop body");
            break;
        }
        for (int32_t i = 0; i < fn->n_in && st == GX_OK; i++) st = bwd_value(&w, fn->in[i], &in[i]);
        if (st != GX_OK) break;
        int moved = 0;
        st = hoist_invariant_node(&w, n, in, &moved);
        if (st != GX_OK || moved) continue;
        int32_t got = 0;
        fn = &fb->nodes[n];
        st = gx_graph_add_node(w.bb, fn->op, in, fn->n_in, fn->attrs, fn->pos, 1, outs, 64, &got, d);
        for (int32_t j = 0; j < got && st == GX_OK; j++) w.map[fb->nodes[n].out[j]] = outs[j];
    }
    if (st != GX_OK) goto done;

    /* 3. what the backward step produces: d carry_in (new carries), d slices (yields),
     *    and per differentiable invariant an accumulator carry */
    gx_builder bb = {.g = w.bb, .diag = d, .pos = pos, .backward = 1};
    for (int32_t k = 0; k < nc && st == GX_OK; k++) {
        gx_val v = dxs[k];
        if (v == GX_VAL_NONE) st = zeros_like(&bb, &fb->values[fl->carry_in[k]].info, &bl->carry_out[k]);
        else st = bwd_value(&w, v, &bl->carry_out[k]);
    }
    int32_t *inv_acc = gx_malloc(sizeof(int32_t) * (size_t)(fl->n_inv + 1));
    lifted *lifts = gx_malloc(sizeof(lifted) * (size_t)(fl->n_inv + 1));
    int32_t n_lift = 0;
    if (inv_acc == NULL || lifts == NULL) st = gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    for (int32_t k = 0; k < fl->n_inv && st == GX_OK; k++) {
        inv_acc[k] = -1;
        gx_val dv = dxs[nc + fl->n_seq + k];
        if (dv == GX_VAL_NONE) continue;
        int lift_ok = 0;
        st = lift_prepare(&w, dv, k, &lifts[n_lift], &lift_ok);
        if (st != GX_OK) break;
        if (lift_ok) {
            n_lift++;
            continue;
        }
        gx_val acc_in, step, acc_out;
        st = gx_graph_add_input(w.bb, "d.acc", fb->values[fl->inv_in[k]].info, pos, &acc_in, d);
        if (st == GX_OK) st = bwd_value(&w, dv, &step);
        if (st == GX_OK) st = gx_emit2(gx_registry_api(), &bb, "add", acc_in, step, &acc_out);
        if (st != GX_OK) break;
        inv_acc[k] = bl->n_carry;
        bl->carry_in[bl->n_carry] = acc_in;
        bl->carry_out[bl->n_carry++] = acc_out;
    }
    int32_t n_dseq = 0;
    int32_t *seq_yield = gx_malloc(sizeof(int32_t) * (size_t)(fl->n_seq + 1));
    bl->yield_out = gx_malloc(sizeof(gx_val) * (size_t)(fl->n_seq + 2 * n_lift + 1));
    bl->yield_axis = gx_malloc(sizeof(int32_t) * (size_t)(fl->n_seq + 2 * n_lift + 1));
    if (!seq_yield || !bl->yield_out || !bl->yield_axis) st = gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    for (int32_t k = 0; k < fl->n_seq && st == GX_OK; k++) {
        seq_yield[k] = -1;
        gx_val dv = dxs[nc + k];
        if (dv == GX_VAL_NONE) continue;
        st = bwd_value(&w, dv, &bl->yield_out[n_dseq]);
        bl->yield_axis[n_dseq] = fl->seq_axis[k];
        seq_yield[k] = n_dseq++;
    }
    /* the lifted gradients' operands, stacked on a new axis 0 */
    bl->n_yield = n_dseq;
    for (int32_t q = 0; q < n_lift && st == GX_OK; q++)
        for (int i = 0; i < 2; i++)
            if (lifts[q].body_v[i] != GX_VAL_NONE && lifts[q].outer[i] == GX_VAL_NONE) {
                for (int32_t j = 0; j < bl->n_yield && lifts[q].yield[i] < 0; j++)
                    if (bl->yield_out[j] == lifts[q].body_v[i] && bl->yield_axis[j] == 0)
                        lifts[q].yield[i] = j;   /* already stacked (a sequence's gradient) */
                if (lifts[q].yield[i] >= 0) continue;
                lifts[q].yield[i] = bl->n_yield;
                bl->yield_out[bl->n_yield] = lifts[q].body_v[i];
                bl->yield_axis[bl->n_yield++] = 0;
            }
    if (st != GX_OK) goto done2;

    /* 4. the backward loop node: carries start from the final carries' gradients (or zeros)
     *    and zero accumulators; sequences and invariants as collected */
    bl->reverse = !fl->reverse;
    bl->backward = 1;
    bl->n_seq = w.seqs.n;
    bl->n_inv = w.invs.n;
    bl->seq_in = w.seqs.v;
    bl->seq_axis = w.seq_axes.aux;
    bl->inv_in = w.invs.v;
    w.seqs.v = NULL;
    w.seq_axes.aux = NULL;
    w.invs.v = NULL;
    int32_t n_in = bl->n_carry + bl->n_seq + bl->n_inv;
    gx_val *in = gx_malloc(sizeof(gx_val) * (size_t)(n_in + 1));
    gx_val *out = gx_malloc(sizeof(gx_val) * (size_t)(bl->n_yield + bl->n_carry + 1));
    if (!in || !out) st = gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    for (int32_t k = 0; k < nc && st == GX_OK; k++) {
        gx_val dfin = d_out[ny + k];
        if (dfin == GX_VAL_NONE) st = zeros_like(b, &g->values[g->nodes[node].out[ny + k]].info, &dfin);
        in[k] = dfin;
    }
    for (int32_t k = 0; k < fl->n_inv && st == GX_OK; k++)
        if (inv_acc[k] >= 0)
            st = zeros_like(b, &g->values[g->nodes[node].in[nc + fl->n_seq + k]].info, &in[inv_acc[k]]);
    for (int32_t k = 0; st == GX_OK && k < bl->n_seq; k++) in[bl->n_carry + k] = w.seqs.aux[k];
    for (int32_t k = 0; st == GX_OK && k < bl->n_inv; k++) in[bl->n_carry + bl->n_seq + k] = w.invs.aux[k];
    int32_t n_yield = bl->n_yield;
    if (st == GX_OK) st = gx_graph_add_loop(g, bl, in, pos, out, d);
    if (st == GX_OK) {
        bl = NULL; /* owned by the graph now */
        for (int32_t k = 0; k < nc; k++) d_in[k] = out[n_yield + k];
        for (int32_t k = 0; k < fl->n_seq; k++)
            if (seq_yield[k] >= 0) d_in[nc + k] = out[seq_yield[k]];
        for (int32_t k = 0; k < fl->n_inv; k++)
            if (inv_acc[k] >= 0) d_in[nc + fl->n_seq + k] = out[n_yield + inv_acc[k]];
    }
    /* after the loop, each lifted gradient in one op over the stacks */
    for (int32_t q = 0; q < n_lift && st == GX_OK; q++) {
        lifted *lf = &lifts[q];
        gx_val ops[2] = {GX_VAL_NONE, GX_VAL_NONE};
        for (int i = 0; i < 2; i++) ops[i] = lf->yield[i] >= 0 ? out[lf->yield[i]] : lf->outer[i];
        gx_val *dst = &d_in[nc + fl->n_seq + lf->inv];
        if (lf->is_sum) {
            gx_attr_kv kv = {.name = "axes", .value = {.type = GX_ATTR_INTS, .n_ints = 2, .ints = {0, 1}}};
            st = gx_builder_emit(b, "sum", ops, 1, &kv, 1, dst, 1);
        } else {
            st = gx_builder_emit(b, "matmul_tn", ops, 2, NULL, 0, dst, 1);
        }
    }
    gx_free(in);
    gx_free(out);
done2:
    gx_free(lifts);
    gx_free(inv_acc);
    gx_free(seq_yield);
done:
    if (bl) {
        if (bl->body == NULL) gx_graph_free(w.bb);
        gx_loop_free(bl);
    }
    gx_free(w.map);
    gx_free(w.seqs.v);
    gx_free(w.seqs.aux);
    gx_free(w.seq_axes.v);
    gx_free(w.seq_axes.aux);
    gx_free(w.invs.v);
    gx_free(w.invs.aux);
    gx_free(seed_y);
    gx_free(seed_c);
    gx_free(xs);
    gx_free(dxs);
    gx_free(ys);
    gx_free(dys);
    return st;
}
