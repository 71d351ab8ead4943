/*
 * fuzz.h: the fuzz targets, as plain functions. Each harness (fuzz-<target>.c) defines
 * gx_fuzz_<target>_init (once per process) and gx_fuzz_<target> (once per input). Built with
 * GX_FUZZ_LIBFUZZER, a harness also defines libFuzzer's two entry points around them; without
 * it, regress-main.c replays files through the same functions in the ordinary test suite.
 * A harness aborts only on a broken invariant (a failed call with no message); crashes, leaks
 * and undefined behaviour are left to the sanitizers.
 */
#ifndef GX_FUZZ_H
#define GX_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "registry.h"

int gx_fuzz_graph_init(void);
int gx_fuzz_graph(const uint8_t *data, size_t size);
int gx_fuzz_safetensors_init(void);
int gx_fuzz_safetensors(const uint8_t *data, size_t size);
int gx_fuzz_checkpoint_init(void);
int gx_fuzz_checkpoint(const uint8_t *data, size_t size);
int gx_fuzz_data_init(void);
int gx_fuzz_data(const uint8_t *data, size_t size);

// ---- shared helpers (fuzz-common.c) ----

/* The registry with the built-in op plugins (gx-op-*.so beside libgexec), loaded once and
 * kept for the life of the process; NULL (with a message on stderr) when none loads. */
gx_registry *gx_fuzz_registry(void);
/* Write the bytes to a per-process scratch file whose name ends in `suffix` (".jsonl"); the
 * path stays valid until the next call with the same suffix. NULL when it cannot be written. */
const char *gx_fuzz_tmpfile(const char *suffix, const uint8_t *data, size_t size);
/* A failed call must leave a message (STYLE 4.5): abort, naming the call, when it does not.
 * With GX_FUZZ_VERBOSE set in the environment, every error message is printed. */
void gx_fuzz_check_msg(const char *call, int status, const char *msg);

#ifdef GX_FUZZ_LIBFUZZER
#define GX_FUZZ_ENTRY(target)                                                              \
    int LLVMFuzzerInitialize(int *argc, char ***argv);                                     \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);                          \
    int LLVMFuzzerInitialize(int *argc, char ***argv) {                                    \
        (void)argc;                                                                        \
        (void)argv;                                                                        \
        return gx_fuzz_##target##_init();                                                  \
    }                                                                                      \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {                         \
        gx_fuzz_##target(data, size);                                                      \
        return 0;                                                                          \
    }
#else
#define GX_FUZZ_ENTRY(target)
#endif

#endif
