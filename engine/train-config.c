/*
 * train-config.c: training settings from the graph's `train { }` block. Command-line flags are
 * applied after this by the caller, so they override the block.
 */
#include "train.h"

#include <math.h>
#include <string.h>

void gx_train_config_defaults(gx_train_config *c) {
    memset(c, 0, sizeof *c);
    c->epochs = 1;
    c->batch = 0;   /* unset: the graph's `dim B = N`, else 32 */
    c->bptt = 0;    /* unset: the graph's `dim T = N`, else 64 */
    c->optim = gx_optim_defaults(GX_OPT_ADAM);
    c->sched.kind = GX_SCHED_CONSTANT;
    c->sched.gamma = 0.1;
    c->unroll = -1;
    c->device = -1;
    c->val_frac = 0.05;
    c->log_every = 50;
    c->diag_every = 10;
    c->val_every = 0;
}

static const char *const train_keys[] = {
    "steps", "epochs", "batch", "bptt", "lr", "optimizer", "clip", "clip_value", "weight_decay",
    "momentum", "schedule", "warmup", "seed", "threads", "backend", "val_every", "val_batches",
    "val_frac", "log_every", "checkpoint_every", "data", "task", "bytes"};
#define N_TRAIN_KEYS ((int)(sizeof train_keys / sizeof train_keys[0]))

/* a number, allowing a leading minus */
static int number_of(const gx_ast_expr *x, double *v) {
    if (x->kind == GX_EXPR_NUMBER) {
        *v = x->num;
        return 1;
    }
    if (x->kind == GX_EXPR_UNARY && x->op == '-' && x->lhs && x->lhs->kind == GX_EXPR_NUMBER) {
        *v = -x->lhs->num;
        return 1;
    }
    return 0;
}

static gx_status want_number(const gx_ast_expr *x, const char *key, double lo, double hi,
                             double *v, gx_diag *d) {
    if (!number_of(x, v))
        return gx_diag_at(d, GX_ERR_INVALID, x->pos, "train setting '%s' must be a number", key);
    if (!(*v >= lo && *v <= hi))
        return gx_diag_at(d, GX_ERR_INVALID, x->pos, "train setting '%s' is %g; it must be in "
                          "[%g, %g]", key, *v, lo, hi);
    return GX_OK;
}

static gx_status want_int(const gx_ast_expr *x, const char *key, int64_t lo, int64_t *v,
                          gx_diag *d) {
    double f;
    gx_status st = want_number(x, key, (double)lo, 9.0e15, &f, d);
    if (st != GX_OK) return st;
    if (f != floor(f))
        return gx_diag_at(d, GX_ERR_INVALID, x->pos, "train setting '%s' must be a whole number, "
                          "got %g", key, f);
    *v = (int64_t)f;
    return GX_OK;
}

static gx_status want_string(const gx_ast_expr *x, const char *key, const char **v, gx_diag *d) {
    if (x->kind == GX_EXPR_STRING) *v = x->str;
    else if (x->kind == GX_EXPR_NAME) *v = x->name;
    else return gx_diag_at(d, GX_ERR_INVALID, x->pos, "train setting '%s' must be a string", key);
    return GX_OK;
}

/* NAME or NAME(key = value, ...): the callee and its arguments */
static gx_status call_parts(const gx_ast_expr *x, const char *key, const char **name,
                            const gx_ast_arg **args, int *n, gx_diag *d) {
    if (x->kind == GX_EXPR_NAME || x->kind == GX_EXPR_STRING) {
        *name = x->kind == GX_EXPR_NAME ? x->name : x->str;
        *args = NULL;
        *n = 0;
        return GX_OK;
    }
    if (x->kind != GX_EXPR_CALL)
        return gx_diag_at(d, GX_ERR_INVALID, x->pos, "train setting '%s' must be a name or a "
                          "call like adam(lr = 2e-3)", key);
    *name = x->name;
    *args = x->args;
    *n = x->n_args;
    for (int i = 0; i < x->n_args; i++)
        if (x->args[i].name == NULL)
            return gx_diag_at(d, GX_ERR_INVALID, x->args[i].pos, "arguments of '%s' are named: "
                              "%s(lr = 0.001)", x->name, x->name);
    return GX_OK;
}

static gx_status unknown_arg(const gx_ast_arg *a, const char *what, const char *const *known,
                             int n, gx_diag *d) {
    const char *near = gx_nearest_name(a->name, known, n);
    return gx_diag_at(d, GX_ERR_NOT_FOUND, a->pos, "%s has no argument '%s'%s%s%s", what, a->name,
                      near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "");
}

static gx_status parse_optimizer(const gx_ast_expr *x, gx_optim_config *o, gx_diag *d) {
    const char *name;
    const gx_ast_arg *args;
    int n;
    gx_status st = call_parts(x, "optimizer", &name, &args, &n, d);
    if (st != GX_OK) return st;
    gx_optim_kind kind;
    if (gx_optim_parse_kind(name, &kind) != 0) {
        static const char *const kinds[] = {"sgd", "adam", "adamw", "rmsprop"};
        const char *near = gx_nearest_name(name, kinds, 4);
        return gx_diag_at(d, GX_ERR_NOT_FOUND, x->pos, "unknown optimizer '%s' (sgd, adam, adamw, "
                          "rmsprop)%s%s%s", name, near ? "; did you mean '" : "", near ? near : "",
                          near ? "'?" : "");
    }
    *o = gx_optim_defaults(kind);
    static const char *const keys[] = {"lr", "momentum", "nesterov", "dampening", "beta1",
                                       "beta2", "alpha", "eps", "weight_decay"};
    for (int i = 0; i < n; i++) {
        const char *k = args[i].name;
        double v;
        int idx = -1;
        for (int j = 0; j < 9; j++)
            if (strcmp(k, keys[j]) == 0) idx = j;
        if (idx < 0) return unknown_arg(&args[i], name, keys, 9, d);
        st = want_number(args[i].value, k, 0.0, 1e6, &v, d);
        if (st != GX_OK) return st;
        switch (idx) {
        case 0: o->lr = v; break;
        case 1: o->momentum = v; break;
        case 2: o->nesterov = v != 0; break;
        case 3: o->dampening = v; break;
        case 4: o->beta1 = v; break;
        case 5: o->beta2 = v; break;
        case 6: o->alpha = v; break;
        case 7: o->eps = v; break;
        case 8: o->weight_decay = v; break;
        }
        if ((idx == 4 || idx == 5 || idx == 6 || idx == 1) && v >= 1.0)
            return gx_diag_at(d, GX_ERR_INVALID, args[i].value->pos, "%s must be below 1, got %g",
                              k, v);
    }
    if (o->nesterov && (o->momentum <= 0 || o->dampening != 0))
        return gx_diag_at(d, GX_ERR_INVALID, x->pos, "nesterov needs momentum > 0 and dampening 0");
    return GX_OK;
}

static gx_status parse_schedule(const gx_ast_expr *x, gx_schedule *s, gx_diag *d) {
    const char *name;
    const gx_ast_arg *args;
    int n;
    gx_status st = call_parts(x, "schedule", &name, &args, &n, d);
    if (st != GX_OK) return st;
    static const char *const kinds[] = {"constant", "step", "cosine"};
    int kind = -1;
    for (int i = 0; i < 3; i++)
        if (strcmp(name, kinds[i]) == 0) kind = i;
    if (kind < 0) {
        const char *near = gx_nearest_name(name, kinds, 3);
        return gx_diag_at(d, GX_ERR_NOT_FOUND, x->pos, "unknown schedule '%s' (constant, "
                          "step(every = N, gamma = G), cosine(min_lr = X))%s%s%s", name,
                          near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "");
    }
    s->kind = (gx_sched_kind)kind;
    static const char *const keys[] = {"every", "gamma", "min_lr", "warmup"};
    for (int i = 0; i < n; i++) {
        int idx = -1;
        for (int j = 0; j < 4; j++)
            if (strcmp(args[i].name, keys[j]) == 0) idx = j;
        if (idx < 0) return unknown_arg(&args[i], name, keys, 4, d);
        double v;
        st = want_number(args[i].value, args[i].name, 0.0, 9.0e15, &v, d);
        if (st != GX_OK) return st;
        if (idx == 0) s->every = (int64_t)v;
        if (idx == 1) s->gamma = v;
        if (idx == 2) s->min_lr = v;
        if (idx == 3) s->warmup = (int64_t)v;
    }
    if (s->kind == GX_SCHED_STEP && s->every <= 0)
        return gx_diag_at(d, GX_ERR_INVALID, x->pos, "schedule step needs every = N (N > 0)");
    return GX_OK;
}

static gx_status apply(const char *key, const gx_ast_expr *x, gx_train_config *c, gx_diag *d) {
    double v;
    int64_t i;
    gx_status st = GX_OK;
    if (strcmp(key, "steps") == 0) st = want_int(x, key, 1, &c->steps, d);
    else if (strcmp(key, "epochs") == 0) st = want_int(x, key, 1, &c->epochs, d);
    else if (strcmp(key, "batch") == 0) st = want_int(x, key, 1, &c->batch, d);
    else if (strcmp(key, "bptt") == 0) st = want_int(x, key, 1, &c->bptt, d);
    else if (strcmp(key, "lr") == 0) st = want_number(x, key, 0, 1e6, &c->optim.lr, d);
    else if (strcmp(key, "optimizer") == 0) st = parse_optimizer(x, &c->optim, d);
    else if (strcmp(key, "clip") == 0) st = want_number(x, key, 0, 1e30, &c->clip, d);
    else if (strcmp(key, "clip_value") == 0) st = want_number(x, key, 0, 1e30, &c->clip_value, d);
    else if (strcmp(key, "weight_decay") == 0) st = want_number(x, key, 0, 1e6, &c->optim.weight_decay, d);
    else if (strcmp(key, "momentum") == 0) st = want_number(x, key, 0, 0.9999999, &c->optim.momentum, d);
    else if (strcmp(key, "schedule") == 0) st = parse_schedule(x, &c->sched, d);
    else if (strcmp(key, "warmup") == 0) st = want_int(x, key, 0, &c->sched.warmup, d);
    else if (strcmp(key, "seed") == 0) {
        st = want_int(x, key, 0, &i, d);
        c->seed = (uint64_t)i;
    } else if (strcmp(key, "threads") == 0) {
        st = want_int(x, key, 0, &i, d);
        c->threads = (int)i;
    } else if (strcmp(key, "backend") == 0) st = want_string(x, key, &c->backend, d);
    else if (strcmp(key, "val_every") == 0) st = want_int(x, key, 0, &c->val_every, d);
    else if (strcmp(key, "val_batches") == 0) st = want_int(x, key, 0, &c->val_batches, d);
    else if (strcmp(key, "val_frac") == 0) st = want_number(x, key, 0, 0.9, &c->val_frac, d);
    else if (strcmp(key, "log_every") == 0) st = want_int(x, key, 1, &c->log_every, d);
    else if (strcmp(key, "checkpoint_every") == 0) st = want_int(x, key, 0, &c->checkpoint_every, d);
    else if (strcmp(key, "data") == 0) st = want_string(x, key, &c->data, d);
    else if (strcmp(key, "task") == 0) st = want_string(x, key, &c->task, d);
    else if (strcmp(key, "bytes") == 0) {
        st = want_number(x, key, 0, 1, &v, d);
        c->bytes = v != 0;
    }
    return st;
}

gx_status gx_train_config_from_module(const gx_ast_module *m, gx_train_config *c, gx_diag *d) {
    const gx_ast_stmt *block = NULL;
    for (int s = 0; s < m->n_stmts; s++) {
        const gx_ast_stmt *st = m->stmts[s];
        if (st->kind != GX_STMT_TRAIN) continue;
        if (block)
            return gx_diag_at(d, GX_ERR_INVALID, st->pos, "a second train block (the first is at "
                              "%d:%d)", (int)block->pos.line, (int)block->pos.col);
        block = st;
    }
    if (block == NULL) return GX_OK;
    /* the optimizer first, so `lr = ...` beside it wins over its defaults in any order */
    for (int pass = 0; pass < 2; pass++)
        for (int k = 0; k < block->n_names; k++) {
            const char *key = block->names[k];
            int known = 0;
            for (int j = 0; j < N_TRAIN_KEYS; j++) known |= strcmp(key, train_keys[j]) == 0;
            if (!known) {
                const char *near = gx_nearest_name(key, train_keys, N_TRAIN_KEYS);
                return gx_diag_at(d, GX_ERR_NOT_FOUND, block->names_pos[k], "unknown train "
                                  "setting '%s'%s%s%s", key, near ? "; did you mean '" : "",
                                  near ? near : "", near ? "'?" : "");
            }
            for (int j = 0; j < k; j++)
                if (pass == 0 && strcmp(block->names[j], key) == 0)
                    return gx_diag_at(d, GX_ERR_INVALID, block->names_pos[k], "train setting '%s' "
                                      "is given twice", key);
            if ((pass == 0) != (strcmp(key, "optimizer") == 0)) continue;
            gx_status st = apply(key, block->values[k], c, d);
            if (st != GX_OK) return st;
            /* a data path in the graph is relative to the graph file, like an import */
            if (strcmp(key, "data") == 0 && c->data[0] != '/' && strchr(m->file, '/')) {
                size_t dl = (size_t)(strrchr(m->file, '/') - m->file) + 1, fl = strlen(c->data);
                char *p = gx_arena_alloc((gx_arena *)&m->arena, dl + fl + 1);
                if (p == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
                memcpy(p, m->file, dl);
                memcpy(p + dl, c->data, fl + 1);
                c->data = p;
            }
        }
    return GX_OK;
}
