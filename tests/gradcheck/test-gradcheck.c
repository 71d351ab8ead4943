/*
 * test-gradcheck.c: every op in the registry, checked against central finite differences.
 *
 * The list of ops is the registry's, not a list written here, so a new op cannot skip the
 * check: each op must either ship examples (gx_op_example) or say in its schema why it is
 * exempt (grad_exempt). For every example:
 *   1. in f64: loss = sum_j sum(out_j * R_j) with fixed random R_j; the analytic gradient from
 *      autodiff is compared with (loss(x + eps) - loss(x - eps)) / 2 eps for every element of
 *      every differentiable input; max relative error 1e-6 (relative to max(|a|, |n|, 1e-3));
 *   2. in f32: outputs and analytic gradients must match the f64 run within 1e-4 (relative to
 *      max(|x|, 1)), which checks the f32 kernels against the same reference.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "autodiff.h"
#include "exec.h"
#include "init.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EPS      1e-5
#define REL_TOL  1e-6
#define F32_TOL  1e-4

static gx_registry *reg;

typedef struct built {
    gx_graph *g;
    gx_exec  *e;
    gx_val    in[GX_MAX_EXAMPLE_INPUTS];
    gx_val    loss;
    int32_t   n_out;
    gx_val    out[16];
} built;

static gx_dtype as_dtype(gx_dtype example, gx_dtype floats) {
    return example == GX_DTYPE_I32 ? GX_DTYPE_I32 : floats;
}

/* The graph: inputs -> op -> outputs; loss = sum over float outputs of sum(out * R). The R's
 * are extra inputs, named r0, r1, ... */
static gx_status build(const gx_op *op, const gx_op_example *ex, gx_dtype ft, built *b,
                       gx_diag *d) {
    memset(b, 0, sizeof *b);
    b->g = gx_graph_new(reg);
    if (b->g == NULL) return GX_ERR_NOMEM;
    gx_status st = GX_OK;
    for (int i = 0; i < ex->n_inputs && st == GX_OK; i++) {
        gx_tensor_info info = {.dtype = as_dtype(ex->inputs[i].dtype, ft)};
        info.shape.ndim = ex->inputs[i].ndim;
        memcpy(info.shape.dims, ex->inputs[i].dims, sizeof info.shape.dims);
        char name[16];
        snprintf(name, sizeof name, "x%d", i);
        st = gx_graph_add_input(b->g, name, info, (gx_srcpos){"gradcheck", 1, 1}, &b->in[i], d);
    }
    gx_builder bld = {.g = b->g, .diag = d, .pos = {op->name, 1, 1}};
    gx_attr_value attrs[64];
    if (st == GX_OK)
        st = gx_attrs_resolve(b->g, op, ex->attrs, ex->n_attrs, attrs, bld.pos, d);
    if (st == GX_OK)
        st = gx_graph_add_node(b->g, op, b->in, ex->n_inputs, attrs, bld.pos, 0, b->out, 16,
                               &b->n_out, d);
    gx_val total = GX_VAL_NONE;
    for (int j = 0; j < b->n_out && st == GX_OK; j++) {
        gx_tensor_info oi = b->g->values[b->out[j]].info;
        if (oi.dtype == GX_DTYPE_I32) continue;
        char name[16];
        snprintf(name, sizeof name, "r%d", j);
        gx_val r, prod, s;
        st = gx_graph_add_input(b->g, name, oi, bld.pos, &r, d);
        if (st == GX_OK) st = gx_emit2(gx_registry_api(), &bld, "mul", b->out[j], r, &prod);
        if (st == GX_OK) st = gx_emit1(gx_registry_api(), &bld, "sum", prod, &s);
        if (st == GX_OK && total != GX_VAL_NONE)
            st = gx_emit2(gx_registry_api(), &bld, "add", total, s, &s);
        total = s;
    }
    if (st == GX_OK && total == GX_VAL_NONE)
        st = gx_diag_set(d, GX_ERR_INVALID, "example has no float output");
    b->loss = total;
    if (st == GX_OK) st = gx_graph_add_output(b->g, "loss", total, bld.pos, d);
    for (int j = 0; j < b->n_out && st == GX_OK; j++) {
        char name[16];
        snprintf(name, sizeof name, "y%d", j);
        st = gx_graph_add_output(b->g, name, b->out[j], bld.pos, d);
    }
    if (st == GX_OK) st = gx_autodiff(b->g, total, d);
    if (st == GX_OK) st = gx_exec_new(b->g, "cpu-scalar", NULL, 0, &b->e, d);
    return st;
}

static void built_free(built *b) {
    gx_exec_free(b->e);
    gx_graph_free(b->g);
}

/* every input's values, as doubles, drawn once per example */
typedef struct data {
    int     n;
    double *v[GX_MAX_EXAMPLE_INPUTS + 16];
    int64_t len[GX_MAX_EXAMPLE_INPUTS + 16];
} data;

static void draw(const gx_example_input *in, gx_rng *r, double *out, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        if (in->dtype == GX_DTYPE_I32) {
            int64_t span = (int64_t)in->hi - (int64_t)in->lo + 1;
            out[i] = (double)((int64_t)in->lo + (int64_t)(gx_rng_uniform(r) * (double)span));
            continue;
        }
        double x;
        do x = in->lo + (in->hi - in->lo) * gx_rng_uniform(r);
        while (fabs(x) < in->min_abs);
        out[i] = x;
    }
}

static gx_status write_value(built *b, gx_val v, const double *x, gx_diag *d) {
    const gx_tensor_info *info = &b->g->values[v].info;
    int64_t n = gx_shape_numel(&info->shape);
    size_t bytes = (size_t)n * gx_dtype_size(info->dtype);
    void *buf = malloc(bytes ? bytes : 1);
    for (int64_t i = 0; i < n; i++) {
        if (info->dtype == GX_DTYPE_F64) ((double *)buf)[i] = x[i];
        else if (info->dtype == GX_DTYPE_F32) ((float *)buf)[i] = (float)x[i];
        else ((int32_t *)buf)[i] = (int32_t)x[i];
    }
    gx_status st = gx_exec_write(b->e, v, buf, bytes, d);
    free(buf);
    return st;
}

static gx_status read_value(built *b, gx_val v, double *out, gx_diag *d) {
    const gx_tensor_info *info = &b->g->values[v].info;
    int64_t n = gx_shape_numel(&info->shape);
    size_t bytes = (size_t)n * gx_dtype_size(info->dtype);
    void *buf = malloc(bytes ? bytes : 1);
    gx_status st = gx_exec_read(b->e, v, buf, bytes, d);
    for (int64_t i = 0; i < n && st == GX_OK; i++) {
        if (info->dtype == GX_DTYPE_F64) out[i] = ((double *)buf)[i];
        else if (info->dtype == GX_DTYPE_F32) out[i] = ((float *)buf)[i];
        else out[i] = ((int32_t *)buf)[i];
    }
    free(buf);
    return st;
}

/* all graph inputs (x's, then r's) in graph order */
static gx_status feed_all(built *b, data *dt, gx_diag *d) {
    for (int32_t i = 0; i < b->g->n_inputs; i++) {
        gx_status st = write_value(b, b->g->inputs[i].val, dt->v[i], d);
        if (st != GX_OK) return st;
    }
    return GX_OK;
}

static gx_status loss_at(built *b, data *dt, double *loss, gx_diag *d) {
    gx_status st = feed_all(b, dt, d);
    if (st == GX_OK) st = gx_exec_run(b->e, d);
    if (st == GX_OK) st = read_value(b, b->loss, loss, d);
    return st;
}

static int64_t numel_of(built *b, gx_val v) { return gx_shape_numel(&b->g->values[v].info.shape); }

static gx_val output_val(built *b, const char *name) {
    int32_t i = gx_graph_find_output(b->g, name);
    return i < 0 ? GX_VAL_NONE : b->g->outputs[i].val;
}

static void check_example(const gx_op *op, const gx_op_example *ex, uint64_t seed) {
    gx_diag d;
    gx_diag_init(&d);
    built b64, b32;
    gx_status st = build(op, ex, GX_DTYPE_F64, &b64, &d);
    if (st != GX_OK) {
        print_error("op '%s' example '%s': %s\n", op->name, ex->name, d.msg);
        built_free(&b64);
        fail();
    }
    /* draw data: example inputs from their spec, R's uniform in [-1, 1] */
    data dt = {.n = b64.g->n_inputs};
    gx_rng rng;
    gx_rng_seed(&rng, gx_hash_str(seed, op->name));
    for (int32_t i = 0; i < dt.n; i++) {
        dt.len[i] = numel_of(&b64, b64.g->inputs[i].val);
        dt.v[i] = calloc((size_t)(dt.len[i] ? dt.len[i] : 1), sizeof(double));
        gx_example_input rspec = {.dtype = GX_DTYPE_F64, .lo = -1, .hi = 1};
        draw(i < ex->n_inputs ? &ex->inputs[i] : &rspec, &rng, dt.v[i], dt.len[i]);
    }
    double loss0 = 0, max_err = 0;
    st = loss_at(&b64, &dt, &loss0, &d);
    if (st != GX_OK) {
        print_error("op '%s' example '%s': run failed: %s\n", op->name, ex->name, d.msg);
        fail();
    }
    /* analytic gradients of every differentiable float input, all read from the unperturbed run */
    double *ana[GX_MAX_EXAMPLE_INPUTS] = {0};
    for (int i = 0; i < ex->n_inputs; i++) {
        int nodiff = i < 32 && ((op->desc.nodiff_inputs >> i) & 1u);
        if (ex->inputs[i].dtype == GX_DTYPE_I32 || nodiff) continue;
        char name[32];
        snprintf(name, sizeof name, "grad.x%d", i);
        gx_val gv = output_val(&b64, name);
        assert_int_not_equal(gv, GX_VAL_NONE);
        ana[i] = calloc((size_t)(dt.len[i] ? dt.len[i] : 1), sizeof(double));
        assert_int_equal(read_value(&b64, gv, ana[i], &d), GX_OK);
    }
    /* then the finite differences (these runs overwrite the graph's gradient outputs) */
    for (int i = 0; i < ex->n_inputs; i++) {
        if (ana[i] == NULL) continue;
        for (int64_t k = 0; k < dt.len[i]; k++) {
            double keep = dt.v[i][k], lp, lm;
            dt.v[i][k] = keep + EPS;
            assert_int_equal(loss_at(&b64, &dt, &lp, &d), GX_OK);
            dt.v[i][k] = keep - EPS;
            assert_int_equal(loss_at(&b64, &dt, &lm, &d), GX_OK);
            dt.v[i][k] = keep;
            double num = (lp - lm) / (2 * EPS), a = ana[i][k];
            double den = fmax(fmax(fabs(a), fabs(num)), 1e-3);
            double err = fabs(a - num) / den;
            if (err > max_err) max_err = err;
            if (err > REL_TOL) {
                print_error("op '%s' example '%s': d loss / d x%d[%lld]: analytic %.12g, numeric "
                            "%.12g, relative error %.3g > %.1g\n", op->name, ex->name, i,
                            (long long)k, a, num, err, REL_TOL);
                fail();
            }
        }
    }
    /* f32: the same data through the f32 kernels, against the f64 results */
    st = build(op, ex, GX_DTYPE_F32, &b32, &d);
    if (st != GX_OK) {
        print_error("op '%s' example '%s' (f32): %s\n", op->name, ex->name, d.msg);
        fail();
    }
    double l32;
    assert_int_equal(loss_at(&b64, &dt, &loss0, &d), GX_OK); /* restore b64's outputs */
    st = loss_at(&b32, &dt, &l32, &d);
    if (st != GX_OK) {
        print_error("op '%s' example '%s' (f32): run failed: %s\n", op->name, ex->name, d.msg);
        fail();
    }
    double f32_err = 0;
    for (int32_t o = 0; o < b64.g->n_outputs; o++) {
        const char *name = b64.g->outputs[o].name;
        gx_val v64 = b64.g->outputs[o].val, v32 = output_val(&b32, name);
        int64_t n = numel_of(&b64, v64);
        double *x64 = calloc((size_t)(n ? n : 1), sizeof(double));
        double *x32 = calloc((size_t)(n ? n : 1), sizeof(double));
        assert_int_equal(read_value(&b64, v64, x64, &d), GX_OK);
        assert_int_equal(read_value(&b32, v32, x32, &d), GX_OK);
        for (int64_t k = 0; k < n; k++) {
            double err = fabs(x64[k] - x32[k]) / fmax(fabs(x64[k]), 1.0);
            if (err > f32_err) f32_err = err;
            if (err > F32_TOL) {
                print_error("op '%s' example '%s': f32 '%s'[%lld] = %.9g, f64 gives %.9g\n",
                            op->name, ex->name, name, (long long)k, x32[k], x64[k]);
                fail();
            }
        }
        free(x64);
        free(x32);
    }
    print_message("  %-20s %-28s max rel err %.2e (f64 vs finite differences), %.2e (f32 vs f64)\n",
                  op->name, ex->name, max_err, f32_err);
    for (int i = 0; i < GX_MAX_EXAMPLE_INPUTS; i++) free(ana[i]);
    for (int i = 0; i < dt.n; i++) free(dt.v[i]);
    built_free(&b64);
    built_free(&b32);
}

static void test_op(void **state) {
    const gx_op *op = *state;
    if (op->desc.grad_exempt) {
        print_message("  %-20s exempt: %s\n", op->name, op->desc.grad_exempt);
        return;
    }
    if (op->desc.vjp == NULL) {
        print_error("op '%s' has no VJP and gives no reason (grad_exempt)\n", op->name);
        fail();
    }
    if (op->desc.examples == NULL || op->desc.examples[0].name == NULL) {
        print_error("op '%s' has a VJP but no gradient-check examples\n", op->name);
        fail();
    }
    for (const gx_op_example *ex = op->desc.examples; ex->name; ex++) check_example(op, ex, 42);
}

int main(int argc, char **argv) {
    reg = gx_registry_new();
    gx_diag d;
    gx_diag_init(&d);
    if (reg == NULL || gx_registry_load_default(reg, NULL, &d) != GX_OK) {
        fprintf(stderr, "cannot load plugins: %s\n", d.msg);
        return 1;
    }
    int n = gx_registry_n_ops(reg);
    if (n == 0) {
        fprintf(stderr, "no ops are registered: the core ops plugin was not found\n");
        return 1;
    }
    struct CMUnitTest *tests = calloc((size_t)n, sizeof *tests);
    for (int i = 0; i < n; i++) {
        tests[i].name = gx_registry_op_at(reg, i)->name;
        tests[i].test_func = test_op;
        tests[i].initial_state = (void *)gx_registry_op_at(reg, i);
    }
    if (argc > 1) cmocka_set_test_filter(argv[1]);
    int rc = _cmocka_run_group_tests("gradcheck", tests, (size_t)n, NULL, NULL);
    free(tests);
    gx_registry_free(reg);
    return rc;
}
