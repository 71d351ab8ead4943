/*
 * fuzz-safetensors.c: arbitrary bytes through the safetensors reader (gx_st_parse), then every
 * accessor; what parses is written back with the writer and read again, and must come back
 * the same (names, dtypes, shapes, bytes, metadata).
 */
#include "fuzz.h"

#include "safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)                                                                  \
    do {                                                                          \
        if (!(c)) {                                                               \
            fprintf(stderr, "fuzz-safetensors: %s:%d: %s\n", __FILE__, __LINE__, #c); \
            abort();                                                              \
        }                                                                         \
    } while (0)

int gx_fuzz_safetensors_init(void) { return 0; }

static uint64_t touch(const gx_st_file *f) {
    uint64_t sum = 0;
    for (int i = 0; i < gx_st_count(f); i++) {
        const gx_st_tensor *t = gx_st_at(f, i);
        CHECK(t != NULL && t->name != NULL && t->data != NULL);
        CHECK(gx_st_find(f, t->name) == t);
        int64_t numel = 1;
        for (int k = 0; k < t->shape.ndim; k++) numel *= t->shape.dims[k];
        CHECK((uint64_t)numel * gx_dtype_size(t->dtype) == t->nbytes);
        for (uint64_t k = 0; k < t->nbytes; k++) sum += ((const uint8_t *)t->data)[k];
    }
    CHECK(gx_st_at(f, gx_st_count(f)) == NULL && gx_st_at(f, -1) == NULL);
    for (int i = 0; i < gx_st_meta_count(f); i++) {
        const char *k, *v;
        CHECK(gx_st_meta_at(f, i, &k, &v) == GX_OK);
        sum += strlen(k) + strlen(v);
        CHECK(gx_st_meta(f, k) != NULL);
    }
    return sum;
}

static void round_trip(const gx_st_file *f) {
    gx_st_writer *w = gx_st_writer_new();
    if (w == NULL) return;
    gx_diag d;
    gx_diag_init(&d);
    int ok = 1;
    for (int i = 0; ok && i < gx_st_count(f); i++) {
        const gx_st_tensor *t = gx_st_at(f, i);
        ok = gx_st_writer_add(w, t->name, t->dtype, &t->shape, t->data, &d) == GX_OK;
    }
    for (int i = 0; ok && i < gx_st_meta_count(f); i++) {
        const char *k, *v;
        gx_st_meta_at(f, i, &k, &v);
        ok = gx_st_writer_meta(w, k, v) == GX_OK;
    }
    /* the writer may refuse what the reader tolerates (names it would not write); only a file
     * both accept must survive the trip */
    const char *path = ok ? gx_fuzz_tmpfile(".safetensors", (const uint8_t *)"", 0) : NULL;
    if (path && gx_st_writer_save(w, path, &d) == GX_OK) {
        gx_st_file *g = NULL;
        gx_status st = gx_st_read_file(path, &g, &d);
        gx_fuzz_check_msg("gx_st_read_file (round trip)", st, d.msg);
        if (st != GX_OK) fprintf(stderr, "fuzz-safetensors: %s\n", d.msg);
        CHECK(st == GX_OK);
        CHECK(gx_st_count(g) == gx_st_count(f));
        CHECK(gx_st_meta_count(g) == gx_st_meta_count(f));
        for (int i = 0; i < gx_st_count(f); i++) {
            const gx_st_tensor *a = gx_st_at(f, i), *b = gx_st_find(g, a->name);
            CHECK(b != NULL && a->dtype == b->dtype && a->nbytes == b->nbytes);
            CHECK(a->shape.ndim == b->shape.ndim);
            CHECK(memcmp(a->shape.dims, b->shape.dims, sizeof(int64_t) * (size_t)a->shape.ndim) == 0);
            CHECK(memcmp(a->data, b->data, (size_t)a->nbytes) == 0);
        }
        for (int i = 0; i < gx_st_meta_count(f); i++) {
            const char *k, *v, *v2;
            gx_st_meta_at(f, i, &k, &v);
            CHECK((v2 = gx_st_meta(g, k)) != NULL && strcmp(v, v2) == 0);
        }
        gx_st_free(g);
    }
    gx_st_writer_free(w);
}

int gx_fuzz_safetensors(const uint8_t *data, size_t size) {
    gx_diag d;
    gx_diag_init(&d);
    gx_st_file *f = NULL;
    gx_status st = gx_st_parse(data, size, "fuzz.safetensors", &f, &d);
    gx_fuzz_check_msg("gx_st_parse", st, d.msg);
    if (st != GX_OK) {
        CHECK(f == NULL);
        return 0;
    }
    volatile uint64_t sink = touch(f);
    (void)sink;
    round_trip(f);
    gx_st_free(f);
    return 0;
}

GX_FUZZ_ENTRY(safetensors)
