/*
 * data-text.c: character-level text. The whole file is decoded once into token ids (the
 * vocabulary is the sorted set of its code points, or bytes, or a checkpoint's vocabulary);
 * train is the first part of the tokens, validation the rest.
 *
 * Batching (per split of N tokens, B streams, bptt T): stream b is the contiguous stretch
 * [b*L, (b+1)*L) with L = N / B (the last N % B tokens are dropped), and batch k holds
 * tokens[b*L + k*T + t] with targets one further on, t in [0, T). So there are (L - 1) / T
 * batches, and the state a graph ends batch k with is the right start for batch k + 1.
 * It does not tokenise into words, normalise text or strip a BOM: what is in the file is data.
 */
#include "data-impl.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

typedef struct text_ds {
    gx_dataset base;
    gx_vocab   vocab;      /* owned syms */
    int32_t   *tokens;     /* [n_tokens] ids into vocab */
    uint64_t   n_tokens;
    uint64_t   n_train;    /* tokens [0, n_train) train, [n_train, n_tokens) validation */
    int64_t    B, T;
} text_ds;

#define N_CODE_POINTS 0x110000u

// ---- positions for messages ----

/* Line and column (1-based) of byte offset `off`. Columns count code points in UTF-8 mode, as
 * editors do, and bytes in bytes mode. Only called on the error path, so it rescans. */
static gx_srcpos pos_of(const char *path, const char *buf, size_t off, int bytes) {
    gx_srcpos p = {path, 1, 1};
    for (size_t i = 0; i < off; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c == '\n') {
            p.line++;
            p.col = 1;
        } else if (bytes || (c & 0xC0) != 0x80) {
            p.col++;
        }
    }
    return p;
}

// ---- the vtable ----

static int32_t text_n_binds(const gx_dataset *ds) {
    (void)ds;
    return 1;
}

static gx_dim_binding text_bind(const gx_dataset *ds, int32_t i) {
    const text_ds *t = (const text_ds *)ds;
    (void)i;
    return (gx_dim_binding){"V", t->vocab.n};
}

static int32_t text_n_fields(const gx_dataset *ds) {
    (void)ds;
    return 2;
}

static gx_data_field text_field(const gx_dataset *ds, int32_t i) {
    const text_ds *t = (const text_ds *)ds;
    gx_data_field f = {i == 0 ? "tokens" : "targets", GX_DTYPE_I32, {2, {t->B, t->T}}};
    return f;
}

static uint64_t split_len(const text_ds *t, gx_split split) {
    return split == GX_SPLIT_TRAIN ? t->n_train : t->n_tokens - t->n_train;
}

static uint64_t text_n_batches(const gx_dataset *ds, gx_split split) {
    const text_ds *t = (const text_ds *)ds;
    uint64_t L = split_len(t, split) / (uint64_t)t->B;
    return L < 1 ? 0 : (L - 1) / (uint64_t)t->T;
}

static int text_stateful(const gx_dataset *ds) {
    (void)ds;
    return 1;
}

static gx_status text_fill(gx_dataset *ds, gx_split split, uint64_t index, const char *name,
                           const gx_tensor_info *info, void *dst, gx_diag *d) {
    const text_ds *t = (const text_ds *)ds;
    gx_srcpos at = {ds->source, 0, 0};
    int shift;
    if (strcmp(name, "tokens") == 0) shift = 0;
    else if (strcmp(name, "targets") == 0) shift = 1;
    else
        return gx_diag_at(d, GX_ERR_NOT_FOUND, at,
                          "text data has no field '%s' (it gives tokens and targets)", name);
    char sb[128];
    if (info->dtype != GX_DTYPE_I32 || info->shape.ndim != 2 || info->shape.dims[0] != t->B ||
        info->shape.dims[1] != t->T)
        return gx_diag_at(d, info->dtype != GX_DTYPE_I32 ? GX_ERR_DTYPE : GX_ERR_SHAPE, at,
                          "graph input '%s' is %s%s, but text data gives i32[%lld, %lld] "
                          "(batch, bptt)", name, gx_dtype_name(info->dtype),
                          gx_shape_str(&info->shape, sb, sizeof sb), (long long)t->B,
                          (long long)t->T);
    uint64_t nb = text_n_batches(ds, split);
    if (nb == 0)
        return gx_diag_at(d, GX_ERR_INVALID, at, "the %s split is too short for one batch",
                          split == GX_SPLIT_TRAIN ? "training" : "validation");
    uint64_t base = split == GX_SPLIT_TRAIN ? 0 : t->n_train;
    uint64_t L = split_len(t, split) / (uint64_t)t->B;
    uint64_t k = index % nb;
    int32_t *out = dst;
    for (int64_t b = 0; b < t->B; b++) {
        /* the largest index read is b*L + (nb-1)*T + T-1 + 1 <= b*L + L - 1: inside stream b */
        const int32_t *src = t->tokens + base + (uint64_t)b * L + k * (uint64_t)t->T + shift;
        memcpy(out + b * t->T, src, (size_t)t->T * sizeof *out);
    }
    return GX_OK;
}

static void text_free(gx_dataset *ds) {
    text_ds *t = (text_ds *)ds;
    gx_free(t->vocab.syms);
    gx_free(t->tokens);
    gx_free(t);
}

static const gx_data_vt text_vt = {
    .kind = "text",
    .n_binds = text_n_binds,
    .bind = text_bind,
    .n_fields = text_n_fields,
    .field = text_field,
    .n_batches = text_n_batches,
    .stateful = text_stateful,
    .fill = text_fill,
    .free = text_free,
};

const gx_vocab *gx_data_text_vocab(const gx_dataset *ds) {
    return &((const text_ds *)ds)->vocab;
}

// ---- opening ----

/* Check the text (UTF-8, no NUL) and count its symbols; mark each one seen in `seen` (a bitmap
 * over code points, or bytes). */
static gx_status scan(const char *path, const char *buf, size_t n, int bytes, uint8_t *seen,
                      uint64_t *n_syms, gx_diag *d) {
    const unsigned char *p = (const unsigned char *)buf;
    uint64_t k = 0;
    for (size_t i = 0; i < n; k++) {
        uint32_t cp = p[i];
        size_t step = 1;
        if (!bytes) {
            /* a NUL never occurs in text; it is the usual sign of a binary file or UTF-16 */
            if (p[i] == 0)
                return gx_diag_at(d, GX_ERR_FORMAT, pos_of(path, buf, i, 0),
                                  "NUL byte (byte offset %zu): this looks like a binary file, "
                                  "not UTF-8 text; use `bytes = 1` (--bytes) to train on its "
                                  "bytes", i);
            step = gx_utf8_decode(p + i, n - i, &cp);
            if (step == 0)
                return gx_diag_at(d, GX_ERR_FORMAT, pos_of(path, buf, i, 0),
                                  "invalid UTF-8 (byte 0x%02x at byte offset %zu): this is not "
                                  "UTF-8 text; use `bytes = 1` (--bytes) to train on its bytes",
                                  p[i], i);
        }
        seen[cp >> 3] |= (uint8_t)(1u << (cp & 7));
        i += step;
    }
    *n_syms = k;
    return GX_OK;
}

/* The vocabulary of the symbols marked in `seen`, ascending. */
static gx_status vocab_from_seen(const uint8_t *seen, uint32_t range, int bytes, gx_vocab *v,
                                 gx_diag *d) {
    int32_t n = 0;
    for (uint32_t c = 0; c < range; c++) n += (seen[c >> 3] >> (c & 7)) & 1;
    v->syms = gx_malloc((size_t)n * sizeof *v->syms);
    if (v->syms == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    v->n = 0;
    for (uint32_t c = 0; c < range; c++)
        if ((seen[c >> 3] >> (c & 7)) & 1) v->syms[v->n++] = c;
    v->bytes = bytes;
    return GX_OK;
}

static gx_status vocab_copy(const char *path, const gx_vocab *src, gx_vocab *v, gx_diag *d) {
    if (src->n < 1)
        return gx_diag_at(d, GX_ERR_INVALID, (gx_srcpos){path, 0, 0}, "the checkpoint has no "
                          "vocabulary (its model was not trained on text)");
    v->syms = gx_malloc((size_t)src->n * sizeof *v->syms);
    if (v->syms == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    memcpy(v->syms, src->syms, (size_t)src->n * sizeof *v->syms);
    v->n = src->n;
    v->bytes = src->bytes;
    /* gx_vocab_id bisects, so a vocabulary from a hand-edited checkpoint must still be sorted */
    for (int32_t i = 1; i < v->n; i++)
        if (v->syms[i - 1] >= v->syms[i])
            return gx_diag_at(d, GX_ERR_FORMAT, (gx_srcpos){path, 0, 0}, "the checkpoint's "
                              "vocabulary is not sorted ascending without repeats (symbol %d)",
                              (int)i);
    return GX_OK;
}

/* Turn the text into ids through a dense symbol -> id table (4.4 MB for code points, freed at
 * once): a bisection per character would cost log2(V) compares on files of 10^8 characters. */
static gx_status encode_all(const char *path, const char *buf, size_t n, const gx_vocab *v,
                            int32_t *ids, gx_diag *d) {
    uint32_t range = v->bytes ? 256u : N_CODE_POINTS;
    int32_t *map = gx_malloc((size_t)range * sizeof *map);
    if (map == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    memset(map, 0xFF, (size_t)range * sizeof *map);   /* all -1 */
    for (int32_t i = 0; i < v->n; i++)
        if (v->syms[i] < range) map[v->syms[i]] = i;
    const unsigned char *p = (const unsigned char *)buf;
    uint64_t k = 0;
    gx_status st = GX_OK;
    for (size_t i = 0; i < n;) {
        uint32_t cp = p[i];
        size_t step = v->bytes ? 1 : gx_utf8_decode(p + i, n - i, &cp);   /* scan checked it */
        int32_t id = map[cp];
        if (id < 0) {
            char sb[48];
            st = gx_diag_at(d, GX_ERR_NOT_FOUND, pos_of(path, buf, i, v->bytes),
                            "%s is not in the checkpoint's vocabulary (%d symbols); the model "
                            "cannot read it", gx_sym_str(cp, v->bytes, sb, sizeof sb),
                            (int)v->n);
            break;
        }
        ids[k++] = id;
        i += step;
    }
    gx_free(map);
    return st;
}

/* Says how much text one batch of the primary split needs, in the user's terms. */
static gx_status too_short(const text_ds *t, uint64_t have, const gx_data_opts *o, gx_diag *d) {
    const char *unit = t->vocab.bytes ? "bytes" : "characters";
    uint64_t need = (uint64_t)t->B * (uint64_t)(t->T + 1);
    gx_srcpos at = {t->base.source, 0, 0};
    if (o->val_frac > 0.0 && o->val_frac < 1.0)
        return gx_diag_at(d, GX_ERR_INVALID, at,
                          "too short for one batch: %llu %s, %llu of them for training "
                          "(val_frac %g), but %lld stream%s of %lld + 1 need %llu; use a smaller "
                          "--batch or --bptt, or more text", (unsigned long long)t->n_tokens,
                          unit, (unsigned long long)have, o->val_frac, (long long)t->B,
                          t->B == 1 ? "" : "s", (long long)t->T, (unsigned long long)need);
    return gx_diag_at(d, GX_ERR_INVALID, at,
                      "too short for one batch: %llu %s, but %lld stream%s of %lld + 1 need "
                      "%llu; use a smaller --batch or --bptt, or more text",
                      (unsigned long long)have, unit, (long long)t->B, t->B == 1 ? "" : "s",
                      (long long)t->T, (unsigned long long)need);
}

gx_status gx_data_open_text(const char *path, const gx_data_opts *o, gx_dataset **out,
                            gx_diag *d) {
    gx_srcpos at = {path, 0, 0};
    *out = NULL;
    if (o->bptt < 1)
        return gx_diag_at(d, GX_ERR_INVALID, at, "text data needs a sequence length per batch "
                          "(bptt, --bptt)");
    if (o->vocab != NULL && (o->vocab->bytes != 0) != (o->bytes != 0))
        return gx_diag_at(d, GX_ERR_INVALID, at, "the checkpoint's vocabulary is %s, but "
                          "bytes = %d was asked", o->vocab->bytes ? "bytes" : "UTF-8 characters",
                          o->bytes != 0);
    char *buf = NULL;
    size_t n = 0;
    gx_status st = gx_data_read_file(path, &buf, &n, d);
    if (st != GX_OK) return st;
    if (n == 0) {
        gx_free(buf);
        return gx_diag_at(d, GX_ERR_INVALID, at, "the file is empty");
    }
    text_ds *t = gx_calloc(1, sizeof *t);
    uint32_t range = o->bytes ? 256u : N_CODE_POINTS;
    uint8_t *seen = gx_calloc(range / 8, 1);
    if (t == NULL || seen == NULL || (t->base.source = gx_strdup(path)) == NULL) {
        st = gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
        goto fail;
    }
    t->base.vt = &text_vt;
    t->B = o->batch;
    t->T = o->bptt;
    st = scan(path, buf, n, o->bytes != 0, seen, &t->n_tokens, d);
    if (st != GX_OK) goto fail;
    st = o->vocab ? vocab_copy(path, o->vocab, &t->vocab, d)
                  : vocab_from_seen(seen, range, o->bytes != 0, &t->vocab, d);
    if (st != GX_OK) goto fail;
    t->tokens = gx_malloc(t->n_tokens * sizeof *t->tokens);
    if (t->tokens == NULL) {
        st = gx_diag_set(d, GX_ERR_NOMEM, "out of memory (%llu tokens)",
                         (unsigned long long)t->n_tokens);
        goto fail;
    }
    st = encode_all(path, buf, n, &t->vocab, t->tokens, d);
    if (st != GX_OK) goto fail;
    gx_free(buf);
    gx_free(seen);
    buf = NULL;
    seen = NULL;

    t->n_train = t->n_tokens - gx_data_val_count(o->val_frac, t->n_tokens);
    /* eval (val_frac 1) has no training part: then validation must hold a batch instead */
    gx_split primary = o->val_frac >= 1.0 ? GX_SPLIT_VAL : GX_SPLIT_TRAIN;
    if (text_n_batches(&t->base, primary) == 0) {
        st = too_short(t, split_len(t, primary), o, d);
        goto fail;
    }
    *out = &t->base;
    return GX_OK;
fail:
    gx_free(buf);
    gx_free(seen);
    if (t) {
        gx_free(t->base.source);
        text_free(&t->base);
    }
    return st;
}
