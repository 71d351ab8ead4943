/*
 * exec.h: planning and running a graph on one backend.
 *
 * gx_exec_new plans once: it keeps only the nodes the wanted values need, picks the kernel of
 * every node for the backend, assigns every value a byte offset in one arena (values whose
 * lifetimes do not overlap share memory) and allocates that arena on the device. After that,
 * gx_exec_run allocates nothing: running a planned graph again reuses everything.
 * Inputs, params and wanted values get their own slots, so they survive between runs.
 */
#ifndef GX_EXEC_H
#define GX_EXEC_H

#include "graph.h"

typedef struct gx_exec gx_exec;

/* backend NULL: the best usable backend. wanted NULL: every output of the graph. */
gx_status gx_exec_new(gx_graph *g, const char *backend, const gx_val *wanted, int32_t n_wanted,
                      gx_exec **out, gx_diag *d);
void      gx_exec_free(gx_exec *e);

/* copy host data into a value (an input or param) / out of a value (a wanted value, input or
 * param); bytes must equal the value's size */
gx_status gx_exec_write(gx_exec *e, gx_val v, const void *src, uint64_t bytes, gx_diag *d);
gx_status gx_exec_read(gx_exec *e, gx_val v, void *dst, uint64_t bytes, gx_diag *d);
gx_status gx_exec_run(gx_exec *e, gx_diag *d);
/* gx_exec_run without waiting: on a device the work stays in the open batch, which the next
 * read submits (a step and the read of its results then make one submission). */
gx_status gx_exec_record(gx_exec *e, gx_diag *d);
/* n values at once into dst[i] (each the value's full size): one round trip on a device */
gx_status gx_exec_read_many(gx_exec *e, int32_t n, const gx_val *v, void *const *dst, gx_diag *d);

/*
 * Checking mode, to find where a NaN or Inf first appears. With it on, gx_exec_run first checks
 * the params and inputs, then every float output of every node (loop bodies included, step by
 * step) as soon as it is made, and stops at the first non-finite value: GX_ERR_INVALID, a
 * message naming the op, its source position and the time step, and the fault below. Slow (a
 * read-back per node): the trainer turns it on only to re-run a step that went wrong.
 */
typedef struct gx_exec_fault {
    int         found;
    const char *what;          /* "param", "input" or "output"                            */
    const char *name;          /* the param's or input's name; the value's name, or NULL   */
    const char *op;            /* output: the node's op                                     */
    gx_srcpos   pos;           /* where the value or node comes from in the source           */
    int32_t     output;        /* output: which of the node's outputs                        */
    int64_t     time_step;     /* the loop step it happened in, -1 outside loops             */
    gx_srcpos   loop_pos;      /* that loop                                                  */
    int         backward;      /* made by autodiff                                           */
    double      value;         /* the first bad value                                        */
} gx_exec_fault;

void                 gx_exec_set_check(gx_exec *e, int on);
const gx_exec_fault *gx_exec_fault_of(const gx_exec *e);

/* After each run, copy value src[i] into dst[i] (a param or input: its next value), on the
 * device, in the same batch: how a training step that updates its params on the device
 * carries them to the next step. src must be wanted values of the plan. */
gx_status gx_exec_set_updates(gx_exec *e, const gx_val *dst, const gx_val *src, int32_t n,
                              gx_diag *d);
/*
 * Overlapping work with a run (data-parallel training starts averaging gradients while the
 * backward pass goes on). gx_exec_ready_steps gives, for each value, the top-level step after
 * which it holds its final value in a run (-1: inputs and params, before the first step); a step
 * hook is called after each top-level step s of gx_exec_run (a loop counts as one step), when
 * such values can be read with gx_exec_read. Host-memory backends only: a device records the
 * steps and runs them later. A hook's error ends the run. fn NULL removes the hook.
 */
typedef gx_status (*gx_exec_step_fn)(void *user, int32_t step, gx_diag *d);
gx_status gx_exec_set_step_hook(gx_exec *e, gx_exec_step_fn fn, void *user, gx_diag *d);
gx_status gx_exec_ready_steps(const gx_exec *e, const gx_val *v, int32_t n, int32_t *at,
                              gx_diag *d);
/* the plan's backend keeps its buffers in host memory (the CPU backends) */
int       gx_exec_host_memory(const gx_exec *e);

/* plan facts, for `gexec check`, bench and tests: arena bytes (loop bodies' plans included),
 * steps (kernel calls) */
uint64_t    gx_exec_arena_bytes(const gx_exec *e);
int32_t     gx_exec_n_steps(const gx_exec *e);
const char *gx_exec_backend_name(const gx_exec *e);

#endif
