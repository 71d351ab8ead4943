/* diag.c: first-error-wins messages, status and dtype names, "did you mean" suggestions. */
#include "diag.h"

#include <gexec/plugin-helpers.h>

#include <stdio.h>
#include <string.h>

void gx_diag_init(gx_diag *d) {
    d->status = GX_OK;
    d->msg[0] = '\0';
}

gx_status gx_diag_vat(gx_diag *d, gx_status st, gx_srcpos pos, const char *fmt, va_list ap) {
    if (d == NULL || d->status != GX_OK) return st;
    d->status = st;
    size_t off = 0;
    if (pos.file != NULL && pos.line > 0) {
        int k = snprintf(d->msg, sizeof d->msg, "%s:%d:%d: error: ", pos.file, (int)pos.line,
                         (int)pos.col);
        off = k > 0 ? (size_t)k : 0;
    } else if (pos.file != NULL) {
        int k = snprintf(d->msg, sizeof d->msg, "%s: error: ", pos.file);
        off = k > 0 ? (size_t)k : 0;
    } else {
        int k = snprintf(d->msg, sizeof d->msg, "error: ");
        off = k > 0 ? (size_t)k : 0;
    }
    if (off < sizeof d->msg) vsnprintf(d->msg + off, sizeof d->msg - off, fmt, ap);
    /* one line: fold any newline a plugin put in its message */
    for (char *p = d->msg; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    return st;
}

gx_status gx_diag_at(gx_diag *d, gx_status st, gx_srcpos pos, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    gx_diag_vat(d, st, pos, fmt, ap);
    va_end(ap);
    return st;
}

gx_status gx_diag_set(gx_diag *d, gx_status st, const char *fmt, ...) {
    gx_srcpos none = {NULL, 0, 0};
    va_list ap;
    va_start(ap, fmt);
    gx_diag_vat(d, st, none, fmt, ap);
    va_end(ap);
    return st;
}

const char *gx_status_name(gx_status st) {
    switch (st) {
    case GX_OK: return "ok";
    case GX_ERR_NOMEM: return "out of memory";
    case GX_ERR_INVALID: return "invalid argument";
    case GX_ERR_IO: return "i/o error";
    case GX_ERR_PARSE: return "parse error";
    case GX_ERR_SHAPE: return "shape error";
    case GX_ERR_DTYPE: return "dtype error";
    case GX_ERR_NOT_FOUND: return "not found";
    case GX_ERR_ABI: return "ABI mismatch";
    case GX_ERR_PLUGIN: return "plugin error";
    case GX_ERR_UNSUPPORTED: return "unsupported";
    case GX_ERR_FORMAT: return "malformed file";
    case GX_ERR_BACKEND: return "backend error";
    case GX_ERR_DUPLICATE: return "duplicate name";
    }
    return "unknown status";
}

gx_dtype gx_dtype_from_name(const char *name) {
    if (strcmp(name, "f32") == 0) return GX_DTYPE_F32;
    if (strcmp(name, "f64") == 0) return GX_DTYPE_F64;
    if (strcmp(name, "i32") == 0) return GX_DTYPE_I32;
    return GX_DTYPE_INVALID;
}

const char *gx_shape_str(const gx_shape *s, char *buf, size_t n) {
    if (n > 0) snprintf(buf, n, "%s", GX_SHAPE(s));
    return buf;
}

/* Edit distance with adjacent transpositions counted as one edit ("tahn" -> "tanh"), the
 * optimal-string-alignment variant of Damerau-Levenshtein. Names are short: 64 is plenty. */
static int edit_distance(const char *a, const char *b) {
    enum { MAXL = 64 };
    size_t la = strlen(a), lb = strlen(b);
    if (la >= MAXL || lb >= MAXL) return 1000;
    static _Thread_local int t[MAXL + 1][MAXL + 1];
    for (size_t i = 0; i <= la; i++) t[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++) t[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int sub = t[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            int del = t[i - 1][j] + 1, ins = t[i][j - 1] + 1;
            int best = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                t[i - 2][j - 2] + 1 < best)
                best = t[i - 2][j - 2] + 1;
            t[i][j] = best;
        }
    return t[la][lb];
}

const char *gx_nearest_name(const char *name, const char *const *names, int n_names) {
    const char *best = NULL;
    int best_d = 1000;
    for (int i = 0; i < n_names; i++) {
        int d = edit_distance(name, names[i]);
        if (d < best_d) {
            best_d = d;
            best = names[i];
        }
    }
    /* close enough: at most a third of the name's letters wrong (at least 1, at most 3) */
    int limit = (int)strlen(name) / 3;
    if (limit < 1) limit = 1;
    if (limit > 3) limit = 3;
    /* and never a name with nothing in common ('z' for 'x') */
    return best_d <= limit && best_d < (int)strlen(name) ? best : NULL;
}
