/*
 * regress-main.c: the fuzz harnesses without libFuzzer, for the ordinary test suite
 * (ctest test-fuzz-regress) and for replaying one input under a debugger.
 *
 *   fuzz-regress DIR                 every file in DIR/regress/<target>/ and DIR/corpus/<target>/
 *                                    through its target (DIR is tests/fuzz)
 *   fuzz-regress TARGET FILE...      these files through one target (graph, safetensors,
 *                                    checkpoint, data)
 *
 * A finding aborts (or, under ASan/UBSan, reports and exits non-zero) on the file that causes
 * it; the file's name is printed first, so the log says which one.
 */
#define _POSIX_C_SOURCE 200809L

#include "fuzz.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct target {
    const char *name;
    int (*init)(void);
    int (*run)(const uint8_t *data, size_t size);
    int ready;
} target;

static target targets[] = {
    {"graph", gx_fuzz_graph_init, gx_fuzz_graph, 0},
    {"safetensors", gx_fuzz_safetensors_init, gx_fuzz_safetensors, 0},
    {"checkpoint", gx_fuzz_checkpoint_init, gx_fuzz_checkpoint, 0},
    {"data", gx_fuzz_data_init, gx_fuzz_data, 0},
};
enum { N_TARGETS = sizeof targets / sizeof targets[0] };

static int run_file(target *t, const char *path) {
    if (!t->ready) {
        if (t->init() != 0) {
            fprintf(stderr, "fuzz-regress: target %s failed to initialise\n", t->name);
            return 1;
        }
        t->ready = 1;
    }
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "fuzz-regress: cannot open %s\n", path);
        return 1;
    }
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    for (size_t got; buf != NULL && (got = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += got;
        if (n == cap) {
            uint8_t *p = realloc(buf, cap *= 2);
            if (p == NULL) free(buf);
            buf = p;
        }
    }
    fclose(f);
    if (buf == NULL) {
        fprintf(stderr, "fuzz-regress: out of memory reading %s\n", path);
        return 1;
    }
    fprintf(stderr, "%s: %s (%zu bytes)\n", t->name, path, n);
    /* an exact-size copy, so ASan sees a read past the input's end, as under libFuzzer */
    uint8_t *exact = malloc(n ? n : 1);
    if (exact) memcpy(exact, buf, n);
    free(buf);
    if (exact == NULL) return 1;
    t->run(exact, n);
    free(exact);
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* the files of dir in name order (a missing directory has none) */
static int run_dir(target *t, const char *dir, int *count) {
    DIR *dp = opendir(dir);
    if (dp == NULL) return 0;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    for (struct dirent *e; (e = readdir(dp)) != NULL;) {
        if (e->d_name[0] == '.') continue;   /* ., .., .gitkeep */
        if (n == cap) {
            char **p = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof *names);
            if (p == NULL) { rc = 1; break; }
            names = p;
        }
        if ((names[n] = strdup(e->d_name)) == NULL) { rc = 1; break; }
        n++;
    }
    closedir(dp);
    if (n) qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        int len = snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (len < 0 || (size_t)len >= sizeof path) {
            fprintf(stderr, "test-fuzz-regress: path too long: %s/%s\n", dir, names[i]);
            rc = 1;
        }
        if (rc == 0) {
            rc = run_file(t, path);
            (*count)++;
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv) {
    if (argc == 2) {
        int total = 0;
        for (int i = 0; i < N_TARGETS; i++) {
            int count = 0;
            for (int k = 0; k < 2; k++) {
                char dir[4096];
                snprintf(dir, sizeof dir, "%s/%s/%s", argv[1], k ? "corpus" : "regress",
                         targets[i].name);
                if (run_dir(&targets[i], dir, &count) != 0) return 1;
            }
            printf("%-12s %d inputs\n", targets[i].name, count);
            total += count;
        }
        if (total == 0) {
            fprintf(stderr, "fuzz-regress: no inputs under %s\n", argv[1]);
            return 1;
        }
        return 0;
    }
    if (argc >= 3) {
        for (int i = 0; i < N_TARGETS; i++) {
            if (strcmp(argv[1], targets[i].name) != 0) continue;
            for (int k = 2; k < argc; k++)
                if (run_file(&targets[i], argv[k]) != 0) return 1;
            return 0;
        }
        fprintf(stderr, "fuzz-regress: unknown target '%s'\n", argv[1]);
        return 2;
    }
    fprintf(stderr, "usage: fuzz-regress DIR | fuzz-regress TARGET FILE...\n");
    return 2;
}
