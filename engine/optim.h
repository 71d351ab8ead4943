/*
 * optim.h: optimizers, learning-rate schedules and gradient clipping, on host arrays.
 *
 * The update rules are PyTorch's (torch.optim.SGD, Adam, AdamW, RMSprop and
 * torch.nn.utils.clip_grad_norm_ / clip_grad_value_), element by element in double and stored
 * back in the parameter's dtype, so the same run gives the same bits on every machine. The
 * state of an optimizer is one or two arrays per parameter plus the step count; a checkpoint
 * stores them by name (gx_optim_state_name) and a resumed run continues bit for bit.
 */
#ifndef GX_OPTIM_H
#define GX_OPTIM_H

#include "diag.h"

typedef enum gx_optim_kind { GX_OPT_SGD, GX_OPT_ADAM, GX_OPT_ADAMW, GX_OPT_RMSPROP } gx_optim_kind;

typedef struct gx_optim_config {
    gx_optim_kind kind;
    double lr;
    double momentum;       /* SGD, RMSprop                                                */
    int    nesterov;       /* SGD                                                         */
    double dampening;      /* SGD                                                         */
    double beta1, beta2;   /* Adam, AdamW                                                 */
    double alpha;          /* RMSprop smoothing                                           */
    double eps;
    double weight_decay;   /* L2 added to the gradient; AdamW: decoupled decay              */
} gx_optim_config;

/* PyTorch's defaults for `kind` (lr 1e-3 for Adam, AdamW and RMSprop's 1e-2, SGD 0.1) */
gx_optim_config gx_optim_defaults(gx_optim_kind kind);
const char     *gx_optim_name(gx_optim_kind kind);
/* "sgd", "adam", "adamw", "rmsprop": 0, or -1 when unknown */
int             gx_optim_parse_kind(const char *name, gx_optim_kind *kind);

typedef enum gx_sched_kind { GX_SCHED_CONSTANT, GX_SCHED_STEP, GX_SCHED_COSINE } gx_sched_kind;

typedef struct gx_schedule {
    gx_sched_kind kind;
    int64_t warmup;        /* linear warm-up from lr/warmup to lr over this many steps       */
    int64_t every;         /* STEP: multiply by gamma every `every` steps                   */
    double  gamma;
    double  min_lr;        /* COSINE: the floor at the last step                             */
    int64_t total;         /* COSINE: steps in the run                                       */
} gx_schedule;

/* the learning rate of step `step` (0-based) for base rate lr */
double gx_schedule_lr(const gx_schedule *s, double lr, int64_t step);

/* One parameter the optimizer updates: its data (dtype f32 or f64), gradient and state. */
typedef struct gx_optim_param {
    const char *name;
    int         dtype;     /* gx_dtype */
    int64_t     n;
    void       *data;
    void       *grad;      /* clipping scales it in place                                   */
    void       *s1, *s2;   /* optimizer state (momentum / first moment, second moment)      */
} gx_optim_param;

typedef struct gx_optim gx_optim;

/* The optimizer over n params (their data and grad pointers may be set later, before step);
 * the state arrays start at zero and are owned by the optimizer. */
gx_status gx_optim_new(const gx_optim_config *c, const gx_optim_param *params, int32_t n,
                       gx_optim **out, gx_diag *d);
void      gx_optim_free(gx_optim *o);
gx_optim_param *gx_optim_param_at(gx_optim *o, int32_t i);
int32_t   gx_optim_n_params(const gx_optim *o);
/* updates done so far (Adam's bias correction counts them); settable for resume */
int64_t   gx_optim_steps(const gx_optim *o);
void      gx_optim_set_steps(gx_optim *o, int64_t steps);
/* names of the state arrays a kind keeps: "m", "v" for Adam; NULL when it keeps none */
const char *gx_optim_state_name(const gx_optim *o, int which);

/* One update with learning rate lr. */
void      gx_optim_step(gx_optim *o, double lr);

/* sqrt(sum of squares) of every gradient */
double    gx_grad_global_norm(const gx_optim *o);
/* multiply every gradient by factor (clip_grad_norm_ uses max_norm / (norm + 1e-6) when
 * that is below 1) */
void      gx_grad_scale(gx_optim *o, double factor);
/* clip_grad_value_: clamp every gradient element to [-v, v] */
void      gx_grad_clamp(gx_optim *o, double v);

#endif
