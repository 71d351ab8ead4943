/*
 * train-impl.h: what train.c and train-dist.c (its data-parallel part) share: the trainer's
 * state. Not an API: tools use train.h.
 */
#ifndef GX_TRAIN_IMPL_H
#define GX_TRAIN_IMPL_H

#include "dist.h"
#include "monitor.h"
#include "train.h"

typedef enum slot_kind { SLOT_DATA, SLOT_STATE, SLOT_RNG } slot_kind;

/* the plans of a run: training, inference (validation), diagnostics (--diag: the training
 * graph with taps, run instead of the training plan on the steps it logs) */
enum { P_TRAIN, P_EVAL, P_DIAG, N_PLANS };

/* one input of the graph and where its values come from */
typedef struct slot {
    slot_kind   kind;
    const char *name;
    gx_val      val[N_PLANS];   /* the input in each plan's graph, or NONE             */
    gx_val      next[N_PLANS];  /* STATE: the final carry that continues it, or NONE    */
    gx_tensor_info info;
    size_t      bytes;
    void       *host;       /* DATA: the batch; STATE: the state for the next step  */
} slot;

struct gx_trainer {
    gx_train_config c;
    gx_registry    *reg;
    char           *path, *text;
    size_t          text_len;
    char            hash[17];
    char            dims[512];
    gx_graph       *g, *ge, *gd;     /* training graph (with backward), inference graph,
                                        diagnostics graph (NULL without --diag)             */
    gx_exec        *e, *ee, *ed;
    gx_dataset     *data;
    slot           *slots;
    int32_t         n_slots;
    gx_optim       *opt;
    gx_val         *grad_val, *grad_diag;   /* per param, in the training / diagnostics graph */
    gx_val          metric_val[N_PLANS][GX_TRAIN_MAX_METRICS];
    const char     *metric_name[GX_TRAIN_MAX_METRICS];
    int32_t         n_metrics;
    int64_t         step, steps, n_batches;
    double          val_loss;
    char           *saved_states;    /* validation keeps the training states here          */
    volatile int    stop;
    gx_checkpoint  *resume;
    gx_monitor     *mon;
    int64_t         nan_skipped, nan_in_a_row;
    /* The device optimizer, on backends whose memory is not the host's (Vulkan): the training
     * graph ends with sumsq and optim_step nodes (dev_hyper, dev_gsq, and per param its state
     * inputs dev_s[2i], dev_s[2i+1] and next values dev_next[3i..3i+2]), and the plan copies
     * the next values over the params and states after each run. The host's copies (the
     * optimizer's arrays) are then refreshed only when something on the host needs them. */
    int             dev_opt;
    int             dev_stale;   /* the host's params and states are newer: write them first */
    int             host_stale;  /* the device's are newer: read them before host use       */
    gx_val          dev_hyper, dev_gsq;
    gx_val         *dev_s, *dev_next;
    void           *zeros;       /* for states the host optimizer does not keep             */
    /* data-parallel runs (dist.h): this rank's rows of each global batch are filled through
     * scratch; gradients are averaged in buckets, handed in as the plan makes them (ready[] is
     * the training plan's step after which each is final, next the cursor in ready order) */
    gx_dist        *dist;
    int             rank, nranks;
    void           *scratch;
    gx_dist_grads  *dg;
    int32_t        *ready;
    int32_t         next;
    void          **grad_dst;
    int             stop_agreed;   /* the ranks' stop flags, as the last step's allreduce summed */
    int             agreed_error;  /* gx_trainer_error_agreed */
    double          step_s, wait_s;
    int64_t         run_steps;
    int64_t         skew_step;     /* GEXEC_TEST_DIST_SKEW on rank 1 (testing --dist-check); 0: none */
};

/* ---- train-dist.c ---- */

/* the gradient buckets of a distributed run, and the step hook that fills them */
gx_status gx_train_dist_setup(gx_trainer *t, gx_diag *d);
/* Average the gradients over the ranks (those of plan e not handed in yet first), with the
 * loss, the metrics and the stop flags riding along; every rank then holds the same. */
gx_status gx_train_dist_reduce(gx_trainer *t, gx_exec *e, const gx_val *grads, double *loss,
                               double *metrics, gx_diag *d);
/* --dist-check: every rank must hold bit-identical params (and optimizer state) */
gx_status gx_train_dist_check(gx_trainer *t, gx_diag *d);

#endif
