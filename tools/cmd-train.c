/*
 * cmd-train.c: `gexec train`: settings (the graph's train block, then flags), the trainer,
 * and its progress: one live line on a terminal, plain log lines otherwise.
 */
#define _POSIX_C_SOURCE 200809L   /* isatty */
#include "cli.h"
#include "dist.h"
#include "train.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cli_parse_num(const char *verb, const char *flag, const char *s, double lo, double hi,
                  double *out) {
    char *end;
    errno = 0;
    double v = s ? strtod(s, &end) : 0;
    if (s == NULL || *s == '\0' || errno || *end || !(v >= lo && v <= hi)) {
        cli_failf("gexec %s: %s wants a number in [%g, %g], got '%s'", verb, flag, lo, hi,
                  s ? s : "");
        return 0;
    }
    *out = v;
    return 1;
}

int cli_parse_count(const char *verb, const char *flag, const char *s, int64_t lo, int64_t *out) {
    double v;
    if (!cli_parse_num(verb, flag, s, (double)lo, 9.0e15, &v)) return 0;
    if (v != floor(v)) {
        cli_failf("gexec %s: %s wants a whole number, got '%s'", verb, flag, s);
        return 0;
    }
    *out = (int64_t)v;
    return 1;
}

#define parse_num(flag, s, lo, hi, out) cli_parse_num("train", flag, s, lo, hi, out)
#define parse_count(flag, s, lo, out)   cli_parse_count("train", flag, s, lo, out)

static gx_dist *dist;   /* --distributed: MPI, started before the trainer */

/* flags override the graph's train block */
static int apply_flags(const cli_opts *o, gx_train_config *c) {
    int64_t i;
    c->dims = o->dims;
    c->n_dims = o->n_dims;
    if (o->seed_given) c->seed = o->seed;
    if (o->backend) c->backend = o->backend;
    if (o->unroll == 1) c->unroll = 1;
    /* the optimizer first: it resets its own defaults, which --lr etc. then override */
    for (int k = 0; k < o->n_extra; k++)
        if (strcmp(o->extra_name[k], "--optimizer") == 0) {
            gx_optim_kind kind;
            if (gx_optim_parse_kind(o->extra_val[k], &kind) != 0) {
                cli_failf("gexec train: unknown optimizer '%s' (sgd, adam, adamw, rmsprop)",
                          o->extra_val[k]);
                return 0;
            }
            c->optim = gx_optim_defaults(kind);
        }
    for (int k = 0; k < o->n_extra; k++) {
        const char *n = o->extra_name[k], *a = o->extra_val[k];
        if (strcmp(n, "--data") == 0) c->data = a;
        else if (strcmp(n, "--task") == 0) c->task = a;
        else if (strcmp(n, "--steps") == 0) { if (!parse_count(n, a, 1, &c->steps)) return 0; }
        else if (strcmp(n, "--epochs") == 0) { if (!parse_count(n, a, 1, &c->epochs)) return 0; }
        else if (strcmp(n, "--batch") == 0) {
            if (!parse_count(n, a, 1, &c->batch)) return 0;
            c->batch_flag = 1;
        }
        else if (strcmp(n, "--bptt") == 0) { if (!parse_count(n, a, 1, &c->bptt)) return 0; }
        else if (strcmp(n, "--lr") == 0) { if (!parse_num(n, a, 0, 1e6, &c->optim.lr)) return 0; }
        else if (strcmp(n, "--momentum") == 0) { if (!parse_num(n, a, 0, 0.9999999, &c->optim.momentum)) return 0; }
        else if (strcmp(n, "--nesterov") == 0) c->optim.nesterov = 1;
        else if (strcmp(n, "--weight-decay") == 0) { if (!parse_num(n, a, 0, 1e6, &c->optim.weight_decay)) return 0; }
        else if (strcmp(n, "--schedule") == 0) {
            if (strcmp(a, "constant") == 0) c->sched.kind = GX_SCHED_CONSTANT;
            else if (strcmp(a, "cosine") == 0) c->sched.kind = GX_SCHED_COSINE;
            else if (strcmp(a, "step") == 0) c->sched.kind = GX_SCHED_STEP;
            else {
                cli_failf("gexec train: unknown schedule '%s' (constant, cosine, step)", a);
                return 0;
            }
        } else if (strcmp(n, "--warmup") == 0) { if (!parse_count(n, a, 0, &c->sched.warmup)) return 0; }
        else if (strcmp(n, "--step-every") == 0) { if (!parse_count(n, a, 1, &c->sched.every)) return 0; }
        else if (strcmp(n, "--gamma") == 0) { if (!parse_num(n, a, 0, 1e6, &c->sched.gamma)) return 0; }
        else if (strcmp(n, "--min-lr") == 0) { if (!parse_num(n, a, 0, 1e6, &c->sched.min_lr)) return 0; }
        else if (strcmp(n, "--clip") == 0) { if (!parse_num(n, a, 0, 1e30, &c->clip)) return 0; }
        else if (strcmp(n, "--clip-value") == 0) { if (!parse_num(n, a, 0, 1e30, &c->clip_value)) return 0; }
        else if (strcmp(n, "--threads") == 0) {
            if (!parse_count(n, a, 1, &i)) return 0;
            c->threads = (int)i;
        } else if (strcmp(n, "--device") == 0) {
            if (!parse_count(n, a, 0, &i) || i > 1000) {
                if (i > 1000) cli_failf("gexec train: --device wants an index from `gexec plugins`, got '%s'", a);
                return 0;
            }
            c->device = (int)i;
        } else if (strcmp(n, "--val-every") == 0) { if (!parse_count(n, a, 0, &c->val_every)) return 0; }
        else if (strcmp(n, "--val-batches") == 0) { if (!parse_count(n, a, 0, &c->val_batches)) return 0; }
        else if (strcmp(n, "--val-frac") == 0) { if (!parse_num(n, a, 0, 0.9, &c->val_frac)) return 0; }
        else if (strcmp(n, "--bytes") == 0) c->bytes = 1;
        else if (strcmp(n, "--checkpoint") == 0) c->checkpoint = a;
        else if (strcmp(n, "--checkpoint-every") == 0) { if (!parse_count(n, a, 0, &c->checkpoint_every)) return 0; }
        else if (strcmp(n, "--resume") == 0) c->resume = a;
        else if (strcmp(n, "--log-every") == 0) { if (!parse_count(n, a, 1, &c->log_every)) return 0; }
        else if (strcmp(n, "--diag") == 0) c->diag_dir = a;
        else if (strcmp(n, "--tensorboard") == 0) c->tensorboard = a;
        else if (strcmp(n, "--diag-every") == 0) { if (!parse_count(n, a, 1, &c->diag_every)) return 0; }
        else if (strcmp(n, "--diag-buckets") == 0) {
            if (!parse_count(n, a, 0, &i)) return 0;
            c->diag_buckets = (int32_t)(i > 64 ? 64 : i);
        } else if (strcmp(n, "--nan") == 0) {
            if (strcmp(a, "stop") != 0 && strcmp(a, "skip") != 0) {
                cli_failf("gexec train: --nan takes stop or skip, not '%s'", a);
                return 0;
            }
            c->nan_skip = strcmp(a, "skip") == 0;
        } else if (strcmp(n, "--distributed") == 0) c->dist = dist;
        else if (strcmp(n, "--dist-check") == 0) c->dist_check = 1;
        else if (strcmp(n, "--bucket-mb") == 0) { if (!parse_num(n, a, 1e-6, 1024, &c->bucket_mb)) return 0; }
    }
    if (c->sched.kind == GX_SCHED_STEP && c->sched.every <= 0) {
        cli_failf("gexec train: --schedule step needs --step-every N");
        return 0;
    }
    if (c->optim.nesterov && c->optim.momentum <= 0) {
        cli_failf("gexec train: --nesterov needs --momentum > 0");
        return 0;
    }
    return 1;
}

/* ---- progress ---- */

typedef struct progress {
    int  tty, quiet;
    int64_t log_every;
    int  line_open;     /* a live line is on screen */
} progress;

static void fmt_time(double s, char *buf, size_t n) {
    if (!(s >= 0) || s > 1e7) {
        snprintf(buf, n, "--");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ldh%02ldm", t / 3600, (t / 60) % 60);
    else if (t >= 60) snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
    else snprintf(buf, n, "%lds", t);
}

static void metrics_text(const gx_train_event *e, char *buf, size_t n) {
    size_t len = 0;
    buf[0] = '\0';
    for (int32_t m = 0; m < e->n_metrics && len < n; m++)
        len += (size_t)snprintf(buf + len, n - len, "  %s %.4f", e->metric_names[m], e->metrics[m]);
}

static void close_line(progress *p) {
    if (p->line_open) {
        fprintf(stderr, "\n");
        p->line_open = 0;
    }
}

static void report(void *user, const gx_train_event *e) {
    progress *p = user;
    char el[32], eta[32], mt[256];
    switch (e->kind) {
    case GX_TRAIN_START:
        if (!p->quiet) fprintf(stderr, "gexec: training %s\n", e->message);
        break;
    case GX_TRAIN_STEP: {
        if (p->quiet) break;
        int show = p->tty || e->step % p->log_every == 0 || e->step == 1 || e->step == e->steps;
        if (!show) break;
        fmt_time(e->elapsed_s, el, sizeof el);
        fmt_time(e->eta_s, eta, sizeof eta);
        metrics_text(e, mt, sizeof mt);
        if (p->tty) {
            fprintf(stderr, "\r\033[Kstep %lld/%lld  epoch %.2f  loss %.4f%s  |g| %.3g%s  lr %.3g  "
                    "%.0f tok/s  %s  eta %s", (long long)e->step, (long long)e->steps,
                    e->epoch_frac, e->loss, mt, e->grad_norm, e->clipped ? " (clipped)" : "",
                    e->lr, e->tokens_per_s, el, eta);
            p->line_open = 1;
        } else {
            fprintf(stderr, "step %lld/%lld  epoch %.2f  loss %.4f%s  |g| %.3g%s  lr %.3g  "
                    "%.0f tok/s  elapsed %s  eta %s\n", (long long)e->step, (long long)e->steps,
                    e->epoch_frac, e->loss, mt, e->grad_norm, e->clipped ? " (clipped)" : "",
                    e->lr, e->tokens_per_s, el, eta);
        }
        fflush(stderr);
        break;
    }
    case GX_TRAIN_VALID:
        if (p->quiet) break;
        close_line(p);
        metrics_text(e, mt, sizeof mt);
        fprintf(stderr, "step %lld  validation loss %.4f (%.4f bits)%s\n", (long long)e->step,
                e->loss, e->loss / log(2.0), mt);
        break;
    case GX_TRAIN_CHECKPOINT:
        if (p->quiet) break;
        close_line(p);
        fprintf(stderr, "step %lld  checkpoint %s\n", (long long)e->step, e->path);
        break;
    case GX_TRAIN_DONE:
        close_line(p);
        fmt_time(e->elapsed_s, el, sizeof el);
        if (isnan(e->loss))
            fprintf(stderr, "gexec: done: %lld steps in %s\n", (long long)e->step, el);
        else
            fprintf(stderr, "gexec: done: %lld steps in %s, validation loss %.4f nats (%.4f bits)\n",
                    (long long)e->step, el, e->loss, e->loss / log(2.0));
        break;
    }
}

static gx_trainer *volatile running;
static volatile sig_atomic_t interrupted;

/* SIGINT (Ctrl-C) or SIGTERM: stop after the current step, which writes the checkpoint. A
 * second signal while that happens kills the process the usual way (the previous checkpoint
 * stays intact: checkpoints are replaced atomically). */
static void on_stop_signal(int sig) {
    interrupted = sig;
    if (running) gx_trainer_request_stop(running);
    signal(sig, SIG_DFL);
}

int cli_trainer(const cli_opts *o, cli_train_flags flags, void *user, gx_train_config *c,
                gx_registry **reg, gx_trainer **t) {
    gx_diag d;
    gx_diag_init(&d);
    char *src = NULL;
    size_t n = 0;
    *reg = NULL;
    *t = NULL;
    if (gx_read_file(o->graph, &src, &n, &d) != GX_OK) return cli_fail(&d);
    int rc = cli_trainer_text(o, o->graph, src, n, NULL, flags, user, c, reg, t);
    free(src);
    return rc;
}

int cli_trainer_text(const cli_opts *o, const char *path, const char *src, size_t n,
                     const char *resume, cli_train_flags flags, void *user, gx_train_config *c,
                     gx_registry **reg, gx_trainer **t) {
    gx_diag d;
    gx_diag_init(&d);
    gx_train_config_defaults(c);
    *reg = NULL;
    *t = NULL;
    gx_ast_module *m = NULL;
    gx_status st = gx_parse(src, n, path, &m, &d);
    if (st == GX_OK) st = gx_train_config_from_module(m, c, &d);
    int rc = st != GX_OK ? cli_fail(&d) : !flags(o, c, user) ? 2 : 0;
    if (rc == 0 && (*reg = cli_registry()) == NULL) rc = 1;
    if (rc != 0) {
        gx_ast_free(m);
        return rc;
    }
    if (resume) c->resume = resume;
    st = gx_trainer_new(*reg, path, m, src, n, c, t, &d);   /* takes m */
    if (st == GX_OK) return 0;
    rc = cli_fail(&d);
    gx_registry_free(*reg);
    *reg = NULL;
    return rc;
}

static int train_flags(const cli_opts *o, gx_train_config *c, void *user) {
    (void)user;
    return apply_flags(o, c);
}

static int has_flag(const cli_opts *o, const char *flag, const char **arg) {
    for (int k = 0; k < o->n_extra; k++)
        if (strcmp(o->extra_name[k], flag) == 0) {
            if (arg) *arg = o->extra_val[k];
            return 1;
        }
    return 0;
}

/* --distributed: start MPI; 0, or the exit code after the message */
static int start_dist(const cli_opts *o) {
    const char *a = NULL;
    double timeout = 300;
    if (has_flag(o, "--dist-timeout", &a) && !parse_num("--dist-timeout", a, 0.001, 1e7, &timeout))
        return 2;
    if (!has_flag(o, "--distributed", NULL)) {
        if (!a && !has_flag(o, "--dist-check", NULL) && !has_flag(o, "--bucket-mb", NULL)) return 0;
        cli_failf("gexec train: --dist-timeout, --dist-check and --bucket-mb need --distributed");
        return 2;
    }
    gx_diag d;
    gx_diag_init(&d);
    if (gx_dist_init(timeout, &dist, &d) != GX_OK) return cli_fail(&d);
    static char prefix[32];
    snprintf(prefix, sizeof prefix, "rank %d: ", gx_dist_rank(dist));
    if (gx_dist_size(dist) > 1) cli_error_prefix(prefix);
    return 0;
}

/* After every rank set up its trainer (rc its exit code, messages captured): the lowest rank
 * that failed prints its message, so an error every rank hit is printed once. 0 when all
 * succeeded, else the exit code (1 where MPI itself failed). */
static int agree_on_setup(int rc) {
    gx_diag d;
    gx_diag_init(&d);
    int32_t first = rc ? gx_dist_rank(dist) : gx_dist_size(dist);
    cli_error_capture(0);
    gx_status st = gx_dist_allreduce(dist, &first, 1, GX_DTYPE_I32, GX_DIST_MIN, "the set-up", &d);
    /* without an agreement every failed rank speaks */
    if (rc && (st != GX_OK || first == gx_dist_rank(dist)))
        fprintf(stderr, "gexec: rank %d: %s\n", gx_dist_rank(dist), cli_captured());
    if (st != GX_OK) return cli_fail(&d);
    return first == gx_dist_size(dist) ? 0 : rc ? rc : 1;
}

/* the allreduce's share of the step, rank 0's view, for the closing line */
static void print_dist_stats(const gx_trainer *t) {
    gx_trainer_dist_stats s;
    gx_trainer_dist_stats_of(t, &s);
    if (s.ranks < 2 || s.steps == 0) return;
    double ms = 1e3 * s.step_s / (double)s.steps, wait = 1e3 * s.wait_s / (double)s.steps;
    fprintf(stderr, "gexec: %d ranks: %.2f MiB of gradients per step in %d bucket%s; a step "
            "took %.1f ms, of which %.2f ms (%.1f%%) waiting for the gradient allreduce\n",
            s.ranks, (double)s.grad_bytes / 1048576.0, (int)s.buckets, s.buckets == 1 ? "" : "s",
            ms, wait, ms > 0 ? 100.0 * wait / ms : 0.0);
}

int cmd_train(const cli_opts *o) {
    gx_diag d;
    gx_diag_init(&d);
    gx_train_config c;
    gx_registry *reg;
    gx_trainer *t;
    int rc = start_dist(o);
    if (rc != 0) return rc;
    int rank = gx_dist_rank(dist), ranks = gx_dist_size(dist);
    if (ranks > 1) cli_error_capture(1);
    rc = cli_trainer(o, train_flags, NULL, &c, &reg, &t);
    if (ranks > 1) rc = agree_on_setup(rc);
    if (rc == 0 && ranks > 1 && gx_trainer_sync_start(t, &d) != GX_OK) {
        /* a mismatch every rank saw is printed by rank 0 alone; an MPI failure by each */
        if (rank == 0 || !gx_trainer_error_agreed(t)) cli_fail(&d);
        rc = 1;
    }
    if (rc != 0) {
        gx_trainer_free(t);
        gx_registry_free(reg);
        gx_dist_finalize(dist);
        dist = NULL;
        return rc;
    }
    progress p = {.tty = isatty(2), .quiet = rank > 0, .log_every = c.log_every};
    for (int k = 0; k < o->n_extra; k++) p.quiet |= strcmp(o->extra_name[k], "--quiet") == 0;
    running = t;
    interrupted = 0;
    signal(SIGINT, on_stop_signal);
    signal(SIGTERM, on_stop_signal);
    gx_status st = gx_trainer_run(t, rank == 0 ? report : NULL, &p, &d);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    running = NULL;
    close_line(&p);
    if (st != GX_OK) {
        int agreed = gx_trainer_error_agreed(t);
        rc = rank == 0 || !agreed ? cli_fail(&d) : 1;
        /* an error only this rank saw: the others are waiting for it, so end the job */
        if (!agreed) gx_dist_abort(dist, 1);
    }
    if (st == GX_OK && interrupted && rank == 0) {
        /* 128 + signal, as a shell reports a process the signal ended; the run is resumable */
        if (c.checkpoint)
            fprintf(stderr, "gexec: interrupted by %s: stopped at step %lld; checkpoint %s written "
                    "(continue with --resume %s)\n", interrupted == SIGINT ? "SIGINT" : "SIGTERM",
                    (long long)gx_trainer_step_count(t), c.checkpoint, c.checkpoint);
        else
            fprintf(stderr, "gexec: interrupted by %s: stopped at step %lld (no --checkpoint: "
                    "nothing saved)\n", interrupted == SIGINT ? "SIGINT" : "SIGTERM",
                    (long long)gx_trainer_step_count(t));
    }
    if (st == GX_OK && interrupted) rc = 128 + (int)interrupted;
    if (st == GX_OK && rank == 0) print_dist_stats(t);
    gx_trainer_free(t);
    gx_registry_free(reg);
    gx_dist_finalize(dist);
    dist = NULL;
    return rc;
}
