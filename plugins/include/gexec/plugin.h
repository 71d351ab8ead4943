/*
 * gexec/plugin.h: the plugin SDK. Everything a plugin (an op library or a backend) may use.
 *
 * A plugin is a shared object exporting exactly one symbol, gx_plugin_entry. The engine calls it
 * once, right after dlopen, with a table of host functions (gx_host_api). The plugin registers what
 * it brings through that table:
 *
 *   - op schemas   (gx_op_desc):      name, inputs, outputs, attributes, shape inference, VJP;
 *   - kernels      (gx_kernel_desc):  the code of one (op, backend, dtype) triple;
 *   - backends     (gx_backend_desc): a device: memory, copies, submission, synchronisation.
 *
 * Plugins never link back into the engine (build them with -Wl,-z,defs); the table is all they see.
 * The smallest op library:
 *
 *     static gx_status neg_infer(gx_infer_ctx *c) { c->outputs[0] = c->inputs[0]; return GX_OK; }
 *     static gx_status neg_vjp(gx_builder *b, const gx_vjp_args *a) {
 *         return gx_emit1(a->api, b, "neg", a->d_outputs[0], &a->d_inputs[0]);
 *     }
 *     static const gx_op_desc ops[] = {
 *         { .size = sizeof(gx_op_desc), .name = "neg", .min_inputs = 1, .max_inputs = 1,
 *           .n_outputs = 1, .infer = neg_infer, .vjp = neg_vjp },
 *     };
 *     GX_PLUGIN_ENTRY(my_ops, "0.1.0") {
 *         for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
 *             gx_status st = api->register_op(host, &ops[i]);
 *             if (st != GX_OK) return st;
 *         }
 *         return GX_OK;
 *     }
 *
 * Memory model. Every tensor is dense, row-major and contiguous. Tensor data lives in backend
 * buffers; a kernel sees a (buffer handle, byte offset) pair, plus a host pointer when the backend's
 * memory is host memory (GX_BACKEND_HOST_MEMORY). The planner allocates all buffers before a graph
 * runs, so kernels never allocate; a kernel that needs scratch space declares it (workspace).
 *
 * Ownership. The host copies every descriptor and string handed to a register_* call at its top
 * level; the tables a descriptor points to (attrs, examples, probes) and the functions must stay
 * valid while the plugin is loaded, which static const tables do. The host keeps the plugin loaded
 * until the registry is freed.
 *
 * Threads. Tags on each member say when it is called: [load] during gx_plugin_entry only;
 * [build] while a graph is built (single thread); [exec] while a graph runs, possibly on several
 * threads at once with different ith.
 *
 * ABI rules (see plugins/README.md): GX_ABI_VERSION changes whenever a member changes type, meaning
 * or position; members are only ever appended to the structs that start with `size`, and the
 * reader of such a struct checks `size` (GX_HAS_MEMBER) before touching an appended member.
 */
#ifndef GEXEC_PLUGIN_H
#define GEXEC_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GX_ABI_VERSION 1

#define GX_MAX_DIMS           8   /* tensor rank limit                                         */
#define GX_MAX_EXAMPLE_INPUTS 8   /* inputs of one gradient-check example                      */
#define GX_MAX_EXAMPLE_ATTRS  4   /* attributes set by one gradient-check example              */

#if defined(_WIN32)
#define GX_PLUGIN_EXPORT __declspec(dllexport)
#else
#define GX_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

#if defined(__GNUC__)
#define GX_PRINTF(fmt_idx, args_idx) __attribute__((format(printf, fmt_idx, args_idx)))
#else
#define GX_PRINTF(fmt_idx, args_idx)
#endif

/* True when a struct that begins with `uint32_t size` is large enough to hold `member`. */
#define GX_HAS_MEMBER(ptr, type, member) \
    ((ptr)->size >= offsetof(type, member) + sizeof(((type *)0)->member))

/* ---- basic types ------------------------------------------------------------------------ */

/* Every fallible call returns a status: GX_OK (0) or a negative error. */
typedef enum gx_status {
    GX_OK              =   0,
    GX_ERR_NOMEM       =  -1,  /* an allocation failed                                   */
    GX_ERR_INVALID     =  -2,  /* a bad argument or bad data (e.g. index out of range)   */
    GX_ERR_IO          =  -3,  /* a file could not be read or written                    */
    GX_ERR_PARSE       =  -4,  /* a .graph file does not parse                           */
    GX_ERR_SHAPE       =  -5,  /* shapes do not fit                                      */
    GX_ERR_DTYPE       =  -6,  /* dtypes do not fit                                      */
    GX_ERR_NOT_FOUND   =  -7,  /* unknown name (op, value, attribute, tensor, backend)   */
    GX_ERR_ABI         =  -8,  /* plugin built for another ABI                           */
    GX_ERR_PLUGIN      =  -9,  /* a plugin failed to load or to initialise               */
    GX_ERR_UNSUPPORTED = -10,  /* no kernel / no VJP / feature not available              */
    GX_ERR_FORMAT      = -11,  /* a corrupt or malformed file                            */
    GX_ERR_BACKEND     = -12,  /* a device error                                         */
    GX_ERR_DUPLICATE   = -13   /* a name registered twice                                */
} gx_status;

typedef enum gx_dtype {
    GX_DTYPE_INVALID = 0,
    GX_DTYPE_F32     = 1,
    GX_DTYPE_F64     = 2,
    GX_DTYPE_I32     = 3
} gx_dtype;

/* A shape: ndim == 0 is a scalar. dims[i] >= 0. */
typedef struct gx_shape {
    int32_t ndim;
    int64_t dims[GX_MAX_DIMS];
} gx_shape;

typedef struct gx_tensor_info {
    gx_dtype dtype;
    gx_shape shape;
} gx_tensor_info;

/* ---- attributes ------------------------------------------------------------------------- */

typedef enum gx_attr_type {
    GX_ATTR_NONE   = 0,
    GX_ATTR_INT    = 1,  /* int64                                                          */
    GX_ATTR_FLOAT  = 2,  /* double; an integer literal is accepted and converted           */
    GX_ATTR_INTS   = 3,  /* up to GX_MAX_DIMS int64 (axes, shapes)                          */
    GX_ATTR_STRING = 4,  /* a string literal                                               */
    GX_ATTR_DTYPE  = 5   /* a dtype name (f32, f64, i32), stored in .i as a gx_dtype         */
} gx_attr_type;

typedef struct gx_attr_value {
    gx_attr_type type;
    int64_t      i;
    double       f;
    int32_t      n_ints;
    int64_t      ints[GX_MAX_DIMS];
    const char  *s;      /* owned by the host; valid while the graph lives */
} gx_attr_value;

/* One attribute of an op schema. A table of them ends with { .name = NULL }. Ops, kernels, infer
 * and VJP receive attribute values as an array in this table's order, defaults filled in, so a
 * plugin reads them by index. Attributes with required = 0 and no default are GX_ATTR_NONE when
 * not given. Positional call arguments past the op's tensor inputs bind attributes in order. */
typedef struct gx_attr_desc {
    const char   *name;
    gx_attr_type  type;
    int32_t       required;
    gx_attr_value dflt;     /* used when not required and not given; dflt.type NONE = absent */
    const char   *doc;
} gx_attr_desc;

/* A named attribute value, used to emit nodes from a VJP. */
typedef struct gx_attr_kv {
    const char   *name;
    gx_attr_value value;
} gx_attr_kv;

/* ---- opaque handles ---------------------------------------------------------------------- */

typedef struct gx_host    gx_host;     /* the host's handle for the current call             */
typedef struct gx_builder gx_builder;  /* a graph under construction (VJPs, decompositions)  */
typedef int32_t           gx_val;      /* a value in a graph being built                      */
#define GX_VAL_NONE ((gx_val)-1)       /* "no value": e.g. no gradient flows here             */

typedef struct gx_host_api gx_host_api;

/* ---- op schema ---------------------------------------------------------------------------- */

/* Shape and dtype inference. [build] The host fills inputs and attrs; infer fills outputs (and
 * n_outputs when the schema's n_outputs is -1, at most max_outputs). Report a problem with
 * api->set_error(host, GX_ERR_SHAPE, "..."); the host adds the source position and op name. */
typedef struct gx_infer_ctx {
    uint32_t              size;
    const gx_host_api    *api;
    gx_host              *host;
    int32_t               n_inputs;
    const gx_tensor_info *inputs;
    const gx_attr_value  *attrs;
    int32_t               n_outputs;
    int32_t               max_outputs;
    gx_tensor_info       *outputs;
} gx_infer_ctx;

/* Vector-Jacobian product. [build] Given the forward node (its inputs, outputs, attributes) and
 * the gradients of its outputs, emit nodes that compute the gradients of its inputs and store
 * them in d_inputs (preset to GX_VAL_NONE: leave NONE for an input that gets no gradient).
 * d_outputs[j] is GX_VAL_NONE when no gradient flows into output j; at least one is set. A VJP
 * only builds graph; it computes nothing. The host sums gradients over fan-in. */
typedef struct gx_vjp_args {
    uint32_t             size;
    const gx_host_api   *api;
    gx_host             *host;
    int32_t              n_inputs;
    const gx_val        *inputs;
    int32_t              n_outputs;
    const gx_val        *outputs;
    const gx_val        *d_outputs;
    const gx_attr_value *attrs;
    gx_val              *d_inputs;
} gx_vjp_args;

/* What a probe's values range over, for the saturation statistics of diagnostics: sigmoid
 * outputs count as saturated below 0.05 or above 0.95, tanh outputs above 0.95 in magnitude. */
typedef enum gx_probe_kind {
    GX_PROBE_PLAIN   = 0,   /* any range (a cell state, a relu): no saturation figure */
    GX_PROBE_SIGMOID = 1,   /* (0, 1)                                                 */
    GX_PROBE_TANH    = 2,   /* (-1, 1)                                                */
    /* a distribution over the last axis, such as attention weights [B, S]: diagnostics keep
     * the first batch row at every logged time step and the report draws it as a heatmap */
    GX_PROBE_DIST    = 3
} gx_probe_kind;

/* Probes of a fused op. [build, diagnostics only] Given the node (inputs, outputs, attributes),
 * emit nodes that compute the values the op's `probes` table names, in that order, as the
 * composite form of the op would have them (a gate as [B, H], activated): values[i] for
 * probes[i] and kinds[i] its gx_probe_kind. Both arrays come preset (GX_VAL_NONE, PLAIN);
 * leave NONE for a probe the op cannot give. Diagnostics run these nodes only on the steps
 * they log, so recomputing a gate here costs nothing on the others. */
typedef struct gx_probe_args {
    uint32_t             size;
    const gx_host_api   *api;
    gx_host             *host;
    int32_t              n_inputs;
    const gx_val        *inputs;
    int32_t              n_outputs;
    const gx_val        *outputs;
    const gx_attr_value *attrs;
    int32_t              n_probes;       /* entries of gx_op_desc.probes                    */
    gx_val              *values;         /* out: one per probe                              */
    int32_t             *kinds;          /* out: gx_probe_kind per probe                    */
} gx_probe_args;

/* Decomposition. [build] Emit nodes of other ops (api->emit) that compute the op's outputs from
 * its inputs, and store them in outputs[0 .. n_outputs) (one per output that infer gave; each must
 * have the inferred dtype and shape). An op that has a decomposition and no kernel on any backend
 * is expanded into it wherever it is called, so it needs no kernels and no VJP: autodiff
 * differentiates the expansion, and it runs on every backend that runs the ops it emits. Name
 * values for diagnostics through probe_values/probe_kinds, one per entry of gx_op_desc.probes,
 * preset to GX_VAL_NONE and GX_PROBE_PLAIN. */
typedef struct gx_decompose_args {
    uint32_t             size;
    const gx_host_api   *api;
    gx_host             *host;
    int32_t              n_inputs;
    const gx_val        *inputs;
    const gx_attr_value *attrs;
    int32_t              n_outputs;
    gx_val              *outputs;        /* out: one per output                              */
    int32_t              n_probes;       /* entries of gx_op_desc.probes                    */
    gx_val              *probe_values;   /* out: one per probe                              */
    int32_t             *probe_kinds;    /* out: gx_probe_kind per probe                    */
} gx_decompose_args;

/* One input of a gradient-check example: a random tensor drawn uniformly from [lo, hi], with
 * |x| >= min_abs for floats (keeps relu/abs away from their kink); integers in [lo, hi]. */
typedef struct gx_example_input {
    gx_dtype dtype;
    int32_t  ndim;
    int64_t  dims[GX_MAX_DIMS];
    double   lo, hi;
    double   min_abs;
} gx_example_input;

/* A case the gradient check and `gexec check-op` run; a table of them ends with { .name = NULL }.
 * The engine runs examples in f64 (float inputs converted) and in f32. */
typedef struct gx_op_example {
    const char      *name;
    int32_t          n_inputs;
    gx_example_input inputs[GX_MAX_EXAMPLE_INPUTS];
    int32_t          n_attrs;
    gx_attr_kv       attrs[GX_MAX_EXAMPLE_ATTRS];
} gx_op_example;

typedef struct gx_op_desc {
    uint32_t             size;           /* sizeof(gx_op_desc)                                */
    const char          *name;           /* "tanh"; unique across all plugins                 */
    const char          *doc;            /* one line for `gexec plugins`                      */
    int32_t              min_inputs;
    int32_t              max_inputs;     /* -1: variadic                                      */
    int32_t              n_outputs;      /* -1: infer decides                                 */
    const gx_attr_desc  *attrs;          /* may be NULL                                       */
    uint32_t             nodiff_inputs;  /* bit i: input i never gets a gradient (indices...)  */
    gx_status          (*infer)(gx_infer_ctx *c);
    gx_status          (*vjp)(gx_builder *b, const gx_vjp_args *a);   /* NULL: not differentiable */
    const gx_op_example *examples;       /* gradient-check cases; NULL only with grad_exempt  */
    const char          *grad_exempt;    /* why the op is not gradient-checked, or NULL        */
    const char *const   *probes;         /* names of the values `probe` gives (diagnostics:
                                            "gate.forget", ...); NULL-terminated or NULL       */
    /* appended members (read only when GX_HAS_MEMBER says they are there) */
    uint32_t             flags;          /* GX_OP_* below                                      */
    gx_status          (*probe)(gx_builder *b, const gx_probe_args *a);  /* NULL: no probes   */
    /* bit i: input i is a recurrent weight matrix (W_hh [G*H, H], or its transpose [H, G*H]),
     * whose spectral radius per H x H block and largest singular value diagnostics report */
    uint32_t             recurrent_inputs;
    /* the op in terms of other ops (see gx_decompose_args); NULL: none */
    gx_status          (*decompose)(gx_builder *b, const gx_decompose_args *a);
} gx_op_desc;

/* gx_op_desc.flags */
enum {
    /* The op draws random numbers. Its last input is not written in a .graph file: the engine
     * passes the run's random key there, an i32[2] (seed, step) graph input named "gx.rng" that
     * the trainer feeds every step (zeros when nobody does). The op must have an INT attribute
     * named "key", which the engine sets to a number unique to the call site, so two dropout
     * calls draw different masks and the looped and unrolled forms of a loop draw the same.
     * Kernels draw with gx_random_u01, so every backend draws the same numbers. */
    GX_OP_RANDOM     = 1u << 0,
    /* The op only acts while training (dropout): outside training (gexec run, eval, sample)
     * a call lowers to its first input, unchanged. */
    GX_OP_TRAIN_ONLY = 1u << 1
};

/* A counter-based uniform draw in [0, 1) (24 bits) from (seed, step, key, index): a pure
 * function, so a kernel may draw element i on any thread, a VJP can redraw the same mask, and
 * a shader computes the same value with 32-bit integer arithmetic. */
static inline uint32_t gx_random_mix32(uint32_t x) {
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}
static inline float gx_random_u01(uint32_t seed, uint32_t step, uint32_t key, uint32_t index) {
    uint32_t h = gx_random_mix32(seed ^ 0x9e3779b9u);
    h = gx_random_mix32(h ^ step);
    h = gx_random_mix32(h ^ key);
    h = gx_random_mix32(h ^ index);
    return (float)(h >> 8) * (1.0f / 16777216.0f);
}

/* ---- kernels ------------------------------------------------------------------------------- */

/* A tensor as a kernel sees it. `buf` is the backend's buffer handle and `offset` a byte offset
 * in it; `data` is buf + offset as a host pointer on host-memory backends, NULL elsewhere. */
typedef struct gx_tensor {
    gx_dtype dtype;
    gx_shape shape;
    void    *buf;
    uint64_t offset;
    void    *data;
} gx_tensor;

/* [exec] Arguments of one kernel call. A kernel splits its work by (ith, nth) deterministically,
 * so results never depend on nth. Report bad data with api->set_error and a non-OK status. */
typedef struct gx_kernel_args {
    uint32_t             size;
    const gx_host_api   *api;
    gx_host             *host;
    void                *backend_ctx;
    int32_t              n_inputs;
    const gx_tensor     *inputs;
    int32_t              n_outputs;
    const gx_tensor     *outputs;
    const gx_attr_value *attrs;
    int32_t              ith, nth;
    gx_tensor            workspace;      /* dtype INVALID, shape [bytes]; empty when none asked */
} gx_kernel_args;

typedef struct gx_kernel_desc {
    uint32_t    size;
    const char *op;                      /* "tanh"                                            */
    const char *backend;                 /* "cpu-scalar"                                      */
    gx_dtype    dtype;                   /* the dtype of output 0                             */
    gx_status (*run)(const gx_kernel_args *a);
    /* optional [build]: bytes of scratch memory the kernel needs for these shapes */
    uint64_t  (*workspace)(int32_t n_inputs, const gx_tensor_info *inputs,
                           int32_t n_outputs, const gx_tensor_info *outputs,
                           const gx_attr_value *attrs);
} gx_kernel_desc;

/* ---- backends ------------------------------------------------------------------------------ */

enum {
    GX_BACKEND_HOST_MEMORY = 1u << 0     /* buffers are host pointers (gx_tensor.data is set)  */
};

/* A device. All calls take the context made by init. Work may be asynchronous: begin() opens a
 * batch, kernels record or run into it, submit() sends it, sync() waits for all of it. read()
 * and write() are ordered with the work already submitted (they may sync). */
typedef struct gx_backend_desc {
    uint32_t    size;
    const char *name;                    /* "cpu-scalar"                                      */
    const char *doc;
    uint32_t    flags;                   /* GX_BACKEND_*                                      */
    /* 0: unusable on this machine (no device); higher is preferred. Called before init. */
    int32_t   (*score)(const gx_host_api *api, gx_host *host);
    gx_status (*init)(const gx_host_api *api, gx_host *host, void **ctx);
    void      (*deinit)(void *ctx);
    /* one line describing the device (name, driver, limits) for `gexec plugins` */
    gx_status (*describe)(void *ctx, char *out, size_t out_size);
    gx_status (*buffer_alloc)(void *ctx, uint64_t bytes, void **buf);
    void      (*buffer_free)(void *ctx, void *buf);
    void     *(*buffer_host_ptr)(void *ctx, void *buf);   /* host memory only, else NULL      */
    gx_status (*write)(void *ctx, void *buf, uint64_t offset, const void *src, uint64_t bytes);
    gx_status (*read)(void *ctx, void *buf, uint64_t offset, void *dst, uint64_t bytes);
    gx_status (*copy)(void *ctx, void *dst, uint64_t dst_offset,
                      void *src, uint64_t src_offset, uint64_t bytes);
    gx_status (*begin)(void *ctx);
    gx_status (*submit)(void *ctx);
    gx_status (*sync)(void *ctx);
    /* appended members (read only when GX_HAS_MEMBER says they are there) */
    /* optional: n reads as one, ordered like read() and waited on once (a step's loss, states
     * and metrics in one round trip to a device); NULL: the host calls read() n times */
    gx_status (*read_many)(void *ctx, int32_t n, void *const *bufs, const uint64_t *offsets,
                           void *const *dsts, const uint64_t *bytes);
} gx_backend_desc;

/* ---- the host table ------------------------------------------------------------------------ */

typedef enum gx_log_level {
    GX_LOG_DEBUG = 0,
    GX_LOG_INFO  = 1,
    GX_LOG_WARN  = 2,
    GX_LOG_ERROR = 3
} gx_log_level;

struct gx_host_api {
    uint32_t abi_version;                /* the engine's GX_ABI_VERSION                       */
    uint32_t size;                       /* sizeof(gx_host_api) in the engine                 */

    /* [load] registration; the host copies the descriptor (not the tables it points to). */
    gx_status (*register_op)     (gx_host *host, const gx_op_desc *op);
    gx_status (*register_kernel) (gx_host *host, const gx_kernel_desc *kernel);
    gx_status (*register_backend)(gx_host *host, const gx_backend_desc *backend);

    /* [any] services */
    void      (*log)      (gx_host *host, gx_log_level level, const char *fmt, ...) GX_PRINTF(3, 4);
    /* records a message for the current call and returns st, so `return api->set_error(...)` */
    gx_status (*set_error)(gx_host *host, gx_status st, const char *fmt, ...) GX_PRINTF(3, 4);
    void     *(*alloc)    (gx_host *host, size_t bytes);
    void      (*free)     (gx_host *host, void *ptr);
    /* an optional host feature by id (GX_EXT_* below); NULL when absent */
    const void *(*get_extension)(gx_host *host, const char *id);

    /* [build] graph building, for VJPs */
    /* Emit one node of `op` on inputs `in`; its n_out outputs go to `out`. Attributes not given
     * take their defaults. Shapes are inferred at once, so errors surface here. */
    gx_status (*emit)(gx_builder *b, const char *op, const gx_val *in, int32_t n_in,
                      const gx_attr_kv *attrs, int32_t n_attrs, gx_val *out, int32_t n_out);
    gx_status (*value_info)(gx_builder *b, gx_val v, gx_tensor_info *info);
    /* a tensor of `shape` filled with `value` */
    gx_status (*emit_constant)(gx_builder *b, double value, gx_dtype dtype,
                               const gx_shape *shape, gx_val *out);
    /* sum a broadcast result back down to `shape` (the gradient of an implicit broadcast);
     * returns v itself when the shapes already match */
    gx_status (*emit_sum_to)(gx_builder *b, gx_val v, const gx_shape *shape, gx_val *out);
    /* new members are appended here */
};

/* Host extensions (get_extension ids). GX_EXT_THREADS: a const int32_t *, the number of worker
 * threads a CPU backend should use (`gexec ... --threads N`); 0 means the backend's default
 * (all cores). Read it in init. */
#define GX_EXT_THREADS "gexec.threads"
/* GX_EXT_DEVICE: a const int32_t *, the device a GPU backend should open (`--device N`, an index
 * into the list `gexec plugins` prints); -1 lets the backend choose. Read it in init. */
#define GX_EXT_DEVICE "gexec.device"

/* ---- small helpers over the table (header-only, no link-back) --------------------------- */

static inline gx_status gx_emit1(const gx_host_api *api, gx_builder *b, const char *op,
                                 gx_val x, gx_val *y) {
    return api->emit(b, op, &x, 1, NULL, 0, y, 1);
}

static inline gx_status gx_emit2(const gx_host_api *api, gx_builder *b, const char *op,
                                 gx_val x0, gx_val x1, gx_val *y) {
    gx_val in[2];
    in[0] = x0;
    in[1] = x1;
    return api->emit(b, op, in, 2, NULL, 0, y, 1);
}

static inline int64_t gx_shape_numel(const gx_shape *s) {
    int64_t n = 1;
    for (int32_t i = 0; i < s->ndim; i++) n *= s->dims[i];
    return n;
}

static inline size_t gx_dtype_size(gx_dtype dt) {
    return dt == GX_DTYPE_F64 ? 8u : (dt == GX_DTYPE_F32 || dt == GX_DTYPE_I32) ? 4u : 0u;
}

static inline const char *gx_dtype_name(gx_dtype dt) {
    return dt == GX_DTYPE_F32 ? "f32" : dt == GX_DTYPE_F64 ? "f64" : dt == GX_DTYPE_I32 ? "i32"
                                                                                       : "invalid";
}

/* ---- the entry point ----------------------------------------------------------------------- */

typedef struct gx_plugin_info {
    uint32_t    abi_version;             /* GX_ABI_VERSION the plugin was compiled with        */
    const char *name;                    /* "core-ops" (static string)                         */
    const char *version;                 /* "0.1.0"                                            */
    void      (*unload)(void);           /* optional, called before dlclose                    */
} gx_plugin_info;

typedef gx_status (*gx_plugin_entry_fn)(const gx_host_api *api, gx_host *host,
                                        gx_plugin_info *info);

#define GX_PLUGIN_ENTRY_SYMBOL "gx_plugin_entry"

/* GX_PLUGIN_ENTRY(name, version) { body using api and host } writes the exported entry point:
 * it fills info, refuses a host of another ABI before the body can touch the table, then runs
 * the body (which registers ops, kernels and backends and returns a status). */
#define GX_PLUGIN_ENTRY(plugin_name, plugin_version)                                          \
    static gx_status gx_plugin_body_(const gx_host_api *api, gx_host *host);                  \
    GX_PLUGIN_EXPORT gx_status gx_plugin_entry(const gx_host_api *api, gx_host *host,         \
                                               gx_plugin_info *info);                         \
    GX_PLUGIN_EXPORT gx_status gx_plugin_entry(const gx_host_api *api, gx_host *host,         \
                                               gx_plugin_info *info) {                        \
        info->abi_version = GX_ABI_VERSION;                                                   \
        info->name = #plugin_name;                                                            \
        info->version = plugin_version;                                                       \
        if (api == NULL || api->abi_version != GX_ABI_VERSION) return GX_ERR_ABI;             \
        return gx_plugin_body_(api, host);                                                    \
    }                                                                                         \
    static gx_status gx_plugin_body_(const gx_host_api *api, gx_host *host)

#ifdef __cplusplus
}
#endif

#endif /* GEXEC_PLUGIN_H */
