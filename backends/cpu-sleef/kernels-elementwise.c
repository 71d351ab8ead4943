/*
 * kernels-elementwise.c: cpu-sleef kernels of the element-wise ops: add sub mul div gt eq
 * (binary, broadcast), neg tanh sigmoid relu exp log (unary), where (ternary, broadcast) and
 * full (no input; f32 and i32).
 *
 * Broadcasting goes through csl_iter (strided.c): the output is cut into runs along the
 * coalesced innermost dim, where each input is either contiguous (stride 1) or one repeated
 * element (stride 0); each case has its own loop, which the compiler vectorises. tanh, sigmoid,
 * exp and log are SLEEF vector functions (csl_vec); neg and relu are plain loops.
 *
 * Threads: an output of more than one chunk (CSL_CHUNK_CHEAP elements for the plain loops,
 * CSL_CHUNK_MATH for the SLEEF maps) is split into chunks of consecutive output elements that
 * the pool runs in parallel; a broadcast chunk starts its iterator at the run that holds its
 * first element (csl_iter_seek). Every element is computed on its own, so the split changes
 * no bit.
 */
#include <string.h>

#include "cpu-sleef.h"

// ---- chunks of a broadcast walk -----------------------------------------------------------------

// Put a reset iterator at run r (what r calls of csl_iter_next would do).
static void csl_iter_seek(csl_iter *it, int64_t r) {
    for (int32_t d = it->nd - 2; d >= 0 && r > 0; d--) {
        it->idx[d] = r % it->dims[d];
        r /= it->dims[d];
        for (int32_t k = 0; k < it->n_ops; k++) it->off[k] += it->idx[d] * it->stride[k][d];
    }
}

// Output elements [e0, e1) of a broadcast walk (the output, operand 0, is contiguous) as
// pieces of runs: calls piece(job, it, i0, n) for elements i0 .. i0 + n of the iterator's
// current run, in order.
typedef void (*csl_piece_fn)(const void *job, const csl_iter *it, int64_t i0, int64_t n);

static void csl_walk_range(const csl_iter *proto, int64_t e0, int64_t e1, csl_piece_fn piece,
                           const void *job) {
    if (e0 >= e1 || proto->inner <= 0) return;
    csl_iter it = *proto;
    csl_iter_reset(&it);
    int64_t r = e0 / it.inner, i0 = e0 % it.inner;
    csl_iter_seek(&it, r);
    while (e0 < e1) {
        int64_t n = it.inner - i0 < e1 - e0 ? it.inner - i0 : e1 - e0;
        piece(job, &it, i0, n);
        e0 += n;
        i0 = 0;
        csl_iter_next(&it);
    }
}

// a broadcast kernel's iterator and pointers, for csl_walk_task
typedef struct csl_walk {
    csl_iter     it;
    csl_piece_fn piece;
    const void  *job;
} csl_walk;

static void csl_walk_task(void *arg, int64_t e0, int64_t e1) {
    const csl_walk *w = arg;
    csl_walk_range(&w->it, e0, e1, w->piece, w->job);
}

// the whole walk, chunked over the pool when it is longer than one chunk
static void csl_walk_all(const gx_kernel_args *a, csl_walk *w, int64_t chunk) {
    csl_parallel_range(a->backend_ctx, csl_walk_task, w, w->it.runs * w->it.inner, chunk);
}

// ---- binary, broadcast --------------------------------------------------------------------------

// one run: y[i] = f(a[i * sa], b[i * sb]) for i < n, with a specialised loop per stride pattern
typedef void (*csl_binary_run)(float *y, const float *a, int64_t sa, const float *b, int64_t sb,
                               int64_t n);

#define CSL_BINARY(name, EXPR)                                                              \
    static void name##_inner(float *y, const float *a, int64_t sa, const float *b,          \
                             int64_t sb, int64_t n) {                                       \
        if (sa == 1 && sb == 1) {                                                           \
            for (int64_t i = 0; i < n; i++) {                                               \
                float x = a[i], z = b[i];                                                   \
                y[i] = (EXPR);                                                              \
            }                                                                               \
        } else if (sa == 1 && sb == 0) {                                                    \
            const float z = b[0];                                                           \
            for (int64_t i = 0; i < n; i++) {                                               \
                float x = a[i];                                                             \
                y[i] = (EXPR);                                                              \
            }                                                                               \
        } else if (sa == 0 && sb == 1) {                                                    \
            const float x = a[0];                                                           \
            for (int64_t i = 0; i < n; i++) {                                               \
                float z = b[i];                                                             \
                y[i] = (EXPR);                                                              \
            }                                                                               \
        } else {                                                                            \
            for (int64_t i = 0; i < n; i++) {                                               \
                float x = a[i * sa], z = b[i * sb];                                         \
                y[i] = (EXPR);                                                              \
            }                                                                               \
        }                                                                                   \
    }                                                                                       \
    static gx_status name##_run(const gx_kernel_args *a) {                                  \
        return csl_binary(a, name##_inner);                                                 \
    }

typedef struct csl_binary_job {
    csl_binary_run run;
    const float   *px, *pz;
    float         *py;
} csl_binary_job;

static void csl_binary_piece(const void *job, const csl_iter *it, int64_t i0, int64_t n) {
    const csl_binary_job *j = job;
    int64_t sa = it->inner_stride[1], sb = it->inner_stride[2];
    j->run(j->py + it->off[0] + i0, j->px + it->off[1] + i0 * sa, sa,
           j->pz + it->off[2] + i0 * sb, sb, n);
}

// a and b broadcast to y (NumPy rules)
static gx_status csl_binary(const gx_kernel_args *a, csl_binary_run run) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *x = &a->inputs[0], *z = &a->inputs[1], *y = &a->outputs[0];
    csl_binary_job job = {.run = run, .px = csl_f32(x), .pz = csl_f32(z), .py = csl_f32(y)};
    const gx_shape *shapes[2] = {&x->shape, &z->shape};
    csl_walk w = {.piece = csl_binary_piece, .job = &job};
    csl_iter_broadcast(&w.it, &y->shape, shapes, 2);
    csl_walk_all(a, &w, CSL_CHUNK_CHEAP);
    return GX_OK;
}

CSL_BINARY(add, x + z)
CSL_BINARY(sub, x - z)
CSL_BINARY(mul, x * z)
CSL_BINARY(div, x / z)
CSL_BINARY(gt, x > z ? 1.0f : 0.0f)
CSL_BINARY(eq, x == z ? 1.0f : 0.0f)

// ---- unary --------------------------------------------------------------------------------------

// y = f(x) over one shape, in chunks of `chunk` elements: f maps n contiguous floats
typedef struct csl_map_job {
    void (*f)(float *y, const float *x, int64_t n);
    const float *x;
    float       *y;
} csl_map_job;

static void csl_map_task(void *arg, int64_t e0, int64_t e1) {
    const csl_map_job *j = arg;
    j->f(j->y + e0, j->x + e0, e1 - e0);
}

static gx_status csl_map(const gx_kernel_args *a, void (*f)(float *, const float *, int64_t),
                         int64_t chunk) {
    if (a->ith != 0) return GX_OK;
    csl_map_job j = {.f = f, .x = csl_f32(&a->inputs[0]), .y = csl_f32(&a->outputs[0])};
    csl_parallel_range(a->backend_ctx, csl_map_task, &j, csl_numel(&a->outputs[0]), chunk);
    return GX_OK;
}

static void neg_map(float *y, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = -x[i];
}

// x > 0 ? x : 0, as cpu-scalar (NaN gives 0)
static void relu_map(float *y, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

// x and y have the same shape
static gx_status neg_run(const gx_kernel_args *a)  { return csl_map(a, neg_map, CSL_CHUNK_CHEAP); }
static gx_status relu_run(const gx_kernel_args *a) { return csl_map(a, relu_map, CSL_CHUNK_CHEAP); }

#define CSL_VECTOR_MAP(name)                                                   \
    static gx_status name##_run(const gx_kernel_args *a) {                     \
        return csl_map(a, csl_vec->name, CSL_CHUNK_MATH);                      \
    }

CSL_VECTOR_MAP(tanh)
CSL_VECTOR_MAP(sigmoid)
CSL_VECTOR_MAP(exp)
CSL_VECTOR_MAP(log)

// ---- where, full --------------------------------------------------------------------------------

typedef struct csl_where_job {
    const void  *pc;
    const float *pt, *pf;
    float       *py;
    int          cond_i32;
} csl_where_job;

static void csl_where_piece(const void *job, const csl_iter *it, int64_t i0, int64_t n) {
    const csl_where_job *j = job;
    int64_t sc = it->inner_stride[1], s1 = it->inner_stride[2], s2 = it->inner_stride[3];
    const float *a1 = j->pt + it->off[2] + i0 * s1, *a2 = j->pf + it->off[3] + i0 * s2;
    float *out = j->py + it->off[0] + i0;
    if (j->cond_i32) {
        const int32_t *cc = (const int32_t *)j->pc + it->off[1] + i0 * sc;
        for (int64_t i = 0; i < n; i++) out[i] = cc[i * sc] != 0 ? a1[i * s1] : a2[i * s2];
    } else {
        const float *cc = (const float *)j->pc + it->off[1] + i0 * sc;
        for (int64_t i = 0; i < n; i++) out[i] = cc[i * sc] != 0.0f ? a1[i * s1] : a2[i * s2];
    }
}

// cond (i32 or f32; non-zero is true), a and b broadcast to y; y is f32
static gx_status where_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *c = &a->inputs[0], *t = &a->inputs[1], *f = &a->inputs[2];
    const gx_tensor *y = &a->outputs[0];
    csl_where_job job = {.pc = c->data, .pt = csl_f32(t), .pf = csl_f32(f), .py = csl_f32(y),
                         .cond_i32 = c->dtype == GX_DTYPE_I32};
    const gx_shape *shapes[3] = {&c->shape, &t->shape, &f->shape};
    csl_walk w = {.piece = csl_where_piece, .job = &job};
    csl_iter_broadcast(&w.it, &y->shape, shapes, 3);
    csl_walk_all(a, &w, CSL_CHUNK_CHEAP);
    return GX_OK;
}

// y[e0 .. e1) = the 32-bit pattern of the value (f32 or i32: the fill is the same)
typedef struct csl_fill_job {
    uint32_t *y;
    uint32_t  bits;
} csl_fill_job;

static void csl_fill_task(void *arg, int64_t e0, int64_t e1) {
    const csl_fill_job *j = arg;
    for (int64_t i = e0; i < e1; i++) j->y[i] = j->bits;
}

static gx_status csl_full(const gx_kernel_args *a, uint32_t bits) {
    csl_fill_job j = {.y = a->outputs[0].data, .bits = bits};
    csl_parallel_range(a->backend_ctx, csl_fill_task, &j, csl_numel(&a->outputs[0]),
                       CSL_CHUNK_CHEAP);
    return GX_OK;
}

// no inputs; y is `shape` filled with `value`. attrs: shape, value, dtype (y is already typed)
static gx_status full_f32_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    float v = (float)a->attrs[1].f;
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    return csl_full(a, bits);
}

// i32: the value is an exact integer (checked by infer); converted as cpu-scalar does
static gx_status full_i32_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    int32_t v = (int32_t)a->attrs[1].f;
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    return csl_full(a, bits);
}

static const gx_kernel_desc csl_elementwise_kernels[] = {
    CSL_F32("add", add_run),
    CSL_F32("sub", sub_run),
    CSL_F32("mul", mul_run),
    CSL_F32("div", div_run),
    CSL_F32("gt", gt_run),
    CSL_F32("eq", eq_run),
    CSL_F32("neg", neg_run),
    CSL_F32("tanh", tanh_run),
    CSL_F32("sigmoid", sigmoid_run),
    CSL_F32("relu", relu_run),
    CSL_F32("exp", exp_run),
    CSL_F32("log", log_run),
    CSL_F32("where", where_run),
    CSL_F32("full", full_f32_run),
    CSL_KERNEL("full", full_i32_run, GX_DTYPE_I32),
};

gx_status csl_register_elementwise(const gx_host_api *api, gx_host *host) {
    return gx_register_kernels(api, host, csl_elementwise_kernels,
                               GX_COUNT(csl_elementwise_kernels));
}
