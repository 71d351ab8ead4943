/*
 * simd-avx2.c: the AVX2 instance of simd-template.h (8 lanes, SLEEF's f8 functions, which
 * dispatch at run time among their AVX2/FMA4/AVX builds). Built with -mavx2 -mfma
 * (backends/CMakeLists.txt); its code only runs when backend.c saw AVX2 and FMA. Partial
 * vectors go through a zero-padded stack copy.
 */
#include <immintrin.h>
#include <sleef.h>
#include <string.h>

#define VN 8
typedef __m256 vf;

static inline vf csl_load_n(const float *p, long long n) {
    float t[8] = {0};
    memcpy(t, p, (size_t)n * sizeof(float));
    return _mm256_loadu_ps(t);
}

static inline void csl_store_n(float *p, vf v, long long n) {
    float t[8];
    _mm256_storeu_ps(t, v);
    memcpy(p, t, (size_t)n * sizeof(float));
}

#define v_load(p)      _mm256_loadu_ps(p)
#define v_store(p, v)  _mm256_storeu_ps((p), (v))
#define v_load_n       csl_load_n
#define v_store_n      csl_store_n
#define v_set1(x)      _mm256_set1_ps(x)
#define v_add          _mm256_add_ps
#define v_sub          _mm256_sub_ps
#define v_mul          _mm256_mul_ps
#define v_fma          _mm256_fmadd_ps   // a * b + c, fused (gemm_nn_cols only)
#define v_div          _mm256_div_ps
#define v_max          _mm256_max_ps
#define v_where_pos(p, g) \
    _mm256_and_ps(_mm256_cmp_ps((p), _mm256_setzero_ps(), _CMP_GT_OQ), (g))
#define v_tanh         Sleef_tanhf8_u10
#define v_exp          Sleef_expf8_u10
#define v_log          Sleef_logf8_u10

#define CSL_SIMD_TABLE csl_simd_avx2
#define CSL_SIMD_NAME  "AVX2"

#include "simd-template.h"
