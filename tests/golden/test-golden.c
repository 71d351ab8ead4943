/*
 * test-golden.c: LSTM and GRU graphs (tests/golden/{lstm,gru}.graph) against PyTorch.
 *
 * For each cell, the params and inputs PyTorch used (<cell>-params.safetensors,
 * <cell>-inputs.safetensors) are written into the graph, which runs forward and backward on
 * cpu-scalar in f64; every tensor of <cell>-expected.safetensors (hs, hT, cT, loss and the
 * grad.<name> of every param and float input, made by make-golden.py with torch in float64) must
 * match the graph output of the same name within 1e-10 * max(1, |ref|).
 *
 * Each cell runs in each execution mode of the `modes` table below.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "autodiff.h"
#include "exec.h"
#include "lower.h"
#include "safetensors.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOL 1e-10

static gx_registry *reg;

/* The execution modes every cell is checked in. */
typedef struct mode {
    const char *name;
    int         unroll;
} mode;

static const mode modes[] = {
    { "looped", 0 },
    { "unrolled", 1 },
};

static char *golden_path(const char *file) {
    const char *src = getenv("GEXEC_SOURCE_DIR");
    char *p = malloc(4096);
    assert_non_null(p);
    snprintf(p, 4096, "%s/tests/golden/%s", src ? src : ".", file);
    return p;
}

/* Load tests/golden/<name>.graph for the given mode; NULL (with a message) when it does not
 * parse or lower. */
static gx_graph *load(const char *name, int unroll) {
    char file[256];
    snprintf(file, sizeof file, "%s.graph", name);
    char *path = golden_path(file);
    gx_diag d;
    gx_diag_init(&d);
    gx_graph *g = NULL;
    gx_lower_opts opts = {.unroll = unroll};
    gx_status st = gx_graph_load_file_with(reg, path, &opts, &g, &d);
    if (st != GX_OK) {
        print_error("%s: cannot load the graph (%s): %s\n", name, gx_status_name(st), d.msg);
        g = NULL;
    }
    free(path);
    return g;
}

static gx_st_file *read_st(const char *name, const char *suffix) {
    char file[256];
    snprintf(file, sizeof file, "%s-%s.safetensors", name, suffix);
    char *path = golden_path(file);
    gx_diag d;
    gx_diag_init(&d);
    gx_st_file *f = NULL;
    if (gx_st_read_file(path, &f, &d) != GX_OK) {
        print_error("%s\n", d.msg);
        f = NULL;
    }
    free(path);
    return f;
}

static int same_shape(const gx_shape *a, const gx_shape *b) {
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->dims[i] != b->dims[i]) return 0;
    return 1;
}

/* Write the file's tensor called like `nm` into it; 0 (with a message) on any mismatch. */
static int feed(gx_exec *e, const gx_graph *g, const gx_named *nm, const gx_st_file *f,
                const char *what) {
    const gx_st_tensor *t = gx_st_find(f, nm->name);
    const gx_tensor_info *info = &g->values[nm->val].info;
    char s1[128], s2[128];
    if (t == NULL) {
        print_error("%s '%s' is not in the %s file\n", what, nm->name, what);
        return 0;
    }
    if (t->dtype != info->dtype || !same_shape(&t->shape, &info->shape)) {
        print_error("%s '%s': the file has %s%s, the graph %s%s\n", what, nm->name,
                    gx_dtype_name(t->dtype), gx_shape_str(&t->shape, s1, sizeof s1),
                    gx_dtype_name(info->dtype), gx_shape_str(&info->shape, s2, sizeof s2));
        return 0;
    }
    gx_diag d;
    gx_diag_init(&d);
    if (gx_exec_write(e, nm->val, t->data, t->nbytes, &d) != GX_OK) {
        print_error("writing %s '%s': %s\n", what, nm->name, d.msg);
        return 0;
    }
    return 1;
}

/* Every tensor of `f` must be something the graph takes. */
static int all_used(const gx_st_file *f, const gx_named *list, int32_t n, const char *what) {
    int ok = 1;
    for (int i = 0; i < gx_st_count(f); i++) {
        const char *tn = gx_st_at(f, i)->name;
        if (gx_graph_find_named(list, n, tn) == NULL) {
            print_error("the %s file has '%s', which is not a graph %s\n", what, tn, what);
            ok = 0;
        }
    }
    return ok;
}

/* Compare one expected tensor with the graph output of the same name; 0 on mismatch. */
static int compare(gx_exec *e, const gx_graph *g, const char *cell, const gx_st_tensor *ref) {
    char s1[128], s2[128];
    int32_t o = gx_graph_find_output(g, ref->name);
    if (o < 0) {
        print_error("%s: the graph has no output '%s'\n", cell, ref->name);
        return 0;
    }
    const gx_tensor_info *info = &g->values[g->outputs[o].val].info;
    if (ref->dtype != GX_DTYPE_F64 || info->dtype != GX_DTYPE_F64 ||
        !same_shape(&ref->shape, &info->shape)) {
        print_error("%s: '%s' is %s%s in the graph, %s%s in the expected file\n", cell, ref->name,
                    gx_dtype_name(info->dtype), gx_shape_str(&info->shape, s1, sizeof s1),
                    gx_dtype_name(ref->dtype), gx_shape_str(&ref->shape, s2, sizeof s2));
        return 0;
    }
    int64_t n = gx_shape_numel(&info->shape);
    double *got = calloc((size_t)(n ? n : 1), sizeof(double));
    const double *want = ref->data;
    assert_non_null(got);
    gx_diag d;
    gx_diag_init(&d);
    if (gx_exec_read(e, g->outputs[o].val, got, sizeof(double) * (uint64_t)n, &d) != GX_OK) {
        print_error("%s: reading '%s': %s\n", cell, ref->name, d.msg);
        free(got);
        return 0;
    }
    double max_diff = 0, max_ref = 0;
    int ok = 1;
    for (int64_t k = 0; k < n; k++) {
        double diff = fabs(got[k] - want[k]);
        if (!(diff <= TOL * fmax(1.0, fabs(want[k])))) { /* NaN fails too */
            print_error("%s: '%s'[%lld]: gexec %.17g, torch %.17g (diff %.3g)\n", cell,
                        ref->name, (long long)k, got[k], want[k], diff);
            ok = 0;
            break;
        }
        if (diff > max_diff) max_diff = diff;
        if (fabs(want[k]) > max_ref) max_ref = fabs(want[k]);
    }
    if (ok)
        print_message("    %-10s %-12s max|ref| %.3e  max diff %.3e\n", ref->name,
                      gx_shape_str(&info->shape, s1, sizeof s1), max_ref, max_diff);
    free(got);
    return ok;
}

/* 1 when every expected tensor matches; messages say what did not. */
static int check_cell(const char *cell, const mode *md) {
    print_message("  %s, %s:\n", cell, md->name);
    gx_st_file *params = read_st(cell, "params"), *inputs = read_st(cell, "inputs"),
               *expected = read_st(cell, "expected");
    gx_graph *g = NULL;
    gx_exec *e = NULL;
    int ok = params && inputs && expected;
    gx_diag d;
    gx_diag_init(&d);
    if (ok) {
        g = load(cell, md->unroll);
        ok = g != NULL;
    }
    if (ok && g->loss == GX_VAL_NONE) {
        print_error("%s: the graph has no loss\n", cell);
        ok = 0;
    }
    if (ok && gx_autodiff(g, g->loss, &d) != GX_OK) {
        print_error("%s: autodiff: %s\n", cell, d.msg);
        ok = 0;
    }
    if (ok && gx_exec_new(g, "cpu-scalar", NULL, 0, &e, &d) != GX_OK) {
        print_error("%s: planning: %s\n", cell, d.msg);
        ok = 0;
    }
    /* every param and every input (the states h0, c0 among them) from the files */
    for (int32_t i = 0; ok && i < g->n_params; i++) ok = feed(e, g, &g->params[i], params, "param");
    for (int32_t i = 0; ok && i < g->n_inputs; i++) ok = feed(e, g, &g->inputs[i], inputs, "input");
    if (ok) ok = all_used(params, g->params, g->n_params, "param");
    if (ok) ok = all_used(inputs, g->inputs, g->n_inputs, "input");
    if (ok && gx_exec_run(e, &d) != GX_OK) {
        print_error("%s: run: %s\n", cell, d.msg);
        ok = 0;
    }
    for (int i = 0; ok && i < gx_st_count(expected); i++)
        if (!compare(e, g, cell, gx_st_at(expected, i))) ok = 0;
    /* outputs PyTorch has no reference for (none expected): say so */
    for (int32_t i = 0; ok && i < g->n_outputs; i++)
        if (gx_st_find(expected, g->outputs[i].name) == NULL)
            print_message("    %-10s (no reference; not compared)\n", g->outputs[i].name);
    gx_exec_free(e);
    if (g) gx_graph_free(g);
    gx_st_free(params);
    gx_st_free(inputs);
    gx_st_free(expected);
    if (!ok) print_error("  %s, %s: FAILED\n", cell, md->name);
    return ok;
}

/* every mode, then one failure naming the ones that did not match */
static void check_all_modes(const char *cell) {
    char failed[256] = "";
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
        if (!check_cell(cell, &modes[i]))
            snprintf(failed + strlen(failed), sizeof failed - strlen(failed), " %s",
                     modes[i].name);
    if (failed[0]) fail_msg("%s failed against PyTorch in mode(s):%s (see above)", cell, failed);
}

static void test_golden_lstm(void **state) {
    (void)state;
    check_all_modes("lstm");
}

static void test_golden_gru(void **state) {
    (void)state;
    check_all_modes("gru");
}

int main(void) {
    reg = gx_registry_new();
    gx_diag d;
    gx_diag_init(&d);
    if (reg == NULL || gx_registry_load_default(reg, NULL, &d) != GX_OK) {
        fprintf(stderr, "test-golden: loading plugins: %s\n", d.msg);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_lstm),
        cmocka_unit_test(test_golden_gru),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    gx_registry_free(reg);
    return rc;
}
