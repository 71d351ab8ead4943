/*
 * opcheck.h: the op-level checks behind `gexec check-op` and the test suite's gradient and
 * cross-backend tests, as a library: one implementation, whatever calls it.
 *
 * Every check runs on a one-node graph built from one of the op's examples (gx_op_example):
 * the example's inputs -> op -> outputs, and loss = sum_j sum(out_j * R_j) over the float
 * outputs with fixed random R_j, differentiated by autodiff. The checks:
 *
 *   grad     f64 on cpu-scalar: the VJP's gradient of every differentiable float input against
 *            central differences of the loss (eps 1e-5), relative error
 *            |a - n| / max(|a|, |n|, 1e-3) <= 1e-6;
 *   f32      f32 on cpu-scalar against the f64 run (outputs, loss, gradients), error
 *            |x32 - x64| / max(|x64|, 1) <= 1e-4;
 *   backend  f32 on a backend against cpu-scalar (outputs, loss, the VJP's input gradients),
 *            |diff| <= 1e-5 + 1e-4 |ref|;
 *   loop     cells (ops with recurrent_inputs): the op in a loop of 3 steps, looped against
 *            unrolled, in f64 on cpu-scalar (outputs and the gradient of every float input),
 *            |diff| / max(|x|, 1) <= 1e-12.
 *
 * Besides each example's own shapes, K random variants of it are checked (see gx_check_op).
 * Nothing here prints or asserts: what goes wrong with an op (its infer refuses its own
 * example, a kernel fails, a plugin's example is malformed) is a FAIL result with a message.
 * The functions return a status only for what stops the checking itself (out of memory).
 */
#ifndef GX_OPCHECK_H
#define GX_OPCHECK_H

#include "exec.h"
#include "graph.h"

#define GX_CHECK_REF        "cpu-scalar"  /* the reference backend                          */
#define GX_CHECK_FD_EPS     1e-5          /* central-difference step                        */
#define GX_CHECK_GRAD_TOL   1e-6          /* grad: relative error                           */
#define GX_CHECK_F32_TOL    1e-4          /* f32 against f64                                */
#define GX_CHECK_ABS_TOL    1e-5          /* backend: |diff| <= abs + rel |ref|             */
#define GX_CHECK_REL_TOL    1e-4
#define GX_CHECK_LOOP_TOL   1e-12         /* looped against unrolled                        */
#define GX_CHECK_LOOP_STEPS 3             /* T of the loop check                            */
#define GX_CHECK_SHAPE_TRIES 8            /* draws per shape variant before it is skipped   */
#define GX_CHECK_MAX_OUT    16            /* outputs of one node the checks handle          */

typedef enum gx_check_kind {
    GX_CHECK_GRAD = 0,
    GX_CHECK_F32,
    GX_CHECK_BACKEND,
    GX_CHECK_LOOP,
    GX_CHECK_SHAPES,   /* a shape variant that could not be drawn (always SKIP)              */
    GX_CHECK_SCHEMA    /* the op's schema breaks the rules (a VJP without examples, ...)    */
} gx_check_kind;

typedef enum gx_check_status {
    GX_CHECK_PASS = 0,
    GX_CHECK_FAIL,
    GX_CHECK_SKIP
} gx_check_status;

/* One row of the table: one check of one case of one op on one backend. */
typedef struct gx_check_result {
    gx_check_kind   kind;
    gx_check_status status;
    char            op[64];
    char            case_name[256];  /* the example's name; a variant adds " ~ " and its shapes */
    char            backend[64];     /* the backend checked; cpu-scalar for grad, f32 and loop   */
    int32_t         variant;         /* 0: the example's shapes; k >= 1: the k-th random variant */
    double          err;             /* the worst error, in the check's measure (see above);
                                        backend: the largest |diff|                             */
    double          tol;             /* pass when err <= tol                                    */
    double          rel_tol;         /* backend only: pass when |diff| <= tol + rel_tol |ref|   */
    double          ratio;           /* the worst entry's error over its tolerance (<= 1 passes) */
    int64_t         n_checked;       /* entries compared                                         */
    double          seconds;         /* time the check took                                      */
    char            msg[512];        /* FAIL: what went wrong; SKIP: why; PASS: empty            */
} gx_check_result;

typedef struct gx_check_report {
    gx_check_result *results;        /* malloc'd; gx_check_report_free                          */
    int32_t          n, cap;
} gx_check_report;

void    gx_check_report_free(gx_check_report *r);
int32_t gx_check_report_count(const gx_check_report *r, gx_check_status s);
const char *gx_check_kind_name(gx_check_kind k);      /* "grad", "f32", "backend", ...       */
const char *gx_check_status_name(gx_check_status s);  /* "PASS", "FAIL", "SKIP"              */

typedef struct gx_check_opts {
    uint64_t           seed;         /* every random draw (data, shape variants) derives from it */
    int32_t            n_shapes;     /* K: random shape variants per example                    */
    int32_t            reference;    /* 1: run cpu-scalar's own checks (grad, f32, loop)        */
    const char *const *backends;     /* compared with cpu-scalar; borrowed                      */
    int32_t            n_backends;
    /* a node whose op has an f32 kernel on cpu-scalar but none on the compared backend (so the
     * planner would quietly fall back to cpu-scalar's): FAIL when set, else SKIP */
    int32_t            missing_kernel_fails;
} gx_check_opts;

/* seed 42, K = 2, reference checks on, no backends */
void gx_check_opts_default(gx_check_opts *o);

/*
 * Every check of one op: the schema rules (a VJP or a decomposition needs examples unless the
 * op is grad_exempt; an op with neither a VJP nor a decomposition must say why it is exempt),
 * then for each example, and for o->n_shapes random variants of it, the checks o asks for.
 * A variant maps each distinct dim value > 1 of the example's inputs to a new value: a fresh
 * one in [2, 6], or (three times in four, when the old value is a multiple k >= 2 of a smaller
 * dim of the example) k times that dim's new value, at most 64, so a cell's G*H stays G times
 * H; equal old values get equal new ones (tied dims stay tied). Dims of 0 and 1, attributes,
 * and the random key of a GX_OP_RANDOM op stay; an i32 input whose values index a remapped
 * dim (hi = dim - 1) keeps them in range. A draw the op's infer refuses is drawn again, up to
 * GX_CHECK_SHAPE_TRIES times; then the variant is skipped (a SHAPES row says so). Variants of
 * an example the op refuses are not drawn. Deterministic in o->seed.
 */
gx_status gx_check_op(gx_registry *reg, const gx_op *op, const gx_check_opts *o,
                      gx_check_report *rep);

/* The checks o asks for on one case (an op's example, or a caller's own such as the larger
 * cases of test-backends), no variants. `variant` is only recorded in the results. */
gx_status gx_check_case(gx_registry *reg, const gx_op *op, const gx_op_example *ex,
                        const char *case_name, int32_t variant, const gx_check_opts *o,
                        gx_check_report *rep);

/* 1 when op is a cell (its schema has recurrent_inputs): it gets the loop check */
int gx_check_is_cell(const gx_op *op);

// ---- building blocks (also used by the tests' own comparisons) ----------------------------

/* The one-node graph of a case: inputs x0, x1, ... (float example inputs in `floats`, i32 ones
 * i32), the node, outputs y0, y1, ...; with with_vjp and a float output, inputs r0, r1, ...
 * (one per float output), the output "loss" and the backward nodes (outputs grad.<input>). */
typedef struct gx_check_graph {
    gx_graph *g;                     /* owned; gx_check_graph_free                             */
    int32_t   n_in, n_out;
    gx_val    in[GX_MAX_EXAMPLE_INPUTS];
    gx_val    out[GX_CHECK_MAX_OUT];
    gx_val    loss;                  /* GX_VAL_NONE when not differentiated                    */
} gx_check_graph;

gx_status gx_check_build(gx_registry *reg, const gx_op *op, const gx_op_example *ex,
                         gx_dtype floats, int with_vjp, gx_check_graph *cg, gx_diag *d);
void      gx_check_graph_free(gx_check_graph *cg);
/* Whether a case of op is differentiated (the loss and its VJP built): it has a VJP, or it is
 * expanded into other ops (a decomposition) and not grad_exempt. */
int       gx_check_differentiable(const gx_op *op);
/* A malformed example (rank, dims, counts, value ranges) is refused with a message, so a
 * plugin's bad table cannot make the checks allocate without bound or loop forever. */
gx_status gx_check_example_valid(const gx_op_example *ex, gx_diag *d);

/* Values of every graph input, as doubles, drawn from `seed`: x<i> from the example's input i,
 * everything after the example's inputs uniform in [-1, 1]. */
typedef struct gx_check_data {
    int32_t  n;
    double **v;
    int64_t *len;
} gx_check_data;

gx_status gx_check_data_draw(const gx_graph *g, const gx_op_example *ex, uint64_t seed,
                             gx_check_data *dt, gx_diag *d);
void      gx_check_data_free(gx_check_data *dt);
/* x (doubles, converted to v's dtype) into value v of the plan */
gx_status gx_check_write(gx_exec *e, const gx_graph *g, gx_val v, const double *x, gx_diag *d);
/* write dt->v[i] into graph input i (converted to its dtype), for every input */
gx_status gx_check_feed(gx_exec *e, const gx_graph *g, const gx_check_data *dt, gx_diag *d);
/* a value read back as doubles: *out malloc'd (free it), *n its element count */
gx_status gx_check_read(gx_exec *e, const gx_graph *g, gx_val v, double **out, int64_t *n,
                        gx_diag *d);
/* The first node (loop bodies included) of dtype f32 whose op has an f32 kernel on cpu-scalar
 * but none on `backend`; NULL when there is none. */
const char *gx_check_missing_kernel(const gx_graph *g, const char *backend);

#endif
