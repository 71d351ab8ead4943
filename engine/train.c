/*
 * train.c: the training loop (see train.h): set-up, one step, validation and checkpoints; its
 * data-parallel part (gradient buckets, synchronised start) is train-dist.c.
 *
 * Host copies: the params, their gradients, the optimizer state and the carried states live
 * in host arrays; each step writes the params and states into the plan and reads back the
 * loss, the gradients and the final states. On host-memory backends that is a memcpy of a few
 * megabytes against a step of hundreds of MFLOP; a device backend will want the update on the
 * device (the Vulkan issue).
 */
#define _POSIX_C_SOURCE 200809L   /* clock_gettime */
#include "train-impl.h"

#include "autodiff.h"
#include "exec.h"
#include "init.h"
#include "lower.h"
#include "monitor.h"
#include "probes.h"
#include "safetensors.h"
#include "util.h"

#include <gexec/optim-step.h>
#include <gexec/plugin-helpers.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* plan p's graph (NULL: the run has no such plan) */
static gx_graph *plan_graph(const gx_trainer *t, int p) {
    return p == P_TRAIN ? t->g : p == P_EVAL ? t->ge : t->gd;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static size_t info_bytes(const gx_tensor_info *t) {
    return (size_t)gx_shape_numel(&t->shape) * gx_dtype_size(t->dtype);
}

void gx_trainer_request_stop(gx_trainer *t) { t->stop = 1; }
double gx_trainer_val_loss(const gx_trainer *t) { return t->val_loss; }
int64_t gx_trainer_step_count(const gx_trainer *t) { return t->step; }

void gx_trainer_free(gx_trainer *t) {
    if (t == NULL) return;
    for (int32_t i = 0; t->slots && i < t->n_slots; i++) gx_free(t->slots[i].host);
    gx_free(t->slots);
    gx_free(t->saved_states);
    if (t->opt) {
        for (int32_t i = 0; i < gx_optim_n_params(t->opt); i++) {
            gx_free(gx_optim_param_at(t->opt, i)->data);
            gx_free(gx_optim_param_at(t->opt, i)->grad);
        }
        gx_optim_free(t->opt);
    }
    gx_free(t->grad_val);
    gx_free(t->grad_diag);
    gx_free(t->dev_s);
    gx_free(t->dev_next);
    gx_free(t->zeros);
    gx_free(t->scratch);
    gx_dist_grads_free(t->dg);
    gx_free(t->ready);
    gx_free(t->grad_dst);
    gx_monitor_free(t->mon);
    gx_exec_free(t->e);
    gx_exec_free(t->ee);
    gx_exec_free(t->ed);
    gx_graph_free(t->g);
    gx_graph_free(t->ge);
    gx_graph_free(t->gd);
    gx_data_free(t->data);
    gx_checkpoint_free(t->resume);
    gx_free(t->path);
    gx_free(t->text);
    gx_free(t);
}

/* ---- set-up ---- */

static int module_has_dim(const gx_ast_module *m, const char *name) {
    for (int s = 0; s < m->n_stmts; s++)
        if (m->stmts[s]->kind == GX_STMT_DIM && strcmp(m->stmts[s]->name, name) == 0) return 1;
    return 0;
}

/* the value of `dim NAME = <integer>` in the module, or dflt */
static int64_t module_dim_value(const gx_ast_module *m, const char *name, int64_t dflt) {
    for (int s = 0; s < m->n_stmts; s++) {
        const gx_ast_stmt *st = m->stmts[s];
        if (st->kind == GX_STMT_DIM && strcmp(st->name, name) == 0 && st->value &&
            st->value->kind == GX_EXPR_NUMBER && st->value->is_int && st->value->ival > 0)
            return st->value->ival;
    }
    return dflt;
}

static gx_status add_bind(gx_dim_binding *b, int *n, int max, const gx_ast_module *m,
                          const char *name, int64_t v) {
    if (!module_has_dim(m, name)) return GX_OK;
    for (int i = 0; i < *n; i++)
        if (strcmp(b[i].name, name) == 0) {
            b[i].value = v;
            return GX_OK;
        }
    if (*n >= max) return GX_ERR_INVALID;
    b[(*n)++] = (gx_dim_binding){.name = name, .value = v};
    return GX_OK;
}

static gx_status open_data(gx_trainer *t, gx_diag *d) {
    const gx_train_config *c = &t->c;
    gx_data_opts o = {.val_frac = c->val_frac, .bytes = c->bytes, .seed = c->seed,
                      .batch = c->batch * t->nranks, .bptt = c->bptt,
                      .vocab = t->resume && t->resume->vocab.n ? &t->resume->vocab : NULL};
    if (c->task && c->data)
        return gx_diag_set(d, GX_ERR_INVALID, "give --data FILE or --task SPEC, not both");
    if (c->task) return gx_data_task(c->task, &o, &t->data, d);
    if (c->data) return gx_data_open(c->data, &o, &t->data, d);
    return gx_diag_set(d, GX_ERR_INVALID, "%s: no training data: give --data FILE (a text or "
                       ".jsonl file) or --task SPEC (copy, parity, adding, reverse, sort), or set data = \"...\" "
                       "in the graph's train block", t->path);
}

/* Every input is fed by the data set (by name), a carried state, or the random key. */
static gx_status match_inputs(gx_trainer *t, gx_diag *d) {
    gx_graph *g = t->g;
    t->slots = gx_calloc((size_t)g->n_inputs + 1, sizeof(slot));
    if (t->slots == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    const gx_dataset *ds = t->data;
    for (int32_t i = 0; i < g->n_inputs; i++) {
        const gx_named *in = &g->inputs[i];
        slot *s = &t->slots[t->n_slots++];
        s->name = in->name;
        s->val[P_TRAIN] = in->val;
        s->next[P_TRAIN] = in->next;
        s->info = g->values[in->val].info;
        s->bytes = info_bytes(&s->info);
        for (int p = P_EVAL; p < N_PLANS; p++) {
            const gx_graph *pg = plan_graph(t, p);
            const gx_named *o = pg ? gx_graph_find_named(pg->inputs, pg->n_inputs, in->name) : NULL;
            s->val[p] = o ? o->val : GX_VAL_NONE;
            s->next[p] = o ? o->next : GX_VAL_NONE;
        }
        int provided = -1;
        for (int32_t f = 0; f < ds->vt->n_fields(ds); f++)
            if (strcmp(ds->vt->field(ds, f).name, in->name) == 0) provided = f;
        if (strcmp(in->name, GX_RNG_INPUT) == 0) s->kind = SLOT_RNG;
        else if (provided >= 0) {
            s->kind = SLOT_DATA;
            gx_data_field f = ds->vt->field(ds, provided);
            /* an all-integer field (JSONL) also fills a float input */
            int fits = f.dtype == s->info.dtype ||
                       (f.dtype == GX_DTYPE_I32 && s->info.dtype != GX_DTYPE_I32);
            if (!fits)
                return gx_diag_at(d, GX_ERR_DTYPE, in->pos, "input '%s' is %s but the data (%s) "
                                  "gives %s", in->name, gx_dtype_name(s->info.dtype),
                                  ds->source, gx_dtype_name(f.dtype));
        } else if (in->zero_default || in->next != GX_VAL_NONE) s->kind = SLOT_STATE;
        else {
            char list[512] = "";
            size_t len = 0;
            for (int32_t f = 0; f < ds->vt->n_fields(ds) && len < sizeof list - 64; f++)
                len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", f ? ", " : "",
                                        ds->vt->field(ds, f).name);
            return gx_diag_at(d, GX_ERR_NOT_FOUND, in->pos, "input '%s' is not provided by the "
                              "data (%s gives: %s)", in->name, ds->source, list);
        }
        s->host = gx_calloc(1, s->bytes + 8);
        if (s->host == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    }
    size_t state_bytes = 0, scratch = 0;
    for (int32_t i = 0; i < t->n_slots; i++) {
        slot *s = &t->slots[i];
        if (s->kind == SLOT_STATE) state_bytes += s->bytes;
        if (t->nranks == 1 || (s->kind != SLOT_DATA && s->kind != SLOT_STATE)) continue;
        /* rank r takes rows [r B, (r + 1) B) of the global batch: batch-major only */
        if (s->info.shape.ndim < 1 || s->info.shape.dims[0] != t->c.batch) {
            char sb[128];
            const gx_named *in = &g->inputs[i];
            return gx_diag_at(d, GX_ERR_SHAPE, in->pos, "--distributed splits every data input "
                              "and carried state on axis 0, the batch B = %lld, but '%s' is %s%s",
                              (long long)t->c.batch, s->name, gx_dtype_name(s->info.dtype),
                              gx_shape_str(&s->info.shape, sb, sizeof sb));
        }
        if (s->kind == SLOT_DATA && s->bytes * (size_t)t->nranks > scratch)
            scratch = s->bytes * (size_t)t->nranks;
    }
    if (scratch && (t->scratch = gx_malloc(scratch)) == NULL)
        return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    t->saved_states = gx_malloc(state_bytes + 1);
    if (t->saved_states == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    return GX_OK;
}

static gx_status build_graphs(gx_trainer *t, gx_ast_module *m, gx_diag *d) {
    enum { MAXB = 64 };
    gx_dim_binding b[MAXB];
    int n = 0;
    const gx_dataset *ds = t->data;
    gx_status bst = add_bind(b, &n, MAXB, m, "B", t->c.batch);
    if (bst == GX_OK) bst = add_bind(b, &n, MAXB, m, "T", t->c.bptt);
    for (int32_t i = 0; bst == GX_OK && i < ds->vt->n_binds(ds); i++) {
        gx_dim_binding x = ds->vt->bind(ds, i);
        bst = add_bind(b, &n, MAXB, m, x.name, x.value);
    }
    if (bst != GX_OK) {
        gx_ast_free(m);
        return gx_diag_set(d, GX_ERR_INVALID, "too many dims");
    }
    for (int i = 0; i < t->c.n_dims; i++) {
        if (!module_has_dim(m, t->c.dims[i].name)) {
            gx_ast_free(m);
            return gx_diag_set(d, GX_ERR_NOT_FOUND, "--dim %s: the graph has no dim '%s'",
                               t->c.dims[i].name, t->c.dims[i].name);
        }
        if (add_bind(b, &n, MAXB, m, t->c.dims[i].name, t->c.dims[i].value) != GX_OK) {
            gx_ast_free(m);
            return gx_diag_set(d, GX_ERR_INVALID, "too many dims");
        }
    }
    /* the inference graph is lowered from a second parse: a graph owns its module */
    gx_ast_module *m2 = NULL;
    gx_status st = gx_parse(t->text, t->text_len, t->path, &m2, d);
    gx_lower_opts o = {.binds = b, .n_binds = n, .unroll = t->c.unroll, .train = 1};
    if (st == GX_OK) st = gx_lower_with(m, t->reg, &o, &t->g, d);
    if (st != GX_OK) {
        gx_ast_free(m);
        gx_ast_free(m2);
        return st;
    }
    o.train = 0;
    st = gx_lower_with(m2, t->reg, &o, &t->ge, d);
    if (st != GX_OK) {
        gx_ast_free(m2);
        return st;
    }
    if (t->g->loss == GX_VAL_NONE)
        return gx_diag_set(d, GX_ERR_INVALID, "%s: error: nothing to train: name a value `loss` "
                           "(e.g. loss = cross_entropy(logits, targets))", t->path);
    /* the diagnostics graph: the training graph with taps, always looped (its per-step taps
     * need the loop; the tests check looped against unrolled) */
    if (t->c.diag_dir || t->c.tensorboard || t->c.diag) {
        gx_ast_module *m3 = NULL;
        st = gx_parse(t->text, t->text_len, t->path, &m3, d);
        gx_lower_opts od = {.binds = b, .n_binds = n, .unroll = 0, .train = 1, .diag = 1};
        if (st == GX_OK) st = gx_lower_with(m3, t->reg, &od, &t->gd, d);
        if (st != GX_OK) {
            gx_ast_free(m3);
            return st;
        }
        st = gx_autodiff(t->gd, t->gd->loss, d);
        if (st != GX_OK) return st;
    }
    /* the dims as bound, for the checkpoint */
    size_t len = 0;
    for (int32_t i = 0; i < t->g->n_dims && len < sizeof t->dims - 40; i++)
        len += (size_t)snprintf(t->dims + len, sizeof t->dims - len, "%s%s=%lld", i ? "," : "",
                                t->g->dims[i].name, (long long)t->g->dims[i].value *
                                (strcmp(t->g->dims[i].name, "B") == 0 ? t->nranks : 1));
    return gx_autodiff(t->g, t->g->loss, d);
}

/* scalar float outputs other than the loss are metrics (accuracy, ...) */
static void find_metrics(gx_trainer *t) {
    for (int32_t i = 0; i < t->g->n_outputs && t->n_metrics < GX_TRAIN_MAX_METRICS; i++) {
        const gx_named *o = &t->g->outputs[i];
        const gx_value *v = &t->g->values[o->val];
        if (o->val == t->g->loss || v->info.shape.ndim != 0 || v->info.dtype == GX_DTYPE_I32 ||
            strncmp(o->name, "grad.", 5) == 0)
            continue;
        t->metric_name[t->n_metrics] = o->name;
        t->metric_val[P_TRAIN][t->n_metrics] = o->val;
        for (int p = P_EVAL; p < N_PLANS; p++) {
            const gx_graph *pg = plan_graph(t, p);
            int32_t k = pg ? gx_graph_find_output(pg, o->name) : -1;
            t->metric_val[p][t->n_metrics] = k >= 0 ? pg->outputs[k].val : GX_VAL_NONE;
        }
        t->n_metrics++;
    }
}

/* the grad.<param> outputs of g into grad[] (one per param) */
static gx_status find_grads(gx_graph *g, gx_val *grad, gx_diag *d) {
    for (int32_t i = 0; i < g->n_params; i++) {
        char name[256];
        snprintf(name, sizeof name, "grad.%s", g->params[i].name);
        int32_t k = gx_graph_find_output(g, name);
        if (k < 0)
            return gx_diag_at(d, GX_ERR_INVALID, g->params[i].pos, "param '%s' gets no gradient "
                              "from the loss", g->params[i].name);
        grad[i] = g->outputs[k].val;
    }
    return GX_OK;
}

/* One plan: the loss, then (training plans) the gradients, then the states and metrics, then
 * the monitor's taps (diagnostics plan). */
static gx_status plan_one(gx_trainer *t, int p, const char *backend, gx_diag *d) {
    gx_exec **es[N_PLANS] = {&t->e, &t->ee, &t->ed};
    gx_val *grads = p == P_TRAIN ? t->grad_val : p == P_DIAG ? t->grad_diag : NULL;
    gx_graph *g = plan_graph(t, p);
    int32_t extra = p == P_DIAG ? gx_monitor_n_wanted(t->mon) : 0;
    int dev = p == P_TRAIN && t->dev_opt;
    if (dev) extra = 3 * g->n_params + 1;   /* the next params and states, and gsq */
    int32_t n = 0, cap = g->n_params + t->n_slots + GX_TRAIN_MAX_METRICS + extra + 2;
    gx_val *w = gx_malloc(sizeof(gx_val) * (size_t)cap);
    if (w == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    if (g->loss != GX_VAL_NONE) w[n++] = g->loss;
    gx_status st = grads ? find_grads(g, grads, d) : GX_OK;
    /* on the device optimizer's plan the gradients stay on the device: nobody reads them */
    for (int32_t i = 0; grads && !dev && i < g->n_params; i++) w[n++] = grads[i];
    for (int32_t i = 0; i < t->n_slots; i++)
        if (t->slots[i].kind == SLOT_STATE && t->slots[i].next[p] != GX_VAL_NONE) w[n++] = t->slots[i].next[p];
    for (int32_t i = 0; i < t->n_metrics; i++)
        if (t->metric_val[p][i] != GX_VAL_NONE) w[n++] = t->metric_val[p][i];
    if (dev) {
        for (int32_t i = 0; i < 3 * g->n_params; i++) w[n + i] = t->dev_next[i];
        w[n + 3 * g->n_params] = t->dev_gsq;
    } else if (extra) gx_monitor_wanted(t->mon, w + n);
    n += extra;
    if (st == GX_OK) st = gx_exec_new(g, backend, w, n, es[p], d);
    gx_free(w);
    if (st != GX_OK || !dev) return st;
    /* after each run the next values replace the params and the optimizer's states */
    gx_val *dst = gx_malloc(sizeof(gx_val) * (size_t)(3 * g->n_params + 1));
    if (dst == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    for (int32_t i = 0; i < g->n_params; i++) {
        dst[3 * i] = g->params[i].val;
        dst[3 * i + 1] = t->dev_s[2 * i];
        dst[3 * i + 2] = t->dev_s[2 * i + 1];
    }
    st = gx_exec_set_updates(*es[p], dst, t->dev_next, 3 * g->n_params, d);
    gx_free(dst);
    return st;
}

/* Append the optimizer to the training graph: sumsq of every gradient, their total (the
 * global norm's square), and an optim_step per param reading the hyperparameter vector. */
static gx_status add_device_optimizer(gx_trainer *t, gx_diag *d) {
    gx_graph *g = t->g;
    const gx_op *sumsq = gx_registry_find_op(t->reg, "sumsq"),
                *step = gx_registry_find_op(t->reg, "optim_step"),
                *add = gx_registry_find_op(t->reg, "add");
    if (sumsq == NULL || step == NULL || add == NULL)
        return gx_diag_set(d, GX_ERR_NOT_FOUND, "the core ops plugin lacks sumsq or optim_step, "
                           "which training on a device backend needs");
    int32_t np = g->n_params;
    t->dev_s = gx_malloc(sizeof(gx_val) * (size_t)(2 * np + 1));
    t->dev_next = gx_malloc(sizeof(gx_val) * (size_t)(3 * np + 1));
    if (t->dev_s == NULL || t->dev_next == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    GX_TRY(find_grads(g, t->grad_val, d));
    gx_srcpos pos = {0};
    gx_dtype dt = np > 0 ? g->values[g->params[0].val].info.dtype : GX_DTYPE_F32;
    gx_tensor_info hi = {.dtype = dt, .shape = {.ndim = 1, .dims = {GX_OPTIM_HYPER_N}}};
    GX_TRY(gx_graph_add_input(g, "gx.optim.hyper", hi, pos, &t->dev_hyper, d));
    gx_attr_value none[4];
    int32_t n_out;
    gx_val total = GX_VAL_NONE;
    for (int32_t i = 0; i < np; i++) {
        gx_val sq, sum;
        GX_TRY(gx_attrs_resolve(g, sumsq, NULL, 0, none, pos, d));
        GX_TRY(gx_graph_add_node(g, sumsq, &t->grad_val[i], 1, none, pos, 1, &sq, 1, &n_out, d));
        if (total == GX_VAL_NONE) {
            total = sq;
            continue;
        }
        gx_val in[2] = {total, sq};
        GX_TRY(gx_attrs_resolve(g, add, NULL, 0, none, pos, d));
        GX_TRY(gx_graph_add_node(g, add, in, 2, none, pos, 1, &sum, 1, &n_out, d));
        total = sum;
    }
    t->dev_gsq = total;
    gx_attr_kv kv[2] = {{"kind", {.type = GX_ATTR_INT}}, {"nesterov", {.type = GX_ATTR_INT}}};
    switch (t->c.optim.kind) {
    case GX_OPT_SGD:     kv[0].value.i = GX_OPTIM_SGD; break;
    case GX_OPT_ADAM:    kv[0].value.i = GX_OPTIM_ADAM; break;
    case GX_OPT_ADAMW:   kv[0].value.i = GX_OPTIM_ADAMW; break;
    case GX_OPT_RMSPROP: kv[0].value.i = GX_OPTIM_RMSPROP; break;
    }
    kv[1].value.i = t->c.optim.nesterov;
    size_t zbytes = 8;
    for (int32_t i = 0; i < np; i++) {
        const gx_named *pp = &g->params[i];
        const gx_tensor_info *info = &g->values[pp->val].info;
        if (info_bytes(info) > zbytes) zbytes = info_bytes(info);
        char name[300];
        for (int k = 0; k < 2; k++) {
            snprintf(name, sizeof name, "gx.optim.s%d.%s", k + 1, pp->name);
            GX_TRY(gx_graph_add_input(g, name, *info, pp->pos, &t->dev_s[2 * i + k], d));
        }
        gx_val in[6] = {pp->val, t->grad_val[i], t->dev_s[2 * i], t->dev_s[2 * i + 1], t->dev_hyper, total};
        gx_attr_value attrs[4];
        GX_TRY(gx_attrs_resolve(g, step, kv, 2, attrs, pp->pos, d));
        GX_TRY(gx_graph_add_node(g, step, in, 6, attrs, pp->pos, 1, &t->dev_next[3 * i], 3, &n_out, d));
    }
    t->zeros = gx_calloc(1, zbytes);
    if (t->zeros == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    t->dev_opt = 1;
    t->dev_stale = 1;
    return GX_OK;
}

static gx_status plan(gx_trainer *t, gx_diag *d) {
    t->grad_val = gx_malloc(sizeof(gx_val) * ((size_t)t->g->n_params + 1));
    if (t->grad_val == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    GX_TRY(plan_one(t, P_TRAIN, t->c.backend, d));
    if (!gx_exec_host_memory(t->e) && t->nranks == 1) {
        /* a device backend: the update joins the step, and the plan is made again with it.
         * (Not when distributed: the gradients must come to the host for the allreduce.) */
        const char *backend = gx_exec_backend_name(t->e);
        gx_exec_free(t->e);
        t->e = NULL;
        GX_TRY(add_device_optimizer(t, d));
        GX_TRY(plan_one(t, P_TRAIN, backend, d));
    }
    GX_TRY(plan_one(t, P_EVAL, gx_exec_backend_name(t->e), d));
    if (t->gd == NULL) return GX_OK;
    if (t->gd->n_params != t->g->n_params)
        return gx_diag_set(d, GX_ERR_INVALID, "the diagnostics graph has other params");
    gx_monitor_opts mo = {.dir = t->c.diag_dir, .tensorboard = t->c.tensorboard,
                          .buckets = t->c.diag_buckets};
    t->grad_diag = gx_malloc(sizeof(gx_val) * ((size_t)t->gd->n_params + 1));
    if (t->grad_diag == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    GX_TRY(gx_monitor_new(t->gd, &mo, &t->mon, d));
    GX_TRY(plan_one(t, P_DIAG, gx_exec_backend_name(t->e), d));
    /* the zero inputs stay zero: inputs keep their own memory and no kernel writes them */
    return gx_monitor_feed(t->mon, t->ed, d);
}

static gx_status init_params(gx_trainer *t, gx_diag *d) {
    gx_graph *g = t->g;
    gx_optim_param *ps = gx_calloc((size_t)g->n_params + 1, sizeof *ps);
    if (ps == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    gx_status st = GX_OK;
    for (int32_t i = 0; i < g->n_params && st == GX_OK; i++) {
        const gx_value *v = &g->values[g->params[i].val];
        size_t bytes = info_bytes(&v->info);
        ps[i] = (gx_optim_param){.name = g->params[i].name, .dtype = v->info.dtype,
                                 .n = gx_shape_numel(&v->info.shape),
                                 .data = gx_malloc(bytes + 8), .grad = gx_calloc(1, bytes + 8)};
        if (ps[i].data == NULL || ps[i].grad == NULL) st = gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
        else st = gx_init_fill(&g->params[i].init, &v->info, t->c.seed, g->params[i].name, ps[i].data, d);
    }
    if (st == GX_OK) st = gx_optim_new(&t->c.optim, ps, g->n_params, &t->opt, d);
    if (st != GX_OK)
        for (int32_t i = 0; i < g->n_params; i++) {
            gx_free(ps[i].data);
            gx_free(ps[i].grad);
        }
    gx_free(ps);
    return st;
}

/* copy part `part` of `parts` equal parts of a checkpoint tensor (n elements each; one part
 * but for the carried states of a distributed run, which hold every rank's rows) into a host
 * array of the expected type */
static gx_status restore_part(const gx_checkpoint *ck, const char *key, gx_dtype dt, int64_t n,
                              int part, int parts, void *dst, gx_diag *d) {
    const gx_st_tensor *x = gx_st_find(ck->file, key);
    if (x == NULL)
        return gx_diag_set(d, GX_ERR_FORMAT, "%s: error: no tensor '%s'", ck->path, key);
    if (x->dtype != dt || gx_shape_numel(&x->shape) != n * parts)
        return gx_diag_set(d, GX_ERR_FORMAT, "%s: error: '%s' has the wrong type or size",
                           ck->path, key);
    size_t bytes = x->nbytes / (size_t)parts;
    memcpy(dst, (const char *)x->data + bytes * (size_t)part, bytes);
    return GX_OK;
}

static gx_status restore(const gx_checkpoint *ck, const char *key, gx_dtype dt, int64_t n,
                         void *dst, gx_diag *d) {
    return restore_part(ck, key, dt, n, 0, 1, dst, d);
}

static gx_status resume_from(gx_trainer *t, gx_diag *d) {
    const gx_checkpoint *ck = t->resume;
    if (strcmp(ck->graph_hash, t->hash) != 0)
        return gx_diag_set(d, GX_ERR_INVALID, "%s: error: the checkpoint is from another graph: "
                           "it was written for '%s' (%s, text hash %s) and %s has hash %s",
                           ck->path, ck->graph_name, ck->graph_path, ck->graph_hash, t->path,
                           t->hash);
    if (strcmp(ck->dims, t->dims) != 0)
        return gx_diag_set(d, GX_ERR_INVALID, "%s: error: the checkpoint's dims (%s) differ from "
                           "this run's (%s): use the same --batch, --bptt and data%s", ck->path,
                           ck->dims, t->dims, t->nranks > 1 ? " (B is the global batch: "
                           "--batch times the ranks)" : "");
    gx_status st = GX_OK;
    char key[300];
    for (int32_t i = 0; i < gx_optim_n_params(t->opt) && st == GX_OK; i++) {
        gx_optim_param *p = gx_optim_param_at(t->opt, i);
        snprintf(key, sizeof key, "param.%s", p->name);
        st = restore(ck, key, (gx_dtype)p->dtype, p->n, p->data, d);
        for (int w = 0; w < 2 && st == GX_OK; w++) {
            const char *sn = gx_optim_state_name(t->opt, w);
            if (sn == NULL) continue;
            snprintf(key, sizeof key, "optim.%s.%s", p->name, sn);
            st = restore(ck, key, (gx_dtype)p->dtype, p->n, w ? p->s2 : p->s1, d);
        }
    }
    for (int32_t i = 0; i < t->n_slots && st == GX_OK; i++) {
        slot *s = &t->slots[i];
        if (s->kind != SLOT_STATE) continue;
        snprintf(key, sizeof key, "state.%s", s->name);
        st = restore_part(ck, key, s->info.dtype, gx_shape_numel(&s->info.shape), t->rank,
                          t->nranks, s->host, d);
    }
    if (st == GX_OK) {
        const char *os = gx_st_meta(ck->file, "gexec.optim_steps");
        gx_optim_set_steps(t->opt, os ? strtoll(os, NULL, 10) : ck->step);
        t->step = ck->step;
    }
    return st;
}

/* A resumed run without --batch keeps the checkpoint's global batch B, split over the ranks. */
static gx_status batch_of_checkpoint(gx_trainer *t, gx_diag *d) {
    const char *p = t->resume->dims;
    while (p && *p) {
        if (p[0] == 'B' && p[1] == '=') {
            long long b = strtoll(p + 2, NULL, 10);
            if (b > 0 && b % t->nranks != 0)
                return gx_diag_set(d, GX_ERR_INVALID, "%s: the checkpoint's batch B = %lld does "
                                   "not split over %d ranks: resume with a number of ranks that "
                                   "divides it", t->resume->path, b, t->nranks);
            if (b > 0) t->c.batch = b / t->nranks;
            return GX_OK;
        }
        p = strchr(p, ',');
        if (p) p++;
    }
    return GX_OK;
}

gx_status gx_trainer_new(gx_registry *reg, const char *path, gx_ast_module *m,
                         const char *graph_text, size_t graph_len, const gx_train_config *c,
                         gx_trainer **out, gx_diag *d) {
    *out = NULL;
    gx_trainer *t = gx_calloc(1, sizeof *t);
    if (t == NULL) {
        gx_ast_free(m);
        return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    }
    t->c = *c;
    t->reg = reg;
    t->val_loss = NAN;
    t->path = gx_strdup(path);
    t->text = gx_malloc(graph_len + 1);
    gx_status st = GX_OK;
    if (t->path == NULL || t->text == NULL) st = gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    if (st == GX_OK) {
        memcpy(t->text, graph_text, graph_len);
        t->text[graph_len] = '\0';
        t->text_len = graph_len;
        gx_graph_hash(t->text, graph_len, t->hash);
    }
    if (c->threads > 0) gx_registry_set_threads(reg, c->threads);
    if (c->device >= 0) gx_registry_set_device(reg, c->device);
    t->dist = c->dist;
    t->rank = gx_dist_rank(c->dist);
    t->nranks = gx_dist_size(c->dist);
    const char *skew = t->rank == 1 ? getenv("GEXEC_TEST_DIST_SKEW") : NULL;
    t->skew_step = skew ? atoll(skew) : 0;
    if (t->rank > 0) {   /* diagnostics are rank 0's */
        t->c.diag_dir = t->c.tensorboard = NULL;
        t->c.diag = 0;
    }
    if (st == GX_OK && c->resume) st = gx_checkpoint_read(c->resume, &t->resume, d);
    if (st == GX_OK && t->resume) t->c.seed = t->resume->seed;
    if (st == GX_OK && !t->c.batch_flag && t->resume) st = batch_of_checkpoint(t, d);
    if (t->c.batch <= 0) t->c.batch = module_dim_value(m, "B", 32);
    if (t->c.bptt <= 0) t->c.bptt = module_dim_value(m, "T", 64);
    if (st == GX_OK) st = open_data(t, d);
    if (st == GX_OK) st = build_graphs(t, m, d);
    else gx_ast_free(m);
    if (st == GX_OK) st = match_inputs(t, d);
    if (st == GX_OK) {
        find_metrics(t);
        st = plan(t, d);
    }
    if (st == GX_OK) st = init_params(t, d);
    if (st == GX_OK) {
        t->n_batches = (int64_t)t->data->vt->n_batches(t->data, GX_SPLIT_TRAIN);
        if (t->n_batches <= 0)
            st = gx_diag_set(d, GX_ERR_INVALID, "%s: the data gives no training batch",
                             t->data->source);
        t->steps = t->c.steps > 0 ? t->c.steps : t->c.epochs * t->n_batches;
        t->c.sched.total = t->steps;
    }
    if (st == GX_OK && t->resume) st = resume_from(t, d);
    if (st == GX_OK && t->nranks > 1) st = gx_train_dist_setup(t, d);
    if (st != GX_OK) {
        gx_trainer_free(t);
        return st;
    }
    *out = t;
    return GX_OK;
}

/* ---- running ---- */

/* The device optimizer's params and states back into the host optimizer's arrays, when the
 * device has newer ones (before validation, a checkpoint, a host update). */
static gx_status params_to_host(gx_trainer *t, gx_diag *d) {
    if (!t->dev_opt || !t->host_stale) return GX_OK;
    int32_t np = t->g->n_params, n = 0;
    gx_val *v = gx_malloc(sizeof(gx_val) * (size_t)(3 * np + 1));
    void **dst = gx_malloc(sizeof(void *) * (size_t)(3 * np + 1));
    if (v == NULL || dst == NULL) {
        gx_free(v);
        gx_free(dst);
        return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    }
    for (int32_t i = 0; i < np; i++) {
        gx_optim_param *p = gx_optim_param_at(t->opt, i);
        v[n] = t->g->params[i].val;
        dst[n++] = p->data;
        for (int k = 0; k < 2; k++) {   /* the states this optimizer keeps */
            void *host = k ? p->s2 : p->s1;
            if (host == NULL) continue;
            v[n] = t->dev_s[2 * i + k];
            dst[n++] = host;
        }
    }
    gx_status st = gx_exec_read_many(t->e, n, v, dst, d);   /* one round trip */
    gx_free(v);
    gx_free(dst);
    if (st == GX_OK) t->host_stale = 0;
    return st;
}

/* ... and the host's into the device (after init, resume or a host update) */
static gx_status params_to_device(gx_trainer *t, gx_diag *d) {
    if (!t->dev_stale) return GX_OK;
    for (int32_t i = 0; i < t->g->n_params; i++) {
        gx_optim_param *p = gx_optim_param_at(t->opt, i);
        uint64_t bytes = (uint64_t)p->n * gx_dtype_size((gx_dtype)p->dtype);
        GX_TRY(gx_exec_write(t->e, t->g->params[i].val, p->data, bytes, d));
        GX_TRY(gx_exec_write(t->e, t->dev_s[2 * i], p->s1 ? p->s1 : t->zeros, bytes, d));
        GX_TRY(gx_exec_write(t->e, t->dev_s[2 * i + 1], p->s2 ? p->s2 : t->zeros, bytes, d));
    }
    t->dev_stale = 0;
    return GX_OK;
}

static gx_status write_params(gx_trainer *t, gx_exec *e, gx_graph *g, gx_diag *d) {
    if (t->dev_opt && e == t->e) return params_to_device(t, d);
    GX_TRY(params_to_host(t, d));
    for (int32_t i = 0; i < g->n_params; i++) {
        gx_optim_param *p = gx_optim_param_at(t->opt, i);
        gx_status st = gx_exec_write(e, g->params[i].val, p->data,
                                     (uint64_t)p->n * gx_dtype_size((gx_dtype)p->dtype), d);
        if (st != GX_OK) return st;
    }
    return GX_OK;
}

/* zero the states of stream b (row b of every state), or of all streams when b < 0 */
static void reset_states(gx_trainer *t, int64_t b) {
    for (int32_t i = 0; i < t->n_slots; i++) {
        slot *s = &t->slots[i];
        if (s->kind != SLOT_STATE) continue;
        if (b < 0 || s->info.shape.ndim == 0) {
            memset(s->host, 0, s->bytes);
            continue;
        }
        size_t row = s->bytes / (size_t)s->info.shape.dims[0];
        if (b < s->info.shape.dims[0]) memset((char *)s->host + (size_t)b * row, 0, row);
    }
}

static double read_scalar(gx_exec *e, const gx_graph *g, gx_val v, gx_diag *d, gx_status *st) {
    if (*st != GX_OK) return NAN;
    if (g->values[v].info.dtype == GX_DTYPE_F64) {
        double x = NAN;
        *st = gx_exec_read(e, v, &x, sizeof x, d);
        return x;
    }
    float x = NAN;
    *st = gx_exec_read(e, v, &x, sizeof x, d);
    return x;
}

/* feed batch `index` of `split` and the states into plan p (P_TRAIN, P_EVAL, P_DIAG) */
static gx_status feed(gx_trainer *t, gx_exec *e, int p, gx_split split, uint64_t index,
                      int64_t step, gx_diag *d) {
    gx_status st = GX_OK;
    for (int32_t i = 0; i < t->n_slots && st == GX_OK; i++) {
        slot *s = &t->slots[i];
        gx_val v = s->val[p];
        if (v == GX_VAL_NONE) continue;
        if (s->kind == SLOT_DATA && t->nranks > 1) {
            /* the global batch, then this rank's rows of it */
            gx_tensor_info all = s->info;
            all.shape.dims[0] *= t->nranks;
            st = t->data->vt->fill(t->data, split, index, s->name, &all, t->scratch, d);
            if (st == GX_OK) memcpy(s->host, (char *)t->scratch + s->bytes * (size_t)t->rank, s->bytes);
        } else if (s->kind == SLOT_DATA)
            st = t->data->vt->fill(t->data, split, index, s->name, &s->info, s->host, d);
        else if (s->kind == SLOT_RNG) {
            /* each rank draws its own dropout masks */
            uint32_t k0 = (uint32_t)t->c.seed + (uint32_t)t->rank * 0x9E3779B9u;
            int32_t key[2] = {(int32_t)k0, (int32_t)(uint32_t)step};
            memcpy(s->host, key, sizeof key);
        }
        if (st == GX_OK) st = gx_exec_write(e, v, s->host, s->bytes, d);
    }
    return st;
}

static gx_status read_states(gx_trainer *t, gx_exec *e, int p, gx_diag *d) {
    gx_status st = GX_OK;
    for (int32_t i = 0; i < t->n_slots && st == GX_OK; i++) {
        slot *s = &t->slots[i];
        gx_val nv = s->next[p];
        if (s->kind == SLOT_STATE && nv != GX_VAL_NONE) st = gx_exec_read(e, nv, s->host, s->bytes, d);
    }
    return st;
}

/* copy every state into t->saved_states (save = 1) or back out of it (save = 0) */
static void swap_saved_states(gx_trainer *t, int save) {
    size_t off = 0;
    for (int32_t i = 0; i < t->n_slots; i++)
        if (t->slots[i].kind == SLOT_STATE) {
            char *kept = t->saved_states + off;
            if (save) memcpy(kept, t->slots[i].host, t->slots[i].bytes);
            else memcpy(t->slots[i].host, kept, t->slots[i].bytes);
            off += t->slots[i].bytes;
        }
}

/* mean loss and metrics over the validation batches, states carried like training */
static gx_status validate(gx_trainer *t, gx_train_event *ev, gx_diag *d) {
    int64_t nb = (int64_t)t->data->vt->n_batches(t->data, GX_SPLIT_VAL);
    if (t->c.val_batches > 0 && nb > t->c.val_batches) nb = t->c.val_batches;
    if (nb <= 0 || t->ge->loss == GX_VAL_NONE) return GX_OK;
    /* the training states are kept aside: validation must not disturb the stream */
    swap_saved_states(t, 1);
    int stateful = t->data->vt->stateful(t->data);
    gx_status st = write_params(t, t->ee, t->ge, d);
    double loss = 0, metrics[GX_TRAIN_MAX_METRICS] = {0};
    for (int64_t k = 0; k < nb && st == GX_OK; k++) {
        if (!stateful || k == 0) reset_states(t, -1);
        st = feed(t, t->ee, P_EVAL, GX_SPLIT_VAL, (uint64_t)k, t->step, d);
        if (st == GX_OK) st = gx_exec_run(t->ee, d);
        loss += read_scalar(t->ee, t->ge, t->ge->loss, d, &st);
        for (int32_t m = 0; m < t->n_metrics; m++)
            if (t->metric_val[P_EVAL][m] != GX_VAL_NONE)
                metrics[m] += read_scalar(t->ee, t->ge, t->metric_val[P_EVAL][m], d, &st);
        if (st == GX_OK) st = read_states(t, t->ee, P_EVAL, d);
    }
    swap_saved_states(t, 0);
    if (st == GX_OK && t->nranks > 1) {   /* each rank scored its rows: the mean of all */
        double all[GX_TRAIN_MAX_METRICS + 1];
        all[0] = loss;
        for (int32_t m = 0; m < t->n_metrics; m++) all[1 + m] = metrics[m];
        st = gx_dist_allreduce(t->dist, all, 1 + t->n_metrics, GX_DTYPE_F64, GX_DIST_SUM,
                               "the validation", d);
        loss = all[0] / t->nranks;
        for (int32_t m = 0; m < t->n_metrics; m++) metrics[m] = all[1 + m] / t->nranks;
    }
    if (st != GX_OK) return st;
    ev->kind = GX_TRAIN_VALID;
    ev->loss = t->val_loss = loss / (double)nb;
    ev->n_metrics = t->n_metrics;
    for (int32_t m = 0; m < t->n_metrics; m++) {
        ev->metric_names[m] = t->metric_name[m];
        ev->metrics[m] = metrics[m] / (double)nb;
    }
    return GX_OK;
}

/* gx_st_writer_meta with the failure said */
static gx_status writer_meta(gx_st_writer *w, gx_diag *d, const char *key, const char *value) {
    gx_status st = gx_st_writer_meta(w, key, value);
    if (st != GX_OK) return gx_diag_set(d, st, "checkpoint metadata '%s': %s", key,
                                        st == GX_ERR_NOMEM ? "out of memory" : "cannot add");
    return GX_OK;
}

/* the first element of a float array that is NaN or Inf, or -1 */
static int64_t first_not_finite(int dtype, const void *data, int64_t n) {
    if (data == NULL) return -1;
    if (dtype == GX_DTYPE_F32) {
        for (int64_t i = 0; i < n; i++)
            if (!isfinite(((const float *)data)[i])) return i;
    } else if (dtype == GX_DTYPE_F64) {
        for (int64_t i = 0; i < n; i++)
            if (!isfinite(((const double *)data)[i])) return i;
    }
    return -1;
}

static gx_status write_checkpoint(gx_trainer *t, void *const *states, gx_diag *d);

/* Rank 0 writes the checkpoint, with every rank's carried states gathered into it (the global
 * batch's rows, in rank order), and then tells the others whether that worked. */
static gx_status save_checkpoint(gx_trainer *t, gx_diag *d) {
    GX_TRY(params_to_host(t, d));
    if (t->nranks == 1) {
        void **own = gx_malloc(sizeof(void *) * ((size_t)t->n_slots + 1));
        if (own == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
        for (int32_t i = 0; i < t->n_slots; i++) own[i] = t->slots[i].host;
        gx_status st = write_checkpoint(t, own, d);
        gx_free(own);
        return st;
    }
    void **all = gx_calloc((size_t)t->n_slots + 1, sizeof(void *));
    gx_status st = all ? GX_OK : gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    for (int32_t i = 0; i < t->n_slots && st == GX_OK; i++) {
        slot *s = &t->slots[i];
        if (s->kind != SLOT_STATE) continue;
        if (t->rank == 0 && (all[i] = gx_malloc(s->bytes * (size_t)t->nranks)) == NULL)
            st = gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
        /* a failed allocation on rank 0 still joins the gather (into a dummy), so no rank waits */
        char dummy[8];
        gx_status gs = gx_dist_gather(t->dist, s->host, s->bytes, all[i] ? all[i] : dummy,
                                      "the checkpoint's state gather", d);
        if (gs != GX_OK) {
            for (int32_t j = 0; j < t->n_slots; j++) gx_free(all[j]);
            gx_free(all);
            return gs;   /* a broken collective: not agreed, the job is aborted */
        }
    }
    if (t->rank == 0 && st == GX_OK) st = write_checkpoint(t, all, d);
    for (int32_t i = 0; all && i < t->n_slots; i++) gx_free(all[i]);
    gx_free(all);
    /* rank 0's outcome, for everyone: a failed write stops every rank alike */
    int32_t code = (int32_t)st;
    GX_TRY(gx_dist_bcast(t->dist, &code, sizeof code, "the checkpoint", d));
    t->agreed_error = code != GX_OK;
    if (t->rank > 0 && code != GX_OK)
        return gx_diag_set(d, (gx_status)code, "rank 0 could not write the checkpoint");
    return st;
}

static gx_status write_checkpoint(gx_trainer *t, void *const *states, gx_diag *d) {
    /* A NaN model is never written over a good checkpoint: an update can overflow a param
     * while the loss and gradients of its step were still finite. */
    for (int32_t i = 0; i < gx_optim_n_params(t->opt); i++) {
        gx_optim_param *p = gx_optim_param_at(t->opt, i);
        int64_t at = first_not_finite(p->dtype, p->data, p->n);
        const char *what = "param";
        if (at < 0) {
            at = first_not_finite(p->dtype, p->s1, p->n);
            what = "optimizer state of param";
        }
        if (at < 0) {
            at = first_not_finite(p->dtype, p->s2, p->n);
            what = "optimizer state of param";
        }
        if (at >= 0)
            return gx_diag_set(d, GX_ERR_INVALID, "%s: not saving the checkpoint of step "
                               "%lld: element %lld of the %s '%s' is not finite (the update "
                               "overflowed; a lower --lr or --clip helps); the previous "
                               "checkpoint is kept", t->c.checkpoint, (long long)t->step,
                               (long long)at, what, p->name);
    }
    gx_st_writer *w = gx_st_writer_new();
    if (w == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    gx_status st = GX_OK;
    char key[300], num[64];
    for (int32_t i = 0; i < gx_optim_n_params(t->opt) && st == GX_OK; i++) {
        gx_optim_param *p = gx_optim_param_at(t->opt, i);
        const gx_shape *shape = &t->g->values[t->g->params[i].val].info.shape;
        snprintf(key, sizeof key, "param.%s", p->name);
        st = gx_st_writer_add(w, key, (gx_dtype)p->dtype, shape, p->data, d);
        for (int k = 0; k < 2 && st == GX_OK; k++) {
            const char *sn = gx_optim_state_name(t->opt, k);
            if (sn == NULL) continue;
            snprintf(key, sizeof key, "optim.%s.%s", p->name, sn);
            st = gx_st_writer_add(w, key, (gx_dtype)p->dtype, shape, k ? p->s2 : p->s1, d);
        }
    }
    for (int32_t i = 0; i < t->n_slots && st == GX_OK; i++) {
        slot *s = &t->slots[i];
        if (s->kind != SLOT_STATE) continue;
        snprintf(key, sizeof key, "state.%s", s->name);
        gx_shape all = s->info.shape;   /* every rank's rows */
        if (all.ndim > 0) all.dims[0] *= t->nranks;
        st = gx_st_writer_add(w, key, s->info.dtype, &all, states[i], d);
    }
    const gx_vocab *v = gx_data_vocab(t->data);
    if (st == GX_OK && v && v->n > 0) {
        int32_t *ids = gx_malloc(sizeof(int32_t) * (size_t)v->n);
        if (ids == NULL) st = gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
        for (int32_t i = 0; ids && i < v->n; i++) ids[i] = (int32_t)v->syms[i];
        gx_shape sh = {.ndim = 1, .dims = {v->n}};
        if (st == GX_OK) st = gx_st_writer_add(w, "vocab", GX_DTYPE_I32, &sh, ids, d);
        gx_free(ids);
        if (st == GX_OK) st = writer_meta(w, d, "gexec.vocab_bytes", v->bytes ? "1" : "0");
    }
    /* metadata: what the run is, so resume, sample and eval can check and rebuild it */
    char plugins[2048] = "";
    size_t len = 0;
    for (int i = 0; i < gx_registry_n_plugins(t->reg) && len < sizeof plugins - 128; i++) {
        const gx_plugin_rec *pr = gx_registry_plugin_at(t->reg, i);
        len += (size_t)snprintf(plugins + len, sizeof plugins - len, "%s%s@%s", i ? "," : "",
                                pr->name ? pr->name : "?", pr->version ? pr->version : "?");
    }
    const char *kv[][2] = {
        {"gexec.format", "checkpoint-1"},
        {"gexec.graph", t->g->name},
        {"gexec.graph_path", t->path},
        {"gexec.graph_text", t->text},
        {"gexec.graph_hash", t->hash},
        {"gexec.dims", t->dims},
        {"gexec.plugins", plugins},
        {"gexec.optimizer", gx_optim_name(t->c.optim.kind)},
        {"gexec.data", t->data->source},
    };
    for (size_t i = 0; i < sizeof kv / sizeof kv[0] && st == GX_OK; i++) st = writer_meta(w, d, kv[i][0], kv[i][1]);
    snprintf(num, sizeof num, "%lld", (long long)t->step);
    if (st == GX_OK) st = writer_meta(w, d, "gexec.step", num);
    snprintf(num, sizeof num, "%lld", (long long)gx_optim_steps(t->opt));
    if (st == GX_OK) st = writer_meta(w, d, "gexec.optim_steps", num);
    snprintf(num, sizeof num, "%llu", (unsigned long long)t->c.seed);
    if (st == GX_OK) st = writer_meta(w, d, "gexec.seed", num);
    snprintf(num, sizeof num, "%.17g", t->c.val_frac);
    if (st == GX_OK) st = writer_meta(w, d, "gexec.val_frac", num);
    if (st == GX_OK) st = gx_st_writer_save(w, t->c.checkpoint, d);
    gx_st_writer_free(w);
    return st;
}

/* "file:line:col" of pos into buf */
static const char *pos_str(gx_srcpos pos, char *buf, size_t n) {
    if (pos.file == NULL) return NULL;
    snprintf(buf, n, "%s:%d:%d", pos.file, (int)pos.line, (int)pos.col);
    return buf;
}

/*
 * The loss or a gradient of step k is not finite: run the step again in checking mode to find
 * where the first NaN or Inf appears, and say it. Returns the error (--nan stop) or GX_OK
 * after logging it (--nan skip; the caller drops the update and restarts the streams' states).
 */
static gx_status nan_found(gx_trainer *t, gx_exec *e, int64_t k, const char *what, gx_diag *d) {
    gx_exec_set_check(e, 1);
    gx_diag cd;
    gx_diag_init(&cd);
    gx_status rs = gx_exec_run(e, &cd);
    const gx_exec_fault *f = gx_exec_fault_of(e);
    char where[512] = "", at[256] = "", loop[256] = "", buf[256];
    if (rs != GX_OK && f->found) {
        if (strcmp(f->what, "output") == 0)
            snprintf(where, sizeof where, "%s of '%s' (output %d%s%s)", f->backward ? "the gradient "
                     "computed by" : "the output", f->op, (int)f->output, f->name ? ", " : "",
                     f->name ? f->name : "");
        else snprintf(where, sizeof where, "%s '%s'", f->what, f->name ? f->name : "?");
        if (f->pos.file) snprintf(at, sizeof at, " at %.200s", pos_str(f->pos, buf, sizeof buf));
        if (f->time_step >= 0)
            snprintf(loop, sizeof loop, ", time step %lld of the loop at %.200s", (long long)f->time_step,
                     pos_str(f->loop_pos, buf, sizeof buf) ? buf : "?");
    } else snprintf(where, sizeof where, "no single op (a re-run %.400s)", rs == GX_OK ?
                    "was finite: a non-deterministic kernel?" : cd.msg);
    int skip = t->c.nan_skip;
    if (t->mon) {
        char wpos[256], lpos[256];
        GX_TRY(gx_monitor_nan(t->mon, k + 1, what, f->found ? f->op : NULL,
                              f->found ? pos_str(f->pos, wpos, sizeof wpos) : NULL,
                              f->found ? f->output : 0, f->found ? f->time_step : -1,
                              f->found && f->time_step >= 0 ? pos_str(f->loop_pos, lpos, sizeof lpos) : NULL,
                              f->found && f->backward, skip ? "skip" : "stop", d));
    }
    gx_exec_set_check(e, 0);   /* clears the fault f points at */
    if (!skip || ++t->nan_in_a_row > 20)
        return gx_diag_set(d, GX_ERR_INVALID, "step %lld: the %s is not finite; the first NaN or "
                           "Inf is %s%s%s%s", (long long)k + 1, what, where, at, loop,
                           skip ? " (20 steps in a row skipped: stopping)"
                                : " (--nan skip drops such steps instead of stopping)");
    t->nan_skipped++;
    fprintf(stderr, "gexec: step %lld skipped: the %s is not finite; the first NaN or Inf is "
            "%s%s%s\n", (long long)k + 1, what, where, at, loop);
    return GX_OK;
}

/* the event of a step that updated (its metrics are already in ev) */
static void step_event(gx_trainer *t, gx_train_event *ev, double loss, double lr, double norm,
                       int clipped) {
    ev->kind = GX_TRAIN_STEP;
    ev->loss = loss;
    ev->lr = lr;
    ev->grad_norm = norm;
    ev->clipped = clipped;
    ev->n_metrics = t->n_metrics;
    for (int32_t m = 0; m < t->n_metrics; m++) ev->metric_names[m] = t->metric_name[m];
}

/* Step k's loss or gradient norm is not finite: locate it (nan_found), then either stop or
 * skip the step with the states restarted (a NaN state would poison the next batches). */
static gx_status not_finite(gx_trainer *t, gx_exec *e, int64_t k, double loss, double norm,
                            gx_train_event *ev, gx_diag *d) {
    GX_TRY(nan_found(t, e, k, isfinite(loss) ? "gradient" : "loss", d));
    reset_states(t, -1);
    t->step = k + 1;
    *ev = (gx_train_event){.kind = GX_TRAIN_STEP, .loss = loss, .grad_norm = norm,
                           .n_metrics = t->n_metrics, .lr = NAN};
    for (int32_t m = 0; m < t->n_metrics; m++) ev->metric_names[m] = t->metric_name[m];
    return GX_OK;
}

/* A training step with the device optimizer: the hyperparameters, the batch and the states go
 * up, the step (forward, backward, clipping, update) runs as one batch, and the loss, the
 * gradients' square norm, the states and metrics come back; params and gradients stay. */
static gx_status device_step(gx_trainer *t, int64_t k, gx_train_event *ev, gx_diag *d) {
    gx_graph *g = t->g;
    gx_exec *e = t->e;
    int stateful = t->data->vt->stateful(t->data);
    if (!stateful || k % t->n_batches == 0) reset_states(t, -1);
    const gx_optim_config *oc = &t->c.optim;
    double lr = gx_schedule_lr(&t->c.sched, oc->lr, k);
    int64_t upd = gx_optim_steps(t->opt) + 1;   /* the update this step makes */
    double h[GX_OPTIM_HYPER_N] = {0};
    h[GX_OPTIM_HYPER_LR] = lr;
    h[GX_OPTIM_HYPER_MOMENTUM] = oc->momentum;
    h[GX_OPTIM_HYPER_DAMPENING] = oc->dampening;
    h[GX_OPTIM_HYPER_BETA1] = oc->beta1;
    h[GX_OPTIM_HYPER_BETA2] = oc->beta2;
    h[GX_OPTIM_HYPER_ALPHA] = oc->alpha;
    h[GX_OPTIM_HYPER_EPS] = oc->eps;
    h[GX_OPTIM_HYPER_WEIGHT_DECAY] = oc->weight_decay;
    h[GX_OPTIM_HYPER_BC1] = 1.0 - pow(oc->beta1, (double)upd);
    h[GX_OPTIM_HYPER_BC2] = 1.0 - pow(oc->beta2, (double)upd);
    h[GX_OPTIM_HYPER_CLIP] = t->c.clip;
    h[GX_OPTIM_HYPER_CLIP_VALUE] = t->c.clip_value;
    h[GX_OPTIM_HYPER_FIRST] = upd == 1;
    float hf[GX_OPTIM_HYPER_N];
    for (int i = 0; i < GX_OPTIM_HYPER_N; i++) hf[i] = (float)h[i];
    gx_status st = params_to_device(t, d);
    if (st == GX_OK)
        st = g->values[t->dev_hyper].info.dtype == GX_DTYPE_F64
                 ? gx_exec_write(e, t->dev_hyper, h, sizeof h, d)
                 : gx_exec_write(e, t->dev_hyper, hf, sizeof hf, d);
    if (st == GX_OK) st = feed(t, e, P_TRAIN, GX_SPLIT_TRAIN, (uint64_t)k, k, d);
    if (st == GX_OK) st = gx_exec_record(e, d);
    /* what comes back, in one round trip: loss, gsq, the metrics, the states */
    gx_val vals[64];
    void *dsts[64];
    double scal[2 + GX_TRAIN_MAX_METRICS];   /* f64 graphs */
    float scal32[2 + GX_TRAIN_MAX_METRICS];
    int f64 = g->values[g->loss].info.dtype == GX_DTYPE_F64;
    int32_t n = 0, n_scalar;
    vals[n] = g->loss;
    vals[n + 1] = t->dev_gsq;
    n += 2;
    for (int32_t m = 0; m < t->n_metrics; m++)
        if (t->metric_val[P_TRAIN][m] != GX_VAL_NONE) vals[n++] = t->metric_val[P_TRAIN][m];
    n_scalar = n;
    for (int32_t i = 0; i < n_scalar; i++) dsts[i] = f64 ? (void *)&scal[i] : (void *)&scal32[i];
    for (int32_t i = 0; i < t->n_slots && st == GX_OK; i++)
        if (t->slots[i].kind == SLOT_STATE && t->slots[i].next[P_TRAIN] != GX_VAL_NONE) {
            if (n == 64) {   /* a graph with very many states: the rest one by one */
                st = gx_exec_read(e, t->slots[i].next[P_TRAIN], t->slots[i].host, t->slots[i].bytes, d);
                continue;
            }
            vals[n] = t->slots[i].next[P_TRAIN];
            dsts[n++] = t->slots[i].host;
        }
    if (st == GX_OK) st = gx_exec_read_many(e, n, vals, dsts, d);
    if (st != GX_OK) return st;
    for (int32_t i = 0; !f64 && i < n_scalar; i++) scal[i] = scal32[i];
    double loss = scal[0], gsq = scal[1];
    for (int32_t m = 0, j = 2; m < t->n_metrics; m++)
        ev->metrics[m] = t->metric_val[P_TRAIN][m] != GX_VAL_NONE ? scal[j++] : NAN;
    double norm = sqrt(gsq);
    t->host_stale = 1;
    /* a non-finite gsq left the params as they were (optim_step skips); a non-finite loss with
     * finite gradients updated them, as the host optimizer would not have (see README) */
    if (!isfinite(loss) || !isfinite(norm)) return not_finite(t, e, k, loss, norm, ev, d);
    t->nan_in_a_row = 0;
    gx_optim_set_steps(t->opt, upd);
    t->step = k + 1;
    step_event(t, ev, loss, lr, norm, t->c.clip > 0 && norm > t->c.clip);
    return GX_OK;
}

/* One training step: batch t->step, forward and backward, clip, update. Every diag_every-th
 * step runs the diagnostics plan instead and records what the monitor measures. With
 * only_diagnose, batch `k` through the diagnostics plan, and no update (gexec diag). */
static gx_status step_on(gx_trainer *t, int64_t k, int only_diagnose, gx_train_event *ev,
                         gx_diag *d) {
    int stateful = t->data->vt->stateful(t->data);
    int diag = t->mon && (only_diagnose || (t->c.diag_every > 0 && k % t->c.diag_every == 0));
    if (t->dev_opt && !diag) return device_step(t, k, ev, d);
    int p = diag ? P_DIAG : P_TRAIN;
    gx_graph *g = plan_graph(t, p);
    gx_exec *e = diag ? t->ed : t->e;
    const gx_val *grads = diag ? t->grad_diag : t->grad_val;
    if (!stateful || k % t->n_batches == 0) reset_states(t, -1);
    if (t->dg) {   /* the buckets fill as this run makes the gradients (grads_hook) */
        gx_dist_grads_begin(t->dg);
        t->next = 0;
    }
    gx_status st = write_params(t, e, g, d);
    if (st == GX_OK) st = feed(t, e, p, GX_SPLIT_TRAIN, (uint64_t)k, k, d);
    if (st == GX_OK) st = gx_exec_run(e, d);
    double loss = read_scalar(e, g, g->loss, d, &st);
    for (int32_t i = 0; !t->dg && i < g->n_params && st == GX_OK; i++) {
        gx_optim_param *pp = gx_optim_param_at(t->opt, i);
        st = gx_exec_read(e, grads[i], pp->grad,
                          (uint64_t)pp->n * gx_dtype_size((gx_dtype)pp->dtype), d);
    }
    if (st == GX_OK) st = read_states(t, e, p, d);
    for (int32_t m = 0; m < t->n_metrics; m++)
        ev->metrics[m] = t->metric_val[p][m] != GX_VAL_NONE
                             ? read_scalar(e, g, t->metric_val[p][m], d, &st) : NAN;
    if (st == GX_OK && t->dg) st = gx_train_dist_reduce(t, e, grads, &loss, ev->metrics, d);
    if (st != GX_OK) return st;
    double norm = gx_grad_global_norm(t->opt);
    if (!isfinite(loss) || !isfinite(norm)) {
        /* every rank sees the same averaged loss and gradients, so all stop (or skip) here */
        st = not_finite(t, e, k, loss, norm, ev, d);
        if (st != GX_OK) t->agreed_error = 1;
        return st;
    }
    t->nan_in_a_row = 0;
    if (diag) st = gx_monitor_collect(t->mon, e, t->opt, k + 1, loss, d);
    if (st != GX_OK) return st;
    int clipped = 0;
    double after = norm;
    if (t->c.clip > 0 && norm > t->c.clip) {
        gx_grad_scale(t->opt, t->c.clip / (norm + 1e-6));
        clipped = 1;
        after = gx_grad_global_norm(t->opt);
    }
    if (t->c.clip_value > 0) {
        gx_grad_clamp(t->opt, t->c.clip_value);
        after = gx_grad_global_norm(t->opt);
    }
    double lr = gx_schedule_lr(&t->c.sched, t->c.optim.lr, k);
    if (!only_diagnose) {
        gx_optim_step(t->opt, lr);
        t->step = k + 1;
        t->dev_stale = t->dev_opt;   /* the device's params are behind now */
    }
    if (diag) st = gx_monitor_finish(t->mon, t->opt, lr, norm, after, clipped, d);
    step_event(t, ev, loss, lr, norm, clipped);
    return st;
}

static gx_status train_step(gx_trainer *t, gx_train_event *ev, gx_diag *d) {
    double t0 = now_s();
    gx_status st = step_on(t, t->step, 0, ev, d);
    /* testing --dist-check: GEXEC_TEST_DIST_SKEW=K nudges rank 1's first param after step K */
    if (st == GX_OK && t->skew_step > 0 && t->skew_step == t->step && gx_optim_n_params(t->opt) > 0) {
        gx_optim_param *p = gx_optim_param_at(t->opt, 0);
        if (p->dtype == GX_DTYPE_F32) ((float *)p->data)[0] += 1e-3f;
        else if (p->dtype == GX_DTYPE_F64) ((double *)p->data)[0] += 1e-3;
    }
    if (st == GX_OK && t->c.dist_check && t->nranks > 1) st = gx_train_dist_check(t, d);
    t->step_s += now_s() - t0;
    t->run_steps++;
    return st;
}

static gx_status write_meta(gx_trainer *t, int64_t every, gx_diag *d) {
    gx_monitor_meta meta = {.graph = t->g->name, .path = t->path,
                            .backend = gx_exec_backend_name(t->e), .dims = t->dims,
                            .steps = t->steps, .every = every, .clip = t->c.clip};
    return gx_monitor_meta_record(t->mon, &meta, d);
}

gx_status gx_trainer_diagnose(gx_trainer *t, int64_t index, gx_diag *d) {
    if (t->mon == NULL) return gx_diag_set(d, GX_ERR_INVALID, "the trainer has no diagnostics");
    GX_TRY(write_meta(t, 0, d));
    gx_train_event ev = {0};
    return step_on(t, index, 1, &ev, d);
}

gx_status gx_trainer_save_batch(const gx_trainer *t, const char *path, gx_diag *d) {
    gx_st_writer *w = gx_st_writer_new();
    if (w == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    gx_status st = GX_OK;
    for (int32_t i = 0; i < t->n_slots && st == GX_OK; i++) {
        const slot *s = &t->slots[i];
        if (s->kind == SLOT_DATA)
            st = gx_st_writer_add(w, s->name, s->info.dtype, &s->info.shape, s->host, d);
    }
    if (st == GX_OK) st = gx_st_writer_save(w, path, d);
    gx_st_writer_free(w);
    return st;
}

const gx_mon_record *gx_trainer_record(const gx_trainer *t) {
    return t->mon ? gx_monitor_record(t->mon) : NULL;
}

static int64_t tokens_per_batch(const gx_trainer *t) {
    /* the first data input's element count (tokens for text: B * T) */
    for (int32_t i = 0; i < t->n_slots; i++)
        if (t->slots[i].kind == SLOT_DATA) {
            const gx_shape *s = &t->slots[i].info.shape;
            return s->ndim >= 2 ? s->dims[0] * s->dims[1] : s->ndim == 1 ? s->dims[0] : 1;
        }
    return 1;
}

gx_status gx_trainer_step(gx_trainer *t, double *loss, gx_diag *d) {
    gx_train_event ev = {0};
    if (t->step >= t->steps) t->steps = t->step + 1;   /* a bench may run past the plan */
    gx_status st = train_step(t, &ev, d);
    if (loss) *loss = st == GX_OK ? ev.loss : NAN;
    return st;
}

gx_status gx_trainer_infer(gx_trainer *t, int64_t index, double *loss, gx_diag *d) {
    gx_status st = write_params(t, t->ee, t->ge, d);
    if (st == GX_OK) st = feed(t, t->ee, P_EVAL, GX_SPLIT_TRAIN, (uint64_t)index, t->step, d);
    if (st == GX_OK) st = gx_exec_run(t->ee, d);
    double l = t->ge->loss != GX_VAL_NONE ? read_scalar(t->ee, t->ge, t->ge->loss, d, &st) : NAN;
    if (st == GX_OK) st = read_states(t, t->ee, P_EVAL, d);
    if (loss) *loss = l;
    return st;
}

const gx_graph *gx_trainer_graph(const gx_trainer *t, int inference) { return inference ? t->ge : t->g; }
const gx_exec *gx_trainer_exec(const gx_trainer *t, int inference) { return inference ? t->ee : t->e; }
int64_t gx_trainer_tokens_per_step(const gx_trainer *t) { return tokens_per_batch(t); }

gx_status gx_trainer_run(gx_trainer *t, gx_train_report_fn report, void *user, gx_diag *d) {
    char msg[1024];
    gx_train_event ev = {.kind = GX_TRAIN_START, .step = t->step, .steps = t->steps};
    int64_t n_params = 0;
    for (int32_t i = 0; i < gx_optim_n_params(t->opt); i++) n_params += gx_optim_param_at(t->opt, i)->n;
    char ranks[64] = "";
    if (t->nranks > 1) snprintf(ranks, sizeof ranks, " (%d ranks of %lld)", t->nranks,
                                (long long)t->c.batch);
    snprintf(msg, sizeof msg, "%s: %lld params, %s, batch %lld%s, %lld batches per epoch, %lld "
             "steps%s on %s (%s)", t->g->name, (long long)n_params, gx_optim_name(t->c.optim.kind),
             (long long)t->c.batch * t->nranks, ranks, (long long)t->n_batches,
             (long long)t->steps, t->resume ? " (resumed)" : "", gx_exec_backend_name(t->e),
             t->dims);
    ev.message = msg;
    if (report) report(user, &ev);
    if (t->mon) {
        gx_status ms = write_meta(t, t->c.diag_every, d);
        if (ms != GX_OK) return ms;
    }
    double t0 = now_s(), t_last = t0;
    int64_t step_last = t->step, start = t->step;
    int64_t tok = tokens_per_batch(t) * t->nranks;
    gx_status st = GX_OK;
    while (t->step < t->steps && st == GX_OK) {
        gx_train_event se = {0};
        st = train_step(t, &se, d);
        if (st != GX_OK) break;
        double now = now_s();
        se.step = t->step;
        se.steps = t->steps;
        se.epoch = (t->step - 1) / t->n_batches;
        se.epoch_frac = (double)t->step / (double)t->n_batches;
        se.elapsed_s = now - t0;
        se.tokens_per_s = (double)(t->step - step_last) * (double)tok / (now - t_last + 1e-12);
        se.eta_s = (double)(t->steps - t->step) * (now - t0) / (double)(t->step - start);
        if (report) report(user, &se);
        if (t->mon) st = gx_monitor_train(t->mon, t->step, se.loss, se.lr, se.grad_norm,
                                          se.clipped, se.elapsed_s, d);
        if (t->step % t->c.log_every == 0) {
            t_last = now;
            step_last = t->step;
        }
        /* distributed: the stop every rank agreed on in this step's allreduce */
        int stop = t->nranks > 1 ? t->stop_agreed : t->stop;
        int last = t->step == t->steps || stop;
        if ((t->c.val_every > 0 && t->step % t->c.val_every == 0) || last) {
            gx_train_event ve = se;
            if (st == GX_OK) st = validate(t, &ve, d);
            if (st == GX_OK && ve.kind == GX_TRAIN_VALID && report) report(user, &ve);
            if (st == GX_OK && ve.kind == GX_TRAIN_VALID && t->mon)
                st = gx_monitor_val(t->mon, t->step, ve.loss, ve.n_metrics, ve.metric_names,
                                    ve.metrics, d);
        }
        if (st == GX_OK && t->c.checkpoint &&
            ((t->c.checkpoint_every > 0 && t->step % t->c.checkpoint_every == 0) || last)) {
            st = save_checkpoint(t, d);
            gx_train_event ce = se;
            ce.kind = GX_TRAIN_CHECKPOINT;
            ce.path = t->c.checkpoint;
            if (st == GX_OK && report) report(user, &ce);
        }
        if (stop) break;
    }
    if (st == GX_OK && t->mon)
        st = gx_monitor_done(t->mon, t->step, now_s() - t0, t->val_loss, d);
    if (t->nan_skipped)
        fprintf(stderr, "gexec: %lld step%s skipped for a NaN or Inf (--nan skip)\n",
                (long long)t->nan_skipped, t->nan_skipped == 1 ? "" : "s");
    ev.kind = GX_TRAIN_DONE;
    ev.step = t->step;
    ev.elapsed_s = now_s() - t0;
    ev.loss = t->val_loss;
    if (st == GX_OK && report) report(user, &ev);
    return st;
}
