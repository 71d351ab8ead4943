/*
 * util.h: the allocation hook every engine module allocates through, and the two helpers built
 * on it: growing an array and copying a string. Nothing else belongs here.
 */
#ifndef GX_UTIL_H
#define GX_UTIL_H

#include <stdio.h>
#include <stddef.h>
#include <stdint.h>

/* ---- the allocation hook ----
 * libgexec allocates only through these (they wrap malloc/calloc/realloc/free), so a test can
 * make any one allocation fail and check that every path out of memory ends in GX_ERR_NOMEM
 * with nothing leaked. Memory from them may be freed with free() and vice versa, but the
 * counters below only balance when gx_free frees what gx_malloc & co. gave. Thread-safe. */
void *gx_malloc(size_t n);
void *gx_calloc(size_t count, size_t n);
void *gx_realloc(void *p, size_t n);   /* on failure p is untouched, as with realloc */
void  gx_free(void *p);
/* Testing: the n-th allocation from now (1: the next one) fails, once; 0 turns it off.
 * Returns the count of allocations made so far, to measure a path first. */
int64_t gx_alloc_fail_at(int64_t n);
/* Testing: allocations made and not yet freed through the hook (realloc counts as neither) */
int64_t gx_alloc_live(void);
/* Testing: 1 once the armed failure has happened (gx_alloc_fail_at resets it) */
int     gx_alloc_failed(void);
/* allocations through the hook that returned NULL so far (injected or real): a library that
 * reports failure without saying why (cJSON) is told apart from bad input by this count */
int64_t gx_alloc_failures(void);

/* Make room for `need` elements of `elem` bytes in `arr` (capacity *cap, doubled as needed).
 * Returns the (possibly moved) array, or NULL on out of memory, in which case `arr` is still
 * valid and *cap unchanged. Assign the result back: p = gx_grow(p, &cap, n + 1, sizeof *p). */
void *gx_grow(void *arr, int32_t *cap, int32_t need, size_t elem);
/* malloc'd copy of s; NULL on out of memory */
char *gx_strdup(const char *s);
/* s as a JSON string literal (quoted, escaped) on f; NULL writes "" */
void  gx_json_str(FILE *f, const char *s);

#endif
