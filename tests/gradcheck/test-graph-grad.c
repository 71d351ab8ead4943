#define _DEFAULT_SOURCE /* scandir, alphasort */
/*
 * test-graph-grad.c: every example graph in graphs/, parsed from its file, with small dims:
 * its gradient (what `gexec grad` writes) against central differences of the loss, and its
 * looped form against its unrolled form (outputs and gradients, 1e-12). Graphs written in f32
 * are checked with their dtypes rewritten to f64, since f32 finite differences cannot resolve
 * 1e-6. A graph added to graphs/ is checked without editing this file.
 * Every graph is checked twice: with the loop optimizations (engine/hoist.h) on, the default,
 * and off (GEXEC_DISABLE=hoist,lift), so both forms of every loop match the unrolled graph.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "graph-check.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gx_registry *reg;
static char graphs_dir[4096];

/* small sizes for every dim name the examples use; i32 inputs stay below 3 */
static const gx_dim_binding small[] = {
    {"B", 2}, {"T", 5}, {"E", 3}, {"H", 4}, {"V", 7}, {"W", 9}, {"K", 3}, {"I", 3}, {"C", 3},
    {"D", 3},
};

static void check_graph(const char *file, const char *disable) {
    if (disable) setenv("GEXEC_DISABLE", disable, 1);
    else unsetenv("GEXEC_DISABLE");
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", graphs_dir, file);
    char *src;
    size_t n;
    gx_diag d;
    gx_diag_init(&d);
    assert_int_equal(gx_read_file(path, &src, &n, &d), GX_OK);
    for (char *s = strstr(src, "f32"); s; s = strstr(s + 3, "f32")) s[1] = '6', s[2] = '4';
    gc_opts o = {.binds = small, .n_binds = (int)(sizeof small / sizeof small[0]), .int_hi = 3,
                 .mask_inputs = "mask", .rel_tol = 1e-6, .unroll_tol = 1e-12};
    gc_result r;
    int bad = gc_check(reg, path, src, &o, &r);
    free(src);
    unsetenv("GEXEC_DISABLE");
    if (bad) fail_msg("%s failed%s%s", file, disable ? " with GEXEC_DISABLE=" : "", disable ? disable : "");
    print_message("  %-24s %4lld gradient entries, max rel err %.1e, looped vs unrolled %.1e%s\n",
                  file, (long long)r.n_checked, r.max_rel_err, r.max_unroll_diff,
                  disable ? " (loop optimizations off)" : "");
}

static void test_graph(void **state) {
    check_graph(*state, NULL);
    check_graph(*state, "hoist,lift");
}

static int is_graph(const struct dirent *e) {
    size_t n = strlen(e->d_name);
    return n > 6 && strcmp(e->d_name + n - 6, ".graph") == 0;
}

int main(void) {
    const char *src = getenv("GEXEC_SOURCE_DIR");
    snprintf(graphs_dir, sizeof graphs_dir, "%s/graphs", src ? src : ".");
    reg = gx_registry_new();
    gx_diag d;
    gx_diag_init(&d);
    if (gx_registry_load_default(reg, NULL, &d) != GX_OK) return 1;
    struct dirent **list = NULL;
    int n = scandir(graphs_dir, &list, is_graph, alphasort);
    if (n <= 0) {
        fprintf(stderr, "no graphs in %s\n", graphs_dir);
        return 1;
    }
    struct CMUnitTest *tests = calloc((size_t)n, sizeof *tests);
    for (int i = 0; i < n; i++)
        tests[i] = (struct CMUnitTest){.name = list[i]->d_name, .test_func = test_graph,
                                       .initial_state = list[i]->d_name};
    int rc = _cmocka_run_group_tests("example graphs", tests, (size_t)n, NULL, NULL);
    for (int i = 0; i < n; i++) free(list[i]);
    free(list);
    free(tests);
    gx_registry_free(reg);
    return rc;
}
