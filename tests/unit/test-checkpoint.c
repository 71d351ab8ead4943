/*
 * test-checkpoint.c: checkpoints, and the optimizers whose state they hold.
 *
 * A checkpoint cut short at ANY byte, or with any byte of its header flipped, is refused with a
 * message and never crashes; the optimizers follow PyTorch's formulas (hand-computed steps);
 * the schedules and clipping do what their names say.
 */
#define _POSIX_C_SOURCE 200809L   /* mkdtemp */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* |a - b| <= tol, in double (cmocka's float assertion compares in float) */
#define assert_close(a, b, tol) assert_true(fabs((double)(a) - (double)(b)) <= (tol))

static gx_registry *reg;
static char dir[64];

/* a tiny model on a tiny text, trained 3 steps with a checkpoint */
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
    "    h = rnn_cell(x[t], h, W_ih, W_hh)\n    yield h\n}\n"
    "loss = cross_entropy(hs @ transpose(W_out), targets)\n"
    "output hT\n";

static void path_of(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", dir, name); }

static int make_checkpoint(void **state) {
    (void)state;
    char gpath[128], dpath[128], cpath[128];
    path_of(gpath, sizeof gpath, "tiny.graph");
    path_of(dpath, sizeof dpath, "text.txt");
    path_of(cpath, sizeof cpath, "tiny.ckpt");
    FILE *f = fopen(dpath, "w");
    if (f == NULL) return 1;
    for (int i = 0; i < 40; i++) fputs("abcd eabc ", f);
    fclose(f);
    gx_diag d;
    gx_diag_init(&d);
    gx_ast_module *m = NULL;
    if (gx_parse(graph_text, sizeof graph_text - 1, gpath, &m, &d) != GX_OK) return 1;
    gx_train_config c;
    gx_train_config_defaults(&c);
    c.steps = 3;
    c.data = dpath;
    c.checkpoint = cpath;
    c.backend = "cpu-scalar";
    gx_trainer *t = NULL;
    if (gx_trainer_new(reg, gpath, m, graph_text, sizeof graph_text - 1, &c, &t, &d) != GX_OK) {
        fprintf(stderr, "%s\n", d.msg);
        return 1;
    }
    gx_status st = gx_trainer_run(t, NULL, NULL, &d);
    gx_trainer_free(t);
    return st == GX_OK ? 0 : 1;
}

static unsigned char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len + 1);
    if (b && fread(b, 1, (size_t)len, f) != (size_t)len) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *n = (size_t)len;
    return b;
}

static void spit(const char *path, const unsigned char *b, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
}

static void test_reads_back(void **state) {
    (void)state;
    char cpath[128];
    path_of(cpath, sizeof cpath, "tiny.ckpt");
    gx_diag d;
    gx_diag_init(&d);
    gx_checkpoint *ck = NULL;
    assert_int_equal(gx_checkpoint_read(cpath, &ck, &d), GX_OK);
    assert_int_equal(ck->step, 3);
    assert_string_equal(ck->graph_name, "tiny");
    assert_string_equal(ck->graph_text, graph_text);
    assert_int_equal(ck->vocab.n, 6);   /* ' ' a b c d e */
    assert_int_equal(ck->vocab.syms[0], ' ');
    /* the stored graph rebuilds, with a dim overridden */
    gx_graph *g = NULL;
    gx_dim_binding one = {"B", 1};
    assert_int_equal(gx_checkpoint_graph(ck, reg, &one, 1, &g, &d), GX_OK);
    assert_int_equal(g->values[g->inputs[0].val].info.shape.dims[0], 1);
    gx_graph_free(g);
    gx_checkpoint_free(ck);
}

/* every prefix of the file is refused, with a message naming the file */
static void test_truncated_anywhere(void **state) {
    (void)state;
    char cpath[128], tpath[128];
    path_of(cpath, sizeof cpath, "tiny.ckpt");
    path_of(tpath, sizeof tpath, "cut.ckpt");
    size_t n = 0;
    unsigned char *b = slurp(cpath, &n);
    assert_non_null(b);
    assert_true(n > 100);
    for (size_t cut = 0; cut < n; cut++) {
        spit(tpath, b, cut);
        gx_diag d;
        gx_diag_init(&d);
        gx_checkpoint *ck = NULL;
        gx_status st = gx_checkpoint_read(tpath, &ck, &d);
        if (st == GX_OK) fail_msg("a checkpoint cut at byte %zu of %zu was accepted", cut, n);
        assert_null(ck);
        assert_non_null(strstr(d.msg, "cut.ckpt"));
    }
    free(b);
}

/* a flipped byte in the header (JSON, metadata, graph text) is refused or harmless */
static void test_corrupt_header(void **state) {
    (void)state;
    char cpath[128], tpath[128];
    path_of(cpath, sizeof cpath, "tiny.ckpt");
    path_of(tpath, sizeof tpath, "bad.ckpt");
    size_t n = 0;
    unsigned char *b = slurp(cpath, &n);
    assert_non_null(b);
    uint64_t hlen = 0;
    memcpy(&hlen, b, 8);
    assert_true(hlen + 8 <= n);
    int refused = 0;
    for (size_t i = 8; i < 8 + hlen; i += 7) {
        unsigned char keep = b[i];
        b[i] ^= 0x5a;
        spit(tpath, b, n);
        b[i] = keep;
        gx_diag d;
        gx_diag_init(&d);
        gx_checkpoint *ck = NULL;
        if (gx_checkpoint_read(tpath, &ck, &d) != GX_OK) {
            refused++;
            assert_true(d.msg[0] != '\0');
        }
        gx_checkpoint_free(ck);
    }
    assert_true(refused > 0);
    free(b);
}

/* ---- optimizers, by hand ---- */

static void test_adam_matches_formula(void **state) {
    (void)state;
    float w[1] = {1.0f}, g[1] = {0.5f};
    gx_optim_param p = {.name = "w", .dtype = GX_DTYPE_F32, .n = 1, .data = w, .grad = g};
    gx_optim_config c = gx_optim_defaults(GX_OPT_ADAM);
    c.lr = 0.1;
    gx_optim *o = NULL;
    gx_diag d;
    gx_diag_init(&d);
    assert_int_equal(gx_optim_new(&c, &p, 1, &o, &d), GX_OK);
    gx_optim_param_at(o, 0)->data = w;
    gx_optim_param_at(o, 0)->grad = g;
    gx_optim_step(o, 0.1);
    /* step 1: m = 0.05, v = 0.00025, mhat = 0.5, vhat = 0.25: w -= 0.1 * 0.5 / (0.5 + 1e-8) */
    assert_close(w[0], 1.0 - 0.1 * 0.5 / (0.5 + 1e-8), 1e-7);
    g[0] = -1.0f;
    gx_optim_step(o, 0.1);
    double m = 0.9 * 0.05 + 0.1 * -1.0, v = 0.999 * 0.00025 + 0.001 * 1.0;
    double mh = m / (1 - 0.81), vh = v / (1 - 0.999 * 0.999);
    assert_close(w[0], (1.0 - 0.1 * 0.5 / (0.5 + 1e-8)) - 0.1 * mh / (sqrt(vh) + 1e-8), 1e-6);
    gx_optim_free(o);
}

static void test_sgd_nesterov_and_decay(void **state) {
    (void)state;
    double w[2] = {1.0, -2.0}, g[2] = {0.1, 0.2};
    gx_optim_param p = {.name = "w", .dtype = GX_DTYPE_F64, .n = 2, .data = w, .grad = g};
    gx_optim_config c = gx_optim_defaults(GX_OPT_SGD);
    c.momentum = 0.9;
    c.nesterov = 1;
    c.weight_decay = 0.01;
    gx_optim *o = NULL;
    gx_diag d;
    gx_diag_init(&d);
    assert_int_equal(gx_optim_new(&c, &p, 1, &o, &d), GX_OK);
    gx_optim_step(o, 0.5);
    /* g' = g + wd w; buf = g'; update = g' + 0.9 buf = 1.9 g' */
    double g0 = 0.1 + 0.01 * 1.0, g1 = 0.2 + 0.01 * -2.0;
    assert_close(w[0], 1.0 - 0.5 * 1.9 * g0, 1e-15);
    assert_close(w[1], -2.0 - 0.5 * 1.9 * g1, 1e-15);
    gx_optim_free(o);
}

static void test_clip_and_schedules(void **state) {
    (void)state;
    double w[2] = {0, 0}, g[2] = {3.0, 4.0};
    gx_optim_param p = {.name = "w", .dtype = GX_DTYPE_F64, .n = 2, .data = w, .grad = g};
    gx_optim_config c = gx_optim_defaults(GX_OPT_SGD);
    gx_optim *o = NULL;
    gx_diag d;
    gx_diag_init(&d);
    assert_int_equal(gx_optim_new(&c, &p, 1, &o, &d), GX_OK);
    assert_close(gx_grad_global_norm(o), 5.0, 1e-15);
    gx_grad_scale(o, 1.0 / 5.0);
    assert_close(gx_grad_global_norm(o), 1.0, 1e-15);
    gx_grad_clamp(o, 0.7);
    assert_close(g[0], 0.6, 1e-15);
    assert_close(g[1], 0.7, 1e-15);
    gx_optim_free(o);
    gx_schedule s = {.kind = GX_SCHED_STEP, .every = 10, .gamma = 0.5, .warmup = 4};
    assert_close(gx_schedule_lr(&s, 1.0, 0), 0.25, 1e-15);
    assert_close(gx_schedule_lr(&s, 1.0, 3), 1.0, 1e-15);
    assert_close(gx_schedule_lr(&s, 1.0, 25), 0.25, 1e-15);
    gx_schedule cs = {.kind = GX_SCHED_COSINE, .total = 11, .min_lr = 0.1};
    assert_close(gx_schedule_lr(&cs, 1.0, 0), 1.0, 1e-15);
    assert_close(gx_schedule_lr(&cs, 1.0, 5), 0.55, 1e-12);
    assert_close(gx_schedule_lr(&cs, 1.0, 10), 0.1, 1e-15);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/gexec-ckpt.XXXXXX");
    if (mkdtemp(dir) == NULL) return 1;
    gx_diag d;
    gx_diag_init(&d);
    reg = gx_registry_new();
    if (reg == NULL || gx_registry_load_default(reg, NULL, &d) != GX_OK) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reads_back),
        cmocka_unit_test(test_truncated_anywhere),
        cmocka_unit_test(test_corrupt_header),
        cmocka_unit_test(test_adam_matches_formula),
        cmocka_unit_test(test_sgd_nesterov_and_decay),
        cmocka_unit_test(test_clip_and_schedules),
    };
    int rc = cmocka_run_group_tests(tests, make_checkpoint, NULL);
    gx_registry_free(reg);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) rc = rc ? rc : 1;
    return rc;
}
