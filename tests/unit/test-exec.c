/*
 * test-exec.c: the planner and executor. Running a planned graph allocates nothing (malloc is
 * counted by interposing it); intermediates share memory; results repeat exactly; errors a
 * kernel finds in the data come back with the source position of the node.
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

#include <stdlib.h>
#include <string.h>

/* counting allocations: a planned graph must run without any */
#include "count-malloc.h"

static gx_registry *reg;

static gx_graph *load(const char *src) {
    gx_ast_module *m = NULL;
    gx_graph *g = NULL;
    gx_diag d;
    gx_diag_init(&d);
    if (gx_parse(src, strlen(src), "e.graph", &m, &d) != GX_OK ||
        gx_lower(m, reg, NULL, 0, &g, &d) != GX_OK) {
        print_error("%s\n", d.msg);
        return NULL;
    }
    return g;
}

static const char *rnn_src =
    "input xs : f32[4, 2, 3]\n"
    "param Wx : f32[3, 8] init xavier\nparam Wh : f32[8, 8] init orthogonal\n"
    "param b : f32[8] init zeros\n"
    "def step(x, h) { return tanh(x @ Wx + h @ Wh + b) }\n"
    "h0 = full(shape = [2, 8])\n"
    "h1 = step(xs[0], h0)\nh2 = step(xs[1], h1)\nh3 = step(xs[2], h2)\nh4 = step(xs[3], h3)\n"
    "loss = mean(h4 * h4)\n";

static void feed(gx_exec *e, gx_graph *g) {
    gx_diag d;
    gx_diag_init(&d);
    for (int pass = 0; pass < 2; pass++) {
        const gx_named *list = pass ? g->params : g->inputs;
        int32_t n = pass ? g->n_params : g->n_inputs;
        for (int32_t i = 0; i < n; i++) {
            const gx_value *v = &g->values[list[i].val];
            int64_t k = gx_shape_numel(&v->info.shape);
            float *buf = malloc(sizeof(float) * (size_t)k);
            gx_init in = {.scheme = GX_INIT_UNIFORM, .a = -1, .b = 1};
            assert_int_equal(gx_init_fill(&in, &v->info, 3, list[i].name, buf, &d), GX_OK);
            assert_int_equal(gx_exec_write(e, list[i].val, buf, sizeof(float) * (uint64_t)k, &d), GX_OK);
            free(buf);
        }
    }
}

/* the same RNN as a loop node: a loop runs a planned sub-executor per step, forward and back */
static const char *loop_src =
    "input xs : f32[2, 4, 3]\n"
    "param Wx : f32[3, 8] init xavier\nparam Wh : f32[8, 8] init orthogonal\n"
    "param b : f32[8] init zeros\n"
    "state h0 : f32[2, 8] = 0\n"
    "hs, hT = loop t over xs carry (h = h0) { h = tanh(xs[t] @ Wx + h @ Wh + b) yield h }\n"
    "loss = mean(hT * hT) + mean(hs)\n";

static void check_run_allocates_nothing(const char *src) {
    gx_graph *g = load(src);
    assert_non_null(g);
    gx_diag d;
    gx_diag_init(&d);
    assert_int_equal(gx_autodiff(g, g->loss, &d), GX_OK);
    gx_exec *e;
#ifdef GX_COUNT_MALLOC
    long at_plan = n_allocs;
#endif
    assert_int_equal(gx_exec_new(g, "cpu-scalar", NULL, 0, &e, &d), GX_OK);
#ifdef GX_COUNT_MALLOC
    assert_true(n_allocs > at_plan); /* the counter sees the library's allocations */
#endif
    feed(e, g);
    int32_t o = gx_graph_find_output(g, "grad.Wh");
    float first[64], again[64];
    assert_int_equal(gx_exec_run(e, &d), GX_OK);
    assert_int_equal(gx_exec_read(e, g->outputs[o].val, first, sizeof first, &d), GX_OK);
#ifdef GX_COUNT_MALLOC
    long before = n_allocs;
#endif
    for (int i = 0; i < 5; i++) assert_int_equal(gx_exec_run(e, &d), GX_OK);
#ifdef GX_COUNT_MALLOC
    assert_int_equal(n_allocs - before, 0);
#endif
    assert_int_equal(gx_exec_read(e, g->outputs[o].val, again, sizeof again, &d), GX_OK);
    assert_memory_equal(first, again, sizeof first);
    float total = 0;
    for (int i = 0; i < 64; i++) total += first[i] * first[i];
    assert_true(total > 0); /* the gradient is not trivially zero */
    gx_exec_free(e);
    gx_graph_free(g);
}

static void test_exec_run_allocates_nothing(void **state) {
    (void)state;
    check_run_allocates_nothing(rnn_src);
}

static void test_exec_loop_run_allocates_nothing(void **state) {
    (void)state;
    check_run_allocates_nothing(loop_src);
}

static void test_exec_reuses_memory(void **state) {
    (void)state;
    gx_graph *g = load(rnn_src);
    gx_diag d;
    gx_diag_init(&d);
    assert_int_equal(gx_autodiff(g, g->loss, &d), GX_OK);
    gx_exec *e;
    assert_int_equal(gx_exec_new(g, "cpu-scalar", NULL, 0, &e, &d), GX_OK);
    uint64_t sum = 0;
    for (int32_t v = 0; v < g->n_values; v++)
        sum += ((uint64_t)gx_shape_numel(&g->values[v].info.shape) * 4 + 63) / 64 * 64;
    print_message("  arena %llu bytes for %llu bytes of values, %d kernel calls\n",
                  (unsigned long long)gx_exec_arena_bytes(e), (unsigned long long)sum,
                  (int)gx_exec_n_steps(e));
    assert_true(gx_exec_arena_bytes(e) < sum / 2);
    gx_exec_free(e);
    gx_graph_free(g);
}

static void test_exec_kernel_error_has_position(void **state) {
    (void)state;
    gx_graph *g = load("input idx : i32[3]\nparam E : f32[4, 2] init ones\n"
                       "y = embedding(E, idx)\noutput y\n");
    assert_non_null(g);
    gx_diag d;
    gx_diag_init(&d);
    gx_exec *e;
    assert_int_equal(gx_exec_new(g, NULL, NULL, 0, &e, &d), GX_OK);
    int32_t idx[3] = {0, 9, 1};
    float table[8] = {0};
    assert_int_equal(gx_exec_write(e, g->inputs[0].val, idx, sizeof idx, &d), GX_OK);
    assert_int_equal(gx_exec_write(e, g->params[0].val, table, sizeof table, &d), GX_OK);
    assert_int_equal(gx_exec_run(e, &d), GX_ERR_INVALID);
    assert_non_null(strstr(d.msg, "e.graph:3:5: error: embedding: index 9"));
    /* wrong byte counts are refused, not copied */
    gx_diag_init(&d);
    assert_int_equal(gx_exec_write(e, g->inputs[0].val, idx, 4, &d), GX_ERR_INVALID);
    gx_exec_free(e);
    gx_graph_free(g);
}

static void test_exec_unknown_backend(void **state) {
    (void)state;
    gx_graph *g = load("input x : f32[2]\ny = tanh(x)\noutput y\n");
    gx_diag d;
    gx_diag_init(&d);
    gx_exec *e = NULL;
    assert_int_equal(gx_exec_new(g, "cpu-scalr", NULL, 0, &e, &d), GX_ERR_NOT_FOUND);
    assert_string_equal(d.msg, "error: unknown backend 'cpu-scalr'; did you mean 'cpu-scalar'?");
    assert_null(e);
    gx_graph_free(g);
}

int main(void) {
    reg = gx_registry_new();
    gx_diag d;
    gx_diag_init(&d);
    if (gx_registry_load_default(reg, NULL, &d) != GX_OK) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exec_run_allocates_nothing),
        cmocka_unit_test(test_exec_loop_run_allocates_nothing),
        cmocka_unit_test(test_exec_reuses_memory),
        cmocka_unit_test(test_exec_kernel_error_has_position),
        cmocka_unit_test(test_exec_unknown_backend),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    gx_registry_free(reg);
    return rc;
}
