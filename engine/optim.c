/*
 * optim.c: the update rules of optim.h. Each element is loaded as a double, updated with the
 * PyTorch formula, and stored back in the parameter's dtype; the state arrays have the
 * parameter's dtype too (as in PyTorch), so a checkpoint holds them exactly.
 */
#include "optim.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct gx_optim {
    gx_optim_config c;
    gx_optim_param *p;
    int32_t         n;
    int64_t         steps;
};

static const char *const kind_names[] = {"sgd", "adam", "adamw", "rmsprop"};

const char *gx_optim_name(gx_optim_kind k) { return kind_names[k]; }

int gx_optim_parse_kind(const char *name, gx_optim_kind *kind) {
    for (int i = 0; i < 4; i++)
        if (strcmp(name, kind_names[i]) == 0) {
            *kind = (gx_optim_kind)i;
            return 0;
        }
    return -1;
}

gx_optim_config gx_optim_defaults(gx_optim_kind kind) {
    gx_optim_config c = {.kind = kind, .lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8,
                         .alpha = 0.99};
    if (kind == GX_OPT_SGD) c.lr = 0.1;
    if (kind == GX_OPT_RMSPROP) c.lr = 1e-2;
    if (kind == GX_OPT_ADAMW) c.weight_decay = 1e-2;
    return c;
}

double gx_schedule_lr(const gx_schedule *s, double lr, int64_t step) {
    double f = 1.0;
    if (s->warmup > 0 && step < s->warmup) f = (double)(step + 1) / (double)s->warmup;
    switch (s->kind) {
    case GX_SCHED_CONSTANT: break;
    case GX_SCHED_STEP:
        if (s->every > 0) f *= pow(s->gamma, (double)(step / s->every));
        break;
    case GX_SCHED_COSINE: {
        /* cosine from lr at the end of warm-up down to min_lr at the last step */
        int64_t span = s->total - s->warmup;
        double t = span > 1 ? (double)(step - s->warmup) / (double)(span - 1) : 1.0;
        if (t < 0) t = 0;
        if (t > 1) t = 1;
        double cos_f = 0.5 * (1.0 + cos(3.14159265358979323846 * t));
        return f * (s->min_lr + (lr - s->min_lr) * cos_f);
    }
    }
    return f * lr;
}

const char *gx_optim_state_name(const gx_optim *o, int which) {
    if (o->c.kind == GX_OPT_SGD) return which == 0 && o->c.momentum != 0 ? "momentum" : NULL;
    if (o->c.kind == GX_OPT_RMSPROP) return which == 0 ? "square_avg" : (o->c.momentum != 0 ? "momentum" : NULL);
    return which == 0 ? "m" : "v";
}

static size_t elem_size(int dtype) { return dtype == GX_DTYPE_F64 ? 8 : 4; }

gx_status gx_optim_new(const gx_optim_config *c, const gx_optim_param *params, int32_t n,
                       gx_optim **out, gx_diag *d) {
    *out = NULL;
    gx_optim *o = gx_calloc(1, sizeof *o);
    if (o == NULL || (o->p = gx_calloc((size_t)n + 1, sizeof *o->p)) == NULL) {
        gx_free(o);
        return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    }
    o->c = *c;
    o->n = n;
    for (int32_t i = 0; i < n; i++) {
        o->p[i] = params[i];
        if (params[i].dtype != GX_DTYPE_F32 && params[i].dtype != GX_DTYPE_F64) {
            gx_optim_free(o);
            return gx_diag_set(d, GX_ERR_DTYPE, "param '%s': the optimizer updates f32 or f64 "
                               "params only", params[i].name);
        }
        size_t bytes = (size_t)params[i].n * elem_size(params[i].dtype) + 1;
        o->p[i].s1 = gx_optim_state_name(o, 0) ? gx_calloc(1, bytes) : NULL;
        o->p[i].s2 = gx_optim_state_name(o, 1) ? gx_calloc(1, bytes) : NULL;
        if ((gx_optim_state_name(o, 0) && !o->p[i].s1) || (gx_optim_state_name(o, 1) && !o->p[i].s2)) {
            gx_optim_free(o);
            return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
        }
    }
    *out = o;
    return GX_OK;
}

void gx_optim_free(gx_optim *o) {
    if (o == NULL) return;
    for (int32_t i = 0; o->p && i < o->n; i++) {
        gx_free(o->p[i].s1);
        gx_free(o->p[i].s2);
    }
    gx_free(o->p);
    gx_free(o);
}

gx_optim_param *gx_optim_param_at(gx_optim *o, int32_t i) { return &o->p[i]; }
int32_t gx_optim_n_params(const gx_optim *o) { return o->n; }
int64_t gx_optim_steps(const gx_optim *o) { return o->steps; }
void gx_optim_set_steps(gx_optim *o, int64_t steps) { o->steps = steps; }

static inline double ld(const void *a, int dt, int64_t i) {
    return dt == GX_DTYPE_F64 ? ((const double *)a)[i] : (double)((const float *)a)[i];
}
static inline void st(void *a, int dt, int64_t i, double v) {
    if (dt == GX_DTYPE_F64) ((double *)a)[i] = v;
    else ((float *)a)[i] = (float)v;
}

void gx_optim_step(gx_optim *o, double lr) {
    const gx_optim_config *c = &o->c;
    o->steps++;
    double bc1 = 1.0 - pow(c->beta1, (double)o->steps), bc2 = 1.0 - pow(c->beta2, (double)o->steps);
    for (int32_t k = 0; k < o->n; k++) {
        gx_optim_param *p = &o->p[k];
        int dt = p->dtype;
        for (int64_t i = 0; i < p->n; i++) {
            double w = ld(p->data, dt, i), g = ld(p->grad, dt, i);
            switch (c->kind) {
            case GX_OPT_SGD:
                if (c->weight_decay != 0) g += c->weight_decay * w;
                if (c->momentum != 0) {
                    double b = o->steps == 1 ? g : c->momentum * ld(p->s1, dt, i) + (1 - c->dampening) * g;
                    st(p->s1, dt, i, b);
                    b = ld(p->s1, dt, i);
                    g = c->nesterov ? g + c->momentum * b : b;
                }
                w -= lr * g;
                break;
            case GX_OPT_ADAM:
            case GX_OPT_ADAMW: {
                if (c->kind == GX_OPT_ADAMW) w *= 1.0 - lr * c->weight_decay;
                else if (c->weight_decay != 0) g += c->weight_decay * w;
                double m = c->beta1 * ld(p->s1, dt, i) + (1 - c->beta1) * g;
                double v = c->beta2 * ld(p->s2, dt, i) + (1 - c->beta2) * g * g;
                st(p->s1, dt, i, m);
                st(p->s2, dt, i, v);
                m = ld(p->s1, dt, i);
                v = ld(p->s2, dt, i);
                double denom = sqrt(v) / sqrt(bc2) + c->eps;
                w -= (lr / bc1) * m / denom;
                break;
            }
            case GX_OPT_RMSPROP: {
                if (c->weight_decay != 0) g += c->weight_decay * w;
                double sq = c->alpha * ld(p->s1, dt, i) + (1 - c->alpha) * g * g;
                st(p->s1, dt, i, sq);
                double avg = sqrt(ld(p->s1, dt, i)) + c->eps;
                if (c->momentum != 0) {
                    double b = c->momentum * ld(p->s2, dt, i) + g / avg;
                    st(p->s2, dt, i, b);
                    w -= lr * ld(p->s2, dt, i);
                } else {
                    w -= lr * g / avg;
                }
                break;
            }
            }
            st(p->data, dt, i, w);
        }
    }
}

double gx_grad_global_norm(const gx_optim *o) {
    double s = 0;
    for (int32_t k = 0; k < o->n; k++)
        for (int64_t i = 0; i < o->p[k].n; i++) {
            double g = ld(o->p[k].grad, o->p[k].dtype, i);
            s += g * g;
        }
    return sqrt(s);
}

void gx_grad_scale(gx_optim *o, double factor) {
    for (int32_t k = 0; k < o->n; k++)
        for (int64_t i = 0; i < o->p[k].n; i++)
            st(o->p[k].grad, o->p[k].dtype, i, ld(o->p[k].grad, o->p[k].dtype, i) * factor);
}

void gx_grad_clamp(gx_optim *o, double v) {
    for (int32_t k = 0; k < o->n; k++)
        for (int64_t i = 0; i < o->p[k].n; i++) {
            double g = ld(o->p[k].grad, o->p[k].dtype, i);
            st(o->p[k].grad, o->p[k].dtype, i, g > v ? v : g < -v ? -v : g);
        }
}
