/*
 * graph.h: the graph IR. A graph is a list of values and a list of nodes in topological order
 * (a node only reads values defined before it). Values are inputs, params or node outputs, each
 * with a dtype and a static shape inferred through the op schemas when the node is added.
 * Autodiff appends the backward nodes to the same graph. The graph owns its strings (arena).
 */
#ifndef GX_GRAPH_H
#define GX_GRAPH_H

#include "arena.h"
#include "diag.h"
#include "registry.h"

typedef enum gx_value_kind {
    GX_VALUE_NODE = 0,   /* output `out_index` of node `node` */
    GX_VALUE_INPUT,      /* fed by the caller                  */
    GX_VALUE_PARAM       /* trained parameter                  */
} gx_value_kind;

typedef struct gx_value {
    gx_tensor_info info;
    gx_value_kind  kind;
    int32_t        node;       /* producing node (NODE), else -1                          */
    int32_t        out_index;
    const char    *name;       /* the source name if the value was named, else NULL        */
    const char    *probe;      /* diagnostics name given with `probe "..."`, else NULL      */
    int32_t        probe_kind; /* gx_probe_kind + 1 when a decomposition named the probe;
                                  0: the kind follows from the op that makes the value      */
    gx_srcpos      pos;
} gx_value;

typedef struct gx_loop gx_loop;

typedef struct gx_node {
    const gx_op   *op;         /* for a loop node: gx_loop_op() (no kernels, no infer)     */
    gx_loop       *loop;       /* NULL for an op node                                     */
    int32_t        n_in, n_out;
    gx_val        *in, *out;
    gx_attr_value *attrs;      /* op->n_attrs values, defaults filled in                  */
    gx_srcpos      pos;        /* the source expression this node came from                */
    int32_t        backward;   /* 1 when autodiff made it                                  */
} gx_node;

/*
 * A loop node (DESIGN.md "Loops"): a body graph run once per time step.
 *   node inputs:  carry inits (n_carry), sequences (n_seq), invariants (n_inv)
 *   node outputs: yields stacked on their axis (n_yield), final carries (n_carry),
 *                 residual stacks (n_res, [T, ...], made when autodiff needs them)
 * Each step t (T-1 down to 0 when reversed) the body sees the carries, slice t of every
 * sequence (on that sequence's axis) and the invariants; it produces the new carries, the
 * yields for slice t and the residuals the backward loop will read.
 */
struct gx_loop {
    gx_graph *body;            /* owned                                                    */
    int32_t   reverse;
    int32_t   backward;        /* made by autodiff: it has no VJP of its own               */
    int32_t   n_carry, n_seq, n_inv, n_yield, n_res;
    int32_t   cap_res;
    gx_val   *carry_in, *seq_in, *inv_in;       /* body inputs                             */
    gx_val   *carry_out, *yield_out, *res_out;  /* body values produced each step           */
    int32_t  *seq_axis, *yield_axis;            /* time axis of each sequence / yield        */
    int64_t   T;                                /* steps (the sequences' length)             */
};

typedef enum gx_init_scheme {
    GX_INIT_ZEROS, GX_INIT_ONES, GX_INIT_CONSTANT, GX_INIT_NORMAL, GX_INIT_UNIFORM,
    GX_INIT_XAVIER, GX_INIT_XAVIER_NORMAL, GX_INIT_KAIMING, GX_INIT_KAIMING_NORMAL,
    GX_INIT_ORTHOGONAL,
    GX_INIT_LSTM_BIAS          /* an LSTM bias [4*H]: zeros, the forget quarter (i, f, g, o) = a */
} gx_init_scheme;

typedef struct gx_init {
    gx_init_scheme scheme;
    double         a, b;       /* constant: value; normal: mean, std; uniform: low, high;
                                  xavier*, orthogonal: gain; kaiming*: negative slope;
                                  lstm_bias: the forget-gate value                          */
} gx_init;

typedef struct gx_named {
    const char *name;
    gx_val      val;
    gx_srcpos   pos;
    gx_init     init;          /* params only */
    int32_t     zero_default;  /* inputs only: a `state x = 0`, zeros unless fed            */
    gx_val      next;          /* inputs only: when the input starts a loop's carry, that
                                  carry's final value, which continues the state into the
                                  next chunk of a stream (stateful training); else NONE      */
} gx_named;

typedef struct gx_dim {
    const char *name;
    int64_t     value;
    gx_srcpos   pos;
} gx_dim;

/*
 * A diagnostics tap (probes.c): a value a diagnostics graph exposes for the statistics of
 * `gexec train --diag`. Inside a loop the value is stacked over time, [T, ...].
 */
typedef enum gx_tap_kind {
    GX_TAP_PROBE,       /* a named probe (`probe "gate.forget"`, or a fused op's)               */
    GX_TAP_STATE,       /* a loop carry (the hidden state h_t)                                 */
    GX_TAP_GRAD_TIME    /* a zero input added to a carry: its gradient is dL/dh_t              */
} gx_tap_kind;

typedef struct gx_tap {
    gx_tap_kind kind;
    const char *name;          /* the probe's name, or the carry's                           */
    int32_t     probe_kind;    /* gx_probe_kind                                              */
    int32_t     loop;          /* the loop node it belongs to, -1 outside loops               */
    gx_val      val;           /* PROBE, STATE: the value; GRAD_TIME: the zero input          */
    gx_srcpos   pos;
} gx_tap;

typedef struct gx_graph {
    gx_arena     arena;
    gx_registry *reg;
    const char  *name;
    gx_value    *values;
    int32_t      n_values, cap_values;
    gx_node     *nodes;
    int32_t      n_nodes, cap_nodes;
    gx_named    *inputs, *params, *outputs;
    int32_t      n_inputs, n_params, n_outputs;
    int32_t      cap_inputs, cap_params, cap_outputs;
    gx_dim      *dims;
    int32_t      n_dims, cap_dims;
    gx_val       loss;         /* GX_VAL_NONE when the graph has no loss                  */
    int32_t      n_forward_nodes; /* nodes before autodiff ran                             */
    gx_tap      *taps;         /* diagnostics taps (lowered with diag = 1), else none       */
    int32_t      n_taps, cap_taps;
    void        *source;       /* the AST module the graph came from (owned), or NULL      */
    void       (*source_free)(void *);
    int32_t      decompose_depth; /* nesting of decompositions being expanded (a bound)     */
} gx_graph;

/* The builder handed to VJPs: the graph plus where errors go and which position new nodes get. */
struct gx_builder {
    gx_graph *g;
    gx_diag  *diag;
    gx_srcpos pos;
    int32_t   backward;
};

gx_graph *gx_graph_new(gx_registry *reg);
/* bytes of a value's tensor (dense, its dtype and shape) */
static inline uint64_t gx_value_bytes(const gx_value *v) {
    return (uint64_t)gx_shape_numel(&v->info.shape) * gx_dtype_size(v->info.dtype);
}
/* A param or input larger than the memory limit (memlimit.h), or all of them together, is an
 * error naming it and its declaration, before anyone allocates it. Lowering calls it. */
gx_status gx_graph_check_memory(const gx_graph *g, gx_diag *d);
void      gx_graph_free(gx_graph *g);

gx_status gx_graph_add_input(gx_graph *g, const char *name, gx_tensor_info info, gx_srcpos pos,
                             gx_val *out, gx_diag *d);
gx_status gx_graph_add_param(gx_graph *g, const char *name, gx_tensor_info info, gx_init init,
                             gx_srcpos pos, gx_val *out, gx_diag *d);
gx_status gx_graph_add_output(gx_graph *g, const char *name, gx_val v, gx_srcpos pos, gx_diag *d);
gx_status gx_graph_add_dim(gx_graph *g, const char *name, int64_t value, gx_srcpos pos);
/* Add a node; attrs are already resolved (n_attrs == op->n_attrs, defaults filled). Runs the
 * op's infer; errors carry `pos`. */
gx_status gx_graph_add_node(gx_graph *g, const gx_op *op, const gx_val *in, int32_t n_in,
                            const gx_attr_value *attrs, gx_srcpos pos, int32_t backward,
                            gx_val *out, int32_t max_out, int32_t *n_out, gx_diag *d);
/* Fill an op's attribute array from named values: defaults, then `kv`; an unknown name, a
 * missing required attribute or a type mismatch is an error (with a suggestion). */
gx_status gx_attrs_resolve(gx_graph *g, const gx_op *op, const gx_attr_kv *kv, int32_t n_kv,
                           gx_attr_value *attrs, gx_srcpos pos, gx_diag *d);

const gx_named *gx_graph_find_named(const gx_named *list, int32_t n, const char *name);
int32_t         gx_graph_find_output(const gx_graph *g, const char *name);

/* ---- loops (loop.c) ---- */

/* the pseudo-op every loop node points at */
const gx_op *gx_loop_op(void);
/* Add a loop node to g. `loop` (with its body, inputs and outputs described) becomes owned by
 * the graph. in = carry inits, sequences, invariants; the outputs' shapes follow from the
 * body's and the sequences' (T from the first sequence). */
gx_status gx_graph_add_loop(gx_graph *g, gx_loop *loop, const gx_val *in, gx_srcpos pos,
                            gx_val *out, gx_diag *d);
gx_loop  *gx_loop_new(void);
void      gx_loop_free(gx_loop *l);
/* Editing a loop before gx_graph_add_loop (hoisting, diagnostics). *in is the loop's input
 * array (carry inits, sequences, invariants; malloc'd), reallocated as inputs are added. */
/* every reader of body value `from` after node `after` (nodes, carries, yields) reads `to` */
void      gx_loop_redirect(gx_graph *body, gx_loop *l, int32_t after, gx_val from, gx_val to);
/* body input `slice` is step t of outer value `seq` along `axis` */
gx_status gx_loop_add_sequence(gx_loop *l, gx_val **in, gx_val slice, gx_val seq, int32_t axis,
                               gx_diag *d);
/* body input `body_v` is outer value `outer_v` at every step */
gx_status gx_loop_add_invariant(gx_loop *l, gx_val **in, gx_val body_v, gx_val outer_v,
                                gx_diag *d);
/* body value `body_v` is stacked along `axis` into one more loop output */
gx_status gx_loop_add_yield(gx_loop *l, gx_val body_v, int32_t axis, gx_diag *d);
/* The VJP of a loop node: a backward loop over the residuals the forward loop saves. */
gx_status gx_loop_vjp(gx_builder *b, int32_t node, const gx_val *d_out, gx_val *d_in);

/* builder entry points used by gx_host_api */
gx_status gx_builder_emit(gx_builder *b, const char *op, const gx_val *in, int32_t n_in,
                          const gx_attr_kv *attrs, int32_t n_attrs, gx_val *out, int32_t n_out);
gx_status gx_builder_value_info(gx_builder *b, gx_val v, gx_tensor_info *info);
gx_status gx_builder_emit_constant(gx_builder *b, double value, gx_dtype dtype,
                                   const gx_shape *shape, gx_val *out);
gx_status gx_builder_emit_sum_to(gx_builder *b, gx_val v, const gx_shape *shape, gx_val *out);

#endif
