/*
 * test-loader.c: the plugin loader's admissions and refusals.
 *
 * Every deliberately broken plugin in tests/plugins must be refused with the right status and
 * exactly one line naming the file and the reason, leaving the registry as it was (a plugin is
 * admitted whole or not at all). Loading a directory refuses the bad ones one warning each and
 * keeps going; the good third-party plugin (test_double) loads from a file, a directory or
 * GEXEC_PLUGIN_PATH and its op runs through the engine, forward and backward.
 *
 * The plugins are found in $GEXEC_BUILD_DIR/tests/plugins/bad (ctest sets GEXEC_BUILD_DIR);
 * run by hand, the build directory is taken to be the parent of this executable's directory.
 */
#define _GNU_SOURCE /* setenv, readlink */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "autodiff.h"
#include "exec.h"
#include "graph.h"
#include "probes.h"
#include "registry.h"

static char g_bad_dir[PATH_MAX];

// ---- helpers ----

static const char *bad_path(const char *file) {
    static char buf[4][PATH_MAX + 64];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, sizeof buf[0], "%s/%s", g_bad_dir, file);
    return p;
}

/* Warnings the registry logs (load_dir / load_default refusals), kept for inspection. */
typedef struct log_capture {
    int  n;
    char lines[32][1024];
} log_capture;

static void capture_log(void *user, gx_log_level level, const char *msg) {
    log_capture *c = user;
    (void)level;
    if (c->n < 32) snprintf(c->lines[c->n], sizeof c->lines[0], "%s", msg);
    c->n++;
}

/* A registry with the built-in plugins only (core ops, cpu-scalar), logging into *cap. */
static gx_registry *builtin_registry(log_capture *cap) {
    setenv("GEXEC_PLUGIN_PATH", "", 1);
    gx_registry *r = gx_registry_new();
    assert_non_null(r);
    if (cap) gx_registry_set_log(r, capture_log, cap);
    gx_diag d;
    gx_diag_init(&d);
    int refused = 0;
    assert_int_equal(gx_registry_load_default(r, &refused, &d), GX_OK);
    assert_int_equal(refused, 0);
    assert_non_null(gx_registry_find_op(r, "tanh"));
    return r;
}

typedef struct reg_counts {
    int ops, kernels, backends, plugins;
} reg_counts;

static reg_counts counts(gx_registry *r) {
    return (reg_counts){gx_registry_n_ops(r), gx_registry_n_kernels(r), gx_registry_n_backends(r),
                        gx_registry_n_plugins(r)};
}

static void assert_counts_equal(reg_counts a, reg_counts b) {
    assert_int_equal(a.ops, b.ops);
    assert_int_equal(a.kernels, b.kernels);
    assert_int_equal(a.backends, b.backends);
    assert_int_equal(a.plugins, b.plugins);
}

/* The registry still answers for everything it had, by name: a rollback that moved entries
 * around must leave names pointing at live strings. */
static void assert_builtins_intact(gx_registry *r) {
    static const char *const ops[] = {"matmul", "tanh", "add", "mse", "cross_entropy", "full"};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        const gx_op *op = gx_registry_find_op(r, ops[i]);
        assert_non_null(op);
        assert_string_equal(op->name, ops[i]);
        assert_ptr_equal(op->desc.name, op->name);
    }
    assert_non_null(gx_registry_find_backend(r, "cpu-scalar"));
    assert_non_null(gx_registry_find_kernel(r, "tanh", "cpu-scalar", GX_DTYPE_F32));
    for (int i = 0; i < gx_registry_n_plugins(r); i++) {
        assert_non_null(gx_registry_plugin_at(r, i)->name);
        assert_non_null(gx_registry_plugin_at(r, i)->version);
    }
}

/* One message, one line, naming the file: what a user sees for a refused plugin. */
static void assert_one_line(const char *msg, const char *file) {
    assert_true(msg[0] != '\0');
    assert_null(strchr(msg, '\n'));
    assert_null(strchr(msg, '\r'));
    if (strstr(msg, file) == NULL) fail_msg("'%s' does not name '%s'", msg, file);
    if (strstr(msg, "refused") == NULL) fail_msg("'%s' does not say 'refused'", msg);
}

static void assert_contains(const char *msg, const char *needle) {
    if (needle && strstr(msg, needle) == NULL) fail_msg("'%s' does not contain '%s'", msg, needle);
}

static int count_bad_files(void) {
    DIR *dp = opendir(g_bad_dir);
    assert_non_null(dp);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(dp)) != NULL) {
        size_t len = strlen(de->d_name);
        if (strncmp(de->d_name, "gx-bad-", 7) == 0 && len > 3 &&
            strcmp(de->d_name + len - 3, ".so") == 0)
            n++;
    }
    closedir(dp);
    return n;
}

/* How many plugins the built-in directory brings. */
static int builtin_count(void) {
    gx_registry *r = builtin_registry(NULL);
    int n = gx_registry_n_plugins(r);
    gx_registry_free(r);
    return n;
}

// ---- the refusals, one per broken plugin ----

typedef struct refusal_case {
    const char *file;
    gx_status   status;
    const char *reason[3];   /* substrings the message must contain                    */
    const char *gone[2];     /* names the plugin registered that must not survive       */
} refusal_case;

static const refusal_case refusals[] = {
    {"gx-bad-noentry.so", GX_ERR_PLUGIN, {"no entry point gx_plugin_entry"}, {NULL}},
    {"gx-bad-abi.so", GX_ERR_ABI, {"built for ABI 2, engine has ABI 1"}, {"bad_abi_op"}},
    {"gx-bad-fails.so", GX_ERR_PLUGIN,
     {"entry point failed", "unsupported", "libfrobnicate.so.3 not found"}, {NULL}},
    {"gx-bad-dup.so", GX_ERR_DUPLICATE,
     {"op 'tanh' is already registered", "core_ops"}, {"bad_dup_first"}},
    {"gx-bad-rollback.so", GX_ERR_PLUGIN,
     {"entry point failed", "initialisation failed after registering"}, {"rollback_op"}},
    {"gx-bad-notelf.so", GX_ERR_PLUGIN, {"cannot load"}, {NULL}},
    {"gx-bad-noexamples.so", GX_ERR_PLUGIN,
     {"'unchecked_id' has a VJP but no gradient-check examples"}, {"unchecked_id"}},
    {"gx-bad-dupself.so", GX_ERR_DUPLICATE,
     {"op 'self_dup' is already registered"}, {"self_dup"}},
    {"gx-bad-undef.so", GX_ERR_PLUGIN,
     {"cannot load", "gx_test_symbol_that_does_not_exist"}, {NULL}},
};
#define N_REFUSALS ((int)(sizeof refusals / sizeof refusals[0]))

static void test_each_bad_plugin_refused(void **state) {
    (void)state;
    for (int i = 0; i < N_REFUSALS; i++) {
        const refusal_case *c = &refusals[i];
        log_capture cap = {0};
        gx_registry *r = builtin_registry(&cap);
        reg_counts before = counts(r);
        gx_diag d;
        gx_diag_init(&d);
        gx_status st = gx_registry_load_file(r, bad_path(c->file), &d);
        print_message("%s -> %s\n", c->file, d.msg);
        if (st != c->status)
            fail_msg("%s: status %s (%d), expected %s (%d): %s", c->file, gx_status_name(st),
                     (int)st, gx_status_name(c->status), (int)c->status, d.msg);
        assert_int_equal(d.status, c->status);
        assert_one_line(d.msg, c->file);
        for (int k = 0; k < 3; k++) assert_contains(d.msg, c->reason[k]);
        /* no NULL ever reached a %s on the way */
        assert_null(strstr(d.msg, "(null)"));
        /* load_file reports through d only: nothing logged besides */
        assert_int_equal(cap.n, 0);
        /* unchanged, and nothing of the plugin left behind */
        assert_counts_equal(counts(r), before);
        for (int k = 0; k < 2; k++)
            if (c->gone[k]) assert_null(gx_registry_find_op(r, c->gone[k]));
        assert_null(gx_registry_find_backend(r, "rollback-backend"));
        assert_builtins_intact(r);
        /* a refused plugin may be tried again and is refused the same way (it left no record) */
        gx_diag d2;
        gx_diag_init(&d2);
        assert_int_equal(gx_registry_load_file(r, bad_path(c->file), &d2), c->status);
        assert_string_equal(d2.msg, d.msg);
        assert_counts_equal(counts(r), before);
        gx_registry_free(r);
    }
}

/* The rollback plugin registered an op, a kernel and a backend before failing: all three go. */
static void test_rollback_removes_everything(void **state) {
    (void)state;
    gx_registry *r = builtin_registry(NULL);
    reg_counts before = counts(r);
    gx_diag d;
    gx_diag_init(&d);
    assert_int_equal(gx_registry_load_file(r, bad_path("gx-bad-rollback.so"), &d), GX_ERR_PLUGIN);
    assert_counts_equal(counts(r), before);
    assert_null(gx_registry_find_op(r, "rollback_op"));
    assert_null(gx_registry_find_kernel(r, "rollback_op", "cpu-scalar", GX_DTYPE_F32));
    assert_null(gx_registry_find_backend(r, "rollback-backend"));
    for (int i = 0; i < gx_registry_n_kernels(r); i++)
        assert_string_not_equal(gx_registry_kernel_at(r, i)->desc.op, "rollback_op");
    /* the registry keeps working: the good plugin loads after the failed one */
    gx_diag_init(&d);
    assert_int_equal(gx_registry_load_file(r, bad_path("gx-test-double.so"), &d), GX_OK);
    assert_int_equal(gx_registry_n_plugins(r), before.plugins + 1);
    assert_int_equal(gx_registry_n_ops(r), before.ops + 1);
    assert_int_equal(gx_registry_n_kernels(r), before.kernels + 2);
    assert_builtins_intact(r);
    gx_registry_free(r);
}

static void test_missing_file_refused(void **state) {
    (void)state;
    gx_registry *r = builtin_registry(NULL);
    reg_counts before = counts(r);
    gx_diag d;
    gx_diag_init(&d);
    assert_int_equal(gx_registry_load_file(r, bad_path("gx-no-such-plugin.so"), &d),
                     GX_ERR_PLUGIN);
    assert_one_line(d.msg, "gx-no-such-plugin.so");
    assert_contains(d.msg, "No such file");
    /* a directory is not a plugin either */
    gx_diag_init(&d);
    assert_int_not_equal(gx_registry_load_file(r, g_bad_dir, &d), GX_OK);
    assert_one_line(d.msg, "bad");
    assert_counts_equal(counts(r), before);
    gx_registry_free(r);
}

// ---- directories and paths ----

/* Every gx-bad-*.so refused with one warning each, the good plugin admitted, nothing stops. */
static void test_load_dir_keeps_going(void **state) {
    (void)state;
    log_capture cap = {0};
    gx_registry *r = builtin_registry(&cap);
    reg_counts before = counts(r);
    int n_bad = count_bad_files();
    assert_int_equal(n_bad, N_REFUSALS);
    gx_diag d;
    gx_diag_init(&d);
    int refused = 0;
    assert_int_equal(gx_registry_load_dir(r, g_bad_dir, &refused, &d), GX_OK);
    assert_int_equal(d.status, GX_OK);
    assert_int_equal(refused, n_bad);
    assert_int_equal(cap.n, n_bad);
    /* one line per refusal, each naming its own file; alphabetical, so abi comes first */
    for (int i = 0; i < cap.n && i < 32; i++) {
        print_message("warning: %s\n", cap.lines[i]);
        assert_one_line(cap.lines[i], "gx-bad-");
        assert_null(strstr(cap.lines[i], "error: "));
    }
    assert_contains(cap.lines[0], "gx-bad-abi.so");
    for (int i = 0; i < N_REFUSALS; i++) {
        int seen = 0;
        for (int k = 0; k < cap.n && k < 32; k++)
            if (strstr(cap.lines[k], refusals[i].file)) seen++;
        if (seen != 1) fail_msg("%s named in %d warnings, expected 1", refusals[i].file, seen);
    }
    /* exactly the good plugin was added */
    assert_int_equal(gx_registry_n_plugins(r), before.plugins + 1);
    assert_int_equal(gx_registry_n_ops(r), before.ops + 1);
    assert_int_equal(gx_registry_n_kernels(r), before.kernels + 2);
    assert_int_equal(gx_registry_n_backends(r), before.backends);
    const gx_op *op = gx_registry_find_op(r, "test_double");
    assert_non_null(op);
    assert_string_equal(gx_registry_plugin_at(r, op->plugin)->name, "test_double");
    assert_string_equal(gx_registry_plugin_at(r, op->plugin)->version, "1.2.3");
    for (int i = 0; i < N_REFUSALS; i++)
        for (int k = 0; k < 2; k++)
            if (refusals[i].gone[k]) assert_null(gx_registry_find_op(r, refusals[i].gone[k]));
    assert_builtins_intact(r);

    /* the counter accumulates, and a missing directory is no error and refuses nothing */
    gx_diag_init(&d);
    assert_int_equal(gx_registry_load_dir(r, bad_path("no-such-dir"), &refused, &d), GX_OK);
    assert_int_equal(refused, n_bad);
    /* n_refused may be NULL */
    assert_int_equal(gx_registry_load_dir(r, g_bad_dir, NULL, &d), GX_OK);
    gx_registry_free(r);
}

static void test_same_path_twice_refused(void **state) {
    (void)state;
    gx_registry *r = builtin_registry(NULL);
    gx_diag d;
    gx_diag_init(&d);
    const char *good = bad_path("gx-test-double.so");
    assert_int_equal(gx_registry_load_file(r, good, &d), GX_OK);
    reg_counts before = counts(r);
    gx_diag_init(&d);
    assert_int_equal(gx_registry_load_file(r, good, &d), GX_ERR_DUPLICATE);
    assert_one_line(d.msg, "gx-test-double.so");
    assert_contains(d.msg, "already loaded");
    assert_counts_equal(counts(r), before);

    /* the same file under another spelling: dlopen hands back the loaded object, its entry
     * runs again and is refused as a duplicate op; refusing must not unmap the first load */
    char other[PATH_MAX + 64];
    snprintf(other, sizeof other, "%s/./gx-test-double.so", g_bad_dir);
    gx_diag_init(&d);
    assert_int_equal(gx_registry_load_file(r, other, &d), GX_ERR_DUPLICATE);
    assert_one_line(d.msg, "gx-test-double.so");
    assert_contains(d.msg, "'test_double' is already registered by plugin 'test_double'");
    assert_counts_equal(counts(r), before);
    const gx_op *op = gx_registry_find_op(r, "test_double");
    assert_non_null(op);
    /* the code is still mapped: calling the op's infer must work */
    gx_tensor_info in = {.dtype = GX_DTYPE_F32, .shape = {.ndim = 1, .dims = {3}}}, out = {0};
    gx_host h;
    gx_host_init(&h, r, &d, (gx_srcpos){0});
    gx_infer_ctx c = {.size = sizeof c, .api = gx_registry_api(), .host = &h, .n_inputs = 1,
                      .inputs = &in, .n_outputs = 1, .max_outputs = 1, .outputs = &out};
    assert_int_equal(op->desc.infer(&c), GX_OK);
    assert_int_equal(out.shape.dims[0], 3);
    gx_registry_free(r);
}

static void test_builtins_via_load_default(void **state) {
    (void)state;
    log_capture cap = {0};
    gx_registry *r = builtin_registry(&cap);
    assert_int_equal(cap.n, 0);
    assert_non_null(gx_registry_builtin_dir());
    /* at least the core ops and the reference backend; more built-ins may come */
    int n_builtin = gx_registry_n_plugins(r);
    assert_true(n_builtin >= 2);
    int seen_core = 0, seen_cpu = 0;
    for (int i = 0; i < n_builtin; i++) {
        seen_core += strcmp(gx_registry_plugin_at(r, i)->name, "core_ops") == 0;
        seen_cpu += strcmp(gx_registry_plugin_at(r, i)->name, "cpu_scalar") == 0;
    }
    assert_int_equal(seen_core, 1);
    assert_int_equal(seen_cpu, 1);
    assert_builtins_intact(r);
    /* the default is the best-scoring backend: cpu-sleef (10) where it is built, cpu-scalar (1)
     * otherwise */
    gx_backend *b = gx_registry_find_backend(r, "cpu-sleef");
    if (b == NULL) b = gx_registry_find_backend(r, "cpu-scalar");
    assert_ptr_equal(gx_registry_default_backend(r), b);
    for (int i = 0; i < gx_registry_n_plugins(r); i++)
        assert_non_null(strstr(gx_registry_plugin_at(r, i)->path, gx_registry_builtin_dir()));
    /* every op has a gradient story: a VJP with examples, or a reason */
    for (int i = 0; i < gx_registry_n_ops(r); i++) {
        const gx_op *op = gx_registry_op_at(r, i);
        if (op->desc.vjp) assert_true(op->desc.examples || op->desc.grad_exempt);
    }
    /* loading the defaults again refuses each as already loaded, one warning each */
    reg_counts before = counts(r);
    gx_diag d;
    gx_diag_init(&d);
    int refused = 0;
    assert_int_equal(gx_registry_load_default(r, &refused, &d), GX_OK);
    assert_int_equal(refused, n_builtin);
    assert_int_equal(cap.n, n_builtin);
    assert_contains(cap.lines[0], "already loaded");
    assert_counts_equal(counts(r), before);
    gx_registry_free(r);
}

/* GEXEC_PLUGIN_PATH: a file entry loads that plugin; a directory entry loads its plugins,
 * counting the refusals; empty entries are skipped. */
static void test_plugin_path_env(void **state) {
    (void)state;
    int n_builtin = builtin_count();
    char env[3 * PATH_MAX];
    snprintf(env, sizeof env, "::%s:", bad_path("gx-test-double.so"));
    setenv("GEXEC_PLUGIN_PATH", env, 1);
    gx_registry *r = gx_registry_new();
    log_capture cap = {0};
    gx_registry_set_log(r, capture_log, &cap);
    gx_diag d;
    gx_diag_init(&d);
    int refused = 0;
    assert_int_equal(gx_registry_load_default(r, &refused, &d), GX_OK);
    assert_int_equal(refused, 0);
    assert_int_equal(cap.n, 0);
    assert_int_equal(gx_registry_n_plugins(r), n_builtin + 1);
    assert_non_null(gx_registry_find_op(r, "test_double"));
    gx_registry_free(r);

    snprintf(env, sizeof env, "%s", g_bad_dir);
    setenv("GEXEC_PLUGIN_PATH", env, 1);
    r = gx_registry_new();
    cap.n = 0;
    gx_registry_set_log(r, capture_log, &cap);
    gx_diag_init(&d);
    refused = 0;
    assert_int_equal(gx_registry_load_default(r, &refused, &d), GX_OK);
    assert_int_equal(refused, N_REFUSALS);
    assert_int_equal(cap.n, N_REFUSALS);
    assert_non_null(gx_registry_find_op(r, "test_double"));
    assert_builtins_intact(r);
    gx_registry_free(r);

    /* a bad plugin named directly in the path is refused like one found in a directory */
    snprintf(env, sizeof env, "%s", bad_path("gx-bad-abi.so"));
    setenv("GEXEC_PLUGIN_PATH", env, 1);
    r = gx_registry_new();
    cap.n = 0;
    gx_registry_set_log(r, capture_log, &cap);
    gx_diag_init(&d);
    refused = 0;
    assert_int_equal(gx_registry_load_default(r, &refused, &d), GX_OK);
    assert_int_equal(refused, 1);
    assert_int_equal(cap.n, 1);
    assert_one_line(cap.lines[0], "gx-bad-abi.so");
    assert_contains(cap.lines[0], "built for ABI 2, engine has ABI 1");
    gx_registry_free(r);
    setenv("GEXEC_PLUGIN_PATH", "", 1);
}

/* Built-in code may register through gx_registry_api() outside any plugin (plugin -1); a later
 * duplicate of such an op must be refused cleanly, not read a plugin record at index -1. */
static gx_status host_id_infer(gx_infer_ctx *c) {
    c->outputs[0] = c->inputs[0];
    return GX_OK;
}

static void test_duplicate_of_host_registered_op(void **state) {
    (void)state;
    gx_registry *r = builtin_registry(NULL);
    static const gx_op_desc tanh_op = {
        .size = sizeof(gx_op_desc), .name = "tanh", .min_inputs = 1, .max_inputs = 1,
        .n_outputs = 1, .infer = host_id_infer, .grad_exempt = "test"};
    static const gx_op_desc host_op = {
        .size = sizeof(gx_op_desc), .name = "test_double", .min_inputs = 1, .max_inputs = 1,
        .n_outputs = 1, .infer = host_id_infer, .grad_exempt = "test"};
    gx_diag d;
    gx_diag_init(&d);
    gx_host h;
    gx_host_init(&h, r, &d, (gx_srcpos){0});
    /* a duplicate of a plugin's op from the host names that plugin */
    assert_int_equal(gx_registry_api()->register_op(&h, &tanh_op), GX_ERR_DUPLICATE);
    assert_contains(d.msg, "op 'tanh' is already registered by plugin 'core_ops'");
    gx_diag_init(&d);
    assert_int_equal(gx_registry_api()->register_op(&h, &host_op), GX_OK);
    /* the host registering it again */
    assert_int_equal(gx_registry_api()->register_op(&h, &host_op), GX_ERR_DUPLICATE);
    assert_contains(d.msg, "op 'test_double' is already registered");
    assert_null(strstr(d.msg, "(null)"));
    assert_null(strstr(d.msg, "this plugin"));
    /* and a plugin bringing the same op */
    reg_counts before = counts(r);
    gx_diag_init(&d);
    assert_int_equal(gx_registry_load_file(r, bad_path("gx-test-double.so"), &d),
                     GX_ERR_DUPLICATE);
    assert_one_line(d.msg, "gx-test-double.so");
    assert_contains(d.msg, "op 'test_double' is already registered");
    assert_null(strstr(d.msg, "(null)"));
    assert_counts_equal(counts(r), before);
    gx_registry_free(r);
}

// ---- the good plugin's op, through the engine ----

/* y = test_double(x) on cpu-scalar; then the gradient of sum(y) with respect to x, which the
 * plugin's VJP builds from core ops (full, mul): 2 everywhere. */
static void run_double(gx_dtype dt) {
    gx_registry *r = builtin_registry(NULL);
    gx_diag d;
    gx_diag_init(&d);
    assert_int_equal(gx_registry_load_file(r, bad_path("gx-test-double.so"), &d), GX_OK);

    gx_graph *g = gx_graph_new(r);
    assert_non_null(g);
    gx_srcpos pos = {"test-loader", 1, 1};
    gx_tensor_info info = {.dtype = dt, .shape = {.ndim = 2, .dims = {2, 3}}};
    gx_val x, y, loss;
    assert_int_equal(gx_graph_add_input(g, "x", info, pos, &x, &d), GX_OK);
    gx_builder b = {.g = g, .diag = &d, .pos = pos, .backward = 0};
    gx_status st = gx_builder_emit(&b, "test_double", &x, 1, NULL, 0, &y, 1);
    if (st != GX_OK) fail_msg("emit test_double: %s", d.msg);
    assert_int_equal(g->values[y].info.dtype, dt);
    assert_int_equal(g->values[y].info.shape.ndim, 2);
    assert_int_equal(g->values[y].info.shape.dims[1], 3);
    assert_int_equal(gx_graph_add_output(g, "y", y, pos, &d), GX_OK);
    st = gx_builder_emit(&b, "sum", &y, 1, NULL, 0, &loss, 1);
    if (st != GX_OK) fail_msg("emit sum: %s", d.msg);
    assert_int_equal(gx_graph_add_output(g, "loss", loss, pos, &d), GX_OK);
    g->loss = loss;
    st = gx_autodiff(g, loss, &d);
    if (st != GX_OK) fail_msg("autodiff: %s", d.msg);
    int32_t gi = gx_graph_find_output(g, "grad.x");
    assert_true(gi >= 0);
    gx_val dx = g->outputs[gi].val;

    gx_exec *e = NULL;
    st = gx_exec_new(g, "cpu-scalar", NULL, 0, &e, &d);
    if (st != GX_OK) fail_msg("exec_new: %s", d.msg);
    assert_string_equal(gx_exec_backend_name(e), "cpu-scalar");
    double xs[6] = {1.5, -2.0, 0.25, 3.0, -0.5, 100.0}, ys[6], gs[6], total = 0;
    if (dt == GX_DTYPE_F32) {
        float xf[6], yf[6], gf[6], lf;
        for (int i = 0; i < 6; i++) xf[i] = (float)xs[i];
        assert_int_equal(gx_exec_write(e, x, xf, sizeof xf, &d), GX_OK);
        assert_int_equal(gx_exec_run(e, &d), GX_OK);
        assert_int_equal(gx_exec_read(e, y, yf, sizeof yf, &d), GX_OK);
        assert_int_equal(gx_exec_read(e, dx, gf, sizeof gf, &d), GX_OK);
        assert_int_equal(gx_exec_read(e, loss, &lf, sizeof lf, &d), GX_OK);
        for (int i = 0; i < 6; i++) ys[i] = yf[i], gs[i] = gf[i];
        total = lf;
    } else {
        assert_int_equal(gx_exec_write(e, x, xs, sizeof xs, &d), GX_OK);
        assert_int_equal(gx_exec_run(e, &d), GX_OK);
        assert_int_equal(gx_exec_read(e, y, ys, sizeof ys, &d), GX_OK);
        assert_int_equal(gx_exec_read(e, dx, gs, sizeof gs, &d), GX_OK);
        assert_int_equal(gx_exec_read(e, loss, &total, sizeof total, &d), GX_OK);
    }
    double want_total = 0;
    for (int i = 0; i < 6; i++) {
        /* doubling is exact in binary floating point */
        assert_true(ys[i] == 2.0 * xs[i]);
        assert_true(gs[i] == 2.0);
        want_total += 2.0 * xs[i];
    }
    assert_true(total == want_total);
    /* a planned graph runs again without replanning */
    assert_int_equal(gx_exec_run(e, &d), GX_OK);
    gx_exec_free(e);
    gx_graph_free(g);
    gx_registry_free(r);
}

static void test_good_plugin_runs_f32(void **state) {
    (void)state;
    run_double(GX_DTYPE_F32);
}

static void test_good_plugin_runs_f64(void **state) {
    (void)state;
    run_double(GX_DTYPE_F64);
}

/* Without the plugin the op is unknown: the emit fails with a message, not a crash. */
static void test_op_unknown_without_plugin(void **state) {
    (void)state;
    gx_registry *r = builtin_registry(NULL);
    gx_graph *g = gx_graph_new(r);
    gx_diag d;
    gx_diag_init(&d);
    gx_srcpos pos = {"test-loader", 3, 7};
    gx_tensor_info info = {.dtype = GX_DTYPE_F32, .shape = {.ndim = 1, .dims = {4}}};
    gx_val x, y;
    assert_int_equal(gx_graph_add_input(g, "x", info, pos, &x, &d), GX_OK);
    gx_builder b = {.g = g, .diag = &d, .pos = pos, .backward = 0};
    assert_int_equal(gx_builder_emit(&b, "test_double", &x, 1, NULL, 0, &y, 1), GX_ERR_NOT_FOUND);
    assert_contains(d.msg, "test-loader:3:7");
    assert_contains(d.msg, "test_double");
    gx_graph_free(g);
    gx_registry_free(r);
}

// ---- ops that bring only a decomposition ----

static gx_registry *decompose_registry(gx_diag *d) {
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/../decompose/gx-test-decompose.so", g_bad_dir);
    gx_registry *r = builtin_registry(NULL);
    if (gx_registry_load_file(r, path, d) != GX_OK) fail_msg("load %s: %s", path, d->msg);
    return r;
}

/* test_swish expands into sigmoid and mul where it is called: no test_swish node is left, the
 * sigmoid is the probe the plugin named, and autodiff differentiates the expansion. */
static void test_decomposition_expands(void **state) {
    (void)state;
    gx_diag d;
    gx_diag_init(&d);
    gx_registry *r = decompose_registry(&d);
    gx_graph *g = gx_graph_new(r);
    assert_non_null(g);
    gx_srcpos pos = {"test-loader", 5, 3};
    gx_tensor_info info = {.dtype = GX_DTYPE_F64, .shape = {.ndim = 2, .dims = {2, 3}}};
    gx_val x, y, loss;
    assert_int_equal(gx_graph_add_input(g, "x", info, pos, &x, &d), GX_OK);
    gx_builder b = {.g = g, .diag = &d, .pos = pos, .backward = 0};
    if (gx_builder_emit(&b, "test_swish", &x, 1, NULL, 0, &y, 1) != GX_OK)
        fail_msg("emit test_swish: %s", d.msg);
    int n_sigmoid = 0;
    for (int32_t n = 0; n < g->n_nodes; n++) {
        assert_string_not_equal(g->nodes[n].op->name, "test_swish");
        assert_int_equal(g->nodes[n].pos.line, 5);   /* expansion nodes keep the call's place */
        if (strcmp(g->nodes[n].op->name, "sigmoid") == 0) {
            n_sigmoid++;
            gx_val s = g->nodes[n].out[0];
            assert_non_null(g->values[s].probe);
            assert_string_equal(g->values[s].probe, "swish.gate");
            assert_int_equal(gx_probe_kind_of(g, s), GX_PROBE_SIGMOID);
        }
    }
    assert_int_equal(n_sigmoid, 1);
    assert_int_equal(g->values[y].info.shape.dims[1], 3);
    assert_int_equal(gx_graph_add_output(g, "y", y, pos, &d), GX_OK);
    assert_int_equal(gx_builder_emit(&b, "sum", &y, 1, NULL, 0, &loss, 1), GX_OK);
    g->loss = loss;
    if (gx_autodiff(g, loss, &d) != GX_OK) fail_msg("autodiff: %s", d.msg);
    gx_val dx = g->outputs[gx_graph_find_output(g, "grad.x")].val;
    gx_exec *e = NULL;
    if (gx_exec_new(g, "cpu-scalar", NULL, 0, &e, &d) != GX_OK) fail_msg("exec: %s", d.msg);
    double xs[6] = {1.5, -2.0, 0.25, 3.0, -0.5, 0.0}, ys[6], gs[6];
    assert_int_equal(gx_exec_write(e, x, xs, sizeof xs, &d), GX_OK);
    assert_int_equal(gx_exec_run(e, &d), GX_OK);
    assert_int_equal(gx_exec_read(e, y, ys, sizeof ys, &d), GX_OK);
    assert_int_equal(gx_exec_read(e, dx, gs, sizeof gs, &d), GX_OK);
    for (int i = 0; i < 6; i++) {
        double sg = 1.0 / (1.0 + exp(-xs[i]));
        assert_true(fabs(ys[i] - xs[i] * sg) < 1e-12);
        assert_true(fabs(gs[i] - (sg + xs[i] * sg * (1.0 - sg))) < 1e-12);
    }
    gx_exec_free(e);
    gx_graph_free(g);
    gx_registry_free(r);
}

/* A decomposition whose result disagrees with the op's shape inference, and one that calls
 * itself, are errors at the call's position, not crashes. */
static void test_decomposition_errors(void **state) {
    (void)state;
    gx_diag d;
    gx_diag_init(&d);
    gx_registry *r = decompose_registry(&d);
    gx_graph *g = gx_graph_new(r);
    gx_srcpos pos = {"test-loader", 9, 4};
    gx_tensor_info info = {.dtype = GX_DTYPE_F32, .shape = {.ndim = 1, .dims = {4}}};
    gx_val x, y;
    assert_int_equal(gx_graph_add_input(g, "x", info, pos, &x, &d), GX_OK);
    gx_builder b = {.g = g, .diag = &d, .pos = pos, .backward = 0};
    assert_int_equal(gx_builder_emit(&b, "test_decomp_shape", &x, 1, NULL, 0, &y, 1),
                     GX_ERR_PLUGIN);
    assert_contains(d.msg, "test-loader:9:4");
    assert_contains(d.msg, "decomposition gives output 0");
    gx_diag_init(&d);
    assert_int_equal(gx_builder_emit(&b, "test_decomp_self", &x, 1, NULL, 0, &y, 1),
                     GX_ERR_PLUGIN);
    assert_contains(d.msg, "nest more than");
    assert_int_equal(g->decompose_depth, 0);
    gx_graph_free(g);
    gx_registry_free(r);
}

// ---- main ----

static int find_bad_dir(void **state) {
    (void)state;
    const char *build = getenv("GEXEC_BUILD_DIR");
    char self[PATH_MAX];
    if (build == NULL || *build == '\0') {
        /* run by hand: this executable is in <build>/bin */
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0) return -1;
        self[n] = '\0';
        for (int up = 0; up < 2; up++) {
            char *slash = strrchr(self, '/');
            if (slash == NULL) return -1;
            *slash = '\0';
        }
        build = self;
    }
    int k = snprintf(g_bad_dir, sizeof g_bad_dir, "%s/tests/plugins/bad", build);
    if (k <= 0 || (size_t)k >= sizeof g_bad_dir) return -1;
    if (access(g_bad_dir, R_OK) != 0) {
        fprintf(stderr, "test-loader: %s: not found (build the gx_bad_plugins target)\n",
                g_bad_dir);
        return -1;
    }
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtins_via_load_default),
        cmocka_unit_test(test_each_bad_plugin_refused),
        cmocka_unit_test(test_rollback_removes_everything),
        cmocka_unit_test(test_missing_file_refused),
        cmocka_unit_test(test_load_dir_keeps_going),
        cmocka_unit_test(test_same_path_twice_refused),
        cmocka_unit_test(test_plugin_path_env),
        cmocka_unit_test(test_duplicate_of_host_registered_op),
        cmocka_unit_test(test_good_plugin_runs_f32),
        cmocka_unit_test(test_good_plugin_runs_f64),
        cmocka_unit_test(test_op_unknown_without_plugin),
        cmocka_unit_test(test_decomposition_expands),
        cmocka_unit_test(test_decomposition_errors),
    };
    return cmocka_run_group_tests(tests, find_bad_dir, NULL);
}
