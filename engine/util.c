/* util.c: the allocation hook, array growth and string copies (see util.h). */
#include <stdio.h>
#include "util.h"

#include <cjson/cJSON.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static atomic_llong n_allocs;   /* allocations so far                         */
static atomic_llong n_live;     /* allocations not yet freed                  */
static atomic_llong fail_at;    /* fail when n_allocs reaches it; 0: never     */
static atomic_int   did_fail;
static atomic_llong n_failed;   /* allocations that returned NULL, injected or real */

/* count one allocation; 1 when it is the one to fail */
static int should_fail(void) {
    long long k = atomic_fetch_add(&n_allocs, 1) + 1;
    long long f = atomic_load(&fail_at);
    if (f != 0 && k == f) {
        atomic_store(&did_fail, 1);
        atomic_fetch_add(&n_failed, 1);
        return 1;
    }
    return 0;
}

static void *counted(void *p) {
    if (p) atomic_fetch_add(&n_live, 1);
    else atomic_fetch_add(&n_failed, 1);
    return p;
}

void *gx_malloc(size_t n) {
    if (should_fail()) return NULL;
    return counted(malloc(n ? n : 1));
}

void *gx_calloc(size_t count, size_t n) {
    if (should_fail()) return NULL;
    return counted(calloc(count ? count : 1, n ? n : 1));
}

void *gx_realloc(void *p, size_t n) {
    if (should_fail()) return NULL;
    void *q = realloc(p, n ? n : 1);
    if (q && p == NULL) atomic_fetch_add(&n_live, 1);
    if (q == NULL) atomic_fetch_add(&n_failed, 1);
    return q;
}

void gx_free(void *p) {
    if (p == NULL) return;
    atomic_fetch_sub(&n_live, 1);
    free(p);
}

int64_t gx_alloc_fail_at(int64_t n) {
    long long now = atomic_load(&n_allocs);
    atomic_store(&did_fail, 0);
    atomic_store(&fail_at, n > 0 ? now + n : 0);
    return now;
}

int64_t gx_alloc_live(void) { return atomic_load(&n_live); }
int     gx_alloc_failed(void) { return atomic_load(&did_fail); }
int64_t gx_alloc_failures(void) { return atomic_load(&n_failed); }

/* cJSON (safetensors headers, JSONL lines) allocates through the hook too, so a failing
 * allocation inside it is tested like any other. Installed when libgexec is loaded, before any
 * JSON is parsed; everything cJSON returns is freed with cJSON_Delete/cJSON_free. */
static void *json_malloc(size_t n) { return gx_malloc(n); }
__attribute__((constructor)) static void json_through_hook(void) {
    cJSON_Hooks h = {.malloc_fn = json_malloc, .free_fn = gx_free};
    cJSON_InitHooks(&h);
}

void *gx_grow(void *arr, int32_t *cap, int32_t need, size_t elem) {
    if (need <= *cap) return arr;
    int32_t nc = *cap ? *cap : 16;
    while (nc < need) {
        if (nc > INT32_MAX / 2) return NULL;
        nc *= 2;
    }
    if ((size_t)nc > SIZE_MAX / elem) return NULL;
    void *p = gx_realloc(arr, (size_t)nc * elem);
    if (p == NULL) return NULL;
    *cap = nc;
    return p;
}

char *gx_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = gx_malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

void gx_json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}
