/*
 * cmd-diag.c: `gexec diag CKPT|MODEL.graph --data FILE`: the figures `gexec train --diag`
 * logs, for one forward and backward pass on one batch of a model that already exists (a
 * checkpoint: its params, dims and graph) or of a fresh initialisation (a .graph file), printed
 * as tables. No update is made; --diag DIR also writes the record as diag.jsonl.
 */
#include "cli.h"
#include "monitor.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct diag_opts {
    int64_t        index;
    gx_dim_binding dims[CLI_MAX_DIMS];
    int            n_dims;
    char          *dims_text;    /* the checkpoint's "V=65,B=32,...", owned */
} diag_opts;

static int diag_flags(const cli_opts *o, gx_train_config *c, void *user) {
    diag_opts *u = user;
    c->diag = 1;
    c->diag_every = 1;
    c->dims = o->dims;
    c->n_dims = o->n_dims;
    if (o->seed_given) c->seed = o->seed;
    if (o->backend) c->backend = o->backend;
    if (u->n_dims) {   /* a checkpoint's dims, then --dim over them */
        for (int i = 0; i < o->n_dims && u->n_dims < CLI_MAX_DIMS; i++) u->dims[u->n_dims++] = o->dims[i];
        c->dims = u->dims;
        c->n_dims = u->n_dims;
    }
    for (int i = 0; i < c->n_dims; i++) {   /* the data set's batch is the graph's B and T */
        if (strcmp(c->dims[i].name, "B") == 0) {
            c->batch = c->dims[i].value;
            c->batch_flag = 1;
        }
        if (strcmp(c->dims[i].name, "T") == 0) c->bptt = c->dims[i].value;
    }
    for (int k = 0; k < o->n_extra; k++) {
        const char *n = o->extra_name[k], *a = o->extra_val[k];
        if (strcmp(n, "--data") == 0) c->data = a;
        else if (strcmp(n, "--task") == 0) c->task = a;
        else if (strcmp(n, "--diag") == 0) c->diag_dir = a;
        else if (strcmp(n, "--bytes") == 0) c->bytes = 1;
        else if (strcmp(n, "--diag-buckets") == 0) {
            int64_t b;
            if (!cli_parse_count("diag", n, a, 0, &b)) return 0;
            c->diag_buckets = (int32_t)(b > 64 ? 64 : b);
        } else if (strcmp(n, "--batch-index") == 0) {
            if (!cli_parse_count("diag", n, a, 0, &u->index)) return 0;
        }
    }
    return 1;
}

/* "V=65,B=32" into bindings (names point into text, which is modified) */
static void parse_dims(char *text, diag_opts *u) {
    for (char *p = text; p && *p && u->n_dims < CLI_MAX_DIMS;) {
        char *comma = strchr(p, ',');
        if (comma) *comma = '\0';
        char *eq = strchr(p, '=');
        if (eq) {
            *eq = '\0';
            u->dims[u->n_dims++] = (gx_dim_binding){.name = p, .value = strtoll(eq + 1, NULL, 10)};
        }
        p = comma ? comma + 1 : NULL;
    }
}

/* a distribution probe: its entropy, and batch row 0's weights when they fit a terminal */
static void print_dist(const gx_mon_record *r, const gx_mon_gate *G) {
    if (G->dist == NULL) return;
    const gx_dist_cut *c = &G->cut;
    printf("\ndistribution %s/%s: mean entropy %.4g nats (uniform over %lld: %.4g)\n",
           r->layers[G->layer].name, G->probe, G->entropy, (long long)c->width,
           log((double)c->width));
    if (c->rows > 16 || c->cols > 12) {
        printf("  batch row 0: %d x %d weights (in --diag DIR/diag.jsonl; gexec report draws "
               "them)\n", (int)c->rows, (int)c->cols);
        return;
    }
    printf("  batch element 0, a distribution per row (a time step in a loop):\n");
    for (int32_t i = 0; i < c->rows; i++) {
        printf("  %4lld ", (long long)i * c->row_stride);
        for (int32_t k = 0; k < c->cols; k++) printf(" %5.3f", G->dist[i * c->cols + k]);
        printf("\n");
    }
}

static void print_record(const gx_mon_record *r, double clip) {
    printf("loss %.6g   gradient norm %.6g", r->loss, r->grad_norm);
    if (clip > 0) printf(" (clip %g: %s)", clip, r->clipped ? "would clip" : "not clipped");
    printf("\n\n%-16s %12s %12s %12s\n", "param", "norm", "grad norm", "grad/norm");
    for (int32_t i = 0; i < r->n_params; i++) {
        const gx_mon_param *P = &r->params[i];
        printf("%-16s %12.5g %12.5g %12.5g\n", P->name, P->norm, P->grad_norm,
               P->norm > 0 ? P->grad_norm / P->norm : NAN);
    }
    int any = 0;
    for (int32_t i = 0; i < r->n_params; i++) {
        const gx_mon_param *P = &r->params[i];
        if (!P->recurrent) continue;
        if (!any++) printf("\n%-16s %12s   %s\n", "recurrent", "sigma_max", "spectral radius per gate block");
        printf("%-16s %12.5g  ", P->name, P->spec.sigma_max);
        for (int32_t b = 0; b < P->spec.blocks; b++) printf(" %8.4f", P->spec.rho[b]);
        printf("\n");
    }
    if (r->n_gates)
        printf("\n%-10s %-14s %8s %8s %8s %8s %8s %10s\n", "layer", "probe", "mean", "std", "p5",
               "p50", "p95", "saturated");
    for (int32_t i = 0; i < r->n_gates; i++) {
        const gx_mon_gate *G = &r->gates[i];
        const gx_summary *s = &G->all;
        printf("%-10s %-14s %8.4f %8.4f %8.4f %8.4f %8.4f ", r->layers[G->layer].name, G->probe,
               s->mean, s->std, s->p5, s->p50, s->p95);
        if (isnan(s->saturated)) printf("%10s\n", "-");
        else printf("%9.2f%%\n", 100 * s->saturated);
    }
    for (int32_t i = 0; i < r->n_gates; i++) print_dist(r, &r->gates[i]);
    for (int32_t i = 0; i < r->n_grad_time; i++) {
        const gx_mon_series *S = &r->grad_time[i];
        printf("\ngradient through time, layer %s, ||dL/d%s_t|| by lag k = T-1-t:\n",
               r->layers[S->layer].name, S->carry);
        for (int64_t lag = 0; lag < S->T; lag = lag ? lag * 2 : 1)
            printf("  k=%-5lld %12.5g\n", (long long)lag, S->norm[S->T - 1 - lag]);
        if (S->T > 1 && S->norm[S->T - 1] > 0)
            printf("  k=%-5lld %12.5g   (first step / last step: %.3g)\n", (long long)(S->T - 1),
                   S->norm[0], S->norm[0] / S->norm[S->T - 1]);
    }
    for (int32_t i = 0; i < r->n_states; i++) {
        const gx_mon_series *S = &r->states[i];
        double n = 0, sat = 0;
        for (int64_t t = 0; t < S->T; t++) {
            n += S->norm[t];
            sat += S->saturated[t];
        }
        printf("%sstate %s.%s: mean norm %.4g, %.2f%% of units saturated (|x| > 0.95)\n",
               i ? "" : "\n", r->layers[S->layer].name, S->carry, n / (double)S->T,
               100 * sat / (double)S->T);
    }
}

int cmd_diag(const cli_opts *o) {
    diag_opts u = {0};
    gx_diag d;
    gx_diag_init(&d);
    size_t len = strlen(o->graph);
    int is_graph = len > 6 && strcmp(o->graph + len - 6, ".graph") == 0;
    gx_checkpoint *ck = NULL;
    if (!is_graph) {
        if (gx_checkpoint_read(o->graph, &ck, &d) != GX_OK) return cli_fail(&d);
        u.dims_text = gx_strdup(ck->dims);
        if (u.dims_text == NULL) {
            gx_checkpoint_free(ck);
            return cli_failf("out of memory");
        }
        parse_dims(u.dims_text, &u);
    }
    gx_train_config c;
    gx_registry *reg;
    gx_trainer *t;
    int rc = is_graph ? cli_trainer(o, diag_flags, &u, &c, &reg, &t)
                      : cli_trainer_text(o, ck->graph_path, ck->graph_text, strlen(ck->graph_text),
                                         o->graph, diag_flags, &u, &c, &reg, &t);
    if (rc == 0) {
        gx_status st = gx_trainer_diagnose(t, u.index, &d);
        for (int k = 0; st == GX_OK && k < o->n_extra; k++)
            if (strcmp(o->extra_name[k], "--save-batch") == 0)
                st = gx_trainer_save_batch(t, o->extra_val[k], &d);
        if (st == GX_OK) {
            printf("gexec diag: %s, %s batch %lld%s\n\n", o->graph,
                   is_graph ? "fresh initialisation," : "checkpoint,", (long long)u.index,
                   c.diag_dir ? " (record in --diag DIR)" : "");
            print_record(gx_trainer_record(t), c.clip);
        } else rc = cli_fail(&d);
        gx_trainer_free(t);
        gx_registry_free(reg);
    }
    gx_checkpoint_free(ck);
    free(u.dims_text);
    return rc;
}
