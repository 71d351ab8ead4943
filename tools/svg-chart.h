/*
 * svg-chart.h: line charts and heatmaps written as SVG text, for `gexec report` and `gexec plot`.
 * No dependencies, no scripts: every mark is a plain SVG element, so the output works inline in
 * an HTML page or as a standalone .svg file. Not a plotting library: fixed layout, one y axis,
 * automatic ranges and ticks (linear or log10), a legend at the right.
 *
 * Every element that shows data carries class "data" (polylines, point markers, heatmap cells);
 * axes, grid, legend and bands do not. The report's check script counts the "data" elements
 * with a non-zero extent, so a chart with nothing to show must draw none: it says "no data".
 *
 * Out of memory ends the program (tools/ may exit): the callers are command-line verbs.
 */
#ifndef GX_SVG_CHART_H
#define GX_SVG_CHART_H

#include <stdio.h>

/* how a series is drawn */
enum { SVG_LINE = 1, SVG_MARKERS = 2 };
enum { SVG_SOLID = 0, SVG_DASHED = 1, SVG_DOTTED = 2 };
/* an axis scale: linear, log10, or log10 when every value is positive and they span more than
 * two decades */
enum { SVG_LINEAR = 0, SVG_LOG = 1, SVG_AUTO = -1 };

typedef struct svg_chart  svg_chart;
typedef struct svg_series svg_series;

/* `name` becomes data-chart="name"; the strings are copied; any may be NULL */
svg_chart  *svg_chart_new(const char *name, const char *title, const char *xlabel,
                          const char *ylabel);
/* realloc that ends the program with a message when memory runs out (the report tools) */
void       *svg_xrealloc(void *p, size_t n);
void        svg_chart_free(svg_chart *c);
void        svg_chart_scale(svg_chart *c, int xscale, int yscale);
/* the y range includes [lo, hi] (NaN: no bound on that side), whatever the data */
void        svg_chart_ylim(svg_chart *c, double lo, double hi);
/* an extra attribute on the <svg> element, e.g. ("data-run", "lstm"); copied */
void        svg_chart_attr(svg_chart *c, const char *name, const char *value);
/* a dashed horizontal reference line (a clip threshold), part of the y range */
void        svg_chart_hline(svg_chart *c, double y, const char *label);
/* a note under the title (e.g. "every 5th step") */
void        svg_chart_note(svg_chart *c, const char *note);

/* a series in palette colour `color` (an index, taken modulo the palette), drawn as `style`
 * (SVG_LINE | SVG_MARKERS; a series of one point always gets a marker) with dash `dash`.
 * NULL label: not in the legend. The chart owns it. */
svg_series *svg_chart_series(svg_chart *c, const char *label, int color, int style, int dash);
/* a point; a NaN or infinite coordinate is skipped (so is a non-positive one on a log axis,
 * when the chart is written) */
void        svg_series_add(svg_series *s, double x, double y);
/* a point with a band from lo to hi around it (p5..p95), drawn as a light area */
void        svg_series_add_band(svg_series *s, double x, double y, double lo, double hi);
int         svg_series_count(const svg_series *s);
/* points of all series (after NaN skipping, before log-axis skipping) */
int         svg_chart_points(const svg_chart *c);

/* Write the chart. standalone: a complete SVG document (xmlns, its own <style>), else an
 * element for an HTML page whose CSS is svg_css(). Returns the number of data marks written. */
int         svg_chart_write(const svg_chart *c, FILE *f, int standalone);

/* A heatmap: ncols columns (x[c] labels column c, e.g. a training step) by nrows rows (row r is
 * y = r, drawn bottom to top), v[r * ncols + c] the value (NaN: no cell). Colours run over
 * [min, max] of the finite values through a viridis-like map, with a colour bar labelled
 * `vlabel`. Large maps are averaged down to at most 200 x 64 cells. Returns the data marks. */
typedef struct svg_heatmap {
    const char   *name, *title, *xlabel, *ylabel, *vlabel, *note;
    const char   *attr_name[4], *attr_val[4];   /* extra attributes on <svg>; NULL-ended   */
    const double *x;                            /* [ncols]                                  */
    const double *v;                            /* [nrows * ncols]                          */
    int           ncols, nrows;
    int           v_is_log10;                   /* label the colour bar 10^v                */
} svg_heatmap;
int         svg_heatmap_write(const svg_heatmap *h, FILE *f, int standalone);

/* A matrix of nrows x ncols values, row 0 at the top (reading order: an attention map's output
 * steps run down, its source positions across). Row r stands for row0 + r * row_step (the
 * sampled time steps of a cut matrix), column c for the positions [col0 + c * col_step,
 * col0 + (c + 1) * col_step) up to col_end (exclusive; the blocks a cut matrix summed). */
typedef struct svg_matrix {
    const double *v;                            /* [nrows * ncols]; NaN: no cell            */
    int           nrows, ncols;
    double        row0, row_step, col0, col_step, col_end;
    const char   *label;                        /* above a small multiple ("step 30")       */
} svg_matrix;

/* `main` drawn large, every cell with a <title> that names its row, column and value (the
 * browser shows it on hover); `small` in a row under it, drawn small (averaged down to at most
 * 40 x 40 cells), without titles. One colour scale for all, from min(0, data) to the largest
 * value, so the small multiples compare with the main map; a colour bar labelled vlabel.
 * row_name and col_name name a cell's row and column in its title ("output step 3, source
 * 5: 0.91"). Returns the data marks (cells) written. */
typedef struct svg_matrix_map {
    const char       *name, *title, *xlabel, *ylabel, *vlabel, *note, *small_note;
    const char       *row_name, *col_name;
    const char       *attr_name[4], *attr_val[4];  /* extra attributes on <svg>; NULL-ended */
    svg_matrix        main;
    const svg_matrix *small;
    int               n_small;
} svg_matrix_map;
int         svg_matrix_write(const svg_matrix_map *h, FILE *f, int standalone);

/* the CSS the non-standalone charts expect, for the page's <style> */
const char *svg_css(void);
/* the report's check script (see the header comment), for the end of a page's <body> */
const char *svg_drawn_script(void);
/* text with & < > " ' escaped, for element text and attribute values */
void        svg_escape(FILE *f, const char *s);

#endif
