/*
 * memlimit.h: how much memory gexec may plan. A graph whose params and inputs, or a plan whose
 * buffers, need more than the limit is an error before anything that size is allocated: a
 * typo in a dim (10^12 instead of 10^3) says so in one line instead of swapping the machine to
 * death or dying in malloc. The limit defaults to the machine's physical memory; `--max-memory`
 * sets it.
 */
#ifndef GX_MEMLIMIT_H
#define GX_MEMLIMIT_H

#include <stddef.h>
#include <stdint.h>

/* the limit in bytes (physical memory unless set) */
uint64_t gx_memory_limit(void);
/* 0 restores the default */
void     gx_set_memory_limit(uint64_t bytes);
/* "512 MiB", "4.0 TiB": bytes as a short text in buf */
const char *gx_bytes_text(uint64_t bytes, char *buf, size_t n);
/* "512M", "2G", "1.5GiB", "4096" (bytes; K, M, G, T are powers of 1024) into *out; 0 if it is
 * not such a size, or is 0 */
int      gx_parse_bytes(const char *s, uint64_t *out);

#endif
