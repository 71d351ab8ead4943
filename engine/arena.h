/*
 * arena.h: a bump allocator for objects that die together (the AST, the IR's strings).
 * Nothing is freed one by one; gx_arena_free releases every chunk at once.
 */
#ifndef GX_ARENA_H
#define GX_ARENA_H

#include <stddef.h>

typedef struct gx_arena_chunk gx_arena_chunk;

typedef struct gx_arena {
    gx_arena_chunk *head;
    size_t          used;    /* bytes used in head */
    size_t          cap;     /* bytes available in head */
} gx_arena;

void  gx_arena_init(gx_arena *a);
void  gx_arena_free(gx_arena *a);
/* zeroed, 16-byte aligned; NULL on out of memory */
void *gx_arena_alloc(gx_arena *a, size_t bytes);
char *gx_arena_strdup(gx_arena *a, const char *s);
char *gx_arena_strndup(gx_arena *a, const char *s, size_t n);

#endif
