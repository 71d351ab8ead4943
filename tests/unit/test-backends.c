/*
 * test-backends.c: every loaded backend against cpu-scalar, the reference, in f32.
 *
 * The list of ops is the registry's and the list of backends is the registry's, so neither a new
 * op nor a new backend can skip the comparison:
 *   - coverage: every (op, f32) kernel cpu-scalar has, every other backend must have too (a
 *     missing one fails, naming the op);
 *   - per op: for every example the op ships (gx_op_example), plus larger cases from the table
 *     below that reach the full-vector and BLAS paths the tiny examples do not, the backend
 *     check of engine/opcheck.c (the one `gexec check-op` runs): the one-node graph in f32 with
 *     loss = sum_j sum(out_j * R_j) (R_j fixed random) and its VJP, planned on cpu-scalar and
 *     on the backend, fed the same random data, and every output (the op's outputs, the loss
 *     and the gradient of every float input) must agree within abs 1e-5 + rel 1e-4 of
 *     cpu-scalar's value, and every node must have a kernel on the backend; the worst error of
 *     each op is printed (random shape variants of the examples: ctest's check-op-* entries);
 *   - whole graphs: every graph in graphs/ (char_lstm.graph among them; one added there is
 *     checked without editing this file; f64 ones rewritten to f32) with small dims, looped,
 *     trained (dropout acts), its
 *     outputs, loss and the gradients of every param and float input, rel 1e-4 (relative to
 *     max(|ref|, 1e-2 * the tensor's largest magnitude): an entry a hundred times smaller than
 *     its tensor's largest is mostly cancellation, whose f32 rounding noise is set by the
 *     tensor's scale, not its own); then run again on the backend: bit-identical results
 *     (determinism) and, outside ASan, not one allocation (malloc is counted by interposing it,
 *     as test-exec does), with the CPU backends' pools at 2 threads;
 *   - thread counts: every case of every op above, plus the larger cases of `big_cases` (sized
 *     so the backends split their work: a 256x512x300 matmul, an lstm_cell of B=32 H=256, ...),
 *     run again on every backend in three more registries whose thread counts are 1, 2 and 3
 *     (gx_registry_set_threads before the backends start), and every output, loss and gradient
 *     must be bit-identical across the three (memcmp): a kernel may split its work only by the
 *     problem's shape, never by the thread count.
 * With only cpu-scalar loaded there is nothing to compare and every test passes.
 */
#define _DEFAULT_SOURCE /* scandir, alphasort */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "autodiff.h"
#include "exec.h"
#include "init.h"
#include "lower.h"
#include "opcheck.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* counting allocations: a planned graph must run without any */
#include "count-malloc.h"

#define REF       GX_CHECK_REF
#define GRAPH_TOL 1e-4

static gx_registry *reg;

/* the same plugins in registries whose CPU backends run 1, 2 and 3 threads */
#define N_THREAD_REGS 3
static gx_registry *thread_regs[N_THREAD_REGS];

// ---- larger cases ---------------------------------------------------------------------------

#define IN_F(lo_, hi_, ...) \
    { .dtype = GX_DTYPE_F64, .ndim = (int32_t)(sizeof((int64_t[]){__VA_ARGS__}) / 8), \
      .dims = {__VA_ARGS__}, .lo = (lo_), .hi = (hi_) }
#define IN_I(lo_, hi_, ...) \
    { .dtype = GX_DTYPE_I32, .ndim = (int32_t)(sizeof((int64_t[]){__VA_ARGS__}) / 8), \
      .dims = {__VA_ARGS__}, .lo = (lo_), .hi = (hi_) }
#define KV_INT(n_, v_)  { .name = (n_), .value = { .type = GX_ATTR_INT, .i = (v_) } }
#define KV_INTS(n_, ...) \
    { .name = (n_), .value = { .type = GX_ATTR_INTS, \
      .n_ints = (int32_t)(sizeof((int64_t[]){__VA_ARGS__}) / 8), .ints = {__VA_ARGS__} } }
#define KV_STR(n_, v_)  { .name = (n_), .value = { .type = GX_ATTR_STRING, .s = (v_) } }

typedef struct extra_case {
    const char   *op;
    gx_op_example ex;
} extra_case;

#define UNPAREN(...) __VA_ARGS__
/* CASE(op, name, n_inputs, (inputs...)) and CASE_A(..., n_attrs, (attrs...)) */
#define CASE(op_, name_, n_, ins_) \
    { op_, { .name = name_, .n_inputs = n_, .inputs = { UNPAREN ins_ } } }
#define CASE_A(op_, name_, n_, ins_, na_, attrs_) \
    { op_, { .name = name_, .n_inputs = n_, .inputs = { UNPAREN ins_ }, .n_attrs = na_, \
             .attrs = { UNPAREN attrs_ } } }

/* H = 37 and lengths of 35 to 70: two or more full vectors of every width plus a tail */
static const extra_case extras[] = {
    CASE("add", "[6,35] + [35]", 2, (IN_F(-2, 2, 6, 35), IN_F(-2, 2, 35))),
    CASE("sub", "[4,1,33] - [1,5,33]", 2, (IN_F(-2, 2, 4, 1, 33), IN_F(-2, 2, 1, 5, 33))),
    CASE("mul", "[6,35] * [6,35]", 2, (IN_F(-2, 2, 6, 35), IN_F(-2, 2, 6, 35))),
    CASE("div", "[6,35] / [6,1]", 2, (IN_F(-2, 2, 6, 35), IN_F(0.5, 2, 6, 1))),
    CASE("tanh", "[5,37]", 1, (IN_F(-4, 4, 5, 37))),
    CASE("sigmoid", "[5,37]", 1, (IN_F(-6, 6, 5, 37))),
    CASE("exp", "[5,37]", 1, (IN_F(-4, 4, 5, 37))),
    CASE("log", "[5,37]", 1, (IN_F(0.1, 4, 5, 37))),
    CASE("where", "i32 cond [5,37], b [37]", 3,
         (IN_I(0, 1, 5, 37), IN_F(-2, 2, 5, 37), IN_F(-2, 2, 37))),
    CASE("matmul", "[40,50] @ [50,30]", 2, (IN_F(-1, 1, 40, 50), IN_F(-1, 1, 50, 30))),
    CASE("matmul", "[3,17,33] @ [33,19]", 2, (IN_F(-1, 1, 3, 17, 33), IN_F(-1, 1, 33, 19))),
    CASE("matmul", "[2,3,17,33] @ [3,33,9]", 2,
         (IN_F(-1, 1, 2, 3, 17, 33), IN_F(-1, 1, 3, 33, 9))),
    CASE("transpose", "[3,40,50]", 1, (IN_F(-2, 2, 3, 40, 50))),
    CASE_A("permute", "[4,5,6,7] by [3,1,0,2]", 1, (IN_F(-2, 2, 4, 5, 6, 7)), 1,
           (KV_INTS("axes", 3, 1, 0, 2))),
    CASE_A("sum", "axis 1 of [4,33,5]", 1, (IN_F(-2, 2, 4, 33, 5)), 1, (KV_INTS("axes", 1))),
    CASE_A("sum", "axis 0 of [32,65]", 1, (IN_F(-2, 2, 32, 65)), 1, (KV_INTS("axes", 0))),
    CASE("sum", "all of [7,65]", 1, (IN_F(-2, 2, 7, 65))),
    CASE_A("mean", "axes 0, 2 of [4,33,5], keepdims", 1, (IN_F(-2, 2, 4, 33, 5)), 2,
           (KV_INTS("axes", 0, 2), KV_INT("keepdims", 1))),
    CASE_A("max", "axes 0, 2 of [4,33,5]", 1, (IN_F(-2, 2, 4, 33, 5)), 1,
           (KV_INTS("axes", 0, 2))),
    CASE("softmax", "last axis of [7,70]", 1, (IN_F(-4, 4, 7, 70))),
    CASE_A("softmax", "axis 0 of [33,5]", 1, (IN_F(-4, 4, 33, 5)), 1, (KV_INT("axis", 0))),
    CASE("log_softmax", "last axis of [7,70]", 1, (IN_F(-4, 4, 7, 70))),
    CASE_A("log_softmax", "axis 1 of [2,33,5]", 1, (IN_F(-4, 4, 2, 33, 5)), 1,
           (KV_INT("axis", 1))),
    CASE("cross_entropy", "logits [9,70]", 2, (IN_F(-4, 4, 9, 70), IN_I(0, 69, 9))),
    CASE("cross_entropy", "logits [3,5,40] with a mask", 3,
         (IN_F(-4, 4, 3, 5, 40), IN_I(0, 39, 3, 5), IN_F(0, 1, 3, 5))),
    CASE("embedding", "table [65,40], idx [4,9]", 2, (IN_F(-2, 2, 65, 40), IN_I(0, 64, 4, 9))),
    CASE_A("broadcast_to", "[1,37] to [5,37]", 1, (IN_F(-2, 2, 1, 37)), 1,
           (KV_INTS("shape", 5, 37))),
    CASE("rnn_cell", "tanh B=3 I=19 H=37", 6,
         (IN_F(-1, 1, 3, 19), IN_F(-1, 1, 3, 37), IN_F(-0.3, 0.3, 37, 19),
          IN_F(-0.3, 0.3, 37, 37), IN_F(-0.5, 0.5, 37), IN_F(-0.5, 0.5, 37))),
    CASE_A("rnn_cell", "relu B=3 I=19 H=37", 6,
           (IN_F(-1, 1, 3, 19), IN_F(-1, 1, 3, 37), IN_F(-0.3, 0.3, 37, 19),
            IN_F(-0.3, 0.3, 37, 37), IN_F(-0.5, 0.5, 37), IN_F(-0.5, 0.5, 37)),
           1, (KV_STR("nonlinearity", "relu"))),
    CASE("lstm_cell", "B=3 I=19 H=37", 7,
         (IN_F(-1, 1, 3, 19), IN_F(-1, 1, 3, 37), IN_F(-1, 1, 3, 37), IN_F(-0.3, 0.3, 148, 19),
          IN_F(-0.3, 0.3, 148, 37), IN_F(-0.5, 0.5, 148), IN_F(-0.5, 0.5, 148))),
    CASE("lstm_cell", "B=4 I=16 H=32, no bias", 5,
         (IN_F(-1, 1, 4, 16), IN_F(-1, 1, 4, 32), IN_F(-1, 1, 4, 32), IN_F(-0.3, 0.3, 128, 16),
          IN_F(-0.3, 0.3, 128, 32))),
    CASE("gru_cell", "B=3 I=19 H=37", 6,
         (IN_F(-1, 1, 3, 19), IN_F(-1, 1, 3, 37), IN_F(-0.3, 0.3, 111, 19),
          IN_F(-0.3, 0.3, 111, 37), IN_F(-0.5, 0.5, 111), IN_F(-0.5, 0.5, 111))),
    CASE_A("dropout", "[5,37], p = 0.3", 2, (IN_F(-2, 2, 5, 37), IN_I(0, 1000, 2)), 1,
           ({.name = "p", .value = {.type = GX_ATTR_FLOAT, .f = 0.3}})),
};

/* Cases only for the thread-count comparison (no reference run, which would be slow on
 * cpu-scalar and loose in tolerance at these sizes): big enough that cpu-sleef splits them into
 * several tasks (products into several blocks, element-wise maps into several chunks, row
 * passes into several blocks of rows). */
static const extra_case big_cases[] = {
    CASE("matmul", "[256,512] @ [512,300]", 2, (IN_F(-1, 1, 256, 512), IN_F(-1, 1, 512, 300))),
    CASE("matmul", "[4,64,256] @ [4,256,100]", 2,
         (IN_F(-1, 1, 4, 64, 256), IN_F(-1, 1, 4, 256, 100))),
    CASE("matmul", "[8,80] @ [80,700] (gemm_small, split)", 2,
         (IN_F(-1, 1, 8, 80), IN_F(-1, 1, 80, 700))),
    CASE("matmul_tn", "[32,64,128]^T [32,64,200]", 2,
         (IN_F(-1, 1, 32, 64, 128), IN_F(-1, 1, 32, 64, 200))),
    CASE("lstm_cell", "B=32 I=64 H=256", 7,
         (IN_F(-1, 1, 32, 64), IN_F(-1, 1, 32, 256), IN_F(-1, 1, 32, 256),
          IN_F(-0.1, 0.1, 1024, 64), IN_F(-0.1, 0.1, 1024, 256), IN_F(-0.5, 0.5, 1024),
          IN_F(-0.5, 0.5, 1024))),
    CASE("gru_cell", "B=32 I=64 H=256", 6,
         (IN_F(-1, 1, 32, 64), IN_F(-1, 1, 32, 256), IN_F(-0.1, 0.1, 768, 64),
          IN_F(-0.1, 0.1, 768, 256), IN_F(-0.5, 0.5, 768), IN_F(-0.5, 0.5, 768))),
    CASE("rnn_cell", "tanh B=64 I=100 H=500", 6,
         (IN_F(-1, 1, 64, 100), IN_F(-1, 1, 64, 500), IN_F(-0.1, 0.1, 500, 100),
          IN_F(-0.1, 0.1, 500, 500), IN_F(-0.5, 0.5, 500), IN_F(-0.5, 0.5, 500))),
    CASE("add", "[300,1000] + [1000]", 2, (IN_F(-2, 2, 300, 1000), IN_F(-2, 2, 1000))),
    CASE("mul", "[7,1,9000] * [1,5,9000]", 2, (IN_F(-2, 2, 7, 1, 9000), IN_F(-2, 2, 1, 5, 9000))),
    CASE("div", "[300,1000] / [300,1]", 2, (IN_F(-2, 2, 300, 1000), IN_F(0.5, 2, 300, 1))),
    CASE("tanh", "[100,1000]", 1, (IN_F(-4, 4, 100, 1000))),
    CASE("sigmoid", "[100,1000]", 1, (IN_F(-6, 6, 100, 1000))),
    CASE("exp", "[100,1000]", 1, (IN_F(-4, 4, 100, 1000))),
    CASE("log", "[100,1000]", 1, (IN_F(0.1, 4, 100, 1000))),
    CASE("relu", "[300,1000]", 1, (IN_F(-2, 2, 300, 1000))),
    CASE("neg", "[300,1000]", 1, (IN_F(-2, 2, 300, 1000))),
    CASE("where", "i32 cond [300,1000], b [1000]", 3,
         (IN_I(0, 1, 300, 1000), IN_F(-2, 2, 300, 1000), IN_F(-2, 2, 1000))),
    CASE_A("sum", "axis 0 of [1000,300]", 1, (IN_F(-2, 2, 1000, 300)), 1, (KV_INTS("axes", 0))),
    CASE_A("sum", "axis 1 of [300,1000]", 1, (IN_F(-2, 2, 300, 1000)), 1, (KV_INTS("axes", 1))),
    CASE("sum", "all of [200,1000]", 1, (IN_F(-2, 2, 200, 1000))),
    CASE_A("mean", "axes 0, 1 of [30,40,300]", 1, (IN_F(-2, 2, 30, 40, 300)), 1,
           (KV_INTS("axes", 0, 1))),
    CASE("softmax", "last axis of [500,300]", 1, (IN_F(-4, 4, 500, 300))),
    CASE("log_softmax", "last axis of [500,300]", 1, (IN_F(-4, 4, 500, 300))),
    CASE("cross_entropy", "logits [2048,65]", 2, (IN_F(-4, 4, 2048, 65), IN_I(0, 64, 2048))),
    CASE("cross_entropy", "logits [32,64,65] with a mask", 3,
         (IN_F(-4, 4, 32, 64, 65), IN_I(0, 64, 32, 64), IN_F(0, 1, 32, 64))),
    CASE("mse", "[300,1000]", 2, (IN_F(-2, 2, 300, 1000), IN_F(-2, 2, 300, 1000))),
};

// ---- values in and out of a plan (through engine/opcheck.c's converters) -------------------

static void write_value(gx_exec *e, const gx_graph *g, gx_val v, const double *x) {
    gx_diag d;
    gx_diag_init(&d);
    assert_int_equal(gx_check_write(e, g, v, x, &d), GX_OK);
}

static double *read_value(gx_exec *e, const gx_graph *g, gx_val v, int64_t *n) {
    double *x = NULL;
    gx_diag d;
    gx_diag_init(&d);
    assert_int_equal(gx_check_read(e, g, v, &x, n, &d), GX_OK);
    return x;
}

// ---- per op ---------------------------------------------------------------------------------

/* One example on one backend in each of thread_regs (1, 2, 3 threads); 0 when every output of
 * the three runs has the same bits. The one-node graph and its data are the ones the op check
 * (engine/opcheck.c) builds, seeded by the example's name so every registry draws the same. */
static int compare_threads(const char *op_name, const gx_op_example *ex, const char *backend) {
    char what[256];
    snprintf(what, sizeof what, "op '%s' example '%s' on %s", op_name, ex->name, backend);
    int bad = 0;
    int32_t n_out = 0;
    double **first = NULL;   // the outputs with 1 thread
    int64_t *first_n = NULL;
    for (int k = 0; k < N_THREAD_REGS && !bad; k++) {
        gx_diag d;
        gx_diag_init(&d);
        gx_check_graph b;
        gx_check_data data = {0};
        gx_exec *e = NULL;
        const gx_op *op = gx_registry_find_op(thread_regs[k], op_name);
        if (op == NULL || gx_check_build(thread_regs[k], op, ex, GX_DTYPE_F32,
                                         gx_check_differentiable(op), &b, &d) != GX_OK) {
            print_error("%s: with %d threads: %s\n", what, k + 1, op ? d.msg : "no such op");
            if (op != NULL) gx_check_graph_free(&b);
            bad = 1;
            break;
        }
        if (gx_check_data_draw(b.g, ex, gx_hash_str(42, what), &data, &d) != GX_OK ||
            gx_exec_new(b.g, backend, NULL, 0, &e, &d) != GX_OK ||
            gx_check_feed(e, b.g, &data, &d) != GX_OK || gx_exec_run(e, &d) != GX_OK) {
            print_error("%s: with %d threads: %s\n", what, k + 1, d.msg);
            bad = 1;
        }
        if (k == 0) {
            n_out = b.g->n_outputs;
            first = calloc((size_t)n_out + 1, sizeof *first);
            first_n = calloc((size_t)n_out + 1, sizeof *first_n);
        }
        for (int32_t o = 0; o < n_out && !bad; o++) {
            int64_t n;
            double *y = read_value(e, b.g, b.g->outputs[o].val, &n);
            if (k == 0) {
                first[o] = y;
                first_n[o] = n;
                continue;
            }
            if (n != first_n[o] || memcmp(y, first[o], (size_t)n * sizeof(double)) != 0) {
                int64_t at = 0;
                while (at < n && at < first_n[o] && y[at] == first[o][at]) at++;
                print_error("%s: '%s' differs between 1 and %d threads (first at [%lld]: %.9g "
                            "against %.9g)\n", what, b.g->outputs[o].name, k + 1, (long long)at,
                            at < n ? y[at] : 0.0, at < first_n[o] ? first[o][at] : 0.0);
                bad = 1;
            }
            free(y);
        }
        gx_exec_free(e);
        gx_check_data_free(&data);
        gx_check_graph_free(&b);
    }
    for (int32_t o = 0; o < n_out; o++) free(first[o]);
    free(first);
    free(first_n);
    return bad;
}

/* Backends compared: every loaded one but the reference, or only GEXEC_TEST_BACKEND when set
 * (ctest runs the CPU and the Vulkan backends as separate tests). A backend with no device on
 * this machine (score 0: no Vulkan driver) is skipped with a message, not failed. */
static int is_ref(gx_backend *be) {
    if (strcmp(be->name, REF) == 0) return 1;
    const char *only = getenv("GEXEC_TEST_BACKEND");
    if (only != NULL && *only && strcmp(only, be->name) != 0) return 1;
    return gx_registry_backend_score(reg, be) <= 0;
}

static int host_memory(const gx_backend *be) {
    return (be->desc.flags & GX_BACKEND_HOST_MEMORY) != 0;
}

/* The op's examples and its larger cases above through the library's backend check (forward
 * outputs, loss and the VJP's input gradients against cpu-scalar, abs 1e-5 + rel 1e-4; a node
 * whose kernel the backend lacks fails), then the same cases and the big ones with 1, 2 and 3
 * threads: the same bits. */
static void test_op(void **state) {
    const gx_op *op = *state;
    int bad = 0;
    for (int bi = 0; bi < gx_registry_n_backends(reg); bi++) {
        gx_backend *be = gx_registry_backend_at(reg, bi);
        if (is_ref(be)) continue;
        const char *names[1] = {be->name};
        gx_check_opts o;
        gx_check_opts_default(&o);
        o.n_shapes = 0;   /* random shapes: `gexec check-op --all --backend B` (ctest check-op-B) */
        o.reference = 0;
        o.backends = names;
        o.n_backends = 1;
        o.missing_kernel_fails = 1;
        gx_check_report rep = {0};
        assert_int_equal(gx_check_op(reg, op, &o, &rep), GX_OK);
        for (size_t k = 0; k < sizeof extras / sizeof extras[0]; k++)
            if (strcmp(extras[k].op, op->name) == 0)
                assert_int_equal(gx_check_case(reg, op, &extras[k].ex, extras[k].ex.name, 0, &o,
                                               &rep), GX_OK);
        int n_cases = 0;
        double abs_diff = 0, ratio = 0;
        for (int32_t k = 0; k < rep.n; k++) {
            const gx_check_result *r = &rep.results[k];
            if (r->status == GX_CHECK_FAIL) {
                print_error("op '%s' %s '%s' on %s: %s\n", op->name, gx_check_kind_name(r->kind),
                            r->case_name, r->backend, r->msg);
                bad = 1;
            }
            if (r->kind != GX_CHECK_BACKEND || r->status != GX_CHECK_PASS) continue;
            n_cases++;
            abs_diff = fmax(abs_diff, r->err);
            ratio = fmax(ratio, r->ratio);
        }
        gx_check_report_free(&rep);
        if (n_cases == 0)
            print_message("  %-20s %-12s no examples (checked through its forward op)\n",
                          op->name, be->name);
        else
            print_message("  %-20s %-12s %2d cases, max |diff| %.2e, %.3f of the tolerance\n",
                          op->name, be->name, n_cases, abs_diff, ratio);
        // the same cases and the big ones with 1, 2 and 3 threads: the same bits
        int n_thr = 0, thr_bad = 0;
        for (const gx_op_example *ex = op->desc.examples; ex && ex->name; ex++, n_thr++)
            thr_bad |= compare_threads(op->name, ex, be->name);
        for (size_t k = 0; k < sizeof extras / sizeof extras[0]; k++)
            if (strcmp(extras[k].op, op->name) == 0) {
                thr_bad |= compare_threads(op->name, &extras[k].ex, be->name);
                n_thr++;
            }
        for (size_t k = 0; k < sizeof big_cases / sizeof big_cases[0]; k++)
            if (strcmp(big_cases[k].op, op->name) == 0) {
                thr_bad |= compare_threads(op->name, &big_cases[k].ex, be->name);
                n_thr++;
            }
        if (n_thr > 0 && !thr_bad)
            print_message("  %-20s %-12s %2d cases bit-identical with 1, 2 and 3 threads\n",
                          op->name, be->name, n_thr);
        bad |= thr_bad;
    }
    if (bad) fail();
}

/* every (op, dtype) kernel cpu-scalar has in f32, every other backend has */
static void test_coverage(void **state) {
    (void)state;
    int bad = 0;
    for (int bi = 0; bi < gx_registry_n_backends(reg); bi++) {
        gx_backend *be = gx_registry_backend_at(reg, bi);
        if (is_ref(be)) continue;
        int n = 0;
        for (int k = 0; k < gx_registry_n_kernels(reg); k++) {
            const gx_kernel *kr = gx_registry_kernel_at(reg, k);
            if (strcmp(kr->desc.backend, REF) != 0 || kr->desc.dtype != GX_DTYPE_F32) continue;
            n++;
            if (gx_registry_find_kernel(reg, kr->desc.op, be->name, GX_DTYPE_F32) == NULL) {
                print_error("backend '%s' has no f32 kernel for op '%s' (cpu-scalar has one)\n",
                            be->name, kr->desc.op);
                bad = 1;
            }
        }
        print_message("  %-12s has all %d f32 kernels of cpu-scalar%s\n", be->name, n,
                      bad ? " but the ones above" : "");
    }
    if (bad) fail();
}

// ---- whole graphs ---------------------------------------------------------------------------

/* small sizes for every dim name the example graphs use (bound only where a graph declares the
 * dim); H = 20 is one full 16-lane vector plus a tail. i32 inputs stay below 3, which every
 * vocabulary and class count here exceeds. */
static const gx_dim_binding small_dims[] = {
    {"B", 3}, {"T", 6}, {"E", 5}, {"H", 20}, {"V", 11}, {"W", 9}, {"K", 5}, {"I", 3}, {"C", 3},
    {"D", 3},
};
#define INT_HI 3

static char graphs_dir[4096];

/* the graph with its dtypes rewritten to f32, lowered with the small dims it declares, trained
 * (dropout acts), and differentiated; NULL with a message on error */
static gx_graph *load_graph(const char *file) {
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", graphs_dir, file);
    char *src = NULL;
    size_t len = 0;
    gx_diag d;
    gx_diag_init(&d);
    gx_ast_module *m = NULL;
    gx_graph *g = NULL;
    gx_dim_binding binds[32];
    int n_binds = 0;
    int ok = gx_read_file(path, &src, &len, &d) == GX_OK;
    // graphs written in f64 are compared in f32 too (test-graph-grad does the reverse)
    for (char *f = ok ? strstr(src, "f64") : NULL; f; f = strstr(f + 3, "f64")) {
        f[1] = '3';
        f[2] = '2';
    }
    if (ok && gx_parse(src, len, path, &m, &d) == GX_OK) {
        for (size_t i = 0; i < sizeof small_dims / sizeof small_dims[0]; i++)
            for (int k = 0; k < m->n_stmts && n_binds < 32; k++)
                if (m->stmts[k]->kind == GX_STMT_DIM &&
                    strcmp(m->stmts[k]->name, small_dims[i].name) == 0)
                    binds[n_binds++] = small_dims[i];
        gx_lower_opts lo = {.binds = binds, .n_binds = n_binds, .train = 1};
        if (gx_lower_with(m, reg, &lo, &g, &d) != GX_OK) {
            if (g == NULL) gx_ast_free(m);
            g = NULL;
        }
    }
    free(src);
    if (g != NULL && g->loss != GX_VAL_NONE && gx_autodiff(g, g->loss, &d) != GX_OK) {
        gx_graph_free(g);
        g = NULL;
    }
    if (g == NULL) print_error("%s: %s\n", file, d.msg);
    return g;
}

static int graph_has_f64(const gx_graph *g) {
    for (int32_t v = 0; v < g->n_values; v++)
        if (g->values[v].info.dtype == GX_DTYPE_F64) return 1;
    return 0;
}

/* Inputs: "mask" a padding mask (row r valid for its first T - r*T/4 steps), other floats
 * uniform in [-0.5, 0.5], i32 in [0, INT_HI). Params: their init schemes plus a jitter (zero
 * biases would hide bias bugs). All as doubles, inputs first, then params. */
static double **graph_data(const gx_graph *g) {
    int32_t n = g->n_inputs + g->n_params;
    double **data = calloc((size_t)n, sizeof *data);
    gx_rng rng;
    gx_rng_seed(&rng, 11);
    gx_diag d;
    gx_diag_init(&d);
    for (int32_t i = 0; i < n; i++) {
        const gx_named *nm = i < g->n_inputs ? &g->inputs[i] : &g->params[i - g->n_inputs];
        const gx_tensor_info *info = &g->values[nm->val].info;
        int64_t len = gx_shape_numel(&info->shape);
        double *x = data[i] = calloc((size_t)(len ? len : 1), sizeof(double));
        if (i >= g->n_inputs) {
            gx_tensor_info as64 = {.dtype = GX_DTYPE_F64, .shape = info->shape};
            assert_int_equal(gx_init_fill(&nm->init, &as64, 1, nm->name, x, &d), GX_OK);
            for (int64_t k = 0; k < len; k++) x[k] += 0.1 * (2 * gx_rng_uniform(&rng) - 1);
        } else if (strcmp(nm->name, "mask") == 0 && info->shape.ndim == 2) {
            int64_t rows = info->shape.dims[0], T = info->shape.dims[1];
            for (int64_t r = 0; r < rows; r++) {
                int64_t valid = T - r * T / 4 > 0 ? T - r * T / 4 : 1;
                for (int64_t t = 0; t < T; t++) x[r * T + t] = t < valid ? 1.0 : 0.0;
            }
        } else {
            for (int64_t k = 0; k < len; k++)
                x[k] = info->dtype == GX_DTYPE_I32
                           ? (double)(int64_t)(gx_rng_uniform(&rng) * INT_HI)
                           : gx_rng_uniform(&rng) - 0.5;
        }
    }
    return data;
}

/* every output of both runs; 0 when all agree within GRAPH_TOL */
static int compare_graph_outputs(const gx_graph *g, gx_exec *ref, gx_exec *got, const char *what,
                                 double *worst_rel) {
    int bad = 0;
    for (int32_t o = 0; o < g->n_outputs && !bad; o++) {
        int64_t n, n2;
        gx_val v = g->outputs[o].val;
        double *x = read_value(ref, g, v, &n), *y = read_value(got, g, v, &n2);
        double scale = 0;
        for (int64_t k = 0; k < n; k++) scale = fmax(scale, fabs(x[k]));
        for (int64_t k = 0; k < n; k++) {
            double rel = scale == 0 ? fabs(y[k])
                                    : fabs(x[k] - y[k]) / fmax(fabs(x[k]), 1e-2 * scale);
            if (!(rel <= GRAPH_TOL)) {
                print_error("%s: '%s'[%lld] = %.9g, cpu-scalar gives %.9g (rel %.3g)\n", what,
                            g->outputs[o].name, (long long)k, y[k], x[k], rel);
                bad = 1;
                break;
            }
            *worst_rel = fmax(*worst_rel, rel);
        }
        free(x);
        free(y);
    }
    return bad;
}

/* Run `got` again: the same bits (determinism) and, outside ASan, no allocation on a host-memory
 * backend (a device backend's driver allocates as it pleases inside submit and wait). */
static int check_rerun(const gx_graph *g, gx_exec *got, const char *what, int count_allocs) {
    int bad = 0;
    gx_diag d;
    gx_diag_init(&d);
    double **first = calloc((size_t)(g->n_outputs + 1), sizeof *first);
    for (int32_t o = 0; o < g->n_outputs; o++) {
        int64_t n;
        first[o] = read_value(got, g, g->outputs[o].val, &n);
    }
#ifdef GX_COUNT_MALLOC
    long before = n_allocs;
#endif
    gx_status st = gx_exec_run(got, &d);
#ifdef GX_COUNT_MALLOC
    long allocs = n_allocs - before;
    if (allocs != 0 && count_allocs) {
        print_error("%s: a second run allocated %ld times\n", what, allocs);
        bad = 1;
    }
#endif
    if (st != GX_OK) {
        print_error("%s: second run: %s\n", what, d.msg);
        bad = 1;
    }
    for (int32_t o = 0; o < g->n_outputs; o++) {
        int64_t n;
        double *again = read_value(got, g, g->outputs[o].val, &n);
        if (!bad && memcmp(again, first[o], (size_t)n * sizeof(double)) != 0) {
            print_error("%s: '%s' differs between two runs\n", what, g->outputs[o].name);
            bad = 1;
        }
        free(again);
        free(first[o]);
    }
    free(first);
    return bad;
}

static void test_graph(void **state) {
    const char *file = *state;
    int bad = 0;
    for (int bi = 0; bi < gx_registry_n_backends(reg); bi++) {
        gx_backend *be = gx_registry_backend_at(reg, bi);
        if (is_ref(be)) continue;
        char what[512];
        snprintf(what, sizeof what, "%s on %s", file, be->name);
        gx_graph *g = load_graph(file);
        if (g == NULL) fail();
        if (graph_has_f64(g)) {
            print_message("  %-24s %-12s skipped: an f64 graph\n", file, be->name);
            gx_graph_free(g);
            continue;
        }
        const char *missing = gx_check_missing_kernel(g, be->name);
        if (missing != NULL) {
            print_error("%s: backend '%s' has no f32 kernel for op '%s', which cpu-scalar has\n",
                        what, be->name, missing);
            bad = 1;
        }
        double **data = graph_data(g);
        gx_exec *e[2] = {NULL, NULL};
        const char *names[2] = {REF, be->name};
        gx_diag d;
        gx_diag_init(&d);
        for (int k = 0; k < 2 && !bad; k++) {
            if (gx_exec_new(g, names[k], NULL, 0, &e[k], &d) != GX_OK) {
                print_error("%s: planning on %s: %s\n", what, names[k], d.msg);
                bad = 1;
                break;
            }
            for (int32_t i = 0; i < g->n_inputs + g->n_params; i++) {
                const gx_named *nm = i < g->n_inputs ? &g->inputs[i] : &g->params[i - g->n_inputs];
                write_value(e[k], g, nm->val, data[i]);
            }
            if (gx_exec_run(e[k], &d) != GX_OK) {
                print_error("%s: running on %s: %s\n", what, names[k], d.msg);
                bad = 1;
            }
        }
        double worst_rel = 0;
        int n_grads = 0;
        for (int32_t o = 0; o < g->n_outputs; o++)
            n_grads += strncmp(g->outputs[o].name, "grad.", 5) == 0;
        if (!bad) bad = compare_graph_outputs(g, e[0], e[1], what, &worst_rel);
        if (!bad) bad = check_rerun(g, e[1], what, host_memory(be));
        if (!bad)
            print_message("  %-24s %-12s %2d outputs (%d gradients): max rel diff %.2e; rerun "
                          "identical%s\n", file, be->name, (int)g->n_outputs, n_grads, worst_rel,
#ifdef GX_COUNT_MALLOC
                          host_memory(be) ? ", no allocation" : ""
#else
                          ""
#endif
            );
        gx_exec_free(e[0]);
        gx_exec_free(e[1]);
        for (int32_t i = 0; i < g->n_inputs + g->n_params; i++) free(data[i]);
        free(data);
        gx_graph_free(g);
    }
    if (bad) fail();
}

static int is_graph(const struct dirent *e) {
    size_t n = strlen(e->d_name);
    return n > 6 && strcmp(e->d_name + n - 6, ".graph") == 0;
}

int main(int argc, char **argv) {
    reg = gx_registry_new();
    gx_diag d;
    gx_diag_init(&d);
    // the zero-allocation checks run with 2 threads, whatever the machine has
    if (reg != NULL) gx_registry_set_threads(reg, 2);
    if (reg == NULL || gx_registry_load_default(reg, NULL, &d) != GX_OK) {
        fprintf(stderr, "cannot load plugins: %s\n", d.msg);
        return 1;
    }
    // the thread-count comparison's registries: the count is read when a backend starts
    for (int k = 0; k < N_THREAD_REGS; k++) {
        thread_regs[k] = gx_registry_new();
        if (thread_regs[k] != NULL) gx_registry_set_threads(thread_regs[k], k + 1);
        if (thread_regs[k] == NULL ||
            gx_registry_load_default(thread_regs[k], NULL, &d) != GX_OK) {
            fprintf(stderr, "cannot load plugins: %s\n", d.msg);
            return 1;
        }
    }
    if (gx_registry_find_backend(reg, REF) == NULL) {
        fprintf(stderr, "the reference backend cpu-scalar is not loaded\n");
        return 1;
    }
    int n_compared = 0;
    for (int bi = 0; bi < gx_registry_n_backends(reg); bi++) {
        gx_backend *be = gx_registry_backend_at(reg, bi);
        char desc[512] = "";
        void *ctx;
        if (gx_registry_backend_score(reg, be) <= 0) {
            fprintf(stderr, "backend %s: skipped: no device on this machine\n", be->name);
            continue;
        }
        if (gx_registry_backend_ctx(reg, be, &ctx, &d) != GX_OK) {
            fprintf(stderr, "backend %s: %s\n", be->name, d.msg);
            return 1;
        }
        if (be->desc.describe) be->desc.describe(ctx, desc, sizeof desc);
        fprintf(stderr, "backend %s: %s\n", be->name, desc);
        n_compared += !is_ref(be);
    }
    const char *only = getenv("GEXEC_TEST_BACKEND");
    if (only != NULL && *only && n_compared == 0) {
        /* ctest reads 77 as "skipped" (SKIP_RETURN_CODE) */
        fprintf(stderr, "backend %s is not usable here: skipped\n", only);
        for (int k = 0; k < N_THREAD_REGS; k++) gx_registry_free(thread_regs[k]);
        gx_registry_free(reg);
        return 77;
    }
    for (int k = 0; k < N_THREAD_REGS; k++)
        for (int bi = 0; bi < gx_registry_n_backends(thread_regs[k]); bi++) {
            gx_backend *be = gx_registry_backend_at(thread_regs[k], bi);
            char desc[512] = "";
            void *ctx;
            if (is_ref(be)) continue;
            if (gx_registry_backend_ctx(thread_regs[k], be, &ctx, &d) == GX_OK &&
                be->desc.describe)
                be->desc.describe(ctx, desc, sizeof desc);
            fprintf(stderr, "backend %s (threads %d): %s\n", be->name, k + 1, desc);
        }
    const char *srcdir = getenv("GEXEC_SOURCE_DIR");
    snprintf(graphs_dir, sizeof graphs_dir, "%s/graphs", srcdir ? srcdir : ".");
    struct dirent **files = NULL;
    int n_graphs = scandir(graphs_dir, &files, is_graph, alphasort);
    if (n_graphs <= 0) {
        fprintf(stderr, "no graphs in %s\n", graphs_dir);
        return 1;
    }
    int n_ops = gx_registry_n_ops(reg);
    int n = 1 + n_ops + n_graphs;
    struct CMUnitTest *tests = calloc((size_t)n, sizeof *tests);
    tests[0] = (struct CMUnitTest){.name = "kernel coverage", .test_func = test_coverage};
    for (int i = 0; i < n_ops; i++)
        tests[1 + i] = (struct CMUnitTest){.name = gx_registry_op_at(reg, i)->name,
                                           .test_func = test_op,
                                           .initial_state = (void *)gx_registry_op_at(reg, i)};
    for (int i = 0; i < n_graphs; i++)
        tests[1 + n_ops + i] = (struct CMUnitTest){.name = files[i]->d_name,
                                                   .test_func = test_graph,
                                                   .initial_state = files[i]->d_name};
    if (argc > 1) cmocka_set_test_filter(argv[1]);
    int rc = _cmocka_run_group_tests("backends", tests, (size_t)n, NULL, NULL);
    for (int i = 0; i < n_graphs; i++) free(files[i]);
    free(files);
    free(tests);
    for (int k = 0; k < N_THREAD_REGS; k++) gx_registry_free(thread_regs[k]);
    gx_registry_free(reg);
    return rc;
}
