/*
 * simd-avx512.c: the AVX-512 instance of simd-template.h (16 lanes, SLEEF's f16 functions).
 * Built with -mavx512f -mfma (backends/CMakeLists.txt); its code only runs when backend.c saw
 * __builtin_cpu_supports("avx512f"). Partial vectors use masked loads and stores.
 */
#include <immintrin.h>
#include <sleef.h>

#define VN 16
typedef __m512 vf;

#define v_load(p)      _mm512_loadu_ps(p)
#define v_store(p, v)  _mm512_storeu_ps((p), (v))
#define v_load_n(p, n) _mm512_maskz_loadu_ps((__mmask16)((1u << (n)) - 1u), (p))
#define v_store_n(p, v, n) _mm512_mask_storeu_ps((p), (__mmask16)((1u << (n)) - 1u), (v))
#define v_set1(x)      _mm512_set1_ps(x)
#define v_add          _mm512_add_ps
#define v_sub          _mm512_sub_ps
#define v_mul          _mm512_mul_ps
#define v_fma          _mm512_fmadd_ps   // a * b + c, fused (gemm_nn_cols only)
#define v_div          _mm512_div_ps
#define v_max          _mm512_max_ps
#define v_where_pos(p, g) \
    _mm512_maskz_mov_ps(_mm512_cmp_ps_mask((p), _mm512_setzero_ps(), _CMP_GT_OQ), (g))
#define v_tanh         Sleef_tanhf16_u10
#define v_exp          Sleef_expf16_u10
#define v_log          Sleef_logf16_u10

#define CSL_SIMD_TABLE csl_simd_avx512
#define CSL_SIMD_NAME  "AVX-512"

#include "simd-template.h"
