/* test-stats.c: the numbers of diagnostics (stats.h): summaries, the entropy and kept matrix of
 * distribution probes, and the spectrum by power iteration, against values known in closed
 * form. */
#include "stats.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

static void test_summary(void **state) {
    (void)state;
    enum { N = 10001 };
    float *x = malloc(sizeof(float) * N);
    for (int i = 0; i < N; i++) x[i] = (float)i / (N - 1);   /* 0 .. 1 evenly */
    gx_summary s;
    gx_summarize(x, GX_DTYPE_F32, N, GX_PROBE_SIGMOID, &s);
    assert_int_equal(s.n, N);
    assert_true(fabs(s.mean - 0.5) < 1e-6);
    assert_true(fabs(s.std - sqrt(1.0 / 12)) < 1e-3);
    assert_true(fabs(s.p5 - 0.05) < 1e-3 && fabs(s.p50 - 0.5) < 1e-3 && fabs(s.p95 - 0.95) < 1e-3);
    /* below 0.05 or above 0.95: 10% of the values */
    assert_true(fabs(s.saturated - 0.1) < 1e-3);
    gx_summarize(x, GX_DTYPE_F32, N, GX_PROBE_TANH, &s);
    assert_true(fabs(s.saturated - 0.05) < 1e-3);   /* |x| > 0.95 */
    gx_summarize(x, GX_DTYPE_F32, N, GX_PROBE_PLAIN, &s);
    assert_true(isnan(s.saturated));
    /* non-finite values are counted apart and left out */
    x[0] = NAN;
    x[1] = INFINITY;
    gx_summarize(x, GX_DTYPE_F32, N, GX_PROBE_PLAIN, &s);
    assert_int_equal(s.n, N - 2);
    assert_int_equal(s.n_nonfinite, 2);
    assert_true(isfinite(s.mean));
    /* one value, and none */
    gx_summarize(x + 5, GX_DTYPE_F32, 1, GX_PROBE_PLAIN, &s);
    assert_true(s.p5 == x[5] && s.p95 == x[5] && s.std == 0);
    gx_summarize(x, GX_DTYPE_F32, 2, GX_PROBE_PLAIN, &s);
    assert_int_equal(s.n, 0);
    assert_true(isnan(s.mean));
    double dd[4] = {3, 4, 0, 0};
    assert_true(fabs(gx_norm2(dd, GX_DTYPE_F64, 4) - 5) < 1e-12);
    free(x);
}

/* W_hh-like [2H, H]: block 0 a rotation scaled by r (eigenvalues r e^{+-i theta}, a complex
 * pair, where a Rayleigh quotient would oscillate) beside smaller ones; block 1 diagonal */
static void test_spectral(void **state) {
    (void)state;
    enum { H = 6 };
    float W[2 * H * H] = {0};
    double r = 1.3, th = 0.7;
    W[0 * H + 0] = (float)(r * cos(th));
    W[0 * H + 1] = (float)(-r * sin(th));
    W[1 * H + 0] = (float)(r * sin(th));
    W[1 * H + 1] = (float)(r * cos(th));
    for (int i = 2; i < H; i++) W[i * H + i] = 0.5f;
    W[2 * H + 3] = 0.2f;   /* not normal */
    for (int i = 0; i < H; i++) W[(H + i) * H + i] = (float)(0.1 * (i + 1));   /* rho 0.6 */
    gx_spectral s;
    assert_int_equal(gx_spectral_init(&s, 2 * H, H, H), GX_OK);
    assert_int_equal(s.blocks, 2);
    for (int k = 0; k < 20; k++) gx_spectral_update(&s, W, GX_DTYPE_F32, 12);
    assert_true(fabs(s.rho[0] - r) < 0.02 * r);
    assert_true(fabs(s.rho[1] - 0.6) < 0.01);
    /* the largest singular value of the whole: columns 0 and 1 hold the rotation (r) and the
     * diagonal's 0.1 and 0.2, so W^T W there is diag(r^2 + 0.01, r^2 + 0.04) */
    assert_true(fabs(s.sigma_max - sqrt(r * r + 0.04)) < 1e-4);
    gx_spectral_free(&s);
    /* the transposed layout [H, 2H] has the same spectrum */
    float Wt[2 * H * H];
    for (int i = 0; i < 2 * H; i++)
        for (int j = 0; j < H; j++) Wt[j * 2 * H + i] = W[i * H + j];
    assert_int_equal(gx_spectral_init(&s, H, 2 * H, H), GX_OK);
    for (int k = 0; k < 20; k++) gx_spectral_update(&s, Wt, GX_DTYPE_F32, 12);
    assert_true(fabs(s.rho[0] - r) < 0.02 * r && fabs(s.rho[1] - 0.6) < 0.01);
    gx_spectral_free(&s);
    /* not square blocks of H: refused */
    assert_int_not_equal(gx_spectral_init(&s, 5, 3, 3), GX_OK);
    /* a zero block: radius 0, no NaN */
    float Z[H * H] = {0};
    assert_int_equal(gx_spectral_init(&s, H, H, H), GX_OK);
    gx_spectral_update(&s, Z, GX_DTYPE_F32, 5);
    assert_true(s.rho[0] == 0 && s.sigma_max == 0);
    gx_spectral_free(&s);
}

/* distribution probes have no saturation: weights near 0 and 1 are what attention does */
static void test_stats_dist_no_saturation(void **state) {
    (void)state;
    float p[4] = {0.97f, 0.01f, 0.01f, 0.01f};
    gx_summary s;
    gx_summarize(p, GX_DTYPE_F32, 4, GX_PROBE_DIST, &s);
    assert_true(isnan(s.saturated));
    assert_true(fabs(s.mean - 0.25) < 1e-7);
    assert_true(isnan(gx_saturated_fraction(p, GX_DTYPE_F32, 4, GX_PROBE_DIST)));
    assert_true(gx_probe_saturates(GX_PROBE_SIGMOID) && gx_probe_saturates(GX_PROBE_TANH));
    assert_false(gx_probe_saturates(GX_PROBE_PLAIN) || gx_probe_saturates(GX_PROBE_DIST));
}

/* mean entropy of rows: uniform ln S, one-hot 0, a half/half row ln 2; rows that are not
 * distributions (a NaN, all zeros) are left out */
static void test_stats_mean_entropy(void **state) {
    (void)state;
    double x[5 * 4] = {0.25, 0.25, 0.25, 0.25,   /* ln 4 */
                       0, 1, 0, 0,               /* 0 */
                       0.5, 0, 0.5, 0,           /* ln 2 */
                       0, 0, 0, 0,               /* a padded step: left out */
                       NAN, 1, 0, 0};            /* left out */
    double want = (log(4.0) + 0 + log(2.0)) / 3;
    assert_true(fabs(gx_mean_entropy(x, GX_DTYPE_F64, 20, 4) - want) < 1e-12);
    assert_true(fabs(gx_mean_entropy(x, GX_DTYPE_F64, 4, 4) - log(4.0)) < 1e-12);
    assert_true(isnan(gx_mean_entropy(x + 12, GX_DTYPE_F64, 8, 4)));
    assert_true(isnan(gx_mean_entropy(x, GX_DTYPE_F64, 20, 0)));
    float u[7];
    for (int i = 0; i < 7; i++) u[i] = 1.0f / 7;
    assert_true(fabs(gx_mean_entropy(u, GX_DTYPE_F32, 7, 7) - log(7.0)) < 1e-6);
}

/* The kept matrix: batch row 0 of a [T, B, S] tap, uncut; then a 300 x 300 one cut to 128
 * at most: every 3rd row, columns summed in blocks of 3, rows still summing to 1. */
static void test_stats_dist_cut(void **state) {
    (void)state;
    enum { T = 3, B = 2, S = 4 };
    double x[T * B * S], out[T * S];
    for (int i = 0; i < T * B * S; i++) x[i] = i;
    gx_dist_cut c;
    gx_dist_cut_init(&c, T, S, B * S, 128, 128);
    assert_int_equal(c.rows, T);
    assert_int_equal(c.cols, S);
    assert_int_equal(c.row_stride, 1);
    assert_int_equal(c.col_stride, 1);
    gx_dist_cut_apply(&c, x, GX_DTYPE_F64, out);
    for (int t = 0; t < T; t++)
        for (int s = 0; s < S; s++) assert_true(out[t * S + s] == x[t * B * S + s]);   /* b = 0 */

    enum { N = 300 };
    float *big = malloc(sizeof(float) * N * N);
    for (int r = 0; r < N; r++)
        for (int k = 0; k < N; k++) big[r * N + k] = k == (r * 7) % N ? 0.7f : 0.3f / (N - 1);
    gx_dist_cut_init(&c, N, N, N, 128, 128);
    assert_int_equal(c.row_stride, 3);   /* ceil(300 / 128) */
    assert_int_equal(c.col_stride, 3);
    assert_int_equal(c.rows, 100);
    assert_int_equal(c.cols, 100);
    double *m = malloc(sizeof(double) * (size_t)c.rows * (size_t)c.cols);
    gx_dist_cut_apply(&c, big, GX_DTYPE_F32, m);
    for (int r = 0; r < c.rows; r++) {
        double sum = 0;
        for (int k = 0; k < c.cols; k++) sum += m[r * c.cols + k];
        assert_true(fabs(sum - 1) < 1e-5);
        /* kept row r is step 3r; its peak at (21 r) mod 300 lands in block (21 r mod 300) / 3 */
        int peak = (r * 3 * 7) % N / 3;
        assert_true(m[r * c.cols + peak] > 0.7);
    }
    /* a width that is not a multiple of the block: the last block is short */
    gx_dist_cut_init(&c, 1, 130, 130, 128, 128);
    assert_int_equal(c.col_stride, 2);
    assert_int_equal(c.cols, 65);
    gx_dist_cut_init(&c, 1, 129, 129, 128, 128);
    assert_int_equal(c.cols, 65);   /* 64 pairs and a last single position */
    gx_dist_cut_apply(&c, big, GX_DTYPE_F32, m);
    assert_true(fabs(m[64] - big[128]) < 1e-9);
    free(m);
    free(big);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_summary),
        cmocka_unit_test(test_spectral),
        cmocka_unit_test(test_stats_dist_no_saturation),
        cmocka_unit_test(test_stats_mean_entropy),
        cmocka_unit_test(test_stats_dist_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
