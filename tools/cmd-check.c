/* cmd-check.c: `gexec check` (what a graph declares and infers) and `gexec dot` (Graphviz). */
#include "autodiff.h"
#include "cli.h"
#include "init.h"

#include <string.h>

static void print_value_line(const char *name, const gx_value *v, const char *extra) {
    char s[160];
    printf("  %-20s %s%-18s %s\n", name, gx_dtype_name(v->info.dtype),
           gx_shape_str(&v->info.shape, s, sizeof s), extra ? extra : "");
}

static void init_text(const gx_init *in, char *buf, size_t n) {
    switch (in->scheme) {
    case GX_INIT_ZEROS:
    case GX_INIT_ONES: snprintf(buf, n, "%s", gx_init_name(in->scheme)); break;
    case GX_INIT_CONSTANT: snprintf(buf, n, "constant(%g)", in->a); break;
    case GX_INIT_NORMAL:
    case GX_INIT_UNIFORM: snprintf(buf, n, "%s(%g, %g)", gx_init_name(in->scheme), in->a, in->b); break;
    default: snprintf(buf, n, "%s(%g)", gx_init_name(in->scheme), in->a); break;
    }
}

int cmd_check(const cli_opts *o) {
    gx_registry *reg;
    gx_graph *g;
    int rc = cli_open(o, &reg, &g);
    if (rc) return rc;
    gx_diag d;
    gx_diag_init(&d);
    printf("graph %s (%s)\n", g->name, o->graph);
    if (g->n_dims) {
        printf("dims:");
        for (int32_t i = 0; i < g->n_dims; i++)
            printf("%s %s = %lld", i ? "," : "", g->dims[i].name, (long long)g->dims[i].value);
        printf("\n");
    }
    printf("inputs:\n");
    if (g->n_inputs == 0) printf("  (none)\n");
    for (int32_t i = 0; i < g->n_inputs; i++) {
        const gx_named *in = &g->inputs[i];
        char extra[160];
        const char *next = in->next != GX_VAL_NONE ? g->values[in->next].name : NULL;
        snprintf(extra, sizeof extra, "%s%s%s%s", in->zero_default ? "state, zeros unless fed" : "",
                 in->next != GX_VAL_NONE ? (in->zero_default ? "; " : "state; ") : "",
                 in->next != GX_VAL_NONE ? "carried on as " : "",
                 in->next != GX_VAL_NONE ? (next ? next : "the loop's final carry") : "");
        print_value_line(in->name, &g->values[in->val], extra[0] ? extra : NULL);
    }
    printf("params:\n");
    if (g->n_params == 0) printf("  (none)\n");
    int64_t total = 0;
    for (int32_t i = 0; i < g->n_params; i++) {
        const gx_value *v = &g->values[g->params[i].val];
        char extra[128], it[64];
        int64_t n = gx_shape_numel(&v->info.shape);
        total += n;
        init_text(&g->params[i].init, it, sizeof it);
        snprintf(extra, sizeof extra, "%10lld  init %s", (long long)n, it);
        print_value_line(g->params[i].name, v, extra);
    }
    if (g->n_params) printf("  %-20s %lld parameters\n", "total", (long long)total);
    printf("outputs:\n");
    if (g->n_outputs == 0) printf("  (none)\n");
    for (int32_t i = 0; i < g->n_outputs; i++)
        print_value_line(g->outputs[i].name, &g->values[g->outputs[i].val],
                         g->outputs[i].val == g->loss ? "(loss)" : NULL);
    int32_t n_fwd = g->n_nodes, n_loops = 0;
    for (int32_t n = 0; n < g->n_nodes; n++) n_loops += g->nodes[n].loop != NULL;
    printf("nodes: %d forward", (int)n_fwd);
    if (n_loops) printf(" (%d loop%s)", (int)n_loops, n_loops == 1 ? "" : "s");
    if (g->loss != GX_VAL_NONE) {
        /* building the backward graph checks every VJP on the way */
        if (gx_autodiff(g, g->loss, &d) != GX_OK) {
            printf("\n");
            rc = cli_fail(&d);
            goto out;
        }
        printf(", %d backward", (int)(g->n_nodes - n_fwd));
    }
    printf("\n");
out:
    gx_graph_free(g);
    gx_registry_free(reg);
    return rc;
}

/* ---- dot ---- */

static void dot_escape(const char *s, FILE *f) {
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', f);
        fputc(*s, f);
    }
}

int cmd_dot(const cli_opts *o) {
    gx_registry *reg;
    gx_graph *g;
    int rc = cli_open(o, &reg, &g);
    if (rc) return rc;
    gx_diag d;
    gx_diag_init(&d);
    if (o->backward) {
        if (g->loss == GX_VAL_NONE) {
            rc = cli_failf("%s: --backward needs a loss (a value named `loss`)", o->graph);
            goto out;
        }
        if (gx_autodiff(g, g->loss, &d) != GX_OK) {
            rc = cli_fail(&d);
            goto out;
        }
    }
    FILE *f = stdout;
    fprintf(f, "digraph \"");
    dot_escape(g->name, f);
    fprintf(f, "\" {\n  rankdir=TB;\n  node [fontname=\"Helvetica\", fontsize=10];\n"
               "  edge [fontname=\"Helvetica\", fontsize=9];\n");
    for (int32_t v = 0; v < g->n_values; v++) {
        const gx_value *val = &g->values[v];
        if (val->kind == GX_VALUE_NODE) continue;
        char s[160];
        fprintf(f, "  v%d [shape=%s, label=\"", (int)v,
                val->kind == GX_VALUE_PARAM ? "box, style=filled, fillcolor=lightyellow" : "box, style=rounded");
        dot_escape(val->name, f);
        fprintf(f, "\\n%s%s\"];\n", gx_dtype_name(val->info.dtype), gx_shape_str(&val->info.shape, s, sizeof s));
    }
    for (int32_t n = 0; n < g->n_nodes; n++) {
        const gx_node *nd = &g->nodes[n];
        fprintf(f, "  n%d [shape=ellipse%s, label=\"%s\\nline %d\"];\n", (int)n,
                nd->backward ? ", style=filled, fillcolor=mistyrose" : "", nd->op->name,
                (int)nd->pos.line);
        for (int32_t i = 0; i < nd->n_in; i++) {
            const gx_value *src = &g->values[nd->in[i]];
            char s[160];
            gx_shape_str(&src->info.shape, s, sizeof s);
            if (src->kind == GX_VALUE_NODE)
                fprintf(f, "  n%d -> n%d [label=\"%s\"];\n", (int)src->node, (int)n, s);
            else
                fprintf(f, "  v%d -> n%d;\n", (int)nd->in[i], (int)n);
        }
    }
    for (int32_t i = 0; i < g->n_outputs; i++) {
        const gx_value *v = &g->values[g->outputs[i].val];
        fprintf(f, "  out%d [shape=box, style=\"rounded,bold\", label=\"", (int)i);
        dot_escape(g->outputs[i].name, f);
        fprintf(f, "\"];\n");
        if (v->kind == GX_VALUE_NODE) fprintf(f, "  n%d -> out%d;\n", (int)v->node, (int)i);
        else fprintf(f, "  v%d -> out%d;\n", (int)g->outputs[i].val, (int)i);
    }
    fprintf(f, "}\n");
out:
    gx_graph_free(g);
    gx_registry_free(reg);
    return rc;
}
