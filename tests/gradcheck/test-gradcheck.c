/*
 * test-gradcheck.c: every op in the registry through cpu-scalar's own checks, those of
 * engine/opcheck.c that `gexec check-op --backend cpu-scalar` runs.
 *
 * The list of ops is the registry's, not a list written here, so a new op cannot skip the
 * check: each op must either ship examples (gx_op_example) or say in its schema why it is
 * exempt (grad_exempt), and an op with neither a VJP nor a decomposition must be exempt (the
 * library's schema rules). For every example, with the example's own shapes (the random shape
 * variants run in ctest's check-op-cpu-scalar):
 *   1. in f64: loss = sum_j sum(out_j * R_j) with fixed random R_j; the analytic gradient from
 *      autodiff is compared with (loss(x + eps) - loss(x - eps)) / 2 eps for every element of
 *      every differentiable input; max relative error 1e-6 (relative to max(|a|, |n|, 1e-3));
 *   2. in f32: outputs and analytic gradients must match the f64 run within 1e-4 (relative to
 *      max(|x|, 1)), which checks the f32 kernels against the same reference;
 *   3. cells (ops with recurrent inputs): the op in a loop of 3 steps, looped against unrolled,
 *      outputs and gradients within 1e-12.
 * Exempt ops skip 1 and still get 2 on their forward pass.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "opcheck.h"

#include <stdio.h>
#include <stdlib.h>

static gx_registry *reg;

static void test_op(void **state) {
    const gx_op *op = *state;
    gx_check_opts o;
    gx_check_opts_default(&o);
    o.n_shapes = 0;
    gx_check_report rep = {0};
    assert_int_equal(gx_check_op(reg, op, &o, &rep), GX_OK);
    int bad = 0;
    for (int32_t i = 0; i < rep.n; i++) {
        const gx_check_result *r = &rep.results[i];
        if (r->status == GX_CHECK_FAIL) {
            print_error("op '%s' example '%s': %s: %s\n", op->name, r->case_name,
                        gx_check_kind_name(r->kind), r->msg);
            bad = 1;
        } else if (r->status == GX_CHECK_SKIP) {
            print_message("  %-20s %-28s %-4s %s\n", op->name, r->case_name,
                          gx_check_kind_name(r->kind), r->msg);
        } else {
            print_message("  %-20s %-28s %-4s max err %.2e (tolerance %.0e, %lld entries)\n",
                          op->name, r->case_name, gx_check_kind_name(r->kind), r->err, r->tol,
                          (long long)r->n_checked);
        }
    }
    gx_check_report_free(&rep);
    if (bad) fail();
}

int main(int argc, char **argv) {
    reg = gx_registry_new();
    gx_diag d;
    gx_diag_init(&d);
    if (reg == NULL || gx_registry_load_default(reg, NULL, &d) != GX_OK) {
        fprintf(stderr, "cannot load plugins: %s\n", d.msg);
        return 1;
    }
    int n = gx_registry_n_ops(reg);
    if (n == 0) {
        fprintf(stderr, "no ops are registered: the core ops plugin was not found\n");
        return 1;
    }
    struct CMUnitTest *tests = calloc((size_t)n, sizeof *tests);
    for (int i = 0; i < n; i++) {
        tests[i].name = gx_registry_op_at(reg, i)->name;
        tests[i].test_func = test_op;
        tests[i].initial_state = (void *)gx_registry_op_at(reg, i);
    }
    if (argc > 1) cmocka_set_test_filter(argv[1]);
    int rc = _cmocka_run_group_tests("gradcheck", tests, (size_t)n, NULL, NULL);
    free(tests);
    gx_registry_free(reg);
    return rc;
}
