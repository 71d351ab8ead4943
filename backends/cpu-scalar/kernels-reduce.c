/*
 * kernels-reduce.c: cpu-scalar reductions: sum, mean, max over a set of axes, and softmax,
 * log_softmax along one axis.
 *
 * Every output element is computed in one go by walking the input elements that reduce into it,
 * with a double accumulator, so no scratch memory is needed and f32 sums lose nothing on the way.
 */
#include <math.h>

#include "cpu-scalar.h"

// ---- sum, mean, max ------------------------------------------------------------------------------

typedef enum cs_reduce_kind { CS_SUM, CS_MEAN, CS_MAX } cs_reduce_kind;

// x is [d0, d1, ...]; y is x with the `axes` dims removed (keepdims = 0) or set to 1 (keepdims = 1),
// which is the same row-major order either way. attrs: axes (NONE: all; may be negative), keepdims.
// Split x's axes into kept ones (they index y) and reduced ones (they are summed over); y[o] then
// reads x at base(o) + off(r) for every r in the reduced sub-tensor.
static gx_status cs_reduce(const gx_kernel_args *a, cs_reduce_kind kind) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *x = &a->inputs[0], *y = &a->outputs[0];
    const gx_attr_value *axes = &a->attrs[0];
    int32_t r = x->shape.ndim;

    int reduced[GX_MAX_DIMS] = { 0 };
    if (axes->type == GX_ATTR_NONE) {
        for (int32_t d = 0; d < r; d++) reduced[d] = 1;
    } else if (axes->type == GX_ATTR_INT) {
        reduced[cs_axis(axes->i, r)] = 1;
    } else {
        // an empty list reduces nothing (NumPy's axis=()); repeated axes count once
        for (int32_t k = 0; k < axes->n_ints; k++) reduced[cs_axis(axes->ints[k], r)] = 1;
    }

    int64_t xstride[GX_MAX_DIMS];
    int64_t s = 1;
    for (int32_t d = r - 1; d >= 0; d--) {
        xstride[d] = s;
        s *= x->shape.dims[d];
    }
    int32_t kept[GX_MAX_DIMS], red[GX_MAX_DIMS], nk = 0, nr = 0;
    int64_t count = 1;   // elements reduced into each output element
    for (int32_t d = 0; d < r; d++) {
        if (reduced[d]) {
            red[nr++] = d;
            count *= x->shape.dims[d];
        } else {
            kept[nk++] = d;
        }
    }

    int64_t n = cs_numel(y);
    for (int64_t o = 0; o < n; o++) {
        int64_t base = 0, rest = o;
        for (int32_t k = nk - 1; k >= 0; k--) {
            base += (rest % x->shape.dims[kept[k]]) * xstride[kept[k]];
            rest /= x->shape.dims[kept[k]];
        }
        // sum of nothing is 0, max of nothing is -inf (the identities); mean of nothing is 0/0
        double acc = kind == CS_MAX ? -INFINITY : 0.0;
        for (int64_t i = 0; i < count; i++) {
            int64_t off = 0;
            rest = i;
            for (int32_t k = nr - 1; k >= 0; k--) {
                off += (rest % x->shape.dims[red[k]]) * xstride[red[k]];
                rest /= x->shape.dims[red[k]];
            }
            double v = cs_load(x, base + off);
            if (kind != CS_MAX) acc += v;
            else if (v > acc || isnan(v)) acc = v;   // once NaN, stays NaN (like torch.amax)
        }
        if (kind == CS_MEAN) acc /= (double)count;
        cs_store(y, o, acc);
    }
    return GX_OK;
}

static gx_status sum_run(const gx_kernel_args *a)  { return cs_reduce(a, CS_SUM); }
static gx_status mean_run(const gx_kernel_args *a) { return cs_reduce(a, CS_MEAN); }
static gx_status max_run(const gx_kernel_args *a)  { return cs_reduce(a, CS_MAX); }

// ---- softmax, log_softmax ------------------------------------------------------------------------

// x and y are [outer, D, inner]; each of the outer * inner lines along the axis (stride inner) is
// normalised on its own. attrs: axis. Subtracting the line's max first keeps exp from overflowing
// and changes nothing mathematically: softmax(x) = softmax(x - c).
static gx_status cs_softmax(const gx_kernel_args *a, int log_out) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *x = &a->inputs[0], *y = &a->outputs[0];
    int32_t axis = cs_axis(a->attrs[0].i, x->shape.ndim);
    int64_t outer = cs_dims_prod(&x->shape, 0, axis);
    int64_t len = x->shape.dims[axis];
    int64_t inner = cs_dims_prod(&x->shape, axis + 1, x->shape.ndim);
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t in = 0; in < inner; in++) {
            int64_t base = o * len * inner + in;
            double mx = -INFINITY;
            for (int64_t j = 0; j < len; j++) mx = fmax(mx, cs_load(x, base + j * inner));
            double sum = 0.0;
            for (int64_t j = 0; j < len; j++) sum += exp(cs_load(x, base + j * inner) - mx);
            double log_sum = log(sum);
            for (int64_t j = 0; j < len; j++) {
                double z = cs_load(x, base + j * inner) - mx;
                cs_store(y, base + j * inner, log_out ? z - log_sum : exp(z) / sum);
            }
        }
    }
    return GX_OK;
}

static gx_status softmax_run(const gx_kernel_args *a)     { return cs_softmax(a, 0); }
static gx_status log_softmax_run(const gx_kernel_args *a) { return cs_softmax(a, 1); }

static const gx_kernel_desc cs_reduce_kernels[] = {
    CS_KERNELS_FLOAT("sum", sum_run),
    CS_KERNELS_FLOAT("mean", mean_run),
    CS_KERNELS_FLOAT("max", max_run),
    CS_KERNELS_FLOAT("softmax", softmax_run),
    CS_KERNELS_FLOAT("log_softmax", log_softmax_run),
};

gx_status cs_register_reduce(const gx_host_api *api, gx_host *host) {
    return gx_register_kernels(api, host, cs_reduce_kernels,
                             sizeof cs_reduce_kernels / sizeof cs_reduce_kernels[0]);
}
