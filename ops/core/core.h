/*
 * core.h: helpers shared by the files of the core op library (gx-op-core.so).
 *
 * Shape helpers (broadcasting, axes, element counts), error helpers that turn a bad input into a
 * message naming the shapes, small builders for VJPs, and macros that keep the example and
 * attribute tables readable, plus the registration function of each file. The helpers are
 * static inline: the plugin exports only gx_plugin_entry, so there is no internal library to
 * link, and a helper a file does not use costs nothing. Not part of the SDK; nothing outside
 * ops/core includes it.
 */
#ifndef GX_OPS_CORE_H
#define GX_OPS_CORE_H

#include <gexec/plugin-helpers.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

// ---- registration -------------------------------------------------------------------------

/* One per file; each registers that file's table with api->register_op. */
gx_status gx_core_register_elementwise(const gx_host_api *api, gx_host *host);
gx_status gx_core_register_matmul(const gx_host_api *api, gx_host *host);
gx_status gx_core_register_shape(const gx_host_api *api, gx_host *host);
gx_status gx_core_register_reduce(const gx_host_api *api, gx_host *host);
gx_status gx_core_register_nn(const gx_host_api *api, gx_host *host);
gx_status gx_core_register_masks(const gx_host_api *api, gx_host *host);
gx_status gx_core_register_optim(const gx_host_api *api, gx_host *host);


// ---- table-building macros ----------------------------------------------------------------

/* Number of comma-separated int64 values; an integer constant expression, so usable in static
 * initialisers. */
#define CORE_NARGS(...) ((int32_t)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)))

/* Inputs of gradient-check examples: dtype, value range [lo, hi], then the dims. */
#define CORE_EX_F64(lo_, hi_, ...)                                                      \
    { .dtype = GX_DTYPE_F64, .ndim = CORE_NARGS(__VA_ARGS__), .dims = {__VA_ARGS__},    \
      .lo = (lo_), .hi = (hi_) }
#define CORE_EX_F64_SCALAR(lo_, hi_) { .dtype = GX_DTYPE_F64, .ndim = 0, .lo = (lo_), .hi = (hi_) }
#define CORE_EX_I32(lo_, hi_, ...)                                                      \
    { .dtype = GX_DTYPE_I32, .ndim = CORE_NARGS(__VA_ARGS__), .dims = {__VA_ARGS__},    \
      .lo = (lo_), .hi = (hi_) }
#define CORE_EX_I32_SCALAR(lo_, hi_) { .dtype = GX_DTYPE_I32, .ndim = 0, .lo = (lo_), .hi = (hi_) }

/* Attribute values set by examples. */
#define CORE_KV_INT(name_, v)   { .name = (name_), .value = { .type = GX_ATTR_INT, .i = (v) } }
#define CORE_KV_FLOAT(name_, v) { .name = (name_), .value = { .type = GX_ATTR_FLOAT, .f = (v) } }
#define CORE_KV_INTS(name_, ...)                                                          \
    { .name = (name_), .value = { .type = GX_ATTR_INTS, .n_ints = CORE_NARGS(__VA_ARGS__), \
                                  .ints = {__VA_ARGS__} } }

/* Attribute descriptors. */
#define CORE_ATTR_REQUIRED(name_, type_, doc_) \
    { .name = (name_), .type = (type_), .required = 1, .doc = (doc_) }
#define CORE_ATTR_OPTIONAL(name_, type_, doc_) { .name = (name_), .type = (type_), .doc = (doc_) }
#define CORE_ATTR_INT(name_, v, doc_)                                              \
    { .name = (name_), .type = GX_ATTR_INT, .dflt = { .type = GX_ATTR_INT, .i = (v) }, \
      .doc = (doc_) }
#define CORE_ATTR_END { .name = NULL }

// ---- formatting ---------------------------------------------------------------------------

// ---- errors in infer ----------------------------------------------------------------------

static inline int core_dtype_valid(gx_dtype dt) {
    return dt == GX_DTYPE_F32 || dt == GX_DTYPE_F64 || dt == GX_DTYPE_I32;
}

static inline int core_dtype_float(gx_dtype dt) {
    return dt == GX_DTYPE_F32 || dt == GX_DTYPE_F64;
}

/* Checks every op's infer starts with: the input count, and that each input is a well-formed
 * tensor (a known dtype, a rank in [0, GX_MAX_DIMS], no negative dim). The host should never
 * hand us anything else, but infer must not crash whatever it is given. */
static inline gx_status core_check_inputs(const gx_infer_ctx *c, const char *op, int32_t min_in,
                                          int32_t max_in) {
    if (c->n_inputs < min_in || (max_in >= 0 && c->n_inputs > max_in)) {
        if (min_in == max_in)
            return gx_infer_fail(c, GX_ERR_INVALID, op, "takes %d input%s, got %d", (int)min_in,
                             min_in == 1 ? "" : "s", (int)c->n_inputs);
        if (max_in < 0)
            return gx_infer_fail(c, GX_ERR_INVALID, op, "takes at least %d input%s, got %d",
                             (int)min_in, min_in == 1 ? "" : "s", (int)c->n_inputs);
        return gx_infer_fail(c, GX_ERR_INVALID, op, "takes %d to %d inputs, got %d", (int)min_in,
                         (int)max_in, (int)c->n_inputs);
    }
    if (c->n_inputs > 0 && c->inputs == NULL)
        return gx_infer_fail(c, GX_ERR_INVALID, op, "no input descriptions given");
    if (c->outputs == NULL) return gx_infer_fail(c, GX_ERR_INVALID, op, "no room for outputs");
    for (int32_t i = 0; i < c->n_inputs; i++) {
        const gx_tensor_info *t = &c->inputs[i];
        if (!core_dtype_valid(t->dtype))
            return gx_infer_fail(c, GX_ERR_DTYPE, op, "input %d has an invalid dtype", (int)i);
        if (t->shape.ndim < 0 || t->shape.ndim > GX_MAX_DIMS)
            return gx_infer_fail(c, GX_ERR_SHAPE, op, "input %d has rank %d (must be 0 to %d)",
                             (int)i, (int)t->shape.ndim, GX_MAX_DIMS);
        for (int32_t d = 0; d < t->shape.ndim; d++)
            if (t->shape.dims[d] < 0)
                return gx_infer_fail(c, GX_ERR_SHAPE, op, "input %d has a negative dim: %s", (int)i,
                                 GX_SHAPE(&t->shape));
    }
    return GX_OK;
}

/* Input i must be f32 or f64. `what` names it in the message ("a", "logits"). */
static inline gx_status core_check_float(const gx_infer_ctx *c, const char *op, int32_t i,
                                         const char *what) {
    gx_dtype dt = c->inputs[i].dtype;
    if (!core_dtype_float(dt))
        return gx_infer_fail(c, GX_ERR_DTYPE, op, "%s must be f32 or f64, got %s", what,
                         gx_dtype_name(dt));
    return GX_OK;
}

/* Inputs i and j must have the same dtype: no implicit promotion. */
static inline gx_status core_check_same_dtype(const gx_infer_ctx *c, const char *op, int32_t i,
                                              const char *what_i, int32_t j, const char *what_j) {
    gx_dtype a = c->inputs[i].dtype, b = c->inputs[j].dtype;
    if (a != b)
        return gx_infer_fail(c, GX_ERR_DTYPE, op, "%s and %s must have the same dtype, got %s and %s",
                         what_i, what_j, gx_dtype_name(a), gx_dtype_name(b));
    return GX_OK;
}

/* Attribute k must have type t (the host fills defaults, so only a host bug trips this). */
static inline gx_status core_check_attr(const gx_infer_ctx *c, const char *op, int32_t k,
                                        const char *name, gx_attr_type t) {
    if (c->attrs == NULL || c->attrs[k].type != t)
        return gx_infer_fail(c, GX_ERR_INVALID, op, "attribute %s is missing or has the wrong type",
                         name);
    if (t == GX_ATTR_INTS && (c->attrs[k].n_ints < 0 || c->attrs[k].n_ints > GX_MAX_DIMS))
        return gx_infer_fail(c, GX_ERR_INVALID, op, "attribute %s has %d values (at most %d)", name,
                         (int)c->attrs[k].n_ints, GX_MAX_DIMS);
    return GX_OK;
}

// ---- shapes -------------------------------------------------------------------------------

static inline int core_shape_equal(const gx_shape *a, const gx_shape *b) {
    if (a->ndim != b->ndim) return 0;
    for (int32_t i = 0; i < a->ndim; i++)
        if (a->dims[i] != b->dims[i]) return 0;
    return 1;
}

/* Element count with overflow detection: 0 when the product does not fit in int64. */
static inline int core_numel(const gx_shape *s, int64_t *out) {
    int64_t n = 1;
    for (int32_t i = 0; i < s->ndim; i++) {
        int64_t d = s->dims[i];
        if (d < 0) return 0;
        if (d != 0 && n > INT64_MAX / d) return 0;
        n *= d;
    }
    *out = n;
    return 1;
}

/* NumPy broadcasting of two shapes (aligned on the right, 1 stretches). 0: incompatible. */
static inline int core_broadcast2(const gx_shape *a, const gx_shape *b, gx_shape *out) {
    int32_t n = a->ndim > b->ndim ? a->ndim : b->ndim;
    gx_shape r = {0};
    r.ndim = n;
    for (int32_t i = 0; i < n; i++) {
        int32_t ia = a->ndim - n + i, ib = b->ndim - n + i;
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        if (da == db || db == 1) r.dims[i] = da;
        else if (da == 1) r.dims[i] = db;
        else return 0;
    }
    *out = r;
    return 1;
}

/* Broadcast inputs [first, first + n) of c together into *out; the message lists every shape. */
static inline gx_status core_broadcast_inputs(const gx_infer_ctx *c, const char *op,
                                              int32_t first, int32_t n, gx_shape *out) {
    gx_shape r = c->inputs[first].shape;
    for (int32_t i = first + 1; i < first + n; i++) {
        if (!core_broadcast2(&r, &c->inputs[i].shape, &r)) {
            char list[640];
            size_t len = 0;
            list[0] = '\0';
            for (int32_t k = first; k < first + n && len < sizeof list; k++) {
                int w = snprintf(list + len, sizeof list - len, "%s%s", k > first ? " and " : "",
                                 GX_SHAPE(&c->inputs[k].shape));
                if (w < 0) break;
                len += (size_t)w;
            }
            return gx_infer_fail(c, GX_ERR_SHAPE, op, "shapes do not broadcast: %s", list);
        }
    }
    *out = r;
    return GX_OK;
}

/* Python-style axis normalisation: axis in [-ndim, ndim) becomes [0, ndim). 0: out of range. */
static inline int core_axis(int64_t axis, int32_t ndim, int32_t *out) {
    if (axis < -(int64_t)ndim || axis >= (int64_t)ndim) return 0;
    *out = (int32_t)(axis < 0 ? axis + ndim : axis);
    return 1;
}

/* The same, reporting "axis 3 is out of range for input [2, 3] (rank 2)". `what` names the
 * attribute ("axis", "dim0"). */
static inline gx_status core_infer_axis(const gx_infer_ctx *c, const char *op, const char *what,
                                        int64_t axis, const gx_shape *shape, int32_t *out) {
    if (!core_axis(axis, shape->ndim, out)) {
        if (shape->ndim == 0)
            return gx_infer_fail(c, GX_ERR_SHAPE, op, "%s %lld is out of range: the input is a scalar",
                             what, (long long)axis);
        return gx_infer_fail(c, GX_ERR_SHAPE, op,
                         "%s %lld is out of range for input %s (rank %d: valid %d to %d)", what,
                         (long long)axis, GX_SHAPE(shape), (int)shape->ndim, -(int)shape->ndim,
                         (int)shape->ndim - 1);
    }
    return GX_OK;
}

// ---- VJP building -------------------------------------------------------------------------

static inline gx_status core_info(gx_builder *b, const gx_vjp_args *a, gx_val v,
                                  gx_tensor_info *info) {
    return a->api->value_info(b, v, info);
}

/* A scalar constant; broadcasting stretches it to whatever it meets. */
static inline gx_status core_scalar(gx_builder *b, const gx_vjp_args *a, double value,
                                    gx_dtype dt, gx_val *out) {
    gx_shape scalar = {0};
    return a->api->emit_constant(b, value, dt, &scalar, out);
}

static inline gx_attr_kv core_kv_int(const char *name, int64_t v) {
    gx_attr_kv kv = {.name = name, .value = {.type = GX_ATTR_INT, .i = v}};
    return kv;
}

static inline gx_attr_kv core_kv_ints(const char *name, const int64_t *v, int32_t n) {
    gx_attr_kv kv = {.name = name, .value = {.type = GX_ATTR_INTS}};
    if (n < 0) n = 0;
    if (n > GX_MAX_DIMS) n = GX_MAX_DIMS;
    kv.value.n_ints = n;
    for (int32_t i = 0; i < n; i++) kv.value.ints[i] = v[i];
    return kv;
}

/* A shape as an INTS attribute ("shape" of reshape / broadcast_to). */
static inline gx_attr_kv core_kv_shape(const char *name, const gx_shape *s) {
    return core_kv_ints(name, s->dims, s->ndim);
}

/* One-input, one-output node with attributes. */
static inline gx_status core_emit1a(gx_builder *b, const gx_vjp_args *a, const char *op, gx_val x,
                                    const gx_attr_kv *kv, int32_t n_kv, gx_val *y) {
    return a->api->emit(b, op, &x, 1, kv, n_kv, y, 1);
}

/* reshape(v, shape), or v itself when it already has that shape. */
static inline gx_status core_reshape_to(gx_builder *b, const gx_vjp_args *a, gx_val v,
                                        const gx_shape *shape, gx_val *out) {
    gx_tensor_info info;
    GX_TRY(core_info(b, a, v, &info));
    if (core_shape_equal(&info.shape, shape)) {
        *out = v;
        return GX_OK;
    }
    gx_attr_kv kv = core_kv_shape("shape", shape);
    return core_emit1a(b, a, "reshape", v, &kv, 1, out);
}

/* Report an inconsistency found while building a VJP (the forward node passed infer, so this
 * means the graph changed under us). */
static inline gx_status core_vjp_fail(const gx_vjp_args *a, const char *op, const char *what) {
    return a->api->set_error(a->host, GX_ERR_INVALID, "%s: gradient: %s", op, what);
}

#endif /* GX_OPS_CORE_H */
