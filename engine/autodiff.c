/*
 * autodiff.c: reverse-mode differentiation by graph building (see autodiff.h).
 * Gradients only flow back from the loss, and only through values that depend on a param or a
 * float input; what the VJPs emit beyond that (gradients nobody reads) is dead code the planner
 * drops.
 */
#include "autodiff.h"

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

gx_status gx_autodiff(gx_graph *g, gx_val loss, gx_diag *d) {
    if (loss < 0 || loss >= g->n_values)
        return gx_diag_set(d, GX_ERR_INVALID, "autodiff: the graph has no loss");
    const gx_value *lv = &g->values[loss];
    if (!is_float(lv->info.dtype))
        return gx_diag_at(d, GX_ERR_DTYPE, lv->pos, "the loss must be f32 or f64, not %s",
                          gx_dtype_name(lv->info.dtype));
    int32_t n_fwd_values = g->n_values;
    int32_t n_fwd_nodes = g->n_nodes;
    g->n_forward_nodes = n_fwd_nodes;
    gx_val *grad = malloc(sizeof(gx_val) * (size_t)n_fwd_values);
    unsigned char *needs = calloc((size_t)n_fwd_values, 1);   /* depends on a param/float input */
    if (!grad || !needs) {
        free(grad);
        free(needs);
        return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    }
    for (int32_t v = 0; v < n_fwd_values; v++) {
        grad[v] = GX_VAL_NONE;
        const gx_value *val = &g->values[v];
        needs[v] = val->kind != GX_VALUE_NODE && is_float(val->info.dtype);
    }
    for (int32_t n = 0; n < n_fwd_nodes; n++) {
        const gx_node *nd = &g->nodes[n];
        int any = 0;
        for (int32_t i = 0; i < nd->n_in; i++)
            if (needs[nd->in[i]] && !(i < 32 && (nd->op->desc.nodiff_inputs >> i) & 1u)) any = 1;
        for (int32_t j = 0; j < nd->n_out; j++)
            needs[nd->out[j]] = (unsigned char)(any && is_float(g->values[nd->out[j]].info.dtype));
    }

    gx_builder b = {.g = g, .diag = d, .pos = lv->pos, .backward = 1};
    gx_status st = gx_builder_emit_constant(&b, 1.0, lv->info.dtype, &lv->info.shape, &grad[loss]);

    gx_val d_out[64];
    gx_val d_in_stack[16];
    for (int32_t n = n_fwd_nodes - 1; n >= 0 && st == GX_OK; n--) {
        /* copy: emitting nodes may move g->nodes */
        gx_node nd = g->nodes[n];
        int flows = 0, wanted = 0;
        for (int32_t j = 0; j < nd.n_out; j++) {
            d_out[j] = needs[nd.out[j]] ? grad[nd.out[j]] : GX_VAL_NONE;
            if (d_out[j] != GX_VAL_NONE) flows = 1;
        }
        for (int32_t i = 0; i < nd.n_in; i++)
            if (needs[nd.in[i]] && !(i < 32 && (nd.op->desc.nodiff_inputs >> i) & 1u)) wanted = 1;
        if (!flows || !wanted) continue;
        if (nd.op->desc.vjp == NULL) {
            st = gx_diag_at(d, GX_ERR_UNSUPPORTED, nd.pos,
                            "op '%s' has no gradient, but the loss depends on its inputs",
                            nd.op->name);
            break;
        }
        gx_val *d_in = nd.n_in <= 16 ? d_in_stack : malloc(sizeof(gx_val) * (size_t)nd.n_in);
        if (d_in == NULL) {
            st = gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
            break;
        }
        for (int32_t i = 0; i < nd.n_in; i++) d_in[i] = GX_VAL_NONE;
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
        b.pos = nd.pos;
        st = nd.op->desc.vjp(&b, &a);
        if (st != GX_OK && d->status == GX_OK)
            gx_diag_at(d, st, nd.pos, "the VJP of '%s' failed (%s)", nd.op->name,
                       gx_status_name(st));
        for (int32_t i = 0; i < nd.n_in && st == GX_OK; i++) {
            gx_val x = nd.in[i];
            if (d_in[i] == GX_VAL_NONE || !needs[x]) continue;
            if (d_in[i] < 0 || d_in[i] >= g->n_values) {
                st = gx_diag_at(d, GX_ERR_PLUGIN, nd.pos, "the VJP of '%s' returned a bad value",
                                nd.op->name);
                break;
            }
            const gx_tensor_info *gi = &g->values[d_in[i]].info, *xi = &g->values[x].info;
            if (!same_shape(&gi->shape, &xi->shape) || gi->dtype != xi->dtype) {
                char a1[128], a2[128];
                st = gx_diag_at(d, GX_ERR_PLUGIN, nd.pos,
                                "the VJP of '%s' gave input %d a gradient of %s%s, expected %s%s",
                                nd.op->name, (int)i, gx_dtype_name(gi->dtype),
                                gx_shape_str(&gi->shape, a1, sizeof a1), gx_dtype_name(xi->dtype),
                                gx_shape_str(&xi->shape, a2, sizeof a2));
                break;
            }
            st = accumulate(&b, grad, x, d_in[i]);
        }
        if (d_in != d_in_stack) free(d_in);
    }

    /* one output per param and float input: grad.<name> */
    for (int pass = 0; pass < 2 && st == GX_OK; pass++) {
        const gx_named *list = pass == 0 ? g->params : g->inputs;
        int32_t n = pass == 0 ? g->n_params : g->n_inputs;
        for (int32_t i = 0; i < n && st == GX_OK; i++) {
            gx_val x = list[i].val;
            const gx_value *xv = &g->values[x];
            if (!is_float(xv->info.dtype)) continue;
            gx_val gv = grad[x];
            b.pos = list[i].pos;
            if (gv == GX_VAL_NONE) st = gx_builder_emit_constant(&b, 0.0, xv->info.dtype,
                                                                 &xv->info.shape, &gv);
            if (st != GX_OK) break;
            char name[256];
            snprintf(name, sizeof name, "grad.%s", list[i].name);
            st = gx_graph_add_output(g, name, gv, list[i].pos, d);
        }
    }
    free(grad);
    free(needs);
    return st;
}
