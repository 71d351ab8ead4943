/*
 * data-impl.h: what data.c, data-text.c, data-jsonl.c and data-task.c share: the per-kind
 * constructors, file reading with `path: error:` messages, strict UTF-8 decoding, the
 * splitmix64 generator and a dtype-converting store.
 */
#ifndef GX_DATA_IMPL_H
#define GX_DATA_IMPL_H

#include "data.h"

#include <stddef.h>
#include <stdint.h>

gx_status gx_data_open_text(const char *path, const gx_data_opts *o, gx_dataset **out,
                            gx_diag *d);
gx_status gx_data_open_jsonl(const char *path, const gx_data_opts *o, gx_dataset **out,
                             gx_diag *d);
/* the vocabulary of a text data set (ds->vt->kind is "text") */
const gx_vocab *gx_data_text_vocab(const gx_dataset *ds);

/* Read a whole file (NUL-terminated; *n excludes the NUL). Errors read `path: error: ...`. */
gx_status gx_data_read_file(const char *path, char **data, size_t *n, gx_diag *d);

/* Length of the valid UTF-8 sequence at p (at most n bytes) with its code point in *cp, or 0
 * when invalid: overlong forms, surrogates and code points past U+10FFFF are refused. */
size_t gx_utf8_decode(const unsigned char *p, size_t n, uint32_t *cp);
/* Write cp as UTF-8 into out (4 bytes room); returns the byte count. */
int gx_utf8_encode(uint32_t cp, char out[4]);
/* A symbol for messages: "'a' (U+0061)", "U+000A", "byte 0xff". */
const char *gx_sym_str(uint32_t sym, int bytes, char *buf, size_t n);

/* The number of examples (or tokens) the validation split gets out of n: ceil(val_frac * n),
 * at least 1 when val_frac > 0 and n >= 2, all of them when val_frac >= 1. */
uint64_t gx_data_val_count(double val_frac, uint64_t n);

/* Store v at element i of dst, converted to dt (f32, f64 or i32). */
void gx_data_store(void *dst, gx_dtype dt, size_t i, double v);

/* splitmix64 (Steele, Lea, Flood 2014): gx_mix64 is its finaliser, a good 64-bit hash, so a
 * counter fed through it is a counter-based generator; gx_rng_next steps a state. */
static inline uint64_t gx_mix64(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline uint64_t gx_rng_next(uint64_t *s) {
    *s += 0x9E3779B97F4A7C15ull;
    uint64_t z = *s;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* uniform in [0, 1) with 53 random bits */
static inline double gx_rng_unif(uint64_t *s) {
    return (double)(gx_rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

/* uniform in [0, n); the modulo bias (n / 2^64) is far below anything a test could see */
static inline uint64_t gx_rng_below(uint64_t *s, uint64_t n) {
    return gx_rng_next(s) % n;
}

#endif
