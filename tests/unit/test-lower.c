/*
 * test-lower.c: from source text to IR. A table of graphs that must fail, each with the exact
 * message a user sees (position, what was wrong, the suggestion), and checks of what valid
 * graphs lower to: shapes, dims, def inlining, literals taking their partner's dtype.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lower.h"

#include <stdio.h>
#include <string.h>

static gx_registry *reg;

static gx_status lower_text(const char *src, gx_graph **g, gx_diag *d) {
    gx_ast_module *m = NULL;
    gx_diag_init(d);
    *g = NULL;
    gx_status st = gx_parse(src, strlen(src), "t.graph", &m, d);
    if (st != GX_OK) return st;
    st = gx_lower(m, reg, NULL, 0, g, d);
    if (st != GX_OK) gx_ast_free(m);
    return st;
}

typedef struct bad_case {
    const char *src;
    const char *msg;   /* the whole message */
} bad_case;

#define HDR "input x : f32[2, 3]\nparam W : f32[3, 4] init xavier\n"

#define LHDR "input x : f32[2, 5, 3]\ninput y : f32[2, 4, 3]\nstate h0 : f32[2, 4] = 0\n" \
             "param W : f32[3, 4] init xavier\n"

static const bad_case bad[] = {
    {LHDR "hs = loop t over x carry (h = h0) { h = tanh(y[t] @ W) yield h }\n",
     "t.graph:5:46: error: only the loop's sequences can be indexed by 't' (loop t over ...)"},
    {LHDR "hs = loop t over x carry (h = h0) { h = tanh(x[t] @ W) + t yield h }\n",
     "t.graph:5:58: error: the loop index 't' can only pick a step of a sequence, as in x[t]"},
    {LHDR "hs = loop t over x carry (h = h0) { h = x[t] yield h }\n",
     "t.graph:5:27: error: carry 'h' starts as f32[2, 4] but the body makes it f32[2, 3]; a carry "
     "must keep its type"},
    {LHDR "hs = loop t over x, y carry (h = h0) { h = tanh(x[t] @ W) yield h }\n",
     "t.graph:5:21: error: this sequence has 4 steps, the first sequence 5"},
    {LHDR "hs = loop t over x mask h0 carry (h = h0) { h = tanh(x[t] @ W) yield h }\n",
     "t.graph:5:25: error: the mask has 4 steps, the first sequence 5"},
    {LHDR "hs = loop t over x axis 3 carry (h = h0) { h = tanh(x[t] @ W) yield h }\n",
     "t.graph:5:18: error: a sequence of shape [2, 5, 3] has no time axis 3"},
    {LHDR "hs = loop t over tanh(x) carry (h = h0) { h = tanh(x[t] @ W) yield h }\n",
     "t.graph:5:18: error: a loop runs over named sequences (name the expression first: x = ...; "
     "loop t over x)"},
    {LHDR "hs = loop t over x carry (h = 0) { h = tanh(x[t] @ W) yield h }\n",
     "t.graph:5:31: error: carry 'h' must start from a tensor (a state, an input or a computed value)"},
    {"graph g (unrol = 1)\n",
     "t.graph:1:10: error: unknown graph attribute 'unrol'; did you mean 'unroll'? (known: unroll)"},
    {"import \"no-such-file.graph\"\n",
     "t.graph:1:1: error: cannot import 'no-such-file.graph': cannot open 'no-such-file.graph': No "
     "such file or directory"},
    {HDR "y = tahn(x)\n", "t.graph:3:5: error: unknown op 'tahn'; did you mean 'tanh'?"},
    {HDR "y = tanh(xx)\n", "t.graph:3:10: error: unknown name 'xx'; did you mean 'x'?"},
    {HDR "y = W @ x\n", "t.graph:3:7: error: matmul: inner dimensions differ: a is [3, 4], b is [2, 3]"},
    {HDR "y = sum(x, axs = [0])\n",
     "t.graph:3:5: error: op 'sum' has no attribute 'axs'; did you mean 'axes'?"},
    {HDR "y = tanh(x, x)\n", "t.graph:3:5: error: 'tanh' takes 1 input, got 2"},
    {HDR "a, b = tanh(x)\n", "t.graph:3:1: error: 2 names on the left, but the right side gives 1 result"},
    {HDR "x = tanh(x)\n",
     "t.graph:3:1: error: cannot assign to 'x': it is an input or param declared at 1:7"},
    {"dim B\ninput x : f32[B, 3]\n",
     "t.graph:2:15: error: dim 'B' has no value; give it one (`dim B = 4`) or bind it (--dim B=4)"},
    {"param W : f32[3, 4]\n",
     "t.graph:1:7: error: param 'W' needs an init scheme, e.g. `init xavier` or `init zeros`"},
    {"param W : f32[3, 4] init xavierr\n",
     "t.graph:1:26: error: unknown init scheme 'xavierr'; did you mean 'xavier'?"},
    {"param W : f32[3, 4] init normal(0, -1)\n", "t.graph:1:26: error: normal: std must be >= 0"},
    {"param W : f32[3] init orthogonal\n", NULL}, /* lowering accepts; init fails later */
    {"input x : f33[2]\n", "t.graph:1:11: error: unknown dtype 'f33'; did you mean 'f32'? (gexec has f32, f64, i32)"},
    {"dim H = 3\ndim H = 4\n", "t.graph:2:5: error: 'H' is already defined"},
    {"dim H = 4 / 0\n", "t.graph:1:11: error: division by zero"},
    {"input x : f32[2, -3]\n", "t.graph:1:18: error: dimension 1 of 'x' is negative (-3)"},
    {"def f(a) { return g(a) }\ndef g(a) { return f(a) }\ninput x : f32[2]\ny = f(x)\n",
     "t.graph:2:19: error: def calls nested more than 32 deep (is 'f' recursive?)"},
    {"def f(a, b) { return a + b }\ninput x : f32[2]\ny = f(x)\n",
     "t.graph:3:5: error: 'f' is missing argument 'b'"},
    {"def f(a) { c = a }\ninput x : f32[2]\ny = f(x)\n",
     "t.graph:1:1: error: def 'f' has no return statement"},
    {HDR "output z\n", "t.graph:3:8: error: unknown value 'z'"},
    {HDR "y = split(x, 4)\n", NULL},
    {HDR "y = reshape(x, shape = [5])\n", NULL},
    {HDR "y = x[5]\n", NULL},
    {HDR "y = x % 2\n", "t.graph:3:7: error: '%' is only defined on integers"},
    {"graph a\ngraph b\n", "t.graph:2:1: error: the graph is already named at 1:1"},
    {"def f(a, a) { return a }\n", "t.graph:1:10: error: parameter 'a' of 'f' is listed twice"},
    {HDR "y = sum(x, axes = x)\n",
     "t.graph:3:19: error: attribute 'axes' must be a constant (number, list, string or dtype), found a tensor"},
};

static void test_lower_errors(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gx_graph *g;
        gx_diag d;
        gx_status st = lower_text(bad[i].src, &g, &d);
        if (bad[i].msg == NULL) {
            /* must fail with a positioned message; the exact text belongs to the op */
            if (st == GX_OK && strstr(bad[i].src, "orthogonal")) {
                gx_graph_free(g);
                continue;
            }
            if (st == GX_OK || strncmp(d.msg, "t.graph:3:", 10) != 0) {
                print_error("case %zu: expected a positioned error, got '%s'\n", i, d.msg);
                fail();
            }
            continue;
        }
        if (st == GX_OK || strcmp(d.msg, bad[i].msg) != 0) {
            print_error("case %zu:\n  source:   %s\n  expected: %s\n  got:      %s\n", i,
                        bad[i].src, bad[i].msg, st == GX_OK ? "(success)" : d.msg);
            gx_graph_free(g);
            fail();
        }
    }
}

static void test_lower_valid(void **state) {
    (void)state;
    const char *src =
        "graph demo\n"
        "dim B = 2\ndim H = 3 * 2\n"
        "input x : f64[B, 4]\n"
        "param W : f64[4, H] init normal(0, 0.1)\n"
        "def affine(v, w, scale) { return (v @ w) * scale }\n"
        "y = affine(x, W, 0.5)\n"
        "a, b = split(y, 2)\n"
        "z = 1 - sigmoid(a) probe \"gate.z\"\n"
        "s = sum(z * b, axes = [1])\n"
        "k = H / 2\n"
        "r = reshape(s, [B, 1]) + k\n"
        "loss = mean(r)\n"
        "output y, r\n";
    gx_graph *g;
    gx_diag d;
    assert_int_equal(lower_text(src, &g, &d), GX_OK);
    assert_string_equal(g->name, "demo");
    assert_int_equal(g->n_inputs, 1);
    assert_int_equal(g->n_params, 1);
    assert_int_equal(g->n_outputs, 3); /* y, r and the loss */
    const gx_value *y = &g->values[g->outputs[0].val];
    assert_int_equal(y->info.dtype, GX_DTYPE_F64);
    assert_int_equal(y->info.shape.ndim, 2);
    assert_int_equal(y->info.shape.dims[1], 6);
    const gx_value *r = &g->values[g->outputs[1].val];
    assert_int_equal(r->info.shape.dims[0], 2);
    assert_int_equal(r->info.shape.dims[1], 1);
    assert_int_not_equal(g->loss, GX_VAL_NONE);
    assert_int_equal(g->values[g->loss].info.shape.ndim, 0);
    /* literals became f64 constants, and the probe name stuck to its value */
    int probes = 0;
    for (int32_t i = 0; i < g->n_nodes; i++)
        if (strcmp(g->nodes[i].op->name, "full") == 0)
            assert_int_equal(g->values[g->nodes[i].out[0]].info.dtype, GX_DTYPE_F64);
    for (int32_t v = 0; v < g->n_values; v++)
        if (g->values[v].probe && strcmp(g->values[v].probe, "gate.z") == 0) probes++;
    assert_int_equal(probes, 1);
    assert_int_equal(g->params[0].init.scheme, GX_INIT_NORMAL);
    gx_graph_free(g);
}

static void test_lower_dim_bindings(void **state) {
    (void)state;
    const char *src = "dim B\ndim H = 4\ninput x : f32[B, H]\ny = tanh(x)\noutput y\n";
    gx_ast_module *m;
    gx_diag d;
    gx_diag_init(&d);
    assert_int_equal(gx_parse(src, strlen(src), "b.graph", &m, &d), GX_OK);
    gx_dim_binding binds[2] = {{"B", 5}, {"H", 7}}; /* H overrides the declared value */
    gx_graph *g;
    assert_int_equal(gx_lower(m, reg, binds, 2, &g, &d), GX_OK);
    assert_int_equal(g->values[g->inputs[0].val].info.shape.dims[0], 5);
    assert_int_equal(g->values[g->inputs[0].val].info.shape.dims[1], 7);
    gx_graph_free(g);
    assert_int_equal(gx_parse(src, strlen(src), "b.graph", &m, &d), GX_OK);
    gx_dim_binding wrong[2] = {{"B", 5}, {"Q", 1}};
    assert_int_not_equal(gx_lower(m, reg, wrong, 2, &g, &d), GX_OK);
    assert_string_equal(d.msg, "error: --dim Q: the graph has no dim 'Q'");
    gx_ast_free(m);
}

int main(void) {
    reg = gx_registry_new();
    gx_diag d;
    gx_diag_init(&d);
    if (gx_registry_load_default(reg, NULL, &d) != GX_OK) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lower_errors),
        cmocka_unit_test(test_lower_valid),
        cmocka_unit_test(test_lower_dim_bindings),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    gx_registry_free(reg);
    return rc;
}
