/* memlimit.c: the memory limit (see memlimit.h). */
#include "memlimit.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static uint64_t limit_set;   /* 0: the default */

static uint64_t physical_memory(void) {
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || size <= 0) return UINT64_MAX;   /* unknown: no limit */
    return (uint64_t)pages * (uint64_t)size;
}

uint64_t gx_memory_limit(void) { return limit_set ? limit_set : physical_memory(); }

void gx_set_memory_limit(uint64_t bytes) { limit_set = bytes; }

const char *gx_bytes_text(uint64_t bytes, char *buf, size_t n) {
    static const char *const unit[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024 && u < 6) {
        v /= 1024;
        u++;
    }
    if (u == 0) snprintf(buf, n, "%llu bytes", (unsigned long long)bytes);
    else snprintf(buf, n, v < 10 ? "%.1f %s" : "%.0f %s", v, unit[u]);
    return buf;
}

int gx_parse_bytes(const char *s, uint64_t *out) {
    if (s == NULL || !isdigit((unsigned char)*s)) return 0;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || !isfinite(v) || v <= 0) return 0;
    static const char units[] = "KMGTP";
    double scale = 1;
    if (*end) {
        int k = 0;
        while (units[k] && toupper((unsigned char)*end) != units[k]) k++;
        if (!units[k]) return 0;
        scale = pow(1024, k + 1);
        end++;
        if (strcasecmp(end, "iB") == 0 || strcasecmp(end, "B") == 0) end += strlen(end);
        if (*end) return 0;
    }
    double b = v * scale;
    if (b >= 18446744073709551615.0 || b < 1) return 0;
    *out = (uint64_t)b;
    return 1;
}
