/*
 * split-check.c: the kernels give the same bits for any number of workers (ith, nth), and every
 * worker count writes every output element. The engine runs kernels on one worker today, so
 * this is the only place the split is exercised.
 *
 * A plugin's kernels are plain functions behind its registration call: this program calls
 * pl_register_cpu_scalar with a stand-in host table that records the descriptors, then runs
 * each kernel once with nth = 1 and again with nth = 2, 3, 4 and 8, calling the workers one
 * after another in reverse order (the split must not depend on which worker runs first).
 * Outputs start filled with 0xff bytes (a NaN), so an element nobody wrote shows up.
 * Prints one line per failure and exits 1 on any.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peephole-lstm.h"

// ---- a stand-in host: records kernels, prints errors --------------------------------------------

static gx_kernel_desc recorded[16];
static int n_recorded;

static gx_status fake_register_kernel(gx_host *host, const gx_kernel_desc *k) {
    (void)host;
    if (n_recorded == (int)GX_COUNT(recorded)) return GX_ERR_NOMEM;
    recorded[n_recorded++] = *k;
    return GX_OK;
}

static gx_status fake_set_error(gx_host *host, gx_status st, const char *fmt, ...) {
    (void)host;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "kernel error: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return st;
}

static const gx_host_api fake_api = {.abi_version = GX_ABI_VERSION, .size = sizeof(gx_host_api),
                                     .register_kernel = fake_register_kernel,
                                     .set_error = fake_set_error};

static const gx_kernel_desc *find_kernel(const char *op, gx_dtype dt) {
    for (int i = 0; i < n_recorded; i++)
        if (strcmp(recorded[i].op, op) == 0 && recorded[i].dtype == dt) return &recorded[i];
    return NULL;
}

// ---- tensors ------------------------------------------------------------------------------------

static gx_tensor make(gx_dtype dt, int32_t ndim, int64_t d0, int64_t d1) {
    gx_tensor t = {.dtype = dt, .shape = {.ndim = ndim, .dims = {d0, d1}}};
    size_t bytes = (size_t)gx_shape_numel(&t.shape) * gx_dtype_size(dt);
    t.data = t.buf = malloc(bytes ? bytes : 1);
    return t;
}

static size_t bytes_of(const gx_tensor *t) {
    return (size_t)gx_shape_numel(&t->shape) * gx_dtype_size(t->dtype);
}

/* values in [-1, 1) from a fixed linear congruential sequence */
static void fill(gx_tensor *t, uint32_t *seed) {
    for (int64_t i = 0; i < gx_shape_numel(&t->shape); i++) {
        *seed = *seed * 1664525u + 1013904223u;
        double v = (double)(*seed >> 8) / 8388608.0 - 1.0;
        if (t->dtype == GX_DTYPE_F32) ((float *)t->data)[i] = (float)v;
        else ((double *)t->data)[i] = v;
    }
}

// ---- one kernel, every worker count -------------------------------------------------------------

/* Runs kernel k on (in, out) with nth workers; out starts as 0xff bytes. */
static gx_status run_split(const gx_kernel_desc *k, int32_t n_in, const gx_tensor *in,
                           int32_t n_out, gx_tensor *out, int32_t nth) {
    gx_tensor_info ii[PL_N_GRADS + PL_N_INPUTS], oi[PL_N_INPUTS];
    for (int32_t i = 0; i < n_in; i++) ii[i] = (gx_tensor_info){in[i].dtype, in[i].shape};
    for (int32_t i = 0; i < n_out; i++) {
        oi[i] = (gx_tensor_info){out[i].dtype, out[i].shape};
        memset(out[i].data, 0xff, bytes_of(&out[i]));
    }
    uint64_t ws_bytes = k->workspace ? k->workspace(n_in, ii, n_out, oi, NULL) : 0;
    void *ws = malloc(ws_bytes ? ws_bytes : 1);
    gx_kernel_args a = {.size = sizeof a, .api = &fake_api, .n_inputs = n_in, .inputs = in,
                        .n_outputs = n_out, .outputs = out, .nth = nth,
                        .workspace = {.dtype = GX_DTYPE_INVALID,
                                      .shape = {.ndim = 1, .dims = {(int64_t)ws_bytes}},
                                      .buf = ws, .data = ws_bytes ? ws : NULL}};
    gx_status st = GX_OK;
    for (a.ith = nth - 1; a.ith >= 0 && st == GX_OK; a.ith--) st = k->run(&a);
    free(ws);
    return st;
}

static int check_op(const char *op, gx_dtype dt, int32_t n_in, const gx_tensor *in, int32_t n_out,
                    gx_tensor *out, gx_tensor *ref) {
    static const int32_t workers[] = {2, 3, 4, 8};
    const gx_kernel_desc *k = find_kernel(op, dt);
    if (k == NULL) {
        printf("FAIL: %s (%s): no cpu-scalar kernel registered\n", op, gx_dtype_name(dt));
        return 1;
    }
    if (run_split(k, n_in, in, n_out, ref, 1) != GX_OK) {
        printf("FAIL: %s (%s): the kernel failed with one worker\n", op, gx_dtype_name(dt));
        return 1;
    }
    int failures = 0;
    for (size_t w = 0; w < GX_COUNT(workers); w++) {
        if (run_split(k, n_in, in, n_out, out, workers[w]) != GX_OK) {
            printf("FAIL: %s (%s): the kernel failed with %d workers\n", op, gx_dtype_name(dt),
                   (int)workers[w]);
            failures++;
            continue;
        }
        for (int32_t o = 0; o < n_out; o++)
            if (memcmp(out[o].data, ref[o].data, bytes_of(&ref[o])) != 0) {
                printf("FAIL: %s (%s): output %d differs between 1 and %d workers\n", op,
                       gx_dtype_name(dt), (int)o, (int)workers[w]);
                failures++;
            }
    }
    /* with one worker, every element written: 0xff bytes are a NaN, which no kernel makes here */
    for (int32_t o = 0; o < n_out; o++)
        for (int64_t i = 0; i < gx_shape_numel(&ref[o].shape); i++) {
            double v = dt == GX_DTYPE_F32 ? ((float *)ref[o].data)[i] : ((double *)ref[o].data)[i];
            if (v != v) {
                printf("FAIL: %s (%s): output %d element %lld was never written\n", op,
                       gx_dtype_name(dt), (int)o, (long long)i);
                failures++;
                break;
            }
        }
    return failures;
}

/* B = 3, I = 4, H = 5: neither divides evenly among 2, 3, 4 workers, and 8 workers leave some
 * idle, so uneven and empty slices are both exercised */
static int check_dtype(gx_dtype dt) {
    const int64_t B = 3, I = 4, H = 5;
    uint32_t seed = 12345u;
    gx_tensor in[PL_N_GRADS + PL_N_INPUTS];
    gx_tensor *cell = in + PL_N_GRADS;
    in[0] = make(dt, 2, B, H);                  /* dh' */
    in[1] = make(dt, 2, B, H);                  /* dc' */
    cell[PL_X] = make(dt, 2, B, I);
    cell[PL_H] = make(dt, 2, B, H);
    cell[PL_C] = make(dt, 2, B, H);
    cell[PL_W_IH] = make(dt, 2, 4 * H, I);
    cell[PL_W_HH] = make(dt, 2, 4 * H, H);
    cell[PL_B_IH] = make(dt, 1, 4 * H, 0);
    cell[PL_B_HH] = make(dt, 1, 4 * H, 0);
    cell[PL_W_PEEP] = make(dt, 1, 3 * H, 0);
    for (int i = 0; i < PL_N_GRADS + PL_N_INPUTS; i++) fill(&in[i], &seed);
    /* forward outputs h', c'; backward outputs shaped like the cell's inputs */
    gx_tensor out[PL_N_INPUTS], ref[PL_N_INPUTS];
    for (int i = 0; i < PL_N_INPUTS; i++) {
        out[i] = make(dt, cell[i].shape.ndim, cell[i].shape.dims[0], cell[i].shape.dims[1]);
        ref[i] = make(dt, cell[i].shape.ndim, cell[i].shape.dims[0], cell[i].shape.dims[1]);
    }
    int failures = check_op("peephole_lstm_cell_backward", dt, PL_N_GRADS + PL_N_INPUTS, in,
                            PL_N_INPUTS, out, ref);
    /* the forward's outputs are [B, H] each: reuse the dh/dc-shaped slots 1 and 2 */
    failures += check_op("peephole_lstm_cell", dt, PL_N_INPUTS, cell, 2, out + 1, ref + 1);
    for (int i = 0; i < PL_N_GRADS + PL_N_INPUTS; i++) free(in[i].data);
    for (int i = 0; i < PL_N_INPUTS; i++) {
        free(out[i].data);
        free(ref[i].data);
    }
    return failures;
}

int main(void) {
    if (pl_register_cpu_scalar(&fake_api, NULL) != GX_OK) {
        printf("FAIL: registering the kernels\n");
        return 1;
    }
    int failures = check_dtype(GX_DTYPE_F64) + check_dtype(GX_DTYPE_F32);
    printf("%s: %d kernels, 1 to 8 workers, f32 and f64: %d failures\n",
           failures ? "FAIL" : "ok", n_recorded, failures);
    return failures ? 1 : 0;
}
