/*
 * train-dist.c: the trainer's data-parallel part (`gexec train --distributed`, see train.h and
 * dist.h): gradient buckets filled while the backward pass runs, their average with the loss
 * and the stop flags, the synchronised start, and the --dist-check of the ranks' params.
 */
#include "train-impl.h"
#include "util.h"

#include <gexec/plugin-helpers.h>

#include <stdint.h>
#include <string.h>

/* Hand the gradients that are final after top-level step `upto` of plan e to the buckets, in
 * the buckets' ready order. */
static gx_status hand_in_grads(gx_trainer *t, gx_exec *e, const gx_val *grads, int32_t upto,
                               gx_diag *d) {
    while (t->next < t->g->n_params) {
        int32_t i = gx_dist_grads_order_at(t->dg, t->next);
        if (t->ready[i] > upto) break;
        gx_optim_param *pp = gx_optim_param_at(t->opt, i);
        GX_TRY(gx_exec_read(e, grads[i], gx_dist_grads_slot(t->dg, i),
                            (uint64_t)pp->n * gx_dtype_size((gx_dtype)pp->dtype), d));
        GX_TRY(gx_dist_grads_ready(t->dg, i, d));
        t->next++;
    }
    return GX_OK;
}

/* the training plan's step hook: start averaging what the backward pass has finished */
static gx_status grads_hook(void *user, int32_t step, gx_diag *d) {
    gx_trainer *t = user;
    if (t->next >= t->g->n_params) return GX_OK;   /* a re-run (NaN search) */
    GX_TRY(hand_in_grads(t, t->e, t->grad_val, step, d));
    return gx_dist_grads_poll(t->dg, d);
}

gx_status gx_train_dist_setup(gx_trainer *t, gx_diag *d) {
    int32_t np = t->g->n_params;
    int64_t *numel = gx_malloc(sizeof(int64_t) * ((size_t)np + 1));
    t->ready = gx_malloc(sizeof(int32_t) * ((size_t)np + 1));
    t->grad_dst = gx_malloc(sizeof(void *) * ((size_t)np + 1));
    if (numel == NULL || t->ready == NULL || t->grad_dst == NULL) {
        gx_free(numel);
        return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    }
    int dtype = np > 0 ? gx_optim_param_at(t->opt, 0)->dtype : GX_DTYPE_F32;
    gx_status st = GX_OK;
    for (int32_t i = 0; i < np && st == GX_OK; i++) {
        gx_optim_param *pp = gx_optim_param_at(t->opt, i);
        numel[i] = pp->n;
        t->grad_dst[i] = pp->grad;
        if (pp->dtype != dtype)
            st = gx_diag_at(d, GX_ERR_DTYPE, t->g->params[i].pos, "--distributed averages "
                            "gradients of one dtype, but param '%s' is %s and '%s' is %s",
                            pp->name, gx_dtype_name((gx_dtype)pp->dtype), t->g->params[0].name,
                            gx_dtype_name((gx_dtype)dtype));
    }
    if (st == GX_OK) st = gx_exec_ready_steps(t->e, t->grad_val, np, t->ready, d);
    double mb = t->c.bucket_mb > 0 ? t->c.bucket_mb : 4.0;
    /* extras: the loss, the metrics, the stop flag */
    if (st == GX_OK)
        st = gx_dist_grads_new(t->dist, np, numel, dtype, t->ready, (size_t)(mb * 1048576.0),
                               t->n_metrics + 2, &t->dg, d);
    gx_free(numel);
    if (st == GX_OK && gx_exec_host_memory(t->e)) st = gx_exec_set_step_hook(t->e, grads_hook, t, d);
    return st;
}

/* Average the gradients over the ranks (those of plan e not handed in yet first), with the
 * loss, the metrics and the stop flags riding along; every rank then holds the same. */
gx_status gx_train_dist_reduce(gx_trainer *t, gx_exec *e, const gx_val *grads, double *loss,
                              double *metrics, gx_diag *d) {
    double w0 = gx_dist_wait_seconds(t->dist);
    GX_TRY(hand_in_grads(t, e, grads, INT32_MAX, d));
    double extra[GX_TRAIN_MAX_METRICS + 2];
    int32_t n = 0;
    extra[n++] = *loss;
    for (int32_t m = 0; m < t->n_metrics; m++) extra[n++] = metrics[m];
    extra[n++] = t->stop ? 1 : 0;
    GX_TRY(gx_dist_grads_finish(t->dg, extra, t->grad_dst, d));
    double inv = 1.0 / (double)t->nranks;
    *loss = extra[0] * inv;
    for (int32_t m = 0; m < t->n_metrics; m++) metrics[m] = extra[1 + m] * inv;
    t->stop_agreed = extra[n - 1] > 0;
    t->wait_s += gx_dist_wait_seconds(t->dist) - w0;
    return GX_OK;
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

/* --dist-check: every rank must hold bit-identical params (and optimizer state) */
gx_status gx_train_dist_check(gx_trainer *t, gx_diag *d) {
    int32_t np = gx_optim_n_params(t->opt);
    uint64_t *h = gx_malloc(sizeof(uint64_t) * (2 * (size_t)np + 2));
    if (h == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    for (int32_t i = 0; i < np; i++) {
        gx_optim_param *p = gx_optim_param_at(t->opt, i);
        size_t bytes = (size_t)p->n * gx_dtype_size((gx_dtype)p->dtype);
        uint64_t x = fnv1a(1469598103934665603ull, p->data, bytes);
        if (p->s1) x = fnv1a(x, p->s1, bytes);
        if (p->s2) x = fnv1a(x, p->s2, bytes);
        h[i] = h[np + i] = x;
    }
    gx_status st = gx_dist_allreduce(t->dist, h, np, GX_DIST_U64, GX_DIST_MIN, "--dist-check", d);
    if (st == GX_OK)
        st = gx_dist_allreduce(t->dist, h + np, np, GX_DIST_U64, GX_DIST_MAX, "--dist-check", d);
    for (int32_t i = 0; i < np && st == GX_OK; i++)
        if (h[i] != h[np + i]) {
            t->agreed_error = 1;
            st = gx_diag_at(d, GX_ERR_INVALID, t->g->params[i].pos, "--dist-check: after step "
                            "%lld the ranks hold different values of param '%s' (or its "
                            "optimizer state); this rank's hash is %016llx", (long long)t->step,
                            t->g->params[i].name, (unsigned long long)h[np + i]);
        }
    gx_free(h);
    return st;
}

gx_status gx_trainer_sync_start(gx_trainer *t, gx_diag *d) {
    if (t->nranks == 1) return GX_OK;
    /* the same graph, dims and data everywhere (a stale copy on one machine is caught here) */
    uint64_t h[2];
    h[0] = fnv1a(fnv1a(fnv1a(1469598103934665603ull, t->hash, strlen(t->hash)), t->dims,
                       strlen(t->dims)), t->data->source, strlen(t->data->source));
    h[1] = h[0];
    GX_TRY(gx_dist_allreduce(t->dist, &h[0], 1, GX_DIST_U64, GX_DIST_MIN, "the start", d));
    GX_TRY(gx_dist_allreduce(t->dist, &h[1], 1, GX_DIST_U64, GX_DIST_MAX, "the start", d));
    if (h[0] != h[1]) {
        t->agreed_error = 1;
        return gx_diag_set(d, GX_ERR_INVALID, "the ranks do not run the same graph, dims and "
                           "data (this rank: %s, %s, %s): every machine needs the same files",
                           t->path, t->dims, t->data->source);
    }
    /* rank 0's params, optimizer state and step */
    for (int32_t i = 0; i < gx_optim_n_params(t->opt); i++) {
        gx_optim_param *p = gx_optim_param_at(t->opt, i);
        size_t bytes = (size_t)p->n * gx_dtype_size((gx_dtype)p->dtype);
        GX_TRY(gx_dist_bcast(t->dist, p->data, bytes, "the parameter broadcast", d));
        if (p->s1) GX_TRY(gx_dist_bcast(t->dist, p->s1, bytes, "the parameter broadcast", d));
        if (p->s2) GX_TRY(gx_dist_bcast(t->dist, p->s2, bytes, "the parameter broadcast", d));
    }
    int64_t steps[2] = {t->step, gx_optim_steps(t->opt)};
    GX_TRY(gx_dist_bcast(t->dist, steps, sizeof steps, "the parameter broadcast", d));
    t->step = steps[0];
    gx_optim_set_steps(t->opt, steps[1]);
    t->dev_stale = t->dev_opt;
    return GX_OK;
}

int gx_trainer_error_agreed(const gx_trainer *t) { return t->nranks == 1 || t->agreed_error; }

void gx_trainer_dist_stats_of(const gx_trainer *t, gx_trainer_dist_stats *out) {
    *out = (gx_trainer_dist_stats){.ranks = t->nranks, .steps = t->run_steps,
                                   .step_s = t->step_s, .wait_s = t->wait_s};
    if (t->dg) {
        out->buckets = gx_dist_grads_n_buckets(t->dg);
        out->grad_bytes = gx_dist_grads_bytes(t->dg);
    }
}

