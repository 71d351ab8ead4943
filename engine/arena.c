/* arena.c: chunked bump allocation; chunks grow geometrically, big requests get their own. */
#include "arena.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

struct gx_arena_chunk {
    gx_arena_chunk *next;
    size_t          size;
    _Alignas(16) unsigned char data[];
};

void gx_arena_init(gx_arena *a) {
    a->head = NULL;
    a->used = 0;
    a->cap = 0;
}

void gx_arena_free(gx_arena *a) {
    gx_arena_chunk *c = a->head;
    while (c) {
        gx_arena_chunk *next = c->next;
        gx_free(c);
        c = next;
    }
    gx_arena_init(a);
}

void *gx_arena_alloc(gx_arena *a, size_t bytes) {
    size_t need = (bytes + 15u) & ~(size_t)15u;
    if (need < bytes) return NULL; /* overflow */
    if (a->head == NULL || a->cap - a->used < need) {
        size_t size = a->cap ? a->cap * 2 : 4096;
        if (size < need) size = need;
        gx_arena_chunk *c = gx_malloc(sizeof *c + size);
        if (c == NULL) return NULL;
        c->next = a->head;
        c->size = size;
        a->head = c;
        a->used = 0;
        a->cap = size;
    }
    void *p = a->head->data + a->used;
    a->used += need;
    memset(p, 0, bytes);
    return p;
}

char *gx_arena_strndup(gx_arena *a, const char *s, size_t n) {
    char *p = gx_arena_alloc(a, n + 1);
    if (p == NULL) return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *gx_arena_strdup(gx_arena *a, const char *s) {
    return gx_arena_strndup(a, s, strlen(s));
}
