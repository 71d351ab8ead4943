/*
 * kernels-elementwise.c: Vulkan kernels of the element-wise ops: add sub mul div gt eq (binary,
 * NumPy broadcasting), neg tanh sigmoid relu exp log (unary), where (ternary, broadcasting), full
 * (f32 and i32), cast (to f32 or i32, from f32, i32 or f64), dropout and sequence_mask. They
 * compute what backends/cpu-scalar/kernels-elementwise.c and kernels-masks.c compute, in f32.
 *
 * Broadcasting: rather than per-input strides (three inputs of rank 8 would not fit in 128 bytes
 * of push constants), the host coalesces the output shape (dims of 1 dropped, neighbouring dims
 * that every input treats alike merged into one) and passes per input a bitmask of the dims it is
 * broadcast along; shaders/ew-bcast.glsl rebuilds the strides from that. A spec constant selects
 * the direct-index path when no input is broadcast at all, the common case in a training step.
 *
 * Every shader is a grid-stride loop over 32-bit element indices, so each kernel checks that its
 * element count fits (below 2^31, which also keeps `i += stride` from wrapping).
 */
#include <stdint.h>
#include <string.h>

#include "vk.h"

#include "ew_binary_spv.h"
#include "ew_cast_spv.h"
#include "ew_dropout_spv.h"
#include "ew_full_spv.h"
#include "ew_sequence_mask_spv.h"
#include "ew_unary_spv.h"
#include "ew_where_spv.h"

static const vk_shader sh_binary = VK_SHADER(ew_binary_spv);
static const vk_shader sh_unary = VK_SHADER(ew_unary_spv);
static const vk_shader sh_where = VK_SHADER(ew_where_spv);
static const vk_shader sh_full = VK_SHADER(ew_full_spv);
static const vk_shader sh_cast = VK_SHADER(ew_cast_spv);
static const vk_shader sh_dropout = VK_SHADER(ew_dropout_spv);
static const vk_shader sh_sequence_mask = VK_SHADER(ew_sequence_mask_spv);

// ---- shared helpers ------------------------------------------------------------------------------

#define EW_MAX_ELEMS 0x7fffffffLL

// the element count of t as a shader's loop bound, or an error when it does not fit
static gx_status ew_count(const gx_kernel_args *a, const gx_tensor *t, uint32_t *n) {
    int64_t v = gx_shape_numel(&t->shape);
    if (v > EW_MAX_ELEMS)
        return a->api->set_error(a->host, GX_ERR_UNSUPPORTED,
                                 "vulkan: %s has %lld elements, more than one element-wise "
                                 "dispatch indexes (2^31 - 1)",
                                 GX_SHAPE(&t->shape), (long long)v);
    *n = (uint32_t)v;
    return GX_OK;
}

// One dispatch over n elements; every shader of this file writes only its last binding.
static gx_status ew_launch(const gx_kernel_args *a, const vk_shader *sh, const int32_t *spec,
                           uint32_t n_spec, const gx_tensor *const *bind, uint32_t n_bind,
                           const void *push, uint32_t push_bytes, uint32_t n) {
    vk_launch l = {
        .shader = sh,
        .n_spec = n_spec,
        .n_bind = n_bind,
        .writes = 1u << (n_bind - 1),
        .push = push,
        .push_bytes = push_bytes,
        .groups = {vk_groups(a->backend_ctx, n, 256), 1, 1},
    };
    for (uint32_t i = 0; i < n_spec; i++) l.spec[i] = spec[i];
    for (uint32_t i = 0; i < n_bind; i++) l.bind[i] = bind[i];
    return vk_launch_run(a->backend_ctx, a->api, a->host, &l);
}

// The coalesced broadcast of up to three inputs to an output: dims[0..ndim) (outermost first)
// and mask[k] bit d set when input k is read with stride 0 along dim d.
typedef struct ew_bcast {
    uint32_t ndim;
    uint32_t mask[3];
    uint32_t dims[GX_MAX_DIMS];
} ew_bcast;

// Fills b for inputs in[0..n_in) broadcast to out (numel(out) > 0 and < 2^31, so every product
// of dims fits); returns whether any input is broadcast at all.
static int ew_bcast_plan(const gx_shape *out, const gx_tensor *const *in, int n_in, ew_bcast *b) {
    memset(b, 0, sizeof *b);
    uint32_t prev = 0;
    for (int32_t d = 0; d < out->ndim; d++) {
        // a dim of 1 has the single coordinate 0: it moves no input index
        if (out->dims[d] == 1) continue;
        uint32_t bits = 0;  // bit k: input k is broadcast along d (shapes align on the right)
        for (int k = 0; k < n_in; k++) {
            int32_t kd = d - (out->ndim - in[k]->shape.ndim);
            if (kd < 0 || in[k]->shape.dims[kd] == 1) bits |= 1u << k;
        }
        // a dim every input treats like the previous one extends it: for an input not broadcast
        // along either the two are contiguous in it, for one broadcast along both both are stride 0
        if (b->ndim > 0 && bits == prev) {
            b->dims[b->ndim - 1] *= (uint32_t)out->dims[d];
            continue;
        }
        for (int k = 0; k < n_in; k++)
            if (bits & (1u << k)) b->mask[k] |= 1u << b->ndim;
        b->dims[b->ndim++] = (uint32_t)out->dims[d];
        prev = bits;
    }
    return (b->mask[0] | b->mask[1] | b->mask[2]) != 0;
}

// ---- binary, broadcast ---------------------------------------------------------------------------

enum { EW_ADD, EW_SUB, EW_MUL, EW_DIV, EW_GT, EW_EQ };

typedef struct ew_binary_push {
    uint32_t n, ndim, mask_a, mask_b;
    uint32_t dims[GX_MAX_DIMS];
} ew_binary_push;

static gx_status ew_binary(const gx_kernel_args *a, int op) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *x = &a->inputs[0], *z = &a->inputs[1], *y = &a->outputs[0];
    if (x->dtype != GX_DTYPE_F32 || z->dtype != GX_DTYPE_F32)
        return a->api->set_error(a->host, GX_ERR_UNSUPPORTED, "vulkan: element-wise ops are f32 only");
    uint32_t n;
    GX_TRY(ew_count(a, y, &n));
    if (n == 0) return GX_OK;
    const gx_tensor *bind[3] = {x, z, y};
    ew_bcast b;
    int bcast = ew_bcast_plan(&y->shape, bind, 2, &b);
    ew_binary_push pc = {.n = n, .ndim = b.ndim, .mask_a = b.mask[0], .mask_b = b.mask[1]};
    memcpy(pc.dims, b.dims, sizeof pc.dims);
    int32_t spec[2] = {op, bcast};
    return ew_launch(a, &sh_binary, spec, 2, bind, 3, &pc, sizeof pc, n);
}

static gx_status add_run(const gx_kernel_args *a) { return ew_binary(a, EW_ADD); }
static gx_status sub_run(const gx_kernel_args *a) { return ew_binary(a, EW_SUB); }
static gx_status mul_run(const gx_kernel_args *a) { return ew_binary(a, EW_MUL); }
static gx_status div_run(const gx_kernel_args *a) { return ew_binary(a, EW_DIV); }
static gx_status gt_run(const gx_kernel_args *a)  { return ew_binary(a, EW_GT); }
static gx_status eq_run(const gx_kernel_args *a)  { return ew_binary(a, EW_EQ); }

// ---- unary ---------------------------------------------------------------------------------------

enum { EW_NEG, EW_TANH, EW_SIGMOID, EW_RELU, EW_EXP, EW_LOG };

static gx_status ew_unary(const gx_kernel_args *a, int op) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *x = &a->inputs[0], *y = &a->outputs[0];
    if (x->dtype != GX_DTYPE_F32)
        return a->api->set_error(a->host, GX_ERR_UNSUPPORTED, "vulkan: element-wise ops are f32 only");
    uint32_t n;
    GX_TRY(ew_count(a, y, &n));
    if (n == 0) return GX_OK;
    const gx_tensor *bind[2] = {x, y};
    int32_t spec[1] = {op};
    return ew_launch(a, &sh_unary, spec, 1, bind, 2, &n, sizeof n, n);
}

static gx_status neg_run(const gx_kernel_args *a)     { return ew_unary(a, EW_NEG); }
static gx_status tanh_run(const gx_kernel_args *a)    { return ew_unary(a, EW_TANH); }
static gx_status sigmoid_run(const gx_kernel_args *a) { return ew_unary(a, EW_SIGMOID); }
static gx_status relu_run(const gx_kernel_args *a)    { return ew_unary(a, EW_RELU); }
static gx_status exp_run(const gx_kernel_args *a)     { return ew_unary(a, EW_EXP); }
static gx_status log_run(const gx_kernel_args *a)     { return ew_unary(a, EW_LOG); }

// ---- where ---------------------------------------------------------------------------------------

typedef struct ew_where_push {
    uint32_t n, ndim, mask_c, mask_a, mask_b, cond_bits;
    uint32_t dims[GX_MAX_DIMS];
} ew_where_push;

// y = cond != 0 ? a : b, all three broadcast to y; cond is i32 or f32
static gx_status where_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *c = &a->inputs[0], *t = &a->inputs[1], *f = &a->inputs[2];
    const gx_tensor *y = &a->outputs[0];
    if (t->dtype != GX_DTYPE_F32 || f->dtype != GX_DTYPE_F32 ||
        (c->dtype != GX_DTYPE_F32 && c->dtype != GX_DTYPE_I32))
        return a->api->set_error(a->host, GX_ERR_UNSUPPORTED,
                                 "vulkan: where takes an f32 or i32 cond and f32 values");
    uint32_t n;
    GX_TRY(ew_count(a, y, &n));
    if (n == 0) return GX_OK;
    const gx_tensor *bind[4] = {c, t, f, y};
    ew_bcast b;
    int bcast = ew_bcast_plan(&y->shape, bind, 3, &b);
    // an f32 cond ignores the sign bit: -0.0 is false and NaN true, as `c != 0.0` in C
    ew_where_push pc = {.n = n, .ndim = b.ndim, .mask_c = b.mask[0], .mask_a = b.mask[1],
                        .mask_b = b.mask[2],
                        .cond_bits = c->dtype == GX_DTYPE_I32 ? 0xffffffffu : 0x7fffffffu};
    memcpy(pc.dims, b.dims, sizeof pc.dims);
    int32_t spec[1] = {bcast};
    return ew_launch(a, &sh_where, spec, 1, bind, 4, &pc, sizeof pc, n);
}

// ---- full ----------------------------------------------------------------------------------------

typedef struct ew_full_push {
    uint32_t n, bits;
} ew_full_push;

// no inputs; y is filled with attrs[1] (value) in y's dtype (infer checked an i32 value is exact)
static gx_status full_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *y = &a->outputs[0];
    double value = a->attrs[1].f;
    ew_full_push pc;
    GX_TRY(ew_count(a, y, &pc.n));
    if (pc.n == 0) return GX_OK;
    if (y->dtype == GX_DTYPE_F32) {
        float v = (float)value;
        memcpy(&pc.bits, &v, sizeof v);
    } else if (y->dtype == GX_DTYPE_I32) {
        int32_t v = (int32_t)value;
        memcpy(&pc.bits, &v, sizeof v);
    } else {
        return a->api->set_error(a->host, GX_ERR_UNSUPPORTED, "vulkan: full is f32 or i32 only");
    }
    const gx_tensor *bind[1] = {y};
    return ew_launch(a, &sh_full, NULL, 0, bind, 1, &pc, sizeof pc, pc.n);
}

// ---- cast ----------------------------------------------------------------------------------------

enum { EW_CAST_COPY, EW_CAST_I32_F32, EW_CAST_F32_I32, EW_CAST_F64_F32, EW_CAST_F64_I32 };

// y = x in y's dtype; f32 -> i32 truncates towards zero (as cpu-scalar's cs_store). Kernels are
// keyed by the output dtype, so x may be f64 (made by another backend's kernel, e.g. the VJP of a
// cast to f64 casts back): the shader decodes it with integer arithmetic, no shaderFloat64.
static gx_status cast_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *x = &a->inputs[0], *y = &a->outputs[0];
    int mode;
    if (x->dtype == y->dtype && (x->dtype == GX_DTYPE_F32 || x->dtype == GX_DTYPE_I32))
        mode = EW_CAST_COPY;
    else if (x->dtype == GX_DTYPE_I32 && y->dtype == GX_DTYPE_F32)
        mode = EW_CAST_I32_F32;
    else if (x->dtype == GX_DTYPE_F32 && y->dtype == GX_DTYPE_I32)
        mode = EW_CAST_F32_I32;
    else if (x->dtype == GX_DTYPE_F64 && y->dtype == GX_DTYPE_F32)
        mode = EW_CAST_F64_F32;
    else if (x->dtype == GX_DTYPE_F64 && y->dtype == GX_DTYPE_I32)
        mode = EW_CAST_F64_I32;
    else
        return a->api->set_error(a->host, GX_ERR_UNSUPPORTED, "vulkan: no cast from %s to %s",
                                 gx_dtype_name(x->dtype), gx_dtype_name(y->dtype));
    uint32_t n;
    GX_TRY(ew_count(a, y, &n));
    if (n == 0) return GX_OK;
    const gx_tensor *bind[2] = {x, y};
    int32_t spec[1] = {mode};
    return ew_launch(a, &sh_cast, spec, 1, bind, 2, &n, sizeof n, n);
}

// ---- dropout, sequence_mask ------------------------------------------------------------------------

typedef struct ew_dropout_push {
    uint32_t n, key;
    float    prob, scale;
} ew_dropout_push;

// y = x * keep / (1 - p), keep = gx_random_u01(seed, step, key, i) >= p; inputs x, rng i32[2]
// (read by the shader: it lives on the device); attrs p, key
static gx_status dropout_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *x = &a->inputs[0], *rng = &a->inputs[1], *y = &a->outputs[0];
    if (x->dtype != GX_DTYPE_F32 || rng->dtype != GX_DTYPE_I32)
        return a->api->set_error(a->host, GX_ERR_UNSUPPORTED,
                                 "vulkan: dropout takes f32 x and an i32 random key");
    double p = a->attrs[0].f;
    ew_dropout_push pc = {.key = (uint32_t)a->attrs[1].i, .prob = (float)p,
                          .scale = (float)(1.0 / (1.0 - p))};
    GX_TRY(ew_count(a, x, &pc.n));
    if (pc.n == 0) return GX_OK;
    const gx_tensor *bind[3] = {x, rng, y};
    return ew_launch(a, &sh_dropout, NULL, 0, bind, 3, &pc, sizeof pc, pc.n);
}

typedef struct ew_seqmask_push {
    uint32_t n, T;
} ew_seqmask_push;

// mask[r, t] = t < lengths[r]; lengths i32 of any shape, the mask adds a trailing [T]
static gx_status sequence_mask_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *len = &a->inputs[0], *m = &a->outputs[0];
    if (len->dtype != GX_DTYPE_I32)
        return a->api->set_error(a->host, GX_ERR_UNSUPPORTED,
                                 "vulkan: sequence_mask takes i32 lengths");
    ew_seqmask_push pc;
    GX_TRY(ew_count(a, m, &pc.n));
    if (pc.n == 0) return GX_OK;
    pc.T = (uint32_t)a->attrs[0].i;  // T divides n > 0, so 0 < T <= n
    const gx_tensor *bind[2] = {len, m};
    return ew_launch(a, &sh_sequence_mask, NULL, 0, bind, 2, &pc, sizeof pc, pc.n);
}

// ---- registration --------------------------------------------------------------------------------

static const gx_kernel_desc vk_elementwise_kernels[] = {
    VK_KERNEL("add", add_run, GX_DTYPE_F32),
    VK_KERNEL("sub", sub_run, GX_DTYPE_F32),
    VK_KERNEL("mul", mul_run, GX_DTYPE_F32),
    VK_KERNEL("div", div_run, GX_DTYPE_F32),
    VK_KERNEL("gt", gt_run, GX_DTYPE_F32),
    VK_KERNEL("eq", eq_run, GX_DTYPE_F32),
    VK_KERNEL("neg", neg_run, GX_DTYPE_F32),
    VK_KERNEL("tanh", tanh_run, GX_DTYPE_F32),
    VK_KERNEL("sigmoid", sigmoid_run, GX_DTYPE_F32),
    VK_KERNEL("relu", relu_run, GX_DTYPE_F32),
    VK_KERNEL("exp", exp_run, GX_DTYPE_F32),
    VK_KERNEL("log", log_run, GX_DTYPE_F32),
    VK_KERNEL("where", where_run, GX_DTYPE_F32),
    VK_KERNEL("full", full_run, GX_DTYPE_F32),
    VK_KERNEL("full", full_run, GX_DTYPE_I32),
    // the dtype is the output's: f32 from f32 or i32, i32 from i32 or f32
    VK_KERNEL("cast", cast_run, GX_DTYPE_F32),
    VK_KERNEL("cast", cast_run, GX_DTYPE_I32),
    VK_KERNEL("dropout", dropout_run, GX_DTYPE_F32),
    VK_KERNEL("sequence_mask", sequence_mask_run, GX_DTYPE_F32),
};

gx_status vk_register_elementwise(const gx_host_api *api, gx_host *host) {
    return gx_register_kernels(api, host, vk_elementwise_kernels,
                               GX_COUNT(vk_elementwise_kernels));
}
