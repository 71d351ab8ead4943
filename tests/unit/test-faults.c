/*
 * test-faults.c: out of memory anywhere on the way from a graph's text to a trained step.
 *
 * libgexec allocates only through gx_malloc & co. (util.h), which a test can make fail. For
 * every N, the N-th allocation of a path fails: parse, lower, autodiff, plan, data, a training
 * run of 2 steps with validation and a checkpoint; then reading that checkpoint back and
 * running its graph. Each time the path must end in GX_ERR_NOMEM with a message (never a
 * crash, never another status), and once everything is freed the hook's count of live
 * allocations must be back where it started (LeakSanitizer, under GX_SANITIZE, also sees the
 * allocations that bypass the hook). The loop ends at the first N the path no longer reaches.
 *
 * usage: test-faults [STRIDE]   (every STRIDE-th N only; default 1)
 */
#define _POSIX_C_SOURCE 200809L   /* mkdtemp */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "exec.h"
#include "lower.h"
#include "registry.h"
#include "train.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static gx_registry *reg;
static char dir[64];
static char gpath[128], dpath[128], cpath[128];
static int64_t stride = 1;

static const char graph_text[] =
    "graph tiny\n"
    "dim V = 5\ndim B = 2\ndim T = 4\ndim H = 3\n"
    "input tokens : i32[B, T]\ninput targets : i32[B, T]\n"
    "state h0 : f32[B, H] = 0\n"
    "param emb : f32[V, H] init normal(0, 0.1)\n"
    "param W_ih : f32[H, H] init xavier\nparam W_hh : f32[H, H] init orthogonal\n"
    "param W_out : f32[V, H] init xavier\n"
    "x = embedding(emb, tokens)\n"
    "hs, hT = loop t over x carry (h = h0) {\n"
    "    h = lstm_like(x[t], h, W_ih, W_hh)\n    yield h\n}\n"
    "loss = cross_entropy(hs @ transpose(W_out), targets)\n"
    "output hT\n"
    "train { optimizer = adam(lr = 1e-2)  clip = 1 }\n";

/* the graph text with a function of its own (lowering inlines it) */
static char text[2048];

static int setup(void **state) {
    (void)state;
    /* a user function exercises more of lowering than the cell alone */
    const char *fn = "def lstm_like(x, h, Wi, Wh) {\n    return tanh(x @ transpose(Wi) + "
                     "h @ transpose(Wh)) * sigmoid(h)\n}\n";
    snprintf(text, sizeof text, "%s%s", graph_text, fn);
    snprintf(dir, sizeof dir, "/tmp/gexec-faults.XXXXXX");
    if (mkdtemp(dir) == NULL) return 1;
    snprintf(gpath, sizeof gpath, "%s/tiny.graph", dir);
    snprintf(dpath, sizeof dpath, "%s/text.txt", dir);
    snprintf(cpath, sizeof cpath, "%s/tiny.ckpt", dir);
    FILE *f = fopen(dpath, "w");
    if (f == NULL) return 1;
    for (int i = 0; i < 40; i++) fputs("abcd eabc ", f);
    fclose(f);
    reg = gx_registry_new();
    gx_diag d;
    gx_diag_init(&d);
    if (reg == NULL || gx_registry_load_default(reg, NULL, &d) != GX_OK) return 1;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    gx_registry_free(reg);
    char p[160];
    snprintf(p, sizeof p, "%s/tiny.ckpt", dir);
    remove(p);
    remove(dpath);
    rmdir(dir);
    return 0;
}

/* ---- the paths ---- */

/* parse, lower with autodiff, plan, data, 2 steps with validation and a checkpoint */
static gx_status train_path(gx_diag *d) {
    gx_ast_module *m = NULL;
    gx_status st = gx_parse(text, strlen(text), gpath, &m, d);
    if (st != GX_OK) return st;
    gx_train_config c;
    gx_train_config_defaults(&c);
    st = gx_train_config_from_module(m, &c, d);
    if (st != GX_OK) {
        gx_ast_free(m);
        return st;
    }
    c.steps = 2;
    c.val_every = 1;
    c.data = dpath;
    c.checkpoint = cpath;
    c.backend = "cpu-scalar";
    c.threads = 1;
    gx_trainer *t = NULL;
    st = gx_trainer_new(reg, gpath, m, text, strlen(text), &c, &t, d);   /* takes m */
    if (st == GX_OK) st = gx_trainer_run(t, NULL, NULL, d);
    gx_trainer_free(t);
    return st;
}

/* read the checkpoint, rebuild its graph, plan it, feed the params and run it once */
static gx_status load_path(gx_diag *d) {
    gx_checkpoint *ck = NULL;
    gx_graph *g = NULL;
    gx_exec *e = NULL;
    gx_status st = gx_checkpoint_read(cpath, &ck, d);
    if (st == GX_OK) st = gx_checkpoint_graph(ck, reg, NULL, 0, &g, d);
    if (st == GX_OK) st = gx_exec_new(g, "cpu-scalar", NULL, 0, &e, d);
    if (st == GX_OK) st = gx_checkpoint_feed_params(ck, g, e, d);
    for (int32_t i = 0; st == GX_OK && i < g->n_inputs; i++) {   /* zero tokens and states */
        const gx_tensor_info *ti = &g->values[g->inputs[i].val].info;
        uint64_t bytes = gx_dtype_size(ti->dtype) * (uint64_t)gx_shape_numel(&ti->shape);
        void *z = calloc(1, bytes ? bytes : 1);
        st = z ? gx_exec_write(e, g->inputs[i].val, z, bytes, d) : GX_ERR_NOMEM;
        free(z);
    }
    if (st == GX_OK) st = gx_exec_run(e, d);
    gx_exec_free(e);
    gx_graph_free(g);
    gx_checkpoint_free(ck);
    return st;
}

typedef gx_status (*path_fn)(gx_diag *d);

/* fail allocation N of the path for every N; returns how many allocations the path makes */
static int64_t fail_every(const char *name, path_fn path) {
    gx_diag d;
    gx_diag_init(&d);
    /* once without failure: the path works, and its allocations are counted */
    int64_t live0 = gx_alloc_live();
    int64_t a0 = gx_alloc_fail_at(0);
    gx_status st = path(&d);
    if (st != GX_OK) fprintf(stderr, "%s: %s\n", name, d.msg);
    assert_int_equal(st, GX_OK);
    int64_t total = gx_alloc_fail_at(0) - a0;
    assert_int_equal(gx_alloc_live(), live0);
    int failures = 0;
    int64_t only = getenv("GX_FAULTS_ONLY") ? atoll(getenv("GX_FAULTS_ONLY")) : 0;
    for (int64_t n = only ? only : 1; n <= total; n += only ? total : stride) {
        gx_diag_init(&d);
        int64_t live = gx_alloc_live();
        if (getenv("GX_FAULTS_VERBOSE")) fprintf(stderr, "%s: failing allocation %lld\n", name, (long long)n);
        gx_alloc_fail_at(n);
        st = path(&d);
        int hit = gx_alloc_failed();
        gx_alloc_fail_at(0);
        int64_t leaked = gx_alloc_live() - live;
        if (!hit) break;   /* the path made fewer allocations this time: it is done */
        int bad = 0;
        if (st != GX_ERR_NOMEM) {
            fprintf(stderr, "%s: allocation %lld of %lld failed: status %d, not GX_ERR_NOMEM: %s\n",
                    name, (long long)n, (long long)total, (int)st, d.msg);
            bad = 1;
        } else if (d.msg[0] == '\0') {
            fprintf(stderr, "%s: allocation %lld failed: no message\n", name, (long long)n);
            bad = 1;
        }
        if (leaked != 0) {
            fprintf(stderr, "%s: allocation %lld failed: %lld allocation(s) leaked\n", name,
                    (long long)n, (long long)leaked);
            bad = 1;
        }
        failures += bad;
        if (failures > 20) break;
    }
    fprintf(stderr, "%s: %lld allocations, each failed in turn (stride %lld): %d wrong\n", name,
            (long long)total, (long long)stride, failures);
    assert_int_equal(failures, 0);
    return total;
}

static void test_train_path(void **state) {
    (void)state;
    int64_t n = fail_every("parse + lower + autodiff + plan + train 2 steps + checkpoint",
                           train_path);
    assert_true(n > 100);
}

static void test_load_path(void **state) {
    (void)state;
    gx_diag d;
    gx_diag_init(&d);
    assert_int_equal(train_path(&d), GX_OK);   /* a checkpoint to read */
    int64_t n = fail_every("read checkpoint + lower + plan + run", load_path);
    assert_true(n > 20);
}

/* a failed allocation is one failure, not a stuck state: the next run works */
static void test_recovers(void **state) {
    (void)state;
    gx_diag d;
    gx_diag_init(&d);
    gx_alloc_fail_at(7);
    assert_int_equal(train_path(&d), GX_ERR_NOMEM);
    gx_diag_init(&d);
    assert_int_equal(train_path(&d), GX_OK);
}

int main(int argc, char **argv) {
    if (argc > 1) stride = atoll(argv[1]) > 0 ? atoll(argv[1]) : 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_train_path),
        cmocka_unit_test(test_load_path),
        cmocka_unit_test(test_recovers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
