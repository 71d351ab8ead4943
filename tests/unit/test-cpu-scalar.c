/*
 * test-cpu-scalar.c: unit tests of the cpu-scalar backend plugin, loaded on its own.
 *
 * Usage: test-cpu-scalar <path/to/gx-backend-cpu-scalar.so>  (or env GX_CPU_SCALAR_PLUGIN).
 * The plugin is dlopen'ed and its entry point called with a fake gx_host_api that collects the
 * descriptors, so no engine is involved. Kernels run on small tensors whose expected values are
 * written out by hand (transcendental ones computed once with Python's math module, the naive
 * formulas rather than the kernels' stable forms), so the test needs no libm.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gexec/plugin.h>

// the fake host and the CMocka callbacks have fixed signatures (the project builds this way too)
#pragma GCC diagnostic ignored "-Wunused-parameter"

// ---- fake host -----------------------------------------------------------------------------------

struct gx_host {
    int unused;
};

#define MAX_KERNELS 256

static gx_host         g_host;
static gx_host_api     g_api;
static gx_plugin_info  g_info;
static gx_status       g_entry_status;
static void           *g_dl;
static gx_kernel_desc  g_kernels[MAX_KERNELS];
static int             g_n_kernels;
static gx_backend_desc g_backend;
static int             g_n_backends;
static int             g_n_ops;
static int             g_kernel_before_backend;   // a kernel registered before its backend
static char            g_error[512];
static gx_status       g_error_status;

static gx_status fake_register_op(gx_host *host, const gx_op_desc *op) {
    g_n_ops++;
    return GX_OK;
}

static gx_status fake_register_kernel(gx_host *host, const gx_kernel_desc *k) {
    if (g_n_kernels >= MAX_KERNELS || k->size != sizeof(gx_kernel_desc)) return GX_ERR_INVALID;
    if (g_n_backends == 0) g_kernel_before_backend = 1;
    g_kernels[g_n_kernels++] = *k;
    return GX_OK;
}

static gx_status fake_register_backend(gx_host *host, const gx_backend_desc *b) {
    if (b->size != sizeof(gx_backend_desc)) return GX_ERR_INVALID;
    g_backend = *b;
    g_n_backends++;
    return GX_OK;
}

static void fake_log(gx_host *host, gx_log_level level, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static gx_status fake_set_error(gx_host *host, gx_status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_error, sizeof g_error, fmt, ap);
    va_end(ap);
    g_error_status = st;
    return st;
}

static void *fake_alloc(gx_host *host, size_t bytes) { return malloc(bytes); }
static void fake_free(gx_host *host, void *p) { free(p); }
static const void *fake_get_extension(gx_host *host, const char *id) { return NULL; }

static const char *g_plugin_path;

static int group_setup(void **state) {
    g_api = (gx_host_api){
        .abi_version = GX_ABI_VERSION, .size = sizeof(gx_host_api),
        .register_op = fake_register_op, .register_kernel = fake_register_kernel,
        .register_backend = fake_register_backend, .log = fake_log, .set_error = fake_set_error,
        .alloc = fake_alloc, .free = fake_free, .get_extension = fake_get_extension,
    };
    g_dl = dlopen(g_plugin_path, RTLD_NOW | RTLD_LOCAL);
    if (g_dl == NULL) {
        fprintf(stderr, "cannot load %s: %s\n", g_plugin_path, dlerror());
        return -1;
    }
    gx_plugin_entry_fn entry = (gx_plugin_entry_fn)dlsym(g_dl, GX_PLUGIN_ENTRY_SYMBOL);
    if (entry == NULL) {
        fprintf(stderr, "%s: no symbol %s\n", g_plugin_path, GX_PLUGIN_ENTRY_SYMBOL);
        return -1;
    }
    g_entry_status = entry(&g_api, &g_host, &g_info);
    return 0;
}

static int group_teardown(void **state) {
    if (g_dl != NULL) dlclose(g_dl);
    return 0;
}

// ---- tensors -------------------------------------------------------------------------------------

// every buffer a test allocates, freed after each test
static void *g_pool[256];
static int   g_n_pool;

static int free_pool(void **state) {
    for (int i = 0; i < g_n_pool; i++) free(g_pool[i]);
    g_n_pool = 0;
    return 0;
}

#define D(...) ((const int64_t[]){ __VA_ARGS__ })
#define V(...) ((const double[]){ __VA_ARGS__ })
#define I(...) ((const int32_t[]){ __VA_ARGS__ })
#define POISON 1234.5   // what a test output holds before the kernel runs

static double get(const gx_tensor *t, int64_t i) {
    switch (t->dtype) {
    case GX_DTYPE_F32: return ((const float *)t->data)[i];
    case GX_DTYPE_F64: return ((const double *)t->data)[i];
    default:           return ((const int32_t *)t->data)[i];
    }
}

static void set(const gx_tensor *t, int64_t i, double v) {
    switch (t->dtype) {
    case GX_DTYPE_F32: ((float *)t->data)[i] = (float)v; break;
    case GX_DTYPE_F64: ((double *)t->data)[i] = v; break;
    default:           ((int32_t *)t->data)[i] = (int32_t)v; break;
    }
}

// a tensor of dtype dt and shape dims[0..ndim) holding v (or POISON everywhere when v is NULL)
static gx_tensor mk(gx_dtype dt, int ndim, const int64_t *dims, const double *v) {
    gx_tensor t = { .dtype = dt, .shape = { .ndim = ndim } };
    for (int d = 0; d < ndim; d++) t.shape.dims[d] = dims[d];
    int64_t n = gx_shape_numel(&t.shape);
    size_t bytes = (size_t)n * gx_dtype_size(dt);
    assert_true(g_n_pool < (int)(sizeof g_pool / sizeof g_pool[0]));
    t.data = malloc(bytes > 0 ? bytes : 1);
    assert_non_null(t.data);
    g_pool[g_n_pool++] = t.data;
    t.buf = t.data;
    for (int64_t i = 0; i < n; i++) set(&t, i, v != NULL ? v[i] : POISON);
    return t;
}

// an output tensor: shape given, contents POISON
static gx_tensor out(gx_dtype dt, int ndim, const int64_t *dims) { return mk(dt, ndim, dims, NULL); }

static gx_tensor mki(int ndim, const int64_t *dims, const int32_t *v) {
    gx_tensor t = mk(GX_DTYPE_I32, ndim, dims, NULL);
    for (int64_t i = 0; i < gx_shape_numel(&t.shape); i++) ((int32_t *)t.data)[i] = v[i];
    return t;
}

static gx_tensor scalar(gx_dtype dt, double v) { return mk(dt, 0, NULL, &v); }

static gx_attr_value ai(int64_t v) { return (gx_attr_value){ .type = GX_ATTR_INT, .i = v }; }
static gx_attr_value af(double v) { return (gx_attr_value){ .type = GX_ATTR_FLOAT, .f = v }; }
static gx_attr_value anone(void) { return (gx_attr_value){ .type = GX_ATTR_NONE }; }
static gx_attr_value adt(gx_dtype dt) { return (gx_attr_value){ .type = GX_ATTR_DTYPE, .i = dt }; }
static gx_attr_value aints(int n, const int64_t *v) {
    gx_attr_value a = { .type = GX_ATTR_INTS, .n_ints = n };
    for (int k = 0; k < n; k++) a.ints[k] = v[k];
    return a;
}

static const gx_kernel_desc *find_kernel(const char *op, gx_dtype dt) {
    for (int i = 0; i < g_n_kernels; i++)
        if (strcmp(g_kernels[i].op, op) == 0 && g_kernels[i].dtype == dt) return &g_kernels[i];
    return NULL;
}

// run kernel (op, dtype of out[0]) as thread ith of nth
static gx_status run_split(const char *op, int n_in, const gx_tensor *in, int n_out,
                           const gx_tensor *outs, const gx_attr_value *attrs, int ith, int nth) {
    const gx_kernel_desc *k = find_kernel(op, outs[0].dtype);
    if (k == NULL) fail_msg("no kernel for %s dtype %d", op, (int)outs[0].dtype);
    gx_kernel_args a = {
        .size = sizeof(gx_kernel_args), .api = &g_api, .host = &g_host,
        .n_inputs = n_in, .inputs = in, .n_outputs = n_out, .outputs = outs, .attrs = attrs,
        .ith = ith, .nth = nth, .workspace = { .dtype = GX_DTYPE_INVALID, .shape = { .ndim = 1 } },
    };
    g_error[0] = '\0';
    g_error_status = GX_OK;
    return k->run(&a);
}

static gx_status run(const char *op, int n_in, const gx_tensor *in, int n_out,
                     const gx_tensor *outs, const gx_attr_value *attrs) {
    return run_split(op, n_in, in, n_out, outs, attrs, 0, 1);
}

// one output, must succeed
static void run1(const char *op, int n_in, const gx_tensor *in, const gx_tensor *y,
                 const gx_attr_value *attrs) {
    gx_status st = run(op, n_in, in, 1, y, attrs);
    if (st != GX_OK) fail_msg("%s failed with %d: %s", op, (int)st, g_error);
}

static double absd(double v) { return v < 0 ? -v : v; }

// t holds exactly want[0..n), to a tolerance suited to its dtype (relative above 1)
static void expect(const gx_tensor *t, const double *want, int64_t n) {
    assert_int_equal(gx_shape_numel(&t->shape), n);
    double tol = t->dtype == GX_DTYPE_F32 ? 2e-6 : 1e-12;
    for (int64_t i = 0; i < n; i++) {
        double got = get(t, i);
        double scale = absd(want[i]) > 1.0 ? absd(want[i]) : 1.0;
        if (!(absd(got - want[i]) <= tol * scale))
            fail_msg("element %lld: got %.17g, want %.17g", (long long)i, got, want[i]);
    }
}

static const gx_dtype FLOATS[2] = { GX_DTYPE_F32, GX_DTYPE_F64 };

// ---- registration, backend -----------------------------------------------------------------------

static const char *const ALL_OPS[] = {
    "add", "sub", "mul", "div", "gt", "eq", "neg", "tanh", "sigmoid", "relu", "exp", "log",
    "where", "full", "matmul", "transpose", "permute", "reshape", "broadcast_to", "concat",
    "split", "slice", "pad", "index", "sum", "mean", "max", "softmax", "log_softmax",
    "cross_entropy", "cross_entropy_grad", "mse", "embedding", "embedding_backward",
};

static void test_cpu_scalar_registers_everything(void **state) {
    assert_int_equal(g_entry_status, GX_OK);
    assert_int_equal(g_info.abi_version, GX_ABI_VERSION);
    assert_string_equal(g_info.name, "cpu_scalar");
    assert_string_equal(g_info.version, "0.1.0");
    assert_int_equal(g_n_ops, 0);
    assert_int_equal(g_n_backends, 1);
    assert_false(g_kernel_before_backend);
    assert_string_equal(g_backend.name, "cpu-scalar");
    assert_true(g_backend.flags & GX_BACKEND_HOST_MEMORY);
    for (size_t i = 0; i < sizeof ALL_OPS / sizeof ALL_OPS[0]; i++) {
        for (int k = 0; k < 2; k++)
            if (find_kernel(ALL_OPS[i], FLOATS[k]) == NULL)
                fail_msg("no %s kernel for dtype %d", ALL_OPS[i], (int)FLOATS[k]);
    }
    // every kernel is cpu-scalar's, and no (op, dtype) is registered twice
    for (int i = 0; i < g_n_kernels; i++) {
        assert_string_equal(g_kernels[i].backend, "cpu-scalar");
        assert_ptr_equal(find_kernel(g_kernels[i].op, g_kernels[i].dtype), &g_kernels[i]);
    }
}

static void test_cpu_scalar_refuses_other_abi(void **state) {
    gx_plugin_entry_fn entry = (gx_plugin_entry_fn)dlsym(g_dl, GX_PLUGIN_ENTRY_SYMBOL);
    gx_host_api bad = g_api;
    bad.abi_version = GX_ABI_VERSION + 1;
    gx_plugin_info info;
    int before = g_n_kernels;
    assert_int_equal(entry(&bad, &g_host, &info), GX_ERR_ABI);
    assert_int_equal(g_n_kernels, before);
}

static void test_cpu_scalar_backend_buffers(void **state) {
    const gx_backend_desc *b = &g_backend;
    assert_int_equal(b->score(&g_api, &g_host), 1);
    void *ctx = NULL;
    assert_int_equal(b->init(&g_api, &g_host, &ctx), GX_OK);
    char line[128];
    assert_int_equal(b->describe(ctx, line, sizeof line), GX_OK);
    assert_string_equal(line, "host CPU, scalar reference kernels");

    void *empty = NULL, *buf = NULL, *other = NULL;
    assert_int_equal(b->buffer_alloc(ctx, 0, &empty), GX_OK);   // zero bytes still works
    assert_non_null(empty);
    assert_int_equal(b->buffer_alloc(ctx, 100, &buf), GX_OK);
    assert_int_equal(b->buffer_alloc(ctx, 100, &other), GX_OK);
    assert_int_equal((uintptr_t)buf % 64, 0);
    assert_ptr_equal(b->buffer_host_ptr(ctx, buf), buf);

    const char msg[] = "0123456789";
    char back[11] = { 0 };
    assert_int_equal(b->begin(ctx), GX_OK);
    assert_int_equal(b->write(ctx, buf, 7, msg, 10), GX_OK);
    assert_int_equal(b->copy(ctx, other, 50, buf, 7, 10), GX_OK);
    assert_int_equal(b->submit(ctx), GX_OK);
    assert_int_equal(b->sync(ctx), GX_OK);
    assert_int_equal(b->read(ctx, other, 50, back, 10), GX_OK);
    assert_string_equal(back, msg);

    b->buffer_free(ctx, empty);
    b->buffer_free(ctx, buf);
    b->buffer_free(ctx, other);
    b->deinit(ctx);
}

// ---- element-wise --------------------------------------------------------------------------------

static void test_cpu_scalar_binary_broadcast(void **state) {
    for (int k = 0; k < 2; k++) {
        gx_dtype dt = FLOATS[k];
        gx_tensor x = mk(dt, 2, D(2, 3), V(1, 2, 3, 4, 5, 6));
        gx_tensor s = scalar(dt, 2.0);
        gx_tensor row = mk(dt, 1, D(3), V(10, 20, 40));
        gx_tensor col = mk(dt, 2, D(2, 1), V(100, 200));
        gx_tensor y = out(dt, 2, D(2, 3));

        run1("add", 2, (gx_tensor[]){ x, s }, &y, NULL);
        expect(&y, V(3, 4, 5, 6, 7, 8), 6);
        run1("add", 2, (gx_tensor[]){ x, row }, &y, NULL);
        expect(&y, V(11, 22, 43, 14, 25, 46), 6);
        run1("add", 2, (gx_tensor[]){ col, row }, &y, NULL);   // both sides stretch
        expect(&y, V(110, 120, 140, 210, 220, 240), 6);
        run1("sub", 2, (gx_tensor[]){ x, row }, &y, NULL);
        expect(&y, V(-9, -18, -37, -6, -15, -34), 6);
        run1("sub", 2, (gx_tensor[]){ s, x }, &y, NULL);       // scalar on the left
        expect(&y, V(1, 0, -1, -2, -3, -4), 6);
        run1("mul", 2, (gx_tensor[]){ x, s }, &y, NULL);
        expect(&y, V(2, 4, 6, 8, 10, 12), 6);
        run1("mul", 2, (gx_tensor[]){ row, x }, &y, NULL);
        expect(&y, V(10, 40, 120, 40, 100, 240), 6);
        run1("div", 2, (gx_tensor[]){ x, s }, &y, NULL);
        expect(&y, V(0.5, 1, 1.5, 2, 2.5, 3), 6);
        run1("div", 2, (gx_tensor[]){ x, row }, &y, NULL);
        expect(&y, V(0.1, 0.1, 0.075, 0.4, 0.25, 0.15), 6);
        run1("gt", 2, (gx_tensor[]){ x, s }, &y, NULL);
        expect(&y, V(0, 0, 1, 1, 1, 1), 6);
        run1("eq", 2, (gx_tensor[]){ x, mk(dt, 1, D(3), V(1, 5, 3)) }, &y, NULL);
        expect(&y, V(1, 0, 1, 0, 1, 0), 6);

        // a missing leading dim and a size-1 dim in the larger operand: [3] + [1, 2, 1] -> [1, 2, 3]
        gx_tensor y3 = out(dt, 3, D(1, 2, 3));
        run1("add", 2, (gx_tensor[]){ row, mk(dt, 3, D(1, 2, 1), V(1, 2)) }, &y3, NULL);
        expect(&y3, V(11, 21, 41, 12, 22, 42), 6);
    }
}

static void test_cpu_scalar_unary_values(void **state) {
    const double xs[5] = { -2, -0.5, 0, 0.5, 3 };
    for (int k = 0; k < 2; k++) {
        gx_dtype dt = FLOATS[k];
        gx_tensor x = mk(dt, 1, D(5), xs);
        gx_tensor y = out(dt, 1, D(5));
        run1("neg", 1, &x, &y, NULL);
        expect(&y, V(2, 0.5, 0, -0.5, -3), 5);
        run1("relu", 1, &x, &y, NULL);
        expect(&y, V(0, 0, 0, 0.5, 3), 5);
        run1("tanh", 1, &x, &y, NULL);
        expect(&y, V(-0.9640275800758169, -0.46211715726000974, 0, 0.46211715726000974,
                     0.9950547536867305), 5);
        run1("sigmoid", 1, &x, &y, NULL);
        expect(&y, V(0.11920292202211755, 0.3775406687981454, 0.5, 0.6224593312018546,
                     0.9525741268224334), 5);
        run1("exp", 1, &x, &y, NULL);
        expect(&y, V(0.1353352832366127, 0.6065306597126334, 1, 1.6487212707001282,
                     20.085536923187668), 5);
        gx_tensor pos = mk(dt, 1, D(4), V(0.5, 1, 2, 1e10));
        gx_tensor ly = out(dt, 1, D(4));
        run1("log", 1, &pos, &ly, NULL);
        expect(&ly, V(-0.6931471805599453, 0, 0.6931471805599453, 23.025850929940457), 4);

        // sigmoid saturates without overflow at both ends
        gx_tensor big = mk(dt, 1, D(2), V(-800, 800));
        gx_tensor by = out(dt, 1, D(2));
        run1("sigmoid", 1, &big, &by, NULL);
        expect(&by, V(0, 1), 2);
    }
}

static void test_cpu_scalar_where_full(void **state) {
    for (int k = 0; k < 2; k++) {
        gx_dtype dt = FLOATS[k];
        gx_tensor x = mk(dt, 2, D(2, 3), V(1, 2, 3, 4, 5, 6));
        gx_tensor y = out(dt, 2, D(2, 3));
        // i32 condition per row, scalar b
        run1("where", 3, (gx_tensor[]){ mki(2, D(2, 1), I(1, 0)), x, scalar(dt, 0) }, &y, NULL);
        expect(&y, V(1, 2, 3, 0, 0, 0), 6);
        // float condition per column (non-zero, even negative, is true), scalar a
        run1("where", 3, (gx_tensor[]){ mk(dt, 1, D(3), V(0, 2.5, -1)), scalar(dt, 7), x }, &y,
             NULL);
        expect(&y, V(1, 7, 7, 4, 7, 7), 6);

        gx_tensor f = out(dt, 2, D(2, 2));
        run1("full", 0, NULL, &f, (gx_attr_value[]){ aints(2, D(2, 2)), af(1.5), adt(dt) });
        expect(&f, V(1.5, 1.5, 1.5, 1.5), 4);
    }
    gx_tensor fi = out(GX_DTYPE_I32, 1, D(3));
    run1("full", 0, NULL, &fi, (gx_attr_value[]){ aints(1, D(3)), af(3), adt(GX_DTYPE_I32) });
    expect(&fi, V(3, 3, 3), 3);
}

// ---- matmul --------------------------------------------------------------------------------------

static void test_cpu_scalar_matmul_batched(void **state) {
    for (int k = 0; k < 2; k++) {
        gx_dtype dt = FLOATS[k];
        // [2, 2, 3] @ [3, 2]: b is shared by both batches
        gx_tensor a = mk(dt, 3, D(2, 2, 3), V(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12));
        gx_tensor b = mk(dt, 2, D(3, 2), V(1, 0, 0, 1, 1, 1));
        gx_tensor y = out(dt, 3, D(2, 2, 2));
        run1("matmul", 2, (gx_tensor[]){ a, b }, &y, NULL);
        expect(&y, V(4, 5, 10, 11, 16, 17, 22, 23), 8);

        // [2, 3] @ [2, 3, 2]: a is shared, the second b is twice the first
        gx_tensor a2 = mk(dt, 2, D(2, 3), V(1, 2, 3, 4, 5, 6));
        gx_tensor b2 = mk(dt, 3, D(2, 3, 2), V(1, 0, 0, 1, 1, 1, 2, 0, 0, 2, 2, 2));
        run1("matmul", 2, (gx_tensor[]){ a2, b2 }, &y, NULL);
        expect(&y, V(4, 5, 10, 11, 8, 10, 20, 22), 8);

        // [2, 1, 1, 2] @ [1, 3, 2, 1] -> [2, 3, 1, 1]: each side stretches a different batch dim
        gx_tensor a3 = mk(dt, 4, D(2, 1, 1, 2), V(1, 2, 3, 4));
        gx_tensor b3 = mk(dt, 4, D(1, 3, 2, 1), V(1, 1, 2, 1, 3, 1));
        gx_tensor y3 = out(dt, 4, D(2, 3, 1, 1));
        run1("matmul", 2, (gx_tensor[]){ a3, b3 }, &y3, NULL);
        expect(&y3, V(3, 4, 5, 7, 10, 13), 6);
    }
}

// ---- shape ops -----------------------------------------------------------------------------------

static void test_cpu_scalar_transpose_permute(void **state) {
    for (int k = 0; k < 2; k++) {
        gx_dtype dt = FLOATS[k];
        gx_tensor x = mk(dt, 2, D(2, 3), V(0, 1, 2, 3, 4, 5));
        gx_tensor y = out(dt, 2, D(3, 2));
        run1("transpose", 1, &x, &y, (gx_attr_value[]){ ai(-2), ai(-1) });
        expect(&y, V(0, 3, 1, 4, 2, 5), 6);

        double v[24], want[24];
        for (int i = 0; i < 24; i++) v[i] = i;
        gx_tensor x3 = mk(dt, 3, D(2, 3, 4), v);
        // permute [2, 0, 1]: y[i, j, l] = x[j, l, i]; negative axes mean the same
        gx_tensor p = out(dt, 3, D(4, 2, 3));
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 2; j++)
                for (int l = 0; l < 3; l++) want[(i * 2 + j) * 3 + l] = j * 12 + l * 4 + i;
        run1("permute", 1, &x3, &p, (gx_attr_value[]){ aints(3, D(2, 0, 1)) });
        expect(&p, want, 24);
        run1("permute", 1, &x3, &p, (gx_attr_value[]){ aints(3, D(-1, 0, 1)) });
        expect(&p, want, 24);

        // transpose(0, 2) of [2, 3, 4]: y[i, j, l] = x[l, j, i]
        gx_tensor t = out(dt, 3, D(4, 3, 2));
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 3; j++)
                for (int l = 0; l < 2; l++) want[(i * 3 + j) * 2 + l] = l * 12 + j * 4 + i;
        run1("transpose", 1, &x3, &t, (gx_attr_value[]){ ai(0), ai(2) });
        expect(&t, want, 24);
    }
}

static void test_cpu_scalar_reshape_broadcast_to(void **state) {
    for (int k = 0; k < 2; k++) {
        gx_dtype dt = FLOATS[k];
        gx_tensor x = mk(dt, 2, D(2, 3), V(1, 2, 3, 4, 5, 6));
        gx_tensor y = out(dt, 2, D(3, 2));
        run1("reshape", 1, &x, &y, (gx_attr_value[]){ aints(2, D(3, -1)) });
        expect(&y, V(1, 2, 3, 4, 5, 6), 6);

        gx_tensor c = mk(dt, 2, D(3, 1), V(1, 2, 3));
        gx_tensor b = out(dt, 3, D(2, 3, 2));
        run1("broadcast_to", 1, &c, &b, (gx_attr_value[]){ aints(3, D(2, 3, 2)) });
        expect(&b, V(1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3), 12);
    }
}

static void test_cpu_scalar_concat_split(void **state) {
    for (int k = 0; k < 2; k++) {
        gx_dtype dt = FLOATS[k];
        gx_tensor a = mk(dt, 2, D(2, 2), V(1, 2, 3, 4));
        gx_tensor b = mk(dt, 2, D(2, 1), V(5, 6));
        gx_tensor c = mk(dt, 2, D(1, 2), V(7, 8));
        gx_tensor y = out(dt, 2, D(2, 3));
        run1("concat", 2, (gx_tensor[]){ a, b }, &y, (gx_attr_value[]){ ai(1) });
        expect(&y, V(1, 2, 5, 3, 4, 6), 6);
        run1("concat", 2, (gx_tensor[]){ a, b }, &y, (gx_attr_value[]){ ai(-1) });
        expect(&y, V(1, 2, 5, 3, 4, 6), 6);
        gx_tensor y0 = out(dt, 2, D(3, 2));
        run1("concat", 2, (gx_tensor[]){ a, c }, &y0, (gx_attr_value[]){ ai(0) });
        expect(&y0, V(1, 2, 3, 4, 7, 8), 6);
        gx_tensor y3 = out(dt, 1, D(5));
        run1("concat", 3, (gx_tensor[]){ mk(dt, 1, D(2), V(1, 2)), mk(dt, 1, D(0), NULL),
                                         mk(dt, 1, D(3), V(3, 4, 5)) }, &y3,
             (gx_attr_value[]){ ai(0) });
        expect(&y3, V(1, 2, 3, 4, 5), 5);

        gx_tensor x = mk(dt, 2, D(2, 4), V(0, 1, 2, 3, 4, 5, 6, 7));
        gx_tensor parts[2] = { out(dt, 2, D(2, 2)), out(dt, 2, D(2, 2)) };
        assert_int_equal(run("split", 1, &x, 2, parts, (gx_attr_value[]){ ai(2), ai(-1) }), GX_OK);
        expect(&parts[0], V(0, 1, 4, 5), 4);
        expect(&parts[1], V(2, 3, 6, 7), 4);
        gx_tensor rows[2] = { out(dt, 2, D(1, 4)), out(dt, 2, D(1, 4)) };
        assert_int_equal(run("split", 1, &x, 2, rows, (gx_attr_value[]){ ai(2), ai(0) }), GX_OK);
        expect(&rows[0], V(0, 1, 2, 3), 4);
        expect(&rows[1], V(4, 5, 6, 7), 4);
    }
}

static void test_cpu_scalar_slice_pad_index(void **state) {
    for (int k = 0; k < 2; k++) {
        gx_dtype dt = FLOATS[k];
        gx_tensor x = mk(dt, 2, D(2, 4), V(0, 1, 2, 3, 4, 5, 6, 7));
        gx_tensor s = out(dt, 2, D(2, 2));
        run1("slice", 1, &x, &s, (gx_attr_value[]){ ai(1), ai(1), ai(3) });
        expect(&s, V(1, 2, 5, 6), 4);
        run1("slice", 1, &x, &s, (gx_attr_value[]){ ai(-1), ai(-3), ai(-1) });
        expect(&s, V(1, 2, 5, 6), 4);
        gx_tensor s0 = out(dt, 2, D(1, 4));
        run1("slice", 1, &x, &s0, (gx_attr_value[]){ ai(0), ai(1), ai(2) });
        expect(&s0, V(4, 5, 6, 7), 4);

        gx_tensor a = mk(dt, 2, D(2, 2), V(1, 2, 3, 4));
        gx_tensor p = out(dt, 2, D(2, 5));
        run1("pad", 1, &a, &p, (gx_attr_value[]){ ai(1), ai(1), ai(2) });
        expect(&p, V(0, 1, 2, 0, 0, 0, 3, 4, 0, 0), 10);
        gx_tensor p0 = out(dt, 2, D(3, 2));
        run1("pad", 1, &a, &p0, (gx_attr_value[]){ ai(0), ai(1), ai(0) });
        expect(&p0, V(0, 0, 1, 2, 3, 4), 6);

        double v[12];
        for (int i = 0; i < 12; i++) v[i] = i;
        gx_tensor x3 = mk(dt, 3, D(2, 3, 2), v);
        gx_tensor ix = out(dt, 2, D(2, 2));
        run1("index", 1, &x3, &ix, (gx_attr_value[]){ ai(1), ai(2) });
        expect(&ix, V(4, 5, 10, 11), 4);
        run1("index", 1, &x3, &ix, (gx_attr_value[]){ ai(-2), ai(-1) });
        expect(&ix, V(4, 5, 10, 11), 4);
        gx_tensor i0 = out(dt, 2, D(3, 2));
        run1("index", 1, &x3, &i0, (gx_attr_value[]){ ai(0), ai(1) });
        expect(&i0, V(6, 7, 8, 9, 10, 11), 6);
    }
    // i32 tokens: one time step of [B, T], and a shifted window of targets
    gx_tensor tok = mki(2, D(2, 3), I(1, 2, 3, 4, 5, 6));
    gx_tensor step = out(GX_DTYPE_I32, 1, D(2));
    run1("index", 1, &tok, &step, (gx_attr_value[]){ ai(1), ai(0) });
    expect(&step, V(1, 4), 2);
    gx_tensor win = out(GX_DTYPE_I32, 2, D(2, 2));
    run1("slice", 1, &tok, &win, (gx_attr_value[]){ ai(1), ai(1), ai(3) });
    expect(&win, V(2, 3, 5, 6), 4);
}

// ---- reductions ----------------------------------------------------------------------------------

static void test_cpu_scalar_reductions(void **state) {
    for (int k = 0; k < 2; k++) {
        gx_dtype dt = FLOATS[k];
        gx_tensor x = mk(dt, 2, D(2, 3), V(1, 2, 3, 4, 5, 6));
        gx_tensor all = out(dt, 0, NULL);
        run1("sum", 1, &x, &all, (gx_attr_value[]){ anone(), ai(0) });
        expect(&all, V(21), 1);
        run1("mean", 1, &x, &all, (gx_attr_value[]){ anone(), ai(0) });
        expect(&all, V(3.5), 1);
        gx_tensor all_k = out(dt, 2, D(1, 1));
        run1("max", 1, &x, &all_k, (gx_attr_value[]){ anone(), ai(1) });
        expect(&all_k, V(6), 1);

        gx_tensor r = out(dt, 1, D(2));
        run1("sum", 1, &x, &r, (gx_attr_value[]){ aints(1, D(1)), ai(0) });
        expect(&r, V(6, 15), 2);
        gx_tensor rk = out(dt, 2, D(2, 1));
        run1("sum", 1, &x, &rk, (gx_attr_value[]){ aints(1, D(-1)), ai(1) });
        expect(&rk, V(6, 15), 2);
        run1("max", 1, &x, &r, (gx_attr_value[]){ aints(1, D(1)), ai(0) });
        expect(&r, V(3, 6), 2);
        gx_tensor c = out(dt, 1, D(3));
        run1("sum", 1, &x, &c, (gx_attr_value[]){ aints(1, D(-2)), ai(0) });
        expect(&c, V(5, 7, 9), 3);
        run1("mean", 1, &x, &c, (gx_attr_value[]){ aints(1, D(0)), ai(0) });
        expect(&c, V(2.5, 3.5, 4.5), 3);

        // [2, 3, 4] = 0..23 over axes {0, 2}: x[i, j, l] = 12 i + 4 j + l
        double v[24];
        for (int i = 0; i < 24; i++) v[i] = i;
        gx_tensor x3 = mk(dt, 3, D(2, 3, 4), v);
        gx_tensor m = out(dt, 1, D(3));
        run1("sum", 1, &x3, &m, (gx_attr_value[]){ aints(2, D(0, 2)), ai(0) });
        expect(&m, V(60, 92, 124), 3);
        run1("max", 1, &x3, &m, (gx_attr_value[]){ aints(2, D(2, -3)), ai(0) });
        expect(&m, V(15, 19, 23), 3);
        gx_tensor mk3 = out(dt, 3, D(1, 3, 1));
        run1("mean", 1, &x3, &mk3, (gx_attr_value[]){ aints(2, D(0, 2)), ai(1) });
        expect(&mk3, V(7.5, 11.5, 15.5), 3);

        // max of negatives is not 0
        gx_tensor neg = mk(dt, 1, D(3), V(-5, -2, -9));
        gx_tensor nm = out(dt, 0, NULL);
        run1("max", 1, &neg, &nm, (gx_attr_value[]){ anone(), ai(0) });
        expect(&nm, V(-2), 1);
    }
}

static void test_cpu_scalar_softmax(void **state) {
    for (int k = 0; k < 2; k++) {
        gx_dtype dt = FLOATS[k];
        // the second row would overflow exp without the max subtraction
        gx_tensor x = mk(dt, 2, D(2, 3), V(1, 2, 3, 1000, 1000, 1000));
        gx_tensor y = out(dt, 2, D(2, 3));
        const double third = 1.0 / 3.0, log_third = -1.0986122886681098;
        run1("softmax", 1, &x, &y, (gx_attr_value[]){ ai(-1) });
        expect(&y, V(0.09003057317038046, 0.24472847105479767, 0.6652409557748219,
                     third, third, third), 6);
        run1("log_softmax", 1, &x, &y, (gx_attr_value[]){ ai(1) });
        expect(&y, V(-2.40760596444438, -1.4076059644443801, -0.4076059644443803,
                     log_third, log_third, log_third), 6);

        // along axis 0 (columns): softmax(0, ln 3) = (1/4, 3/4), softmax(0, 1) = (1, e) / (1 + e)
        gx_tensor x0 = mk(dt, 2, D(2, 2), V(0, 0, 1.0986122886681098, 1));
        gx_tensor y0 = out(dt, 2, D(2, 2));
        run1("softmax", 1, &x0, &y0, (gx_attr_value[]){ ai(0) });
        expect(&y0, V(0.25, 0.2689414213699951, 0.75, 0.7310585786300049), 4);
        run1("log_softmax", 1, &x0, &y0, (gx_attr_value[]){ ai(-2) });
        // log(1/4), -log(1 + e), log(3/4), 1 - log(1 + e)
        expect(&y0, V(-1.3862943611198906, -1.3132616875182228, -0.2876820724517809,
                      -0.3132616875182228), 4);
    }
}

// ---- losses, embedding ---------------------------------------------------------------------------

// 4 positions of 3 classes; position 2 is ignored (-100)
static const double CE_LOGITS[12] = { 1, 2, 3, 0, 0, 0, 5, 1, -1, 2, 0, 1 };
static const int32_t CE_TARGETS[4] = { 2, 0, -100, 1 };
static const double CE_MASK[4] = { 1, 0.5, 1, 0 };
// softmax of each row, exp(l) / sum(exp(l)) computed naively with Python
static const double CE_PROBS[12] = {
    0.09003057317038046, 0.24472847105479767, 0.6652409557748219,
    1.0 / 3, 1.0 / 3, 1.0 / 3,
    0.9796292071670794, 0.01794253480332919, 0.002428258029591337,
    0.6652409557748219, 0.09003057317038046, 0.24472847105479764,
};
// -log(CE_PROBS[p][t]) at the targets: p0 (t = 2), p1 (t = 0), p3 (t = 1), and p3 with t = 0
static const double NLL0 = 0.40760596444438013, NLL1 = 1.0986122886681098;
static const double NLL3 = 2.40760596444438, NLL3_T0 = 0.40760596444438013;

static void test_cpu_scalar_cross_entropy(void **state) {
    for (int k = 0; k < 2; k++) {
        gx_dtype dt = FLOATS[k];
        gx_tensor l = mk(dt, 3, D(2, 2, 3), CE_LOGITS);
        gx_tensor t = mki(2, D(2, 2), CE_TARGETS);
        gx_tensor m = mk(dt, 2, D(2, 2), CE_MASK);
        gx_tensor y = out(dt, 0, NULL);
        gx_attr_value ign[1] = { ai(-100) };

        // no mask: mean over the three counted positions
        double want = (NLL0 + NLL1 + NLL3) / 3;
        run1("cross_entropy", 2, (gx_tensor[]){ l, t }, &y, ign);
        expect(&y, &want, 1);
        expect(&y, V(1.3046080725189568), 1);

        // mask weights 1, 0.5, (ignored), 0
        want = (NLL0 + 0.5 * NLL1) / 1.5;
        run1("cross_entropy", 3, (gx_tensor[]){ l, t, m }, &y, ign);
        expect(&y, &want, 1);
        expect(&y, V(0.63794140585229), 1);

        // nothing counted: 0; with ignore_index = -1 only the last position counts
        run1("cross_entropy", 3, (gx_tensor[]){ l, t, mk(dt, 2, D(2, 2), V(0, 0, 0, 0)) }, &y, ign);
        expect(&y, V(0), 1);
        // a position that does not count is not read: an inf logit there cannot make NaN
        gx_tensor linf = mk(dt, 2, D(2, 3), V(1, 2, 3, 1.0 / 0.0, 0, 0));
        run1("cross_entropy", 2, (gx_tensor[]){ linf, mki(1, D(2), I(2, -100)) }, &y, ign);
        expect(&y, &NLL0, 1);
        run1("cross_entropy", 3, (gx_tensor[]){ linf, mki(1, D(2), I(2, 1)),
                                                mk(dt, 1, D(2), V(1, 0)) }, &y, ign);
        expect(&y, &NLL0, 1);
        gx_tensor t2 = mki(2, D(2, 2), I(-1, -1, -1, 0));
        run1("cross_entropy", 2, (gx_tensor[]){ l, t2 }, &y, (gx_attr_value[]){ ai(-1) });
        expect(&y, &NLL3_T0, 1);
    }
}

static void test_cpu_scalar_cross_entropy_grad(void **state) {
    for (int k = 0; k < 2; k++) {
        gx_dtype dt = FLOATS[k];
        gx_tensor dy = scalar(dt, 2.0);
        gx_tensor l = mk(dt, 3, D(2, 2, 3), CE_LOGITS);
        gx_tensor t = mki(2, D(2, 2), CE_TARGETS);
        gx_tensor m = mk(dt, 2, D(2, 2), CE_MASK);
        gx_tensor dx = out(dt, 3, D(2, 2, 3));
        gx_attr_value ign[1] = { ai(-100) };

        for (int with_mask = 0; with_mask < 2; with_mask++) {
            double w[4], total = 0, want[12];
            for (int p = 0; p < 4; p++) {
                w[p] = CE_TARGETS[p] == -100 ? 0 : with_mask ? CE_MASK[p] : 1;
                total += w[p];
            }
            for (int p = 0; p < 4; p++)
                for (int c = 0; c < 3; c++)
                    want[p * 3 + c] = (CE_PROBS[p * 3 + c] - (c == CE_TARGETS[p])) *
                                      w[p] / total * 2.0;
            if (with_mask) run1("cross_entropy_grad", 4, (gx_tensor[]){ dy, l, t, m }, &dx, ign);
            else run1("cross_entropy_grad", 3, (gx_tensor[]){ dy, l, t }, &dx, ign);
            expect(&dx, want, 12);
        }
        // an inf logit in an ignored row leaves that row zero and the others finite
        gx_tensor linf = mk(dt, 2, D(2, 3), V(1, 2, 3, 1.0 / 0.0, 0, 0));
        gx_tensor dinf = out(dt, 2, D(2, 3));
        run1("cross_entropy_grad", 3, (gx_tensor[]){ dy, linf, mki(1, D(2), I(2, -100)) }, &dinf,
             ign);
        expect(&dinf, V(CE_PROBS[0] * 2, CE_PROBS[1] * 2, (CE_PROBS[2] - 1) * 2, 0, 0, 0), 6);

        // nothing counted: all zeros (the output starts as POISON, so this checks the fill)
        run1("cross_entropy_grad", 4,
             (gx_tensor[]){ dy, l, t, mk(dt, 2, D(2, 2), V(0, 0, 0, 0)) }, &dx, ign);
        expect(&dx, V(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), 12);
    }
}

static void test_cpu_scalar_mse(void **state) {
    for (int k = 0; k < 2; k++) {
        gx_dtype dt = FLOATS[k];
        gx_tensor y = out(dt, 0, NULL);
        run1("mse", 2, (gx_tensor[]){ mk(dt, 2, D(2, 2), V(1, 2, 3, 4)),
                                      mk(dt, 2, D(2, 2), V(1, 0, 3, 1)) }, &y, NULL);
        expect(&y, V(3.25), 1);   // (0 + 4 + 0 + 9) / 4
        run1("mse", 2, (gx_tensor[]){ mk(dt, 1, D(0), NULL), mk(dt, 1, D(0), NULL) }, &y, NULL);
        expect(&y, V(0), 1);
    }
}

static void test_cpu_scalar_embedding(void **state) {
    for (int k = 0; k < 2; k++) {
        gx_dtype dt = FLOATS[k];
        gx_tensor table = mk(dt, 2, D(4, 2), V(0, 1, 10, 11, 20, 21, 30, 31));
        gx_tensor idx = mki(2, D(2, 2), I(3, 0, 3, 1));
        gx_tensor y = out(dt, 3, D(2, 2, 2));
        run1("embedding", 2, (gx_tensor[]){ table, idx }, &y, NULL);
        expect(&y, V(30, 31, 0, 1, 30, 31, 10, 11), 8);

        // index 2 twice: its rows add up; rows 1 and 3 get nothing and must be zero, not POISON
        gx_tensor dy = mk(dt, 2, D(3, 2), V(1, 2, 3, 4, 5, 6));
        gx_tensor dt_ = out(dt, 2, D(4, 2));
        run1("embedding_backward", 2, (gx_tensor[]){ dy, mki(1, D(3), I(2, 0, 2)) }, &dt_,
             (gx_attr_value[]){ ai(4) });
        expect(&dt_, V(3, 4, 0, 0, 6, 8, 0, 0), 8);
    }
}

// ---- errors and threads --------------------------------------------------------------------------

static void expect_invalid(gx_status st, const char *op, const char *detail) {
    assert_int_equal(st, GX_ERR_INVALID);
    assert_int_equal(g_error_status, GX_ERR_INVALID);
    if (strncmp(g_error, op, strlen(op)) != 0 || g_error[strlen(op)] != ':' ||
        strstr(g_error, detail) == NULL)
        fail_msg("message '%s' should start with '%s:' and mention '%s'", g_error, op, detail);
}

static void test_cpu_scalar_bad_indices(void **state) {
    gx_dtype dt = GX_DTYPE_F32;
    gx_tensor table = mk(dt, 2, D(4, 2), V(0, 1, 10, 11, 20, 21, 30, 31));
    gx_tensor y = out(dt, 2, D(3, 2));
    gx_status st = run("embedding", 2, (gx_tensor[]){ table, mki(1, D(3), I(0, 4, 1)) }, 1, &y,
                       NULL);
    expect_invalid(st, "embedding", "index 4 at position 1 is outside [0, 4)");
    st = run("embedding", 2, (gx_tensor[]){ table, mki(1, D(3), I(0, 1, -1)) }, 1, &y, NULL);
    expect_invalid(st, "embedding", "index -1 at position 2");

    gx_tensor dtab = out(dt, 2, D(4, 2));
    st = run("embedding_backward", 2, (gx_tensor[]){ y, mki(1, D(3), I(0, 4, 1)) }, 1, &dtab,
             (gx_attr_value[]){ ai(4) });
    expect_invalid(st, "embedding_backward", "index 4 at position 1 is outside [0, 4)");

    gx_tensor l = mk(dt, 2, D(2, 3), V(1, 2, 3, 4, 5, 6));
    gx_tensor loss = out(dt, 0, NULL);
    gx_attr_value ign[1] = { ai(-100) };
    st = run("cross_entropy", 2, (gx_tensor[]){ l, mki(1, D(2), I(0, 3)) }, 1, &loss, ign);
    expect_invalid(st, "cross_entropy", "target 3 at position 1 is outside [0, 3)");
    st = run("cross_entropy", 2, (gx_tensor[]){ l, mki(1, D(2), I(-1, 0)) }, 1, &loss, ign);
    expect_invalid(st, "cross_entropy", "target -1 at position 0");
    // a masked-out position still has to hold a valid target
    st = run("cross_entropy", 3, (gx_tensor[]){ l, mki(1, D(2), I(0, 7)), mk(dt, 1, D(2), V(1, 0)) },
             1, &loss, ign);
    expect_invalid(st, "cross_entropy", "target 7");

    gx_tensor dl = out(dt, 2, D(2, 3));
    st = run("cross_entropy_grad", 3, (gx_tensor[]){ scalar(dt, 1), l, mki(1, D(2), I(5, 0)) }, 1,
             &dl, ign);
    expect_invalid(st, "cross_entropy_grad", "target 5 at position 0 is outside [0, 3)");
}

static void test_cpu_scalar_only_thread_zero_works(void **state) {
    gx_dtype dt = GX_DTYPE_F64;
    gx_tensor in[2] = { mk(dt, 1, D(3), V(1, 2, 3)), scalar(dt, 1) };
    gx_tensor y = out(dt, 1, D(3));
    assert_int_equal(run_split("add", 2, in, 1, &y, NULL, 1, 2), GX_OK);
    expect(&y, V(POISON, POISON, POISON), 3);
    assert_int_equal(run_split("add", 2, in, 1, &y, NULL, 0, 2), GX_OK);
    expect(&y, V(2, 3, 4), 3);
    // a thread other than 0 does not even look at the data, so it reports nothing
    gx_tensor e = out(dt, 1, D(1));
    assert_int_equal(run_split("embedding", 2, (gx_tensor[]){ mk(dt, 2, D(1, 1), V(1)),
                                                              mki(1, D(1), I(9)) },
                               1, &e, NULL, 1, 2), GX_OK);
}

int main(int argc, char **argv) {
    g_plugin_path = argc > 1 ? argv[1] : getenv("GX_CPU_SCALAR_PLUGIN");
    if (g_plugin_path == NULL) {
        fprintf(stderr, "usage: %s <path/to/gx-backend-cpu-scalar.so> (or GX_CPU_SCALAR_PLUGIN)\n",
                argv[0]);
        return 2;
    }
#define T(fn) cmocka_unit_test_teardown(fn, free_pool)
    const struct CMUnitTest tests[] = {
        T(test_cpu_scalar_registers_everything),
        T(test_cpu_scalar_refuses_other_abi),
        T(test_cpu_scalar_backend_buffers),
        T(test_cpu_scalar_binary_broadcast),
        T(test_cpu_scalar_unary_values),
        T(test_cpu_scalar_where_full),
        T(test_cpu_scalar_matmul_batched),
        T(test_cpu_scalar_transpose_permute),
        T(test_cpu_scalar_reshape_broadcast_to),
        T(test_cpu_scalar_concat_split),
        T(test_cpu_scalar_slice_pad_index),
        T(test_cpu_scalar_reductions),
        T(test_cpu_scalar_softmax),
        T(test_cpu_scalar_cross_entropy),
        T(test_cpu_scalar_cross_entropy_grad),
        T(test_cpu_scalar_mse),
        T(test_cpu_scalar_embedding),
        T(test_cpu_scalar_bad_indices),
        T(test_cpu_scalar_only_thread_zero_works),
    };
#undef T
    return cmocka_run_group_tests_name("cpu-scalar", tests, group_setup, group_teardown);
}
