/*
 * svg-chart.c: line charts and heatmaps as SVG text (see svg-chart.h). The layout is fixed
 * (760 px wide, the plot at the left, the legend or colour bar at the right); ranges and ticks
 * come from the data. Long series are averaged down before drawing, so a 100k-step run still
 * gives a page a browser opens quickly.
 */
#include "svg-chart.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHART_W      760
#define PLOT_L       70      /* left margin: y tick labels and the y label */
#define PLOT_T       44      /* top margin: title and note                 */
#define PLOT_H       230
#define PLOT_B       46      /* bottom margin: x tick labels and x label   */
#define LEGEND_W     210
#define LEGEND_ROW   16
#define MAX_LINE_PTS 1500    /* more points than this are averaged in buckets */
#define MAX_MARKERS  1500
#define MAX_ATTRS    8
#define MAX_HLINES   8
#define MAX_TICKS    32
#define HEAT_COLS    200
#define HEAT_ROWS    64

/* Tableau 10: distinct on white, and legible for the common colour-vision deficiencies */
static const char *const palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                      "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
#define N_PALETTE ((int)(sizeof palette / sizeof palette[0]))

struct svg_series {
    char   *label;
    int     color, style, dash;
    double *x, *y, *lo, *hi;   /* lo/hi: NULL until a band point is added */
    int     n, cap;
};

struct svg_chart {
    char       *name, *title, *xlabel, *ylabel, *note;
    int         xscale, yscale;
    double      ylo, yhi;
    char       *attr_name[MAX_ATTRS], *attr_val[MAX_ATTRS];
    int         n_attrs;
    double      hline_y[MAX_HLINES];
    char       *hline_label[MAX_HLINES];
    int         n_hlines;
    svg_series **series;
    int         n_series, cap_series;
};

/* ---- memory ---- */

void *svg_xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (q == NULL) {
        fprintf(stderr, "gexec: error: out of memory\n");
        exit(1);
    }
    return q;
}

static char *xstrdup(const char *s) {
    if (s == NULL) return NULL;
    size_t n = strlen(s) + 1;
    return memcpy(svg_xrealloc(NULL, n), s, n);
}

svg_chart *svg_chart_new(const char *name, const char *title, const char *xlabel,
                         const char *ylabel) {
    svg_chart *c = svg_xrealloc(NULL, sizeof *c);
    memset(c, 0, sizeof *c);
    c->name = xstrdup(name);
    c->title = xstrdup(title);
    c->xlabel = xstrdup(xlabel);
    c->ylabel = xstrdup(ylabel);
    c->xscale = SVG_LINEAR;
    c->yscale = SVG_AUTO;
    c->ylo = c->yhi = NAN;
    return c;
}

void svg_chart_free(svg_chart *c) {
    if (c == NULL) return;
    for (int i = 0; i < c->n_series; i++) {
        svg_series *s = c->series[i];
        free(s->label);
        free(s->x);
        free(s->y);
        free(s->lo);
        free(s->hi);
        free(s);
    }
    for (int i = 0; i < c->n_attrs; i++) {
        free(c->attr_name[i]);
        free(c->attr_val[i]);
    }
    for (int i = 0; i < c->n_hlines; i++) free(c->hline_label[i]);
    free(c->series);
    free(c->name);
    free(c->title);
    free(c->xlabel);
    free(c->ylabel);
    free(c->note);
    free(c);
}

void svg_chart_scale(svg_chart *c, int xscale, int yscale) {
    c->xscale = xscale;
    c->yscale = yscale;
}

void svg_chart_ylim(svg_chart *c, double lo, double hi) {
    c->ylo = lo;
    c->yhi = hi;
}

void svg_chart_attr(svg_chart *c, const char *name, const char *value) {
    if (c->n_attrs >= MAX_ATTRS) return;
    c->attr_name[c->n_attrs] = xstrdup(name);
    c->attr_val[c->n_attrs++] = xstrdup(value ? value : "");
}

void svg_chart_hline(svg_chart *c, double y, const char *label) {
    if (c->n_hlines >= MAX_HLINES || !isfinite(y)) return;
    for (int i = 0; i < c->n_hlines; i++)
        if (c->hline_y[i] == y) return;   /* two runs with one clip threshold: one line */
    c->hline_y[c->n_hlines] = y;
    c->hline_label[c->n_hlines++] = xstrdup(label);
}

void svg_chart_note(svg_chart *c, const char *note) {
    free(c->note);
    c->note = xstrdup(note);
}

svg_series *svg_chart_series(svg_chart *c, const char *label, int color, int style, int dash) {
    if (c->n_series == c->cap_series) {
        c->cap_series = c->cap_series ? 2 * c->cap_series : 8;
        c->series = svg_xrealloc(c->series, sizeof(svg_series *) * (size_t)c->cap_series);
    }
    svg_series *s = svg_xrealloc(NULL, sizeof *s);
    memset(s, 0, sizeof *s);
    s->label = xstrdup(label);
    s->color = color < 0 ? 0 : color;
    s->style = style ? style : SVG_LINE;
    s->dash = dash;
    c->series[c->n_series++] = s;
    return s;
}

static void series_grow(svg_series *s) {
    if (s->n < s->cap) return;
    s->cap = s->cap ? 2 * s->cap : 64;
    s->x = svg_xrealloc(s->x, sizeof(double) * (size_t)s->cap);
    s->y = svg_xrealloc(s->y, sizeof(double) * (size_t)s->cap);
    if (s->lo) {
        s->lo = svg_xrealloc(s->lo, sizeof(double) * (size_t)s->cap);
        s->hi = svg_xrealloc(s->hi, sizeof(double) * (size_t)s->cap);
    }
}

void svg_series_add(svg_series *s, double x, double y) {
    svg_series_add_band(s, x, y, NAN, NAN);
}

void svg_series_add_band(svg_series *s, double x, double y, double lo, double hi) {
    if (!isfinite(x) || !isfinite(y)) return;
    series_grow(s);
    if (s->lo == NULL && (isfinite(lo) || isfinite(hi))) {
        /* the first band point: earlier points had none */
        s->lo = svg_xrealloc(NULL, sizeof(double) * (size_t)s->cap);
        s->hi = svg_xrealloc(NULL, sizeof(double) * (size_t)s->cap);
        for (int i = 0; i < s->n; i++) s->lo[i] = s->hi[i] = NAN;
    }
    s->x[s->n] = x;
    s->y[s->n] = y;
    if (s->lo) {
        s->lo[s->n] = lo;
        s->hi[s->n] = hi;
    }
    s->n++;
}

int svg_series_count(const svg_series *s) { return s->n; }

int svg_chart_points(const svg_chart *c) {
    int n = 0;
    for (int i = 0; i < c->n_series; i++) n += c->series[i]->n;
    return n;
}

/* ---- text ---- */

void svg_escape(FILE *f, const char *s) {
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* a label cut to `max` bytes (at a UTF-8 boundary) with an ellipsis */
static void escape_cut(FILE *f, const char *s, size_t max) {
    size_t n = strlen(s);
    if (n <= max) {
        svg_escape(f, s);
        return;
    }
    char buf[128];
    if (max > sizeof buf - 1) max = sizeof buf - 1;
    size_t k = max;
    while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80) k--;
    memcpy(buf, s, k);
    buf[k] = '\0';
    svg_escape(f, buf);
    fputs("\xE2\x80\xA6", f);   /* U+2026 */
}

static const char *css_text =
    "svg.chart{background:#fff;font-family:sans-serif;font-size:11px;margin:4px 0 14px 0}\n"
    "svg.chart .title{font-size:13px;font-weight:bold;fill:#222}\n"
    "svg.chart .note{fill:#666}\n"
    "svg.chart .tick{fill:#444}\n"
    "svg.chart .label{fill:#222}\n"
    "svg.chart .nodata{fill:#999;font-size:14px}\n";

const char *svg_css(void) { return css_text; }

const char *svg_drawn_script(void) {
    /* Counts each chart's data marks that a browser actually laid out with some extent, so a
     * headless browser's DOM dump tells whether the charts show anything. */
    return "(function () {\n"
           "  var charts = document.querySelectorAll('svg.chart'), drawn = 0;\n"
           "  for (var i = 0; i < charts.length; i++) {\n"
           "    var marks = charts[i].querySelectorAll('.data'), n = 0;\n"
           "    for (var j = 0; j < marks.length; j++) {\n"
           "      var b = marks[j].getBBox();\n"
           "      var len = marks[j].getTotalLength ? marks[j].getTotalLength() : 0;\n"
           "      if (b.width > 0 || b.height > 0 || len > 0) n++;\n"
           "    }\n"
           "    charts[i].setAttribute('data-drawn', n);\n"
           "    if (n > 0) drawn++;\n"
           "  }\n"
           "  document.title += ' [drawn ' + drawn + '/' + charts.length + ']';\n"
           "})();\n";
}

/* ---- axes ---- */

typedef struct axis {
    int    log;          /* lo/hi are log10 of the values */
    double lo, hi;       /* the range, in axis units       */
    double px0, px1;     /* pixels of lo and hi            */
} axis;

static double ax_px(const axis *a, double v) {
    double u = a->log ? log10(v) : v;
    return a->px0 + (u - a->lo) / (a->hi - a->lo) * (a->px1 - a->px0);
}

static int usable(const axis *a, double v) { return isfinite(v) && (!a->log || v > 0); }

/* round numbers 1, 2, 5 x 10^k in [lo, hi], about `want` of them; the step in *step */
static int nice_ticks(double lo, double hi, int want, double *t, double *step) {
    double range = hi - lo;
    if (!(range > 0) || !isfinite(range)) {
        t[0] = lo;
        *step = 1;
        return 1;
    }
    double raw = range / want, mag = pow(10, floor(log10(raw))), r = raw / mag;
    double st = (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * mag;
    double first = ceil(lo / st - 1e-9) * st;
    int n = 0;
    for (int i = 0; n < MAX_TICKS; i++) {
        double v = first + i * st;
        if (v > hi + st * 1e-9) break;
        if (fabs(v) < st * 1e-9) v = 0;
        t[n++] = v;
    }
    *step = st;
    return n;
}

static void fmt_lin(char *buf, size_t n, double v, double step) {
    double big = fabs(v);
    if (big >= 1e6 || (big > 0 && big < 1e-4) || step < 1e-5) {
        snprintf(buf, n, "%.3g", v);
        return;
    }
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (dec > 6) dec = 6;
    snprintf(buf, n, "%.*f", dec, v);
}

static void fmt_pow10(char *buf, size_t n, double e) {
    double r = floor(e + 0.5);
    if (fabs(e - r) < 1e-9) {
        if (r >= -3 && r <= 4) snprintf(buf, n, "%g", pow(10, r));
        else snprintf(buf, n, "1e%d", (int)r);
    } else {
        snprintf(buf, n, "%.2g", pow(10, e));
    }
}

/* ticks of an axis as values (not axis units); labels into lab[i] */
static int axis_ticks(const axis *a, double *t, char lab[][24]) {
    double step;
    if (!a->log) {
        int n = nice_ticks(a->lo, a->hi, 6, t, &step);
        for (int i = 0; i < n; i++) fmt_lin(lab[i], 24, t[i], step);
        return n;
    }
    int e0 = (int)ceil(a->lo - 1e-9), e1 = (int)floor(a->hi + 1e-9);
    int n = 0;
    if (e1 - e0 + 1 >= 2) {
        int stride = (e1 - e0 + 1 + 7) / 8;
        for (int e = e0; e <= e1 && n < MAX_TICKS; e += stride) {
            t[n] = pow(10, e);
            fmt_pow10(lab[n++], 24, e);
        }
        if (n <= 3) {   /* a few decades: add the 2s and 5s between them */
            for (int e = e0 - 1; e <= e1 && n < MAX_TICKS; e++)
                for (int k = 0; k < 2 && n < MAX_TICKS; k++) {
                    double v = (k ? 5 : 2) * pow(10, e), u = log10(v);
                    if (u < a->lo || u > a->hi) continue;
                    t[n] = v;
                    snprintf(lab[n++], 24, "%g", v);
                }
        }
        return n;
    }
    /* less than two decades: 1, 2 and 5 times powers of ten when there are three of them
     * (5, 10, 20), else round numbers of the values, placed on the log axis */
    for (int e = e0 - 1; e <= e1 && n < MAX_TICKS; e++)
        for (int k = 0; k < 3 && n < MAX_TICKS; k++) {
            double v = (k == 0 ? 1 : k == 1 ? 2 : 5) * pow(10, e), u = log10(v);
            if (u < a->lo - 1e-9 || u > a->hi + 1e-9) continue;
            t[n] = v;
            snprintf(lab[n++], 24, "%g", v);
        }
    if (n >= 3) return n;
    n = 0;
    double vt[MAX_TICKS];
    int k = nice_ticks(pow(10, a->lo), pow(10, a->hi), 5, vt, &step);
    for (int i = 0; i < k; i++)
        if (vt[i] > 0) {
            t[n] = vt[i];
            fmt_lin(lab[n++], 24, vt[i], step);
        }
    return n;
}

/* Fit an axis to [lo, hi] (values); pad: a fraction of the range added at the ends, a
 * little only at a fixed end (a line at a fixed 0 should not hide in the frame). */
static void axis_fit(axis *a, double lo, double hi, double pad, int fix_lo, int fix_hi) {
    if (a->log) {
        lo = log10(lo);
        hi = log10(hi);
    }
    if (hi - lo <= 0) {   /* one value: a range around it, on the free side of a fixed end */
        double d = a->log ? 0.5 : lo != 0 ? fabs(lo) * 0.1 : 1;
        if (!fix_lo) lo -= d;
        if (!fix_hi) hi += d;
        if (hi - lo <= 0) {   /* both ends fixed at one value */
            lo -= 0.5;
            hi += 0.5;
        }
    }
    double d = (hi - lo) * pad;
    lo -= fix_lo ? d * 0.3 : d;
    hi += fix_hi ? d * 0.3 : d;
    a->lo = lo;
    a->hi = hi;
}

/* ---- line charts ---- */

static const char *dash_attr(int dash) {
    return dash == SVG_DASHED ? " stroke-dasharray=\"6 4\"" : dash == SVG_DOTTED ? " stroke-dasharray=\"2 3\"" : "";
}

static int decide_log(int scale, int all_pos, double lo, double hi) {
    if (scale != SVG_AUTO) return scale == SVG_LOG;
    return all_pos && lo > 0 && hi / lo > 100;
}

static void write_open(FILE *f, const char *name, int w, int h, char *const *an, char *const *av,
                       int n_attrs, int standalone) {
    fprintf(f, "<svg%s class=\"chart\" data-chart=\"", standalone ? " xmlns=\"http://www.w3.org/2000/svg\"" : "");
    svg_escape(f, name ? name : "chart");
    fprintf(f, "\"");
    for (int i = 0; i < n_attrs; i++) {
        fprintf(f, " %s=\"", an[i]);
        svg_escape(f, av[i]);
        fprintf(f, "\"");
    }
    fprintf(f, " width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" "
               "font-size=\"11\">\n", w, h, w, h);
    if (standalone) fprintf(f, "<style>\n%s</style>\n<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n", css_text);
}

/* write_open with a chart's NULL-ended table of up to 4 extra attributes */
static void write_open_attrs(FILE *f, const char *name, int w, int h, const char *const *names,
                             const char *const *vals, int standalone) {
    char *an[4], *av[4];
    int na = 0;
    while (na < 4 && names[na]) {
        an[na] = (char *)names[na];
        av[na] = (char *)vals[na];
        na++;
    }
    write_open(f, name, w, h, an, av, na, standalone);
}

static void write_titles(FILE *f, const char *title, const char *note, const char *xlabel,
                         const char *ylabel, double pl, double pr, double pt, double pb) {
    if (title) {
        fprintf(f, "<text class=\"title\" x=\"%.1f\" y=\"16\">", pl);
        svg_escape(f, title);
        fprintf(f, "</text>\n");
    }
    if (note) {
        fprintf(f, "<text class=\"note\" x=\"%.1f\" y=\"31\">", pl);
        escape_cut(f, note, 120);
        fprintf(f, "</text>\n");
    }
    if (xlabel) {
        fprintf(f, "<text class=\"label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">",
                (pl + pr) / 2, pb + 38);
        svg_escape(f, xlabel);
        fprintf(f, "</text>\n");
    }
    if (ylabel) {
        fprintf(f, "<text class=\"label\" transform=\"translate(14,%.1f) rotate(-90)\" "
                   "text-anchor=\"middle\">", (pt + pb) / 2);
        svg_escape(f, ylabel);
        fprintf(f, "</text>\n");
    }
}

static void write_nodata(FILE *f, double pl, double pr, double pt, double pb) {
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#fafafa\" "
               "stroke=\"#ccc\"/>\n", pl, pt, pr - pl, pb - pt);
    fprintf(f, "<text class=\"nodata\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">no data</text>\n",
            (pl + pr) / 2, (pt + pb) / 2);
}

/* the range of the usable values of every series (and hlines) on axes of the given kind */
static int chart_range(const svg_chart *c, int xlog, int ylog, double *x0, double *x1,
                       double *y0, double *y1) {
    axis ax = {.log = xlog}, ay = {.log = ylog};
    int n = 0;
    *x0 = *y0 = INFINITY;
    *x1 = *y1 = -INFINITY;
    for (int i = 0; i < c->n_series; i++) {
        const svg_series *s = c->series[i];
        for (int k = 0; k < s->n; k++) {
            if (!usable(&ax, s->x[k]) || !usable(&ay, s->y[k])) continue;
            n++;
            *x0 = fmin(*x0, s->x[k]);
            *x1 = fmax(*x1, s->x[k]);
            *y0 = fmin(*y0, s->y[k]);
            *y1 = fmax(*y1, s->y[k]);
            if (s->lo && usable(&ay, s->lo[k])) *y0 = fmin(*y0, s->lo[k]);
            if (s->hi && usable(&ay, s->hi[k])) *y1 = fmax(*y1, s->hi[k]);
        }
    }
    if (n == 0) return 0;
    for (int i = 0; i < c->n_hlines; i++)
        if (usable(&ay, c->hline_y[i])) {
            *y0 = fmin(*y0, c->hline_y[i]);
            *y1 = fmax(*y1, c->hline_y[i]);
        }
    if (usable(&ay, c->ylo)) *y0 = fmin(*y0, c->ylo);
    if (usable(&ay, c->yhi)) *y1 = fmax(*y1, c->yhi);
    return n;
}

/* Points of a series to draw, in pixels (allocated): the usable ones; past MAX_LINE_PTS, the
 * lowest and the highest of each bucket of consecutive points, in their order, so a long noisy
 * series keeps its spikes (a mean would hide exactly the gradient spikes one looks for). */
static int series_pixels(const svg_series *s, const axis *ax, const axis *ay, double **px,
                         double **py) {
    int n = 0;
    for (int k = 0; k < s->n; k++) n += usable(ax, s->x[k]) && usable(ay, s->y[k]);
    int per = n > MAX_LINE_PTS ? (2 * n + MAX_LINE_PTS - 1) / MAX_LINE_PTS : 1;
    *px = svg_xrealloc(NULL, sizeof(double) * (size_t)(2 * (n / per) + 2));
    *py = svg_xrealloc(NULL, sizeof(double) * (size_t)(2 * (n / per) + 2));
    int m = 0, in = 0;
    double lox = 0, loy = 0, hix = 0, hiy = 0;
    for (int k = 0; k < s->n; k++) {
        if (!usable(ax, s->x[k]) || !usable(ay, s->y[k])) continue;
        double x = ax_px(ax, s->x[k]), y = ax_px(ay, s->y[k]);
        if (per == 1) {
            (*px)[m] = x;
            (*py)[m++] = y;
            continue;
        }
        if (in == 0 || y < loy) { lox = x; loy = y; }
        if (in == 0 || y > hiy) { hix = x; hiy = y; }
        if (++in == per || k == s->n - 1) {
            int hi_first = hix < lox;
            (*px)[m] = hi_first ? hix : lox;
            (*py)[m++] = hi_first ? hiy : loy;
            if (hix != lox || hiy != loy) {
                (*px)[m] = hi_first ? lox : hix;
                (*py)[m++] = hi_first ? loy : hiy;
            }
            in = 0;
        }
    }
    if (in) {   /* the last bucket, when its last point was skipped */
        (*px)[m] = lox;
        (*py)[m++] = loy;
    }
    return m;
}

static int write_series(FILE *f, const svg_series *s, const axis *ax, const axis *ay) {
    const char *col = palette[s->color % N_PALETTE];
    int marks = 0;
    if (s->lo) {   /* the band: hi forwards, lo backwards */
        int first = 1;
        for (int pass = 0; pass < 2; pass++)
            for (int i = 0; i < s->n; i++) {
                int k = pass ? s->n - 1 - i : i;
                double b = pass ? s->lo[k] : s->hi[k];
                if (!usable(ax, s->x[k]) || !usable(ay, s->y[k]) || !usable(ay, s->lo[k]) ||
                    !usable(ay, s->hi[k]))
                    continue;
                if (first) fprintf(f, "<polygon class=\"band\" fill=\"%s\" fill-opacity=\"0.15\" "
                                      "stroke=\"none\" points=\"", col);
                fprintf(f, "%s%.1f,%.1f", first ? "" : " ", ax_px(ax, s->x[k]), ax_px(ay, b));
                first = 0;
            }
        if (!first) fprintf(f, "\"/>\n");
    }
    double *px, *py;
    int m = series_pixels(s, ax, ay, &px, &py);
    if ((s->style & SVG_LINE) && m >= 2) {
        fprintf(f, "<polyline class=\"data\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" "
                   "stroke-linejoin=\"round\"%s points=\"", col, dash_attr(s->dash));
        for (int i = 0; i < m; i++) fprintf(f, "%s%.1f,%.1f", i ? " " : "", px[i], py[i]);
        fprintf(f, "\"/>\n");
        marks++;
    }
    if ((s->style & SVG_MARKERS) || m == 1) {
        int stride = m > MAX_MARKERS ? (m + MAX_MARKERS - 1) / MAX_MARKERS : 1;
        /* hundreds of markers: small ones, or they hide the lines under them */
        const char *r = m > 200 ? "1.5" : (s->style & SVG_LINE) ? "2.5" : "3";
        for (int i = 0; i < m; i += stride) {
            fprintf(f, "<circle class=\"data\" cx=\"%.1f\" cy=\"%.1f\" r=\"%s\" fill=\"%s\"/>\n",
                    px[i], py[i], r, col);
            marks++;
        }
    }
    free(px);
    free(py);
    return marks;
}

static void write_legend(FILE *f, const svg_chart *c, double x, double y) {
    int row = 0;
    for (int i = 0; i < c->n_series; i++) {
        const svg_series *s = c->series[i];
        if (s->label == NULL) continue;
        const char *col = palette[s->color % N_PALETTE];
        double yy = y + row * LEGEND_ROW;
        if (s->style & SVG_LINE)
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                       "stroke-width=\"2\"%s/>\n", x, yy, x + 22, yy, col, dash_attr(s->dash));
        if (s->style & SVG_MARKERS)
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", x + 11, yy, col);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" dominant-baseline=\"middle\">", x + 28, yy);
        escape_cut(f, s->label, 30);
        fprintf(f, "</text>\n");
        row++;
    }
}

int svg_chart_write(const svg_chart *c, FILE *f, int standalone) {
    int n_legend = 0;
    for (int i = 0; i < c->n_series; i++) n_legend += c->series[i]->label != NULL;
    int w = CHART_W;
    double pl = PLOT_L, pr = w - (n_legend ? LEGEND_W : 24), pt = PLOT_T, pb = PLOT_T + PLOT_H;
    int h = PLOT_T + PLOT_H + PLOT_B;
    if (PLOT_T + n_legend * LEGEND_ROW + 8 > h) h = PLOT_T + n_legend * LEGEND_ROW + 8;

    /* scales: auto means log only where every value is positive and they span decades */
    double x0, x1, y0, y1;
    int any = chart_range(c, 0, 0, &x0, &x1, &y0, &y1);
    axis ax = {.px0 = pl, .px1 = pr}, ay = {.px0 = pb, .px1 = pt};
    if (any) {
        int xpos = 1, ypos = 1;
        for (int i = 0; i < c->n_series; i++)
            for (int k = 0; k < c->series[i]->n; k++) {
                xpos &= c->series[i]->x[k] > 0;
                ypos &= c->series[i]->y[k] > 0;
            }
        ax.log = decide_log(c->xscale, xpos, x0, x1);
        ay.log = decide_log(c->yscale, ypos, y0, y1);
        any = chart_range(c, ax.log, ay.log, &x0, &x1, &y0, &y1);
    }
    write_open(f, c->name, w, h, c->attr_name, c->attr_val, c->n_attrs, standalone);
    write_titles(f, c->title, c->note, c->xlabel, c->ylabel, pl, pr, pt, pb);
    if (!any) {
        write_nodata(f, pl, pr, pt, pb);
        if (n_legend) write_legend(f, c, pr + 14, pt + 6);
        fprintf(f, "</svg>\n");
        return 0;
    }
    axis_fit(&ax, x0, x1, 0.02, 0, 0);
    axis_fit(&ay, y0, y1, 0.05, usable(&ay, c->ylo) && y0 == c->ylo,
             usable(&ay, c->yhi) && y1 == c->yhi);

    /* grid, ticks, frame */
    double t[MAX_TICKS];
    char lab[MAX_TICKS][24];
    int nt = axis_ticks(&ax, t, lab);
    for (int i = 0; i < nt; i++) {
        double p = ax_px(&ax, t[i]);
        if (p < pl - 0.5 || p > pr + 0.5) continue;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e6e6e6\"/>\n",
                p, pt, p, pb);
        fprintf(f, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
                p, pb + 15, lab[i]);
    }
    nt = axis_ticks(&ay, t, lab);
    for (int i = 0; i < nt; i++) {
        double p = ax_px(&ay, t[i]);
        if (p < pt - 0.5 || p > pb + 0.5) continue;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e6e6e6\"/>\n",
                pl, p, pr, p);
        fprintf(f, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" "
                   "dominant-baseline=\"middle\">%s</text>\n", pl - 5, p, lab[i]);
    }
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
               "stroke=\"#999\"/>\n", pl, pt, pr - pl, pb - pt);
    if (ay.log || ax.log)
        fprintf(f, "<text class=\"note\" x=\"%.1f\" y=\"16\" text-anchor=\"end\">%s</text>\n",
                pr, ax.log && ay.log ? "log x, log y" : ay.log ? "log y" : "log x");

    for (int i = 0; i < c->n_hlines; i++) {
        if (!usable(&ay, c->hline_y[i])) continue;
        double p = ax_px(&ay, c->hline_y[i]);
        fprintf(f, "<line class=\"ref\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                   "stroke=\"#555\" stroke-width=\"1\" stroke-dasharray=\"5 4\"/>\n", pl, p, pr, p);
        if (c->hline_label[i]) {
            fprintf(f, "<text class=\"note\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", pr - 4,
                    p - 4);
            svg_escape(f, c->hline_label[i]);
            fprintf(f, "</text>\n");
        }
    }
    int marks = 0;
    for (int i = 0; i < c->n_series; i++) marks += write_series(f, c->series[i], &ax, &ay);
    if (n_legend) write_legend(f, c, pr + 14, pt + 6);
    fprintf(f, "</svg>\n");
    return marks;
}

/* ---- heatmaps ---- */

/* viridis at nine evenly spaced stops */
static const unsigned char viridis[9][3] = {
    {0x44, 0x01, 0x54}, {0x47, 0x2c, 0x7a}, {0x3b, 0x51, 0x8b}, {0x2c, 0x71, 0x8e}, {0x21, 0x90, 0x8d},
    {0x27, 0xad, 0x81}, {0x5c, 0xc8, 0x63}, {0xaa, 0xdc, 0x32}, {0xfd, 0xe7, 0x25}};

/* The mean of the finite values of block (r of nr, c of nc) of a rows x cols matrix, NaN when
 * it has none: how a heatmap averages a large matrix down to the cells it draws. */
static double block_mean(const double *v, int rows, int cols, int r, int nr, int c, int nc) {
    int r0 = (int)((int64_t)r * rows / nr), r1 = (int)((int64_t)(r + 1) * rows / nr);
    int c0 = (int)((int64_t)c * cols / nc), c1 = (int)((int64_t)(c + 1) * cols / nc);
    double sum = 0;
    int k = 0;
    for (int i = r0; i < r1; i++)
        for (int j = c0; j < c1; j++) {
            double x = v[(size_t)i * (size_t)cols + (size_t)j];
            if (isfinite(x)) {
                sum += x;
                k++;
            }
        }
    return k ? sum / k : NAN;
}

static void colour(double u, char out[8]) {
    if (!(u >= 0)) u = 0;
    if (u > 1) u = 1;
    double p = u * 8;
    int i = (int)p;
    if (i > 7) i = 7;
    double fr = p - i;
    int rgb[3];
    for (int k = 0; k < 3; k++)
        rgb[k] = (int)(viridis[i][k] + (viridis[i + 1][k] - viridis[i][k]) * fr + 0.5);
    snprintf(out, 8, "#%02x%02x%02x", rgb[0] & 0xff, rgb[1] & 0xff, rgb[2] & 0xff);
}

int svg_heatmap_write(const svg_heatmap *h, FILE *f, int standalone) {
    int w = CHART_W;
    double pl = PLOT_L, pr = w - 110, pt = PLOT_T, pb = PLOT_T + PLOT_H;
    int hh = PLOT_T + PLOT_H + PLOT_B;
    write_open_attrs(f, h->name, w, hh, h->attr_name, h->attr_val, standalone);
    write_titles(f, h->title, h->note, h->xlabel, h->ylabel, pl, pr, pt, pb);

    /* average down to at most HEAT_COLS x HEAT_ROWS cells */
    int nc = h->ncols < HEAT_COLS ? h->ncols : HEAT_COLS;
    int nr = h->nrows < HEAT_ROWS ? h->nrows : HEAT_ROWS;
    double *cell = svg_xrealloc(NULL, sizeof(double) * (size_t)(nc > 0 ? nc : 1) * (size_t)(nr > 0 ? nr : 1));
    double vmin = INFINITY, vmax = -INFINITY;
    for (int r = 0; r < nr; r++)
        for (int c = 0; c < nc; c++) {
            double v = block_mean(h->v, h->nrows, h->ncols, r, nr, c, nc);
            cell[(size_t)r * (size_t)nc + (size_t)c] = v;
            if (isfinite(v)) {
                vmin = fmin(vmin, v);
                vmax = fmax(vmax, v);
            }
        }
    if (!(vmin <= vmax)) {
        free(cell);
        write_nodata(f, pl, pr, pt, pb);
        fprintf(f, "</svg>\n");
        return 0;
    }
    if (vmax - vmin < 1e-12) {
        vmin -= 0.5;
        vmax += 0.5;
    }
    double cw = (pr - pl) / nc, ch = (pb - pt) / nr;
    int marks = 0;
    /* crispEdges: no hairline seams between cells */
    fprintf(f, "<g shape-rendering=\"crispEdges\">\n");
    for (int r = 0; r < nr; r++)
        for (int c = 0; c < nc; c++) {
            double v = cell[(size_t)r * (size_t)nc + (size_t)c];
            if (!isfinite(v)) continue;
            char col[8];
            colour((v - vmin) / (vmax - vmin), col);
            fprintf(f, "<rect class=\"data\" x=\"%.1f\" y=\"%.1f\" width=\"%.2f\" height=\"%.2f\" "
                       "fill=\"%s\"/>\n", pl + c * cw, pb - (r + 1) * ch, cw + 0.3, ch + 0.3, col);
            marks++;
        }
    fprintf(f, "</g>\n");
    free(cell);
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
               "stroke=\"#999\"/>\n", pl, pt, pr - pl, pb - pt);

    /* x ticks: a few columns, labelled with the x of their first source column */
    int nxt = nc < 7 ? nc : 7;
    int last = -1;
    for (int k = 0; k < nxt; k++) {
        int c = nxt > 1 ? (int)((double)k * (nc - 1) / (nxt - 1) + 0.5) : 0;
        if (c == last) continue;
        last = c;
        int src = (int)((int64_t)c * h->ncols / nc);
        double p = pl + (c + 0.5) * cw;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#999\"/>\n", p,
                pb, p, pb + 4);
        fprintf(f, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n",
                p, pb + 15, h->x ? h->x[src] : (double)src);
    }
    /* y ticks: round row numbers, at the row's centre */
    double t[MAX_TICKS], step;
    int nyt = nice_ticks(0, h->nrows - 1, 5, t, &step);
    for (int k = 0; k < nyt; k++) {
        if (t[k] != floor(t[k])) continue;
        double p = pb - (t[k] + 0.5) * (pb - pt) / h->nrows;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#999\"/>\n",
                pl - 4, p, pl, p);
        fprintf(f, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" "
                   "dominant-baseline=\"middle\">%g</text>\n", pl - 6, p, t[k]);
    }
    /* the colour bar */
    double bx = pr + 18, bw = 14;
    for (int k = 0; k < 48; k++) {
        char col[8];
        colour((k + 0.5) / 48, col);
        fprintf(f, "<rect x=\"%.1f\" y=\"%.2f\" width=\"%.1f\" height=\"%.2f\" fill=\"%s\"/>\n", bx,
                pb - (k + 1) * (pb - pt) / 48, bw, (pb - pt) / 48 + 0.3, col);
    }
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
               "stroke=\"#999\"/>\n", bx, pt, bw, pb - pt);
    int nbt = nice_ticks(vmin, vmax, 5, t, &step);
    for (int k = 0; k < nbt; k++) {
        double p = pb - (t[k] - vmin) / (vmax - vmin) * (pb - pt);
        char lab[24];
        if (h->v_is_log10) fmt_pow10(lab, sizeof lab, t[k]);
        else fmt_lin(lab, sizeof lab, t[k], step);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555\"/>\n",
                bx + bw, p, bx + bw + 3, p);
        fprintf(f, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" dominant-baseline=\"middle\">%s"
                   "</text>\n", bx + bw + 5, p, lab);
    }
    if (h->vlabel) {
        fprintf(f, "<text class=\"label\" transform=\"translate(%.1f,%.1f) rotate(90)\" "
                   "text-anchor=\"middle\">", (double)w - 12, (pt + pb) / 2);
        svg_escape(f, h->vlabel);
        fprintf(f, "</text>\n");
    }
    fprintf(f, "</svg>\n");
    return marks;
}

// ---- matrices (attention maps) ------------------------------------------------------------

#define MAT_MAIN_W     460   /* the main map fits this box              */
#define MAT_MAIN_H     300
#define MAT_CELL_MAX   32    /* a few cells do not fill the page        */
#define MAT_BAR_MIN    120   /* the colour bar, at least this tall      */
#define MAT_SMALL_W    118   /* a small multiple fits this box          */
#define MAT_SMALL_H    90
#define MAT_SMALL_SLOT 140
#define MAT_SMALL_MAX  40    /* small multiples averaged down to this   */

/* cell sizes for n rows x m columns in a w x h box: at most MAT_CELL_MAX, and no more than 4:1
 * (a one-row map gets short wide cells, not a 300 px column per position) */
static void mat_cells(int nrows, int ncols, double w, double h, double cap, double *cw,
                      double *ch) {
    *cw = fmin(w / (ncols > 0 ? ncols : 1), cap);
    *ch = fmin(h / (nrows > 0 ? nrows : 1), cap);
    *ch = fmin(*ch, fmax(4 * *cw, 12));
    *cw = fmin(*cw, fmax(4 * *ch, 12));
}

/* Ticks along one side of a map of n cells, `cell` px each from `start`: round numbers v
 * between v0 and the last cell's. Columns (x) are blocks of `step` positions, so position v
 * sits within its block; rows are samples, every step-th, so a tick between two sits between
 * their centres. x: below the map (at y = edge), else left of it (at x = edge). */
static void mat_ticks(FILE *f, int x, int n, double v0, double step, double last, double start,
                      double cell, double edge) {
    double t[MAX_TICKS], st;
    int want = n < 8 ? (n > 1 ? n : 1) : 8;
    int nt = nice_ticks(v0, last, want, t, &st);
    for (int k = 0; k < nt; k++) {
        if (t[k] != floor(t[k])) continue;   /* positions and steps are whole numbers */
        double p = x ? start + (t[k] + 0.5 - v0) / step * cell
                     : start + ((t[k] - v0) / step + 0.5) * cell;
        if (x)
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#999\"/>\n"
                       "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g"
                       "</text>\n",
                    p, edge, p, edge + 4, p, edge + 15, t[k]);
        else
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#999\"/>\n"
                       "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" "
                       "dominant-baseline=\"middle\">%g</text>\n",
                    edge - 4, p, edge, p, edge - 6, p, t[k]);
    }
}

/* the column's positions in a cell title: "5", or "8-11" for a summed block */
static void mat_col_text(const svg_matrix *m, int c, char *b, size_t n) {
    double lo = m->col0 + c * m->col_step, hi = lo + m->col_step;
    if (m->col_end > lo && hi > m->col_end) hi = m->col_end;
    if (hi - lo <= 1) snprintf(b, n, "%g", lo);
    else snprintf(b, n, "%g\xE2\x80\x93%g", lo, hi - 1);   /* U+2013 */
}

/* Cells of m in the box at (x, y), cw x ch each; `titles`: a <title> per cell. Returns marks. */
static int mat_cells_write(FILE *f, const svg_matrix *m, double x, double y, double cw, double ch,
                           double vmin, double vmax, const char *row_name, const char *col_name,
                           int titles) {
    int marks = 0;
    fprintf(f, "<g shape-rendering=\"crispEdges\">\n");
    for (int r = 0; r < m->nrows; r++)
        for (int c = 0; c < m->ncols; c++) {
            double v = m->v[(size_t)r * (size_t)m->ncols + (size_t)c];
            if (!isfinite(v)) continue;
            char col[8];
            colour((v - vmin) / (vmax - vmin), col);
            fprintf(f, "<rect class=\"data\" x=\"%.1f\" y=\"%.1f\" width=\"%.2f\" height=\"%.2f\" "
                       "fill=\"%s\"", x + c * cw, y + r * ch, cw + 0.3, ch + 0.3, col);
            marks++;
            if (!titles) {
                fputs("/>\n", f);
                continue;
            }
            char ct[48];
            mat_col_text(m, c, ct, sizeof ct);
            fputs("><title>", f);
            svg_escape(f, row_name ? row_name : "row");
            fprintf(f, " %g, ", m->row0 + r * m->row_step);
            svg_escape(f, col_name ? col_name : "column");
            fprintf(f, " %s: %.4g</title></rect>\n", ct, v);
        }
    fputs("</g>\n", f);
    return marks;
}

/* m averaged down to at most MAT_SMALL_MAX cells a side (the values allocated into *buf) */
static svg_matrix mat_shrink(const svg_matrix *m, double **buf) {
    svg_matrix s = *m;
    s.nrows = m->nrows < MAT_SMALL_MAX ? m->nrows : MAT_SMALL_MAX;
    s.ncols = m->ncols < MAT_SMALL_MAX ? m->ncols : MAT_SMALL_MAX;
    *buf = svg_xrealloc(NULL, sizeof(double) * (size_t)(s.nrows > 0 ? s.nrows : 1) *
                                  (size_t)(s.ncols > 0 ? s.ncols : 1));
    for (int r = 0; r < s.nrows; r++)
        for (int c = 0; c < s.ncols; c++) {
            (*buf)[(size_t)r * (size_t)s.ncols + (size_t)c] =
                block_mean(m->v, m->nrows, m->ncols, r, s.nrows, c, s.ncols);
        }
    s.v = *buf;
    return s;
}

static void mat_range(const svg_matrix *m, double *lo, double *hi) {
    for (size_t i = 0; m->v && i < (size_t)m->nrows * (size_t)(m->ncols > 0 ? m->ncols : 0); i++)
        if (isfinite(m->v[i])) {
            *lo = fmin(*lo, m->v[i]);
            *hi = fmax(*hi, m->v[i]);
        }
}

int svg_matrix_write(const svg_matrix_map *h, FILE *f, int standalone) {
    const svg_matrix *m = &h->main;
    double vmin = INFINITY, vmax = -INFINITY;
    mat_range(m, &vmin, &vmax);
    int any = vmin <= vmax;
    for (int k = 0; any && k < h->n_small; k++) mat_range(&h->small[k], &vmin, &vmax);
    /* weights are probabilities: the scale starts at 0, so a flat map reads as flat */
    vmin = fmin(vmin, 0);
    if (any && vmax - vmin < 1e-12) vmax = vmin + 1;

    double pl = PLOT_L, pt = PLOT_T, cw = 0, ch = 0;
    if (any) mat_cells(m->nrows, m->ncols, MAT_MAIN_W, MAT_MAIN_H, MAT_CELL_MAX, &cw, &ch);
    double pr = any ? pl + cw * m->ncols : pl + MAT_MAIN_W;
    double pb = any ? pt + ch * m->nrows : pt + MAT_MAIN_H / 2.0;
    double bh = any ? fmax(pb - pt, MAT_BAR_MIN) : 0;
    double hgt = fmax(pb + PLOT_B, pt + bh + 12);
    int n_small = any ? h->n_small : 0, slot = MAT_SMALL_SLOT;
    if (n_small > 0 && pl + n_small * slot > CHART_W) slot = (int)((CHART_W - pl) / n_small);
    double sy = hgt + 4, sh = 0;   /* the small multiples' row */
    double *scw = NULL, *sch = NULL;
    if (n_small > 0) {
        scw = svg_xrealloc(NULL, sizeof(double) * (size_t)n_small);
        sch = svg_xrealloc(NULL, sizeof(double) * (size_t)n_small);
        for (int k = 0; k < n_small; k++) {
            int nr = h->small[k].nrows < MAT_SMALL_MAX ? h->small[k].nrows : MAT_SMALL_MAX;
            int nc = h->small[k].ncols < MAT_SMALL_MAX ? h->small[k].ncols : MAT_SMALL_MAX;
            mat_cells(nr, nc, fmin(MAT_SMALL_W, slot - 20), MAT_SMALL_H, 16, &scw[k], &sch[k]);
            sh = fmax(sh, sch[k] * nr);
        }
        hgt = sy + 34 + sh + 10;
    }
    write_open_attrs(f, h->name, CHART_W, (int)ceil(hgt), h->attr_name, h->attr_val, standalone);
    write_titles(f, h->title, h->note, h->xlabel, h->ylabel, pl, pr, pt, pb);
    if (!any) {
        write_nodata(f, pl, pr, pt, pb);
        fprintf(f, "</svg>\n");
        return 0;
    }
    int marks = mat_cells_write(f, m, pl, pt, cw, ch, vmin, vmax, h->row_name, h->col_name, 1);
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
               "stroke=\"#999\"/>\n", pl, pt, pr - pl, pb - pt);
    double col_last = m->col0 + m->ncols * m->col_step - 1;
    if (m->col_end > m->col0 && m->col_end - 1 < col_last) col_last = m->col_end - 1;
    mat_ticks(f, 1, m->ncols, m->col0, m->col_step, col_last, pl, cw, pb);
    mat_ticks(f, 0, m->nrows, m->row0, m->row_step, m->row0 + (m->nrows - 1) * m->row_step, pt,
              ch, pl);

    /* the colour bar, right of the map */
    double bx = pr + 30, bw = 14;
    for (int k = 0; k < 48; k++) {
        char col[8];
        colour((k + 0.5) / 48, col);
        fprintf(f, "<rect x=\"%.1f\" y=\"%.2f\" width=\"%.1f\" height=\"%.2f\" fill=\"%s\"/>\n", bx,
                pt + bh - (k + 1) * bh / 48, bw, bh / 48 + 0.3, col);
    }
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
               "stroke=\"#999\"/>\n", bx, pt, bw, bh);
    double t[MAX_TICKS], step;
    int nbt = nice_ticks(vmin, vmax, 5, t, &step);
    for (int k = 0; k < nbt; k++) {
        double p = pt + bh - (t[k] - vmin) / (vmax - vmin) * bh;
        char lab[24];
        fmt_lin(lab, sizeof lab, t[k], step);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555\"/>\n"
                   "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" dominant-baseline=\"middle\">%s"
                   "</text>\n", bx + bw, p, bx + bw + 3, p, bx + bw + 5, p, lab);
    }
    if (h->vlabel) {
        fprintf(f, "<text class=\"label\" transform=\"translate(%.1f,%.1f) rotate(90)\" "
                   "text-anchor=\"middle\">", bx + bw + 48, pt + bh / 2);
        svg_escape(f, h->vlabel);
        fprintf(f, "</text>\n");
    }

    /* the small multiples: earlier records in the same colours */
    if (n_small > 0 && h->small_note) {
        fprintf(f, "<text class=\"note\" x=\"%.1f\" y=\"%.1f\">", pl, sy + 12);
        escape_cut(f, h->small_note, 120);
        fprintf(f, "</text>\n");
    }
    for (int k = 0; k < n_small; k++) {
        double *buf;
        svg_matrix s = mat_shrink(&h->small[k], &buf);
        double x = pl + k * slot, y = sy + 34;
        if (s.label) {
            fprintf(f, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\">", x, y - 5);
            escape_cut(f, s.label, 24);
            fprintf(f, "</text>\n");
        }
        marks += mat_cells_write(f, &s, x, y, scw[k], sch[k], vmin, vmax, NULL, NULL, 0);
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
                   "stroke=\"#bbb\"/>\n", x, y, scw[k] * s.ncols, sch[k] * s.nrows);
        free(buf);
    }
    free(scw);
    free(sch);
    fprintf(f, "</svg>\n");
    return marks;
}
