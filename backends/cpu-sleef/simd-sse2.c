/*
 * simd-sse2.c: the SSE2 instance of simd-template.h (4 lanes, SLEEF's f4 functions, which
 * dispatch at run time among their SSE2/SSE4/AVX2 builds). Built for the x86-64 baseline, so it
 * runs on any x86-64: the fallback when neither AVX-512 nor AVX2 is there.
 */
#include <emmintrin.h>
#include <sleef.h>
#include <string.h>

#define VN 4
typedef __m128 vf;

static inline vf csl_load_n(const float *p, long long n) {
    float t[4] = {0};
    memcpy(t, p, (size_t)n * sizeof(float));
    return _mm_loadu_ps(t);
}

static inline void csl_store_n(float *p, vf v, long long n) {
    float t[4];
    _mm_storeu_ps(t, v);
    memcpy(p, t, (size_t)n * sizeof(float));
}

#define v_load(p)      _mm_loadu_ps(p)
#define v_store(p, v)  _mm_storeu_ps((p), (v))
#define v_load_n       csl_load_n
#define v_store_n      csl_store_n
#define v_set1(x)      _mm_set1_ps(x)
#define v_add          _mm_add_ps
#define v_sub          _mm_sub_ps
#define v_mul          _mm_mul_ps
#define v_fma(a, b, c) _mm_add_ps(_mm_mul_ps((a), (b)), (c))   // no FMA in SSE2: two roundings
#define v_div          _mm_div_ps
#define v_max          _mm_max_ps
#define v_where_pos(p, g) _mm_and_ps(_mm_cmpgt_ps((p), _mm_setzero_ps()), (g))
#define v_tanh         Sleef_tanhf4_u10
#define v_exp          Sleef_expf4_u10
#define v_log          Sleef_logf4_u10

#define CSL_SIMD_TABLE csl_simd_sse2
#define CSL_SIMD_NAME  "SSE2"

#include "simd-template.h"
