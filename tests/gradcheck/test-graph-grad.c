/*
 * test-graph-grad.c: whole example graphs (the .graph files in graphs/), parsed from their files, with
 * their gradients (what `gexec grad` writes) checked against central differences of the loss
 * for every element of every param and float input. Graphs are run in f64: graphs written in
 * f32 are loaded with their dtypes rewritten to f64, since f32 finite differences cannot
 * resolve 1e-6.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "autodiff.h"
#include "exec.h"
#include "init.h"
#include "lower.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EPS     1e-5
#define REL_TOL 1e-6

static gx_registry *reg;

static char *graph_path(const char *name) {
    const char *src = getenv("GEXEC_SOURCE_DIR");
    char *p = malloc(4096);
    snprintf(p, 4096, "%s/graphs/%s", src ? src : ".", name);
    return p;
}

/* the file's text with every "f32" turned into "f64" */
static gx_graph *load_f64(const char *name) {
    char *path = graph_path(name), *src;
    size_t n;
    gx_diag d;
    gx_diag_init(&d);
    assert_int_equal(gx_read_file(path, &src, &n, &d), GX_OK);
    for (char *s = strstr(src, "f32"); s; s = strstr(s + 3, "f32")) s[2] = '4', s[1] = '6';
    gx_ast_module *m = NULL;
    gx_graph *g = NULL;
    if (gx_parse(src, n, path, &m, &d) != GX_OK || gx_lower(m, reg, NULL, 0, &g, &d) != GX_OK) {
        print_error("%s\n", d.msg);
        fail();
    }
    free(src);
    free(path);
    return g;
}

typedef struct leaf {
    gx_val  val;
    double *x;
    int64_t n;
    int     is_float;
} leaf;

static void write_leaf(gx_exec *e, const gx_graph *g, const leaf *l) {
    gx_diag d;
    gx_diag_init(&d);
    const gx_value *v = &g->values[l->val];
    if (v->info.dtype == GX_DTYPE_I32) {
        int32_t *buf = malloc(sizeof(int32_t) * (size_t)(l->n ? l->n : 1));
        for (int64_t i = 0; i < l->n; i++) buf[i] = (int32_t)l->x[i];
        assert_int_equal(gx_exec_write(e, l->val, buf, sizeof(int32_t) * (uint64_t)l->n, &d), GX_OK);
        free(buf);
    } else {
        assert_int_equal(gx_exec_write(e, l->val, l->x, sizeof(double) * (uint64_t)l->n, &d), GX_OK);
    }
}

static double run_loss(gx_exec *e, const gx_graph *g, leaf *leaves, int n_leaves) {
    gx_diag d;
    gx_diag_init(&d);
    for (int i = 0; i < n_leaves; i++) write_leaf(e, g, &leaves[i]);
    if (gx_exec_run(e, &d) != GX_OK) {
        print_error("%s\n", d.msg);
        fail();
    }
    double loss;
    assert_int_equal(gx_exec_read(e, g->loss, &loss, sizeof loss, &d), GX_OK);
    return loss;
}

static void check_graph(const char *name, int int_hi) {
    gx_graph *g = load_f64(name);
    gx_diag d;
    gx_diag_init(&d);
    assert_int_not_equal(g->loss, GX_VAL_NONE);
    assert_int_equal(gx_autodiff(g, g->loss, &d), GX_OK);
    gx_exec *e = NULL;
    assert_int_equal(gx_exec_new(g, "cpu-scalar", NULL, 0, &e, &d), GX_OK);

    /* params from their init schemes, inputs random; i32 inputs in [0, int_hi) */
    int n_leaves = g->n_params + g->n_inputs;
    leaf *leaves = calloc((size_t)n_leaves, sizeof *leaves);
    gx_rng rng;
    gx_rng_seed(&rng, 7);
    for (int i = 0; i < n_leaves; i++) {
        const gx_named *nm = i < g->n_params ? &g->params[i] : &g->inputs[i - g->n_params];
        const gx_value *v = &g->values[nm->val];
        leaf *l = &leaves[i];
        l->val = nm->val;
        l->n = gx_shape_numel(&v->info.shape);
        l->x = calloc((size_t)(l->n ? l->n : 1), sizeof(double));
        l->is_float = v->info.dtype != GX_DTYPE_I32;
        if (i < g->n_params) {
            assert_int_equal(gx_init_fill(&nm->init, &v->info, 1, nm->name, l->x, &d), GX_OK);
            /* zero-initialised biases would hide bugs in their gradients' broadcast: jitter */
            for (int64_t k = 0; k < l->n; k++) l->x[k] += 0.1 * (2 * gx_rng_uniform(&rng) - 1);
        } else {
            for (int64_t k = 0; k < l->n; k++)
                l->x[k] = l->is_float ? 2 * gx_rng_uniform(&rng) - 1
                                      : (double)(int64_t)(gx_rng_uniform(&rng) * int_hi);
        }
    }
    run_loss(e, g, leaves, n_leaves);
    /* analytic gradients first: the finite-difference runs overwrite them */
    double **ana = calloc((size_t)n_leaves, sizeof *ana);
    for (int i = 0; i < n_leaves; i++) {
        if (!leaves[i].is_float) continue;
        const char *lname = g->values[leaves[i].val].name;
        char gname[256];
        snprintf(gname, sizeof gname, "grad.%s", lname);
        int32_t o = gx_graph_find_output(g, gname);
        assert_true(o >= 0);
        ana[i] = calloc((size_t)(leaves[i].n ? leaves[i].n : 1), sizeof(double));
        assert_int_equal(gx_exec_read(e, g->outputs[o].val, ana[i],
                                      sizeof(double) * (uint64_t)leaves[i].n, &d), GX_OK);
    }
    double max_err = 0;
    int64_t checked = 0;
    for (int i = 0; i < n_leaves; i++) {
        if (ana[i] == NULL) continue;
        for (int64_t k = 0; k < leaves[i].n; k++) {
            double keep = leaves[i].x[k];
            leaves[i].x[k] = keep + EPS;
            double lp = run_loss(e, g, leaves, n_leaves);
            leaves[i].x[k] = keep - EPS;
            double lm = run_loss(e, g, leaves, n_leaves);
            leaves[i].x[k] = keep;
            double num = (lp - lm) / (2 * EPS), a = ana[i][k];
            double err = fabs(a - num) / fmax(fmax(fabs(a), fabs(num)), 1e-3);
            if (err > max_err) max_err = err;
            checked++;
            if (err > REL_TOL) {
                print_error("%s: d loss / d %s[%lld]: analytic %.12g, numeric %.12g (rel err %.3g)\n",
                            name, g->values[leaves[i].val].name, (long long)k, a, num, err);
                fail();
            }
        }
    }
    print_message("  %s: %lld gradient entries, max rel err %.2e\n", name, (long long)checked,
                  max_err);
    for (int i = 0; i < n_leaves; i++) {
        free(leaves[i].x);
        free(ana[i]);
    }
    free(leaves);
    free(ana);
    gx_exec_free(e);
    gx_graph_free(g);
}

static void test_graph_grad_mlp(void **state) {
    (void)state;
    check_graph("mlp.graph", 1);
}

static void test_graph_grad_rnn(void **state) {
    (void)state;
    check_graph("rnn.graph", 3); /* labels index 3 classes */
}

int main(void) {
    reg = gx_registry_new();
    gx_diag d;
    gx_diag_init(&d);
    if (gx_registry_load_default(reg, NULL, &d) != GX_OK) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_graph_grad_mlp),
        cmocka_unit_test(test_graph_grad_rnn),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    gx_registry_free(reg);
    return rc;
}
