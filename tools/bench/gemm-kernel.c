/*
 * gemm-kernel.c: times cpu-sleef's gemm_nn_cols (the AVX-512 table) against OpenBLAS
 * cblas_sgemm on one thread, for the small-M shapes of a recurrent step (C = A B, row-major,
 * B [K, N] the same weights every call). Not a test: prints a table of medians.
 *
 *   cmake --build build --target gexec_bench_gemm_kernel && build/bin/gexec-bench-gemm-kernel [reps]
 * or, alone:
 *   cc -O2 -std=c11 -Ibackends/cpu-sleef -Iplugins/include \
 *      -I/usr/include/x86_64-linux-gnu/openblas-pthread tools/bench/gemm-kernel.c \
 *      backends/cpu-sleef/simd-avx512.c -mavx512f -mfma -lopenblas -lsleef -lm -o gemm-kernel
 *   (the bench needs an AVX-512 CPU anyway, so the flags may cover the driver too)
 *
 * Each shape: A, B, C filled with uniform [-1, 1); one warm-up of each; then `reps` rounds
 * (default 200, at least 5 ms each by repeating the call) alternating the two, medians of the
 * per-call times; GFLOP/s = 2 M N K / t. Also checks the two results agree (max relative error).
 */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cpu-sleef.h"

void openblas_set_num_threads(int);

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static float *rnd(int64_t n, uint64_t *s) {
    float *p = aligned_alloc(64, (size_t)((n * 4 + 63) / 64 * 64));
    for (int64_t i = 0; i < n; i++) {
        *s = *s * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = (float)((double)(*s >> 40) / (double)(1u << 24) * 2.0 - 1.0);
    }
    return p;
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 200;
    if (reps < 1) reps = 1;
    if (!__builtin_cpu_supports("avx512f")) {
        fprintf(stderr, "gemm-kernel: this CPU has no AVX-512\n");
        return 1;
    }
    openblas_set_num_threads(1);
    static const int64_t shapes[][3] = {
        {32, 1024, 256}, {32, 2048, 512}, {64, 4096, 1024}, {1, 8, 2}, {32, 512, 128},
        {1, 4096, 1024}, {8, 4096, 1024}};
    const int nshapes = (int)(sizeof shapes / sizeof shapes[0]);
    printf("%5s %5s %5s | %10s %8s | %10s %8s | %6s | %8s\n", "M", "N", "K", "ours us",
           "GFLOP/s", "blas us", "GFLOP/s", "ratio", "max rel");
    uint64_t seed = 1;
    for (int s = 0; s < nshapes; s++) {
        int64_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        float *A = rnd(M * K, &seed), *B = rnd(K * N, &seed);
        float *C1 = rnd(M * N, &seed), *C2 = rnd(M * N, &seed);
        double flop = 2.0 * (double)M * (double)N * (double)K;
        // calls per round: about 5 ms at 50 GFLOP/s
        int inner = (int)(5e-3 * 50e9 / flop);
        if (inner < 1) inner = 1;
        double *t1 = malloc(sizeof(double) * (size_t)reps), *t2 = malloc(sizeof(double) * (size_t)reps);
        csl_simd_avx512.gemm_nn_cols(M, 0, N, K, A, K, B, N, 0.0f, C1, N);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)N, (int)K, 1.0f, A,
                    (int)K, B, (int)N, 0.0f, C2, (int)N);
        double maxrel = 0.0;
        for (int64_t i = 0; i < M * N; i++) {
            double d = fabs((double)C1[i] - (double)C2[i]) / (fabs((double)C2[i]) + 1e-3);
            if (d > maxrel) maxrel = d;
        }
        for (int r = 0; r < reps; r++) {
            double t0 = now();
            for (int q = 0; q < inner; q++)
                csl_simd_avx512.gemm_nn_cols(M, 0, N, K, A, K, B, N, 0.0f, C1, N);
            double ta = now();
            for (int q = 0; q < inner; q++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)N, (int)K,
                            1.0f, A, (int)K, B, (int)N, 0.0f, C2, (int)N);
            double tb = now();
            t1[r] = (ta - t0) / inner;
            t2[r] = (tb - ta) / inner;
        }
        qsort(t1, (size_t)reps, sizeof(double), cmp_d);
        qsort(t2, (size_t)reps, sizeof(double), cmp_d);
        double m1 = t1[reps / 2], m2 = t2[reps / 2];
        printf("%5lld %5lld %5lld | %10.2f %8.1f | %10.2f %8.1f | %6.2f | %8.1e\n", (long long)M,
               (long long)N, (long long)K, m1 * 1e6, flop / m1 * 1e-9, m2 * 1e6,
               flop / m2 * 1e-9, m2 / m1, maxrel);
        fflush(stdout);
        free(t1);
        free(t2);
        free(A);
        free(B);
        free(C1);
        free(C2);
    }
    printf("ratio = blas time / ours time (> 1: ours faster); one thread each\n");
    return 0;
}
