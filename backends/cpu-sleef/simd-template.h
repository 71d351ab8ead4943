/*
 * simd-template.h: the vector code of cpu-sleef, written once over a small vector vocabulary and
 * compiled once per instruction set by simd-avx512.c, simd-avx2.c and simd-sse2.c. Each of them
 * defines, before including this file:
 *
 *   VN                  lanes per vector (16, 8, 4)
 *   vf                  the vector type (__m512, __m256, __m128)
 *   v_load(p), v_store(p, v), v_load_n(p, n), v_store_n(p, v, n)   (unaligned; _n: first n lanes,
 *                       the other lanes read as 0 and are not written)
 *   v_set1(x), v_add, v_sub, v_mul, v_div, v_max(a, b) (a > b ? a : b: NaN in a gives b)
 *   v_where_pos(p, g)   g where p > 0, else 0 (NaN in p gives 0)
 *   v_tanh, v_exp, v_log  the SLEEF functions (1.0 ULP versions)
 *   CSL_SIMD_TABLE      the name of the csl_simd table to define
 *   CSL_SIMD_NAME       its name string
 *
 *   v_fma(a, b, c)      a * b + c: fused on AVX-512 and AVX2, a multiply then an add on SSE2
 *
 * Everything here is static except the table, so the three copies never meet at link time.
 * Arithmetic is plain multiply and add (no FMA contraction; the build is ISO C11, so GCC does
 * not fuse on its own): the three tables then differ only in SLEEF's own last bits. The one
 * exception is gemm_nn_cols, which uses v_fma on purpose (speed: one instruction per
 * multiply-add): its f32 results therefore differ between the ISAs in the last bits (each ISA
 * is still deterministic, and the same for any column split).
 */
#include <string.h>

#include "cpu-sleef.h"

// ---- loads and stores of a possibly partial vector ---------------------------------------------

// m lanes from p: a full vector when m == VN, else the first m lanes and zeros
static inline vf ld(const float *p, int64_t m) {
    return m == VN ? v_load(p) : v_load_n(p, m);
}

static inline void st(float *p, vf v, int64_t m) {
    if (m == VN) v_store(p, v);
    else v_store_n(p, v, m);
}

// a bias block, or zeros when the cell has no biases
static inline vf ld_bias(const float *b, int64_t m) {
    return b != NULL ? ld(b, m) : v_set1(0.0f);
}

static inline int64_t lanes(int64_t j, int64_t n) {
    return n - j < VN ? n - j : VN;
}

// ---- activations -------------------------------------------------------------------------------

// 1 / (1 + exp(-x)): exp(-x) overflows to inf for x < -88 and the quotient is then 0, the limit;
// no branch is needed in floats (the NaN of inf/inf cannot occur: the numerator is 1)
static inline vf v_sigmoid(vf x) {
    vf one = v_set1(1.0f);
    return v_div(one, v_add(one, v_exp(v_sub(v_set1(0.0f), x))));
}

// relu as cpu-scalar defines it: x > 0 ? x : 0 (NaN gives 0)
static inline vf v_relu(vf x) {
    return v_max(x, v_set1(0.0f));
}

// ---- element-wise maps -------------------------------------------------------------------------

#define CSL_MAP(fn, expr)                                             \
    static void fn(float *y, const float *x, int64_t n) {             \
        for (int64_t j = 0; j < n; j += VN) {                         \
            int64_t m = lanes(j, n);                                  \
            vf v = ld(x + j, m);                                      \
            st(y + j, (expr), m);                                     \
        }                                                             \
    }

CSL_MAP(map_tanh, v_tanh(v))
CSL_MAP(map_sigmoid, v_sigmoid(v))
CSL_MAP(map_exp, v_exp(v))
CSL_MAP(map_log, v_log(v))

// sum_i exp(x[i] - shift) in double (VN partial sums, added in a fixed order at the end)
static double exp_shift_sum(float *y, const float *x, float shift, int64_t n) {
    double acc[VN];
    float e[VN];
    for (int k = 0; k < VN; k++) acc[k] = 0.0;
    vf s = v_set1(shift);
    for (int64_t j = 0; j < n; j += VN) {
        int64_t m = lanes(j, n);
        vf v = v_exp(v_sub(ld(x + j, m), s));
        if (y != NULL) st(y + j, v, m);
        v_store(e, v);
        for (int64_t k = 0; k < m; k++) acc[k] += e[k];
    }
    double sum = 0.0;
    for (int k = 0; k < VN; k++) sum += acc[k];
    return sum;
}

// ---- rnn_cell ----------------------------------------------------------------------------------

static void rnn_fwd_row(float *y, const float *pre, const float *b_ih, const float *b_hh,
                        int64_t H, int relu) {
    for (int64_t j = 0; j < H; j += VN) {
        int64_t m = lanes(j, H);
        vf p = v_add(v_add(ld(pre + j, m), ld_bias(b_ih ? b_ih + j : NULL, m)),
                     ld_bias(b_hh ? b_hh + j : NULL, m));
        st(y + j, relu ? v_relu(p) : v_tanh(p), m);
    }
}

// tanh: dpre = dy (1 - t^2); relu: dpre = dy where pre > 0, else 0
static void rnn_bwd_row(float *pre, const float *b_ih, const float *b_hh, const float *dy,
                        int64_t H, int relu) {
    vf one = v_set1(1.0f);
    for (int64_t j = 0; j < H; j += VN) {
        int64_t m = lanes(j, H);
        vf p = v_add(v_add(ld(pre + j, m), ld_bias(b_ih ? b_ih + j : NULL, m)),
                     ld_bias(b_hh ? b_hh + j : NULL, m));
        vf g = ld(dy + j, m), d;
        if (relu) {
            d = v_where_pos(p, g);
        } else {
            vf t = v_tanh(p);
            d = v_mul(g, v_sub(one, v_mul(t, t)));
        }
        st(pre + j, d, m);
    }
}

// ---- lstm_cell ---------------------------------------------------------------------------------

// the pre-activation of gate block k (of 4) for lanes j..j+m: g + b_ih + b_hh
static inline vf lstm_pre(const float *g, const float *b_ih, const float *b_hh, int64_t k,
                          int64_t H, int64_t j, int64_t m) {
    int64_t o = k * H + j;
    return v_add(v_add(ld(g + o, m), ld_bias(b_ih ? b_ih + o : NULL, m)),
                 ld_bias(b_hh ? b_hh + o : NULL, m));
}

// i f g o = sigmoid, sigmoid, tanh, sigmoid of their blocks; c' = f c + i g, h' = o tanh(c')
static void lstm_fwd_row(const float *g, const float *b_ih, const float *b_hh, const float *c,
                         float *h_out, float *c_out, int64_t H) {
    for (int64_t j = 0; j < H; j += VN) {
        int64_t m = lanes(j, H);
        vf ig = v_sigmoid(lstm_pre(g, b_ih, b_hh, 0, H, j, m));
        vf fg = v_sigmoid(lstm_pre(g, b_ih, b_hh, 1, H, j, m));
        vf gg = v_tanh(lstm_pre(g, b_ih, b_hh, 2, H, j, m));
        vf og = v_sigmoid(lstm_pre(g, b_ih, b_hh, 3, H, j, m));
        vf cn = v_add(v_mul(fg, ld(c + j, m)), v_mul(ig, gg));
        st(c_out + j, cn, m);
        st(h_out + j, v_mul(og, v_tanh(cn)), m);
    }
}

// With t = tanh(c'): dc_total = dc' + dh' o (1 - t^2), dc = dc_total f,
// da_i = dc_total g i (1 - i), da_f = dc_total c f (1 - f), da_g = dc_total i (1 - g^2),
// da_o = dh' t o (1 - o); the four da blocks replace the pre-activations in g.
static void lstm_bwd_row(float *g, const float *b_ih, const float *b_hh, const float *c,
                         const float *dh_next, const float *dc_next, float *dc, int64_t H) {
    vf one = v_set1(1.0f);
    for (int64_t j = 0; j < H; j += VN) {
        int64_t m = lanes(j, H);
        vf ig = v_sigmoid(lstm_pre(g, b_ih, b_hh, 0, H, j, m));
        vf fg = v_sigmoid(lstm_pre(g, b_ih, b_hh, 1, H, j, m));
        vf gg = v_tanh(lstm_pre(g, b_ih, b_hh, 2, H, j, m));
        vf og = v_sigmoid(lstm_pre(g, b_ih, b_hh, 3, H, j, m));
        vf cv = ld(c + j, m);
        vf t = v_tanh(v_add(v_mul(fg, cv), v_mul(ig, gg)));
        vf gh = ld(dh_next + j, m);
        vf dct = v_add(ld(dc_next + j, m), v_mul(v_mul(gh, og), v_sub(one, v_mul(t, t))));
        st(dc + j, v_mul(dct, fg), m);
        st(g + j, v_mul(v_mul(dct, gg), v_mul(ig, v_sub(one, ig))), m);
        st(g + H + j, v_mul(v_mul(dct, cv), v_mul(fg, v_sub(one, fg))), m);
        st(g + 2 * H + j, v_mul(v_mul(dct, ig), v_sub(one, v_mul(gg, gg))), m);
        st(g + 3 * H + j, v_mul(v_mul(gh, t), v_mul(og, v_sub(one, og))), m);
    }
}

// ---- gru_cell ----------------------------------------------------------------------------------

// the gates of lanes j..j+m: r, z, n and gh_n = (h W_hh^T)_n + b_hh_n
static inline void gru_gates(const float *gi, const float *gh, const float *b_ih,
                             const float *b_hh, int64_t H, int64_t j, int64_t m, vf *r, vf *z,
                             vf *n, vf *ghn) {
    vf ri = v_add(ld(gi + j, m), ld_bias(b_ih ? b_ih + j : NULL, m));
    vf rh = v_add(ld(gh + j, m), ld_bias(b_hh ? b_hh + j : NULL, m));
    vf zi = v_add(ld(gi + H + j, m), ld_bias(b_ih ? b_ih + H + j : NULL, m));
    vf zh = v_add(ld(gh + H + j, m), ld_bias(b_hh ? b_hh + H + j : NULL, m));
    vf ni = v_add(ld(gi + 2 * H + j, m), ld_bias(b_ih ? b_ih + 2 * H + j : NULL, m));
    *ghn = v_add(ld(gh + 2 * H + j, m), ld_bias(b_hh ? b_hh + 2 * H + j : NULL, m));
    *r = v_sigmoid(v_add(ri, rh));
    *z = v_sigmoid(v_add(zi, zh));
    *n = v_tanh(v_add(ni, v_mul(*r, *ghn)));
}

// h' = (1 - z) n + z h
static void gru_fwd_row(const float *gi, const float *gh, const float *b_ih, const float *b_hh,
                        const float *h, float *y, int64_t H) {
    vf one = v_set1(1.0f);
    for (int64_t j = 0; j < H; j += VN) {
        int64_t m = lanes(j, H);
        vf r, z, n, ghn;
        gru_gates(gi, gh, b_ih, b_hh, H, j, m, &r, &z, &n, &ghn);
        st(y + j, v_add(v_mul(v_sub(one, z), n), v_mul(z, ld(h + j, m))), m);
    }
}

// da_n = dy (1 - z) (1 - n^2), da_r = da_n gh_n r (1 - r), da_z = dy (h - n) z (1 - z);
// dgi = [da_r, da_z, da_n], dgh = [da_r, da_z, da_n r], dh_direct = dy z
static void gru_bwd_row(float *gi, float *gh, const float *b_ih, const float *b_hh,
                        const float *h, const float *dy, float *dh_direct, int64_t H) {
    vf one = v_set1(1.0f);
    for (int64_t j = 0; j < H; j += VN) {
        int64_t m = lanes(j, H);
        vf r, z, n, ghn;
        gru_gates(gi, gh, b_ih, b_hh, H, j, m, &r, &z, &n, &ghn);
        vf g = ld(dy + j, m), hv = ld(h + j, m);
        vf da_n = v_mul(v_mul(g, v_sub(one, z)), v_sub(one, v_mul(n, n)));
        vf da_r = v_mul(v_mul(da_n, ghn), v_mul(r, v_sub(one, r)));
        vf da_z = v_mul(v_mul(g, v_sub(hv, n)), v_mul(z, v_sub(one, z)));
        st(gi + j, da_r, m);
        st(gh + j, da_r, m);
        st(gi + H + j, da_z, m);
        st(gh + H + j, da_z, m);
        st(gi + 2 * H + j, da_n, m);
        st(gh + 2 * H + j, v_mul(da_n, r), m);
        st(dh_direct + j, v_mul(g, z), m);
    }
}

// ---- the step ops (ops/rnn/step.c) -------------------------------------------------------------

// tanh: dg = dy (1 - y^2); relu: dg = dy where y > 0 (exactly where pre > 0), else 0
static void rnn_step_bwd(float *dg, const float *dy, const float *y, int64_t n, int relu) {
    vf one = v_set1(1.0f);
    for (int64_t j = 0; j < n; j += VN) {
        int64_t m = lanes(j, n);
        vf g = ld(dy + j, m), t = ld(y + j, m);
        st(dg + j, relu ? v_where_pos(t, g) : v_mul(g, v_sub(one, v_mul(t, t))), m);
    }
}

// pre = act (h W_hh^T) + gi + b_hh, block by block; act = (σ(i), σ(f), tanh(g), σ(o));
// c' = f c + i g, h' = o tanh(c')
static void lstm_step_fwd_row(float *act, const float *gi, const float *b_hh, const float *c,
                              float *h_out, float *c_out, int64_t H) {
    for (int64_t j = 0; j < H; j += VN) {
        int64_t m = lanes(j, H);
        vf ig = v_sigmoid(lstm_pre(act, gi, b_hh, 0, H, j, m));
        vf fg = v_sigmoid(lstm_pre(act, gi, b_hh, 1, H, j, m));
        vf gg = v_tanh(lstm_pre(act, gi, b_hh, 2, H, j, m));
        vf og = v_sigmoid(lstm_pre(act, gi, b_hh, 3, H, j, m));
        st(act + j, ig, m);
        st(act + H + j, fg, m);
        st(act + 2 * H + j, gg, m);
        st(act + 3 * H + j, og, m);
        vf cn = v_add(v_mul(fg, ld(c + j, m)), v_mul(ig, gg));
        st(c_out + j, cn, m);
        st(h_out + j, v_mul(og, v_tanh(cn)), m);
    }
}

// With t = tanh(c'): dct = dc' + dh' o (1 - t^2), dc = dct f; the gradients of the activated
// gates di = dct g, df = dct c, dg = dct i, do = dh' t, plus dact's blocks, times the
// derivatives of σ and tanh written with their outputs
static void lstm_step_bwd_row(float *dg, float *dc, const float *act, const float *c,
                              const float *c_new, const float *dh, const float *dc_next,
                              const float *dact, int64_t H) {
    vf one = v_set1(1.0f);
    for (int64_t j = 0; j < H; j += VN) {
        int64_t m = lanes(j, H);
        vf ig = ld(act + j, m), fg = ld(act + H + j, m);
        vf gg = ld(act + 2 * H + j, m), og = ld(act + 3 * H + j, m);
        vf t = v_tanh(ld(c_new + j, m)), gh = ld(dh + j, m);
        vf dct = v_add(ld(dc_next + j, m), v_mul(v_mul(gh, og), v_sub(one, v_mul(t, t))));
        vf di = v_mul(dct, gg), df = v_mul(dct, ld(c + j, m));
        vf dgg = v_mul(dct, ig), dout = v_mul(gh, t);
        if (dact != NULL) {
            di = v_add(di, ld(dact + j, m));
            df = v_add(df, ld(dact + H + j, m));
            dgg = v_add(dgg, ld(dact + 2 * H + j, m));
            dout = v_add(dout, ld(dact + 3 * H + j, m));
        }
        st(dc + j, v_mul(dct, fg), m);
        st(dg + j, v_mul(di, v_mul(ig, v_sub(one, ig))), m);
        st(dg + H + j, v_mul(df, v_mul(fg, v_sub(one, fg))), m);
        st(dg + 2 * H + j, v_mul(dgg, v_sub(one, v_mul(gg, gg))), m);
        st(dg + 3 * H + j, v_mul(dout, v_mul(og, v_sub(one, og))), m);
    }
}

// gh = act's first 3H (h W_hh^T) + b_hh; r = σ(gi_r + gh_r), z = σ(gi_z + gh_z),
// n = tanh(gi_n + r gh_n), h' = (1 - z) n + z h; act = (r, z, n, gh_n). Lanes j..j+m read
// act[k H + j] (k < 3) before writing the same places and act[3H + j], which no later lane reads.
static void gru_step_fwd_row(float *act, const float *gi, const float *b_hh, const float *h,
                             float *y, int64_t H) {
    vf one = v_set1(1.0f);
    for (int64_t j = 0; j < H; j += VN) {
        int64_t m = lanes(j, H);
        vf ghr = v_add(ld(act + j, m), ld_bias(b_hh ? b_hh + j : NULL, m));
        vf ghz = v_add(ld(act + H + j, m), ld_bias(b_hh ? b_hh + H + j : NULL, m));
        vf ghn = v_add(ld(act + 2 * H + j, m), ld_bias(b_hh ? b_hh + 2 * H + j : NULL, m));
        vf r = v_sigmoid(v_add(ld(gi + j, m), ghr));
        vf z = v_sigmoid(v_add(ld(gi + H + j, m), ghz));
        vf n = v_tanh(v_add(ld(gi + 2 * H + j, m), v_mul(r, ghn)));
        st(act + j, r, m);
        st(act + H + j, z, m);
        st(act + 2 * H + j, n, m);
        st(act + 3 * H + j, ghn, m);
        st(y + j, v_add(v_mul(v_sub(one, z), n), v_mul(z, ld(h + j, m))), m);
    }
}

// dn = dy (1 - z) + dact_n, dz = dy (h - n) + dact_z, dpn = dn (1 - n^2),
// dpr = (dpn gh_n + dact_r) r (1 - r), dpz = dz z (1 - z);
// dgi = (dpr, dpz, dpn), dgh = (dpr, dpz, dpn r + dact_ghn), dh_direct = dy z
static void gru_step_bwd_row(float *dgi, float *dgh, float *dh_direct, const float *act,
                             const float *h, const float *dy, const float *dact, int64_t H) {
    vf one = v_set1(1.0f);
    for (int64_t j = 0; j < H; j += VN) {
        int64_t m = lanes(j, H);
        vf r = ld(act + j, m), z = ld(act + H + j, m);
        vf n = ld(act + 2 * H + j, m), ghn = ld(act + 3 * H + j, m);
        vf g = ld(dy + j, m);
        vf dn = v_mul(g, v_sub(one, z)), dz = v_mul(g, v_sub(ld(h + j, m), n));
        vf dr_extra = v_set1(0.0f), dghn_extra = dr_extra;
        if (dact != NULL) {
            dr_extra = ld(dact + j, m);
            dz = v_add(dz, ld(dact + H + j, m));
            dn = v_add(dn, ld(dact + 2 * H + j, m));
            dghn_extra = ld(dact + 3 * H + j, m);
        }
        vf dpn = v_mul(dn, v_sub(one, v_mul(n, n)));
        vf dpr = v_mul(v_add(v_mul(dpn, ghn), dr_extra), v_mul(r, v_sub(one, r)));
        vf dpz = v_mul(dz, v_mul(z, v_sub(one, z)));
        st(dgi + j, dpr, m);
        st(dgh + j, dpr, m);
        st(dgi + H + j, dpz, m);
        st(dgh + H + j, dpz, m);
        st(dgi + 2 * H + j, dpn, m);
        st(dgh + 2 * H + j, v_add(v_mul(dpn, r), dghn_extra), m);
        st(dh_direct + j, v_mul(g, z), m);
    }
}

// ---- small matrix products ---------------------------------------------------------------------

// one row block of C (rows r0..r0+R, R <= 4) for op(B) = B: R accumulators per VN columns, A read
// as scalars (a(r, k) = A[r][k], or A[k][r] when ta), B rows as vectors
static inline void gemm_rows(int ta, int64_t R, int64_t r0, int64_t N, int64_t K, float alpha,
                             const float *A, int64_t lda, const float *B, int64_t ldb,
                             float beta, float *C, int64_t ldc) {
    for (int64_t j = 0; j < N; j += VN) {
        int64_t m = lanes(j, N);
        vf acc0 = v_set1(0.0f), acc1 = acc0, acc2 = acc0, acc3 = acc0;
        for (int64_t k = 0; k < K; k++) {
            vf b = ld(B + k * ldb + j, m);
            const float *a = ta ? A + k * lda + r0 : A + r0 * lda + k;
            int64_t step = ta ? 1 : lda;   // from a(r, k) to a(r + 1, k)
            acc0 = v_add(acc0, v_mul(v_set1(a[0]), b));
            if (R > 1) acc1 = v_add(acc1, v_mul(v_set1(a[step]), b));
            if (R > 2) acc2 = v_add(acc2, v_mul(v_set1(a[2 * step]), b));
            if (R > 3) acc3 = v_add(acc3, v_mul(v_set1(a[3 * step]), b));
        }
        vf accs[4] = {acc0, acc1, acc2, acc3};
        for (int64_t r = 0; r < R; r++) {
            float *c = C + (r0 + r) * ldc + j;
            vf out = v_mul(v_set1(alpha), accs[r]);
            if (beta != 0.0f) out = v_add(out, v_mul(v_set1(beta), ld(c, m)));
            st(c, out, m);
        }
    }
}

// C = alpha op(A) op(B) + beta C, row-major, for products small enough that OpenBLAS would take
// its small-matrix path (which allocates on some CPUs): register-blocked rows for op(B) = B,
// vector dot products for op(B) = B^T. beta = 0 ignores C's old contents (NaN included).
static void gemm_small(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha,
                       const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                       float *C, int64_t ldc) {
    if (!tb) {
        int64_t i = 0;
        for (; i + 4 <= M; i += 4) gemm_rows(ta, 4, i, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        if (i < M) gemm_rows(ta, M - i, i, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            float sum;
            if (!ta) {   // dot of row i of A and row j of B, VN partial sums
                vf acc = v_set1(0.0f);
                for (int64_t k = 0; k < K; k += VN) {
                    int64_t m = lanes(k, K);
                    acc = v_add(acc, v_mul(ld(A + i * lda + k, m), ld(B + j * ldb + k, m)));
                }
                float part[VN];
                v_store(part, acc);
                sum = 0.0f;
                for (int l = 0; l < VN; l++) sum += part[l];
            } else {     // both transposed: never used by the kernels, kept simple
                sum = 0.0f;
                for (int64_t k = 0; k < K; k++) sum += A[k * lda + i] * B[j * ldb + k];
            }
            float *c = C + i * ldc + j;
            *c = beta != 0.0f ? alpha * sum + beta * *c : alpha * sum;
        }
}

// ---- register-blocked product with B read in place -----------------------------------------------

/* gemm_nn_cols: C[:, N0:N1] = A B[:, N0:N1] + beta C[:, N0:N1], row-major, no packing (B is read
 * where it lies, row by row). Micro-tiles of GEMM_MR rows x GEMM_NR = 2 VN columns live in 12
 * vector accumulators; per k: two B vectors, GEMM_MR broadcasts of A, 2 GEMM_MR v_fma.
 * Loop order: k block (GEMM_KC rows of B: a stripe whose pages stay in the TLB) > column panel
 * (GEMM_NR) > row block (GEMM_MR; each walks the same KC x NR slice of B) > k.
 * Each element of C is one chain, the same whichever path (full or masked panel, full or short
 * row block, any k block) computes it: acc = beta != 0 ? beta * C_old : 0, then
 * acc = fma(A[i][k], B[k][j], acc) for k = 0, 1, ..., K-1 in order (a k block stores acc in C and
 * the next one reloads it, which changes no bit). */
#ifndef GEMM_MR
#if VN == 16
#define GEMM_MR 12   // AVX-512: 24 accumulators of the 32 zmm (half the B traffic of 6 rows)
#else
#define GEMM_MR 6    // AVX2, SSE2: 12 accumulators of the 16 registers
#endif
#endif
#define GEMM_NR (2 * VN)
#ifndef GEMM_KC
#define GEMM_KC 256
#endif

// one tile: mr rows (a constant after inlining) x n columns (full: n == GEMM_NR), k in [k0, k1)
static inline __attribute__((always_inline)) void
gemm_tile(const int mr, const int full, int64_t n, int64_t k0, int64_t k1, int first,
          const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
          int64_t ldc) {
    const int64_t n0 = full ? VN : (n < VN ? n : VN), n1 = full ? VN : n - n0;
    vf c0[GEMM_MR], c1[GEMM_MR];
    const vf zero = v_set1(0.0f);
#pragma GCC unroll 16
    for (int i = 0; i < mr; i++) {
        float *c = C + i * ldc;
        if (!first) {
            c0[i] = full ? v_load(c) : ld(c, n0);
            c1[i] = full ? v_load(c + VN) : n1 > 0 ? ld(c + VN, n1) : zero;
        } else if (beta != 0.0f) {
            vf bv = v_set1(beta);
            c0[i] = v_mul(bv, full ? v_load(c) : ld(c, n0));
            c1[i] = v_mul(bv, full ? v_load(c + VN) : n1 > 0 ? ld(c + VN, n1) : zero);
        } else {
            c0[i] = zero;
            c1[i] = zero;
        }
    }
    const float *a = A + k0;
    const float *b = B + k0 * ldb;
    for (int64_t k = k0; k < k1; k++, a++, b += ldb) {
        vf b0 = full ? v_load(b) : ld(b, n0);
        vf b1 = full ? v_load(b + VN) : n1 > 0 ? ld(b + VN, n1) : zero;
#pragma GCC unroll 16
        for (int i = 0; i < mr; i++) {
            vf ai = v_set1(a[i * lda]);
            c0[i] = v_fma(ai, b0, c0[i]);
            c1[i] = v_fma(ai, b1, c1[i]);
        }
    }
#pragma GCC unroll 16
    for (int i = 0; i < mr; i++) {
        float *c = C + i * ldc;
        if (full) {
            v_store(c, c0[i]);
            v_store(c + VN, c1[i]);
        } else {
            st(c, c0[i], n0);
            if (n1 > 0) st(c + VN, c1[i], n1);
        }
    }
}

#define GEMM_TILE_FN(mr, full)                                                                  \
    static void gemm_tile_##mr##_##full(int64_t n, int64_t k0, int64_t k1, int first,          \
                                        const float *A, int64_t lda, const float *B,           \
                                        int64_t ldb, float beta, float *C, int64_t ldc) {      \
        gemm_tile(mr, full, n, k0, k1, first, A, lda, B, ldb, beta, C, ldc);                   \
    }
#define GEMM_TILE_FNS(mr) GEMM_TILE_FN(mr, 0) GEMM_TILE_FN(mr, 1)
GEMM_TILE_FNS(1)
GEMM_TILE_FNS(2)
GEMM_TILE_FNS(3)
GEMM_TILE_FNS(4)
GEMM_TILE_FNS(5)
GEMM_TILE_FNS(6)
#if GEMM_MR > 6
GEMM_TILE_FNS(7)
GEMM_TILE_FNS(8)
GEMM_TILE_FNS(9)
GEMM_TILE_FNS(10)
GEMM_TILE_FNS(11)
GEMM_TILE_FNS(12)
#endif

typedef void (*gemm_tile_fn)(int64_t, int64_t, int64_t, int, const float *, int64_t,
                             const float *, int64_t, float, float *, int64_t);
#define GEMM_TILE_ROW(mr) {gemm_tile_##mr##_0, gemm_tile_##mr##_1}
static const gemm_tile_fn gemm_tiles[GEMM_MR + 1][2] = {
    {NULL, NULL}, GEMM_TILE_ROW(1), GEMM_TILE_ROW(2), GEMM_TILE_ROW(3), GEMM_TILE_ROW(4),
    GEMM_TILE_ROW(5), GEMM_TILE_ROW(6),
#if GEMM_MR > 6
    GEMM_TILE_ROW(7), GEMM_TILE_ROW(8), GEMM_TILE_ROW(9), GEMM_TILE_ROW(10), GEMM_TILE_ROW(11),
    GEMM_TILE_ROW(12),
#endif
};

static void gemm_nn_cols(int64_t M, int64_t N0, int64_t N1, int64_t K, const float *A,
                         int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                         int64_t ldc) {
    int64_t k0 = 0;
    do {   // at least once, so that K == 0 still gives C = beta C
        int64_t k1 = K - k0 > GEMM_KC ? k0 + GEMM_KC : K;
        for (int64_t j = N0; j < N1; j += GEMM_NR) {
            int64_t n = N1 - j < GEMM_NR ? N1 - j : GEMM_NR;
            int full = n == GEMM_NR;
            for (int64_t i = 0; i < M; i += GEMM_MR) {
                int64_t mr = M - i < GEMM_MR ? M - i : GEMM_MR;
                gemm_tiles[mr][full](n, k0, k1, k0 == 0, A + i * lda, lda, B + j, ldb, beta,
                                     C + i * ldc + j, ldc);
            }
        }
        k0 = k1;
    } while (k0 < K);
}

const csl_simd CSL_SIMD_TABLE = {
    .name          = CSL_SIMD_NAME,
    .tanh          = map_tanh,
    .sigmoid       = map_sigmoid,
    .exp           = map_exp,
    .log           = map_log,
    .exp_shift_sum = exp_shift_sum,
    .rnn_fwd_row   = rnn_fwd_row,
    .rnn_bwd_row   = rnn_bwd_row,
    .lstm_fwd_row  = lstm_fwd_row,
    .lstm_bwd_row  = lstm_bwd_row,
    .gru_fwd_row   = gru_fwd_row,
    .gru_bwd_row   = gru_bwd_row,
    .gemm_small    = gemm_small,
    .rnn_step_bwd      = rnn_step_bwd,
    .lstm_step_fwd_row = lstm_step_fwd_row,
    .lstm_step_bwd_row = lstm_step_bwd_row,
    .gru_step_fwd_row  = gru_step_fwd_row,
    .gru_step_bwd_row  = gru_step_bwd_row,
    .gemm_nn_cols      = gemm_nn_cols,
};
