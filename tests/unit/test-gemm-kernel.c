/*
 * test-gemm-kernel.c: cpu-sleef's gemm_nn_cols (simd-template.h) on every ISA table the CPU can
 * run (AVX-512 and AVX2 are skipped where __builtin_cpu_supports says no; SSE2 always runs).
 * The three simd-*.c files are compiled into this executable (the plugin exports only its
 * entry point). Checks, over many shapes: C against a double-precision reference (relative
 * error <= 1e-5 sqrt(K) of the row's magnitude sum |A||B|), beta 0 (old C is NaN and ignored)
 * and beta 1 (accumulate), ldb > N, lda > K, ldc > N, and column ranges split at multiples of
 * 2*VN giving the same bits as the unsplit call.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu-sleef.h"

static uint64_t rng = 12345;

static float urand(void) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng >> 40) / (double)(1u << 24) * 2.0 - 1.0);
}

static void check_table(const csl_simd *t, int vn) {
    static const int64_t Ms[] = {1, 2, 5, 6, 7, 13, 32, 64};
    static const int64_t Ns[] = {1, 15, 16, 31, 32, 33, 100, 1024};
    static const int64_t Ks[] = {1, 7, 64, 256, 600};   // 600: three k blocks of GEMM_KC
    const int64_t nr = 2 * vn;
    int64_t cases = 0;
    for (size_t mi = 0; mi < sizeof Ms / sizeof Ms[0]; mi++)
        for (size_t ni = 0; ni < sizeof Ns / sizeof Ns[0]; ni++)
            for (size_t ki = 0; ki < sizeof Ks / sizeof Ks[0]; ki++)
                for (int b = 0; b < 2; b++) {
                    int64_t M = Ms[mi], N = Ns[ni], K = Ks[ki];
                    int64_t lda = K + 3, ldb = N + 5, ldc = N + 2;
                    float beta = (float)b;
                    float *A = malloc(sizeof(float) * (size_t)(M * lda));
                    float *B = malloc(sizeof(float) * (size_t)(K * ldb));
                    float *C0 = malloc(sizeof(float) * (size_t)(M * ldc));
                    float *C = malloc(sizeof(float) * (size_t)(M * ldc));
                    float *C2 = malloc(sizeof(float) * (size_t)(M * ldc));
                    assert_non_null(A);
                    assert_non_null(B);
                    assert_non_null(C0);
                    assert_non_null(C);
                    assert_non_null(C2);
                    for (int64_t i = 0; i < M * lda; i++) A[i] = urand();
                    for (int64_t i = 0; i < K * ldb; i++) B[i] = urand();
                    for (int64_t i = 0; i < M * ldc; i++) C0[i] = b ? urand() : NAN;
                    memcpy(C, C0, sizeof(float) * (size_t)(M * ldc));
                    memcpy(C2, C0, sizeof(float) * (size_t)(M * ldc));
                    t->gemm_nn_cols(M, 0, N, K, A, lda, B, ldb, beta, C, ldc);
                    double tol = 1e-5 * sqrt((double)K);
                    for (int64_t i = 0; i < M; i++) {
                        for (int64_t j = 0; j < N; j++) {
                            double ref = b ? (double)C0[i * ldc + j] : 0.0, mag = fabs(ref);
                            for (int64_t k = 0; k < K; k++) {
                                double p = (double)A[i * lda + k] * (double)B[k * ldb + j];
                                ref += p;
                                mag += fabs(p);
                            }
                            double got = (double)C[i * ldc + j];
                            if (!(fabs(got - ref) <= tol * (mag + 1e-30))) {
                                fprintf(stderr, "%s M=%lld N=%lld K=%lld beta=%d C[%lld][%lld] = %.9g, want %.9g\n",
                                        t->name, (long long)M, (long long)N, (long long)K, b,
                                        (long long)i, (long long)j, got, ref);
                                fail();
                            }
                        }
                        // the padding columns of C are never written
                        for (int64_t j = N; j < ldc; j++)
                            assert_memory_equal(&C[i * ldc + j], &C0[i * ldc + j], sizeof(float));
                    }
                    // column panels split at multiples of 2*VN: the same bits
                    for (int64_t step = nr; step <= 3 * nr; step += nr) {
                        memcpy(C2, C0, sizeof(float) * (size_t)(M * ldc));
                        for (int64_t j = N; j > 0; j -= step) {   // right to left, any order
                            int64_t j0 = (j - 1) / step * step;
                            t->gemm_nn_cols(M, j0, j, K, A, lda, B, ldb, beta, C2, ldc);
                            j = j0 + step;
                        }
                        assert_memory_equal(C, C2, sizeof(float) * (size_t)(M * ldc));
                    }
                    cases++;
                    free(A);
                    free(B);
                    free(C0);
                    free(C);
                    free(C2);
                }
    // K == 0 and an empty column range
    float c[4] = {1, 2, 3, 4}, a = 5, bb = 6;
    t->gemm_nn_cols(2, 0, 2, 0, &a, 1, &bb, 2, 1.0f, c, 2);
    assert_true(c[0] == 1 && c[1] == 2 && c[2] == 3 && c[3] == 4);
    t->gemm_nn_cols(2, 0, 2, 0, &a, 1, &bb, 2, 0.0f, c, 2);
    assert_true(c[0] == 0 && c[1] == 0 && c[2] == 0 && c[3] == 0);
    t->gemm_nn_cols(2, 1, 1, 1, &a, 1, &bb, 2, 0.0f, c, 2);
    printf("%s: %lld shapes\n", t->name, (long long)cases);
}

static void test_avx512(void **state) {
    (void)state;
    if (!__builtin_cpu_supports("avx512f")) skip();
    check_table(&csl_simd_avx512, 16);
}

static void test_avx2(void **state) {
    (void)state;
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) skip();
    check_table(&csl_simd_avx2, 8);
}

static void test_sse2(void **state) {
    (void)state;
    check_table(&csl_simd_sse2, 4);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_avx512),
        cmocka_unit_test(test_avx2),
        cmocka_unit_test(test_sse2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
