/*
 * test-loop-grad.c: backpropagation through time, checked.
 *
 * For every cell (the fused rnn_cell (tanh, relu), lstm_cell, gru_cell, and the composite ones
 * from graphs/lib/cells.graph), loops of 1, 2, 7 and 50 steps, forward and reverse, with and
 * without a padding mask, starting from a carried state fed as an input:
 *   - the looped gradient against central differences in f64 (rel err <= 1e-6),
 *   - looped against unrolled (outputs and every gradient, 1e-12),
 * and the fused cells against the composite ones (1e-12).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "graph-check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gx_registry *reg;

typedef struct cell {
    const char *name;     /* for messages                                       */
    const char *call;     /* the call in the body, with %s for nothing           */
    int         gates;    /* G in W_ih [G*H, I]                                 */
    int         has_c;    /* LSTM: a cell state carry                           */
} cell;

static const cell cells[] = {
    {"rnn_cell tanh", "h = rnn_cell(xs[t], h, W_ih, W_hh, b_ih, b_hh)", 1, 0},
    {"rnn_cell relu", "h = rnn_cell(xs[t], h, W_ih, W_hh, b_ih, b_hh, nonlinearity = \"relu\")", 1, 0},
    {"lstm_cell", "h, c = lstm_cell(xs[t], h, c, W_ih, W_hh, b_ih, b_hh)", 4, 1},
    {"gru_cell", "h = gru_cell(xs[t], h, W_ih, W_hh, b_ih, b_hh)", 3, 0},
    {"lib rnn_tanh", "h = rnn_tanh(xs[t], h, W_ih, W_hh, b_ih, b_hh)", 1, 0},
    {"lib rnn_relu", "h = rnn_relu(xs[t], h, W_ih, W_hh, b_ih, b_hh)", 1, 0},
    {"lib lstm", "h, c = lstm(xs[t], h, c, W_ih, W_hh, b_ih, b_hh)", 4, 1},
    {"lib gru", "h = gru(xs[t], h, W_ih, W_hh, b_ih, b_hh)", 3, 0},
};
#define N_CELLS ((int)(sizeof cells / sizeof cells[0]))

/* B = 3 rows, I = 3 inputs, H = 4 hidden; loss = sum(hs * P) + sum(hT * Q) (+ sum(cT * Q)) */
static char *graph_text(const cell *c, int T, int reverse, int mask) {
    char *s = malloc(8192);
    const char *src = getenv("GEXEC_SOURCE_DIR");
    snprintf(s, 8192,
             "import \"%s/graphs/lib/cells.graph\"\n"
             "graph loopcheck\n"
             "dim B = 3\ndim T = %d\ndim I = 3\ndim H = 4\ndim G = %d\n"
             "input xs : f64[B, T, I]\n"
             "input m  : f64[B, T]\n"
             "input P  : f64[B, T, H]\n"
             "input Q  : f64[B, H]\n"
             "state h0 : f64[B, H] = input\n"
             "state c0 : f64[B, H] = input\n"
             "param W_ih : f64[G*H, I] init uniform(-0.6, 0.6)\n"
             "param W_hh : f64[G*H, H] init uniform(-0.6, 0.6)\n"
             "param b_ih : f64[G*H] init uniform(-0.3, 0.3)\n"
             "param b_hh : f64[G*H] init uniform(-0.3, 0.3)\n"
             "hs, hT%s = loop t over xs%s%s carry (h = h0%s) {\n"
             "    %s\n"
             "    yield h\n"
             "}\n"
             "loss = sum(hs * P) + sum(hT * Q)%s\n",
             src ? src : ".", T, c->gates, c->has_c ? ", cT" : "", reverse ? " reverse" : "",
             mask ? " mask m" : "", c->has_c ? ", c = c0" : "", c->call,
             c->has_c ? " + sum(cT * Q)" : "");
    return s;
}

static gc_opts opts_for(int T) {
    gc_opts o = {.int_hi = 1, .mask_inputs = "m", .rel_tol = 1e-6, .unroll_tol = 1e-12};
    /* 50 steps: every weight entry, a sample of the inputs */
    o.max_entries = T > 7 ? 40 : 0;
    return o;
}

static void test_loop_cell(void **state) {
    const cell *c = *state;
    static const int lengths[] = {1, 2, 7, 50};
    for (int li = 0; li < 4; li++) {
        for (int variant = 0; variant < 4; variant++) {
            int reverse = variant & 1, mask = (variant >> 1) & 1;
            int T = lengths[li];
            char *src = graph_text(c, T, reverse, mask);
            char name[128];
            snprintf(name, sizeof name, "%s T=%d%s%s", c->name, T, reverse ? " reverse" : "",
                     mask ? " masked" : "");
            gc_opts o = opts_for(T);
            gc_result r;
            int bad = gc_check(reg, name, src, &o, &r);
            free(src);
            if (bad) fail_msg("%s failed", name);
            print_message("  %-36s %5lld entries, max rel err %.1e, looped vs unrolled %.1e\n", name,
                          (long long)r.n_checked, r.max_rel_err, r.max_unroll_diff);
        }
    }
}

static void test_loop_fused_equals_composite(void **state) {
    (void)state;
    /* fused cell i and its composite twin i + 4 */
    for (int i = 0; i < 4; i++) {
        char *a = graph_text(&cells[i], 7, 1, 1), *b = graph_text(&cells[i + 4], 7, 1, 1);
        char name[128];
        snprintf(name, sizeof name, "%s vs %s", cells[i].name, cells[i + 4].name);
        gc_opts o = opts_for(7);
        double diff;
        int bad = gc_compare(reg, name, a, b, &o, 1e-12, &diff);
        free(a);
        free(b);
        if (bad) fail_msg("%s differ", name);
        print_message("  %-30s max diff %.1e (outputs and gradients, 7 steps, reverse, masked)\n",
                      name, diff);
    }
}

int main(int argc, char **argv) {
    reg = gx_registry_new();
    gx_diag d;
    gx_diag_init(&d);
    if (gx_registry_load_default(reg, NULL, &d) != GX_OK) return 1;
    struct CMUnitTest tests[N_CELLS + 1];
    for (int i = 0; i < N_CELLS; i++)
        tests[i] = (struct CMUnitTest){.name = cells[i].name, .test_func = test_loop_cell,
                                       .initial_state = (void *)&cells[i]};
    tests[N_CELLS] = (struct CMUnitTest){.name = "fused equals composite",
                                         .test_func = test_loop_fused_equals_composite};
    if (argc > 1) cmocka_set_test_filter(argv[1]);
    int rc = _cmocka_run_group_tests("loops", tests, N_CELLS + 1, NULL, NULL);
    gx_registry_free(reg);
    return rc;
}
