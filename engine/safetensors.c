/*
 * safetensors.c: strict .safetensors parsing and atomic writing (format notes in safetensors.h).
 *
 * The reader validates everything the reference implementation does (header size limit, offsets
 * covering the data section exactly) plus what cJSON is too lenient about (trailing garbage,
 * control characters, \u0000, duplicate keys, bad UTF-8). Tensor data is copied into one buffer
 * with every tensor 8-byte aligned, because the file itself only guarantees byte alignment.
 * It does not memory-map files and does not read F16/BF16 or integer types other than I32/I64.
 */
#define _POSIX_C_SOURCE 200809L

#include "safetensors.h"
#include "util.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ST_MAX_HEADER 100000000u           /* the reference implementation's limit */
#define ST_MAX_INT    9007199254740992.0   /* 2^53: beyond it doubles skip integers */

// ---- shared helpers ----

/* The format is little-endian and we copy tensor bytes as they are, so a big-endian host would
 * silently read garbage; refuse instead. (No big-endian target is supported today.) */
static int host_is_little_endian(void) {
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = gx_malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0 if it is invalid: overlong
 * forms, surrogates and code points past U+10FFFF are all rejected, as Rust's from_utf8 does. */
static size_t utf8_seq(const unsigned char *p, size_t n) {
    unsigned c = p[0];
    size_t len;
    unsigned lo = 0x80, hi = 0xBF;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) len = 3;
    else if (c >= 0xF0 && c <= 0xF4) len = 4;
    else return 0;
    if (len > n) return 0;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
    if (p[1] < lo || p[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xBF) return 0;
    return len;
}

static int utf8_valid(const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq(p + i, n - i);
        if (k == 0) return 0;
        i += k;
    }
    return 1;
}

typedef struct st_dtype_name {
    const char *name;
    gx_dtype    dtype;      /* in memory, after conversion          */
    size_t      file_size;  /* bytes per element in the file        */
} st_dtype_name;

static const st_dtype_name st_dtypes[] = {
    { "F32", GX_DTYPE_F32, 4 },
    { "F64", GX_DTYPE_F64, 8 },
    { "I32", GX_DTYPE_I32, 4 },
    { "I64", GX_DTYPE_I32, 8 },   /* converted to I32 at load */
};

static const char *st_dtype_str(gx_dtype dt) {
    for (size_t i = 0; i < 3; i++)
        if (st_dtypes[i].dtype == dt) return st_dtypes[i].name;
    return NULL;
}

/* The product of the non-zero dims, or -1 when it overflows int64. Zero dims are skipped so
 * that [2^40, 2^40, 0] is refused too: gx_shape_numel would overflow on its way to 0. */
static int64_t numel_checked(const gx_shape *s) {
    int64_t n = 1;
    int any_zero = 0;
    for (int32_t i = 0; i < s->ndim; i++) {
        int64_t v = s->dims[i];
        if (v == 0) {
            any_zero = 1;
            continue;
        }
        if (n > INT64_MAX / v) return -1;
        n *= v;
    }
    return any_zero ? 0 : n;
}

// ---- reading ----

typedef struct st_meta {
    char *key;
    char *value;
} st_meta;

struct gx_st_file {
    int            n_tensors;
    gx_st_tensor  *tensors;     /* data-section order                  */
    int           *by_name;     /* indices into tensors, sorted by name */
    int            n_meta;
    st_meta       *meta;        /* header order                         */
    unsigned char *data;        /* all tensors, each 8-byte aligned     */
};

/* A tensor entry while the header is checked: where its bytes are in the file. */
typedef struct st_entry {
    const char *name;       /* borrowed from the cJSON tree           */
    size_t      file_size;  /* bytes per element in the file          */
    int         is_i64;
    gx_dtype    dtype;
    gx_shape    shape;
    uint64_t    begin, end; /* data_offsets                           */
    int         order;      /* header position, for stable sorting    */
} st_entry;

static int cmp_entry_offset(const void *a, const void *b) {
    const st_entry *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int cmp_str_ptr(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* qsort has no context argument, so sort (name, index) pairs rather than bare indices. */
typedef struct st_name_idx {
    const char *name;
    int         idx;
} st_name_idx;

static int cmp_name_idx(const void *a, const void *b) {
    return strcmp(((const st_name_idx *)a)->name, ((const st_name_idx *)b)->name);
}

/* A JSON number that is an integer in [0, 2^53). cJSON hands out doubles only, so 2.0 passes
 * and 2.5, -1, 1e300, NaN do not. */
static int json_uint(const cJSON *it, uint64_t *out) {
    if (!cJSON_IsNumber(it)) return 0;
    double v = it->valuedouble;
    if (!(v >= 0.0 && v < ST_MAX_INT)) return 0;
    uint64_t u = (uint64_t)v;
    if ((double)u != v) return 0;
    *out = u;
    return 1;
}

/* What a JSON item is, for messages: "2.5", "-1", "a string", ... */
static const char *json_what(const cJSON *it, char *buf, size_t n) {
    if (cJSON_IsNumber(it)) {
        /* shortest of the two that reads back exactly, as cJSON prints numbers */
        snprintf(buf, n, "%.15g", it->valuedouble);
        if (strtod(buf, NULL) != it->valuedouble) snprintf(buf, n, "%.17g", it->valuedouble);
        return buf;
    }
    if (cJSON_IsString(it)) return "a string";
    if (cJSON_IsArray(it)) return "an array";
    if (cJSON_IsObject(it)) return "an object";
    if (cJSON_IsBool(it)) return "a boolean";
    if (cJSON_IsNull(it)) return "null";
    return "invalid";
}

/* Checks cJSON does not do: bytes that are not UTF-8, raw control characters (never legal in
 * JSON; cJSON lets them through inside strings) and \u0000, which would silently cut a name
 * short once cJSON turns it into a C string. */
static gx_status scan_header(const unsigned char *h, size_t n, const char *fname, gx_diag *d) {
    int in_string = 0;
    for (size_t i = 0; i < n;) {
        unsigned c = h[i];
        if (c >= 0x80) {
            size_t k = utf8_seq(h + i, n - i);
            if (k == 0)
                return gx_diag_set(d, GX_ERR_FORMAT, "%s: header is not valid UTF-8 (byte %zu)",
                                   fname, i);
            i += k;
            continue;
        }
        if (c < 0x20 && (in_string || (c != '\t' && c != '\n' && c != '\r')))
            return gx_diag_set(d, GX_ERR_FORMAT,
                               "%s: header has a raw control character 0x%02x at byte %zu",
                               fname, c, i);
        if (in_string && c == '\\') {
            if (i + 1 < n && h[i + 1] == 'u' && n - i >= 6 && memcmp(h + i + 2, "0000", 4) == 0)
                return gx_diag_set(d, GX_ERR_FORMAT,
                                   "%s: header has a \\u0000 escape at byte %zu (names and "
                                   "values cannot contain NUL)", fname, i);
            i += 2;   /* skip the escaped character; cJSON validates the escape itself */
            continue;
        }
        if (c == '"') in_string = !in_string;
        i++;
    }
    return GX_OK;
}

/* Check one "name": {...} entry and fill e; nothing is allocated. */
static gx_status check_entry(const cJSON *item, st_entry *e, const char *fname, gx_diag *d) {
    const char *name = item->string;
    const cJSON *dtype = NULL, *shape = NULL, *offs = NULL;
    char what[64];

    if (!cJSON_IsObject(item))
        return gx_diag_set(d, GX_ERR_FORMAT, "%s: tensor '%s': entry is %s, not an object", fname,
                           name, json_what(item, what, sizeof what));
    for (const cJSON *f = item->child; f; f = f->next) {
        const cJSON **slot = strcmp(f->string, "dtype") == 0          ? &dtype
                             : strcmp(f->string, "shape") == 0        ? &shape
                             : strcmp(f->string, "data_offsets") == 0 ? &offs
                                                                      : NULL;
        if (slot == NULL)
            return gx_diag_set(d, GX_ERR_FORMAT, "%s: tensor '%s': unexpected field '%s'", fname,
                               name, f->string);
        if (*slot != NULL)
            return gx_diag_set(d, GX_ERR_FORMAT, "%s: tensor '%s': field '%s' appears twice",
                               fname, name, f->string);
        *slot = f;
    }
    if (dtype == NULL || shape == NULL || offs == NULL)
        return gx_diag_set(d, GX_ERR_FORMAT, "%s: tensor '%s': missing field '%s'", fname, name,
                           dtype == NULL ? "dtype" : shape == NULL ? "shape" : "data_offsets");

    /* dtype */
    if (!cJSON_IsString(dtype))
        return gx_diag_set(d, GX_ERR_FORMAT, "%s: tensor '%s': 'dtype' is %s, not a string",
                           fname, name, json_what(dtype, what, sizeof what));
    const st_dtype_name *dt = NULL;
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
        if (strcmp(dtype->valuestring, st_dtypes[i].name) == 0) dt = &st_dtypes[i];
    if (dt == NULL)
        return gx_diag_set(d, GX_ERR_FORMAT,
                           "%s: tensor '%s' has unsupported dtype '%s' (gexec reads F32, F64, "
                           "I32, I64)", fname, name, dtype->valuestring);
    e->name = name;
    e->dtype = dt->dtype;
    e->file_size = dt->file_size;
    e->is_i64 = strcmp(dt->name, "I64") == 0;

    /* shape */
    if (!cJSON_IsArray(shape))
        return gx_diag_set(d, GX_ERR_FORMAT, "%s: tensor '%s': 'shape' is %s, not an array",
                           fname, name, json_what(shape, what, sizeof what));
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > GX_MAX_DIMS)
        return gx_diag_set(d, GX_ERR_FORMAT,
                           "%s: tensor '%s': shape has %d dimensions (gexec supports at most %d)",
                           fname, name, ndim, GX_MAX_DIMS);
    memset(&e->shape, 0, sizeof e->shape);
    e->shape.ndim = ndim;
    int k = 0;
    for (const cJSON *v = shape->child; v; v = v->next, k++) {
        uint64_t u;
        if (!json_uint(v, &u))
            return gx_diag_set(d, GX_ERR_FORMAT,
                               "%s: tensor '%s': shape[%d] is %s, not a non-negative integer "
                               "below 2^53", fname, name, k, json_what(v, what, sizeof what));
        e->shape.dims[k] = (int64_t)u;
    }
    int64_t numel = numel_checked(&e->shape);
    char sbuf[256];
    if (numel < 0 || (uint64_t)numel > UINT64_MAX / e->file_size)
        return gx_diag_set(d, GX_ERR_FORMAT, "%s: tensor '%s': shape %s has too many elements",
                           fname, name, gx_shape_str(&e->shape, sbuf, sizeof sbuf));

    /* data_offsets */
    uint64_t b = 0, en = 0;
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 || !json_uint(offs->child, &b) ||
        !json_uint(offs->child->next, &en))
        return gx_diag_set(d, GX_ERR_FORMAT,
                           "%s: tensor '%s': 'data_offsets' must be [begin, end], two "
                           "non-negative integers", fname, name);
    if (b > en)
        return gx_diag_set(d, GX_ERR_FORMAT,
                           "%s: tensor '%s': data_offsets [%llu, %llu] have begin > end", fname,
                           name, (unsigned long long)b, (unsigned long long)en);
    uint64_t need = (uint64_t)numel * e->file_size;
    if (en - b != need)
        return gx_diag_set(d, GX_ERR_FORMAT,
                           "%s: tensor '%s': data_offsets [%llu, %llu] span %llu bytes but %s %s "
                           "needs %llu", fname, name, (unsigned long long)b,
                           (unsigned long long)en, (unsigned long long)(en - b), dt->name,
                           gx_shape_str(&e->shape, sbuf, sizeof sbuf), (unsigned long long)need);
    e->begin = b;
    e->end = en;
    return GX_OK;
}

static gx_status check_metadata(const cJSON *m, const char *fname, gx_diag *d) {
    char what[64];
    if (!cJSON_IsObject(m))
        return gx_diag_set(d, GX_ERR_FORMAT, "%s: '__metadata__' is %s, not an object", fname,
                           json_what(m, what, sizeof what));
    int n = cJSON_GetArraySize(m), k = 0;
    for (const cJSON *v = m->child; v; v = v->next)
        if (!cJSON_IsString(v))
            return gx_diag_set(d, GX_ERR_FORMAT,
                               "%s: '__metadata__' value of '%s' is %s, not a string", fname,
                               v->string, json_what(v, what, sizeof what));
    if (n < 2) return GX_OK;
    /* cJSON keeps duplicate keys; sort to find them (a hostile header may hold millions) */
    const char **keys = gx_malloc((size_t)n * sizeof *keys);
    if (keys == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "%s: out of memory", fname);
    for (const cJSON *v = m->child; v; v = v->next) keys[k++] = v->string;
    qsort(keys, (size_t)n, sizeof *keys, cmp_str_ptr);
    gx_status st = GX_OK;
    for (int i = 1; i < n && st == GX_OK; i++)
        if (strcmp(keys[i - 1], keys[i]) == 0)
            st = gx_diag_set(d, GX_ERR_FORMAT, "%s: '__metadata__' key '%s' appears twice", fname,
                             keys[i]);
    gx_free(keys);
    return st;
}

/* Sorted by offset, the ranges must tile [0, data_len) exactly, as the reference requires. */
static gx_status check_coverage(const st_entry *e, int n, uint64_t data_len, const char *fname,
                                gx_diag *d) {
    uint64_t at = 0;
    for (int i = 0; i < n; i++) {
        if (e[i].end > data_len)
            return gx_diag_set(d, GX_ERR_FORMAT,
                               "%s: tensor '%s': data_offsets [%llu, %llu] run past the end of "
                               "the data section (%llu bytes)", fname, e[i].name,
                               (unsigned long long)e[i].begin, (unsigned long long)e[i].end,
                               (unsigned long long)data_len);
        if (e[i].begin < at)
            return gx_diag_set(d, GX_ERR_FORMAT,
                               "%s: tensor '%s' (bytes %llu..%llu) overlaps tensor '%s' (bytes "
                               "%llu..%llu)", fname, e[i].name, (unsigned long long)e[i].begin,
                               (unsigned long long)e[i].end, e[i - 1].name,
                               (unsigned long long)e[i - 1].begin,
                               (unsigned long long)e[i - 1].end);
        if (e[i].begin > at)
            return gx_diag_set(d, GX_ERR_FORMAT,
                               "%s: gap in the data section: bytes %llu..%llu before tensor '%s' "
                               "belong to no tensor", fname, (unsigned long long)at,
                               (unsigned long long)e[i].begin, e[i].name);
        at = e[i].end;
    }
    if (at != data_len)
        return gx_diag_set(d, GX_ERR_FORMAT,
                           "%s: data section has %llu bytes after the last tensor (it is %llu "
                           "bytes, tensors end at %llu)", fname,
                           (unsigned long long)(data_len - at), (unsigned long long)data_len,
                           (unsigned long long)at);
    return GX_OK;
}

static uint64_t round8(uint64_t x) { return (x + 7u) & ~(uint64_t)7u; }

/* Copy the checked entries' data into f, converting I64 to I32. */
static gx_status load_tensors(gx_st_file *f, const st_entry *e, int n, const unsigned char *data,
                              const char *fname, gx_diag *d) {
    uint64_t total = 8;   /* never empty, so every data pointer is valid */
    for (int i = 0; i < n; i++)
        total += round8(e[i].is_i64 ? (e[i].end - e[i].begin) / 2 : e[i].end - e[i].begin);
    if (total > SIZE_MAX) return gx_diag_set(d, GX_ERR_NOMEM, "%s: out of memory", fname);
    f->data = gx_malloc((size_t)total);
    f->tensors = gx_calloc((size_t)n + 1, sizeof *f->tensors);
    if (f->data == NULL || f->tensors == NULL)
        return gx_diag_set(d, GX_ERR_NOMEM, "%s: out of memory", fname);
    uint64_t at = 0;
    for (int i = 0; i < n; i++) {
        gx_st_tensor *t = &f->tensors[i];
        const unsigned char *src = data + e[i].begin;
        uint64_t len = e[i].end - e[i].begin;
        unsigned char *dst = f->data + at;
        char *name = dup_str(e[i].name);
        if (name == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "%s: out of memory", fname);
        t->name = name;
        f->n_tensors = i + 1;   /* so gx_st_free frees this name on a later failure */
        t->dtype = e[i].dtype;
        t->shape = e[i].shape;
        t->data = dst;
        if (e[i].is_i64) {
            uint64_t count = len / 8;
            for (uint64_t j = 0; j < count; j++) {
                int64_t v;
                memcpy(&v, src + 8 * j, 8);
                if (v < INT32_MIN || v > INT32_MAX)
                    return gx_diag_set(d, GX_ERR_FORMAT,
                                       "%s: tensor '%s' (I64): value %lld at index %llu does not "
                                       "fit in int32", fname, name, (long long)v,
                                       (unsigned long long)j);
                int32_t w = (int32_t)v;
                memcpy(dst + 4 * j, &w, 4);
            }
            len = count * 4;
        } else if (len > 0) {
            memcpy(dst, src, (size_t)len);
        }
        t->nbytes = len;
        at += round8(len);
    }
    return GX_OK;
}

static gx_status build_name_index(gx_st_file *f, const char *fname, gx_diag *d) {
    st_name_idx *tmp = gx_malloc(((size_t)f->n_tensors + 1) * sizeof *tmp);
    f->by_name = gx_malloc(((size_t)f->n_tensors + 1) * sizeof *f->by_name);
    if (tmp == NULL || f->by_name == NULL) {
        gx_free(tmp);
        return gx_diag_set(d, GX_ERR_NOMEM, "%s: out of memory", fname);
    }
    for (int i = 0; i < f->n_tensors; i++) {
        tmp[i].name = f->tensors[i].name;
        tmp[i].idx = i;
    }
    if (f->n_tensors > 0) qsort(tmp, (size_t)f->n_tensors, sizeof *tmp, cmp_name_idx);
    for (int i = 0; i < f->n_tensors; i++) f->by_name[i] = tmp[i].idx;
    gx_free(tmp);
    return GX_OK;
}

static gx_status copy_metadata(gx_st_file *f, const cJSON *m, const char *fname, gx_diag *d) {
    int n = cJSON_GetArraySize(m);
    f->meta = gx_calloc((size_t)n + 1, sizeof *f->meta);
    if (f->meta == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "%s: out of memory", fname);
    for (const cJSON *v = m->child; v; v = v->next) {
        st_meta *kv = &f->meta[f->n_meta++];
        kv->key = dup_str(v->string);
        kv->value = dup_str(v->valuestring);
        if (kv->key == NULL || kv->value == NULL)
            return gx_diag_set(d, GX_ERR_NOMEM, "%s: out of memory", fname);
    }
    return GX_OK;
}

/* Everything after the 8-byte prefix: header checks, then data. Fills f; the caller frees f on
 * failure. */
static gx_status parse_into(gx_st_file *f, const unsigned char *bytes, size_t n,
                            const char *fname, gx_diag *d) {
    if (n < 8)
        return gx_diag_set(d, GX_ERR_FORMAT,
                           "%s: file is %zu bytes, too short for the 8-byte header length", fname,
                           n);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | bytes[i];
    if (hlen > ST_MAX_HEADER)
        return gx_diag_set(d, GX_ERR_FORMAT,
                           "%s: header length %llu exceeds the limit of %u bytes", fname,
                           (unsigned long long)hlen, ST_MAX_HEADER);
    if (hlen > n - 8)
        return gx_diag_set(d, GX_ERR_FORMAT,
                           "%s: header length %llu runs past the end of the file (%zu bytes "
                           "after the length field)", fname, (unsigned long long)hlen, n - 8);
    const unsigned char *h = bytes + 8;
    const unsigned char *data = h + hlen;
    uint64_t data_len = n - 8 - hlen;

    gx_status st = scan_header(h, (size_t)hlen, fname, d);
    if (st != GX_OK) return st;
    /* The reference refuses headers that do not start with '{' (no leading whitespace). */
    if (hlen == 0 || h[0] != '{')
        return gx_diag_set(d, GX_ERR_FORMAT, "%s: header does not start with '{'", fname);
    const char *end = NULL;
    int64_t failed = gx_alloc_failures();
    cJSON *root = cJSON_ParseWithLengthOpts((const char *)h, (size_t)hlen, &end, 0);
    if (root == NULL && gx_alloc_failures() != failed)
        return gx_diag_set(d, GX_ERR_NOMEM, "%s: out of memory reading the header", fname);
    if (root == NULL) {
        size_t at = end ? (size_t)(end - (const char *)h) : 0;
        return gx_diag_set(d, GX_ERR_FORMAT, "%s: header is not valid JSON (near byte %zu)",
                           fname, at);
    }
    st_entry *entries = NULL;
    const char **names = NULL;
    const cJSON *meta = NULL;
    int n_entries = 0;

    if (!cJSON_IsObject(root)) {
        st = gx_diag_set(d, GX_ERR_FORMAT, "%s: header is not a JSON object", fname);
        goto done;
    }
    /* Only spaces may pad the header (that is what writers emit). */
    for (size_t i = (size_t)(end - (const char *)h); i < hlen; i++) {
        if (h[i] != ' ') {
            st = gx_diag_set(d, GX_ERR_FORMAT,
                             "%s: header has trailing bytes after the JSON object (byte %zu)",
                             fname, i);
            goto done;
        }
    }
    int n_items = cJSON_GetArraySize(root);
    entries = gx_calloc((size_t)n_items + 1, sizeof *entries);
    names = gx_calloc((size_t)n_items + 1, sizeof *names);
    if (entries == NULL || names == NULL) {
        st = gx_diag_set(d, GX_ERR_NOMEM, "%s: out of memory", fname);
        goto done;
    }
    for (const cJSON *it = root->child; it; it = it->next) {
        if (strcmp(it->string, "__metadata__") == 0) {
            if (meta != NULL) {
                st = gx_diag_set(d, GX_ERR_FORMAT, "%s: '__metadata__' appears twice", fname);
                goto done;
            }
            meta = it;
            st = check_metadata(meta, fname, d);
            if (st != GX_OK) goto done;
            continue;
        }
        if (it->string[0] == '\0') {
            st = gx_diag_set(d, GX_ERR_FORMAT, "%s: a tensor has an empty name", fname);
            goto done;
        }
        st_entry *e = &entries[n_entries];
        st = check_entry(it, e, fname, d);
        if (st != GX_OK) goto done;
        e->order = n_entries;
        names[n_entries] = it->string;
        n_entries++;
    }
    /* cJSON keeps duplicate keys; sorting the names finds them in n log n. */
    if (n_entries > 1) {
        qsort(names, (size_t)n_entries, sizeof *names, cmp_str_ptr);
        for (int i = 1; i < n_entries; i++) {
            if (strcmp(names[i - 1], names[i]) == 0) {
                st = gx_diag_set(d, GX_ERR_FORMAT, "%s: tensor '%s' appears twice", fname,
                                 names[i]);
                goto done;
            }
        }
        qsort(entries, (size_t)n_entries, sizeof *entries, cmp_entry_offset);
    }
    st = check_coverage(entries, n_entries, data_len, fname, d);
    if (st != GX_OK) goto done;
    st = load_tensors(f, entries, n_entries, data, fname, d);
    if (st == GX_OK) st = build_name_index(f, fname, d);
    if (st == GX_OK && meta != NULL) st = copy_metadata(f, meta, fname, d);

done:
    gx_free(names);
    gx_free(entries);
    cJSON_Delete(root);
    return st;
}

gx_status gx_st_parse(const void *bytes, size_t n, const char *display_name, gx_st_file **out,
                      gx_diag *d) {
    const char *fname = display_name ? display_name : "<memory>";
    *out = NULL;
    if (!host_is_little_endian())
        return gx_diag_set(d, GX_ERR_UNSUPPORTED, "%s: safetensors needs a little-endian host",
                           fname);
    if (bytes == NULL && n > 0)
        return gx_diag_set(d, GX_ERR_INVALID, "%s: no bytes to parse", fname);
    gx_st_file *f = gx_calloc(1, sizeof *f);
    if (f == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "%s: out of memory", fname);
    gx_status st = parse_into(f, bytes, n, fname, d);
    if (st != GX_OK) {
        gx_st_free(f);
        return st;
    }
    *out = f;
    return GX_OK;
}

gx_status gx_st_read_file(const char *path, gx_st_file **out, gx_diag *d) {
    *out = NULL;
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        return gx_diag_set(d, GX_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(fp), &sb) != 0) {
        int e = errno;
        fclose(fp);
        return gx_diag_set(d, GX_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        fclose(fp);
        return gx_diag_set(d, GX_ERR_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)sb.st_size > SIZE_MAX - 1) {
        fclose(fp);
        return gx_diag_set(d, GX_ERR_NOMEM, "%s: file too large to load", path);
    }
    size_t size = (size_t)sb.st_size;
    unsigned char *buf = gx_malloc(size + 1);
    if (buf == NULL) {
        fclose(fp);
        return gx_diag_set(d, GX_ERR_NOMEM, "%s: out of memory (%zu bytes)", path, size);
    }
    /* Read one byte more than stat said, to notice a file that grew under us. */
    size_t got = fread(buf, 1, size + 1, fp);
    int err = ferror(fp) ? errno : 0;
    fclose(fp);
    if (err != 0 || got != size) {
        gx_free(buf);
        if (err != 0)
            return gx_diag_set(d, GX_ERR_IO, "%s: read failed: %s", path, strerror(err));
        return gx_diag_set(d, GX_ERR_IO, "%s: file changed size while being read", path);
    }
    gx_status st = gx_st_parse(buf, size, path, out, d);
    gx_free(buf);
    return st;
}

int gx_st_count(const gx_st_file *f) { return f ? f->n_tensors : 0; }

const gx_st_tensor *gx_st_at(const gx_st_file *f, int i) {
    if (f == NULL || i < 0 || i >= f->n_tensors) return NULL;
    return &f->tensors[i];
}

const gx_st_tensor *gx_st_find(const gx_st_file *f, const char *name) {
    if (f == NULL || name == NULL) return NULL;
    int lo = 0, hi = f->n_tensors - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        const gx_st_tensor *t = &f->tensors[f->by_name[mid]];
        int c = strcmp(name, t->name);
        if (c == 0) return t;
        if (c < 0) hi = mid - 1;
        else lo = mid + 1;
    }
    return NULL;
}

const char *gx_st_meta(const gx_st_file *f, const char *key) {
    if (f == NULL || key == NULL) return NULL;
    for (int i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta[i].key, key) == 0) return f->meta[i].value;
    return NULL;
}

int gx_st_meta_count(const gx_st_file *f) { return f ? f->n_meta : 0; }

gx_status gx_st_meta_at(const gx_st_file *f, int i, const char **key, const char **value) {
    if (f == NULL || i < 0 || i >= f->n_meta) return GX_ERR_INVALID;
    if (key) *key = f->meta[i].key;
    if (value) *value = f->meta[i].value;
    return GX_OK;
}

void gx_st_free(gx_st_file *f) {
    if (f == NULL) return;
    for (int i = 0; i < f->n_tensors; i++) gx_free((char *)f->tensors[i].name);
    for (int i = 0; i < f->n_meta; i++) {
        gx_free(f->meta[i].key);
        gx_free(f->meta[i].value);
    }
    gx_free(f->tensors);
    gx_free(f->by_name);
    gx_free(f->meta);
    gx_free(f->data);
    gx_free(f);
}

// ---- writing ----

typedef struct st_wtensor {
    char    *name;
    gx_dtype dtype;
    gx_shape shape;
    void    *data;
    uint64_t nbytes;
} st_wtensor;

struct gx_st_writer {
    int         n_tensors, cap_tensors;
    st_wtensor *tensors;   /* in the order added, which is the file order */
    int         n_meta, cap_meta;
    st_meta    *meta;
};

gx_st_writer *gx_st_writer_new(void) { return gx_calloc(1, sizeof(gx_st_writer)); }

void gx_st_writer_free(gx_st_writer *w) {
    if (w == NULL) return;
    for (int i = 0; i < w->n_tensors; i++) {
        gx_free(w->tensors[i].name);
        gx_free(w->tensors[i].data);
    }
    for (int i = 0; i < w->n_meta; i++) {
        gx_free(w->meta[i].key);
        gx_free(w->meta[i].value);
    }
    gx_free(w->tensors);
    gx_free(w->meta);
    gx_free(w);
}

static int grow(void **arr, int *cap, int need, size_t elem) {
    if (need <= *cap) return 1;
    int nc = *cap < 8 ? 16 : *cap > INT32_MAX / 2 ? INT32_MAX : *cap * 2;
    if (nc < need) nc = need;
    void *p = gx_realloc(*arr, (size_t)nc * elem);
    if (p == NULL) return 0;
    *arr = p;
    *cap = nc;
    return 1;
}

gx_status gx_st_writer_add(gx_st_writer *w, const char *name, gx_dtype dtype,
                           const gx_shape *shape, const void *data, gx_diag *d) {
    char sbuf[256];
    if (w == NULL || name == NULL || shape == NULL)
        return gx_diag_set(d, GX_ERR_INVALID, "safetensors writer: NULL argument");
    if (name[0] == '\0' || strcmp(name, "__metadata__") == 0 || !utf8_valid(name))
        return gx_diag_set(d, GX_ERR_INVALID,
                           "safetensors writer: invalid tensor name '%s' (must be non-empty "
                           "UTF-8 and not '__metadata__')", name);
    if (st_dtype_str(dtype) == NULL)
        return gx_diag_set(d, GX_ERR_INVALID,
                           "safetensors writer: tensor '%s' has dtype %s (f32, f64 or i32 only)",
                           name, gx_dtype_name(dtype));
    if (shape->ndim < 0 || shape->ndim > GX_MAX_DIMS)
        return gx_diag_set(d, GX_ERR_INVALID,
                           "safetensors writer: tensor '%s' has rank %d (0..%d allowed)", name,
                           (int)shape->ndim, GX_MAX_DIMS);
    for (int32_t i = 0; i < shape->ndim; i++)
        if (shape->dims[i] < 0 || (double)shape->dims[i] >= ST_MAX_INT)
            return gx_diag_set(d, GX_ERR_INVALID,
                               "safetensors writer: tensor '%s' has a bad shape %s", name,
                               gx_shape_str(shape, sbuf, sizeof sbuf));
    int64_t numel = numel_checked(shape);
    size_t esize = gx_dtype_size(dtype);
    if (numel < 0 || (uint64_t)numel > SIZE_MAX / esize)
        return gx_diag_set(d, GX_ERR_INVALID,
                           "safetensors writer: tensor '%s': shape %s has too many elements",
                           name, gx_shape_str(shape, sbuf, sizeof sbuf));
    size_t nbytes = (size_t)numel * esize;
    if (data == NULL && nbytes > 0)
        return gx_diag_set(d, GX_ERR_INVALID, "safetensors writer: tensor '%s' has no data",
                           name);
    for (int i = 0; i < w->n_tensors; i++)
        if (strcmp(w->tensors[i].name, name) == 0)
            return gx_diag_set(d, GX_ERR_DUPLICATE,
                               "safetensors writer: tensor '%s' added twice", name);
    if (!grow((void **)&w->tensors, &w->cap_tensors, w->n_tensors + 1, sizeof *w->tensors))
        return gx_diag_set(d, GX_ERR_NOMEM, "safetensors writer: out of memory");
    st_wtensor t;
    t.name = dup_str(name);
    t.data = gx_malloc(nbytes ? nbytes : 1);
    if (t.name == NULL || t.data == NULL) {
        gx_free(t.name);
        gx_free(t.data);
        return gx_diag_set(d, GX_ERR_NOMEM, "safetensors writer: out of memory");
    }
    if (nbytes) memcpy(t.data, data, nbytes);
    t.dtype = dtype;
    t.shape = *shape;
    t.nbytes = nbytes;
    w->tensors[w->n_tensors++] = t;
    return GX_OK;
}

gx_status gx_st_writer_meta(gx_st_writer *w, const char *key, const char *value) {
    if (w == NULL || key == NULL || value == NULL || !utf8_valid(key) || !utf8_valid(value))
        return GX_ERR_INVALID;
    char *v = dup_str(value);
    if (v == NULL) return GX_ERR_NOMEM;
    for (int i = 0; i < w->n_meta; i++) {
        if (strcmp(w->meta[i].key, key) == 0) {
            gx_free(w->meta[i].value);
            w->meta[i].value = v;
            return GX_OK;
        }
    }
    char *k = dup_str(key);
    if (k == NULL || !grow((void **)&w->meta, &w->cap_meta, w->n_meta + 1, sizeof *w->meta)) {
        gx_free(k);
        gx_free(v);
        return GX_ERR_NOMEM;
    }
    w->meta[w->n_meta].key = k;
    w->meta[w->n_meta].value = v;
    w->n_meta++;
    return GX_OK;
}

/* Integers go in as raw text: cJSON prints doubles like 1e15 as "1e+15", which strict readers
 * (serde's usize) refuse. */
static cJSON *json_int(uint64_t v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
    return cJSON_CreateRaw(buf);
}

/* The header text: __metadata__ first (as the reference writes it), then tensors in order.
 * Returns a string to free with cJSON_free, or NULL on out of memory. */
static char *build_header(const gx_st_writer *w) {
    cJSON *root = cJSON_CreateObject();
    if (root == NULL) return NULL;
    int ok = 1;
    if (w->n_meta > 0) {
        cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
        ok = m != NULL;
        for (int i = 0; ok && i < w->n_meta; i++)
            ok = cJSON_AddStringToObject(m, w->meta[i].key, w->meta[i].value) != NULL;
    }
    uint64_t at = 0;
    for (int i = 0; ok && i < w->n_tensors; i++) {
        const st_wtensor *t = &w->tensors[i];
        cJSON *e = cJSON_AddObjectToObject(root, t->name);
        cJSON *shape = NULL, *offs = NULL;
        ok = e != NULL && cJSON_AddStringToObject(e, "dtype", st_dtype_str(t->dtype)) != NULL &&
             (shape = cJSON_AddArrayToObject(e, "shape")) != NULL;
        for (int32_t k = 0; ok && k < t->shape.ndim; k++) {
            cJSON *v = json_int((uint64_t)t->shape.dims[k]);
            ok = v != NULL && cJSON_AddItemToArray(shape, v);
        }
        ok = ok && (offs = cJSON_AddArrayToObject(e, "data_offsets")) != NULL;
        cJSON *b = ok ? json_int(at) : NULL;
        ok = ok && b != NULL && cJSON_AddItemToArray(offs, b);
        cJSON *en = ok ? json_int(at + t->nbytes) : NULL;
        ok = ok && en != NULL && cJSON_AddItemToArray(offs, en);
        at += t->nbytes;
    }
    char *s = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return s;
}

static int write_all(FILE *fp, const void *p, size_t n) { return n == 0 || fwrite(p, 1, n, fp) == n; }

/* Write the whole file to fp; on failure errno says why. */
static int write_file(FILE *fp, const char *header, size_t hlen, size_t padded,
                      const gx_st_writer *w) {
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    if (!write_all(fp, len8, 8) || !write_all(fp, header, hlen)) return 0;
    for (size_t i = hlen; i < padded; i++)
        if (fputc(' ', fp) == EOF) return 0;
    for (int i = 0; i < w->n_tensors; i++)
        if (!write_all(fp, w->tensors[i].data, (size_t)w->tensors[i].nbytes)) return 0;
    return fflush(fp) == 0 && fsync(fileno(fp)) == 0;
}

/* Make the rename itself durable. Best effort: the data is already safe in the file, and some
 * filesystems refuse fsync on a directory. */
static void sync_parent_dir(const char *path) {
    /* no allocation: out of memory must not skip it */
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (slash && (size_t)(slash - path) + 2 > sizeof dir) return;
    if (slash) {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    int fd = open(slash ? dir : ".", O_RDONLY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/* A process killed while writing PATH leaves PATH.tmp.PID behind. It is harmless (readers never
 * open it) but it holds a whole checkpoint's worth of disk, so after a successful save the temp
 * files of processes that no longer exist are removed. A live PID is left alone: it may be another
 * gexec writing the same path (on a shared file system the PID may even be another machine's, and
 * a dead-looking PID there is the one case this could misjudge; its writer's rename would then
 * fail with a clear error, never a corrupt checkpoint). Best effort: errors are ignored. */
static void remove_stale_temps(const char *path) {
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t blen = strlen(base);
    char dir[4096] = ".";
    if (slash) {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        if (n + 1 > sizeof dir) return;
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    DIR *dp = opendir(dir);
    if (dp == NULL) return;
    struct dirent *e;
    while ((e = readdir(dp)) != NULL) {
        const char *name = e->d_name;
        if (strncmp(name, base, blen) != 0 || strncmp(name + blen, ".tmp.", 5) != 0) continue;
        const char *digits = name + blen + 5;
        char *end = NULL;
        errno = 0;
        long pid = strtol(digits, &end, 10);
        if (digits[0] < '0' || digits[0] > '9' || *end != '\0' || errno != 0 || pid <= 0 ||
            (pid_t)pid != pid)
            continue;
        if (pid != (long)getpid() && (kill((pid_t)pid, 0) == 0 || errno != ESRCH)) continue;
        char full[4096 + 256];
        int n = snprintf(full, sizeof full, "%s/%s", dir, name);
        if (n > 0 && (size_t)n < sizeof full) (void)unlink(full);
    }
    closedir(dp);
}

gx_status gx_st_writer_save(const gx_st_writer *w, const char *path, gx_diag *d) {
    if (w == NULL || path == NULL)
        return gx_diag_set(d, GX_ERR_INVALID, "safetensors writer: NULL argument");
    if (!host_is_little_endian())
        return gx_diag_set(d, GX_ERR_UNSUPPORTED, "%s: safetensors needs a little-endian host",
                           path);
    char *header = build_header(w);
    if (header == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "%s: out of memory", path);
    size_t hlen = strlen(header);
    /* Spaces pad the header so the data section starts 8-byte aligned, as the reference does. */
    size_t padded = (hlen + 7u) & ~(size_t)7u;
    if (padded > ST_MAX_HEADER) {
        cJSON_free(header);
        return gx_diag_set(d, GX_ERR_INVALID,
                           "%s: header would be %zu bytes, over the %u-byte limit readers accept",
                           path, padded, ST_MAX_HEADER);
    }
    size_t tlen = strlen(path) + 32;
    char *tmp = gx_malloc(tlen);
    if (tmp == NULL) {
        cJSON_free(header);
        return gx_diag_set(d, GX_ERR_NOMEM, "%s: out of memory", path);
    }
    snprintf(tmp, tlen, "%s.tmp.%ld", path, (long)getpid());

    gx_status st = GX_OK;
    FILE *fp = fopen(tmp, "wb");
    if (fp == NULL) {
        st = gx_diag_set(d, GX_ERR_IO, "%s: cannot create %s: %s", path, tmp, strerror(errno));
    } else {
        int ok = write_file(fp, header, hlen, padded, w);
        int err = ok ? 0 : errno;
        if (fclose(fp) != 0 && ok) {
            ok = 0;
            err = errno;
        }
        if (ok && rename(tmp, path) != 0) {
            ok = 0;
            err = errno;
            st = gx_diag_set(d, GX_ERR_IO, "%s: cannot rename %s over it: %s", path, tmp,
                             strerror(err));
        } else if (!ok) {
            st = gx_diag_set(d, GX_ERR_IO, "%s: cannot write %s: %s", path, tmp,
                             strerror(err ? err : EIO));
        }
        if (ok) {
            sync_parent_dir(path);
            remove_stale_temps(path);
        } else {
            remove(tmp);
        }
    }
    gx_free(tmp);
    cJSON_free(header);
    return st;
}
