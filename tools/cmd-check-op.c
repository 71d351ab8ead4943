/*
 * cmd-check-op.c: `gexec check-op NAME... | --all`: the op checks of engine/opcheck.h (gradient
 * against central differences, f32 against f64, backends against cpu-scalar, cells looped
 * against unrolled) on any loaded op, built-in or from a plugin, printed as a table with one
 * row per (op, case, check, backend) and a summary. The checks themselves live in the library,
 * so the test suite runs the very same code.
 */
#define _POSIX_C_SOURCE 200809L   /* clock_gettime */
#include "cli.h"
#include "opcheck.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ctest's (and automake's) "skipped": the backend asked for has no device here */
#define EXIT_SKIPPED 77
#define MAX_BACKENDS 16
#define MAX_SHAPES   1000   /* variants per example: more is a typo, not a plan */

static double wall_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void print_header(void) {
    printf("%-22s %-7s %-12s %-6s %-9s %-17s %s\n", "op", "check", "backend", "result", "error",
           "tolerance", "case");
}

static void print_row(const gx_check_result *r) {
    char err[32] = "-", tol[48] = "-";
    if (r->status != GX_CHECK_SKIP && r->n_checked > 0) snprintf(err, sizeof err, "%.2e", r->err);
    if (r->status != GX_CHECK_SKIP && r->tol > 0) {
        if (r->rel_tol > 0) snprintf(tol, sizeof tol, "%.0e+%.0e|ref|", r->tol, r->rel_tol);
        else snprintf(tol, sizeof tol, "%.0e", r->tol);
    }
    printf("%-22s %-7s %-12s %-6s %-9s %-17s %s%s%s\n", r->op, gx_check_kind_name(r->kind),
           r->backend, gx_check_status_name(r->status), err, tol, r->case_name,
           r->msg[0] ? ": " : "", r->msg);
}

/* the names of the ops asked for; 0, or the exit code after the message */
static int resolve_ops(gx_registry *reg, const cli_opts *o, int all, const gx_op ***ops,
                       int *n_ops) {
    int n = all ? gx_registry_n_ops(reg) : o->n_args;
    *ops = calloc((size_t)n + 1, sizeof **ops);
    if (*ops == NULL) return cli_failf("out of memory");
    *n_ops = n;
    for (int i = 0; i < n; i++) {
        const gx_op *op = all ? gx_registry_op_at(reg, i) : gx_registry_find_op(reg, o->args[i]);
        if (op == NULL) {
            int n_all = gx_registry_n_ops(reg);
            const char **names = calloc((size_t)n_all + 1, sizeof *names);
            for (int k = 0; names && k < n_all; k++) names[k] = gx_registry_op_at(reg, k)->name;
            const char *near = names ? gx_nearest_name(o->args[i], names, n_all) : NULL;
            cli_failf("gexec check-op: unknown op '%s'%s%s%s (gexec plugins lists the loaded ops)",
                      o->args[i], near ? "; did you mean '" : "", near ? near : "",
                      near ? "'?" : "");
            free(names);
            return 1;
        }
        (*ops)[i] = op;
    }
    return 0;
}

/* The backends to compare with cpu-scalar and whether cpu-scalar's own checks run: --backend B
 * is that one only (cpu-scalar: its own checks only); without it, cpu-scalar's checks and
 * every backend usable here. 0, or the exit code after the message. */
static int choose_backends(gx_registry *reg, const char *only, const char **names, int *n,
                           int *reference) {
    gx_diag d;
    gx_diag_init(&d);
    *n = 0;
    if (only != NULL) {
        gx_backend *be = gx_registry_find_backend(reg, only);
        if (be == NULL) {
            const char *all[64];
            int k = 0;
            for (; k < gx_registry_n_backends(reg) && k < 64; k++)
                all[k] = gx_registry_backend_at(reg, k)->name;
            const char *near = gx_nearest_name(only, all, k);
            return cli_failf("gexec check-op: unknown backend '%s'%s%s%s (gexec plugins lists "
                             "them)", only, near ? "; did you mean '" : "", near ? near : "",
                             near ? "'?" : "");
        }
        if (gx_registry_backend_score(reg, be) <= 0) {
            fprintf(stderr, "gexec: backend '%s' is not usable on this machine (no device): "
                            "nothing checked\n", only);
            return EXIT_SKIPPED;
        }
        void *ctx;
        if (gx_registry_backend_ctx(reg, be, &ctx, &d) != GX_OK) return cli_fail(&d);
        *reference = strcmp(only, GX_CHECK_REF) == 0;
        if (!*reference) names[(*n)++] = be->name;
        return 0;
    }
    *reference = 1;
    for (int i = 0; i < gx_registry_n_backends(reg) && *n < MAX_BACKENDS; i++) {
        gx_backend *be = gx_registry_backend_at(reg, i);
        void *ctx;
        if (strcmp(be->name, GX_CHECK_REF) == 0 || gx_registry_backend_score(reg, be) <= 0)
            continue;
        gx_diag_init(&d);
        if (gx_registry_backend_ctx(reg, be, &ctx, &d) != GX_OK) {
            fprintf(stderr, "gexec: note: backend '%s' is not compared: %s\n", be->name, d.msg);
            continue;
        }
        names[(*n)++] = be->name;
    }
    return 0;
}

int cmd_check_op(const cli_opts *o) {
    int all = 0;
    int64_t shapes = 2;
    for (int i = 0; i < o->n_extra; i++) {
        double v;
        if (strcmp(o->extra_name[i], "--all") == 0) {
            all = 1;
        } else if (strcmp(o->extra_name[i], "--shapes") == 0) {
            if (!cli_parse_num("check-op", "--shapes", o->extra_val[i], 0, MAX_SHAPES, &v))
                return 2;
            if (v != (double)(int64_t)v) {
                cli_failf("gexec check-op: --shapes wants a whole number, got '%s'",
                          o->extra_val[i]);
                return 2;
            }
            shapes = (int64_t)v;
        }
    }
    if (!all && o->n_args == 0) {
        cli_failf("gexec check-op: name the ops to check, or give --all (usage: gexec check-op "
                  "NAME [NAME...] | --all [--backend B])");
        return 2;
    }
    if (all && o->n_args > 0) {
        cli_failf("gexec check-op: give op names or --all, not both");
        return 2;
    }
    gx_registry *reg = cli_registry();
    if (reg == NULL) return 1;
    const gx_op **ops = NULL;
    int n_ops = 0, reference = 0, n_be = 0;
    const char *backends[MAX_BACKENDS];
    int rc = resolve_ops(reg, o, all, &ops, &n_ops);
    if (rc == 0) rc = choose_backends(reg, o->backend, backends, &n_be, &reference);
    if (rc != 0) {
        free(ops);
        gx_registry_free(reg);
        return rc;
    }
    gx_check_opts opts;
    gx_check_opts_default(&opts);
    if (o->seed_given) opts.seed = o->seed;
    opts.n_shapes = (int32_t)shapes;
    opts.reference = reference;
    opts.backends = backends;
    opts.n_backends = n_be;

    printf("check-op: %d op%s; %s", n_ops, n_ops == 1 ? "" : "s",
           reference ? "cpu-scalar's own checks (grad, f32, loop)" : "");
    for (int k = 0; k < n_be; k++)
        printf("%s%s", k == 0 ? (reference ? "; " : "") : ", ", backends[k]);
    if (n_be) printf(" against cpu-scalar");
    printf("; seed %llu, %lld shape variant%s per example\n\n", (unsigned long long)opts.seed,
           (long long)shapes, shapes == 1 ? "" : "s");
    print_header();
    gx_check_report rep = {0};
    double t0 = wall_s();
    for (int i = 0; i < n_ops && rc == 0; i++) {
        int32_t from = rep.n;
        if (gx_check_op(reg, ops[i], &opts, &rep) != GX_OK) rc = cli_failf("out of memory");
        for (int32_t k = from; k < rep.n; k++) print_row(&rep.results[k]);
        fflush(stdout);   /* a long --all run shows its progress op by op */
    }
    double total = wall_s() - t0;
    if (rc == 0) {
        int32_t n_fail = gx_check_report_count(&rep, GX_CHECK_FAIL);
        printf("\ncheck-op: %d op%s, %d checks: %d passed, %d failed, %d skipped in %.2f s",
               n_ops, n_ops == 1 ? "" : "s", (int)rep.n,
               (int)gx_check_report_count(&rep, GX_CHECK_PASS), (int)n_fail,
               (int)gx_check_report_count(&rep, GX_CHECK_SKIP), total);
        /* time per backend: cpu-scalar's own checks, then each compared backend (whose
         * comparison includes its cpu-scalar reference run) */
        const char *names[MAX_BACKENDS + 1];
        int n_names = 0;
        if (reference) names[n_names++] = GX_CHECK_REF;
        for (int k = 0; k < n_be; k++) names[n_names++] = backends[k];
        for (int k = 0; k < n_names; k++) {
            double s = 0;
            for (int32_t j = 0; j < rep.n; j++)
                if (strcmp(rep.results[j].backend, names[k]) == 0) s += rep.results[j].seconds;
            printf("%s%s %.2f s", k == 0 ? " (" : ", ", names[k], s);
        }
        printf("%s\n", n_names ? ")" : "");
        fflush(stdout);   /* the table, then the error line, in that order on a terminal */
        if (n_fail > 0) {
            fprintf(stderr, "gexec: error: check-op: %d check%s failed (the FAIL rows above)\n",
                    (int)n_fail, n_fail == 1 ? "" : "s");
            rc = 1;
        }
    }
    gx_check_report_free(&rep);
    free(ops);
    gx_registry_free(reg);
    return rc;
}
