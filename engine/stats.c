/*
 * stats.c: summaries, norms and power iteration for diagnostics (see stats.h).
 */
#include "stats.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define N_BINS 4096

static inline double at(const void *x, gx_dtype dt, int64_t i) {
    return dt == GX_DTYPE_F64 ? ((const double *)x)[i] : (double)((const float *)x)[i];
}

static int saturated(double v, int32_t kind) {
    if (kind == GX_PROBE_SIGMOID) return v < 0.05 || v > 0.95;
    return fabs(v) > 0.95;
}

/* the value below which a fraction q of the histogram lies, linear within its bin */
static double percentile(const int64_t *hist, int64_t n, double lo, double width, double q) {
    double want = q * (double)n, seen = 0;
    for (int b = 0; b < N_BINS; b++) {
        if (seen + (double)hist[b] >= want && hist[b] > 0)
            return lo + width * ((double)b + (want - seen) / (double)hist[b]);
        seen += (double)hist[b];
    }
    return lo + width * N_BINS;
}

int gx_probe_saturates(int32_t kind) { return kind == GX_PROBE_SIGMOID || kind == GX_PROBE_TANH; }

double gx_saturated_fraction(const void *x, gx_dtype dt, int64_t n, int32_t kind) {
    int64_t sat = 0, good = 0;
    for (int64_t i = 0; i < n && gx_probe_saturates(kind); i++) {
        double v = at(x, dt, i);
        if (!isfinite(v)) continue;
        good++;
        sat += saturated(v, kind);
    }
    return good ? (double)sat / (double)good : NAN;
}

void gx_summarize(const void *x, gx_dtype dt, int64_t n, int32_t kind, gx_summary *out) {
    memset(out, 0, sizeof *out);
    double sum = 0, sum2 = 0, lo = INFINITY, hi = -INFINITY;
    int64_t sat = 0, good = 0;
    int sats = gx_probe_saturates(kind);
    for (int64_t i = 0; i < n; i++) {
        double v = at(x, dt, i);
        if (!isfinite(v)) {
            out->n_nonfinite++;
            continue;
        }
        good++;
        sum += v;
        sum2 += v * v;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
        if (sats) sat += saturated(v, kind);
    }
    out->n = good;
    out->saturated = sats && good ? (double)sat / (double)good : NAN;
    if (good == 0) {
        out->mean = out->std = out->min = out->max = out->p5 = out->p50 = out->p95 = NAN;
        return;
    }
    out->mean = sum / (double)good;
    double var = sum2 / (double)good - out->mean * out->mean;
    out->std = var > 0 ? sqrt(var) : 0;
    out->min = lo;
    out->max = hi;
    if (hi <= lo) {
        out->p5 = out->p50 = out->p95 = lo;
        return;
    }
    int64_t hist[N_BINS] = {0};   /* 32 KiB on the stack: no allocation per summary */
    double width = (hi - lo) / N_BINS;
    for (int64_t i = 0; i < n; i++) {
        double v = at(x, dt, i);
        if (!isfinite(v)) continue;
        int64_t b = (int64_t)((v - lo) / width);
        hist[b < 0 ? 0 : b >= N_BINS ? N_BINS - 1 : b]++;
    }
    out->p5 = percentile(hist, good, lo, width, 0.05);
    out->p50 = percentile(hist, good, lo, width, 0.50);
    out->p95 = percentile(hist, good, lo, width, 0.95);
}

double gx_norm2(const void *x, gx_dtype dt, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = at(x, dt, i);
        s += v * v;
    }
    return sqrt(s);
}

double gx_diff_norm2(const void *a, const void *b, gx_dtype dt, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = at(a, dt, i) - at(b, dt, i);
        s += v * v;
    }
    return sqrt(s);
}

// ---- distributions ------------------------------------------------------------------------

double gx_mean_entropy(const void *x, gx_dtype dt, int64_t n, int64_t width) {
    if (width <= 0) return NAN;
    double total = 0;
    int64_t rows = 0;
    for (int64_t r = 0; r + width <= n; r += width) {
        double h = 0, sum = 0;
        int ok = 1;
        for (int64_t i = 0; i < width && ok; i++) {
            double p = at(x, dt, r + i);
            ok = isfinite(p);
            sum += p;
            if (p > 0) h -= p * log(p);   /* 0 log 0 = 0: masked positions add nothing */
        }
        if (!ok || !(sum > 0)) continue;
        total += h;
        rows++;
    }
    return rows ? total / (double)rows : NAN;
}

static int32_t cut_stride(int64_t n, int32_t max) {
    if (max < 1) max = 1;
    return n <= max ? 1 : (int32_t)((n + max - 1) / max);
}

void gx_dist_cut_init(gx_dist_cut *c, int64_t steps, int64_t width, int64_t stride,
                      int32_t max_rows, int32_t max_cols) {
    memset(c, 0, sizeof *c);
    c->steps = steps;
    c->width = width;
    c->stride = stride;
    c->row_stride = cut_stride(steps, max_rows);
    c->col_stride = cut_stride(width, max_cols);
    c->rows = (int32_t)((steps + c->row_stride - 1) / c->row_stride);
    c->cols = (int32_t)((width + c->col_stride - 1) / c->col_stride);
}

void gx_dist_cut_apply(const gx_dist_cut *c, const void *x, gx_dtype dt, double *out) {
    for (int64_t r = 0; r < c->rows; r++) {
        int64_t base = r * c->row_stride * c->stride;
        for (int64_t k = 0; k < c->cols; k++) {
            int64_t j0 = k * c->col_stride, j1 = j0 + c->col_stride;
            if (j1 > c->width) j1 = c->width;
            double s = 0;
            for (int64_t j = j0; j < j1; j++) s += at(x, dt, base + j);
            out[r * c->cols + k] = s;
        }
    }
}

// ---- power iteration ----------------------------------------------------------------------

gx_status gx_spectral_init(gx_spectral *s, int64_t rows, int64_t cols, int64_t H) {
    memset(s, 0, sizeof *s);
    if (H <= 0) return GX_ERR_INVALID;
    if (cols == H && rows % H == 0) s->blocks = (int32_t)(rows / H);
    else if (rows == H && cols % H == 0) {
        s->blocks = (int32_t)(cols / H);
        s->by_cols = 1;
    }
    if (s->blocks < 1 || s->blocks > GX_SPECTRAL_MAX_BLOCKS) return GX_ERR_INVALID;
    s->rows = rows;
    s->cols = cols;
    s->H = H;
    s->v_block = gx_malloc(sizeof(double) * (size_t)(s->blocks * H));
    s->v_sigma = gx_malloc(sizeof(double) * (size_t)cols);
    s->tmp = gx_malloc(sizeof(double) * (size_t)(H + cols + rows));   /* y | z | W v */
    if (!s->v_block || !s->v_sigma || !s->tmp) {
        gx_spectral_free(s);
        return GX_ERR_NOMEM;
    }
    /* a fixed start with no special structure: deterministic results */
    for (int64_t i = 0; i < s->blocks * H; i++) s->v_block[i] = 1.0 + 0.5 * sin(1.7 * (double)i);
    for (int64_t i = 0; i < cols; i++) s->v_sigma[i] = 1.0 + 0.5 * cos(0.9 * (double)i);
    return GX_OK;
}

void gx_spectral_free(gx_spectral *s) {
    gx_free(s->v_block);
    gx_free(s->v_sigma);
    gx_free(s->tmp);
    memset(s, 0, sizeof *s);
}

static double normalize(double *v, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += v[i] * v[i];
    s = sqrt(s);
    if (s > 0)
        for (int64_t i = 0; i < n; i++) v[i] /= s;
    return s;
}

/* y = B v for block b (H x H) of W */
static void block_mv(const gx_spectral *s, const void *W, gx_dtype dt, int32_t b, const double *v,
                     double *y) {
    int64_t H = s->H;
    for (int64_t i = 0; i < H; i++) {
        int64_t r = s->by_cols ? i : b * H + i;
        int64_t c0 = s->by_cols ? b * H : 0;
        const int64_t base = r * s->cols + c0;
        double acc = 0;
        if (dt == GX_DTYPE_F64) {
            const double *w = (const double *)W + base;
            for (int64_t j = 0; j < H; j++) acc += w[j] * v[j];
        } else {
            const float *w = (const float *)W + base;
            for (int64_t j = 0; j < H; j++) acc += (double)w[j] * v[j];
        }
        y[i] = acc;
    }
}

/* y = W^T (W v) through tmp */
static void wtw_mv(const gx_spectral *s, const void *W, gx_dtype dt, const double *v, double *y,
                   double *tmp) {
    for (int64_t r = 0; r < s->rows; r++) {
        double acc = 0;
        for (int64_t c = 0; c < s->cols; c++) acc += at(W, dt, r * s->cols + c) * v[c];
        tmp[r] = acc;
    }
    for (int64_t c = 0; c < s->cols; c++) y[c] = 0;
    for (int64_t r = 0; r < s->rows; r++)
        for (int64_t c = 0; c < s->cols; c++) y[c] += at(W, dt, r * s->cols + c) * tmp[r];
}

void gx_spectral_update(gx_spectral *s, const void *W, gx_dtype dt, int32_t iters) {
    if (s->blocks == 0) return;
    if (s->calls++ == 0) iters *= 4;
    if (iters < 1) iters = 1;
    int64_t H = s->H;
    double *y = s->tmp;
    for (int32_t b = 0; b < s->blocks; b++) {
        double *v = s->v_block + b * H;
        normalize(v, H);
        double log_growth = 0;
        int32_t counted = 0;
        for (int32_t k = 0; k < iters; k++) {
            block_mv(s, W, dt, b, v, y);
            double g = normalize(y, H);
            memcpy(v, y, sizeof(double) * (size_t)H);
            if (g == 0) {   /* v fell into the null space: nilpotent or zero block */
                log_growth = -INFINITY;
                counted = 1;
                break;
            }
            log_growth += log(g);
            counted++;
        }
        s->rho[b] = exp(log_growth / counted);
    }
    double *v = s->v_sigma, *z = s->tmp + H;
    double lambda = 0;
    normalize(v, s->cols);
    for (int32_t k = 0; k < iters; k++) {
        wtw_mv(s, W, dt, v, z, s->tmp + H + s->cols);
        lambda = normalize(z, s->cols);
        memcpy(v, z, sizeof(double) * (size_t)s->cols);
    }
    s->sigma_max = sqrt(lambda);
}
