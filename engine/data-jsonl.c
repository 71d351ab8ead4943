/*
 * data-jsonl.c: sequence data as JSON lines. Each non-blank line is one example, a JSON object
 * whose keys are fields: a number, a list of numbers, or a list of lists of numbers. The file
 * is parsed once into one compact array per field (i32 when every value of the field is an
 * integer in i32 range, else f32); no cJSON tree outlives its line.
 *
 * Which list fields are sequences (they set the dim T, pad along the graph's axis 1, and the
 * first one gives `mask` / `lengths`): every list of lists, and every list of numbers whose
 * length varies between lines. When no field qualifies, all lists of numbers are sequences (a
 * file of fixed-length sequences). A list of numbers of one length beside real sequences is a
 * fixed vector (e.g. a target vector).
 * Train is the first lines, validation the last ceil(val_frac * n); training batches follow a
 * permutation drawn per epoch from the seed, validation batches the file order. Examples past
 * the last whole batch of a split are not used in that epoch.
 */
#define _POSIX_C_SOURCE 200809L

#include "data-impl.h"
#include "util.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum jf_kind {
    JF_UNSET = 0,
    JF_NUMBER,      /* a number per example                           */
    JF_EMPTY,       /* only empty lists so far (element kind unknown) */
    JF_LIST,        /* a list of numbers: [len]                       */
    JF_LISTS        /* a list of lists of numbers: [len, F]           */
} jf_kind;

typedef struct jfield {
    char    *name;
    jf_kind  kind;
    int32_t  F;          /* inner size of JF_LISTS; 0 until a row is seen */
    int      is_int;     /* every value an integer in i32 range            */
    uint64_t bad_ex;     /* the first example breaking is_int, its value   */
    double   bad_value;
    int      varies;     /* the list length differs between lines          */
    int32_t  len0;       /* the first line's length                        */
    int32_t  max_len;
    int      seq;        /* a sequence (see the header comment)            */
    double  *tmp;        /* values while parsing, compacted into iv or fv  */
    uint64_t n_vals, cap_vals;
    int32_t *iv;
    float   *fv;
    uint64_t *off;       /* [n_ex] first value of each example             */
    int32_t  *len;       /* [n_ex] rows: list length, 1 for a number       */
} jfield;

typedef struct jsonl_ds {
    gx_dataset base;
    int32_t    n_fields;
    jfield    *f;
    uint64_t   n_ex, cap_ex;
    int32_t   *line;        /* [n_ex] 1-based line number                       */
    uint64_t  *line_off;    /* [n_ex] byte offset of the line, to find columns  */
    uint64_t   n_train;     /* examples [0, n_train) train, the rest validation */
    int64_t    B;
    uint64_t   seed;
    int32_t    seq0;        /* the first sequence field, -1 when none           */
    int32_t    max_T;
    int        synth_mask, synth_lengths;
    uint32_t  *perm;        /* the training permutation of epoch perm_epoch     */
    uint64_t   perm_epoch;
} jsonl_ds;

static const char *kind_str(jf_kind k) {
    return k == JF_NUMBER ? "a number" : k == JF_LISTS ? "a list of lists" : "a list";
}

static int grow(void *pp, uint64_t *cap, uint64_t need, size_t elem) {
    void **p = pp;
    if (need <= *cap) return 1;
    uint64_t nc = *cap ? *cap * 2 : 64;
    while (nc < need) nc *= 2;
    if (nc > SIZE_MAX / elem) return 0;
    void *q = gx_realloc(*p, (size_t)(nc * elem));
    if (q == NULL) return 0;
    *p = q;
    *cap = nc;
    return 1;
}

// ---- columns ----

/* 1-based column (in code points) of byte `off` of a line. */
static int32_t col_of(const char *line, size_t off) {
    int32_t c = 1;
    for (size_t i = 0; i < off; i++)
        if (((unsigned char)line[i] & 0xC0) != 0x80) c++;
    return c;
}

/* Column of `"key"` followed by ':' in a line, 1 when not found (an escaped key, say). */
static int32_t key_col(const char *line, size_t n, const char *key) {
    size_t kl = strlen(key);
    for (size_t i = 0; i + kl + 2 <= n; i++) {
        if (line[i] != '"' || memcmp(line + i + 1, key, kl) != 0 || line[i + kl + 1] != '"')
            continue;
        size_t j = i + kl + 2;
        while (j < n && (line[j] == ' ' || line[j] == '\t')) j++;
        if (j < n && line[j] == ':') return col_of(line, i);
    }
    return 1;
}

/* The position of field `key` on example ex's line, for errors found after parsing: the line
 * is read back from the file (error path only), so no text is kept in memory. */
static gx_srcpos example_pos(const jsonl_ds *j, uint64_t ex, const char *key) {
    gx_srcpos p = {j->base.source, j->line[ex], 1};
    FILE *f = fopen(j->base.source, "rb");
    if (f == NULL) return p;
    char buf[4096];
    size_t n = 0;
    if (fseeko(f, (off_t)j->line_off[ex], SEEK_SET) == 0) n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    char *nl = memchr(buf, '\n', n);
    if (key) p.col = key_col(buf, nl ? (size_t)(nl - buf) : n, key);
    return p;
}

// ---- parsing ----

typedef struct jparse {
    jsonl_ds   *j;
    const char *path;
    const char *line;     /* the current line: text, length, number, byte offset */
    size_t      len;
    int32_t     lineno;
    uint64_t    line_off;
    gx_diag    *d;
} jparse;

static gx_status perr(jparse *P, gx_status st, const char *key, const char *fmt, ...)
    GX_PRINTF(4, 5);
static gx_status perr(jparse *P, gx_status st, const char *key, const char *fmt, ...) {
    gx_srcpos at = {P->path, P->lineno, key ? key_col(P->line, P->len, key) : 1};
    va_list ap;
    va_start(ap, fmt);
    gx_diag_vat(P->d, st, at, fmt, ap);
    va_end(ap);
    return st;
}

static gx_status add_number(jparse *P, jfield *f, const cJSON *v) {
    double x = v->valuedouble;
    if (!isfinite(x))
        return perr(P, GX_ERR_FORMAT, f->name, "field '%s' has a number out of range", f->name);
    if (!grow(&f->tmp, &f->cap_vals, f->n_vals + 1, sizeof *f->tmp))
        return perr(P, GX_ERR_NOMEM, NULL, "out of memory");
    f->tmp[f->n_vals++] = x;
    if (f->is_int && !(x == trunc(x) && x >= -2147483648.0 && x <= 2147483647.0)) {
        f->is_int = 0;
        f->bad_ex = P->j->n_ex;
        f->bad_value = x;
    }
    return GX_OK;
}

/* One field of one line into f (example index ex). */
static gx_status parse_value(jparse *P, jfield *f, uint64_t ex, const cJSON *v) {
    f->off[ex] = f->n_vals;
    if (cJSON_IsNumber(v)) {
        if (f->kind != JF_UNSET && f->kind != JF_NUMBER)
            return perr(P, GX_ERR_FORMAT, f->name, "field '%s' is a number here but %s on "
                        "earlier lines", f->name, kind_str(f->kind));
        f->kind = JF_NUMBER;
        f->len[ex] = 1;
        return add_number(P, f, v);
    }
    if (!cJSON_IsArray(v))
        return perr(P, GX_ERR_FORMAT, f->name, "field '%s' is %s; values must be numbers, "
                    "lists of numbers or lists of lists of numbers", f->name,
                    cJSON_IsString(v) ? "a string" : cJSON_IsBool(v) ? "a boolean"
                    : cJSON_IsNull(v) ? "null" : "an object");
    if (f->kind == JF_NUMBER)
        return perr(P, GX_ERR_FORMAT, f->name, "field '%s' is a list here but a number on "
                    "earlier lines", f->name);
    int32_t n = cJSON_GetArraySize(v);
    f->len[ex] = n;
    if (ex == 0) f->len0 = n;
    else if (n != f->len0) f->varies = 1;
    if (n > f->max_len) f->max_len = n;
    if (n == 0) {
        if (f->kind == JF_UNSET) f->kind = JF_EMPTY;
        return GX_OK;
    }
    jf_kind k = cJSON_IsArray(v->child) ? JF_LISTS : JF_LIST;
    if (f->kind != JF_UNSET && f->kind != JF_EMPTY && f->kind != k)
        return perr(P, GX_ERR_FORMAT, f->name, "field '%s' is %s here but %s on earlier lines",
                    f->name, kind_str(k), kind_str(f->kind));
    f->kind = k;
    int32_t row = 0;
    for (const cJSON *e = v->child; e; e = e->next, row++) {
        if (k == JF_LIST) {
            if (!cJSON_IsNumber(e))
                return perr(P, GX_ERR_FORMAT, f->name, "field '%s': element %d is not a number "
                            "(a list must hold only numbers, or only lists)", f->name, (int)row);
            gx_status st = add_number(P, f, e);
            if (st != GX_OK) return st;
            continue;
        }
        if (!cJSON_IsArray(e))
            return perr(P, GX_ERR_FORMAT, f->name, "field '%s': element %d is not a list (a "
                        "list must hold only numbers, or only lists)", f->name, (int)row);
        int32_t m = cJSON_GetArraySize(e);
        if (m == 0)
            return perr(P, GX_ERR_FORMAT, f->name, "field '%s': row %d is an empty list",
                        f->name, (int)row);
        if (f->F == 0) f->F = m;
        else if (m != f->F)
            return perr(P, GX_ERR_SHAPE, f->name, "field '%s': row %d has %d values, but "
                        "earlier rows have %d", f->name, (int)row, (int)m, (int)f->F);
        for (const cJSON *x = e->child; x; x = x->next) {
            if (!cJSON_IsNumber(x))
                return perr(P, GX_ERR_FORMAT, f->name, "field '%s': row %d holds %s; rows must "
                            "hold numbers (two levels of lists at most)", f->name, (int)row,
                            cJSON_IsArray(x) ? "a list" : "something else");
            gx_status st = add_number(P, f, x);
            if (st != GX_OK) return st;
        }
    }
    return GX_OK;
}

/* The first data line names the fields. */
static gx_status take_fields(jparse *P, const cJSON *obj) {
    jsonl_ds *j = P->j;
    int32_t n = cJSON_GetArraySize(obj);
    if (n == 0) return perr(P, GX_ERR_FORMAT, NULL, "the object has no fields");
    j->f = gx_calloc((size_t)n, sizeof *j->f);
    if (j->f == NULL) return perr(P, GX_ERR_NOMEM, NULL, "out of memory");
    for (const cJSON *c = obj->child; c; c = c->next) {
        for (int32_t i = 0; i < j->n_fields; i++)
            if (strcmp(j->f[i].name, c->string) == 0)
                return perr(P, GX_ERR_FORMAT, c->string, "field '%s' appears twice", c->string);
        jfield *f = &j->f[j->n_fields++];
        f->is_int = 1;
        if ((f->name = gx_strdup(c->string)) == NULL)
            return perr(P, GX_ERR_NOMEM, NULL, "out of memory");
    }
    return GX_OK;
}

/* The line must be NUL-terminated at P->len: cJSON then stops at the NUL, so a value that runs
 * off the end is reported there ("the line ends inside a value") instead of at the last byte. */
static gx_status parse_line(jparse *P) {
    jsonl_ds *j = P->j;
    const char *end = NULL;
    int64_t failed = gx_alloc_failures();
    cJSON *obj = cJSON_ParseWithOpts(P->line, &end, 0);
    if (obj == NULL && gx_alloc_failures() != failed)
        return gx_diag_set(P->d, GX_ERR_NOMEM, "out of memory");
    if (obj == NULL) {
        size_t off = end && end >= P->line ? (size_t)(end - P->line) : P->len;
        if (off > P->len) off = P->len;
        gx_srcpos at = {P->path, P->lineno, col_of(P->line, off)};
        if (off >= P->len)
            return gx_diag_at(P->d, GX_ERR_PARSE, at, "invalid JSON: the line ends inside a "
                              "value");
        /* quote only printable ASCII, so the message stays valid UTF-8 on one line */
        int k = 0;
        while (k < 12 && off + (size_t)k < P->len && P->line[off + k] >= 0x20 &&
               P->line[off + k] < 0x7F)
            k++;
        if (k == 0)
            return gx_diag_at(P->d, GX_ERR_PARSE, at, "invalid JSON at byte 0x%02x",
                              (unsigned char)P->line[off]);
        return gx_diag_at(P->d, GX_ERR_PARSE, at, "invalid JSON near '%.*s'", k, P->line + off);
    }
    gx_status st = GX_OK;
    size_t off = (size_t)(end - P->line);
    while (off < P->len && (P->line[off] == ' ' || P->line[off] == '\t')) off++;
    if (off < P->len) {
        st = gx_diag_at(P->d, GX_ERR_PARSE, (gx_srcpos){P->path, P->lineno, col_of(P->line, off)},
                        "unexpected text after the JSON object (one object per line)");
        goto done;
    }
    if (!cJSON_IsObject(obj)) {
        st = perr(P, GX_ERR_FORMAT, NULL, "each line must be a JSON object {\"field\": value, "
                  "...}, this one is %s", cJSON_IsArray(obj) ? "a list" : "not an object");
        goto done;
    }
    if (j->n_fields == 0 && (st = take_fields(P, obj)) != GX_OK) goto done;
    uint64_t ex = j->n_ex, cap = j->cap_ex;
    int ok = grow(&j->line, &cap, ex + 1, sizeof *j->line);
    cap = j->cap_ex;
    ok = ok && grow(&j->line_off, &cap, ex + 1, sizeof *j->line_off);
    for (int32_t i = 0; ok && i < j->n_fields; i++) {
        cap = j->cap_ex;
        ok = grow(&j->f[i].off, &cap, ex + 1, sizeof *j->f[i].off);
        cap = j->cap_ex;
        ok = ok && grow(&j->f[i].len, &cap, ex + 1, sizeof *j->f[i].len);
    }
    if (!ok) {
        st = perr(P, GX_ERR_NOMEM, NULL, "out of memory");
        goto done;
    }
    j->cap_ex = cap;
    j->line[ex] = P->lineno;
    j->line_off[ex] = P->line_off;
    /* same keys as the first line: as many, each known, none twice */
    int32_t n = 0;
    for (const cJSON *c = obj->child; c; c = c->next) n++;
    int32_t *seen = gx_calloc((size_t)j->n_fields, sizeof *seen);
    if (seen == NULL) {
        st = perr(P, GX_ERR_NOMEM, NULL, "out of memory");
        goto done;
    }
    for (const cJSON *c = obj->child; c && st == GX_OK; c = c->next) {
        int32_t i = 0;
        while (i < j->n_fields && strcmp(j->f[i].name, c->string) != 0) i++;
        if (i == j->n_fields)
            st = perr(P, GX_ERR_FORMAT, c->string, "field '%s' is not on line %d (every line "
                      "must have the same fields)", c->string, (int)j->line[0]);
        else if (seen[i]++)
            st = perr(P, GX_ERR_FORMAT, c->string, "field '%s' appears twice", c->string);
        else
            st = parse_value(P, &j->f[i], ex, c);
    }
    for (int32_t i = 0; st == GX_OK && i < j->n_fields; i++)
        if (!seen[i])
            st = perr(P, GX_ERR_FORMAT, NULL, "field '%s' is missing (line %d has it; every "
                      "line must have the same fields)", j->f[i].name, (int)j->line[0]);
    gx_free(seen);
    if (st == GX_OK) j->n_ex++;
done:
    cJSON_Delete(obj);
    return st;
}

/* After the last line: decide sequences, compact values to i32 or f32. */
static gx_status finish_fields(jsonl_ds *j, gx_diag *d) {
    int any = 0;
    for (int32_t i = 0; i < j->n_fields; i++) {
        jfield *f = &j->f[i];
        if (f->kind == JF_EMPTY) f->kind = JF_LIST;
        f->seq = f->kind == JF_LISTS || (f->kind == JF_LIST && f->varies);
        any |= f->seq;
    }
    j->seq0 = -1;
    j->max_T = 0;
    for (int32_t i = 0; i < j->n_fields; i++) {
        jfield *f = &j->f[i];
        if (!any && f->kind == JF_LIST) f->seq = 1;
        if (f->seq && j->seq0 < 0) j->seq0 = i;
        if (f->seq && f->max_len > j->max_T) j->max_T = f->max_len;
        size_t n = (size_t)f->n_vals ? (size_t)f->n_vals : 1;
        if (f->is_int) f->iv = gx_malloc(n * sizeof *f->iv);
        else f->fv = gx_malloc(n * sizeof *f->fv);
        if (f->iv == NULL && f->fv == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
        for (uint64_t k = 0; k < f->n_vals; k++) {
            if (f->is_int) f->iv[k] = (int32_t)f->tmp[k];
            else f->fv[k] = (float)f->tmp[k];
        }
        gx_free(f->tmp);
        f->tmp = NULL;
    }
    int has_mask = 0, has_lengths = 0;
    for (int32_t i = 0; i < j->n_fields; i++) {
        has_mask |= strcmp(j->f[i].name, "mask") == 0;
        has_lengths |= strcmp(j->f[i].name, "lengths") == 0;
    }
    j->synth_mask = !has_mask && j->seq0 >= 0;
    j->synth_lengths = !has_lengths && j->seq0 >= 0;
    return GX_OK;
}

// ---- the vtable ----

static int32_t jsonl_n_binds(const gx_dataset *ds) {
    return ((const jsonl_ds *)ds)->max_T > 0 ? 1 : 0;
}

static gx_dim_binding jsonl_bind(const gx_dataset *ds, int32_t i) {
    (void)i;
    return (gx_dim_binding){"T", ((const jsonl_ds *)ds)->max_T};
}

static int32_t jsonl_n_fields(const gx_dataset *ds) {
    const jsonl_ds *j = (const jsonl_ds *)ds;
    return j->n_fields + j->synth_mask + j->synth_lengths;
}

static gx_data_field jsonl_field(const gx_dataset *ds, int32_t i) {
    const jsonl_ds *j = (const jsonl_ds *)ds;
    gx_data_field r = {NULL, GX_DTYPE_F32, {1, {j->B}}};
    if (i >= j->n_fields) {
        int mask = i == j->n_fields && j->synth_mask;
        r.name = mask ? "mask" : "lengths";
        r.dtype = mask ? GX_DTYPE_F32 : GX_DTYPE_I32;
        if (mask) r.shape = (gx_shape){2, {j->B, -1}};
        return r;
    }
    const jfield *f = &j->f[i];
    r.name = f->name;
    r.dtype = f->is_int ? GX_DTYPE_I32 : GX_DTYPE_F32;
    if (f->kind == JF_LISTS) r.shape = (gx_shape){3, {j->B, -1, f->F}};
    else if (f->kind == JF_LIST) r.shape = (gx_shape){2, {j->B, f->seq ? -1 : f->len0}};
    return r;
}

static uint64_t jsonl_n_batches(const gx_dataset *ds, gx_split split) {
    const jsonl_ds *j = (const jsonl_ds *)ds;
    uint64_t n = split == GX_SPLIT_TRAIN ? j->n_train : j->n_ex - j->n_train;
    return n / (uint64_t)j->B;
}

static int jsonl_stateful(const gx_dataset *ds) {
    (void)ds;
    return 0;
}

/* The examples of batch `index`: training rows come from the epoch's permutation (Fisher-Yates
 * driven by splitmix64 of (seed, epoch)), so an epoch sees each example once and any batch can
 * be rebuilt from its index alone; validation keeps the file order. */
static gx_status batch_examples(jsonl_ds *j, gx_split split, uint64_t index, uint64_t *ex,
                                gx_diag *d) {
    uint64_t nb = jsonl_n_batches(&j->base, split), k = index % nb, B = (uint64_t)j->B;
    if (split == GX_SPLIT_VAL) {
        for (uint64_t b = 0; b < B; b++) ex[b] = j->n_train + k * B + b;
        return GX_OK;
    }
    uint64_t epoch = index / nb;
    if (j->perm == NULL || j->perm_epoch != epoch) {
        if (j->perm == NULL && (j->perm = gx_malloc(j->n_train * sizeof *j->perm)) == NULL)
            return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
        for (uint64_t i = 0; i < j->n_train; i++) j->perm[i] = (uint32_t)i;
        uint64_t s = gx_mix64(gx_mix64(j->seed) ^ epoch);
        for (uint64_t i = j->n_train - 1; i > 0; i--) {
            uint64_t r = gx_rng_below(&s, i + 1);
            uint32_t tmp = j->perm[i];
            j->perm[i] = j->perm[r];
            j->perm[r] = tmp;
        }
        j->perm_epoch = epoch;
    }
    for (uint64_t b = 0; b < B; b++) ex[b] = j->perm[k * B + b];
    return GX_OK;
}

static gx_status too_long(const jsonl_ds *j, uint64_t ex, const char *field, int32_t len,
                          const char *input, const gx_tensor_info *info, int64_t N, gx_diag *d) {
    char sb[128];
    return gx_diag_at(d, GX_ERR_SHAPE, example_pos(j, ex, field),
                      "field '%s' has length %d, longer than the %lld that graph input '%s' "
                      "(%s%s) holds", field, (int)len, (long long)N, input,
                      gx_dtype_name(info->dtype), gx_shape_str(&info->shape, sb, sizeof sb));
}

static gx_status fill_field(const jsonl_ds *j, const jfield *f, const uint64_t *ex,
                            const gx_tensor_info *info, void *dst, gx_diag *d) {
    const gx_shape *s = &info->shape;
    char sb[128];
    const char *dt = gx_dtype_name(info->dtype);
    gx_shape_str(s, sb, sizeof sb);
    if (info->dtype == GX_DTYPE_I32 && !f->is_int)
        return gx_diag_at(d, GX_ERR_DTYPE, example_pos(j, f->bad_ex, f->name),
                          "field '%s' has %g, not an integer in i32 range, but graph input '%s' "
                          "is i32", f->name, f->bad_value, f->name);
    /* rows per example (N) and values per row (inner) the graph's input holds */
    int64_t N = 1, inner = 1;
    const char *bad = NULL;
    if (f->kind == JF_NUMBER) {
        if (s->ndim != 1 && !(s->ndim == 2 && s->dims[1] == 1)) bad = "a number";
    } else if (f->kind == JF_LIST) {
        if (s->ndim == 2 || (s->ndim == 3 && s->dims[2] == 1)) N = s->dims[1];
        else bad = "a list of numbers";
    } else {
        if (s->ndim == 3 && s->dims[2] == f->F) {
            N = s->dims[1];
            inner = f->F;
        } else {
            bad = "a list of lists";
        }
    }
    if (bad) {
        const char *want = s->ndim == 1 ? " (a number per example)"
                           : s->ndim == 2 ? " (a list of numbers per example)"
                           : s->ndim == 3 ? " (a list of rows per example)" : "";
        char has[64] = "";
        if (f->kind == JF_LISTS) snprintf(has, sizeof has, " of %d values", (int)f->F);
        return gx_diag_at(d, GX_ERR_SHAPE, example_pos(j, ex[0], f->name),
                          "graph input '%s' is %s%s%s, but field '%s' is %s%s", f->name, dt, sb,
                          want, f->name, bad, has);
    }
    size_t es = gx_dtype_size(info->dtype), row = (size_t)(N * inner);
    for (int64_t b = 0; b < j->B; b++) {
        int32_t len = f->len[ex[b]];
        if (len > N) return too_long(j, ex[b], f->name, len, f->name, info, N, d);
        memset((char *)dst + (size_t)b * row * es, 0, row * es);
        uint64_t o = f->off[ex[b]];
        for (size_t k = 0; k < (size_t)len * (size_t)inner; k++)
            gx_data_store(dst, info->dtype, (size_t)b * row + k,
                          f->is_int ? (double)f->iv[o + k] : (double)f->fv[o + k]);
    }
    return GX_OK;
}

/* mask (1 for t < len, [B, T]) or lengths ([B]) from the first sequence field */
static gx_status fill_synth(const jsonl_ds *j, int mask, const uint64_t *ex,
                            const gx_tensor_info *info, void *dst, gx_diag *d) {
    const gx_shape *s = &info->shape;
    const jfield *f = &j->f[j->seq0];
    const char *name = mask ? "mask" : "lengths";
    int ok = mask ? s->ndim == 2 || (s->ndim == 3 && s->dims[2] == 1)
                  : s->ndim == 1 || (s->ndim == 2 && s->dims[1] == 1);
    if (!ok) {
        char sb[128];
        return gx_diag_at(d, GX_ERR_SHAPE, (gx_srcpos){j->base.source, 0, 0},
                          "graph input '%s' is %s%s, but the %s made from field '%s' is %s",
                          name, gx_dtype_name(info->dtype),
                          gx_shape_str(s, sb, sizeof sb), name, f->name,
                          mask ? "[B, T]" : "[B]");
    }
    int64_t N = mask ? s->dims[1] : 1;
    for (int64_t b = 0; b < j->B; b++) {
        int32_t len = f->len[ex[b]];
        if (!mask) {
            gx_data_store(dst, info->dtype, (size_t)b, (double)len);
            continue;
        }
        if (len > N) return too_long(j, ex[b], f->name, len, name, info, N, d);
        for (int64_t t = 0; t < N; t++)
            gx_data_store(dst, info->dtype, (size_t)(b * N + t), t < len ? 1.0 : 0.0);
    }
    return GX_OK;
}

static gx_status jsonl_fill(gx_dataset *ds, gx_split split, uint64_t index, const char *name,
                            const gx_tensor_info *info, void *dst, gx_diag *d) {
    jsonl_ds *j = (jsonl_ds *)ds;
    gx_srcpos at = {ds->source, 0, 0};
    int32_t fi = -1;
    for (int32_t i = 0; i < j->n_fields; i++)
        if (strcmp(j->f[i].name, name) == 0) fi = i;
    int mask = fi < 0 && j->synth_mask && strcmp(name, "mask") == 0;
    int lengths = fi < 0 && j->synth_lengths && strcmp(name, "lengths") == 0;
    if (fi < 0 && !mask && !lengths) {
        const char *names[64];
        char list[512] = "";
        int n = 0;
        for (int32_t i = 0; i < jsonl_n_fields(ds) && n < 64; i++)
            names[n++] = jsonl_field(ds, i).name;
        for (int i = 0; i < n; i++) {
            size_t l = strlen(list);
            snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "", names[i]);
        }
        const char *near = gx_nearest_name(name, names, n);
        return gx_diag_at(d, GX_ERR_NOT_FOUND, at, "the data has no field '%s'%s%s%s (it has %s)",
                          name, near ? " (did you mean '" : "", near ? near : "",
                          near ? "'?)" : "", list);
    }
    if (info->dtype != GX_DTYPE_F32 && info->dtype != GX_DTYPE_F64 &&
        info->dtype != GX_DTYPE_I32)
        return gx_diag_at(d, GX_ERR_DTYPE, at, "graph input '%s' has dtype %s", name,
                          gx_dtype_name(info->dtype));
    if (info->shape.ndim < 1 || info->shape.dims[0] != j->B) {
        char sb[128];
        return gx_diag_at(d, GX_ERR_SHAPE, at, "graph input '%s' is %s%s, but batches hold %lld "
                          "examples (axis 0)", name, gx_dtype_name(info->dtype),
                          gx_shape_str(&info->shape, sb, sizeof sb), (long long)j->B);
    }
    if (jsonl_n_batches(ds, split) == 0)
        return gx_diag_at(d, GX_ERR_INVALID, at, "the %s split has fewer examples than one batch",
                          split == GX_SPLIT_TRAIN ? "training" : "validation");
    uint64_t *ex = gx_malloc((size_t)j->B * sizeof *ex);
    if (ex == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    gx_status st = batch_examples(j, split, index, ex, d);
    if (st == GX_OK)
        st = fi >= 0 ? fill_field(j, &j->f[fi], ex, info, dst, d)
                     : fill_synth(j, mask, ex, info, dst, d);
    gx_free(ex);
    return st;
}

static void jsonl_free(gx_dataset *ds) {
    jsonl_ds *j = (jsonl_ds *)ds;
    for (int32_t i = 0; j->f && i < j->n_fields; i++) {
        jfield *f = &j->f[i];
        gx_free(f->name);
        gx_free(f->tmp);
        gx_free(f->iv);
        gx_free(f->fv);
        gx_free(f->off);
        gx_free(f->len);
    }
    gx_free(j->f);
    gx_free(j->line);
    gx_free(j->line_off);
    gx_free(j->perm);
    gx_free(j);
}

static const gx_data_vt jsonl_vt = {
    .kind = "jsonl",
    .n_binds = jsonl_n_binds,
    .bind = jsonl_bind,
    .n_fields = jsonl_n_fields,
    .field = jsonl_field,
    .n_batches = jsonl_n_batches,
    .stateful = jsonl_stateful,
    .fill = jsonl_fill,
    .free = jsonl_free,
};

// ---- opening ----

gx_status gx_data_open_jsonl(const char *path, const gx_data_opts *o, gx_dataset **out,
                             gx_diag *d) {
    gx_srcpos at = {path, 0, 0};
    *out = NULL;
    char *buf = NULL;
    size_t n = 0;
    gx_status st = gx_data_read_file(path, &buf, &n, d);
    if (st != GX_OK) return st;
    jsonl_ds *j = gx_calloc(1, sizeof *j);
    if (j == NULL || (j->base.source = gx_strdup(path)) == NULL) {
        st = gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
        goto fail;
    }
    j->base.vt = &jsonl_vt;
    j->B = o->batch;
    j->seed = o->seed;
    jparse P = {.j = j, .path = path, .d = d};
    for (size_t pos = 0; pos < n && st == GX_OK;) {
        const char *nl = memchr(buf + pos, '\n', n - pos);
        size_t end = nl ? (size_t)(nl - buf) : n, len = end - pos;
        if (P.lineno == INT32_MAX) {
            st = gx_diag_at(d, GX_ERR_INVALID, at, "too many lines");
            break;
        }
        P.lineno++;
        if (len > 0 && buf[pos + len - 1] == '\r') len--;   /* CRLF files */
        size_t k = 0;
        while (k < len && (buf[pos + k] == ' ' || buf[pos + k] == '\t')) k++;
        if (k < len) {
            char saved = buf[pos + len];   /* '\n', '\r' or the final NUL */
            buf[pos + len] = '\0';
            P.line = buf + pos;
            P.len = len;
            P.line_off = pos;
            st = parse_line(&P);
            buf[pos + len] = saved;
        }
        pos = end + 1;
    }
    if (st != GX_OK) goto fail;
    if (j->n_ex == 0) {
        st = gx_diag_at(d, GX_ERR_INVALID, at, "no examples: the file is empty or has only "
                        "blank lines");
        goto fail;
    }
    gx_free(buf);
    buf = NULL;
    if ((st = finish_fields(j, d)) != GX_OK) goto fail;
    uint64_t n_val = gx_data_val_count(o->val_frac, j->n_ex);
    j->n_train = j->n_ex - n_val;
    /* eval (val_frac 1) has no training part: then validation must hold a batch instead */
    int eval = o->val_frac >= 1.0;
    uint64_t have = eval ? n_val : j->n_train;
    if (have < (uint64_t)j->B) {
        st = gx_diag_at(d, GX_ERR_INVALID, at, "the %s split has %llu examples (of %llu; "
                        "val_frac %g), fewer than one batch of %lld; use a smaller --batch",
                        eval ? "validation" : "training", (unsigned long long)have,
                        (unsigned long long)j->n_ex, o->val_frac, (long long)j->B);
        goto fail;
    }
    *out = &j->base;
    return GX_OK;
fail:
    gx_free(buf);
    if (j) {
        gx_free(j->base.source);
        jsonl_free(&j->base);
    }
    return st;
}
