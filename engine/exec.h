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

/* plan facts, for `gexec check`, bench and tests: arena bytes (loop bodies' plans included),
 * steps (kernel calls) */
uint64_t    gx_exec_arena_bytes(const gx_exec *e);
int32_t     gx_exec_n_steps(const gx_exec *e);
const char *gx_exec_backend_name(const gx_exec *e);

#endif
