/* cmd-run.c: `gexec init` (initial parameters), `gexec run` (forward) and `gexec grad`. */
#include "autodiff.h"
#include "cli.h"
#include "init.h"

#include <stdlib.h>

int cmd_init(const cli_opts *o) {
    if (o->out == NULL) return cli_failf("gexec init: --out FILE is required");
    gx_registry *reg;
    gx_graph *g;
    int rc = cli_open(o, &reg, &g);
    if (rc) return rc;
    gx_diag d;
    gx_diag_init(&d);
    gx_status st = GX_OK;
    gx_st_writer *w = gx_st_writer_new();
    if (w == NULL) st = gx_diag_set(&d, GX_ERR_NOMEM, "out of memory");
    for (int32_t i = 0; st == GX_OK && i < g->n_params; i++) {
        const gx_value *v = &g->values[g->params[i].val];
        size_t bytes = (size_t)gx_value_bytes(v);
        void *buf = malloc(bytes ? bytes : 1);
        if (buf == NULL) {
            st = gx_diag_set(&d, GX_ERR_NOMEM, "out of memory");
            break;
        }
        st = gx_init_fill(&g->params[i].init, &v->info, o->seed, g->params[i].name, buf, &d);
        if (st == GX_OK) st = gx_st_writer_add(w, g->params[i].name, v->info.dtype, &v->info.shape, buf, &d);
        free(buf);
    }
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)o->seed);
    if (st == GX_OK) st = gx_st_writer_meta(w, "gexec.graph", g->name);
    if (st == GX_OK) st = gx_st_writer_meta(w, "gexec.seed", seed);
    if (st == GX_OK) st = gx_st_writer_save(w, o->out, &d);
    if (st == GX_OK)
        fprintf(stderr, "gexec: wrote %d params of '%s' to %s (seed %s)\n", (int)g->n_params,
                g->name, o->out, seed);
    gx_st_writer_free(w);
    gx_graph_free(g);
    gx_registry_free(reg);
    return st == GX_OK ? 0 : cli_fail(&d);
}

/* one line per output: name, type and the first values; the loss with full precision */
static gx_status print_output(gx_exec *e, const gx_graph *g, int32_t i, gx_diag *d) {
    enum { SHOW = 6 };
    const gx_value *v = &g->values[g->outputs[i].val];
    int64_t n = gx_shape_numel(&v->info.shape);
    size_t bytes = (size_t)n * gx_dtype_size(v->info.dtype);
    void *buf = malloc(bytes ? bytes : 1);
    if (buf == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    gx_status st = gx_exec_read(e, g->outputs[i].val, buf, bytes, d);
    if (st == GX_OK) {
        char s[160];
        printf("%-12s %s%-12s =", g->outputs[i].name, gx_dtype_name(v->info.dtype),
               gx_shape_str(&v->info.shape, s, sizeof s));
        for (int64_t k = 0; k < n && k < SHOW; k++) {
            double x = v->info.dtype == GX_DTYPE_F64   ? ((double *)buf)[k]
                       : v->info.dtype == GX_DTYPE_F32 ? ((float *)buf)[k]
                                                       : ((int32_t *)buf)[k];
            /* a scalar (the loss) with the digits that round-trip its dtype */
            int digits = v->info.dtype == GX_DTYPE_F64 ? 17 : v->info.dtype == GX_DTYPE_I32 ? 10 : 9;
            printf(" %.*g", n == 1 ? digits : 5, x);
        }
        printf("%s\n", n > SHOW ? " ..." : "");
    }
    free(buf);
    return st;
}

static int run_graph(const cli_opts *o, int with_grad) {
    const char *verb = with_grad ? "grad" : "run";
    if (o->out == NULL) return cli_failf("gexec %s: --out FILE is required", verb);
    gx_diag d;
    gx_diag_init(&d);
    gx_st_file *inputs = NULL, *params = NULL;
    gx_graph *g = NULL;
    gx_exec *e = NULL;
    gx_registry *reg = NULL;
    gx_status st = GX_OK;
    if (o->inputs) st = gx_st_read_file(o->inputs, &inputs, &d);
    if (st == GX_OK && o->params) st = gx_st_read_file(o->params, &params, &d);
    if (st == GX_OK && (reg = cli_registry()) == NULL) st = GX_ERR_PLUGIN; /* message printed */
    if (st == GX_OK) st = cli_load_graph(reg, o, inputs, &g, &d);
    if (st == GX_OK && with_grad) {
        if (g->loss == GX_VAL_NONE)
            st = gx_diag_set(&d, GX_ERR_INVALID, "%s: gexec grad needs a loss: name a value "
                             "`loss` (e.g. loss = mse(y, target))", o->graph);
        else st = gx_autodiff(g, g->loss, &d);
    }
    if (st == GX_OK) st = gx_exec_new(g, o->backend, NULL, 0, &e, &d);
    if (st == GX_OK) st = cli_feed(e, g, g->inputs, g->n_inputs, inputs, o->inputs, "input", &d);
    if (st == GX_OK) st = cli_feed(e, g, g->params, g->n_params, params, o->params, "param", &d);
    if (st == GX_OK) st = gx_exec_run(e, &d);
    if (st == GX_OK) st = cli_save_outputs(e, g, o->out, &d);
    for (int32_t i = 0; st == GX_OK && i < g->n_outputs; i++) st = print_output(e, g, i, &d);
    if (st == GX_OK)
        fprintf(stderr, "gexec: %s on %s: wrote %d output%s to %s\n", g->name,
                gx_exec_backend_name(e), (int)g->n_outputs, g->n_outputs == 1 ? "" : "s", o->out);
    int rc = st == GX_OK ? 0 : (reg == NULL && st == GX_ERR_PLUGIN ? 1 : cli_fail(&d));
    gx_exec_free(e);
    gx_graph_free(g);
    gx_registry_free(reg);
    gx_st_free(inputs);
    gx_st_free(params);
    return rc;
}

int cmd_run(const cli_opts *o) { return run_graph(o, 0); }
/* grad computes what training computes: dropout acts (with the key gx.rng, zeros unless fed) */
int cmd_grad(const cli_opts *o) {
    cli_opts t = *o;
    t.train = 1;
    return run_graph(&t, 1);
}
