/*
 * test-data.c: the three data set kinds against hand-computed batches. Text: vocabulary,
 * streams and targets on a tiny file, UTF-8 and bytes modes, splits, every open error with its
 * position, checkpoint vocabularies, encode/decode. JSONL: values, padding, mask/lengths,
 * shuffling (a permutation per epoch, deterministic), and each kind of malformed file. Tasks:
 * the structure of copy, parity and adding batches, determinism, spec errors; the seq2seq
 * tasks (reverse, sort): every field of every row, the training and held-out length ranges,
 * teacher forcing only in training, and the prompt hooks of gexec sample.
 * Fixtures are written into a mkdtemp directory under /tmp.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data-impl.h"

static char g_dir[64];

// ---- helpers ----

static const char *write_file(const char *name, const char *data, size_t n) {
    static char buf[8][256];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", g_dir, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
    return p;
}

static const char *write_str(const char *name, const char *s) {
    return write_file(name, s, strlen(s));
}

static gx_data_opts opts(int64_t B, int64_t T, double val_frac) {
    gx_data_opts o = {.val_frac = val_frac, .batch = B, .bptt = T, .seed = 1};
    return o;
}

static gx_dataset *open_ok(const char *path, const gx_data_opts *o) {
    gx_diag d;
    gx_diag_init(&d);
    gx_dataset *ds = NULL;
    gx_status st = gx_data_open(path, o, &ds, &d);
    if (st != GX_OK) print_error("unexpected error: %s\n", d.msg);
    assert_int_equal(st, GX_OK);
    assert_non_null(ds);
    return ds;
}

/* The message must contain every one of the NULL-terminated strings. */
static void assert_msg(const gx_diag *d, ...) {
    va_list ap;
    va_start(ap, d);
    for (const char *s = va_arg(ap, const char *); s; s = va_arg(ap, const char *)) {
        if (strstr(d->msg, s) == NULL) print_error("message '%s' lacks '%s'\n", d->msg, s);
        assert_non_null(strstr(d->msg, s));
    }
    va_end(ap);
}

/* Open must fail with status st and a message holding the given strings. */
#define OPEN_FAILS(path, o, st, ...)                                 \
    do {                                                             \
        gx_diag d_;                                                  \
        gx_diag_init(&d_);                                           \
        gx_dataset *ds_ = NULL;                                      \
        assert_int_equal(gx_data_open((path), (o), &ds_, &d_), st);  \
        assert_null(ds_);                                            \
        assert_msg(&d_, __VA_ARGS__, (const char *)NULL);            \
    } while (0)

static gx_tensor_info info2(gx_dtype dt, int64_t a, int64_t b) {
    gx_tensor_info i = {dt, {2, {a, b}}};
    return i;
}

static gx_status fill(gx_dataset *ds, gx_split s, uint64_t idx, const char *name,
                      gx_tensor_info info, void *dst, gx_diag *d) {
    gx_diag_init(d);
    return ds->vt->fill(ds, s, idx, name, &info, dst, d);
}

static void fill_ok(gx_dataset *ds, gx_split s, uint64_t idx, const char *name,
                    gx_tensor_info info, void *dst) {
    gx_diag d;
    gx_status st = fill(ds, s, idx, name, info, dst, &d);
    if (st != GX_OK) print_error("unexpected fill error: %s\n", d.msg);
    assert_int_equal(st, GX_OK);
}

static int32_t id_of(const gx_dataset *ds, char c) {
    return gx_vocab_id(gx_data_vocab(ds), (uint32_t)(unsigned char)c);
}

// ---- text ----

static void test_data_text_streams(void **state) {
    (void)state;
    const char *p = write_str("hello.txt", "hello world\n");
    gx_data_opts o = opts(2, 2, 0.0);
    gx_dataset *ds = open_ok(p, &o);
    assert_string_equal(ds->vt->kind, "text");
    const gx_vocab *v = gx_data_vocab(ds);
    assert_non_null(v);
    /* sorted distinct symbols: '\n' ' ' d e h l o r w */
    assert_int_equal(v->n, 9);
    const char *order = "\n dehlorw";
    for (int i = 0; i < 9; i++) assert_int_equal(v->syms[i], (uint32_t)order[i]);
    assert_int_equal(ds->vt->n_binds(ds), 1);
    assert_string_equal(ds->vt->bind(ds, 0).name, "V");
    assert_int_equal(ds->vt->bind(ds, 0).value, 9);
    assert_int_equal(ds->vt->n_fields(ds), 2);
    gx_data_field f = ds->vt->field(ds, 1);
    assert_string_equal(f.name, "targets");
    assert_int_equal(f.dtype, GX_DTYPE_I32);
    assert_int_equal(f.shape.ndim, 2);
    assert_int_equal(f.shape.dims[0], 2);
    assert_int_equal(f.shape.dims[1], 2);
    assert_int_equal(ds->vt->stateful(ds), 1);
    /* N = 12, L = 6: streams "hello " and "world\n", (6 - 1) / 2 = 2 batches */
    assert_int_equal(ds->vt->n_batches(ds, GX_SPLIT_TRAIN), 2);
    assert_int_equal(ds->vt->n_batches(ds, GX_SPLIT_VAL), 0);
    int32_t tok[4], tgt[4];
    const char *want_tok[2] = {"hewo", "llrl"}, *want_tgt[2] = {"elor", "lold"};
    for (uint64_t k = 0; k < 3; k++) {   /* index 2 wraps to batch 0 */
        fill_ok(ds, GX_SPLIT_TRAIN, k, "tokens", info2(GX_DTYPE_I32, 2, 2), tok);
        fill_ok(ds, GX_SPLIT_TRAIN, k, "targets", info2(GX_DTYPE_I32, 2, 2), tgt);
        for (int i = 0; i < 4; i++) {
            assert_int_equal(tok[i], id_of(ds, want_tok[k % 2][i]));
            assert_int_equal(tgt[i], id_of(ds, want_tgt[k % 2][i]));
        }
    }
    assert_int_equal(tok[0], 4);   /* 'h' is symbol 4 */
    assert_int_equal(tgt[3], 7);   /* 'r' is symbol 7 */
    gx_diag d;
    assert_int_equal(fill(ds, GX_SPLIT_TRAIN, 0, "words", info2(GX_DTYPE_I32, 2, 2), tok, &d),
                     GX_ERR_NOT_FOUND);
    assert_msg(&d, "no field 'words'", "tokens", NULL);
    assert_int_equal(fill(ds, GX_SPLIT_TRAIN, 0, "tokens", info2(GX_DTYPE_I32, 2, 3), tok, &d),
                     GX_ERR_SHAPE);
    assert_msg(&d, "'tokens'", "i32[2, 3]", "i32[2, 2]", NULL);
    assert_int_equal(fill(ds, GX_SPLIT_TRAIN, 0, "tokens", info2(GX_DTYPE_F32, 2, 2), tok, &d),
                     GX_ERR_DTYPE);
    gx_data_free(ds);
}

static void test_data_text_splits(void **state) {
    (void)state;
    const char *p = write_str("hello.txt", "hello world\n");
    /* half: train "hello " (L = 3, 1 batch), validation "world\n" */
    gx_data_opts o = opts(2, 2, 0.5);
    gx_dataset *ds = open_ok(p, &o);
    assert_int_equal(ds->vt->n_batches(ds, GX_SPLIT_TRAIN), 1);
    assert_int_equal(ds->vt->n_batches(ds, GX_SPLIT_VAL), 1);
    int32_t tok[4], tgt[4];
    fill_ok(ds, GX_SPLIT_VAL, 0, "tokens", info2(GX_DTYPE_I32, 2, 2), tok);
    fill_ok(ds, GX_SPLIT_VAL, 0, "targets", info2(GX_DTYPE_I32, 2, 2), tgt);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(tok[i], id_of(ds, "wold"[i]));
        assert_int_equal(tgt[i], id_of(ds, "ord\n"[i]));
    }
    gx_data_free(ds);
    /* val_frac 0.1 leaves 2 tokens: too few for a batch, so no validation, not an error */
    o = opts(2, 2, 0.1);
    ds = open_ok(p, &o);
    assert_int_equal(ds->vt->n_batches(ds, GX_SPLIT_TRAIN), 2);
    assert_int_equal(ds->vt->n_batches(ds, GX_SPLIT_VAL), 0);
    gx_data_free(ds);
    /* val_frac 1: everything is validation (gexec eval) */
    o = opts(2, 2, 1.0);
    ds = open_ok(p, &o);
    assert_int_equal(ds->vt->n_batches(ds, GX_SPLIT_TRAIN), 0);
    assert_int_equal(ds->vt->n_batches(ds, GX_SPLIT_VAL), 2);
    fill_ok(ds, GX_SPLIT_VAL, 1, "tokens", info2(GX_DTYPE_I32, 2, 2), tok);
    for (int i = 0; i < 4; i++) assert_int_equal(tok[i], id_of(ds, "llrl"[i]));
    gx_diag d;
    assert_int_equal(fill(ds, GX_SPLIT_TRAIN, 0, "tokens", info2(GX_DTYPE_I32, 2, 2), tok, &d),
                     GX_ERR_INVALID);
    assert_msg(&d, "training split", NULL);
    gx_data_free(ds);
}

static void test_data_text_utf8(void **state) {
    (void)state;
    /* a (1 byte) ñ (2) € (3) 😀 (4) a ñ */
    const char *p = write_str("utf8.txt", "a\xC3\xB1\xE2\x82\xAC\xF0\x9F\x98\x80" "a\xC3\xB1");
    gx_data_opts o = opts(1, 4, 0.0);
    gx_dataset *ds = open_ok(p, &o);
    const gx_vocab *v = gx_data_vocab(ds);
    assert_int_equal(v->n, 4);
    assert_int_equal(v->bytes, 0);
    assert_int_equal(v->syms[0], 0x61);
    assert_int_equal(v->syms[1], 0xF1);
    assert_int_equal(v->syms[2], 0x20AC);
    assert_int_equal(v->syms[3], 0x1F600);
    assert_int_equal(ds->vt->n_batches(ds, GX_SPLIT_TRAIN), 1);   /* 6 symbols: (6-1)/4 */
    int32_t tok[4], tgt[4];
    fill_ok(ds, GX_SPLIT_TRAIN, 0, "tokens", info2(GX_DTYPE_I32, 1, 4), tok);
    fill_ok(ds, GX_SPLIT_TRAIN, 0, "targets", info2(GX_DTYPE_I32, 1, 4), tgt);
    const int32_t wt[4] = {0, 1, 2, 3}, wg[4] = {1, 2, 3, 0};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(tok[i], wt[i]);
        assert_int_equal(tgt[i], wg[i]);
    }
    char out[4];
    assert_int_equal(gx_vocab_decode(v, 3, out), 4);
    assert_memory_equal(out, "\xF0\x9F\x98\x80", 4);
    assert_int_equal(gx_vocab_decode(v, 4, out), 0);
    assert_int_equal(gx_vocab_decode(v, -1, out), 0);
    gx_data_free(ds);
}

static void test_data_text_bytes(void **state) {
    (void)state;
    /* bytes mode takes anything, NULs and invalid UTF-8 included */
    const char data[] = {'b', 0, (char)0xFF, 'b', (char)0xC3, 'a', 0, 'b'};
    const char *p = write_file("bin.dat", data, sizeof data);
    gx_data_opts o = opts(2, 2, 0.0);
    o.bytes = 1;
    gx_dataset *ds = open_ok(p, &o);
    const gx_vocab *v = gx_data_vocab(ds);
    assert_int_equal(v->bytes, 1);
    assert_int_equal(v->n, 5);   /* 0x00 'a' 'b' 0xC3 0xFF */
    const uint32_t want[5] = {0x00, 'a', 'b', 0xC3, 0xFF};
    for (int i = 0; i < 5; i++) assert_int_equal(v->syms[i], want[i]);
    /* L = 4, 1 batch of T = 2: streams "b\0\xFFb" and "\xC3" "a\0b" */
    int32_t tok[4];
    fill_ok(ds, GX_SPLIT_TRAIN, 0, "tokens", info2(GX_DTYPE_I32, 2, 2), tok);
    assert_int_equal(tok[0], 2);
    assert_int_equal(tok[1], 0);
    assert_int_equal(tok[2], 3);
    assert_int_equal(tok[3], 1);
    char out[4];
    assert_int_equal(gx_vocab_decode(v, 4, out), 1);
    assert_int_equal((unsigned char)out[0], 0xFF);
    gx_data_free(ds);
}

static void test_data_text_errors(void **state) {
    (void)state;
    gx_data_opts o = opts(2, 2, 0.0);
    char missing[256];
    snprintf(missing, sizeof missing, "%s/nope.txt", g_dir);
    OPEN_FAILS(missing, &o, GX_ERR_IO, "nope.txt: error: cannot open", "No such file");
    const char *p = write_str("empty.txt", "");
    OPEN_FAILS(p, &o, GX_ERR_INVALID, "empty.txt: error:", "empty");
    /* NUL on line 2, column 3 */
    p = write_file("nul.txt", "ab\ncd\0e", 7);
    OPEN_FAILS(p, &o, GX_ERR_FORMAT, "nul.txt:2:3: error:", "NUL", "binary", "bytes = 1",
               "--bytes");
    /* 0xFF after a 2-byte é: line 2, column 3 counts characters, byte offset 6 */
    p = write_str("bad.txt", "ab\nx\xC3\xA9\xFFz");
    OPEN_FAILS(p, &o, GX_ERR_FORMAT, "bad.txt:2:3: error:", "invalid UTF-8", "0xff",
               "offset 6", "--bytes");
    /* a truncated sequence at the end is invalid too */
    p = write_str("trunc.txt", "abc\xE2\x82");
    OPEN_FAILS(p, &o, GX_ERR_FORMAT, "trunc.txt:1:4: error:", "invalid UTF-8");
    /* 10 characters; 4 streams of 3 + 1 need 16 */
    p = write_str("short.txt", "abcdefghij");
    gx_data_opts o2 = opts(4, 3, 0.0);
    OPEN_FAILS(p, &o2, GX_ERR_INVALID, "short.txt: error:", "too short", "10 characters",
               "4 streams of 3 + 1", "need 16");
    o2.val_frac = 0.2;
    OPEN_FAILS(p, &o2, GX_ERR_INVALID, "8 of them for training", "need 16");
    gx_data_opts o3 = opts(2, 0, 0.0);
    OPEN_FAILS(p, &o3, GX_ERR_INVALID, "short.txt: error:", "bptt");
    gx_data_opts o4 = opts(0, 2, 0.0);
    OPEN_FAILS(p, &o4, GX_ERR_INVALID, "batch size");
    gx_data_opts o5 = opts(1, 2, 1.5);
    OPEN_FAILS(p, &o5, GX_ERR_INVALID, "validation fraction");
}

static void test_data_text_checkpoint_vocab(void **state) {
    (void)state;
    uint32_t syms[4] = {'\n', 'a', 'b', 'c'};
    gx_vocab v = {4, syms, 0};
    gx_data_opts o = opts(1, 2, 0.0);
    o.vocab = &v;
    const char *p = write_str("ok.txt", "cab\nba");
    gx_dataset *ds = open_ok(p, &o);
    assert_int_equal(ds->vt->bind(ds, 0).value, 4);   /* the checkpoint's V, not the file's */
    int32_t tok[2];
    fill_ok(ds, GX_SPLIT_TRAIN, 1, "tokens", info2(GX_DTYPE_I32, 1, 2), tok);
    assert_int_equal(tok[0], 2);   /* 'b' */
    assert_int_equal(tok[1], 0);   /* '\n' */
    assert_int_not_equal(gx_data_vocab(ds)->syms, syms);   /* a copy */
    gx_data_free(ds);
    p = write_str("new.txt", "abc\nabd\n");
    OPEN_FAILS(p, &o, GX_ERR_NOT_FOUND, "new.txt:2:3: error:", "'d'", "U+0064",
               "checkpoint's vocabulary");
    o.bytes = 1;
    OPEN_FAILS(p, &o, GX_ERR_INVALID, "checkpoint's vocabulary", "bytes");
    gx_vocab none = {0, NULL, 0};
    o.bytes = 0;
    o.vocab = &none;
    OPEN_FAILS(p, &o, GX_ERR_INVALID, "new.txt: error:", "no vocabulary");
}

static void test_data_vocab_encode_decode(void **state) {
    (void)state;
    const char *text = "h\xC3\xA9llo \xE2\x82\xAC\xF0\x9F\x98\x80!";
    const char *p = write_str("enc.txt", text);
    gx_data_opts o = opts(1, 2, 0.0);
    gx_dataset *ds = open_ok(p, &o);
    const gx_vocab *v = gx_data_vocab(ds);
    size_t len = strlen(text), n = 0;
    int32_t ids[32];
    gx_diag d;
    gx_diag_init(&d);
    assert_int_equal(gx_vocab_encode(v, text, len, ids, &n, &d), GX_OK);
    assert_int_equal(n, 9);
    char back[64];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += (size_t)gx_vocab_decode(v, ids[i], back + k);
    assert_int_equal(k, len);
    assert_memory_equal(back, text, len);
    assert_int_equal(gx_vocab_id(v, 'z'), -1);
    assert_int_equal(gx_vocab_id(v, 0x20AC), ids[6]);
    /* 'z' at byte offset 2 */
    assert_int_equal(gx_vocab_encode(v, "hlz", 3, ids, &n, &d), GX_ERR_NOT_FOUND);
    assert_msg(&d, "'z'", "offset 2", "not in the vocabulary", NULL);
    gx_diag_init(&d);
    assert_int_equal(gx_vocab_encode(v, "h\xFF", 2, ids, &n, &d), GX_ERR_INVALID);
    assert_msg(&d, "invalid UTF-8", "offset 1", NULL);
    gx_data_free(ds);
    assert_null(gx_data_vocab(NULL));
}

// ---- jsonl ----

static const char *k_good =
    "{\"tokens\": [1, 2, 3], \"label\": 0, \"feat\": [0.5, 1.5]}\n"
    "{\"tokens\": [4, 5], \"label\": 1, \"feat\": [2.5, 3.5]}\n"
    "\n"
    "  {\"label\": 2, \"tokens\": [6], \"feat\": [4.5, 5.5]}\r\n"
    "{\"tokens\": [7, 8, 9, 10], \"label\": 3, \"feat\": [6.5, 7.5]}\n";

/* tokens, feat and the length of example `label` */
static const int32_t g_len[4] = {3, 2, 1, 4};
static const int32_t g_tok[4][4] = {{1, 2, 3}, {4, 5}, {6}, {7, 8, 9, 10}};

/* Check one filled batch (B = 2, T = 5) row by row against the file; returns the labels. */
static void check_jsonl_batch(gx_dataset *ds, gx_split s, uint64_t idx, int32_t *labels) {
    int32_t lab[2], tok[10], lens[2];
    float tokf[10], mask[10], feat[4];
    gx_tensor_info lab_i = {GX_DTYPE_I32, {1, {2}}};
    fill_ok(ds, s, idx, "label", lab_i, lab);
    fill_ok(ds, s, idx, "tokens", info2(GX_DTYPE_I32, 2, 5), tok);
    fill_ok(ds, s, idx, "tokens", info2(GX_DTYPE_F32, 2, 5), tokf);   /* integers feed f32 too */
    fill_ok(ds, s, idx, "mask", info2(GX_DTYPE_F32, 2, 5), mask);
    fill_ok(ds, s, idx, "lengths", lab_i, lens);
    fill_ok(ds, s, idx, "feat", info2(GX_DTYPE_F32, 2, 2), feat);
    for (int b = 0; b < 2; b++) {
        int32_t e = lab[b];
        assert_in_range(e, 0, 3);
        labels[b] = e;
        assert_int_equal(lens[b], g_len[e]);
        for (int t = 0; t < 5; t++) {
            int32_t want = t < g_len[e] ? g_tok[e][t] : 0;
            assert_int_equal(tok[b * 5 + t], want);
            assert_true(tokf[b * 5 + t] == (float)want);
            assert_true(mask[b * 5 + t] == (t < g_len[e] ? 1.0f : 0.0f));
        }
        assert_true(feat[b * 2] == 0.5f + 2.0f * (float)e);
        assert_true(feat[b * 2 + 1] == 1.5f + 2.0f * (float)e);
    }
}

static void test_data_jsonl_good(void **state) {
    (void)state;
    const char *p = write_str("good.jsonl", k_good);
    gx_data_opts o = opts(2, 0, 0.0);
    gx_dataset *ds = open_ok(p, &o);
    assert_string_equal(ds->vt->kind, "jsonl");
    assert_null(gx_data_vocab(ds));
    assert_int_equal(ds->vt->stateful(ds), 0);
    assert_int_equal(ds->vt->n_binds(ds), 1);
    assert_string_equal(ds->vt->bind(ds, 0).name, "T");
    assert_int_equal(ds->vt->bind(ds, 0).value, 4);
    /* tokens, label, feat (first line's order) + synthetic mask and lengths */
    assert_int_equal(ds->vt->n_fields(ds), 5);
    gx_data_field f = ds->vt->field(ds, 0);
    assert_string_equal(f.name, "tokens");
    assert_int_equal(f.dtype, GX_DTYPE_I32);
    assert_int_equal(f.shape.ndim, 2);
    assert_int_equal(f.shape.dims[1], -1);
    f = ds->vt->field(ds, 2);
    assert_string_equal(f.name, "feat");
    assert_int_equal(f.dtype, GX_DTYPE_F32);
    assert_int_equal(f.shape.dims[1], 2);   /* a fixed vector: same length everywhere */
    f = ds->vt->field(ds, 1);
    assert_int_equal(f.shape.ndim, 1);
    assert_string_equal(ds->vt->field(ds, 3).name, "mask");
    assert_string_equal(ds->vt->field(ds, 4).name, "lengths");
    assert_int_equal(ds->vt->n_batches(ds, GX_SPLIT_TRAIN), 2);
    assert_int_equal(ds->vt->n_batches(ds, GX_SPLIT_VAL), 0);

    /* every epoch is a permutation of the 4 examples; record the orders of 8 epochs */
    int32_t order[8][4];
    for (int e = 0; e < 8; e++) {
        int seen[4] = {0};
        for (int k = 0; k < 2; k++) {
            check_jsonl_batch(ds, GX_SPLIT_TRAIN, (uint64_t)(e * 2 + k), &order[e][k * 2]);
            seen[order[e][k * 2]]++;
            seen[order[e][k * 2 + 1]]++;
        }
        for (int i = 0; i < 4; i++) assert_int_equal(seen[i], 1);
    }
    int differ = 0;
    for (int e = 1; e < 8; e++) differ |= memcmp(order[e], order[0], sizeof order[0]) != 0;
    assert_true(differ);   /* 8 identical orders out of 24 would be a 1 in 24^7 chance */
    /* deterministic: a fresh open with the same seed, batches asked out of order */
    gx_dataset *ds2 = open_ok(p, &o);
    for (int e = 7; e >= 0; e--) {
        int32_t lab[2];
        check_jsonl_batch(ds2, GX_SPLIT_TRAIN, (uint64_t)(e * 2 + 1), lab);
        assert_memory_equal(lab, &order[e][2], sizeof lab);
    }
    gx_data_free(ds2);

    /* a non-integer into an i32 input names the line and the field */
    int32_t buf[10];
    gx_diag d;
    assert_int_equal(fill(ds, GX_SPLIT_TRAIN, 0, "feat", info2(GX_DTYPE_I32, 2, 2), buf, &d),
                     GX_ERR_DTYPE);
    assert_msg(&d, "good.jsonl:1:35: error:", "'feat'", "0.5", "i32", NULL);
    /* a list where the graph wants a number per example */
    gx_tensor_info b_only = {GX_DTYPE_I32, {1, {2}}};
    assert_int_equal(fill(ds, GX_SPLIT_TRAIN, 0, "tokens", b_only, buf, &d), GX_ERR_SHAPE);
    assert_msg(&d, "graph input 'tokens' is i32[2]", "a number per example", "a list", NULL);
    assert_int_equal(fill(ds, GX_SPLIT_TRAIN, 0, "label", info2(GX_DTYPE_I32, 2, 3), buf, &d),
                     GX_ERR_SHAPE);
    assert_msg(&d, "i32[2, 3]", "is a number", NULL);
    assert_int_equal(fill(ds, GX_SPLIT_TRAIN, 0, "lable", b_only, buf, &d), GX_ERR_NOT_FOUND);
    assert_msg(&d, "no field 'lable'", "did you mean 'label'", "mask, lengths", NULL);
    gx_data_free(ds);

    /* validation: the last ceil(0.5 * 4) = 2 examples, in file order */
    o = opts(2, 0, 0.5);
    ds = open_ok(p, &o);
    assert_int_equal(ds->vt->n_batches(ds, GX_SPLIT_TRAIN), 1);
    assert_int_equal(ds->vt->n_batches(ds, GX_SPLIT_VAL), 1);
    int32_t lab[2];
    check_jsonl_batch(ds, GX_SPLIT_VAL, 3, lab);
    assert_int_equal(lab[0], 2);
    assert_int_equal(lab[1], 3);
    /* the longest sequence (line 5, 4 values) does not fit a graph T of 3 */
    assert_int_equal(fill(ds, GX_SPLIT_VAL, 0, "tokens", info2(GX_DTYPE_I32, 2, 3), buf, &d),
                     GX_ERR_SHAPE);
    assert_msg(&d, "good.jsonl:5:2: error:", "'tokens'", "length 4", "the 3", NULL);
    assert_int_equal(fill(ds, GX_SPLIT_VAL, 0, "mask", info2(GX_DTYPE_F32, 2, 3), buf, &d),
                     GX_ERR_SHAPE);
    assert_msg(&d, ":5:", "length 4", "'mask'", NULL);
    gx_data_free(ds);
}

static void test_data_jsonl_lists(void **state) {
    (void)state;
    /* a sequence of vectors [T, 2] and a float target; mask given by the file */
    const char *p = write_str("vec.jsonl",
                              "{\"x\": [[1, 2], [3, 4.5]], \"y\": 0.25, \"mask\": [1, 1, 0]}\n"
                              "{\"x\": [[5, 6]], \"y\": 1, \"mask\": [1, 0, 0]}\n");
    gx_data_opts o = opts(2, 0, 1.0);
    gx_dataset *ds = open_ok(p, &o);
    /* x, y, mask; no synthetic mask (the file has one), but a synthetic lengths */
    assert_int_equal(ds->vt->n_fields(ds), 4);
    assert_string_equal(ds->vt->field(ds, 3).name, "lengths");
    gx_data_field f = ds->vt->field(ds, 0);
    assert_int_equal(f.shape.ndim, 3);
    assert_int_equal(f.shape.dims[2], 2);
    assert_int_equal(ds->vt->bind(ds, 0).value, 2);   /* T from x, the sequence */
    float x[12];
    gx_tensor_info xi = {GX_DTYPE_F32, {3, {2, 3, 2}}};
    fill_ok(ds, GX_SPLIT_VAL, 0, "x", xi, x);
    const float want[12] = {1, 2, 3, 4.5f, 0, 0, 5, 6, 0, 0, 0, 0};
    for (int i = 0; i < 12; i++) assert_true(x[i] == want[i]);
    double y[2];
    gx_tensor_info yi = {GX_DTYPE_F64, {1, {2}}};
    fill_ok(ds, GX_SPLIT_VAL, 0, "y", yi, y);
    assert_true(y[0] == 0.25 && y[1] == 1.0);
    gx_diag d;
    gx_tensor_info bad = {GX_DTYPE_F32, {3, {2, 3, 3}}};
    assert_int_equal(fill(ds, GX_SPLIT_VAL, 0, "x", bad, x, &d), GX_ERR_SHAPE);
    assert_msg(&d, "vec.jsonl:1:2: error:", "f32[2, 3, 3]", "a list of lists of 2 values", NULL);
    gx_data_free(ds);
}

static void test_data_jsonl_errors(void **state) {
    (void)state;
    gx_data_opts o = opts(1, 0, 0.0);
    const char *p = write_str("syntax.jsonl", "{\"a\": 1}\n{\"a\": 2}\n{\"a\": [1, 2,, 3]}\n");
    OPEN_FAILS(p, &o, GX_ERR_PARSE, "syntax.jsonl:3:", "invalid JSON");
    p = write_str("open.jsonl", "{\"a\": 1}\n\n{\"a\": [1, 2\n{\"a\": 3}\n");
    OPEN_FAILS(p, &o, GX_ERR_PARSE, "open.jsonl:3:12: error:", "ends inside a value");
    p = write_str("latin1.jsonl", "{\"a\": 1}\n{\"a\": \xe9}\n");
    OPEN_FAILS(p, &o, GX_ERR_PARSE, "latin1.jsonl:2:7: error:", "invalid JSON at byte 0xe9");
    p = write_str("trail.jsonl", "{\"a\": 1} x\n");
    OPEN_FAILS(p, &o, GX_ERR_PARSE, "trail.jsonl:1:10: error:", "unexpected text");
    p = write_str("keys.jsonl", "{\"a\": 1, \"b\": 2}\n{\"a\": 1, \"c\": 2}\n");
    OPEN_FAILS(p, &o, GX_ERR_FORMAT, "keys.jsonl:2:10: error:", "'c'", "not on line 1");
    p = write_str("missing.jsonl", "{\"a\": 1, \"b\": 2}\n{\"a\": 1}\n");
    OPEN_FAILS(p, &o, GX_ERR_FORMAT, "missing.jsonl:2:", "'b' is missing");
    p = write_str("dup.jsonl", "{\"a\": 1, \"a\": 2}\n");
    OPEN_FAILS(p, &o, GX_ERR_FORMAT, "dup.jsonl:1:", "twice");
    p = write_str("kind.jsonl", "{\"a\": 1}\n{\"a\": [1]}\n");
    OPEN_FAILS(p, &o, GX_ERR_FORMAT, "kind.jsonl:2:2: error:", "'a' is a list here",
               "a number on earlier lines");
    p = write_str("inner.jsonl", "{\"x\": [[1, 2]]}\n{\"x\": [[1, 2], [3]]}\n");
    OPEN_FAILS(p, &o, GX_ERR_SHAPE, "inner.jsonl:2:", "row 1 has 1 values", "have 2");
    p = write_str("str.jsonl", "{\"a\": 1, \"s\": \"hi\"}\n");
    OPEN_FAILS(p, &o, GX_ERR_FORMAT, "str.jsonl:1:10: error:", "'s' is a string");
    p = write_str("mixed.jsonl", "{\"a\": [1, [2]]}\n");
    OPEN_FAILS(p, &o, GX_ERR_FORMAT, "mixed.jsonl:1:", "element 1 is not a number");
    p = write_str("array.jsonl", "[1, 2]\n");
    OPEN_FAILS(p, &o, GX_ERR_FORMAT, "array.jsonl:1:", "JSON object");
    p = write_str("blank.jsonl", "\n  \n");
    OPEN_FAILS(p, &o, GX_ERR_INVALID, "blank.jsonl: error:", "no examples");
    p = write_str("few.jsonl", "{\"a\": 1}\n{\"a\": 2}\n{\"a\": 3}\n");
    gx_data_opts o8 = opts(8, 0, 0.0);
    OPEN_FAILS(p, &o8, GX_ERR_INVALID, "few.jsonl: error:", "training split has 3 examples",
               "batch of 8");
    gx_data_opts o2 = opts(2, 0, 0.5);   /* 3 lines: 2 validation, 1 training */
    OPEN_FAILS(p, &o2, GX_ERR_INVALID, "training split has 1 examples");
    char missing[256];
    snprintf(missing, sizeof missing, "%s/none.jsonl", g_dir);
    OPEN_FAILS(missing, &o, GX_ERR_IO, "none.jsonl: error: cannot open");
}

// ---- tasks ----

static gx_dataset *task_ok(const char *spec, int64_t B, uint64_t seed) {
    gx_data_opts o = opts(B, 99, 0.0);   /* bptt is ignored by tasks */
    o.seed = seed;
    gx_diag d;
    gx_diag_init(&d);
    gx_dataset *ds = NULL;
    gx_status st = gx_data_task(spec, &o, &ds, &d);
    if (st != GX_OK) print_error("unexpected error: %s\n", d.msg);
    assert_int_equal(st, GX_OK);
    return ds;
}

static void test_data_task_copy(void **state) {
    (void)state;
    gx_dataset *ds = task_ok("copy:length=3,symbols=4,gap=5", 4, 7);
    assert_string_equal(ds->vt->kind, "task");
    assert_int_equal(ds->vt->bind(ds, 0).value, 11);   /* T = 3 + 5 + 3 */
    assert_string_equal(ds->vt->bind(ds, 1).name, "V");
    assert_int_equal(ds->vt->bind(ds, 1).value, 6);
    assert_int_equal(ds->vt->n_batches(ds, GX_SPLIT_TRAIN), 1000);
    assert_int_equal(ds->vt->n_batches(ds, GX_SPLIT_VAL), 8);
    assert_int_equal(ds->vt->stateful(ds), 0);
    int32_t tok[44], tgt[44];
    float mask[44];
    fill_ok(ds, GX_SPLIT_TRAIN, 17, "tokens", info2(GX_DTYPE_I32, 4, 11), tok);
    fill_ok(ds, GX_SPLIT_TRAIN, 17, "targets", info2(GX_DTYPE_I32, 4, 11), tgt);
    fill_ok(ds, GX_SPLIT_TRAIN, 17, "mask", info2(GX_DTYPE_F32, 4, 11), mask);
    int distinct = 0;
    for (int b = 0; b < 4; b++) {
        const int32_t *x = tok + b * 11, *y = tgt + b * 11;
        for (int t = 0; t < 3; t++) assert_in_range(x[t], 1, 4);
        for (int t = 3; t < 7; t++) assert_int_equal(x[t], 0);   /* gap - 1 blanks */
        assert_int_equal(x[7], 5);                                /* the go marker */
        for (int t = 8; t < 11; t++) assert_int_equal(x[t], 0);
        for (int t = 0; t < 8; t++) {
            assert_int_equal(y[t], -1);
            assert_true(mask[b * 11 + t] == 0.0f);
        }
        for (int t = 0; t < 3; t++) {
            assert_int_equal(y[8 + t], x[t]);
            assert_true(mask[b * 11 + 8 + t] == 1.0f);
        }
        distinct |= memcmp(x, tok, 3 * sizeof *x) != 0;
    }
    assert_true(distinct);   /* rows are different examples */
    gx_diag d;
    assert_int_equal(fill(ds, GX_SPLIT_TRAIN, 0, "tokens", info2(GX_DTYPE_I32, 4, 10), tok, &d),
                     GX_ERR_SHAPE);
    assert_msg(&d, "'tokens' is i32[4, 10]", "task copy gives i32[4, 11]", NULL);
    assert_int_equal(fill(ds, GX_SPLIT_TRAIN, 0, "x", info2(GX_DTYPE_I32, 4, 11), tok, &d),
                     GX_ERR_NOT_FOUND);
    assert_msg(&d, "no field 'x'", "tokens, targets, mask", NULL);
    gx_data_free(ds);
    ds = task_ok("copy", 1, 0);   /* defaults: length 5, symbols 8, gap 20 */
    assert_int_equal(ds->vt->bind(ds, 0).value, 30);
    assert_int_equal(ds->vt->bind(ds, 1).value, 10);
    gx_data_free(ds);
}

static void test_data_task_parity(void **state) {
    (void)state;
    gx_dataset *ds = task_ok("parity:length=7", 32, 3);
    assert_int_equal(ds->vt->bind(ds, 0).value, 7);
    assert_string_equal(ds->vt->bind(ds, 1).name, "I");
    assert_int_equal(ds->vt->bind(ds, 1).value, 1);
    float x[32 * 7];
    int32_t label[32];
    gx_tensor_info xi = {GX_DTYPE_F32, {3, {32, 7, 1}}}, li = {GX_DTYPE_I32, {1, {32}}};
    fill_ok(ds, GX_SPLIT_VAL, 2, "x", xi, x);
    fill_ok(ds, GX_SPLIT_VAL, 2, "label", li, label);
    int ones = 0;
    for (int b = 0; b < 32; b++) {
        int p = 0;
        for (int t = 0; t < 7; t++) {
            float v = x[b * 7 + t];
            assert_true(v == 0.0f || v == 1.0f);
            p ^= v == 1.0f;
        }
        assert_int_equal(label[b], p);
        ones += p;
    }
    assert_in_range(ones, 1, 31);   /* both classes occur */
    gx_data_free(ds);
}

static void test_data_task_adding(void **state) {
    (void)state;
    gx_dataset *ds = task_ok("adding:length=10", 16, 5);
    assert_int_equal(ds->vt->bind(ds, 0).value, 10);
    assert_int_equal(ds->vt->bind(ds, 1).value, 2);
    float x[16 * 10 * 2], y[16];
    gx_tensor_info xi = {GX_DTYPE_F32, {3, {16, 10, 2}}}, yi = {GX_DTYPE_F32, {1, {16}}};
    fill_ok(ds, GX_SPLIT_TRAIN, 123456, "x", xi, x);
    fill_ok(ds, GX_SPLIT_TRAIN, 123456, "y", yi, y);
    for (int b = 0; b < 16; b++) {
        int first = 0, second = 0;
        float sum = 0.0f;
        for (int t = 0; t < 10; t++) {
            float v = x[(b * 10 + t) * 2], m = x[(b * 10 + t) * 2 + 1];
            assert_true(v >= 0.0f && v < 1.0f);
            assert_true(m == 0.0f || m == 1.0f);
            if (m == 1.0f) {
                if (t < 5) first++;
                else second++;
                sum += v;
            }
        }
        assert_int_equal(first, 1);
        assert_int_equal(second, 1);
        assert_true(y[b] == sum);   /* exact: values sit on a 2^-23 grid */
    }
    gx_data_free(ds);
}

static void test_data_task_determinism(void **state) {
    (void)state;
    gx_dataset *a = task_ok("copy:length=6", 8, 42), *b = task_ok("copy:length=6", 8, 42);
    gx_dataset *c = task_ok("copy:length=6", 8, 43);
    enum { N = 8 * 32 };
    int32_t x[N], y[N];
    gx_tensor_info ti = info2(GX_DTYPE_I32, 8, 32);
    fill_ok(a, GX_SPLIT_TRAIN, 5, "tokens", ti, x);
    fill_ok(b, GX_SPLIT_TRAIN, 5, "tokens", ti, y);
    assert_memory_equal(x, y, sizeof x);   /* same seed and index: same batch */
    fill_ok(a, GX_SPLIT_TRAIN, 6, "tokens", ti, y);
    assert_memory_not_equal(x, y, sizeof x);
    fill_ok(a, GX_SPLIT_VAL, 5, "tokens", ti, y);
    assert_memory_not_equal(x, y, sizeof x);
    fill_ok(c, GX_SPLIT_TRAIN, 5, "tokens", ti, y);
    assert_memory_not_equal(x, y, sizeof x);
    fill_ok(a, GX_SPLIT_TRAIN, 5, "tokens", ti, y);   /* asking again changes nothing */
    assert_memory_equal(x, y, sizeof x);
    fill_ok(a, GX_SPLIT_VAL, 3, "tokens", ti, x);    /* validation wraps at 8 batches */
    fill_ok(b, GX_SPLIT_VAL, 11, "tokens", ti, y);
    assert_memory_equal(x, y, sizeof x);
    gx_data_free(a);
    gx_data_free(b);
    gx_data_free(c);
}

static void test_data_task_errors(void **state) {
    (void)state;
    gx_data_opts o = opts(4, 0, 0.0);
    struct {
        const char *spec, *want[3];
        gx_status st;
    } cases[] = {
        {"cpy", {"unknown task 'cpy'", "did you mean 'copy'", "copy, parity, adding"},
         GX_ERR_NOT_FOUND},
        {"sorting:length=3", {"unknown task 'sorting'", "copy, parity, adding", NULL},
         GX_ERR_NOT_FOUND},
        {"copy:lenght=3", {"no key 'lenght'", "did you mean 'length'", "length, symbols, gap"},
         GX_ERR_NOT_FOUND},
        {"parity:gap=3", {"task parity has no key 'gap'", "its keys are length", NULL},
         GX_ERR_NOT_FOUND},
        {"copy:length", {"'length' needs a value", "key=value", NULL}, GX_ERR_INVALID},
        {"copy:length=0", {"length must be an integer in [1,", "got '0'", NULL}, GX_ERR_INVALID},
        {"copy:gap=x", {"gap must be an integer", "got 'x'", NULL}, GX_ERR_INVALID},
        {"adding:length=1", {"length must be an integer in [2,", NULL, NULL}, GX_ERR_INVALID},
        {"copy:length=2,length=3", {"'length' is given twice", NULL, NULL}, GX_ERR_INVALID},
        {"", {"no task given", NULL, NULL}, GX_ERR_INVALID},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gx_diag d;
        gx_diag_init(&d);
        gx_dataset *ds = NULL;
        assert_int_equal(gx_data_task(cases[i].spec, &o, &ds, &d), cases[i].st);
        assert_null(ds);
        for (int k = 0; k < 3 && cases[i].want[k]; k++) assert_msg(&d, cases[i].want[k], NULL);
    }
    gx_data_opts o0 = opts(0, 0, 0.0);
    gx_diag d;
    gx_diag_init(&d);
    gx_dataset *ds = NULL;
    assert_int_equal(gx_data_task("copy", &o0, &ds, &d), GX_ERR_INVALID);
    assert_msg(&d, "batch size", NULL);
}

// ---- seq2seq tasks ----

enum { PAD = 10, BOS = 11, EOS = 12 };

/* One batch of a seq2seq task, every field. */
typedef struct s2s_batch {
    int64_t B, S, T;
    int32_t src[64 * 16], dec_in[64 * 17], targets[64 * 17], force[64 * 17];
    float   mask[64 * 16];
} s2s_batch;

static void s2s_fill(gx_dataset *ds, gx_split split, uint64_t index, s2s_batch *x) {
    fill_ok(ds, split, index, "src", info2(GX_DTYPE_I32, x->B, x->S), x->src);
    fill_ok(ds, split, index, "mask", info2(GX_DTYPE_F32, x->B, x->S), x->mask);
    fill_ok(ds, split, index, "dec_in", info2(GX_DTYPE_I32, x->B, x->T), x->dec_in);
    fill_ok(ds, split, index, "targets", info2(GX_DTYPE_I32, x->B, x->T), x->targets);
    fill_ok(ds, split, index, "force", info2(GX_DTYPE_I32, x->B, x->T), x->force);
}

/* Every row of x is a well-formed example of the task (reverse: sorted = 0): returns the
 * lengths seen as a bit set. greedy: force only at t = 0. */
static uint64_t s2s_check(const s2s_batch *x, int sorted, int greedy) {
    uint64_t lengths = 0;
    for (int64_t b = 0; b < x->B; b++) {
        const int32_t *src = x->src + b * x->S, *dec = x->dec_in + b * x->T,
                      *tgt = x->targets + b * x->T, *force = x->force + b * x->T;
        const float *mask = x->mask + b * x->S;
        int64_t L = 0;
        while (L < x->S && mask[L] == 1.0f) L++;
        assert_true(L >= 1);
        lengths |= 1ull << L;
        int counts[10] = {0};
        for (int64_t p = 0; p < x->S; p++) {
            if (p < L) {
                assert_in_range(src[p], 0, 9);
                counts[src[p]]++;
            } else {
                assert_true(mask[p] == 0.0f);   /* padding after the string only */
                assert_int_equal(src[p], PAD);
            }
        }
        for (int64_t p = 0; p < L; p++) {
            assert_in_range(tgt[p], 0, 9);
            counts[tgt[p]]--;
            if (sorted && p > 0) assert_true(tgt[p - 1] <= tgt[p]);
            if (!sorted) assert_int_equal(tgt[p], src[L - 1 - p]);
        }
        for (int k = 0; k < 10; k++) assert_int_equal(counts[k], 0);   /* the same digits */
        assert_int_equal(tgt[L], EOS);
        assert_int_equal(dec[0], BOS);
        for (int64_t p = 1; p <= L; p++) assert_int_equal(dec[p], tgt[p - 1]);
        for (int64_t p = L + 1; p < x->T; p++) {
            assert_int_equal(tgt[p], -1);
            assert_int_equal(dec[p], PAD);
        }
        for (int64_t p = 0; p < x->T; p++) assert_int_equal(force[p], greedy ? p == 0 : 1);
    }
    return lengths;
}

/* lengths in [lo, hi] as a bit set */
static uint64_t span(int lo, int hi) {
    uint64_t m = 0;
    for (int k = lo; k <= hi; k++) m |= 1ull << k;
    return m;
}

static void test_data_task_reverse(void **state) {
    (void)state;
    gx_dataset *ds = task_ok("reverse:min=2,max=7,eval_min=6", 64, 3);
    const char *names[] = {"T", "S", "V"};
    int64_t values[] = {8, 7, 13};
    assert_int_equal(ds->vt->n_binds(ds), 3);
    for (int i = 0; i < 3; i++) {
        assert_string_equal(ds->vt->bind(ds, i).name, names[i]);
        assert_int_equal(ds->vt->bind(ds, i).value, values[i]);
    }
    assert_int_equal(ds->vt->n_fields(ds), 5);
    assert_int_equal(ds->vt->n_batches(ds, GX_SPLIT_VAL), 16);
    gx_data_field f = ds->vt->field(ds, 1);
    assert_string_equal(f.name, "mask");
    assert_int_equal(f.shape.dims[1], 7);   /* [B, S] */
    static s2s_batch x = {.B = 64, .S = 7, .T = 8};
    uint64_t train = 0, val = 0;
    for (uint64_t k = 0; k < 4; k++) {
        s2s_fill(ds, GX_SPLIT_TRAIN, 100 + k, &x);
        train |= s2s_check(&x, 0, 0);
        s2s_fill(ds, GX_SPLIT_VAL, k, &x);
        val |= s2s_check(&x, 0, 1);
    }
    assert_true(train == span(2, 7));   /* every length occurs, and no other */
    assert_true(val == span(6, 7));     /* held out: only the long ones */
    gx_diag d;
    assert_int_equal(fill(ds, GX_SPLIT_TRAIN, 0, "src", info2(GX_DTYPE_I32, 64, 8), x.src, &d),
                     GX_ERR_SHAPE);
    assert_msg(&d, "'src' is i32[64, 8]", "task reverse gives i32[64, 7]", NULL);
    gx_data_free(ds);
    /* defaults: lengths 1 to 12 in training, the 4 longest held out */
    ds = task_ok("reverse", 64, 0);
    assert_int_equal(ds->vt->bind(ds, 0).value, 13);
    assert_int_equal(ds->vt->bind(ds, 1).value, 12);
    static s2s_batch y = {.B = 64, .S = 12, .T = 13};
    train = val = 0;
    for (uint64_t k = 0; k < 16; k++) {
        s2s_fill(ds, GX_SPLIT_TRAIN, k, &y);
        train |= s2s_check(&y, 0, 0);
        s2s_fill(ds, GX_SPLIT_VAL, k, &y);
        val |= s2s_check(&y, 0, 1);
    }
    assert_true(train == span(1, 12));
    assert_true(val == span(9, 12));
    gx_data_free(ds);
    /* eval_max past max: held-out strings longer than any training one; S covers them */
    ds = task_ok("reverse:max=5,eval_max=9", 64, 1);
    assert_int_equal(ds->vt->bind(ds, 1).value, 9);
    static s2s_batch z = {.B = 64, .S = 9, .T = 10};
    train = val = 0;
    for (uint64_t k = 0; k < 4; k++) {
        s2s_fill(ds, GX_SPLIT_TRAIN, k, &z);
        train |= s2s_check(&z, 0, 0);
        s2s_fill(ds, GX_SPLIT_VAL, k, &z);
        val |= s2s_check(&z, 0, 1);
    }
    assert_true(train == span(1, 5));
    assert_true(val == span(6, 9));
    gx_data_free(ds);
}

static void test_data_task_sort(void **state) {
    (void)state;
    gx_dataset *ds = task_ok("sort:min=3,max=9", 64, 11);
    static s2s_batch x = {.B = 64, .S = 9, .T = 10};
    uint64_t train = 0, val = 0;
    for (uint64_t k = 0; k < 4; k++) {
        s2s_fill(ds, GX_SPLIT_TRAIN, k, &x);
        train |= s2s_check(&x, 1, 0);
        s2s_fill(ds, GX_SPLIT_VAL, k, &x);
        val |= s2s_check(&x, 1, 1);
    }
    assert_true(train == span(3, 9));
    assert_true(val == span(6, 9));
    gx_data_free(ds);
}

static void test_data_task_s2s_determinism(void **state) {
    (void)state;
    gx_dataset *a = task_ok("reverse:max=8", 16, 42), *b = task_ok("reverse:max=8", 16, 42);
    gx_dataset *c = task_ok("reverse:max=8", 16, 43);
    static s2s_batch x = {.B = 16, .S = 8, .T = 9}, y = {.B = 16, .S = 8, .T = 9};
    s2s_fill(a, GX_SPLIT_TRAIN, 9, &x);
    s2s_fill(b, GX_SPLIT_TRAIN, 9, &y);
    assert_memory_equal(&x, &y, sizeof x);   /* same seed and index: same batch */
    s2s_fill(c, GX_SPLIT_TRAIN, 9, &y);
    assert_memory_not_equal(x.src, y.src, sizeof x.src);
    s2s_fill(a, GX_SPLIT_TRAIN, 10, &y);
    assert_memory_not_equal(x.src, y.src, sizeof x.src);
    s2s_fill(a, GX_SPLIT_VAL, 2, &x);        /* validation wraps at 16 batches */
    s2s_fill(b, GX_SPLIT_VAL, 18, &y);
    assert_memory_equal(&x, &y, sizeof x);
    gx_data_free(a);
    gx_data_free(b);
    gx_data_free(c);
}

static void test_data_task_s2s_errors(void **state) {
    (void)state;
    gx_data_opts o = opts(4, 0, 0.0);
    struct {
        const char *spec, *want[3];
    } cases[] = {
        {"reverse:min=5,max=3", {"task reverse: min (5) is larger than max (3)", NULL, NULL}},
        {"sort:eval_min=8,eval_max=4", {"eval_min (8) is larger than eval_max (4)", NULL, NULL}},
        {"reverse:len=3", {"no key 'len'", "min, max, eval_min, eval_max", NULL}},
        {"reverse:max=0", {"max must be an integer in [1,", NULL, NULL}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gx_diag d;
        gx_diag_init(&d);
        gx_dataset *ds = NULL;
        assert_int_not_equal(gx_data_task(cases[i].spec, &o, &ds, &d), GX_OK);
        assert_null(ds);
        for (int k = 0; k < 3 && cases[i].want[k]; k++) assert_msg(&d, cases[i].want[k], NULL);
    }
}

/* gexec sample's hooks: a prompt fills the fields as a greedy validation row would be */
static void test_data_task_s2s_prompt(void **state) {
    (void)state;
    gx_dataset *ds = task_ok("reverse:max=6", 2, 5);
    gx_task_codec c;
    assert_int_equal(gx_data_task_codec(ds, &c), 1);
    assert_int_equal(c.n_symbols, 10);
    assert_int_equal(c.eos, EOS);
    assert_int_equal(c.max_len, 6);
    static s2s_batch x = {.B = 2, .S = 6, .T = 7};
    const char *fields[] = {"src", "mask", "dec_in", "targets", "force"};
    void *dst[] = {x.src, x.mask, x.dec_in, x.targets, x.force};
    gx_diag d;
    for (int i = 0; i < 5; i++) {
        gx_tensor_info info = info2(i == 1 ? GX_DTYPE_F32 : GX_DTYPE_I32, 2, i < 2 ? 6 : 7);
        gx_diag_init(&d);
        assert_int_equal(gx_data_task_prompt(ds, "31415", fields[i], &info, dst[i], &d), GX_OK);
    }
    assert_true(s2s_check(&x, 0, 1) == span(5, 5));
    const int32_t want_src[] = {3, 1, 4, 1, 5, PAD}, want_tgt[] = {5, 1, 4, 1, 3, EOS, -1};
    for (int b = 0; b < 2; b++) {   /* every row holds the prompt */
        assert_memory_equal(x.src + b * 6, want_src, sizeof want_src);
        assert_memory_equal(x.targets + b * 7, want_tgt, sizeof want_tgt);
    }
    char text[64];
    const int32_t ids[] = {5, 1, 4, 1, 3, EOS, 7, 7};
    assert_int_equal(gx_data_task_decode(ds, ids, 8, text, sizeof text), 5);
    assert_string_equal(text, "51413");
    const int32_t odd[] = {2, PAD, BOS, 99};
    gx_data_task_decode(ds, odd, 4, text, sizeof text);   /* no EOS: all of it */
    assert_string_equal(text, "2<pad><bos><?>");
    assert_int_equal(gx_data_task_decode(ds, ids, 8, text, 3), 2);   /* cut to fit */
    assert_string_equal(text, "51");
    gx_tensor_info si = info2(GX_DTYPE_I32, 2, 6);
    struct {
        const char *text, *want;
    } bad[] = {
        {"12a4", "'a' (byte 2) is not in the vocabulary of task reverse (the digits 0-9)"},
        {"1234567", "has 7 digits, more than the 6 source positions"},
        {"", "the prompt is empty"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gx_diag_init(&d);
        assert_int_equal(gx_data_task_prompt(ds, bad[i].text, "src", &si, x.src, &d),
                         GX_ERR_INVALID);
        assert_msg(&d, bad[i].want, NULL);
    }
    gx_diag_init(&d);
    assert_int_equal(gx_data_task_prompt(ds, "12", "tokens", &si, x.src, &d), GX_ERR_NOT_FOUND);
    assert_msg(&d, "no field 'tokens'", "src, mask, dec_in, targets, force", NULL);
    gx_data_free(ds);
    ds = task_ok("copy", 2, 5);   /* not a seq2seq task */
    assert_int_equal(gx_data_task_codec(ds, &c), 0);
    gx_diag_init(&d);
    assert_int_equal(gx_data_task_prompt(ds, "12", "src", &si, x.src, &d), GX_ERR_INVALID);
    assert_msg(&d, "not a sequence-to-sequence task", NULL);
    gx_data_free(ds);
}

// ---- main ----

static int setup(void **state) {
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/gx-test-data-XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    /* the directory holds only the flat fixtures written above */
    DIR *dp = opendir(g_dir);
    if (dp == NULL) return -1;
    struct dirent *de;
    while ((de = readdir(dp)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", g_dir, de->d_name);
        unlink(p);
    }
    closedir(dp);
    return rmdir(g_dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_data_text_streams),
        cmocka_unit_test(test_data_text_splits),
        cmocka_unit_test(test_data_text_utf8),
        cmocka_unit_test(test_data_text_bytes),
        cmocka_unit_test(test_data_text_errors),
        cmocka_unit_test(test_data_text_checkpoint_vocab),
        cmocka_unit_test(test_data_vocab_encode_decode),
        cmocka_unit_test(test_data_jsonl_good),
        cmocka_unit_test(test_data_jsonl_lists),
        cmocka_unit_test(test_data_jsonl_errors),
        cmocka_unit_test(test_data_task_copy),
        cmocka_unit_test(test_data_task_parity),
        cmocka_unit_test(test_data_task_adding),
        cmocka_unit_test(test_data_task_determinism),
        cmocka_unit_test(test_data_task_errors),
        cmocka_unit_test(test_data_task_reverse),
        cmocka_unit_test(test_data_task_sort),
        cmocka_unit_test(test_data_task_s2s_determinism),
        cmocka_unit_test(test_data_task_s2s_errors),
        cmocka_unit_test(test_data_task_s2s_prompt),
    };
    return cmocka_run_group_tests_name("data", tests, setup, teardown);
}
