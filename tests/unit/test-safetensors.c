/*
 * test-safetensors.c: round trips through gx_st_writer / gx_st_read_file, the exact bytes of a
 * small file, I64 conversion, one corrupt file per strictness rule, every truncation and single
 * byte flips of a valid file (clean errors, no crash), and the atomic save's failure paths.
 * Files go to a mkdtemp directory under /tmp, so the test runs from any working directory.
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
#include <sys/stat.h>
#include <unistd.h>

#include "safetensors.h"

#include "test-tmpdir.h"

/* Number of entries in the test directory whose name contains ".tmp.": leftover temp files. */
static int count_temp_files(void) {
    DIR *dp = opendir(g_dir);
    assert_non_null(dp);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(dp)) != NULL)
        if (strstr(de->d_name, ".tmp.")) n++;
    closedir(dp);
    return n;
}

static unsigned char *slurp(const char *path, size_t *n) {
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    unsigned char *buf = malloc(1 << 16);
    assert_non_null(buf);
    *n = fread(buf, 1, 1 << 16, fp);
    fclose(fp);
    return buf;
}

/* A file image: u64 header length (hlen, or strlen(header) when hlen is SIZE_MAX), the header,
 * then dlen bytes of data (0..dlen-1 mod 256). */
static unsigned char *image(const char *header, size_t hlen, size_t dlen, uint64_t len_field,
                            int use_len_field, size_t *n) {
    if (hlen == SIZE_MAX) hlen = strlen(header);
    uint64_t lf = use_len_field ? len_field : hlen;
    *n = 8 + hlen + dlen;
    unsigned char *b = malloc(*n + 1);
    assert_non_null(b);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(lf >> (8 * i));
    memcpy(b + 8, header, hlen);
    for (size_t i = 0; i < dlen; i++) b[8 + hlen + i] = (unsigned char)i;
    return b;
}

static void expect_bad(const unsigned char *b, size_t n, gx_status want, const char *sub,
                       const char *label) {
    gx_diag d;
    gx_diag_init(&d);
    gx_st_file *f = NULL;
    gx_status st = gx_st_parse(b, n, "bad.safetensors", &f, &d);
    if (st != want || strstr(d.msg, sub) == NULL || strstr(d.msg, "bad.safetensors") == NULL)
        print_error("case '%s': status %d, message '%s', wanted %d and '%s'\n", label, (int)st,
                    d.msg, (int)want, sub);
    assert_int_equal(st, want);
    assert_null(f);
    assert_non_null(strstr(d.msg, sub));
    assert_non_null(strstr(d.msg, "bad.safetensors"));
    assert_null(strchr(d.msg, '\n'));
}

static gx_shape shp(int ndim, int64_t d0, int64_t d1, int64_t d2) {
    gx_shape s;
    memset(&s, 0, sizeof s);
    s.ndim = ndim;
    s.dims[0] = d0;
    s.dims[1] = d1;
    s.dims[2] = d2;
    return s;
}

static gx_st_file *read_ok(const char *path) {
    gx_diag d;
    gx_diag_init(&d);
    gx_st_file *f = NULL;
    gx_status st = gx_st_read_file(path, &f, &d);
    if (st != GX_OK) print_error("%s\n", d.msg);
    assert_int_equal(st, GX_OK);
    assert_non_null(f);
    return f;
}

static void save_ok(gx_st_writer *w, const char *path) {
    gx_diag d;
    gx_diag_init(&d);
    gx_status st = gx_st_writer_save(w, path, &d);
    if (st != GX_OK) print_error("%s\n", d.msg);
    assert_int_equal(st, GX_OK);
}

static void add_ok(gx_st_writer *w, const char *name, gx_dtype dt, gx_shape s, const void *data) {
    gx_diag d;
    gx_diag_init(&d);
    gx_status st = gx_st_writer_add(w, name, dt, &s, data, &d);
    if (st != GX_OK) print_error("%s\n", d.msg);
    assert_int_equal(st, GX_OK);
}

/* A file with every feature: metadata, three dtypes, a scalar, an empty tensor. */
static void write_sample(const char *path) {
    static const float a[6] = {1.5f, -2.0f, 3.25f, 0.0f, -0.5f, 1e30f};
    static const double b[3] = {3.141592653589793, -1e-300, 2.0};
    static const int32_t c[4] = {1, -2, INT32_MAX, INT32_MIN};
    static const float s = 42.0f;
    gx_st_writer *w = gx_st_writer_new();
    assert_non_null(w);
    assert_int_equal(gx_st_writer_meta(w, "format", "pt"), GX_OK);
    assert_int_equal(gx_st_writer_meta(w, "note", "h\xc3\xa9llo \"quoted\"\n"), GX_OK);
    add_ok(w, "layer.w", GX_DTYPE_F32, shp(2, 2, 3, 0), a);
    add_ok(w, "layer.b", GX_DTYPE_F64, shp(1, 3, 0, 0), b);
    add_ok(w, "ids", GX_DTYPE_I32, shp(2, 2, 2, 0), c);
    add_ok(w, "scale", GX_DTYPE_F32, shp(0, 0, 0, 0), &s);
    add_ok(w, "empty", GX_DTYPE_F32, shp(2, 0, 3, 0), NULL);
    save_ok(w, path);
    gx_st_writer_free(w);
}

// ---- round trips ----

static void test_safetensors_roundtrip(void **state) {
    (void)state;
    const char *p = path_in("sample.safetensors");
    write_sample(p);
    assert_int_equal(count_temp_files(), 0);
    gx_st_file *f = read_ok(p);

    /* data-section order is the order added */
    static const char *const order[] = {"layer.w", "layer.b", "ids", "scale", "empty"};
    assert_int_equal(gx_st_count(f), 5);
    for (int i = 0; i < 5; i++) assert_string_equal(gx_st_at(f, i)->name, order[i]);
    assert_null(gx_st_at(f, 5));
    assert_null(gx_st_at(f, -1));

    const gx_st_tensor *t = gx_st_find(f, "layer.w");
    assert_non_null(t);
    assert_int_equal(t->dtype, GX_DTYPE_F32);
    assert_int_equal(t->shape.ndim, 2);
    assert_int_equal(t->shape.dims[0], 2);
    assert_int_equal(t->shape.dims[1], 3);
    assert_int_equal(t->nbytes, 24);
    assert_int_equal((uintptr_t)t->data % 8, 0);
    const float *fa = t->data;
    assert_true(fa[0] == 1.5f && fa[1] == -2.0f && fa[2] == 3.25f && fa[5] == 1e30f);

    t = gx_st_find(f, "layer.b");
    assert_int_equal(t->dtype, GX_DTYPE_F64);
    assert_int_equal((uintptr_t)t->data % 8, 0);   /* at file offset 24: aligned anyway */
    const double *db = t->data;
    assert_true(db[0] == 3.141592653589793 && db[1] == -1e-300 && db[2] == 2.0);

    t = gx_st_find(f, "ids");
    assert_int_equal(t->dtype, GX_DTYPE_I32);
    const int32_t *ic = t->data;
    assert_true(ic[0] == 1 && ic[1] == -2 && ic[2] == INT32_MAX && ic[3] == INT32_MIN);

    t = gx_st_find(f, "scale");
    assert_int_equal(t->shape.ndim, 0);
    assert_int_equal(t->nbytes, 4);
    assert_true(*(const float *)t->data == 42.0f);

    t = gx_st_find(f, "empty");
    assert_int_equal(t->shape.ndim, 2);
    assert_int_equal(t->shape.dims[0], 0);
    assert_int_equal(t->shape.dims[1], 3);
    assert_int_equal(t->nbytes, 0);
    assert_non_null(t->data);

    assert_null(gx_st_find(f, "nope"));
    assert_null(gx_st_find(f, ""));

    assert_int_equal(gx_st_meta_count(f), 2);
    assert_string_equal(gx_st_meta(f, "format"), "pt");
    assert_string_equal(gx_st_meta(f, "note"), "h\xc3\xa9llo \"quoted\"\n");
    assert_null(gx_st_meta(f, "missing"));
    const char *k, *v;
    assert_int_equal(gx_st_meta_at(f, 1, &k, &v), GX_OK);
    assert_string_equal(k, "note");
    assert_int_equal(gx_st_meta_at(f, 2, &k, &v), GX_ERR_INVALID);
    gx_st_free(f);
    gx_st_free(NULL);
}

/* Offsets after an odd number of f32 leave an f64 misaligned in the file; the reader realigns. */
static void test_safetensors_alignment(void **state) {
    (void)state;
    static const float a[3] = {1, 2, 3};
    static const double b[2] = {4, 5};
    const char *p = path_in("align.safetensors");
    gx_st_writer *w = gx_st_writer_new();
    add_ok(w, "a", GX_DTYPE_F32, shp(1, 3, 0, 0), a);
    add_ok(w, "b", GX_DTYPE_F64, shp(1, 2, 0, 0), b);
    save_ok(w, p);
    gx_st_writer_free(w);
    gx_st_file *f = read_ok(p);
    const gx_st_tensor *t = gx_st_find(f, "b");
    assert_int_equal((uintptr_t)t->data % 8, 0);
    assert_true(((const double *)t->data)[1] == 5.0);
    gx_st_free(f);
}

static void test_safetensors_empty_file(void **state) {
    (void)state;
    const char *p = path_in("none.safetensors");
    gx_st_writer *w = gx_st_writer_new();
    save_ok(w, p);
    gx_st_writer_free(w);
    size_t n;
    unsigned char *b = slurp(p, &n);
    assert_int_equal(n, 16);
    assert_memory_equal(b, "\x08\0\0\0\0\0\0\0{}      ", 16);
    free(b);
    gx_st_file *f = read_ok(p);
    assert_int_equal(gx_st_count(f), 0);
    assert_int_equal(gx_st_meta_count(f), 0);
    assert_null(gx_st_find(f, "a"));
    gx_st_free(f);
}

// ---- exact layout ----

static void test_safetensors_exact_bytes(void **state) {
    (void)state;
    static const float a[2] = {1.0f, 2.0f};
    static const int32_t b = 7;
    const char *p = path_in("exact.safetensors");
    gx_st_writer *w = gx_st_writer_new();
    assert_int_equal(gx_st_writer_meta(w, "format", "np"), GX_OK);
    assert_int_equal(gx_st_writer_meta(w, "format", "pt"), GX_OK);   /* replaces in place */
    add_ok(w, "a", GX_DTYPE_F32, shp(1, 2, 0, 0), a);
    add_ok(w, "b", GX_DTYPE_I32, shp(0, 0, 0, 0), &b);
    save_ok(w, p);
    gx_st_writer_free(w);

    static const char header[] =
        "{\"__metadata__\":{\"format\":\"pt\"},"
        "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        "\"b\":{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[8,12]}}"
        "      ";   /* 138 bytes of JSON + 6 spaces = 144, a multiple of 8 */
    unsigned char want[8 + 144 + 12];
    assert_int_equal(sizeof header - 1, 144);
    memcpy(want, "\x90\0\0\0\0\0\0\0", 8);
    memcpy(want + 8, header, 144);
    memcpy(want + 152, "\x00\x00\x80\x3f" "\x00\x00\x00\x40" "\x07\x00\x00\x00", 12);
    size_t n;
    unsigned char *got = slurp(p, &n);
    assert_int_equal(n, sizeof want);
    assert_memory_equal(got, want, sizeof want);
    free(got);
}

// ---- I64 ----

static void test_safetensors_i64(void **state) {
    (void)state;
    static const char h[] = "{\"ids\":{\"dtype\":\"I64\",\"shape\":[2,2],\"data_offsets\":[0,32]}}";
    const int64_t vals[4] = {1, -2, INT32_MAX, INT32_MIN};
    size_t n;
    unsigned char *b = image(h, SIZE_MAX, 32, 0, 0, &n);
    memcpy(b + 8 + strlen(h), vals, 32);
    gx_diag d;
    gx_diag_init(&d);
    gx_st_file *f = NULL;
    assert_int_equal(gx_st_parse(b, n, "ids.safetensors", &f, &d), GX_OK);
    const gx_st_tensor *t = gx_st_find(f, "ids");
    assert_int_equal(t->dtype, GX_DTYPE_I32);
    assert_int_equal(t->nbytes, 16);
    assert_int_equal(t->shape.dims[1], 2);
    const int32_t *v = t->data;
    assert_true(v[0] == 1 && v[1] == -2 && v[2] == INT32_MAX && v[3] == INT32_MIN);
    gx_st_free(f);

    const int64_t big = (int64_t)INT32_MAX + 1;
    memcpy(b + 8 + strlen(h) + 16, &big, 8);
    expect_bad(b, n, GX_ERR_FORMAT,
               "tensor 'ids' (I64): value 2147483648 at index 2 does not fit in int32", "i64 hi");
    const int64_t small = (int64_t)INT32_MIN - 1;
    memcpy(b + 8 + strlen(h) + 16, &small, 8);
    expect_bad(b, n, GX_ERR_FORMAT, "value -2147483649 at index 2 does not fit", "i64 lo");
    free(b);
}

// ---- corrupt files ----

typedef struct bad_case {
    const char *label;
    const char *header;
    size_t      hlen;       /* 0: strlen(header) (lets a case hold a NUL byte)            */
    size_t      dlen;       /* bytes in the data section                                  */
    const char *want;       /* a substring of the message                                 */
} bad_case;

#define E(dt, shape, offs) "{\"dtype\":\"" dt "\",\"shape\":" shape ",\"data_offsets\":" offs "}"

static const bad_case bad_cases[] = {
    {"not json", "{\"a\":", 0, 0, "header is not valid JSON"},
    {"not json 2", "{\"a\" 1}", 0, 0, "header is not valid JSON"},
    {"empty header", "", 0, 0, "header does not start with '{'"},
    {"array", "[1,2]", 0, 0, "header does not start with '{'"},
    {"string", "\"x\"", 0, 0, "header does not start with '{'"},
    {"leading space", " {}", 0, 0, "header does not start with '{'"},
    {"trailing x", "{}x", 0, 0, "trailing bytes after the JSON object (byte 2)"},
    {"trailing newline", "{}\n", 0, 0, "trailing bytes after the JSON object"},
    {"trailing object", "{} {}", 0, 0, "trailing bytes after the JSON object (byte 3)"},
    {"bad utf8", "{\"\xff\":1}", 0, 0, "header is not valid UTF-8 (byte 2)"},
    {"overlong utf8", "{\"\xc0\x80\":1}", 0, 0, "not valid UTF-8"},
    {"surrogate utf8", "{\"\xed\xa0\x80\":1}", 0, 0, "not valid UTF-8"},
    {"control char", "{\"a\x01\":1}", 0, 0, "raw control character 0x01 at byte 3"},
    {"nul byte", "{\"a\0\":1}", 8, 0, "raw control character 0x00"},
    {"tab in string", "{\"a\tb\":1}", 0, 0, "raw control character 0x09"},
    {"u0000", "{\"a\\u0000b\":" E("F32", "[]", "[0,4]") "}", 0, 4, "\\u0000 escape"},
    {"entry number", "{\"w\":1}", 0, 0, "tensor 'w': entry is 1, not an object"},
    {"entry array", "{\"w\":[]}", 0, 0, "tensor 'w': entry is an array, not an object"},
    {"missing dtype", "{\"w\":{\"shape\":[],\"data_offsets\":[0,4]}}", 0, 4,
     "tensor 'w': missing field 'dtype'"},
    {"missing shape", "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 0, 4,
     "tensor 'w': missing field 'shape'"},
    {"missing offsets", "{\"w\":{\"dtype\":\"F32\",\"shape\":[]}}", 0, 4,
     "tensor 'w': missing field 'data_offsets'"},
    {"extra field", "{\"w\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4],\"x\":1}}", 0,
     4, "tensor 'w': unexpected field 'x'"},
    {"repeated field", "{\"w\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[],"
     "\"data_offsets\":[0,4]}}", 0, 4, "tensor 'w': field 'dtype' appears twice"},
    {"dtype not string", "{\"w\":{\"dtype\":3,\"shape\":[],\"data_offsets\":[0,4]}}", 0, 4,
     "tensor 'w': 'dtype' is 3, not a string"},
    {"dtype F16", "{\"w\":" E("F16", "[2]", "[0,4]") "}", 0, 4,
     "bad.safetensors: tensor 'w' has unsupported dtype 'F16' (gexec reads F32, F64, I32, I64)"},
    {"dtype BF16", "{\"w\":" E("BF16", "[2]", "[0,4]") "}", 0, 4, "unsupported dtype 'BF16'"},
    {"dtype lower", "{\"w\":" E("f32", "[1]", "[0,4]") "}", 0, 4, "unsupported dtype 'f32'"},
    {"shape object", "{\"w\":" E("F32", "{}", "[0,4]") "}", 0, 4,
     "tensor 'w': 'shape' is an object, not an array"},
    {"shape float", "{\"w\":" E("F32", "[2.5]", "[0,10]") "}", 0, 10,
     "tensor 'w': shape[0] is 2.5, not a non-negative integer"},
    {"shape negative", "{\"w\":" E("F32", "[1,-1]", "[0,0]") "}", 0, 0, "shape[1] is -1"},
    {"shape string", "{\"w\":" E("F32", "[\"2\"]", "[0,8]") "}", 0, 8, "shape[0] is a string"},
    {"shape null", "{\"w\":" E("F32", "[null]", "[0,8]") "}", 0, 8, "shape[0] is null"},
    {"shape huge", "{\"w\":" E("F32", "[1e300]", "[0,8]") "}", 0, 8, "shape[0] is 1e+300"},
    {"shape 2^53", "{\"w\":" E("F32", "[9007199254740992]", "[0,8]") "}", 0, 8,
     "shape[0] is 9007199254740992"},
    {"shape 9 dims", "{\"w\":" E("F32", "[1,1,1,1,1,1,1,1,1]", "[0,4]") "}", 0, 4,
     "tensor 'w': shape has 9 dimensions (gexec supports at most 8)"},
    {"numel overflow", "{\"w\":" E("F32", "[4294967296,4294967296,0]", "[0,0]") "}", 0, 0,
     "tensor 'w': shape [4294967296, 4294967296, 0] has too many elements"},
    {"bytes overflow", "{\"w\":" E("F64", "[4294967296,1073741824]", "[0,0]") "}", 0, 0,
     "has too many elements"},
    {"offsets number", "{\"w\":" E("F32", "[]", "4") "}", 0, 4,
     "tensor 'w': 'data_offsets' must be [begin, end]"},
    {"offsets one", "{\"w\":" E("F32", "[]", "[4]") "}", 0, 4, "'data_offsets' must be"},
    {"offsets three", "{\"w\":" E("F32", "[]", "[0,4,4]") "}", 0, 4, "'data_offsets' must be"},
    {"offsets negative", "{\"w\":" E("F32", "[0]", "[-1,-1]") "}", 0, 0,
     "'data_offsets' must be"},
    {"offsets float", "{\"w\":" E("F32", "[]", "[0,4.5]") "}", 0, 4, "'data_offsets' must be"},
    {"offsets string", "{\"w\":" E("F32", "[]", "[\"0\",4]") "}", 0, 4, "'data_offsets' must be"},
    {"begin > end", "{\"w\":" E("F32", "[0]", "[4,0]") "}", 0, 4,
     "tensor 'w': data_offsets [4, 0] have begin > end"},
    {"size mismatch", "{\"w\":" E("F32", "[2]", "[0,4]") "}", 0, 4,
     "tensor 'w': data_offsets [0, 4] span 4 bytes but F32 [2] needs 8"},
    {"i64 size mismatch", "{\"w\":" E("I64", "[2]", "[0,8]") "}", 0, 8, "I64 [2] needs 16"},
    {"past data", "{\"w\":" E("F32", "[2]", "[0,8]") "}", 0, 4,
     "tensor 'w': data_offsets [0, 8] run past the end of the data section (4 bytes)"},
    {"past data far", "{\"w\":" E("F32", "[1]", "[4503599627370492,4503599627370496]") "}", 0, 4,
     "run past the end of the data section"},
    {"overlap", "{\"a\":" E("F32", "[2]", "[0,8]") ",\"b\":" E("F32", "[2]", "[4,12]") "}", 0,
     12, "tensor 'b' (bytes 4..12) overlaps tensor 'a' (bytes 0..8)"},
    {"same range", "{\"a\":" E("F32", "[1]", "[0,4]") ",\"b\":" E("I32", "[1]", "[0,4]") "}", 0,
     4, "overlaps tensor 'a'"},
    {"empty inside", "{\"a\":" E("F32", "[2]", "[0,8]") ",\"b\":" E("F32", "[0]", "[4,4]") "}",
     0, 8, "tensor 'b' (bytes 4..4) overlaps tensor 'a'"},
    {"gap", "{\"a\":" E("F32", "[1]", "[0,4]") ",\"b\":" E("F32", "[1]", "[8,12]") "}", 0, 12,
     "gap in the data section: bytes 4..8 before tensor 'b' belong to no tensor"},
    {"not from 0", "{\"a\":" E("F32", "[1]", "[4,8]") "}", 0, 8,
     "gap in the data section: bytes 0..4 before tensor 'a'"},
    {"tail", "{\"a\":" E("F32", "[1]", "[0,4]") "}", 0, 8,
     "data section has 4 bytes after the last tensor"},
    {"tail no tensors", "{}", 0, 3, "data section has 3 bytes after the last tensor"},
    {"duplicate name", "{\"a\":" E("F32", "[1]", "[0,4]") ",\"a\":" E("F32", "[1]", "[4,8]") "}",
     0, 8, "tensor 'a' appears twice"},
    {"empty name", "{\"\":" E("F32", "[1]", "[0,4]") "}", 0, 4, "a tensor has an empty name"},
    {"meta array", "{\"__metadata__\":[]}", 0, 0, "'__metadata__' is an array, not an object"},
    {"meta null", "{\"__metadata__\":null}", 0, 0, "'__metadata__' is null, not an object"},
    {"meta value", "{\"__metadata__\":{\"k\":1}}", 0, 0,
     "'__metadata__' value of 'k' is 1, not a string"},
    {"meta nested", "{\"__metadata__\":{\"k\":{}}}", 0, 0, "value of 'k' is an object"},
    {"meta dup key", "{\"__metadata__\":{\"k\":\"a\",\"j\":\"b\",\"k\":\"c\"}}", 0, 0,
     "'__metadata__' key 'k' appears twice"},
    {"meta twice", "{\"__metadata__\":{},\"__metadata__\":{}}", 0, 0,
     "'__metadata__' appears twice"},
};

static void test_safetensors_corrupt_headers(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const bad_case *c = &bad_cases[i];
        size_t n;
        unsigned char *b = image(c->header, c->hlen ? c->hlen : SIZE_MAX, c->dlen, 0, 0, &n);
        expect_bad(b, n, GX_ERR_FORMAT, c->want, c->label);
        free(b);
    }
}

static void test_safetensors_corrupt_length(void **state) {
    (void)state;
    size_t n;
    unsigned char *b;
    static const char h[] = "{}";

    expect_bad((const unsigned char *)"\x02\0\0\0\0", 5, GX_ERR_FORMAT,
               "file is 5 bytes, too short for the 8-byte header length", "short");
    expect_bad(NULL, 0, GX_ERR_FORMAT, "file is 0 bytes", "empty");

    b = image(h, SIZE_MAX, 0, 3, 1, &n);   /* says 3, has 2 */
    expect_bad(b, n, GX_ERR_FORMAT,
               "header length 3 runs past the end of the file (2 bytes after the length field)",
               "len past end");
    free(b);
    b = image(h, SIZE_MAX, 0, 100000001, 1, &n);
    expect_bad(b, n, GX_ERR_FORMAT, "header length 100000001 exceeds the limit of 100000000",
               "len over limit");
    free(b);
    b = image(h, SIZE_MAX, 0, UINT64_MAX, 1, &n);
    expect_bad(b, n, GX_ERR_FORMAT, "header length 18446744073709551615 exceeds", "len max");
    free(b);
    b = image(h, SIZE_MAX, 0, 1, 1, &n);   /* cuts the JSON short: "{" */
    expect_bad(b, n, GX_ERR_FORMAT, "not valid JSON", "len short");
    free(b);
}

/* Every prefix of a valid file must fail cleanly; the whole file parses; one byte more fails. */
static void test_safetensors_truncated(void **state) {
    (void)state;
    const char *p = path_in("trunc.safetensors");
    write_sample(p);
    size_t n;
    unsigned char *full = slurp(p, &n);
    for (size_t len = 0; len < n; len++) {
        /* a fresh allocation of exactly len bytes, so ASan sees any read past the end */
        unsigned char *b = malloc(len ? len : 1);
        memcpy(b, full, len);
        gx_diag d;
        gx_diag_init(&d);
        gx_st_file *f = NULL;
        gx_status st = gx_st_parse(b, len, "t.safetensors", &f, &d);
        if (st != GX_ERR_FORMAT) print_error("prefix %zu: %d %s\n", len, (int)st, d.msg);
        assert_int_equal(st, GX_ERR_FORMAT);
        assert_null(f);
        assert_non_null(strstr(d.msg, "t.safetensors: "));
        free(b);
    }
    gx_diag d;
    gx_diag_init(&d);
    gx_st_file *f = NULL;
    assert_int_equal(gx_st_parse(full, n, "t.safetensors", &f, &d), GX_OK);
    gx_st_free(f);
    unsigned char *longer = malloc(n + 1);
    memcpy(longer, full, n);
    longer[n] = 0;
    expect_bad(longer, n + 1, GX_ERR_FORMAT, "data section has 1 bytes after the last tensor",
               "one more");
    free(longer);
    free(full);
}

/* Single-byte corruptions anywhere: either a clean error or a file that is self-consistent. */
static void test_safetensors_byte_flips(void **state) {
    (void)state;
    const char *p = path_in("flip.safetensors");
    write_sample(p);
    size_t n;
    unsigned char *full = slurp(p, &n);
    static const unsigned char masks[] = {0x01, 0x08, 0x20, 0x80, 0xff};
    int n_ok = 0, n_bad = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t m = 0; m < sizeof masks; m++) {
            unsigned char *b = malloc(n);
            memcpy(b, full, n);
            b[i] ^= masks[m];
            gx_diag d;
            gx_diag_init(&d);
            gx_st_file *f = NULL;
            gx_status st = gx_st_parse(b, n, "f.safetensors", &f, &d);
            if (st == GX_OK) {
                n_ok++;
                for (int k = 0; k < gx_st_count(f); k++) {
                    const gx_st_tensor *t = gx_st_at(f, k);
                    assert_int_equal(t->nbytes,
                                     gx_shape_numel(&t->shape) * (int64_t)gx_dtype_size(t->dtype));
                    assert_ptr_equal(gx_st_find(f, t->name), t);
                }
                gx_st_free(f);
            } else {
                n_bad++;
                assert_int_equal(st, GX_ERR_FORMAT);
                assert_null(f);
                assert_true(d.msg[0] != '\0');
            }
            free(b);
        }
    }
    assert_true(n_ok > 0);    /* flips in the data section are invisible */
    assert_true(n_bad > 0);
    free(full);
}

// ---- reading errors ----

static void test_safetensors_read_errors(void **state) {
    (void)state;
    gx_diag d;
    gx_diag_init(&d);
    gx_st_file *f = (gx_st_file *)&d;
    assert_int_equal(gx_st_read_file(path_in("missing.safetensors"), &f, &d), GX_ERR_IO);
    assert_null(f);
    assert_non_null(strstr(d.msg, "missing.safetensors: cannot open: No such file or directory"));

    gx_diag_init(&d);
    assert_int_equal(gx_st_read_file(g_dir, &f, &d), GX_ERR_IO);
    assert_non_null(strstr(d.msg, "not a regular file"));

    /* a corrupt file on disk: the message names the path */
    const char *p = path_in("corrupt.safetensors");
    FILE *fp = fopen(p, "wb");
    fwrite("\x02\0\0\0\0\0\0\0[]", 1, 10, fp);
    fclose(fp);
    gx_diag_init(&d);
    assert_int_equal(gx_st_read_file(p, &f, &d), GX_ERR_FORMAT);
    assert_non_null(strstr(d.msg, p));
    assert_non_null(strstr(d.msg, "does not start with '{'"));
}

// ---- writer ----

static void test_safetensors_writer_errors(void **state) {
    (void)state;
    static const float x[4] = {0};
    gx_st_writer *w = gx_st_writer_new();
    gx_diag d;
    gx_shape s = shp(1, 2, 0, 0);

    add_ok(w, "a", GX_DTYPE_F32, s, x);
    gx_diag_init(&d);
    assert_int_equal(gx_st_writer_add(w, "a", GX_DTYPE_F32, &s, x, &d), GX_ERR_DUPLICATE);
    assert_non_null(strstr(d.msg, "tensor 'a' added twice"));
    gx_diag_init(&d);
    assert_int_equal(gx_st_writer_add(w, "", GX_DTYPE_F32, &s, x, &d), GX_ERR_INVALID);
    assert_non_null(strstr(d.msg, "invalid tensor name"));
    gx_diag_init(&d);
    assert_int_equal(gx_st_writer_add(w, "__metadata__", GX_DTYPE_F32, &s, x, &d),
                     GX_ERR_INVALID);
    gx_diag_init(&d);
    assert_int_equal(gx_st_writer_add(w, "bad\xff", GX_DTYPE_F32, &s, x, &d), GX_ERR_INVALID);
    gx_diag_init(&d);
    assert_int_equal(gx_st_writer_add(w, "b", GX_DTYPE_INVALID, &s, x, &d), GX_ERR_INVALID);
    assert_non_null(strstr(d.msg, "tensor 'b' has dtype invalid"));
    gx_diag_init(&d);
    gx_shape neg = shp(2, 2, -1, 0);
    assert_int_equal(gx_st_writer_add(w, "b", GX_DTYPE_F32, &neg, x, &d), GX_ERR_INVALID);
    assert_non_null(strstr(d.msg, "bad shape [2, -1]"));
    gx_diag_init(&d);
    gx_shape deep = shp(9, 1, 1, 1);
    assert_int_equal(gx_st_writer_add(w, "b", GX_DTYPE_F32, &deep, x, &d), GX_ERR_INVALID);
    assert_non_null(strstr(d.msg, "rank 9"));
    gx_diag_init(&d);
    gx_shape huge = shp(3, 4294967296, 4294967296, 0);
    assert_int_equal(gx_st_writer_add(w, "b", GX_DTYPE_F32, &huge, NULL, &d), GX_ERR_INVALID);
    assert_non_null(strstr(d.msg, "too many elements"));
    gx_diag_init(&d);
    assert_int_equal(gx_st_writer_add(w, "b", GX_DTYPE_F32, &s, NULL, &d), GX_ERR_INVALID);
    assert_non_null(strstr(d.msg, "tensor 'b' has no data"));
    assert_int_equal(gx_st_writer_meta(w, NULL, "v"), GX_ERR_INVALID);
    assert_int_equal(gx_st_writer_meta(w, "k", "\xc3"), GX_ERR_INVALID);

    /* the failed adds left nothing behind */
    const char *p = path_in("after-errors.safetensors");
    save_ok(w, p);
    gx_st_writer_free(w);
    gx_st_writer_free(NULL);
    gx_st_file *f = read_ok(p);
    assert_int_equal(gx_st_count(f), 1);
    assert_int_equal(gx_st_meta_count(f), 0);
    gx_st_free(f);
}

/* Big integers are written as plain JSON integers (cJSON would print 1e15 as "1e+15"). */
static void test_safetensors_big_dims(void **state) {
    (void)state;
    const char *p = path_in("big.safetensors");
    gx_st_writer *w = gx_st_writer_new();
    add_ok(w, "z", GX_DTYPE_F64, shp(2, 1000000000000000, 0, 0), NULL);
    save_ok(w, p);
    gx_st_writer_free(w);
    size_t n;
    unsigned char *b = slurp(p, &n);
    b[n - 1] = '\0';
    assert_non_null(strstr((const char *)b + 8, "\"shape\":[1000000000000000,0]"));
    free(b);
    gx_st_file *f = read_ok(p);
    assert_int_equal(gx_st_find(f, "z")->shape.dims[0], 1000000000000000);
    gx_st_free(f);
}

// ---- atomic save ----

static void test_safetensors_save_failures(void **state) {
    (void)state;
    static const float x[2] = {1, 2};
    gx_st_writer *w = gx_st_writer_new();
    add_ok(w, "x", GX_DTYPE_F32, shp(1, 2, 0, 0), x);
    gx_diag d;

    /* a directory that does not exist */
    const char *p = path_in("no-such-dir/model.safetensors");
    gx_diag_init(&d);
    assert_int_equal(gx_st_writer_save(w, p, &d), GX_ERR_IO);
    assert_non_null(strstr(d.msg, "No such file or directory"));
    assert_non_null(strstr(d.msg, "model.safetensors"));
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", p, (long)getpid());
    assert_int_not_equal(access(tmp, F_OK), 0);
    assert_int_not_equal(access(path_in("no-such-dir"), F_OK), 0);
    assert_int_equal(count_temp_files(), 0);

    /* the target is a directory: the rename fails and the temp file goes away */
    const char *dir = path_in("a-directory");
    assert_int_equal(mkdir(dir, 0700), 0);
    gx_diag_init(&d);
    assert_int_equal(gx_st_writer_save(w, dir, &d), GX_ERR_IO);
    assert_non_null(strstr(d.msg, "cannot rename"));
    assert_int_equal(count_temp_files(), 0);
    struct stat sb;
    assert_int_equal(stat(dir, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));

    /* saving over an existing file replaces it whole */
    const char *out = path_in("over.safetensors");
    write_sample(out);
    save_ok(w, out);
    assert_int_equal(count_temp_files(), 0);
    gx_st_file *f = read_ok(out);
    assert_int_equal(gx_st_count(f), 1);
    assert_true(((const float *)gx_st_find(f, "x")->data)[1] == 2.0f);
    gx_st_free(f);
    gx_st_writer_free(w);
}

// ---- main ----

static int setup(void **state) {
    (void)state;
    return tmpdir_make("/tmp/gx-test-st-XXXXXX");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_safetensors_roundtrip),
        cmocka_unit_test(test_safetensors_alignment),
        cmocka_unit_test(test_safetensors_empty_file),
        cmocka_unit_test(test_safetensors_exact_bytes),
        cmocka_unit_test(test_safetensors_i64),
        cmocka_unit_test(test_safetensors_corrupt_headers),
        cmocka_unit_test(test_safetensors_corrupt_length),
        cmocka_unit_test(test_safetensors_truncated),
        cmocka_unit_test(test_safetensors_byte_flips),
        cmocka_unit_test(test_safetensors_read_errors),
        cmocka_unit_test(test_safetensors_writer_errors),
        cmocka_unit_test(test_safetensors_big_dims),
        cmocka_unit_test(test_safetensors_save_failures),
    };
    return cmocka_run_group_tests_name("safetensors", tests, setup, tmpdir_teardown);
}
