/*
 * fuzz-graph.c: a .graph text through the whole front end: lex and parse, lower (names, dims,
 * defs, imports, loops, shape inference through the op plugins) and, for a graph with a loss,
 * reverse mode. Nothing is planned or run. Dims declared without a value are bound to small
 * numbers, as the data would bind them, so the example graphs lower as seeds.
 * The source is named <source dir>/graphs/fuzz.graph, so `import "lib/cells.graph"` resolves.
 */
#include "fuzz.h"

#include "ast.h"
#include "autodiff.h"
#include "lower.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef GX_FUZZ_SOURCE_DIR
#define GX_FUZZ_SOURCE_DIR "."
#endif

static gx_registry *reg;

int gx_fuzz_graph_init(void) {
    reg = gx_fuzz_registry();
    return reg ? 0 : 1;
}

int gx_fuzz_graph(const uint8_t *data, size_t size) {
    if (reg == NULL) abort();
    gx_diag d;
    gx_diag_init(&d);
    gx_ast_module *m = NULL;
    gx_status st = gx_parse((const char *)data, size, GX_FUZZ_SOURCE_DIR "/graphs/fuzz.graph", &m,
                            &d);
    gx_fuzz_check_msg("gx_parse", st, d.msg);
    if (st != GX_OK) return 0;
    /* unvalued dims get 2, 3, 2, 3, ...: small enough that shapes stay tiny */
    enum { MAX_BINDS = 16 };
    gx_dim_binding b[MAX_BINDS];
    int n = 0;
    for (int i = 0; i < m->n_stmts && n < MAX_BINDS; i++) {
        const gx_ast_stmt *s = m->stmts[i];
        if (s->kind != GX_STMT_DIM || s->value != NULL || s->name == NULL) continue;
        int dup = 0;
        for (int k = 0; k < n; k++) dup |= strcmp(b[k].name, s->name) == 0;
        if (!dup) {
            b[n] = (gx_dim_binding){s->name, 2 + (n & 1)};
            n++;
        }
    }
    /* the training graph (dropout active), loops as the graph says */
    gx_lower_opts o = {.binds = b, .n_binds = n, .unroll = -1, .train = 1};
    gx_graph *g = NULL;
    st = gx_lower_with(m, reg, &o, &g, &d);
    gx_fuzz_check_msg("gx_lower_with", st, d.msg);
    if (st != GX_OK) {
        gx_ast_free(m);
        return 0;
    }
    if (g->loss != GX_VAL_NONE) {
        st = gx_autodiff(g, g->loss, &d);
        gx_fuzz_check_msg("gx_autodiff", st, d.msg);
    }
    gx_graph_free(g);
    return 0;
}

GX_FUZZ_ENTRY(graph)
