/*
 * count-malloc.h: counting allocations in a test executable. Included by exactly one file per
 * test: it defines malloc, calloc and realloc, which interpose libc's for every library the
 * executable loads (libgexec and the plugins included), and counts the calls in n_allocs.
 * Not under AddressSanitizer, which brings its own allocator: GX_COUNT_MALLOC says whether the
 * count exists.
 */
#ifndef GX_TEST_COUNT_MALLOC_H
#define GX_TEST_COUNT_MALLOC_H

#include <stddef.h>

#if !defined(__SANITIZE_ADDRESS__)
#define GX_COUNT_MALLOC 1
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
/* volatile: gcc assumes the builtin malloc touches no globals and would cache the count */
static volatile long n_allocs;
/* default visibility: the build hides symbols, and a hidden malloc interposes nothing */
__attribute__((visibility("default"))) void *malloc(size_t n) {
    n_allocs++;
    return __libc_malloc(n);
}
__attribute__((visibility("default"))) void *calloc(size_t a, size_t b) {
    n_allocs++;
    return __libc_calloc(a, b);
}
__attribute__((visibility("default"))) void *realloc(void *p, size_t n) {
    n_allocs++;
    return __libc_realloc(p, n);
}
#endif

#endif
