/*
 * diag.h: error messages with source positions.
 *
 * Every fallible engine call takes a gx_diag * and, on failure, leaves one message in it: the
 * first error wins, later ones are dropped, so the message a user sees is the root cause.
 * Messages with a position read `file:line:col: error: text` (Lua/GCC style).
 */
#ifndef GX_DIAG_H
#define GX_DIAG_H

#include <gexec/plugin.h>
#include <stdarg.h>

#define GX_DIAG_MSG_MAX 2048

typedef struct gx_srcpos {
    const char *file;   /* borrowed; owned by whoever owns the source text */
    int32_t     line;   /* 1-based; 0 when unknown                          */
    int32_t     col;    /* 1-based                                          */
} gx_srcpos;

typedef struct gx_diag {
    gx_status status;                 /* GX_OK until the first error        */
    char      msg[GX_DIAG_MSG_MAX];   /* the first error message, no '\n'    */
} gx_diag;

void      gx_diag_init(gx_diag *d);
/* Record an error (if none yet) and return st, so callers can `return gx_diag_set(...)`.
 * d may be NULL: the message is then dropped. */
gx_status gx_diag_set(gx_diag *d, gx_status st, const char *fmt, ...) GX_PRINTF(3, 4);
gx_status gx_diag_at(gx_diag *d, gx_status st, gx_srcpos pos, const char *fmt, ...)
    GX_PRINTF(4, 5);
gx_status gx_diag_vat(gx_diag *d, gx_status st, gx_srcpos pos, const char *fmt, va_list ap);

const char *gx_status_name(gx_status st);
gx_dtype    gx_dtype_from_name(const char *name); /* GX_DTYPE_INVALID when unknown    */
/* "[2, 3]" into buf */
const char *gx_shape_str(const gx_shape *s, char *buf, size_t n);

/* The nearest of `names` to `name` by edit distance, or NULL if none is close (for "did you
 * mean"). */
const char *gx_nearest_name(const char *name, const char *const *names, int n_names);

#endif
