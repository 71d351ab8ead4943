/*
 * graph-check.c: whole-graph gradient and equivalence checks (see graph-check.h).
 * Finite differences run on a forward-only plan of the loss, so each probe costs one forward
 * pass; gradients come from the full plan, the one `gexec grad` runs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "graph-check.h"

#include "autodiff.h"
#include "exec.h"
#include "init.h"
#include "lower.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EPS 1e-5

/* a graph planned twice: everything (outputs and gradients), and the loss alone */
typedef struct planned {
    gx_graph *g;
    gx_exec  *full, *fwd;
} planned;

static void planned_free(planned *p) {
    gx_exec_free(p->full);
    gx_exec_free(p->fwd);
    gx_graph_free(p->g);
    memset(p, 0, sizeof *p);
}

static int plan(gx_registry *reg, const char *name, const char *src, int unroll,
                const gc_opts *opts, planned *p) {
    memset(p, 0, sizeof *p);
    gx_diag d;
    gx_diag_init(&d);
    gx_ast_module *m = NULL;
    /* only the bindings of dims this graph declares */
    gx_dim_binding binds[32];
    int n_binds = 0;
    gx_lower_opts o = {.binds = binds, .unroll = unroll, .train = 1};
    if (gx_parse(src, strlen(src), name, &m, &d) == GX_OK) {
        for (int i = 0; i < opts->n_binds && n_binds < 32; i++)
            for (int k = 0; k < m->n_stmts; k++)
                if (m->stmts[k]->kind == GX_STMT_DIM && strcmp(m->stmts[k]->name, opts->binds[i].name) == 0)
                    binds[n_binds++] = opts->binds[i];
    }
    o.n_binds = n_binds;
    if (m == NULL || gx_lower_with(m, reg, &o, &p->g, &d) != GX_OK) {
        if (p->g == NULL) gx_ast_free(m);
        print_error("%s (%s): %s\n", name, unroll ? "unrolled" : "looped", d.msg);
        return 1;
    }
    if (p->g->loss == GX_VAL_NONE) {
        print_error("%s: no loss\n", name);
        return 1;
    }
    gx_val loss = p->g->loss;
    if (gx_autodiff(p->g, loss, &d) != GX_OK || gx_exec_new(p->g, "cpu-scalar", NULL, 0, &p->full, &d) != GX_OK ||
        gx_exec_new(p->g, "cpu-scalar", &loss, 1, &p->fwd, &d) != GX_OK) {
        print_error("%s (%s): %s\n", name, unroll ? "unrolled" : "looped", d.msg);
        return 1;
    }
    return 0;
}

/* ---- data: one array of doubles per param and input, by name ---- */

typedef struct leaf {
    const char *name;
    double     *x;
    int64_t     n;
    int         is_float, is_mask;
} leaf;

typedef struct data {
    leaf   *leaves;
    int32_t n;
} data;

static int in_list(const char *list, const char *name) {
    if (list == NULL) return 0;
    size_t n = strlen(name);
    for (const char *p = list; (p = strstr(p, name)) != NULL; p += n)
        if ((p == list || p[-1] == ',') && (p[n] == '\0' || p[n] == ',')) return 1;
    return 0;
}

static void data_make(const gx_graph *g, const gc_opts *o, data *dt) {
    gx_rng rng;
    gx_rng_seed(&rng, 7);
    dt->n = g->n_params + g->n_inputs;
    dt->leaves = calloc((size_t)dt->n, sizeof(leaf));
    gx_diag d;
    gx_diag_init(&d);
    for (int32_t i = 0; i < dt->n; i++) {
        const gx_named *nm = i < g->n_params ? &g->params[i] : &g->inputs[i - g->n_params];
        const gx_value *v = &g->values[nm->val];
        leaf *l = &dt->leaves[i];
        l->name = nm->name;
        l->n = gx_shape_numel(&v->info.shape);
        l->x = calloc((size_t)(l->n ? l->n : 1), sizeof(double));
        l->is_float = v->info.dtype != GX_DTYPE_I32;
        l->is_mask = in_list(o->mask_inputs, nm->name);
        if (i < g->n_params) {
            assert_int_equal(gx_init_fill(&nm->init, &v->info, 1, nm->name, l->x, &d), GX_OK);
            /* zero biases would hide broadcast bugs in their gradients: jitter everything */
            for (int64_t k = 0; k < l->n; k++) l->x[k] += 0.1 * (2 * gx_rng_uniform(&rng) - 1);
        } else if (l->is_mask) {
            /* [rows, T]: row r is valid for its first T - r*T/4 steps (at least 1) */
            const gx_shape *s = &v->info.shape;
            int64_t rows = s->ndim ? s->dims[0] : 1, T = rows ? l->n / rows : 0;
            for (int64_t r = 0; r < rows; r++) {
                int64_t len = T - r * T / 4;
                if (len < 1) len = 1;
                for (int64_t t = 0; t < T; t++) l->x[r * T + t] = t < len ? 1.0 : 0.0;
            }
        } else {
            for (int64_t k = 0; k < l->n; k++)
                l->x[k] = l->is_float ? 2 * gx_rng_uniform(&rng) - 1
                                      : (double)(int64_t)(gx_rng_uniform(&rng) * o->int_hi);
        }
    }
}

static void data_free(data *dt) {
    for (int32_t i = 0; i < dt->n; i++) free(dt->leaves[i].x);
    free(dt->leaves);
}

static gx_val value_of(const gx_graph *g, const char *name) {
    const gx_named *nm = gx_graph_find_named(g->params, g->n_params, name);
    if (nm == NULL) nm = gx_graph_find_named(g->inputs, g->n_inputs, name);
    return nm ? nm->val : GX_VAL_NONE;
}

static void feed_leaf(gx_exec *e, const gx_graph *g, const leaf *l) {
    gx_val v = value_of(g, l->name);
    assert_int_not_equal(v, GX_VAL_NONE);
    gx_dtype dt = g->values[v].info.dtype;
    size_t sz = gx_dtype_size(dt), bytes = sz * (size_t)l->n;
    unsigned char *buf = malloc(bytes ? bytes : 1);
    for (int64_t k = 0; k < l->n; k++) {
        if (dt == GX_DTYPE_F64) ((double *)buf)[k] = l->x[k];
        else if (dt == GX_DTYPE_F32) ((float *)buf)[k] = (float)l->x[k];
        else ((int32_t *)buf)[k] = (int32_t)l->x[k];
    }
    gx_diag d;
    gx_diag_init(&d);
    assert_int_equal(gx_exec_write(e, v, buf, bytes, &d), GX_OK);
    free(buf);
}

static void feed_all(gx_exec *e, const gx_graph *g, const data *dt) {
    for (int32_t i = 0; i < dt->n; i++) feed_leaf(e, g, &dt->leaves[i]);
}

static int run(gx_exec *e, const char *name) {
    gx_diag d;
    gx_diag_init(&d);
    if (gx_exec_run(e, &d) != GX_OK) {
        print_error("%s: %s\n", name, d.msg);
        return 1;
    }
    return 0;
}

/* an output (by index) as doubles */
static double *read_output(gx_exec *e, const gx_graph *g, int32_t i, int64_t *n) {
    const gx_value *v = &g->values[g->outputs[i].val];
    *n = gx_shape_numel(&v->info.shape);
    size_t sz = gx_dtype_size(v->info.dtype), bytes = sz * (size_t)*n;
    unsigned char *buf = malloc(bytes ? bytes : 1);
    double *x = calloc((size_t)(*n ? *n : 1), sizeof(double));
    gx_diag d;
    gx_diag_init(&d);
    assert_int_equal(gx_exec_read(e, g->outputs[i].val, buf, bytes, &d), GX_OK);
    for (int64_t k = 0; k < *n; k++)
        x[k] = v->info.dtype == GX_DTYPE_F64   ? ((double *)buf)[k]
               : v->info.dtype == GX_DTYPE_F32 ? ((float *)buf)[k]
                                               : ((int32_t *)buf)[k];
    free(buf);
    return x;
}

static double loss_now(planned *p) {
    double loss;
    gx_diag d;
    gx_diag_init(&d);
    assert_int_equal(gx_exec_read(p->fwd, p->g->loss, &loss, sizeof loss, &d), GX_OK);
    return loss;
}

/* every output of a against the same-named output of b; the largest relative difference */
static int compare_outputs(planned *a, planned *b, const char *what, double tol, double *max_diff) {
    for (int32_t i = 0; i < a->g->n_outputs; i++) {
        int32_t j = gx_graph_find_output(b->g, a->g->outputs[i].name);
        if (j < 0) {
            print_error("%s: output '%s' is missing\n", what, a->g->outputs[i].name);
            return 1;
        }
        int64_t na, nb;
        double *xa = read_output(a->full, a->g, i, &na), *xb = read_output(b->full, b->g, j, &nb);
        int bad = na != nb;
        for (int64_t k = 0; k < na && !bad; k++) {
            double diff = fabs(xa[k] - xb[k]) / fmax(1.0, fabs(xa[k]));
            if (diff > *max_diff) *max_diff = diff;
            if (diff > tol) {
                print_error("%s: '%s'[%lld]: %.17g vs %.17g\n", what, a->g->outputs[i].name,
                            (long long)k, xa[k], xb[k]);
                bad = 1;
            }
        }
        free(xa);
        free(xb);
        if (bad) return 1;
    }
    return 0;
}

int gc_check(gx_registry *reg, const char *name, const char *src, const gc_opts *o,
             gc_result *r) {
    memset(r, 0, sizeof *r);
    planned p;
    if (plan(reg, name, src, 0, o, &p)) return 1;
    data dt;
    data_make(p.g, o, &dt);
    int bad = 0;
    feed_all(p.full, p.g, &dt);
    feed_all(p.fwd, p.g, &dt);
    bad |= run(p.full, name);
    for (int32_t i = 0; i < dt.n && !bad; i++) {
        leaf *l = &dt.leaves[i];
        if (!l->is_float || l->is_mask) continue;
        char gname[256];
        snprintf(gname, sizeof gname, "grad.%s", l->name);
        int32_t go = gx_graph_find_output(p.g, gname);
        if (go < 0) {
            print_error("%s: no output %s\n", name, gname);
            bad = 1;
            break;
        }
        int64_t n;
        double *ana = read_output(p.full, p.g, go, &n);
        int64_t step = o->max_entries && l->n > o->max_entries ? l->n / o->max_entries : 1;
        for (int64_t k = 0; k < l->n && !bad; k += step) {
            double keep = l->x[k], lp, lm;
            l->x[k] = keep + EPS;
            feed_leaf(p.fwd, p.g, l);
            bad |= run(p.fwd, name);
            lp = loss_now(&p);
            l->x[k] = keep - EPS;
            feed_leaf(p.fwd, p.g, l);
            bad |= run(p.fwd, name);
            lm = loss_now(&p);
            l->x[k] = keep;
            double num = (lp - lm) / (2 * EPS), a = ana[k];
            double err = fabs(a - num) / fmax(fmax(fabs(a), fabs(num)), 1e-3);
            if (err > r->max_rel_err) r->max_rel_err = err;
            r->n_checked++;
            if (err > o->rel_tol) {
                print_error("%s: d loss / d %s[%lld]: analytic %.12g, numeric %.12g (rel err %.3g)\n",
                            name, l->name, (long long)k, a, num, err);
                bad = 1;
            }
        }
        feed_leaf(p.fwd, p.g, l);
        free(ana);
    }
    if (!bad && o->unroll_tol > 0) {
        planned u;
        bad = plan(reg, name, src, 1, o, &u);
        if (!bad) {
            feed_all(u.full, u.g, &dt);
            bad = run(u.full, name);
            if (!bad) {
                char what[300];
                snprintf(what, sizeof what, "%s: looped vs unrolled", name);
                bad = compare_outputs(&p, &u, what, o->unroll_tol, &r->max_unroll_diff);
            }
        }
        planned_free(&u);
    }
    data_free(&dt);
    planned_free(&p);
    return bad;
}

int gc_compare(gx_registry *reg, const char *name, const char *src_a, const char *src_b,
               const gc_opts *o, double tol, double *max_diff) {
    planned a, b;
    *max_diff = 0;
    int bad = plan(reg, name, src_a, 0, o, &a);
    if (!bad) bad = plan(reg, name, src_b, 0, o, &b);
    else memset(&b, 0, sizeof b);
    if (!bad) {
        data dt;
        data_make(a.g, o, &dt);
        feed_all(a.full, a.g, &dt);
        feed_all(b.full, b.g, &dt);
        bad = run(a.full, name) || run(b.full, name);
        if (!bad) bad = compare_outputs(&a, &b, name, tol, max_diff);
        data_free(&dt);
    }
    planned_free(&a);
    planned_free(&b);
    return bad;
}
