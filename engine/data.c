/*
 * data.c: the data set entry points (open by extension, free), the vocabulary functions that
 * sampling and checkpoints use, and the helpers the three kinds share (data-impl.h). The kinds
 * themselves live in data-text.c, data-jsonl.c and data-task.c.
 */
#define _POSIX_C_SOURCE 200809L

#include "data-impl.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---- opening and freeing ----

/* ".jsonl" only as the last extension of the last path component: "runs.jsonl/notes.txt" is
 * text. Matching is exact; "x.JSONL" is text too, which the error for a JSON file read as text
 * would not explain, so say it in the docs rather than guess. */
static int is_jsonl(const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    return dot != NULL && strcmp(dot, ".jsonl") == 0;
}

gx_status gx_data_open(const char *path, const gx_data_opts *o, gx_dataset **out, gx_diag *d) {
    *out = NULL;
    if (path == NULL || o == NULL) return gx_diag_set(d, GX_ERR_INVALID, "no data file given");
    if (o->batch < 1)
        return gx_diag_at(d, GX_ERR_INVALID, (gx_srcpos){path, 0, 0},
                          "batch size must be at least 1, got %lld", (long long)o->batch);
    if (!(o->val_frac >= 0.0 && o->val_frac <= 1.0))
        return gx_diag_at(d, GX_ERR_INVALID, (gx_srcpos){path, 0, 0},
                          "validation fraction must be in [0, 1], got %g", o->val_frac);
    return is_jsonl(path) ? gx_data_open_jsonl(path, o, out, d)
                          : gx_data_open_text(path, o, out, d);
}

void gx_data_free(gx_dataset *ds) {
    if (ds == NULL) return;
    char *src = ds->source;
    ds->vt->free(ds);   /* frees the kind's struct, which embeds ds; source is ours */
    gx_free(src);
}

const gx_vocab *gx_data_vocab(const gx_dataset *ds) {
    if (ds == NULL || strcmp(ds->vt->kind, "text") != 0) return NULL;
    return gx_data_text_vocab(ds);
}

// ---- vocabulary ----

int32_t gx_vocab_id(const gx_vocab *v, uint32_t sym) {
    if (v == NULL) return -1;
    int32_t lo = 0, hi = v->n - 1;
    while (lo <= hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (v->syms[mid] == sym) return mid;
        if (v->syms[mid] < sym) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

gx_status gx_vocab_encode(const gx_vocab *v, const char *text, size_t len, int32_t *ids,
                          size_t *n_ids, gx_diag *d) {
    const unsigned char *p = (const unsigned char *)text;
    size_t k = 0;
    *n_ids = 0;
    for (size_t i = 0; i < len;) {
        uint32_t sym = p[i];
        size_t step = 1;
        if (!v->bytes) {
            step = gx_utf8_decode(p + i, len - i, &sym);
            if (step == 0)
                return gx_diag_set(d, GX_ERR_INVALID,
                                   "invalid UTF-8 at byte offset %zu (byte 0x%02x)", i, p[i]);
        }
        int32_t id = gx_vocab_id(v, sym);
        if (id < 0) {
            char sb[48];
            return gx_diag_set(d, GX_ERR_NOT_FOUND,
                               "%s at byte offset %zu is not in the vocabulary (%d symbols)",
                               gx_sym_str(sym, v->bytes, sb, sizeof sb), i, (int)v->n);
        }
        ids[k++] = id;
        i += step;
    }
    *n_ids = k;
    return GX_OK;
}

int gx_vocab_decode(const gx_vocab *v, int32_t id, char out[4]) {
    if (v == NULL || id < 0 || id >= v->n) return 0;
    if (v->bytes) {
        out[0] = (char)(unsigned char)v->syms[id];
        return 1;
    }
    return gx_utf8_encode(v->syms[id], out);
}

// ---- helpers shared by the kinds ----

gx_status gx_data_read_file(const char *path, char **data, size_t *n, gx_diag *d) {
    gx_srcpos at = {path, 0, 0};
    *data = NULL;
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL) return gx_diag_at(d, GX_ERR_IO, at, "cannot open: %s", strerror(errno));
    size_t cap = 1 << 16, len = 0;
    char *buf = gx_malloc(cap);
    for (;;) {
        if (buf == NULL) break;
        if (len + 1 >= cap) {
            char *p = cap <= SIZE_MAX / 2 ? gx_realloc(buf, cap * 2) : NULL;
            if (p == NULL) {
                gx_free(buf);
                buf = NULL;
                break;
            }
            buf = p;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - 1 - len, f);
        len += got;
        if (got == 0) break;
    }
    if (buf == NULL) {
        fclose(f);
        return gx_diag_at(d, GX_ERR_NOMEM, at, "out of memory reading the file");
    }
    /* a directory opens fine on Linux and fails on the first read (EISDIR) */
    if (ferror(f)) {
        int e = errno;
        gx_free(buf);
        fclose(f);
        return gx_diag_at(d, GX_ERR_IO, at, "cannot read: %s", strerror(e));
    }
    fclose(f);
    buf[len] = '\0';
    *data = buf;
    *n = len;
    return GX_OK;
}

size_t gx_utf8_decode(const unsigned char *p, size_t n, uint32_t *cp) {
    unsigned c = p[0];
    size_t len;
    unsigned lo = 0x80, hi = 0xBF;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) len = 3;
    else if (c >= 0xF0 && c <= 0xF4) len = 4;
    else return 0;
    if (len > n) return 0;
    /* the second byte's range is what rules out overlongs, surrogates and > U+10FFFF */
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
    if (p[1] < lo || p[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xBF) return 0;
    uint32_t v = c & (0x7Fu >> len);
    for (size_t i = 1; i < len; i++) v = (v << 6) | (p[i] & 0x3Fu);
    *cp = v;
    return len;
}

int gx_utf8_encode(uint32_t cp, char out[4]) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

const char *gx_sym_str(uint32_t sym, int bytes, char *buf, size_t n) {
    if (bytes) {
        if (sym >= 0x21 && sym < 0x7F) snprintf(buf, n, "byte '%c' (0x%02x)", (char)sym, sym);
        else snprintf(buf, n, "byte 0x%02x", sym);
        return buf;
    }
    /* control characters and spaces are shown by number only: quoting them reads badly */
    if (sym <= 0x20 || sym == 0x7F || (sym >= 0x80 && sym < 0xA0) || sym > 0x10FFFF) {
        snprintf(buf, n, "character U+%04X", sym);
        return buf;
    }
    char u[5] = {0};
    u[gx_utf8_encode(sym, u)] = '\0';
    snprintf(buf, n, "character '%s' (U+%04X)", u, sym);
    return buf;
}

uint64_t gx_data_val_count(double val_frac, uint64_t n) {
    if (val_frac <= 0.0 || n == 0) return 0;
    if (val_frac >= 1.0) return n;
    /* the epsilon keeps 0.1 * 100 (10.000000000000002 in some orders) from becoming 11 */
    double v = ceil(val_frac * (double)n - 1e-9);
    uint64_t k = v <= 0.0 ? 0 : (uint64_t)v;
    if (k == 0 && n >= 2) k = 1;
    if (k > n) k = n;
    return k;
}

void gx_data_store(void *dst, gx_dtype dt, size_t i, double v) {
    switch (dt) {
    case GX_DTYPE_F32: ((float *)dst)[i] = (float)v; break;
    case GX_DTYPE_F64: ((double *)dst)[i] = v; break;
    case GX_DTYPE_I32: ((int32_t *)dst)[i] = (int32_t)v; break;
    default: break;
    }
}
