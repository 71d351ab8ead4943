/*
 * init.c: xoshiro256** streams and the torch.nn.init schemes (see init.h). Values are drawn in
 * double and rounded once to the param's dtype.
 */
#include "init.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void gx_rng_seed(gx_rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

uint64_t gx_rng_next(gx_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double gx_rng_uniform(gx_rng *r) { return (double)(gx_rng_next(r) >> 11) * 0x1.0p-53; }

double gx_rng_normal(gx_rng *r) {
    double u1 = gx_rng_uniform(r), u2 = gx_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300; /* log(0) */
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925 * u2) /* 2 pi */;
}

uint64_t gx_hash_str(uint64_t h, const char *s) {
    h ^= 0xcbf29ce484222325ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

const char *gx_init_name(gx_init_scheme s) {
    static const char *const names[] = {"zeros",  "ones",          "constant", "normal",
                                        "uniform", "xavier",       "xavier_normal", "kaiming",
                                        "kaiming_normal", "orthogonal", "lstm_bias"};
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "?";
}

static void fans(const gx_shape *s, double *fan_in, double *fan_out) {
    if (s->ndim == 0) {
        *fan_in = *fan_out = 1;
    } else if (s->ndim == 1) {
        *fan_in = *fan_out = (double)s->dims[0];
    } else {
        double receptive = 1;
        for (int i = 0; i < s->ndim - 2; i++) receptive *= (double)s->dims[i];
        *fan_in = (double)s->dims[s->ndim - 2] * receptive;
        *fan_out = (double)s->dims[s->ndim - 1] * receptive;
    }
}

/* Orthogonal init as torch.nn.init.orthogonal_: a normal matrix, QR, Q with the signs of R's
 * diagonal made positive. Modified Gram-Schmidt (run twice for stability) gives that Q directly,
 * since it yields R with a positive diagonal. The matrix is [rows, cols] with rows = dims[0] *
 * ... * dims[-2] flattened as PyTorch flattens trailing dims: here rows = product of all dims
 * but the last, cols = last. Orthonormal columns if rows >= cols, else orthonormal rows. */
static gx_status orthogonal(gx_rng *r, int64_t rows, int64_t cols, double gain, double *out,
                            gx_diag *d) {
    int64_t tall = rows >= cols ? rows : cols, wide = rows >= cols ? cols : rows;
    double *q = gx_malloc(sizeof(double) * (size_t)(tall * wide));   /* column-major tall x wide */
    if (q == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < tall * wide; i++) q[i] = gx_rng_normal(r);
    for (int64_t j = 0; j < wide; j++) {
        double *qj = q + j * tall;
        for (int pass = 0; pass < 2; pass++)
            for (int64_t k = 0; k < j; k++) {
                const double *qk = q + k * tall;
                double dot = 0;
                for (int64_t i = 0; i < tall; i++) dot += qk[i] * qj[i];
                for (int64_t i = 0; i < tall; i++) qj[i] -= dot * qk[i];
            }
        double nrm = 0;
        for (int64_t i = 0; i < tall; i++) nrm += qj[i] * qj[i];
        nrm = sqrt(nrm);
        if (nrm < 1e-12) nrm = 1e-12;
        for (int64_t i = 0; i < tall; i++) qj[i] /= nrm;
    }
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++)
            out[i * cols + j] = gain * (rows >= cols ? q[j * tall + i] : q[i * tall + j]);
    gx_free(q);
    return GX_OK;
}

gx_status gx_init_fill(const gx_init *init, const gx_tensor_info *info, uint64_t seed,
                       const char *name, void *dst, gx_diag *d) {
    int64_t n = gx_shape_numel(&info->shape);
    double *v = gx_malloc(sizeof(double) * (size_t)(n ? n : 1));
    if (v == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory initialising '%s'", name);
    gx_rng r;
    gx_rng_seed(&r, gx_hash_str(seed, name));
    double fan_in, fan_out;
    fans(&info->shape, &fan_in, &fan_out);
    gx_status st = GX_OK;
    double bound, std;
    switch (init->scheme) {
    case GX_INIT_ZEROS: for (int64_t i = 0; i < n; i++) v[i] = 0; break;
    case GX_INIT_ONES: for (int64_t i = 0; i < n; i++) v[i] = 1; break;
    case GX_INIT_CONSTANT: for (int64_t i = 0; i < n; i++) v[i] = init->a; break;
    case GX_INIT_NORMAL:
        for (int64_t i = 0; i < n; i++) v[i] = init->a + init->b * gx_rng_normal(&r);
        break;
    case GX_INIT_UNIFORM:
        for (int64_t i = 0; i < n; i++) v[i] = init->a + (init->b - init->a) * gx_rng_uniform(&r);
        break;
    case GX_INIT_XAVIER: /* U(-b, b), b = gain * sqrt(6 / (fan_in + fan_out)) */
        bound = init->a * sqrt(6.0 / (fan_in + fan_out > 0 ? fan_in + fan_out : 1));
        for (int64_t i = 0; i < n; i++) v[i] = bound * (2 * gx_rng_uniform(&r) - 1);
        break;
    case GX_INIT_XAVIER_NORMAL:
        std = init->a * sqrt(2.0 / (fan_in + fan_out > 0 ? fan_in + fan_out : 1));
        for (int64_t i = 0; i < n; i++) v[i] = std * gx_rng_normal(&r);
        break;
    case GX_INIT_KAIMING: /* leaky_relu gain sqrt(2 / (1 + a^2)), U(-b, b), b = gain*sqrt(3/fan_in) */
        bound = sqrt(2.0 / (1 + init->a * init->a)) * sqrt(3.0 / (fan_in > 0 ? fan_in : 1));
        for (int64_t i = 0; i < n; i++) v[i] = bound * (2 * gx_rng_uniform(&r) - 1);
        break;
    case GX_INIT_KAIMING_NORMAL:
        std = sqrt(2.0 / (1 + init->a * init->a)) / sqrt(fan_in > 0 ? fan_in : 1);
        for (int64_t i = 0; i < n; i++) v[i] = std * gx_rng_normal(&r);
        break;
    case GX_INIT_ORTHOGONAL:
        if (info->shape.ndim < 2) {
            st = gx_diag_set(d, GX_ERR_SHAPE, "orthogonal init of '%s' needs at least 2 dims", name);
            break;
        }
        if (n > 0) {
            int64_t cols = info->shape.dims[info->shape.ndim - 1];
            st = orthogonal(&r, n / cols, cols, init->a, v, d);
        }
        break;
    case GX_INIT_LSTM_BIAS: /* the forget gate starts open: Gers et al. 2000, Jozefowicz 2015 */
        if (info->shape.ndim != 1 || info->shape.dims[0] % 4 != 0) {
            st = gx_diag_set(d, GX_ERR_SHAPE, "lstm_bias init of '%s' needs a bias [4*H] (gates "
                             "i, f, g, o)", name);
            break;
        }
        for (int64_t i = 0; i < n; i++) v[i] = (i >= n / 4 && i < n / 2) ? init->a : 0.0;
        break;
    }
    if (st == GX_OK) {
        if (info->dtype == GX_DTYPE_F32)
            for (int64_t i = 0; i < n; i++) ((float *)dst)[i] = (float)v[i];
        else if (info->dtype == GX_DTYPE_F64)
            memcpy(dst, v, sizeof(double) * (size_t)n);
        else
            st = gx_diag_set(d, GX_ERR_DTYPE, "param '%s' must be f32 or f64", name);
    }
    gx_free(v);
    return st;
}
