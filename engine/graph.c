/*
 * graph.c: building the IR: values, nodes (with shape inference through the op schema),
 * attribute resolution, and the gx_builder functions VJPs call through the host table.
 */
#include "graph.h"

#include "memlimit.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define GX_MAX_NODE_OUTPUTS 64
#define GX_MAX_GRAPH_NODES  (1 << 20)

gx_graph *gx_graph_new(gx_registry *reg) {
    gx_graph *g = gx_calloc(1, sizeof *g);
    if (g == NULL) return NULL;
    gx_arena_init(&g->arena);
    g->reg = reg;
    g->loss = GX_VAL_NONE;
    g->name = "graph";
    return g;
}

void gx_graph_free(gx_graph *g) {
    if (g == NULL) return;
    if (g->source && g->source_free) g->source_free(g->source);
    for (int32_t n = 0; n < g->n_nodes; n++) gx_loop_free(g->nodes[n].loop);
    gx_free(g->values);
    gx_free(g->nodes);
    gx_free(g->inputs);
    gx_free(g->params);
    gx_free(g->outputs);
    gx_free(g->dims);
    gx_free(g->taps);
    gx_arena_free(&g->arena);
    gx_free(g);
}

static gx_status new_value(gx_graph *g, gx_value v, gx_val *out, gx_diag *d) {
    gx_value *vs = gx_grow(g->values, &g->cap_values, g->n_values + 1, sizeof v);
    if (vs == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    g->values = vs;
    g->values[g->n_values] = v;
    *out = g->n_values++;
    return GX_OK;
}

const gx_named *gx_graph_find_named(const gx_named *list, int32_t n, const char *name) {
    for (int32_t i = 0; i < n; i++)
        if (strcmp(list[i].name, name) == 0) return &list[i];
    return NULL;
}

int32_t gx_graph_find_output(const gx_graph *g, const char *name) {
    for (int32_t i = 0; i < g->n_outputs; i++)
        if (strcmp(g->outputs[i].name, name) == 0) return i;
    return -1;
}

static gx_status add_named(gx_graph *g, gx_named **list, int32_t *n, int32_t *cap,
                           const char *name, gx_val v, gx_srcpos pos, gx_init init, gx_diag *d) {
    gx_named *l = gx_grow(*list, cap, *n + 1, sizeof **list);
    if (l == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    *list = l;
    char *nm = gx_arena_strdup(&g->arena, name);
    if (nm == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    (*list)[*n] = (gx_named){.name = nm, .val = v, .pos = pos, .init = init, .next = GX_VAL_NONE};
    (*n)++;
    return GX_OK;
}

static gx_status add_leaf(gx_graph *g, gx_value_kind kind, const char *name, gx_tensor_info info,
                          gx_srcpos pos, gx_val *out, gx_diag *d) {
    if (gx_dtype_size(info.dtype) == 0)
        return gx_diag_at(d, GX_ERR_DTYPE, pos, "'%s' has no valid dtype", name);
    if (info.shape.ndim < 0 || info.shape.ndim > GX_MAX_DIMS)
        return gx_diag_at(d, GX_ERR_SHAPE, pos, "'%s' has rank %d; at most %d is supported", name,
                          (int)info.shape.ndim, GX_MAX_DIMS);
    for (int i = 0; i < info.shape.ndim; i++)
        if (info.shape.dims[i] < 0)
            return gx_diag_at(d, GX_ERR_SHAPE, pos, "'%s' has a negative dimension (%lld)", name,
                              (long long)info.shape.dims[i]);
    gx_value v = {.info = info, .kind = kind, .node = -1, .pos = pos};
    v.name = gx_arena_strdup(&g->arena, name);
    if (v.name == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    return new_value(g, v, out, d);
}

gx_status gx_graph_add_input(gx_graph *g, const char *name, gx_tensor_info info, gx_srcpos pos,
                             gx_val *out, gx_diag *d) {
    gx_status st = add_leaf(g, GX_VALUE_INPUT, name, info, pos, out, d);
    if (st != GX_OK) return st;
    return add_named(g, &g->inputs, &g->n_inputs, &g->cap_inputs, name, *out, pos, (gx_init){0}, d);
}

gx_status gx_graph_add_param(gx_graph *g, const char *name, gx_tensor_info info, gx_init init,
                             gx_srcpos pos, gx_val *out, gx_diag *d) {
    if (info.dtype == GX_DTYPE_I32)
        return gx_diag_at(d, GX_ERR_DTYPE, pos, "param '%s' must be f32 or f64, not i32", name);
    gx_status st = add_leaf(g, GX_VALUE_PARAM, name, info, pos, out, d);
    if (st != GX_OK) return st;
    return add_named(g, &g->params, &g->n_params, &g->cap_params, name, *out, pos, init, d);
}

gx_status gx_graph_add_output(gx_graph *g, const char *name, gx_val v, gx_srcpos pos, gx_diag *d) {
    if (gx_graph_find_output(g, name) >= 0)
        return gx_diag_at(d, GX_ERR_DUPLICATE, pos, "output '%s' is declared twice", name);
    return add_named(g, &g->outputs, &g->n_outputs, &g->cap_outputs, name, v, pos, (gx_init){0},
                     d);
}

gx_status gx_graph_add_dim(gx_graph *g, const char *name, int64_t value, gx_srcpos pos) {
    gx_dim *dims = gx_grow(g->dims, &g->cap_dims, g->n_dims + 1, sizeof *g->dims);
    if (dims == NULL) return GX_ERR_NOMEM;
    g->dims = dims;
    char *nm = gx_arena_strdup(&g->arena, name);
    if (nm == NULL) return GX_ERR_NOMEM;
    g->dims[g->n_dims++] = (gx_dim){.name = nm, .value = value, .pos = pos};
    return GX_OK;
}

/* ---- attributes ---- */

static const char *attr_type_name(gx_attr_type t) {
    switch (t) {
    case GX_ATTR_INT: return "an integer";
    case GX_ATTR_FLOAT: return "a number";
    case GX_ATTR_INTS: return "a list of integers";
    case GX_ATTR_STRING: return "a string";
    case GX_ATTR_DTYPE: return "a dtype (f32, f64, i32)";
    case GX_ATTR_NONE: break;
    }
    return "nothing";
}

gx_status gx_attrs_resolve(gx_graph *g, const gx_op *op, const gx_attr_kv *kv, int32_t n_kv,
                           gx_attr_value *attrs, gx_srcpos pos, gx_diag *d) {
    int n = op->n_attrs;
    int given[64] = {0};
    for (int i = 0; i < n; i++) {
        attrs[i] = op->desc.attrs[i].required ? (gx_attr_value){.type = GX_ATTR_NONE}
                                              : op->desc.attrs[i].dflt;
    }
    for (int32_t k = 0; k < n_kv; k++) {
        int i = gx_op_attr_index(op, kv[k].name);
        if (i < 0) {
            const char *names[64];
            for (int j = 0; j < n; j++) names[j] = op->desc.attrs[j].name;
            const char *near = gx_nearest_name(kv[k].name, names, n);
            if (n == 0)
                return gx_diag_at(d, GX_ERR_NOT_FOUND, pos, "op '%s' has no attributes, got '%s'",
                                  op->name, kv[k].name);
            return gx_diag_at(d, GX_ERR_NOT_FOUND, pos, "op '%s' has no attribute '%s'%s%s%s",
                              op->name, kv[k].name, near ? "; did you mean '" : "",
                              near ? near : "", near ? "'?" : "");
        }
        if (given[i])
            return gx_diag_at(d, GX_ERR_INVALID, pos, "attribute '%s' of '%s' is given twice",
                              kv[k].name, op->name);
        given[i] = 1;
        gx_attr_type want = op->desc.attrs[i].type;
        gx_attr_value v = kv[k].value;
        if (want == GX_ATTR_FLOAT && v.type == GX_ATTR_INT) {
            v.type = GX_ATTR_FLOAT;
            v.f = (double)v.i;
        }
        if (want == GX_ATTR_INTS && v.type == GX_ATTR_INT) { /* axes = 1 means [1] */
            v.type = GX_ATTR_INTS;
            v.n_ints = 1;
            v.ints[0] = v.i;
        }
        if (v.type != want)
            return gx_diag_at(d, GX_ERR_INVALID, pos, "attribute '%s' of '%s' must be %s, got %s",
                              kv[k].name, op->name, attr_type_name(want), attr_type_name(v.type));
        if (v.type == GX_ATTR_STRING) {
            v.s = gx_arena_strdup(&g->arena, v.s ? v.s : "");
            if (v.s == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
        }
        attrs[i] = v;
    }
    for (int i = 0; i < n; i++)
        if (op->desc.attrs[i].required && !given[i])
            return gx_diag_at(d, GX_ERR_INVALID, pos, "op '%s' needs attribute '%s' (%s)",
                              op->name, op->desc.attrs[i].name,
                              attr_type_name(op->desc.attrs[i].type));
    return GX_OK;
}

/* ---- nodes ---- */

#define MAX_DECOMPOSE_DEPTH 16
#define MAX_OP_PROBES       16

static int same_info(const gx_tensor_info *a, const gx_tensor_info *b) {
    if (a->dtype != b->dtype || a->shape.ndim != b->shape.ndim) return 0;
    for (int32_t k = 0; k < a->shape.ndim; k++)
        if (a->shape.dims[k] != b->shape.dims[k]) return 0;
    return 1;
}

/* Run the op's decomposition in place of a node: the nodes it emits get the call's position, and
 * the values it names become probes, as a `probe "..."` in a def would make them. */
static gx_status expand(gx_graph *g, const gx_op *op, const gx_val *in, int32_t n_in,
                        const gx_attr_value *attrs, gx_srcpos pos, int32_t backward,
                        const gx_tensor_info *infos, int32_t n_outs, gx_val *out, int32_t *n_out,
                        gx_diag *d) {
    if (g->decompose_depth >= MAX_DECOMPOSE_DEPTH)
        return gx_diag_at(d, GX_ERR_PLUGIN, pos, "'%s': decompositions nest more than %d deep "
                          "(does an op decompose into itself?)", op->name, MAX_DECOMPOSE_DEPTH);
    int32_t n_probes = 0;
    if (op->desc.probes)
        while (op->desc.probes[n_probes] && n_probes < MAX_OP_PROBES) n_probes++;
    gx_val res[GX_MAX_NODE_OUTPUTS], pv[MAX_OP_PROBES];
    int32_t pk[MAX_OP_PROBES];
    for (int32_t j = 0; j < n_outs; j++) res[j] = GX_VAL_NONE;
    for (int32_t i = 0; i < n_probes; i++) {
        pv[i] = GX_VAL_NONE;
        pk[i] = GX_PROBE_PLAIN;
    }
    gx_host host;
    gx_host_init(&host, g->reg, d, pos);
    gx_builder b = {.g = g, .diag = d, .pos = pos, .backward = backward};
    gx_decompose_args a = {.size = sizeof a, .api = gx_registry_api(), .host = &host,
                           .n_inputs = n_in, .inputs = in, .attrs = attrs, .n_outputs = n_outs,
                           .outputs = res, .n_probes = n_probes, .probe_values = pv,
                           .probe_kinds = pk};
    g->decompose_depth++;
    gx_status st = op->desc.decompose(&b, &a);
    g->decompose_depth--;
    if (st != GX_OK) {
        if (d && d->status == GX_OK)
            gx_diag_at(d, st, pos, "'%s': its decomposition failed (%s)", op->name,
                       gx_status_name(st));
        return st;
    }
    for (int32_t j = 0; j < n_outs; j++) {
        if (res[j] < 0 || res[j] >= g->n_values)
            return gx_diag_at(d, GX_ERR_PLUGIN, pos, "'%s': its decomposition gave no value for "
                              "output %d", op->name, (int)j);
        if (!same_info(&g->values[res[j]].info, &infos[j])) {
            char s1[96], s2[96];
            return gx_diag_at(d, GX_ERR_PLUGIN, pos, "'%s': its decomposition gives output %d as "
                              "%s%s, but its shape inference says %s%s", op->name, (int)j,
                              gx_dtype_name(g->values[res[j]].info.dtype),
                              gx_shape_str(&g->values[res[j]].info.shape, s1, sizeof s1),
                              gx_dtype_name(infos[j].dtype), gx_shape_str(&infos[j].shape, s2, sizeof s2));
        }
    }
    for (int32_t i = 0; i < n_probes; i++) {
        if (pv[i] == GX_VAL_NONE) continue;
        if (pv[i] < 0 || pv[i] >= g->n_values)
            return gx_diag_at(d, GX_ERR_PLUGIN, pos, "'%s': its decomposition named a bad value "
                              "as probe '%s'", op->name, op->desc.probes[i]);
        gx_value *v = &g->values[pv[i]];
        v->probe = gx_arena_strdup(&g->arena, op->desc.probes[i]);
        if (v->probe == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
        v->probe_kind = 1 + (pk[i] >= GX_PROBE_PLAIN && pk[i] <= GX_PROBE_DIST ? pk[i]
                                                                                : GX_PROBE_PLAIN);
    }
    for (int32_t j = 0; j < n_outs; j++) out[j] = res[j];
    if (n_out) *n_out = n_outs;
    return GX_OK;
}

gx_status gx_graph_add_node(gx_graph *g, const gx_op *op, const gx_val *in, int32_t n_in,
                            const gx_attr_value *attrs, gx_srcpos pos, int32_t backward,
                            gx_val *out, int32_t max_out, int32_t *n_out, gx_diag *d) {
    const gx_op_desc *od = &op->desc;
    if (n_in < od->min_inputs || (od->max_inputs >= 0 && n_in > od->max_inputs)) {
        if (od->max_inputs == od->min_inputs)
            return gx_diag_at(d, GX_ERR_INVALID, pos, "'%s' takes %d input%s, got %d", op->name,
                              (int)od->min_inputs, od->min_inputs == 1 ? "" : "s", (int)n_in);
        if (od->max_inputs < 0)
            return gx_diag_at(d, GX_ERR_INVALID, pos, "'%s' takes at least %d inputs, got %d",
                              op->name, (int)od->min_inputs, (int)n_in);
        return gx_diag_at(d, GX_ERR_INVALID, pos, "'%s' takes %d to %d inputs, got %d", op->name,
                          (int)od->min_inputs, (int)od->max_inputs, (int)n_in);
    }
    gx_tensor_info stack_in[16];
    gx_tensor_info *infos = stack_in;
    if (n_in > 16) {
        infos = gx_malloc(sizeof *infos * (size_t)n_in);
        if (infos == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    }
    for (int32_t i = 0; i < n_in; i++) {
        if (in[i] < 0 || in[i] >= g->n_values) {
            if (infos != stack_in) gx_free(infos);
            return gx_diag_at(d, GX_ERR_INVALID, pos, "'%s': input %d is not a value", op->name,
                              (int)i);
        }
        infos[i] = g->values[in[i]].info;
    }
    gx_tensor_info outs[GX_MAX_NODE_OUTPUTS];
    memset(outs, 0, sizeof outs);
    gx_host host;
    gx_host_init(&host, g->reg, d, pos);
    gx_infer_ctx c = {
        .size = sizeof c,
        .api = gx_registry_api(),
        .host = &host,
        .n_inputs = n_in,
        .inputs = infos,
        .attrs = attrs,
        .n_outputs = od->n_outputs,
        .max_outputs = od->n_outputs >= 0 ? od->n_outputs : GX_MAX_NODE_OUTPUTS,
        .outputs = outs,
    };
    if (c.max_outputs > GX_MAX_NODE_OUTPUTS) c.max_outputs = GX_MAX_NODE_OUTPUTS;
    gx_status st = od->infer(&c);
    if (infos != stack_in) gx_free(infos);
    if (st != GX_OK) {
        if (d && d->status == GX_OK)
            gx_diag_at(d, st, pos, "'%s': shape inference failed (%s)", op->name,
                       gx_status_name(st));
        return st;
    }
    if (c.n_outputs < 1 || c.n_outputs > c.max_outputs)
        return gx_diag_at(d, GX_ERR_PLUGIN, pos, "'%s': infer produced %d outputs", op->name,
                          (int)c.n_outputs);
    for (int32_t j = 0; j < c.n_outputs; j++) {
        const gx_tensor_info *o = &outs[j];
        int ok = gx_dtype_size(o->dtype) != 0 && o->shape.ndim >= 0 && o->shape.ndim <= GX_MAX_DIMS;
        for (int k = 0; ok && k < o->shape.ndim; k++) ok = o->shape.dims[k] >= 0;
        if (!ok)
            return gx_diag_at(d, GX_ERR_PLUGIN, pos, "'%s': infer produced an invalid output %d",
                              op->name, (int)j);
    }
    if (c.n_outputs > max_out)
        return gx_diag_at(d, GX_ERR_INVALID, pos, "'%s' gives %d results, but %d %s expected",
                          op->name, (int)c.n_outputs, (int)max_out,
                          max_out == 1 ? "is" : "are");

    if (gx_registry_op_expands(g->reg, op))
        return expand(g, op, in, n_in, attrs, pos, backward, outs, c.n_outputs, out, n_out, d);

    /* a .graph can ask for any number of nodes (unrolled loops, defs calling defs): stop at a
     * size no real model reaches, with a message, before memory runs out */
    if (g->n_nodes >= GX_MAX_GRAPH_NODES)
        return gx_diag_at(d, GX_ERR_INVALID, pos, "the graph is too large: more than %d nodes",
                          GX_MAX_GRAPH_NODES);
    gx_node nd = {.op = op, .n_in = n_in, .n_out = c.n_outputs, .pos = pos, .backward = backward};
    nd.in = gx_arena_alloc(&g->arena, sizeof(gx_val) * (size_t)(n_in ? n_in : 1));
    nd.out = gx_arena_alloc(&g->arena, sizeof(gx_val) * (size_t)c.n_outputs);
    nd.attrs = gx_arena_alloc(&g->arena, sizeof(gx_attr_value) * (size_t)(op->n_attrs ? op->n_attrs : 1));
    gx_node *nodes = gx_grow(g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof nd);
    if (!nd.in || !nd.out || !nd.attrs || nodes == NULL)
        return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    g->nodes = nodes;
    if (n_in) memcpy(nd.in, in, sizeof(gx_val) * (size_t)n_in);
    if (op->n_attrs) memcpy(nd.attrs, attrs, sizeof(gx_attr_value) * (size_t)op->n_attrs);
    int32_t id = g->n_nodes;
    for (int32_t j = 0; j < c.n_outputs; j++) {
        gx_value v = {.info = outs[j], .kind = GX_VALUE_NODE, .node = id, .out_index = j, .pos = pos};
        st = new_value(g, v, &nd.out[j], d);
        if (st != GX_OK) return st;
        out[j] = nd.out[j];
    }
    g->nodes[g->n_nodes++] = nd;
    if (n_out) *n_out = c.n_outputs;
    return GX_OK;
}

/* ---- builder (the host table's graph-building functions) ---- */

gx_status gx_builder_emit(gx_builder *b, const char *opname, const gx_val *in, int32_t n_in,
                          const gx_attr_kv *kv, int32_t n_kv, gx_val *out, int32_t n_out) {
    const gx_op *op = gx_registry_find_op(b->g->reg, opname ? opname : "");
    if (op == NULL)
        return gx_diag_at(b->diag, GX_ERR_NOT_FOUND, b->pos, "a VJP emitted unknown op '%s'",
                          opname ? opname : "(null)");
    gx_attr_value attrs[64];
    gx_status st = gx_attrs_resolve(b->g, op, kv, n_kv, attrs, b->pos, b->diag);
    if (st != GX_OK) return st;
    for (int32_t i = 0; i < n_in; i++)
        if (in[i] == GX_VAL_NONE)
            return gx_diag_at(b->diag, GX_ERR_INVALID, b->pos, "'%s' emitted with a missing input",
                              opname);
    int32_t got = 0;
    st = gx_graph_add_node(b->g, op, in, n_in, attrs, b->pos, b->backward, out, n_out, &got,
                           b->diag);
    if (st != GX_OK) return st;
    if (got != n_out)
        return gx_diag_at(b->diag, GX_ERR_INVALID, b->pos, "'%s' gave %d outputs, %d expected",
                          opname, (int)got, (int)n_out);
    return GX_OK;
}

gx_status gx_builder_value_info(gx_builder *b, gx_val v, gx_tensor_info *info) {
    if (v < 0 || v >= b->g->n_values)
        return gx_diag_at(b->diag, GX_ERR_INVALID, b->pos, "value_info: bad value %d", (int)v);
    *info = b->g->values[v].info;
    return GX_OK;
}

gx_status gx_builder_emit_constant(gx_builder *b, double value, gx_dtype dtype,
                                   const gx_shape *shape, gx_val *out) {
    gx_attr_kv kv[3] = {
        {.name = "shape", .value = {.type = GX_ATTR_INTS, .n_ints = shape->ndim}},
        {.name = "value", .value = {.type = GX_ATTR_FLOAT, .f = value}},
        {.name = "dtype", .value = {.type = GX_ATTR_DTYPE, .i = dtype}},
    };
    for (int i = 0; i < shape->ndim; i++) kv[0].value.ints[i] = shape->dims[i];
    return gx_builder_emit(b, "full", NULL, 0, kv, 3, out, 1);
}

gx_status gx_builder_emit_sum_to(gx_builder *b, gx_val v, const gx_shape *shape, gx_val *out) {
    gx_tensor_info vi;
    gx_status st = gx_builder_value_info(b, v, &vi);
    if (st != GX_OK) return st;
    const gx_shape *s = &vi.shape;
    int same = s->ndim == shape->ndim;
    for (int i = 0; same && i < s->ndim; i++) same = s->dims[i] == shape->dims[i];
    if (same) {
        *out = v;
        return GX_OK;
    }
    int lead = s->ndim - shape->ndim;
    if (lead < 0)
        return gx_diag_at(b->diag, GX_ERR_SHAPE, b->pos, "sum_to: cannot reduce rank %d to rank %d",
                          (int)s->ndim, (int)shape->ndim);
    gx_attr_kv kv[2] = {
        {.name = "axes", .value = {.type = GX_ATTR_INTS, .n_ints = 0}},
        {.name = "keepdims", .value = {.type = GX_ATTR_INT, .i = 1}},
    };
    for (int i = 0; i < s->ndim; i++) {
        int64_t want = i < lead ? 1 : shape->dims[i - lead];
        if (i < lead || (want == 1 && s->dims[i] != 1))
            kv[0].value.ints[kv[0].value.n_ints++] = i;
        else if (want != s->dims[i])
            return gx_diag_at(b->diag, GX_ERR_SHAPE, b->pos, "sum_to: dimension %d is %lld, "
                              "cannot reduce it to %lld", i, (long long)s->dims[i], (long long)want);
    }
    gx_val summed = v;
    if (kv[0].value.n_ints > 0) {
        st = gx_builder_emit(b, "sum", &v, 1, kv, 2, &summed, 1);
        if (st != GX_OK) return st;
    }
    gx_attr_kv rk = {.name = "shape", .value = {.type = GX_ATTR_INTS, .n_ints = shape->ndim}};
    for (int i = 0; i < shape->ndim; i++) rk.value.ints[i] = shape->dims[i];
    return gx_builder_emit(b, "reshape", &summed, 1, &rk, 1, out, 1);
}

/* ---- the memory limit ---- */


gx_status gx_graph_check_memory(const gx_graph *g, gx_diag *d) {
    uint64_t limit = gx_memory_limit(), total = 0;
    char s1[32], s2[32], sh[128];
    const gx_named *lists[2] = {g->params, g->inputs};
    const int32_t counts[2] = {g->n_params, g->n_inputs};
    for (int k = 0; k < 2; k++)
        for (int32_t i = 0; i < counts[k]; i++) {
            const gx_value *v = &g->values[lists[k][i].val];
            uint64_t b = gx_value_bytes(v);
            if (b > limit)
                return gx_diag_at(d, GX_ERR_NOMEM, v->pos, "%s '%s' is %s%s: %s, more than the "
                                  "memory limit of %s (--max-memory)", k ? "input" : "param",
                                  lists[k][i].name, gx_dtype_name(v->info.dtype),
                                  gx_shape_str(&v->info.shape, sh, sizeof sh),
                                  gx_bytes_text(b, s1, sizeof s1), gx_bytes_text(limit, s2, sizeof s2));
            total += b;
        }
    if (total > limit)
        return gx_diag_set(d, GX_ERR_NOMEM, "the params and inputs of graph '%s' need %s, more than "
                           "the memory limit of %s (--max-memory)", g->name ? g->name : "?",
                           gx_bytes_text(total, s1, sizeof s1), gx_bytes_text(limit, s2, sizeof s2));
    return GX_OK;
}
