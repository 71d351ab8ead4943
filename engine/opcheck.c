/*
 * opcheck.c: the op-level checks (opcheck.h): gradient against central differences, f32
 * against f64, a backend against cpu-scalar, and for cells looped against unrolled, each on
 * one-node graphs made from an op's examples and from random variants of their shapes.
 *
 * It judges ops that may come from any plugin, so everything an op or its example table can
 * get wrong ends as a FAIL result with a message, never as an assert or a crash. The loop check
 * writes .graph source text and lowers it twice (looped, unrolled), so it exercises exactly
 * what a user's loop goes through, for any cell, built-in or not, with no per-op code.
 */
#define _POSIX_C_SOURCE 200809L   /* clock_gettime */
#include "opcheck.h"

#include "autodiff.h"
#include "init.h"
#include "lex.h"
#include "lower.h"
#include "util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* examples larger than this are refused: the gradient check runs two passes per entry */
#define MAX_EXAMPLE_NUMEL (1 << 22)
/* a shape variant's dim drawn as a multiple of another stays at most this */
#define MAX_DERIVED_DIM 64

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* the text of a diag without its "error: " prefix: the table says FAIL already */
static const char *diag_text(const gx_diag *d) {
    if (d->status == GX_OK) return "failed (no message)";
    const char *p = strstr(d->msg, "error: ");
    return p ? p + 7 : d->msg;
}

// ---- results --------------------------------------------------------------------------------

void gx_check_opts_default(gx_check_opts *o) {
    memset(o, 0, sizeof *o);
    o->seed = 42;
    o->n_shapes = 2;
    o->reference = 1;
}

void gx_check_report_free(gx_check_report *r) {
    gx_free(r->results);
    memset(r, 0, sizeof *r);
}

int32_t gx_check_report_count(const gx_check_report *r, gx_check_status s) {
    int32_t n = 0;
    for (int32_t i = 0; i < r->n; i++) n += r->results[i].status == s;
    return n;
}

const char *gx_check_kind_name(gx_check_kind k) {
    switch (k) {
    case GX_CHECK_GRAD: return "grad";
    case GX_CHECK_F32: return "f32";
    case GX_CHECK_BACKEND: return "backend";
    case GX_CHECK_LOOP: return "loop";
    case GX_CHECK_SHAPES: return "shapes";
    case GX_CHECK_SCHEMA: return "schema";
    }
    return "?";
}

const char *gx_check_status_name(gx_check_status s) {
    return s == GX_CHECK_PASS ? "PASS" : s == GX_CHECK_FAIL ? "FAIL" : "SKIP";
}

/* one case being checked: what every check of it needs */
typedef struct ccase {
    gx_registry         *reg;
    const gx_op         *op;
    const gx_op_example *ex;
    const char          *name;
    int32_t              variant;
    const gx_check_opts *o;
    gx_check_report     *rep;
    uint64_t             seed;     /* the case's data: the same for every check and backend */
} ccase;

static void result_init(const ccase *c, gx_check_result *r, gx_check_kind kind,
                        const char *backend) {
    memset(r, 0, sizeof *r);
    r->kind = kind;
    r->status = GX_CHECK_PASS;
    snprintf(r->op, sizeof r->op, "%s", c->op->name);
    snprintf(r->case_name, sizeof r->case_name, "%s", c->name ? c->name : "-");
    snprintf(r->backend, sizeof r->backend, "%s", backend ? backend : "-");
    r->variant = c->variant;
    r->seconds = now_s();   /* the start, until push turns it into a duration */
}

static void result_set(gx_check_result *r, gx_check_status st, const char *fmt, ...)
    GX_PRINTF(3, 4);
static void result_set(gx_check_result *r, gx_check_status st, const char *fmt, ...) {
    r->status = st;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->msg, sizeof r->msg, fmt, ap);
    va_end(ap);
}

static gx_status push(const ccase *c, gx_check_result *r) {
    gx_check_report *rep = c->rep;
    r->seconds = now_s() - r->seconds;
    gx_check_result *rs = gx_grow(rep->results, &rep->cap, rep->n + 1, sizeof *rs);
    if (rs == NULL) return GX_ERR_NOMEM;
    rep->results = rs;
    rs[rep->n++] = *r;
    return GX_OK;
}

// ---- examples and one-node graphs -----------------------------------------------------------

static int dtype_ok(gx_dtype dt) {
    return dt == GX_DTYPE_F32 || dt == GX_DTYPE_F64 || dt == GX_DTYPE_I32;
}

gx_status gx_check_example_valid(const gx_op_example *ex, gx_diag *d) {
    if (ex->n_inputs < 0 || ex->n_inputs > GX_MAX_EXAMPLE_INPUTS)
        return gx_diag_set(d, GX_ERR_INVALID, "example '%s' has %d inputs (0 to %d allowed)",
                           ex->name, (int)ex->n_inputs, GX_MAX_EXAMPLE_INPUTS);
    if (ex->n_attrs < 0 || ex->n_attrs > GX_MAX_EXAMPLE_ATTRS)
        return gx_diag_set(d, GX_ERR_INVALID, "example '%s' sets %d attributes (0 to %d allowed)",
                           ex->name, (int)ex->n_attrs, GX_MAX_EXAMPLE_ATTRS);
    for (int32_t k = 0; k < ex->n_attrs; k++)
        if (ex->attrs[k].name == NULL)
            return gx_diag_set(d, GX_ERR_INVALID, "example '%s': attribute %d has no name",
                               ex->name, (int)k);
    for (int32_t i = 0; i < ex->n_inputs; i++) {
        const gx_example_input *in = &ex->inputs[i];
        if (!dtype_ok(in->dtype))
            return gx_diag_set(d, GX_ERR_INVALID, "example '%s': input %d has no valid dtype",
                               ex->name, (int)i);
        if (in->ndim < 0 || in->ndim > GX_MAX_DIMS)
            return gx_diag_set(d, GX_ERR_INVALID, "example '%s': input %d has rank %d",
                               ex->name, (int)i, (int)in->ndim);
        int64_t n = 1;
        for (int32_t k = 0; k < in->ndim; k++) {
            if (in->dims[k] < 0 || in->dims[k] > MAX_EXAMPLE_NUMEL ||
                (in->dims[k] > 0 && n > MAX_EXAMPLE_NUMEL / in->dims[k]))
                return gx_diag_set(d, GX_ERR_INVALID, "example '%s': input %d is too large or "
                                   "has a negative dim", ex->name, (int)i);
            n *= in->dims[k];
        }
        if (!isfinite(in->lo) || !isfinite(in->hi) || in->lo > in->hi)
            return gx_diag_set(d, GX_ERR_INVALID, "example '%s': input %d has the range "
                               "[%g, %g]", ex->name, (int)i, in->lo, in->hi);
        if (in->dtype == GX_DTYPE_I32 && (in->lo < -2147483648.0 || in->hi > 2147483647.0 ||
                                          floor(in->hi) < in->lo))
            return gx_diag_set(d, GX_ERR_INVALID, "example '%s': input %d (i32) has the range "
                               "[%g, %g]", ex->name, (int)i, in->lo, in->hi);
        /* some x in [lo, hi] must have |x| >= min_abs, or drawing would never end */
        if (in->dtype != GX_DTYPE_I32 &&
            (!isfinite(in->min_abs) || (in->hi < in->min_abs && in->lo > -in->min_abs)))
            return gx_diag_set(d, GX_ERR_INVALID, "example '%s': input %d has no value in "
                               "[%g, %g] with |x| >= %g", ex->name, (int)i, in->lo, in->hi,
                               in->min_abs);
    }
    return GX_OK;
}

int gx_check_differentiable(const gx_op *op) {
    return op->desc.vjp != NULL || (op->desc.decompose != NULL && op->desc.grad_exempt == NULL);
}

int gx_check_is_cell(const gx_op *op) { return op->desc.recurrent_inputs != 0; }

void gx_check_graph_free(gx_check_graph *cg) {
    gx_graph_free(cg->g);
    cg->g = NULL;
}

gx_status gx_check_build(gx_registry *reg, const gx_op *op, const gx_op_example *ex,
                         gx_dtype floats, int with_vjp, gx_check_graph *cg, gx_diag *d) {
    memset(cg, 0, sizeof *cg);
    cg->loss = GX_VAL_NONE;
    gx_status st = gx_check_example_valid(ex, d);
    if (st != GX_OK) return st;
    cg->g = gx_graph_new(reg);
    if (cg->g == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    gx_srcpos pos = {NULL, 0, 0};
    for (int32_t i = 0; i < ex->n_inputs && st == GX_OK; i++) {
        gx_tensor_info info = {.dtype = ex->inputs[i].dtype == GX_DTYPE_I32 ? GX_DTYPE_I32
                                                                             : floats};
        info.shape.ndim = ex->inputs[i].ndim;
        memcpy(info.shape.dims, ex->inputs[i].dims, sizeof info.shape.dims);
        char name[16];
        snprintf(name, sizeof name, "x%d", (int)i);
        st = gx_graph_add_input(cg->g, name, info, pos, &cg->in[i], d);
    }
    cg->n_in = ex->n_inputs;
    gx_builder bld = {.g = cg->g, .diag = d, .pos = pos};
    gx_attr_value attrs[64];
    if (st == GX_OK) st = gx_attrs_resolve(cg->g, op, ex->attrs, ex->n_attrs, attrs, pos, d);
    if (st == GX_OK)
        st = gx_graph_add_node(cg->g, op, cg->in, ex->n_inputs, attrs, pos, 0, cg->out,
                               GX_CHECK_MAX_OUT, &cg->n_out, d);
    gx_val total = GX_VAL_NONE;
    for (int32_t j = 0; j < cg->n_out && st == GX_OK && with_vjp; j++) {
        gx_tensor_info oi = cg->g->values[cg->out[j]].info;
        if (oi.dtype == GX_DTYPE_I32) continue;
        char name[16];
        snprintf(name, sizeof name, "r%d", (int)j);
        gx_val r, prod, s;
        st = gx_graph_add_input(cg->g, name, oi, pos, &r, d);
        if (st == GX_OK) st = gx_emit2(gx_registry_api(), &bld, "mul", cg->out[j], r, &prod);
        if (st == GX_OK) st = gx_emit1(gx_registry_api(), &bld, "sum", prod, &s);
        if (st == GX_OK && total != GX_VAL_NONE)
            st = gx_emit2(gx_registry_api(), &bld, "add", total, s, &s);
        total = s;
    }
    if (st == GX_OK && total != GX_VAL_NONE) st = gx_graph_add_output(cg->g, "loss", total, pos, d);
    for (int32_t j = 0; j < cg->n_out && st == GX_OK; j++) {
        char name[16];
        snprintf(name, sizeof name, "y%d", (int)j);
        st = gx_graph_add_output(cg->g, name, cg->out[j], pos, d);
    }
    if (st == GX_OK && total != GX_VAL_NONE) {
        st = gx_autodiff(cg->g, total, d);
        cg->loss = total;
    }
    return st;
}

// ---- data -----------------------------------------------------------------------------------

static const gx_example_input uniform_pm1 = {.dtype = GX_DTYPE_F64, .lo = -1, .hi = 1};

/* n values of spec `in` (validated: lo <= hi, and [lo, hi] has values with |x| >= min_abs) */
static void draw(const gx_example_input *in, gx_rng *r, double *out, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        if (in->dtype == GX_DTYPE_I32) {
            int64_t lo = (int64_t)ceil(in->lo), hi = (int64_t)floor(in->hi);
            out[i] = (double)(lo + (int64_t)(gx_rng_uniform(r) * (double)(hi - lo + 1)));
            continue;
        }
        double x = in->lo;
        /* rejection keeps values away from a kink; a sliver of an interval could take long,
         * so after many tries take the end of the interval farthest from 0 */
        int tries = 0;
        do x = in->lo + (in->hi - in->lo) * gx_rng_uniform(r);
        while (fabs(x) < in->min_abs && ++tries < 10000);
        if (fabs(x) < in->min_abs) x = fabs(in->hi) >= fabs(in->lo) ? in->hi : in->lo;
        out[i] = x;
    }
}

void gx_check_data_free(gx_check_data *dt) {
    for (int32_t i = 0; i < dt->n && dt->v; i++) gx_free(dt->v[i]);
    gx_free(dt->v);
    gx_free(dt->len);
    memset(dt, 0, sizeof *dt);
}

/* room for n inputs, each len[i] doubles (zeros) */
static gx_status data_alloc(gx_check_data *dt, int32_t n, const int64_t *len, gx_diag *d) {
    memset(dt, 0, sizeof *dt);
    dt->v = gx_calloc((size_t)n + 1, sizeof *dt->v);
    dt->len = gx_calloc((size_t)n + 1, sizeof *dt->len);
    if (dt->v == NULL || dt->len == NULL) {
        gx_check_data_free(dt);
        return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    }
    dt->n = n;
    for (int32_t i = 0; i < n; i++) {
        dt->len[i] = len[i];
        dt->v[i] = gx_calloc((size_t)(len[i] ? len[i] : 1), sizeof(double));
        if (dt->v[i] == NULL) {
            gx_check_data_free(dt);
            return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
        }
    }
    return GX_OK;
}

/* zeroed data for every input of g */
static gx_status data_for_inputs(const gx_graph *g, gx_check_data *dt, gx_diag *d) {
    int64_t *len = gx_calloc((size_t)g->n_inputs + 1, sizeof *len);
    if (len == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    for (int32_t i = 0; i < g->n_inputs; i++)
        len[i] = gx_shape_numel(&g->values[g->inputs[i].val].info.shape);
    gx_status st = data_alloc(dt, g->n_inputs, len, d);
    gx_free(len);
    return st;
}

gx_status gx_check_data_draw(const gx_graph *g, const gx_op_example *ex, uint64_t seed,
                             gx_check_data *dt, gx_diag *d) {
    gx_status st = data_for_inputs(g, dt, d);
    if (st != GX_OK) return st;
    gx_rng rng;
    gx_rng_seed(&rng, seed);
    for (int32_t i = 0; i < dt->n; i++)
        draw(i < ex->n_inputs ? &ex->inputs[i] : &uniform_pm1, &rng, dt->v[i], dt->len[i]);
    return GX_OK;
}

gx_status gx_check_write(gx_exec *e, const gx_graph *g, gx_val v, const double *x, gx_diag *d) {
    const gx_tensor_info *info = &g->values[v].info;
    int64_t n = gx_shape_numel(&info->shape);
    size_t bytes = (size_t)n * gx_dtype_size(info->dtype);
    void *buf = gx_malloc(bytes ? bytes : 1);
    if (buf == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < n; i++) {
        if (info->dtype == GX_DTYPE_F64) ((double *)buf)[i] = x[i];
        else if (info->dtype == GX_DTYPE_F32) ((float *)buf)[i] = (float)x[i];
        else ((int32_t *)buf)[i] = (int32_t)x[i];
    }
    gx_status st = gx_exec_write(e, v, buf, bytes, d);
    gx_free(buf);
    return st;
}

gx_status gx_check_feed(gx_exec *e, const gx_graph *g, const gx_check_data *dt, gx_diag *d) {
    gx_status st = GX_OK;
    for (int32_t i = 0; i < g->n_inputs && i < dt->n && st == GX_OK; i++)
        st = gx_check_write(e, g, g->inputs[i].val, dt->v[i], d);
    return st;
}

gx_status gx_check_read(gx_exec *e, const gx_graph *g, gx_val v, double **out, int64_t *n,
                        gx_diag *d) {
    const gx_tensor_info *info = &g->values[v].info;
    *n = gx_shape_numel(&info->shape);
    size_t bytes = (size_t)*n * gx_dtype_size(info->dtype);
    void *buf = gx_malloc(bytes ? bytes : 1);
    double *x = gx_calloc((size_t)(*n ? *n : 1), sizeof(double));
    *out = NULL;
    if (buf == NULL || x == NULL) {
        gx_free(buf);
        gx_free(x);
        return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    }
    gx_status st = gx_exec_read(e, v, buf, bytes, d);
    for (int64_t i = 0; i < *n && st == GX_OK; i++)
        x[i] = info->dtype == GX_DTYPE_F64   ? ((double *)buf)[i]
               : info->dtype == GX_DTYPE_F32 ? (double)((float *)buf)[i]
                                             : (double)((int32_t *)buf)[i];
    gx_free(buf);
    if (st != GX_OK) {
        gx_free(x);
        return st;
    }
    *out = x;
    return GX_OK;
}

const char *gx_check_missing_kernel(const gx_graph *g, const char *backend) {
    for (int32_t n = 0; n < g->n_nodes; n++) {
        const gx_node *nd = &g->nodes[n];
        if (nd->loop) {
            const char *m = gx_check_missing_kernel(nd->loop->body, backend);
            if (m) return m;
            continue;
        }
        gx_dtype dt = g->values[nd->out[0]].info.dtype;
        if (dt == GX_DTYPE_F32 && gx_registry_find_kernel(g->reg, nd->op->name, GX_CHECK_REF, dt) &&
            !gx_registry_find_kernel(g->reg, nd->op->name, backend, dt))
            return nd->op->name;
    }
    return NULL;
}

/* The first node (loop bodies included) with no kernel of its output dtype on `backend`. */
static const char *node_without_kernel(const gx_graph *g, const char *backend, gx_dtype only) {
    for (int32_t n = 0; n < g->n_nodes; n++) {
        const gx_node *nd = &g->nodes[n];
        if (nd->loop) {
            const char *m = node_without_kernel(nd->loop->body, backend, only);
            if (m) return m;
            continue;
        }
        gx_dtype dt = g->values[nd->out[0]].info.dtype;
        if (dt == only && !gx_registry_find_kernel(g->reg, nd->op->name, backend, dt))
            return nd->op->name;
    }
    return NULL;
}

// ---- comparisons ----------------------------------------------------------------------------

typedef enum cmp_mode {
    CMP_SCALED,    /* |a - b| / max(|a|, 1) <= tol          (f32 vs f64, looped vs unrolled) */
    CMP_ABS_REL    /* |a - b| <= tol + rel_tol |a|           (backend vs cpu-scalar)          */
} cmp_mode;

/* Every output of graph ga (run by ea, called a_name in messages) against the output of gb
 * (b_name) with the same name; `shown` (may be NULL) turns an output's name into what a
 * message calls it. Tracks the worst error in r; at the first entry out of tolerance sets r
 * FAIL with a message and *bad. A status other than OK: out of memory or a read error (in d). */
typedef const char *(*name_fn)(const char *name, char *buf, size_t size);

static const char *quoted(const char *name, char *buf, size_t size) {
    snprintf(buf, size, "'%s'", name);
    return buf;
}

static gx_status compare_outputs(const gx_graph *ga, gx_exec *ea, const char *a_name,
                                 const gx_graph *gb, gx_exec *eb, const char *b_name,
                                 cmp_mode mode, name_fn shown, gx_check_result *r, int *bad,
                                 gx_diag *d) {
    *bad = 0;
    for (int32_t o = 0; o < ga->n_outputs && !*bad; o++) {
        const char *name = ga->outputs[o].name;
        int32_t ob = gx_graph_find_output(gb, name);
        if (ob < 0) {
            result_set(r, GX_CHECK_FAIL, "output '%s' is missing", name);
            *bad = 1;
            break;
        }
        double *x = NULL, *y = NULL;
        int64_t n = 0, n2 = 0;
        gx_status st = gx_check_read(ea, ga, ga->outputs[o].val, &x, &n, d);
        if (st == GX_OK) st = gx_check_read(eb, gb, gb->outputs[ob].val, &y, &n2, d);
        if (st != GX_OK) {
            gx_free(x);
            return st;
        }
        if (n != n2) {
            result_set(r, GX_CHECK_FAIL, "output '%s' has %lld entries, not %lld", name,
                       (long long)n2, (long long)n);
            *bad = 1;
        }
        for (int64_t k = 0; k < n && !*bad; k++) {
            double diff = fabs(x[k] - y[k]);
            double err = mode == CMP_SCALED ? diff / fmax(fabs(x[k]), 1.0) : diff;
            double lim = mode == CMP_SCALED ? r->tol : r->tol + r->rel_tol * fabs(x[k]);
            r->n_checked++;
            if (!(diff == diff) || !(err <= lim)) {   /* NaN fails too */
                char buf[128];
                const char *what = (shown ? shown : quoted)(name, buf, sizeof buf);
                result_set(r, GX_CHECK_FAIL,
                           "%s %s[%lld] = %.9g, %s gives %.9g (error %.3g > %.3g)", b_name, what,
                           (long long)k, y[k], a_name, x[k], err, lim);
                r->err = fmax(r->err, err);
                *bad = 1;
                break;
            }
            r->err = fmax(r->err, err);
            if (lim > 0) r->ratio = fmax(r->ratio, err / lim);
        }
        gx_free(x);
        gx_free(y);
    }
    if (*bad && r->tol > 0 && mode == CMP_SCALED) r->ratio = fmax(r->ratio, r->err / r->tol);
    return GX_OK;
}

static gx_status run_plan(gx_exec *e, const gx_graph *g, const gx_check_data *dt, gx_diag *d) {
    gx_status st = gx_check_feed(e, g, dt, d);
    if (st == GX_OK) st = gx_exec_run(e, d);
    return st;
}

// ---- grad and f32 (cpu-scalar) --------------------------------------------------------------

/* Central differences of the loss for every entry of every differentiable float input,
 * against the analytic gradients (read from `full`, which ran on dt unperturbed). */
static gx_status grad_check(const ccase *c, gx_check_graph *cg, gx_exec *full,
                            gx_check_data *dt, gx_check_result *r, gx_diag *d) {
    gx_exec *fwd = NULL;
    gx_status st = gx_exec_new(cg->g, GX_CHECK_REF, &cg->loss, 1, &fwd, d);
    if (st == GX_OK) st = gx_check_feed(fwd, cg->g, dt, d);
    if (st != GX_OK) {
        result_set(r, GX_CHECK_FAIL, "planning the loss: %s", diag_text(d));
        gx_exec_free(fwd);
        return st == GX_ERR_NOMEM ? st : GX_OK;
    }
    uint32_t nodiff = c->op->desc.nodiff_inputs;
    for (int32_t i = 0; i < cg->n_in && r->status == GX_CHECK_PASS; i++) {
        if (c->ex->inputs[i].dtype == GX_DTYPE_I32 || (i < 32 && ((nodiff >> i) & 1u))) continue;
        char gname[32];
        snprintf(gname, sizeof gname, "grad.x%d", (int)i);
        int32_t go = gx_graph_find_output(cg->g, gname);
        if (go < 0) {
            result_set(r, GX_CHECK_FAIL, "autodiff gave no gradient for input %d", (int)i);
            break;
        }
        double *ana = NULL;
        int64_t n = 0;
        st = gx_check_read(full, cg->g, cg->g->outputs[go].val, &ana, &n, d);
        if (st != GX_OK) break;
        gx_val xv = cg->in[i];
        double *x = dt->v[i];
        for (int64_t k = 0; k < n && k < dt->len[i] && st == GX_OK; k++) {
            double keep = x[k], lp = 0, lm = 0;
            x[k] = keep + GX_CHECK_FD_EPS;
            st = gx_check_write(fwd, cg->g, xv, x, d);
            if (st == GX_OK) st = gx_exec_run(fwd, d);
            if (st == GX_OK) st = gx_exec_read(fwd, cg->loss, &lp, sizeof lp, d);
            x[k] = keep - GX_CHECK_FD_EPS;
            if (st == GX_OK) st = gx_check_write(fwd, cg->g, xv, x, d);
            if (st == GX_OK) st = gx_exec_run(fwd, d);
            if (st == GX_OK) st = gx_exec_read(fwd, cg->loss, &lm, sizeof lm, d);
            x[k] = keep;
            if (st != GX_OK) break;
            double num = (lp - lm) / (2 * GX_CHECK_FD_EPS), a = ana[k];
            double err = fabs(a - num) / fmax(fmax(fabs(a), fabs(num)), 1e-3);
            r->n_checked++;
            if (!(err <= r->tol)) {
                r->err = fmax(r->err, err);
                result_set(r, GX_CHECK_FAIL, "d loss / d x%d[%lld]: analytic %.12g, numeric %.12g "
                           "(relative error %.3g > %.1g)", (int)i, (long long)k, a, num, err,
                           r->tol);
                break;
            }
            r->err = fmax(r->err, err);
        }
        if (st == GX_OK) st = gx_check_write(fwd, cg->g, xv, x, d);
        gx_free(ana);
    }
    r->ratio = r->err / r->tol;
    gx_exec_free(fwd);
    if (st != GX_OK && st != GX_ERR_NOMEM) {
        result_set(r, GX_CHECK_FAIL, "%s", diag_text(d));
        st = GX_OK;
    }
    return st;
}

/* grad (unless exempt) and f32, both from one f64 run */
static gx_status check_reference(const ccase *c) {
    const gx_op *op = c->op;
    int with_vjp = gx_check_differentiable(op);
    int do_grad = with_vjp && op->desc.grad_exempt == NULL;
    gx_check_result rg, rf;
    result_init(c, &rg, GX_CHECK_GRAD, GX_CHECK_REF);
    rg.tol = GX_CHECK_GRAD_TOL;
    if (op->desc.grad_exempt) result_set(&rg, GX_CHECK_SKIP, "exempt: %s", op->desc.grad_exempt);
    result_init(c, &rf, GX_CHECK_F32, GX_CHECK_REF);
    rf.tol = GX_CHECK_F32_TOL;
    gx_diag d;
    gx_diag_init(&d);
    gx_check_graph b64 = {0}, b32 = {0};
    gx_exec *e64 = NULL, *e32 = NULL;
    gx_check_data dt = {0};
    gx_status st = gx_check_build(c->reg, op, c->ex, GX_DTYPE_F64, with_vjp, &b64, &d);
    const char *stage = "building the f64 graph";
    if (st == GX_OK && with_vjp && b64.loss == GX_VAL_NONE) {
        st = gx_diag_set(&d, GX_ERR_INVALID, "the example has no float output to differentiate");
    }
    if (st == GX_OK) {
        stage = "planning on cpu-scalar (f64)";
        const char *m = node_without_kernel(b64.g, GX_CHECK_REF, GX_DTYPE_F64);
        if (m) st = gx_diag_set(&d, GX_ERR_UNSUPPORTED, "op '%s' has no f64 kernel on cpu-scalar "
                                "(the gradient check runs in f64)", m);
    }
    if (st == GX_OK) st = gx_exec_new(b64.g, GX_CHECK_REF, NULL, 0, &e64, &d);
    if (st == GX_OK) st = gx_check_data_draw(b64.g, c->ex, c->seed, &dt, &d);
    if (st == GX_OK) {
        stage = "running on cpu-scalar (f64)";
        st = run_plan(e64, b64.g, &dt, &d);
    }
    if (st != GX_OK) {
        /* nothing to compare: one row says why */
        gx_check_result *r = do_grad ? &rg : &rf;
        result_set(r, GX_CHECK_FAIL, "%s: %s", stage, diag_text(&d));
        if (st != GX_ERR_NOMEM) st = push(c, r);
        goto out;
    }
    if (do_grad) st = grad_check(c, &b64, e64, &dt, &rg, &d);
    if (st == GX_OK) st = push(c, &rg);
    if (st != GX_OK) goto out;
    rf.seconds = now_s();   /* the f64 run counted for grad; f32's time starts here */

    gx_diag_init(&d);
    st = gx_check_build(c->reg, op, c->ex, GX_DTYPE_F32, with_vjp, &b32, &d);
    const char *m = st == GX_OK ? node_without_kernel(b32.g, GX_CHECK_REF, GX_DTYPE_F32) : NULL;
    if (st != GX_OK) {
        result_set(&rf, GX_CHECK_FAIL, "building the f32 graph: %s", diag_text(&d));
    } else if (m) {
        result_set(&rf, GX_CHECK_SKIP, "op '%s' has no f32 kernel on cpu-scalar", m);
    } else if ((st = gx_exec_new(b32.g, GX_CHECK_REF, NULL, 0, &e32, &d)) != GX_OK ||
               (st = run_plan(e32, b32.g, &dt, &d)) != GX_OK) {
        result_set(&rf, GX_CHECK_FAIL, "f32 on cpu-scalar: %s", diag_text(&d));
    } else {
        int bad;
        st = compare_outputs(b64.g, e64, "f64", b32.g, e32, "f32", CMP_SCALED, NULL, &rf, &bad,
                             &d);
        if (st != GX_OK && st != GX_ERR_NOMEM)
            result_set(&rf, GX_CHECK_FAIL, "reading back: %s", diag_text(&d));
    }
    if (st == GX_ERR_NOMEM) goto out;
    st = push(c, &rf);
out:
    gx_exec_free(e32);
    gx_exec_free(e64);
    gx_check_graph_free(&b32);
    gx_check_graph_free(&b64);
    gx_check_data_free(&dt);
    return st;
}

// ---- a backend against cpu-scalar -----------------------------------------------------------

static gx_status check_backend(const ccase *c, const char *backend) {
    gx_check_result r;
    result_init(c, &r, GX_CHECK_BACKEND, backend);
    r.tol = GX_CHECK_ABS_TOL;
    r.rel_tol = GX_CHECK_REL_TOL;
    gx_diag d;
    gx_diag_init(&d);
    gx_check_graph b = {0};
    gx_exec *ref = NULL, *got = NULL;
    gx_check_data dt = {0};
    gx_status st = gx_check_build(c->reg, c->op, c->ex, GX_DTYPE_F32,
                                  gx_check_differentiable(c->op), &b, &d);
    const char *missing = NULL;
    if (st != GX_OK) {
        result_set(&r, GX_CHECK_FAIL, "building the f32 graph: %s", diag_text(&d));
    } else if ((missing = node_without_kernel(b.g, GX_CHECK_REF, GX_DTYPE_F32)) != NULL) {
        result_set(&r, GX_CHECK_SKIP, "op '%s' has no f32 kernel on cpu-scalar to compare with",
                   missing);
    } else if ((missing = gx_check_missing_kernel(b.g, backend)) != NULL) {
        result_set(&r, c->o->missing_kernel_fails ? GX_CHECK_FAIL : GX_CHECK_SKIP,
                   "no f32 kernel for op '%s' on %s (cpu-scalar has one)", missing, backend);
    } else if ((st = gx_check_data_draw(b.g, c->ex, c->seed, &dt, &d)) != GX_OK) {
        result_set(&r, GX_CHECK_FAIL, "%s", diag_text(&d));
    } else if ((st = gx_exec_new(b.g, GX_CHECK_REF, NULL, 0, &ref, &d)) != GX_OK ||
               (st = run_plan(ref, b.g, &dt, &d)) != GX_OK) {
        result_set(&r, GX_CHECK_FAIL, "on cpu-scalar: %s", diag_text(&d));
    } else if ((st = gx_exec_new(b.g, backend, NULL, 0, &got, &d)) != GX_OK ||
               (st = run_plan(got, b.g, &dt, &d)) != GX_OK) {
        result_set(&r, GX_CHECK_FAIL, "on %s: %s", backend, diag_text(&d));
    } else {
        int bad;
        st = compare_outputs(b.g, ref, GX_CHECK_REF, b.g, got, backend, CMP_ABS_REL, NULL, &r,
                             &bad, &d);
        if (st != GX_OK && st != GX_ERR_NOMEM)
            result_set(&r, GX_CHECK_FAIL, "reading back: %s", diag_text(&d));
    }
    gx_exec_free(got);
    gx_exec_free(ref);
    gx_check_graph_free(&b);
    gx_check_data_free(&dt);
    if (st == GX_ERR_NOMEM) return st;
    return push(c, &r);
}

// ---- cells: looped against unrolled ---------------------------------------------------------

typedef struct sbuf {
    char  *s;
    size_t n, cap;
    int    oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) GX_PRINTF(2, 3);
static void sb_printf(sbuf *b, const char *fmt, ...) {
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) {
            b->oom = 1;
            return;
        }
        if (b->s && b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return;
        }
        size_t cap = (b->cap ? b->cap * 2 : 1024) + (size_t)k;
        char *s = gx_realloc(b->s, cap);
        if (s == NULL) {
            b->oom = 1;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
}

static void sb_shape(sbuf *b, gx_dtype dt, int64_t lead, const int64_t *dims, int32_t ndim) {
    sb_printf(b, "%s[", gx_dtype_name(dt));
    if (lead >= 0) sb_printf(b, "%lld%s", (long long)lead, ndim ? ", " : "");
    for (int32_t k = 0; k < ndim; k++) sb_printf(b, "%s%lld", k ? ", " : "", (long long)dims[k]);
    sb_printf(b, "]");
}

/* An attribute value as .graph text; 0 when it has none (a NaN, a control character). */
static int sb_attr(sbuf *b, const gx_attr_value *v) {
    switch (v->type) {
    case GX_ATTR_INT: sb_printf(b, "%lld", (long long)v->i); return 1;
    case GX_ATTR_FLOAT:
        if (!isfinite(v->f)) return 0;
        sb_printf(b, "%.17g", v->f);
        return 1;
    case GX_ATTR_INTS:
        if (v->n_ints < 0 || v->n_ints > GX_MAX_DIMS) return 0;
        sb_printf(b, "[");
        for (int32_t k = 0; k < v->n_ints; k++)
            sb_printf(b, "%s%lld", k ? ", " : "", (long long)v->ints[k]);
        sb_printf(b, "]");
        return 1;
    case GX_ATTR_STRING:
        sb_printf(b, "\"");
        for (const char *p = v->s ? v->s : ""; *p; p++) {
            unsigned char ch = (unsigned char)*p;
            if (ch == '"' || ch == '\\') sb_printf(b, "\\%c", ch);
            else if (ch == '\n') sb_printf(b, "\\n");
            else if (ch == '\t') sb_printf(b, "\\t");
            else if (ch < 0x20 || ch == 0x7F) return 0;
            else sb_printf(b, "%c", ch);
        }
        sb_printf(b, "\"");
        return 1;
    case GX_ATTR_DTYPE:
        if (!dtype_ok((gx_dtype)v->i)) return 0;
        sb_printf(b, "%s", gx_dtype_name((gx_dtype)v->i));
        return 1;
    case GX_ATTR_NONE: break;
    }
    return 0;
}

/* an op name a .graph file can call: an identifier that is not a keyword */
static int callable_name(const char *s) {
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_')) return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' ||
              (*p >= '0' && *p <= '9')))
            return 0;
    for (int k = GX_KW_GRAPH; k <= GX_KW_IMPORT; k++)
        if (strcmp(gx_keyword_name((gx_keyword)k), s) == 0) return 0;
    return 1;
}

static int same_info(const gx_tensor_info *a, const gx_tensor_info *b) {
    if (a->dtype != b->dtype || a->shape.ndim != b->shape.ndim) return 0;
    for (int32_t k = 0; k < a->shape.ndim; k++)
        if (a->shape.dims[k] != b->shape.dims[k]) return 0;
    return 1;
}

/* What the loop graph declares: per example input, whether it is the sequence (0), a carry
 * (the output that feeds it) or an invariant; per output, the input it is carried into. */
typedef struct loop_plan {
    int32_t n_in, n_out;
    int32_t carried_from[GX_MAX_EXAMPLE_INPUTS];   /* output index, or -1            */
    int32_t carried_to[GX_CHECK_MAX_OUT];          /* input index, or -1             */
    int32_t random_key;                            /* GX_OP_RANDOM: the key input, else -1 */
} loop_plan;

/*
 * The loop graph: input 0 becomes a sequence of T steps (on axis 0), output j is carried back
 * into the first input (index >= 1) not yet taken whose type is output j's, every other input
 * is an invariant. Output 0 is yielded (stacked per step); for a differentiable op, loss = sum
 * over the float results (stacked yield, final carries) of sum(result * R), R random inputs.
 * 0 when an attribute cannot be written as .graph text.
 */
static int loop_text(const gx_op *op, const gx_op_example *ex, const gx_check_graph *cg,
                     int with_loss, loop_plan *lp, sbuf *b) {
    const gx_graph *g = cg->g;
    lp->n_in = cg->n_in;
    lp->n_out = cg->n_out;
    lp->random_key = (op->desc.flags & GX_OP_RANDOM) && cg->n_in > 0 ? cg->n_in - 1 : -1;
    for (int32_t i = 0; i < lp->n_in; i++) lp->carried_from[i] = -1;
    for (int32_t j = 0; j < lp->n_out; j++) {
        lp->carried_to[j] = -1;
        const gx_tensor_info *oi = &g->values[cg->out[j]].info;
        for (int32_t i = 1; i < lp->n_in; i++)
            if (lp->carried_from[i] < 0 && i != lp->random_key &&
                same_info(oi, &g->values[cg->in[i]].info)) {
                lp->carried_from[i] = j;
                lp->carried_to[j] = i;
                break;
            }
    }
    const int64_t T = GX_CHECK_LOOP_STEPS;
    const gx_tensor_info *x0 = &g->values[cg->in[0]].info;
    sb_printf(b, "graph check_loop\ninput oc_s : ");
    sb_shape(b, x0->dtype, T, x0->shape.dims, x0->shape.ndim);
    sb_printf(b, "\n");
    for (int32_t i = 1; i < lp->n_in; i++) {
        if (i == lp->random_key) continue;   /* the engine adds it (gx.rng) */
        const gx_tensor_info *ii = &g->values[cg->in[i]].info;
        sb_printf(b, "input oc_i%d : ", (int)i);
        sb_shape(b, ii->dtype, -1, ii->shape.dims, ii->shape.ndim);
        sb_printf(b, "\n");
    }
    /* the loss's weights: one for the stacked yield, one per final carry */
    const gx_tensor_info *y0 = &g->values[cg->out[0]].info;
    /* no loss for an op nothing differentiates: the loop check is then forward only */
    int any_float = with_loss && y0->dtype != GX_DTYPE_I32;
    if (any_float) {
        sb_printf(b, "input oc_r0 : ");
        sb_shape(b, y0->dtype, T, y0->shape.dims, y0->shape.ndim);
        sb_printf(b, "\n");
    }
    for (int32_t j = 0; j < lp->n_out; j++) {
        const gx_tensor_info *oi = &g->values[cg->out[j]].info;
        if (!with_loss || lp->carried_to[j] < 0 || oi->dtype == GX_DTYPE_I32) continue;
        any_float = 1;
        sb_printf(b, "input oc_q%d : ", (int)j);
        sb_shape(b, oi->dtype, -1, oi->shape.dims, oi->shape.ndim);
        sb_printf(b, "\n");
    }
    /* results: the stacked yield, then the final carries in input order */
    sb_printf(b, "oc_y");
    for (int32_t i = 1; i < lp->n_in; i++)
        if (lp->carried_from[i] >= 0) sb_printf(b, ", oc_f%d", (int)i);
    sb_printf(b, " = loop oc_t over oc_s axis 0");
    int first = 1;
    for (int32_t i = 1; i < lp->n_in; i++) {
        if (lp->carried_from[i] < 0) continue;
        sb_printf(b, "%soc_c%d = oc_i%d", first ? " carry (" : ", ", (int)i, (int)i);
        first = 0;
    }
    sb_printf(b, "%s {\n    ", first ? "" : ")");
    for (int32_t j = 0; j < lp->n_out; j++) {
        if (lp->carried_to[j] >= 0) sb_printf(b, "%soc_c%d", j ? ", " : "", (int)lp->carried_to[j]);
        else sb_printf(b, "%soc_o%d", j ? ", " : "", (int)j);
    }
    sb_printf(b, " = %s(oc_s[oc_t]", op->name);
    for (int32_t i = 1; i < lp->n_in; i++) {
        if (i == lp->random_key) continue;
        sb_printf(b, ", oc_%c%d", lp->carried_from[i] >= 0 ? 'c' : 'i', (int)i);
    }
    for (int32_t k = 0; k < ex->n_attrs; k++) {
        /* a random op's key is the engine's to set */
        if (lp->random_key >= 0 && strcmp(ex->attrs[k].name, "key") == 0) continue;
        if (!callable_name(ex->attrs[k].name)) return 0;
        sb_printf(b, ", %s = ", ex->attrs[k].name);
        if (!sb_attr(b, &ex->attrs[k].value)) return 0;
    }
    sb_printf(b, ")\n    yield ");
    if (lp->carried_to[0] >= 0) sb_printf(b, "oc_c%d\n}\n", (int)lp->carried_to[0]);
    else sb_printf(b, "oc_o0\n}\n");
    if (any_float) {
        const char *plus = "";
        sb_printf(b, "loss = ");
        if (y0->dtype != GX_DTYPE_I32) {
            sb_printf(b, "sum(oc_y * oc_r0)");
            plus = " + ";
        }
        for (int32_t j = 0; j < lp->n_out; j++) {
            if (lp->carried_to[j] < 0 || g->values[cg->out[j]].info.dtype == GX_DTYPE_I32)
                continue;
            sb_printf(b, "%ssum(oc_f%d * oc_q%d)", plus, (int)lp->carried_to[j], (int)j);
            plus = " + ";
        }
        sb_printf(b, "\n");
    }
    sb_printf(b, "output oc_y");
    for (int32_t i = 1; i < lp->n_in; i++)
        if (lp->carried_from[i] >= 0) sb_printf(b, ", oc_f%d", (int)i);
    sb_printf(b, "\n");
    return 1;
}

/* The loop graph's names as a message shows them, in the example's terms: x0 is the op's
 * input 0, y0 its output 0. */
static const char *loop_value_name(const char *name, char *buf, size_t size) {
    int k;
    const char *g = strncmp(name, "grad.", 5) == 0 ? name + 5 : name;
    const char *pre = g != name ? "grad of " : "";
    if (strcmp(g, "oc_y") == 0) snprintf(buf, size, "%sstacked y0", pre);
    else if (strcmp(g, "oc_s") == 0) snprintf(buf, size, "%ssequence x0", pre);
    else if (sscanf(g, "oc_f%d", &k) == 1) snprintf(buf, size, "%sfinal x%d", pre, k);
    else if (sscanf(g, "oc_i%d", &k) == 1) snprintf(buf, size, "%sx%d", pre, k);
    else if (strncmp(g, "oc_r", 4) == 0 || strncmp(g, "oc_q", 4) == 0)
        snprintf(buf, size, "%sloss weight %s", pre, g + 3);
    else snprintf(buf, size, "'%s'", name);
    return buf;
}

/* the loop graph lowered (looped or unrolled), differentiated when it has a loss, planned */
static gx_status loop_plan_graph(gx_registry *reg, const sbuf *src, int unroll, gx_graph **g,
                                 gx_exec **e, gx_diag *d) {
    gx_ast_module *m = NULL;
    *g = NULL;
    *e = NULL;
    gx_status st = gx_parse(src->s, src->n, "check-op loop", &m, d);
    if (st != GX_OK) return st;
    gx_lower_opts lo = {.unroll = unroll, .train = 1};
    st = gx_lower_with(m, reg, &lo, g, d);
    if (st != GX_OK) {
        if (*g == NULL) gx_ast_free(m);
        gx_graph_free(*g);
        *g = NULL;
        return st;
    }
    if ((*g)->loss != GX_VAL_NONE) st = gx_autodiff(*g, (*g)->loss, d);
    if (st == GX_OK) st = gx_exec_new(*g, GX_CHECK_REF, NULL, 0, e, d);
    return st;
}

/* the data of the loop graph's inputs, by name: one draw shared by both forms */
static gx_status loop_data(const ccase *c, const gx_graph *g, const loop_plan *lp,
                           gx_check_data *dt, gx_diag *d) {
    gx_status st = data_for_inputs(g, dt, d);
    if (st != GX_OK) return st;
    gx_rng rng;
    gx_rng_seed(&rng, gx_hash_str(c->seed, "loop"));
    for (int32_t i = 0; i < g->n_inputs; i++) {
        const char *name = g->inputs[i].name;
        const gx_example_input *spec = &uniform_pm1;
        int k = -1;
        if (strcmp(name, "oc_s") == 0) spec = &c->ex->inputs[0];
        else if (sscanf(name, "oc_i%d", &k) == 1 && k > 0 && k < lp->n_in) spec = &c->ex->inputs[k];
        else if (strcmp(name, GX_RNG_INPUT) == 0 && lp->random_key >= 0)
            spec = &c->ex->inputs[lp->random_key];
        draw(spec, &rng, dt->v[i], dt->len[i]);
    }
    return GX_OK;
}

static gx_status check_loop(const ccase *c) {
    gx_check_result r;
    result_init(c, &r, GX_CHECK_LOOP, GX_CHECK_REF);
    r.tol = GX_CHECK_LOOP_TOL;
    gx_diag d;
    gx_diag_init(&d);
    gx_check_graph cg = {0};
    sbuf src = {0};
    loop_plan lp;
    gx_graph *gl = NULL, *gu = NULL;
    gx_exec *el = NULL, *eu = NULL;
    gx_check_data dt = {0};
    /* the one-node graph tells the outputs' types, for matching carries */
    gx_status st = gx_check_build(c->reg, c->op, c->ex, GX_DTYPE_F64, 0, &cg, &d);
    if (st != GX_OK) {
        result_set(&r, GX_CHECK_FAIL, "building the f64 graph: %s", diag_text(&d));
    } else if (cg.n_in < 1) {
        result_set(&r, GX_CHECK_SKIP, "no input to loop over");
    } else if (!callable_name(c->op->name)) {
        result_set(&r, GX_CHECK_SKIP, "'%s' cannot be called from .graph text", c->op->name);
    } else if (!loop_text(c->op, c->ex, &cg, gx_check_differentiable(c->op), &lp, &src) ||
               src.oom) {
        if (src.oom) st = GX_ERR_NOMEM;
        result_set(&r, GX_CHECK_SKIP, "an attribute of the example cannot be written in .graph");
    } else if ((st = loop_plan_graph(c->reg, &src, 0, &gl, &el, &d)) != GX_OK) {
        result_set(&r, GX_CHECK_FAIL, "looped: %s", diag_text(&d));
    } else if ((st = loop_plan_graph(c->reg, &src, 1, &gu, &eu, &d)) != GX_OK) {
        result_set(&r, GX_CHECK_FAIL, "unrolled: %s", diag_text(&d));
    } else if ((st = loop_data(c, gl, &lp, &dt, &d)) != GX_OK) {
        result_set(&r, GX_CHECK_FAIL, "%s", diag_text(&d));
    } else {
        /* the unrolled graph declares the same inputs in the same order (one source text) */
        if ((st = run_plan(el, gl, &dt, &d)) != GX_OK)
            result_set(&r, GX_CHECK_FAIL, "looped: %s", diag_text(&d));
        else if ((st = run_plan(eu, gu, &dt, &d)) != GX_OK)
            result_set(&r, GX_CHECK_FAIL, "unrolled: %s", diag_text(&d));
        else {
            int bad;
            st = compare_outputs(gl, el, "looped", gu, eu, "unrolled", CMP_SCALED,
                                 loop_value_name, &r, &bad, &d);
            if (st != GX_OK && st != GX_ERR_NOMEM)
                result_set(&r, GX_CHECK_FAIL, "reading back: %s", diag_text(&d));
        }
    }
    gx_exec_free(el);
    gx_exec_free(eu);
    gx_graph_free(gl);
    gx_graph_free(gu);
    gx_check_graph_free(&cg);
    gx_check_data_free(&dt);
    gx_free(src.s);
    if (st == GX_ERR_NOMEM) return st;
    return push(c, &r);
}

// ---- cases and ops --------------------------------------------------------------------------

static uint64_t case_seed(uint64_t seed, const gx_op *op, const char *case_name) {
    return gx_hash_str(gx_hash_str(seed, op->name), case_name ? case_name : "");
}

gx_status gx_check_case(gx_registry *reg, const gx_op *op, const gx_op_example *ex,
                        const char *case_name, int32_t variant, const gx_check_opts *o,
                        gx_check_report *rep) {
    ccase c = {.reg = reg, .op = op, .ex = ex, .name = case_name ? case_name : ex->name,
               .variant = variant, .o = o, .rep = rep};
    c.seed = case_seed(o->seed, op, c.name);
    gx_diag d;
    gx_diag_init(&d);
    if (gx_check_example_valid(ex, &d) != GX_OK) {
        gx_check_result r;
        result_init(&c, &r, GX_CHECK_SCHEMA, NULL);
        result_set(&r, GX_CHECK_FAIL, "%s", diag_text(&d));
        return push(&c, &r);
    }
    gx_status st = GX_OK;
    if (o->reference) st = check_reference(&c);
    if (st == GX_OK && o->reference && gx_check_is_cell(op)) st = check_loop(&c);
    for (int32_t k = 0; k < o->n_backends && st == GX_OK; k++)
        if (strcmp(o->backends[k], GX_CHECK_REF) != 0) st = check_backend(&c, o->backends[k]);
    return st;
}

/* One draw of variant shapes for ex (see gx_check_op); 0 when ex has nothing to vary. */
static int draw_variant(const gx_op *op, const gx_op_example *ex, gx_rng *rng,
                        gx_op_example *out) {
    int32_t key = (op->desc.flags & GX_OP_RANDOM) && ex->n_inputs > 0 ? ex->n_inputs - 1 : -1;
    int64_t vals[GX_MAX_EXAMPLE_INPUTS * GX_MAX_DIMS], map[GX_MAX_EXAMPLE_INPUTS * GX_MAX_DIMS];
    int n = 0;
    for (int32_t i = 0; i < ex->n_inputs; i++) {
        if (i == key) continue;
        for (int32_t k = 0; k < ex->inputs[i].ndim; k++) {
            int64_t v = ex->inputs[i].dims[k];
            int seen = 0;
            for (int q = 0; q < n && !seen; q++) seen = vals[q] == v;
            if (v > 1 && !seen) vals[n++] = v;
        }
    }
    if (n == 0) return 0;
    /* ascending, so a multiple's base is mapped before it */
    for (int a = 1; a < n; a++)
        for (int b2 = a; b2 > 0 && vals[b2 - 1] > vals[b2]; b2--) {
            int64_t t = vals[b2];
            vals[b2] = vals[b2 - 1];
            vals[b2 - 1] = t;
        }
    for (int a = 0; a < n; a++) {
        int bases[GX_MAX_EXAMPLE_INPUTS * GX_MAX_DIMS], nb = 0;
        for (int q = 0; q < a; q++)
            if (vals[a] % vals[q] == 0) bases[nb++] = q;
        /* mostly keep a multiple a multiple (G*H of a cell's weights), else infer refuses
         * nearly every draw; bounded, so a chain of multiples cannot blow a tensor up */
        int q = nb > 0 && gx_rng_uniform(rng) < 0.75 ? bases[(int)(gx_rng_uniform(rng) * nb)] : -1;
        if (q >= 0 && vals[a] / vals[q] * map[q] <= MAX_DERIVED_DIM) {
            map[a] = vals[a] / vals[q] * map[q];
        } else {
            map[a] = 2 + (int64_t)(gx_rng_uniform(rng) * 5);
        }
    }
    *out = *ex;
    for (int32_t i = 0; i < ex->n_inputs; i++) {
        gx_example_input *in = &out->inputs[i];
        if (i == key) continue;
        for (int32_t k = 0; k < in->ndim; k++)
            for (int q = 0; q < n; q++)
                if (in->dims[k] == vals[q]) {
                    in->dims[k] = map[q];
                    break;
                }
        /* i32 values that index a remapped dim (hi = dim - 1) stay in range; min() keeps
         * them valid when hi + 1 only happens to equal a dim (an attribute's bound) */
        if (in->dtype == GX_DTYPE_I32)
            for (int q = 0; q < n; q++)
                if (in->hi + 1 == (double)vals[q] && (double)(map[q] - 1) < in->hi) {
                    in->hi = (double)(map[q] - 1);
                    if (in->lo > in->hi) in->lo = in->hi;
                }
    }
    return 1;
}

static int same_shapes(const gx_op_example *a, const gx_op_example *b) {
    for (int32_t i = 0; i < a->n_inputs; i++)
        for (int32_t k = 0; k < a->inputs[i].ndim; k++)
            if (a->inputs[i].dims[k] != b->inputs[i].dims[k]) return 0;
    return 1;
}

/* "<example> ~ [5,6] [5,4] ...": the case's name says which shapes it ran with */
static void variant_name(const gx_op_example *v, char *buf, size_t size) {
    sbuf b = {0};
    sb_printf(&b, "%s ~", v->name);
    for (int32_t i = 0; i < v->n_inputs; i++) {
        sb_printf(&b, " [");
        for (int32_t k = 0; k < v->inputs[i].ndim; k++)
            sb_printf(&b, "%s%lld", k ? "," : "", (long long)v->inputs[i].dims[k]);
        sb_printf(&b, "]");
    }
    snprintf(buf, size, "%s", b.oom || b.s == NULL ? v->name : b.s);
    gx_free(b.s);
}

/* 1 when op's infer accepts the example's shapes; the message goes to d otherwise */
static int infer_accepts(gx_registry *reg, const gx_op *op, const gx_op_example *ex, gx_diag *d) {
    gx_check_graph cg;
    gx_status st = gx_check_build(reg, op, ex, GX_DTYPE_F64, 0, &cg, d);
    gx_check_graph_free(&cg);
    return st == GX_OK;
}

static gx_status check_variants(gx_registry *reg, const gx_op *op, const gx_op_example *ex,
                                const gx_check_opts *o, gx_check_report *rep) {
    gx_rng rng;
    gx_rng_seed(&rng, gx_hash_str(case_seed(o->seed, op, ex->name), "shapes"));
    for (int32_t k = 1; k <= o->n_shapes; k++) {
        gx_op_example v;
        gx_diag d;
        gx_diag_init(&d);
        int ok = 0, tries = 0, any = 1;
        double t0 = now_s();
        while (!ok && tries < GX_CHECK_SHAPE_TRIES) {
            tries++;
            if (!(any = draw_variant(op, ex, &rng, &v))) break;
            if (same_shapes(ex, &v)) continue;   /* nothing new: draw again */
            gx_diag_init(&d);
            ok = infer_accepts(reg, op, &v, &d);
        }
        if (!any) return GX_OK;   /* no dim > 1: the example's own shapes are all there is */
        if (!ok) {
            ccase c = {.reg = reg, .op = op, .ex = ex, .name = ex->name, .variant = k, .o = o,
                       .rep = rep};
            gx_check_result r;
            result_init(&c, &r, GX_CHECK_SHAPES, NULL);
            r.seconds = t0;
            result_set(&r, GX_CHECK_SKIP, "variant %d: no shapes in %d draws that the op's infer "
                       "accepts%s%s", (int)k, GX_CHECK_SHAPE_TRIES,
                       d.status != GX_OK ? " (last: " : "", d.status != GX_OK ? diag_text(&d) : "");
            if (d.status != GX_OK) strncat(r.msg, ")", sizeof r.msg - strlen(r.msg) - 1);
            gx_status st = push(&c, &r);
            if (st != GX_OK) return st;
            continue;
        }
        char name[256];
        variant_name(&v, name, sizeof name);
        gx_status st = gx_check_case(reg, op, &v, name, k, o, rep);
        if (st != GX_OK) return st;
    }
    return GX_OK;
}

gx_status gx_check_op(gx_registry *reg, const gx_op *op, const gx_check_opts *o,
                      gx_check_report *rep) {
    const gx_op_desc *od = &op->desc;
    int has_examples = od->examples != NULL && od->examples[0].name != NULL;
    int differentiable = od->vjp != NULL || od->decompose != NULL;
    ccase c = {.reg = reg, .op = op, .name = NULL, .o = o, .rep = rep};
    gx_check_result r;
    /* the rules that keep a new op from slipping past the checks */
    if (!differentiable && od->grad_exempt == NULL) {
        result_init(&c, &r, GX_CHECK_SCHEMA, NULL);
        result_set(&r, GX_CHECK_FAIL, "no VJP, no decomposition and no reason (grad_exempt)");
        return push(&c, &r);
    }
    if (!has_examples && od->grad_exempt == NULL) {
        result_init(&c, &r, GX_CHECK_SCHEMA, NULL);
        result_set(&r, GX_CHECK_FAIL, "%s but no examples to check it with",
                   od->vjp ? "a VJP" : "a decomposition");
        return push(&c, &r);
    }
    if (!has_examples) {
        /* exempt and nothing to run: say so once per check that would have run */
        gx_status st = GX_OK;
        if (o->reference) {
            result_init(&c, &r, GX_CHECK_GRAD, GX_CHECK_REF);
            result_set(&r, GX_CHECK_SKIP, "exempt: %s", od->grad_exempt);
            st = push(&c, &r);
        }
        for (int32_t k = 0; k < o->n_backends && st == GX_OK; k++) {
            if (strcmp(o->backends[k], GX_CHECK_REF) == 0) continue;
            result_init(&c, &r, GX_CHECK_BACKEND, o->backends[k]);
            result_set(&r, GX_CHECK_SKIP, "no examples");
            st = push(&c, &r);
        }
        return st;
    }
    for (const gx_op_example *ex = od->examples; ex->name != NULL; ex++) {
        gx_status st = gx_check_case(reg, op, ex, ex->name, 0, o, rep);
        gx_diag d;
        gx_diag_init(&d);
        /* an example the op refuses is a FAIL already; its variants would only add noise */
        if (st == GX_OK && o->n_shapes > 0 && infer_accepts(reg, op, ex, &d))
            st = check_variants(reg, op, ex, o, rep);
        if (st != GX_OK) return st;
    }
    return GX_OK;
}
