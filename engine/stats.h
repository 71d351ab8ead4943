/*
 * stats.h: the numbers diagnostics report, as plain functions of host arrays: summaries of a
 * set of values (gate activations), norms, and the spectrum of recurrent weight matrices.
 */
#ifndef GX_STATS_H
#define GX_STATS_H

#include <gexec/plugin.h>

typedef struct gx_summary {
    int64_t n;                 /* finite values summarised                                  */
    int64_t n_nonfinite;       /* NaN and Inf, left out of everything else                  */
    double  mean, std, min, max;
    double  p5, p50, p95;      /* percentiles, from a 4096-bin histogram over [min, max]:
                                  within (max - min) / 4096 of the exact order statistic    */
    double  saturated;         /* fraction saturated (gx_probe_kind): sigmoid < 0.05 or
                                  > 0.95, |tanh| > 0.95; NAN for the kinds without one      */
} gx_summary;

/* 1 when `kind` has a saturation figure: sigmoid and tanh. Not PLAIN (no range) nor DIST:
 * attention weights near 0 and 1 are what attention is for, not a gate whose gradient dies. */
int gx_probe_saturates(int32_t kind);

/* Summarise n values of dtype dt (f32 or f64). */
void gx_summarize(const void *x, gx_dtype dt, int64_t n, int32_t kind, gx_summary *out);

/* the fraction of the finite values saturated for `kind` (NAN for a kind without saturation,
 * or none finite) */
double gx_saturated_fraction(const void *x, gx_dtype dt, int64_t n, int32_t kind);

/* The mean entropy -sum p log p, in nats, of the n / width distributions of `width` values
 * each in x (the rows of a softmax over its last axis): 0 for one-hot rows, log(width) for
 * uniform ones. Rows with a non-finite value, or that do not sum to more than 0 (the zeros a
 * masked loop yields at padded steps), are left out; NAN when none is left. */
double gx_mean_entropy(const void *x, gx_dtype dt, int64_t n, int64_t width);

/*
 * The matrix a distribution probe (GX_PROBE_DIST) keeps: `steps` rows of `width` values, row t
 * starting at element t * stride of the tap (stride > width skips the rows of the other batch
 * elements), cut to at most max_rows x max_cols so a long sequence cannot blow up a record:
 * every row_stride-th row is kept whole (a kept row is still one step's distribution), and the
 * columns are summed in blocks of col_stride positions (so every kept row sums to what the
 * whole row summed to: 1 for a softmax). Strides of 1: nothing was cut.
 */
typedef struct gx_dist_cut {
    int64_t steps, width, stride;   /* the rows in the tap: how many, values each, apart     */
    int32_t rows, cols;             /* the matrix kept: ceil(steps / row_stride) x
                                       ceil(width / col_stride)                              */
    int32_t row_stride, col_stride;
} gx_dist_cut;

/* the cut for those sizes (steps, width >= 1; max_rows, max_cols >= 1) */
void gx_dist_cut_init(gx_dist_cut *c, int64_t steps, int64_t width, int64_t stride,
                      int32_t max_rows, int32_t max_cols);
/* out[r * cols + k] = sum of x[r * row_stride * stride + k * col_stride + j], j < col_stride
 * (and within the row); a non-finite value makes its cell non-finite */
void gx_dist_cut_apply(const gx_dist_cut *c, const void *x, gx_dtype dt, double *out);

/* sqrt(sum x^2) in double */
double gx_norm2(const void *x, gx_dtype dt, int64_t n);
/* sqrt(sum (a - b)^2) in double */
double gx_diff_norm2(const void *a, const void *b, gx_dtype dt, int64_t n);

/*
 * The spectrum of a recurrent weight matrix W stored row-major as rows x cols, made of
 * `blocks` square H x H gate blocks: stacked along the rows (W_hh [G*H, H]: cols = H) or along
 * the columns (its transpose [H, G*H]: rows = H). For each block, its spectral radius (the
 * largest |eigenvalue|; it decides whether h_t = W h_{t-1} grows or dies away); for the whole
 * matrix its largest singular value (the most any h can grow in one step).
 *
 * Both by power iteration, warm-started from the vectors of the previous call (weights change
 * little between logged steps, so a few iterations per call track them). The radius is the
 * geometric mean of the growth ||W v|| / ||v|| over the iterations, which is the right answer
 * when the dominant eigenvalues are a complex pair (random recurrent matrices usually have one)
 * where a plain Rayleigh quotient would oscillate.
 */
#define GX_SPECTRAL_MAX_BLOCKS 8

typedef struct gx_spectral {
    int64_t rows, cols, H;
    int32_t blocks, by_cols;
    double *v_block;           /* blocks x H: the iteration vectors                         */
    double *v_sigma;           /* cols                                                       */
    double *tmp;               /* scratch                                                    */
    int32_t calls;
    double  rho[GX_SPECTRAL_MAX_BLOCKS];
    double  sigma_max;
} gx_spectral;

/* H: the block size (the hidden size); blocks = rows / H or cols / H. 0 when the shape has no
 * square blocks of H (not a recurrent matrix). */
gx_status gx_spectral_init(gx_spectral *s, int64_t rows, int64_t cols, int64_t H);
void      gx_spectral_free(gx_spectral *s);
/* iterate on W (f32 or f64) and update rho[] and sigma_max; `iters` per call (the first call
 * does 4x as many) */
void      gx_spectral_update(gx_spectral *s, const void *W, gx_dtype dt, int32_t iters);

#endif
