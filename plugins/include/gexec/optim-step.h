/*
 * gexec/optim-step.h: the contract of the `optim_step` op, the optimizer update that runs on the
 * device (so a training step on a GPU never copies parameters or gradients to the host).
 *
 *   p', s1', s2' = optim_step(p, g, s1, s2, hyper, gsq, kind = K, nesterov = 0|1)
 *
 * p is a parameter, g its gradient, s1/s2 the optimizer's state arrays (SGD: momentum in s1;
 * Adam/AdamW: m in s1, v in s2; RMSprop: the square average in s1, momentum in s2), all of one
 * shape. gsq is the scalar sum of squares of every gradient of the step (clip_grad_norm_ needs
 * the global norm). hyper is an f32[GX_OPTIM_HYPER_N] vector the trainer writes every step, laid
 * out as below. The update is torch.optim's, after clipping:
 *   - when gsq is not finite, nothing changes (p' = p, s' = s): the trainer reports the NaN and
 *     the parameters are never overwritten by it;
 *   - clip > 0 and sqrt(gsq) > clip: g *= clip / (sqrt(gsq) + 1e-6); clip_value > 0: clamp g.
 * Backends with their own memory alias the outputs back onto p, s1, s2 after the step.
 */
#ifndef GEXEC_OPTIM_STEP_H
#define GEXEC_OPTIM_STEP_H

enum {
    GX_OPTIM_SGD = 0, GX_OPTIM_ADAM = 1, GX_OPTIM_ADAMW = 2, GX_OPTIM_RMSPROP = 3
};

enum {
    GX_OPTIM_HYPER_LR = 0,          /* this step's learning rate                              */
    GX_OPTIM_HYPER_MOMENTUM,        /* SGD, RMSprop                                           */
    GX_OPTIM_HYPER_DAMPENING,       /* SGD                                                    */
    GX_OPTIM_HYPER_BETA1,           /* Adam                                                   */
    GX_OPTIM_HYPER_BETA2,
    GX_OPTIM_HYPER_ALPHA,           /* RMSprop smoothing                                      */
    GX_OPTIM_HYPER_EPS,
    GX_OPTIM_HYPER_WEIGHT_DECAY,
    GX_OPTIM_HYPER_BC1,             /* Adam bias corrections 1 - beta^t for this step         */
    GX_OPTIM_HYPER_BC2,
    GX_OPTIM_HYPER_CLIP,            /* max global norm, <= 0: none                             */
    GX_OPTIM_HYPER_CLIP_VALUE,      /* clamp bound, <= 0: none                                 */
    GX_OPTIM_HYPER_FIRST,           /* > 0.5 on the first update (SGD momentum starts at g)    */
    GX_OPTIM_HYPER_N = 16
};

#include <math.h>

/* The update of one element in double, the reference every kernel follows: w, s1, s2 in and out,
 * g already clipped. torch.optim's rules (SGD, Adam, AdamW, RMSprop). */
static inline void gx_optim_step_elem(int kind, int nesterov, const double *h, double g,
                                      double *w, double *s1, double *s2) {
    double lr = h[GX_OPTIM_HYPER_LR], wd = h[GX_OPTIM_HYPER_WEIGHT_DECAY];
    double mom = h[GX_OPTIM_HYPER_MOMENTUM], eps = h[GX_OPTIM_HYPER_EPS];
    switch (kind) {
    case GX_OPTIM_SGD:
        if (wd != 0) g += wd * *w;
        if (mom != 0) {
            *s1 = h[GX_OPTIM_HYPER_FIRST] > 0.5 ? g
                                                : mom * *s1 + (1 - h[GX_OPTIM_HYPER_DAMPENING]) * g;
            g = nesterov ? g + mom * *s1 : *s1;
        }
        *w -= lr * g;
        break;
    case GX_OPTIM_ADAM:
    case GX_OPTIM_ADAMW: {
        double b1 = h[GX_OPTIM_HYPER_BETA1], b2 = h[GX_OPTIM_HYPER_BETA2];
        if (kind == GX_OPTIM_ADAMW) *w *= 1.0 - lr * wd;
        else if (wd != 0) g += wd * *w;
        *s1 = b1 * *s1 + (1 - b1) * g;
        *s2 = b2 * *s2 + (1 - b2) * g * g;
        double denom = sqrt(*s2) / sqrt(h[GX_OPTIM_HYPER_BC2]) + eps;
        *w -= (lr / h[GX_OPTIM_HYPER_BC1]) * *s1 / denom;
        break;
    }
    case GX_OPTIM_RMSPROP: {
        double a = h[GX_OPTIM_HYPER_ALPHA];
        if (wd != 0) g += wd * *w;
        *s1 = a * *s1 + (1 - a) * g * g;
        double avg = sqrt(*s1) + eps;
        if (mom != 0) {
            *s2 = mom * *s2 + g / avg;
            *w -= lr * *s2;
        } else {
            *w -= lr * g / avg;
        }
        break;
    }
    default:
        break;
    }
}

/* The clipping factor and clamp of gx_optim_step_elem's g: 0 when gsq is not finite (skip). */
static inline int gx_optim_clip_scale(const double *h, double gsq, double *scale) {
    if (!isfinite(gsq)) return 0;
    double norm = sqrt(gsq), clip = h[GX_OPTIM_HYPER_CLIP];
    *scale = clip > 0 && norm > clip ? clip / (norm + 1e-6) : 1.0;
    return 1;
}

#endif
