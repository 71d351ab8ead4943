/*
 * fuzz-common.c: what the harnesses share: the op registry (loaded once), scratch files for
 * the readers that take paths, and the "an error has a message" check.
 */
#define _POSIX_C_SOURCE 200809L

#include "fuzz.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

gx_registry *gx_fuzz_registry(void) {
    static gx_registry *reg;
    static int tried;
    if (tried) return reg;
    tried = 1;
#ifdef GX_FUZZ_PLUGIN_DIR
    const char *dir = GX_FUZZ_PLUGIN_DIR;   /* the instrumented copies (tests/fuzz/CMakeLists.txt) */
#else
    const char *dir = gx_registry_builtin_dir();
#endif
    gx_registry *r = gx_registry_new();
    if (dir == NULL || r == NULL) {
        fprintf(stderr, "fuzz: no built-in plugin directory\n");
        gx_registry_free(r);
        return NULL;
    }
    /* op plugins only: lowering needs ops, never a backend (Vulkan would only slow it down) */
    DIR *dp = opendir(dir);
    int n = 0;
    for (struct dirent *e; dp && (e = readdir(dp)) != NULL;) {
        size_t len = strlen(e->d_name);
        if (strncmp(e->d_name, "gx-op-", 6) != 0 || len < 4 || strcmp(e->d_name + len - 3, ".so"))
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        gx_diag d;
        gx_diag_init(&d);
        if (gx_registry_load_file(r, path, &d) == GX_OK) n++;
        else fprintf(stderr, "fuzz: %s\n", d.msg);
    }
    if (dp) closedir(dp);
    if (n == 0) {
        fprintf(stderr, "fuzz: no op plugin loaded from %s\n", dir);
        gx_registry_free(r);
        return NULL;
    }
    reg = r;
    return reg;
}

static char paths[4][512];
static const char *suffixes[4];

static void remove_tmpfiles(void) {
    for (int i = 0; i < 4; i++)
        if (suffixes[i]) unlink(paths[i]);
}

const char *gx_fuzz_tmpfile(const char *suffix, const uint8_t *data, size_t size) {
    static int registered;
    if (!registered) registered = atexit(remove_tmpfiles) == 0;
    int slot = 0;
    while (slot < 3 && suffixes[slot] && strcmp(suffixes[slot], suffix) != 0) slot++;
    if (suffixes[slot] == NULL || strcmp(suffixes[slot], suffix) != 0) {
        const char *tmp = getenv("TMPDIR");
        if (tmp == NULL || *tmp == '\0') tmp = "/tmp";
        snprintf(paths[slot], sizeof paths[slot], "%s/gx-fuzz-%ld-%d%s", tmp, (long)getpid(),
                 slot, suffix);
        suffixes[slot] = suffix;
    }
    FILE *f = fopen(paths[slot], "wb");
    if (f == NULL) return NULL;
    int ok = fwrite(data, 1, size, f) == size;
    if (fclose(f) != 0) ok = 0;
    return ok ? paths[slot] : NULL;
}

void gx_fuzz_check_msg(const char *call, int status, const char *msg) {
    static int verbose = -1;
    if (verbose < 0) verbose = getenv("GX_FUZZ_VERBOSE") != NULL;
    if (verbose && status != GX_OK) fprintf(stderr, "  %s: %s\n", call, msg ? msg : "(null)");
    if (status != GX_OK && (msg == NULL || msg[0] == '\0')) {
        fprintf(stderr, "fuzz: %s failed with status %d and no message\n", call, status);
        abort();
    }
}
