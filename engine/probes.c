/*
 * probes.c: the taps of a diagnostics graph (see probes.h).
 */
#include "probes.h"

#include "registry.h"
#include <gexec/plugin-helpers.h>
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OP_PROBES 16

int32_t gx_probe_kind_of(const gx_graph *g, gx_val v) {
    const gx_value *x = &g->values[v];
    if (x->probe_kind > 0) return x->probe_kind - 1;
    if (x->kind != GX_VALUE_NODE || x->node < 0) return GX_PROBE_PLAIN;
    const gx_node *nd = &g->nodes[x->node];
    if (nd->loop) return GX_PROBE_PLAIN;
    if (strcmp(nd->op->name, "sigmoid") == 0) return GX_PROBE_SIGMOID;
    if (strcmp(nd->op->name, "tanh") == 0) return GX_PROBE_TANH;
    if (strcmp(nd->op->name, "softmax") == 0) {
        /* rows sum to 1 only when the softmax runs over the last axis */
        int ai = gx_op_attr_index(nd->op, "axis");
        int64_t axis = ai >= 0 ? nd->attrs[ai].i : -1;
        int32_t rank = x->info.shape.ndim;
        return axis == -1 || axis == rank - 1 ? GX_PROBE_DIST : GX_PROBE_PLAIN;
    }
    return GX_PROBE_PLAIN;
}

/* v is still made by the node it names (hoisting leaves a replaced cell's outputs behind) */
static int is_live(const gx_graph *g, gx_val v) {
    const gx_value *x = &g->values[v];
    return x->kind == GX_VALUE_NODE && x->node >= 0 && x->node < g->n_nodes &&
           x->out_index < g->nodes[x->node].n_out && g->nodes[x->node].out[x->out_index] == v;
}

static gx_status plan_push(gx_probe_plan *p, gx_tap t, int32_t yield, gx_diag *d) {
    if (p->n == p->cap) {
        int32_t cap = p->cap ? 2 * p->cap : 16;
        gx_tap *tt = gx_realloc(p->taps, sizeof *tt * (size_t)cap);
        if (tt) p->taps = tt;
        int32_t *yy = tt ? gx_realloc(p->yield, sizeof *yy * (size_t)cap) : NULL;
        if (yy == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
        p->yield = yy;
        p->cap = cap;
    }
    p->taps[p->n] = t;
    p->yield[p->n++] = yield;
    return GX_OK;
}

static gx_status graph_push(gx_graph *g, gx_tap t, gx_diag *d) {
    gx_tap *tt = gx_grow(g->taps, &g->cap_taps, g->n_taps + 1, sizeof t);
    if (tt == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    g->taps = tt;
    g->taps[g->n_taps++] = t;
    return GX_OK;
}

/* The probes node n's op gives (gx_op_desc.probe), emitted at the end of g: names[i],
 * vals[i], kinds[i] for i < *n_out. Ops without probes give none. */
static gx_status op_probes(gx_graph *g, int32_t n, const char **names, gx_val *vals,
                           int32_t *kinds, int32_t *n_out, gx_diag *d) {
    *n_out = 0;
    const gx_node nd = g->nodes[n];   /* a copy: emitting moves the array */
    if (nd.loop || nd.backward || nd.op->desc.probe == NULL || nd.op->desc.probes == NULL)
        return GX_OK;
    int32_t np = 0;
    while (nd.op->desc.probes[np] && np < MAX_OP_PROBES) np++;
    for (int32_t i = 0; i < np; i++) {
        vals[i] = GX_VAL_NONE;
        kinds[i] = GX_PROBE_PLAIN;
    }
    gx_host host;
    gx_host_init(&host, g->reg, d, nd.pos);
    gx_builder b = {.g = g, .diag = d, .pos = nd.pos, .backward = 0};
    gx_probe_args a = {.size = sizeof a, .api = gx_registry_api(), .host = &host,
                       .n_inputs = nd.n_in, .inputs = nd.in, .n_outputs = nd.n_out,
                       .outputs = nd.out, .attrs = nd.attrs, .n_probes = np, .values = vals,
                       .kinds = kinds};
    gx_status st = nd.op->desc.probe(&b, &a);
    if (st != GX_OK)
        return d->status != GX_OK ? st : gx_diag_at(d, st, nd.pos, "the probes of '%s' failed (%s)",
                                                    nd.op->name, gx_status_name(st));
    for (int32_t i = 0; i < np; i++) {
        if (vals[i] == GX_VAL_NONE) continue;
        if (vals[i] < 0 || vals[i] >= g->n_values)
            return gx_diag_at(d, GX_ERR_PLUGIN, nd.pos, "the probes of '%s' gave a bad value",
                              nd.op->name);
        names[*n_out] = nd.op->desc.probes[i];
        kinds[*n_out] = kinds[i] >= GX_PROBE_PLAIN && kinds[i] <= GX_PROBE_DIST ? kinds[i]
                                                                                : GX_PROBE_PLAIN;
        vals[(*n_out)++] = vals[i];
    }
    return GX_OK;
}

/* move the last node of g to index `at`, shifting the ones from `at` on by one */
static void move_last_node(gx_graph *g, int32_t at) {
    int32_t last = g->n_nodes - 1;
    if (at >= last) return;
    gx_node moved = g->nodes[last];
    memmove(&g->nodes[at + 1], &g->nodes[at], sizeof(gx_node) * (size_t)(last - at));
    g->nodes[at] = moved;
    for (int32_t n = at; n <= last; n++)
        for (int32_t j = 0; j < g->nodes[n].n_out; j++) g->values[g->nodes[n].out[j]].node = n;
}

/* h_t' = h_t + eps_t for carry k: eps is a new zero input of outer, [T, ...] */
static gx_status grad_time_carry(gx_graph *outer, gx_loop *l, gx_val **in, int32_t id,
                                 int32_t k, int64_t T, gx_probe_plan *p, gx_diag *d) {
    gx_graph *body = l->body;
    gx_val cv = l->carry_out[k];
    const gx_value *cvv = &body->values[cv];
    const char *cname = body->values[l->carry_in[k]].name;
    if (cname == NULL) cname = "carry";
    gx_srcpos pos = cvv->pos;
    char name[160];
    snprintf(name, sizeof name, GX_GRAD_TIME_PREFIX "%d.%s", (int)id, cname);
    gx_tensor_info slice = cvv->info, stack = slice;
    if (stack.shape.ndim + 1 > GX_MAX_DIMS) return GX_OK;
    stack.shape.ndim++;
    stack.shape.dims[0] = T;
    for (int32_t q = 0; q < slice.shape.ndim; q++) stack.shape.dims[q + 1] = slice.shape.dims[q];
    gx_val eps, eps_t, sum;
    GX_TRY(gx_graph_add_input(outer, name, stack, pos, &eps, d));
    GX_TRY(gx_graph_add_input(body, name, slice, pos, &eps_t, d));
    GX_TRY(gx_loop_add_sequence(l, in, eps_t, eps, 0, d));
    gx_builder b = {.g = body, .diag = d, .pos = pos, .backward = 0};
    gx_val ab[2] = {cv, eps_t};
    GX_TRY(gx_builder_emit(&b, "add", ab, 2, NULL, 0, &sum, 1));
    int32_t at = body->values[cv].node + 1;
    move_last_node(body, at);
    gx_loop_redirect(body, l, at, cv, sum);
    body->values[sum].probe = NULL;
    gx_tap t = {.kind = GX_TAP_GRAD_TIME, .name = cname, .loop = -1, .val = eps, .pos = pos};
    GX_TRY(plan_push(p, t, -1, d));
    /* the state itself, stacked */
    GX_TRY(gx_loop_add_yield(l, sum, 0, d));
    gx_tap s = {.kind = GX_TAP_STATE, .name = t.name, .loop = -1, .val = GX_VAL_NONE, .pos = pos};
    return plan_push(p, s, l->n_yield - 1, d);
}

gx_status gx_probes_loop(gx_graph *outer, gx_loop *l, gx_val **in, int32_t id, gx_probe_plan *p,
                         gx_diag *d) {
    gx_graph *body = l->body;
    int32_t n_nodes = body->n_nodes, n_values = body->n_values;
    /* the probes of fused ops, then the named ones */
    for (int32_t n = 0; n < n_nodes; n++) {
        const char *names[MAX_OP_PROBES];
        gx_val vals[MAX_OP_PROBES];
        int32_t kinds[MAX_OP_PROBES], np;
        GX_TRY(op_probes(body, n, names, vals, kinds, &np, d));
        for (int32_t i = 0; i < np; i++) {
            GX_TRY(gx_loop_add_yield(l, vals[i], 0, d));
            gx_tap t = {.kind = GX_TAP_PROBE, .name = names[i], .probe_kind = kinds[i],
                        .loop = -1, .pos = body->nodes[n].pos};
            GX_TRY(plan_push(p, t, l->n_yield - 1, d));
        }
    }
    for (gx_val v = 0; v < n_values; v++) {
        const gx_value *x = &body->values[v];
        if (x->probe == NULL || !is_live(body, v)) continue;
        gx_tap t = {.kind = GX_TAP_PROBE, .name = x->probe,
                    .probe_kind = gx_probe_kind_of(body, v), .loop = -1, .pos = x->pos};
        GX_TRY(gx_loop_add_yield(l, v, 0, d));
        GX_TRY(plan_push(p, t, l->n_yield - 1, d));
    }
    /* the carries: gradient through time and the states; T from the first sequence */
    const gx_value *s0 = &outer->values[(*in)[l->n_carry]];
    int64_t T = s0->info.shape.dims[l->seq_axis[0]];
    for (int32_t k = 0; k < l->n_carry; k++) {
        gx_val cv = l->carry_out[k];
        int dup = 0;
        for (int32_t q = 0; q < k; q++) dup |= l->carry_out[q] == cv;
        if (dup || !is_live(body, cv) || body->values[cv].info.dtype == GX_DTYPE_I32) continue;
        GX_TRY(grad_time_carry(outer, l, in, id, k, T, p, d));
    }
    return GX_OK;
}

gx_status gx_probes_loop_added(gx_graph *outer, int32_t node, const gx_val *res,
                               gx_probe_plan *p, gx_diag *d) {
    gx_status st = GX_OK;
    for (int32_t i = 0; res && i < p->n && st == GX_OK; i++) {
        gx_tap t = p->taps[i];
        t.loop = node;
        if (p->yield[i] >= 0) t.val = res[p->yield[i]];
        /* names live in the body, which the loop keeps: copy them into the outer arena */
        t.name = gx_arena_strdup(&outer->arena, t.name);
        st = t.name ? graph_push(outer, t, d) : gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    }
    gx_free(p->taps);
    gx_free(p->yield);
    memset(p, 0, sizeof *p);
    return st;
}

gx_status gx_probes_outer(gx_graph *g, gx_diag *d) {
    int32_t n_nodes = g->n_nodes, n_values = g->n_values;
    for (int32_t n = 0; n < n_nodes; n++) {
        const char *names[MAX_OP_PROBES];
        gx_val vals[MAX_OP_PROBES];
        int32_t kinds[MAX_OP_PROBES], np;
        GX_TRY(op_probes(g, n, names, vals, kinds, &np, d));
        for (int32_t i = 0; i < np; i++) {
            gx_tap t = {.kind = GX_TAP_PROBE, .name = names[i], .probe_kind = kinds[i],
                        .loop = -1, .val = vals[i], .pos = g->nodes[n].pos};
            GX_TRY(graph_push(g, t, d));
        }
    }
    for (gx_val v = 0; v < n_values; v++) {
        const gx_value *x = &g->values[v];
        if (x->probe == NULL || !is_live(g, v)) continue;
        gx_tap t = {.kind = GX_TAP_PROBE, .name = x->probe, .probe_kind = gx_probe_kind_of(g, v),
                    .loop = -1, .val = v, .pos = x->pos};
        GX_TRY(graph_push(g, t, d));
    }
    return GX_OK;
}
