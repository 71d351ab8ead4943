/*
 * train.h: the training loop of `gexec train`, and the model loading `gexec sample` and
 * `gexec eval` share with it.
 *
 * One step: fill the graph's data inputs with batch k of the data set, feed the carried states
 * (stateful data: the final states of batch k - 1, reset to zero at the start of every pass
 * over the data; otherwise zeros), run forward and backward, clip the gradients, let the
 * optimizer update the params. Every `val_every` steps the held-out part is evaluated with the
 * inference form of the graph (no dropout); every `checkpoint_every` steps and at the end a
 * checkpoint is written. The step number is the data cursor and, with the seed, the whole
 * random state (dropout keys, data shuffling, task generation), so a run resumed from a
 * checkpoint continues bit for bit.
 */
#ifndef GX_TRAIN_H
#define GX_TRAIN_H

#include "ast.h"
#include "data.h"
#include "exec.h"
#include "graph.h"
#include "optim.h"

typedef struct gx_train_config {
    int64_t         steps;            /* total steps; 0: from epochs                        */
    int64_t         epochs;           /* used when steps is 0; default 1                     */
    int64_t         batch, bptt;      /* 0: the graph's dims B and T (else 32 and 64)        */
    int             batch_flag;       /* batch came from --batch: a resumed run must match it;
                                         otherwise a resumed run keeps the checkpoint's       */
    gx_optim_config optim;
    double          clip;             /* global-norm clipping; 0: off                        */
    double          clip_value;       /* element clipping; 0: off                            */
    gx_schedule     sched;
    uint64_t        seed;
    int             threads;          /* 0: the backend's default                           */
    int             device;           /* GPU backends' device index; -1: the backend chooses */
    const char     *backend;          /* NULL: the best usable                              */
    int             unroll;           /* -1: as the graph says                               */
    int64_t         val_every;        /* steps; 0: only at the end                           */
    int64_t         val_batches;      /* most validation batches per evaluation; 0: all      */
    double          val_frac;
    int64_t         log_every;        /* plain-log lines every N steps                       */
    int64_t         checkpoint_every; /* 0: only at the end (when checkpoint is set)          */
    const char     *checkpoint;       /* path, or NULL                                       */
    const char     *resume;           /* checkpoint to continue from, or NULL                */
    const char     *data;             /* data file, or NULL                                  */
    const char     *task;             /* synthetic task spec, or NULL                        */
    int             bytes;            /* byte vocabulary for text                            */
    const gx_dim_binding *dims;       /* explicit dims (--dim), over batch, bptt and data's   */
    int             n_dims;
    /* diagnostics (monitor.h): on when diag, diag_dir or tensorboard is set */
    int             diag;             /* build the diagnostics plan (gexec diag)             */
    const char     *diag_dir;         /* JSONL and CSV records here                          */
    const char     *tensorboard;      /* TensorBoard event files here                        */
    int64_t         diag_every;       /* log every N steps (from step 1)                     */
    int32_t         diag_buckets;     /* gate statistics per bucket of time steps; 0: none   */
    int             nan_skip;         /* a NaN/Inf step: 0 stops the run, 1 skips the step    */
    /* data-parallel training (dist.h): batch is per rank; the data is cut for the global
     * batch (batch * ranks) and rank r trains on rows [r * batch, (r + 1) * batch) */
    struct gx_dist *dist;             /* NULL: one process                                    */
    int             dist_check;       /* after every step, check the ranks' params are equal  */
    double          bucket_mb;        /* gradient bucket size in MiB; 0: 4                    */
} gx_train_config;

void gx_train_config_defaults(gx_train_config *c);
/* Apply the graph's `train { }` block. Keys: steps epochs batch bptt lr optimizer clip
 * clip_value weight_decay momentum schedule warmup seed threads backend val_every val_batches
 * val_frac log_every checkpoint_every data task bytes. optimizer = NAME or NAME(lr = ...,
 * momentum, nesterov, beta1, beta2, alpha, eps, weight_decay); schedule = constant |
 * step(every = N, gamma = G) | cosine(min_lr = X). An unknown key, argument or value is an
 * error at its position. */
gx_status gx_train_config_from_module(const gx_ast_module *m, gx_train_config *c, gx_diag *d);

/* ---- the trainer ---- */

typedef enum gx_train_event_kind {
    GX_TRAIN_START, GX_TRAIN_STEP, GX_TRAIN_VALID, GX_TRAIN_CHECKPOINT, GX_TRAIN_DONE
} gx_train_event_kind;

#define GX_TRAIN_MAX_METRICS 8

typedef struct gx_train_event {
    gx_train_event_kind kind;
    int64_t     step;          /* steps done                                                */
    int64_t     steps;         /* steps in the run                                          */
    int64_t     epoch;         /* passes over the training data so far (fractional below)    */
    double      epoch_frac;
    double      loss;          /* STEP: this batch; VALID: mean over the validation batches  */
    double      lr, grad_norm; /* grad_norm before clipping                                  */
    int         clipped;
    double      tokens_per_s;  /* over the last log interval                                 */
    double      elapsed_s, eta_s;
    int32_t     n_metrics;     /* scalar graph outputs other than the loss (accuracy, ...)   */
    const char *metric_names[GX_TRAIN_MAX_METRICS];
    double      metrics[GX_TRAIN_MAX_METRICS];
    const char *path;          /* CHECKPOINT                                                */
    const char *message;       /* START: what is being trained, on what                      */
} gx_train_event;

typedef void (*gx_train_report_fn)(void *user, const gx_train_event *ev);

typedef struct gx_trainer gx_trainer;

/* Set up a run of the graph at `path` (parsed into m, which the trainer takes over) with the
 * config: data, graphs, plans, params (initialised from the seed, or the resumed checkpoint's),
 * optimizer. */
gx_status gx_trainer_new(gx_registry *reg, const char *path, gx_ast_module *m,
                         const char *graph_text, size_t graph_len, const gx_train_config *c,
                         gx_trainer **out, gx_diag *d);
gx_status gx_trainer_run(gx_trainer *t, gx_train_report_fn report, void *user, gx_diag *d);
/* Ask a running trainer to stop after the current step (and write its checkpoint). */
void      gx_trainer_request_stop(gx_trainer *t);
void      gx_trainer_free(gx_trainer *t);
/* After a run: the last validation loss (NAN when there was none). */
double    gx_trainer_val_loss(const gx_trainer *t);
/* steps done so far (a resumed run counts the checkpoint's) */
int64_t   gx_trainer_step_count(const gx_trainer *t);

/* ---- data-parallel runs (c->dist set) ---- */

/* Synchronised start, a collective every rank calls after gx_trainer_new succeeded on all of
 * them: checks the ranks run the same graph, dims and data, then broadcasts rank 0's params,
 * optimizer state and step. */
gx_status gx_trainer_sync_start(gx_trainer *t, gx_diag *d);
/* After a failed run: 1 when every rank failed alike (a NaN stop, rank 0's checkpoint write),
 * so the others are not waiting; 0 when only this rank knows, and the job must be aborted. */
int       gx_trainer_error_agreed(const gx_trainer *t);
typedef struct gx_trainer_dist_stats {
    int     ranks;
    int32_t buckets;
    size_t  grad_bytes;     /* gradients averaged per step                          */
    int64_t steps;          /* steps this run made                                 */
    double  step_s;         /* the steps' own time                                  */
    double  wait_s;         /* of which waiting for the gradient allreduce           */
} gx_trainer_dist_stats;
void      gx_trainer_dist_stats_of(const gx_trainer *t, gx_trainer_dist_stats *out);

/* ---- pieces of a run, for `gexec bench` ---- */

/* One training step on the next batch (forward, backward, clip, update); *loss gets its loss. */
gx_status gx_trainer_step(gx_trainer *t, double *loss, gx_diag *d);
/* One forward pass of the inference plan on training batch `index`, states carried, params
 * unchanged; *loss gets the loss (NAN when the graph has none). */
gx_status gx_trainer_infer(gx_trainer *t, int64_t index, double *loss, gx_diag *d);
/* the training (inference = 0) or inference graph and its plan */
const gx_graph *gx_trainer_graph(const gx_trainer *t, int inference);
const gx_exec  *gx_trainer_exec(const gx_trainer *t, int inference);
/* One forward and backward pass of training batch `index` on the diagnostics plan, with no
 * update (`gexec diag`): the config must turn diagnostics on. gx_trainer_record then has the
 * figures (update ratios NAN). */
gx_status gx_trainer_diagnose(gx_trainer *t, int64_t index, gx_diag *d);
const struct gx_mon_record *gx_trainer_record(const gx_trainer *t);
/* the data inputs of the last batch fed (safetensors, keyed by input name), e.g. for
 * `gexec grad --inputs` on the batch `gexec diag` looked at */
gx_status gx_trainer_save_batch(const gx_trainer *t, const char *path, gx_diag *d);
/* tokens a step consumes: B * T of the first data input */
int64_t         gx_trainer_tokens_per_step(const gx_trainer *t);

/* ---- checkpoints (checkpoint.c) ---- */

typedef struct gx_checkpoint {
    struct gx_st_file *file;   /* the parsed safetensors file (safetensors.h)           */
    const char *path;
    const char *graph_name, *graph_path, *graph_text, *graph_hash;
    const char *dims;           /* "V=65,B=32,..." as the run bound them                    */
    int64_t     step;
    uint64_t    seed;
    double      val_frac;
    gx_vocab    vocab;          /* n = 0 when the data had none                              */
} gx_checkpoint;

/* FNV-1a 64 of the graph text, as 16 hex digits */
void      gx_graph_hash(const char *text, size_t len, char out[17]);
/* Read and check a checkpoint: a safetensors file with gexec's metadata. Truncated, corrupt
 * or foreign files are refused with the reason. */
gx_status gx_checkpoint_read(const char *path, gx_checkpoint **out, gx_diag *d);
void      gx_checkpoint_free(gx_checkpoint *ck);
/* Lower the checkpoint's graph (its stored text) with its dims, the given dims overriding
 * them (sample binds B = T = 1), as an inference (train = 0) graph. */
gx_status gx_checkpoint_graph(const gx_checkpoint *ck, gx_registry *reg,
                              const gx_dim_binding *over, int n_over, gx_graph **out,
                              gx_diag *d);
/* Write every param of g found in the checkpoint ("param.NAME") into the plan. */
gx_status gx_checkpoint_feed_params(const gx_checkpoint *ck, const gx_graph *g,
                                    gx_exec *e, gx_diag *d);

#endif
