/*
 * autodiff.c: reverse-mode differentiation by graph building (see autodiff.h).
 * Gradients only flow back from the seeded outputs, and only through values that depend on one
 * of the wanted inputs; what the VJPs emit beyond that (gradients nobody reads) is dead code
 * the planner drops. Loop nodes are differentiated by loop.c (a backward loop).
 */
#include "autodiff.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_float(gx_dtype dt) { return dt == GX_DTYPE_F32 || dt == GX_DTYPE_F64; }

static int same_shape(const gx_shape *a, const gx_shape *b) {
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->dims[i] != b->dims[i]) return 0;
    return 1;
}

/* grad[v] += dv */
static gx_status accumulate(gx_builder *b, gx_val *grad, gx_val v, gx_val dv) {
    if (grad[v] == GX_VAL_NONE) {
        grad[v] = dv;
        return GX_OK;
    }
    gx_val sum;
    gx_status st = gx_emit2(gx_registry_api(), b, "add", grad[v], dv, &sum);
    if (st == GX_OK) grad[v] = sum;
    return st;
}

static int input_nodiff(const gx_node *nd, int32_t i) {
    return nd->loop == NULL && i < 32 && ((nd->op->desc.nodiff_inputs >> i) & 1u);
}

/* one node's VJP: op nodes through their schema, loop nodes through loop.c */
static gx_status node_vjp(gx_graph *g, gx_builder *b, int32_t n, const gx_val *d_out,
                          gx_val *d_in, gx_diag *d) {
    gx_node nd = g->nodes[n]; /* a copy: emitting nodes may move g->nodes */
    if (nd.loop) return gx_loop_vjp(b, n, d_out, d_in);
    if (nd.op->desc.vjp == NULL)
        return gx_diag_at(d, GX_ERR_UNSUPPORTED, nd.pos,
                          "op '%s' has no gradient, but the loss depends on its inputs",
                          nd.op->name);
    gx_host host;
    gx_host_init(&host, g->reg, d, nd.pos);
    gx_vjp_args a = {
        .size = sizeof a,
        .api = gx_registry_api(),
        .host = &host,
        .n_inputs = nd.n_in,
        .inputs = nd.in,
        .n_outputs = nd.n_out,
        .outputs = nd.out,
        .d_outputs = d_out,
        .attrs = nd.attrs,
        .d_inputs = d_in,
    };
    gx_status st = nd.op->desc.vjp(b, &a);
    if (st != GX_OK && d->status == GX_OK)
        gx_diag_at(d, st, nd.pos, "the VJP of '%s' failed (%s)", nd.op->name, gx_status_name(st));
    return st;
}

gx_status gx_autodiff_vjp(gx_graph *g, const gx_val *ys, const gx_val *dys, int32_t n_y,
                          const gx_val *xs, int32_t n_x, gx_val *dxs, gx_diag *d) {
    int32_t n_fwd_values = g->n_values;
    int32_t n_fwd_nodes = g->n_nodes;
    gx_val *grad = gx_malloc(sizeof(gx_val) * (size_t)(n_fwd_values + 1));
    unsigned char *needs = gx_calloc((size_t)n_fwd_values + 1, 1); /* depends on one of xs */
    gx_val *d_out = NULL, *d_in = NULL;
    int32_t max_io = 1;
    for (int32_t n = 0; n < n_fwd_nodes; n++) {
        if (g->nodes[n].n_out > max_io) max_io = g->nodes[n].n_out;
        if (g->nodes[n].n_in > max_io) max_io = g->nodes[n].n_in;
    }
    d_out = gx_malloc(sizeof(gx_val) * (size_t)max_io);
    d_in = gx_malloc(sizeof(gx_val) * (size_t)max_io);
    gx_status st = GX_OK;
    if (!grad || !needs || !d_out || !d_in) {
        st = gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int32_t v = 0; v < n_fwd_values; v++) grad[v] = GX_VAL_NONE;
    for (int32_t i = 0; i < n_x; i++)
        if (is_float(g->values[xs[i]].info.dtype)) needs[xs[i]] = 1;
    for (int32_t n = 0; n < n_fwd_nodes; n++) {
        const gx_node *nd = &g->nodes[n];
        int any = 0;
        for (int32_t i = 0; i < nd->n_in; i++)
            if (needs[nd->in[i]] && !input_nodiff(nd, i)) any = 1;
        for (int32_t j = 0; j < nd->n_out; j++)
            needs[nd->out[j]] =
                (unsigned char)(needs[nd->out[j]] || (any && is_float(g->values[nd->out[j]].info.dtype)));
    }

    gx_builder b = {.g = g, .diag = d, .pos = {0}, .backward = 1};
    for (int32_t i = 0; i < n_y && st == GX_OK; i++) {
        if (dys[i] == GX_VAL_NONE || !needs[ys[i]]) continue;
        b.pos = g->values[ys[i]].pos;
        st = accumulate(&b, grad, ys[i], dys[i]);
    }
    for (int32_t n = n_fwd_nodes - 1; n >= 0 && st == GX_OK; n--) {
        const gx_node *nd = &g->nodes[n];
        int flows = 0, wanted = 0;
        for (int32_t j = 0; j < nd->n_out; j++) {
            d_out[j] = needs[nd->out[j]] ? grad[nd->out[j]] : GX_VAL_NONE;
            if (d_out[j] != GX_VAL_NONE) flows = 1;
        }
        for (int32_t i = 0; i < nd->n_in; i++)
            if (needs[nd->in[i]] && !input_nodiff(nd, i)) wanted = 1;
        if (!flows || !wanted) continue;
        for (int32_t i = 0; i < nd->n_in; i++) d_in[i] = GX_VAL_NONE;
        b.pos = nd->pos;
        st = node_vjp(g, &b, n, d_out, d_in, d);
        /* a copy: accumulating emits nodes, which may move g->nodes (its arrays stay put) */
        const gx_node cur = g->nodes[n];
        nd = &cur;
        for (int32_t i = 0; i < nd->n_in && st == GX_OK; i++) {
            gx_val x = nd->in[i];
            if (d_in[i] == GX_VAL_NONE || !needs[x]) continue;
            if (d_in[i] < 0 || d_in[i] >= g->n_values) {
                st = gx_diag_at(d, GX_ERR_PLUGIN, nd->pos, "the VJP of '%s' returned a bad value",
                                nd->op->name);
                break;
            }
            const gx_tensor_info *gi = &g->values[d_in[i]].info, *xi = &g->values[x].info;
            if (!same_shape(&gi->shape, &xi->shape) || gi->dtype != xi->dtype) {
                char a1[128], a2[128];
                st = gx_diag_at(d, GX_ERR_PLUGIN, nd->pos,
                                "the VJP of '%s' gave input %d a gradient of %s%s, expected %s%s",
                                nd->op->name, (int)i, gx_dtype_name(gi->dtype),
                                gx_shape_str(&gi->shape, a1, sizeof a1), gx_dtype_name(xi->dtype),
                                gx_shape_str(&xi->shape, a2, sizeof a2));
                break;
            }
            st = accumulate(&b, grad, x, d_in[i]);
        }
    }
    for (int32_t i = 0; i < n_x && st == GX_OK; i++) dxs[i] = grad[xs[i]];
done:
    gx_free(grad);
    gx_free(needs);
    gx_free(d_out);
    gx_free(d_in);
    return st;
}

gx_status gx_autodiff(gx_graph *g, gx_val loss, gx_diag *d) {
    if (loss < 0 || loss >= g->n_values)
        return gx_diag_set(d, GX_ERR_INVALID, "autodiff: the graph has no loss");
    const gx_value *lv = &g->values[loss];
    if (!is_float(lv->info.dtype))
        return gx_diag_at(d, GX_ERR_DTYPE, lv->pos, "the loss must be f32 or f64, not %s",
                          gx_dtype_name(lv->info.dtype));
    g->n_forward_nodes = g->n_nodes;
    /* every param and float input, in that order */
    int32_t n_x = 0;
    gx_val *xs = gx_malloc(sizeof(gx_val) * (size_t)(g->n_params + g->n_inputs + 1));
    gx_val *dxs = gx_malloc(sizeof(gx_val) * (size_t)(g->n_params + g->n_inputs + 1));
    const gx_named **names = gx_malloc(sizeof(*names) * (size_t)(g->n_params + g->n_inputs + 1));
    if (!xs || !dxs || !names) {
        gx_free(xs);
        gx_free(dxs);
        gx_free(names);
        return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    }
    for (int pass = 0; pass < 2; pass++) {
        const gx_named *list = pass == 0 ? g->params : g->inputs;
        int32_t n = pass == 0 ? g->n_params : g->n_inputs;
        for (int32_t i = 0; i < n; i++)
            if (is_float(g->values[list[i].val].info.dtype)) {
                names[n_x] = &list[i];
                xs[n_x++] = list[i].val;
            }
    }
    gx_builder b = {.g = g, .diag = d, .pos = lv->pos, .backward = 1};
    gx_val seed;
    gx_status st = gx_builder_emit_constant(&b, 1.0, lv->info.dtype, &lv->info.shape, &seed);
    if (st == GX_OK) st = gx_autodiff_vjp(g, &loss, &seed, 1, xs, n_x, dxs, d);
    /* one output per param and float input: grad.<name>; zeros where the loss ignores it */
    for (int32_t i = 0; i < n_x && st == GX_OK; i++) {
        /* names[] points into params/inputs, which adding outputs leaves in place */
        char name[256];
        snprintf(name, sizeof name, "grad.%s", names[i]->name);
        gx_srcpos pos = names[i]->pos;
        gx_val gv = dxs[i];
        const gx_value *xv = &g->values[xs[i]];
        b.pos = pos;
        if (gv == GX_VAL_NONE)
            st = gx_builder_emit_constant(&b, 0.0, xv->info.dtype, &xv->info.shape, &gv);
        if (st == GX_OK) st = gx_graph_add_output(g, name, gv, pos, d);
    }
    gx_free(xs);
    gx_free(dxs);
    gx_free(names);
    return st;
}
