/*
 * cmd-report.c: `gexec report DIR [DIR2 ...] -o report.html`: the directories that
 * `gexec train --diag DIR` wrote (DIR/diag.jsonl, format version 1, described in the README) as
 * one self-contained HTML page: inline SVG, a small CSS block, a dozen lines of our
 * own script, nothing fetched. Several directories overlay their runs in the line charts,
 * labelled by directory name (an RNN beside an LSTM).
 *
 * The charts (each <svg class="chart" data-chart="NAME">):
 *   loss             train loss of every step, validation loss at each evaluation
 *   grad_norm        global gradient norm before clipping; clipped steps marked, the clip
 *                    threshold dashed
 *   grad_time        per run and (layer, carry): a heatmap of log10 ||dL/dh_t||, x the
 *                    training step of each diag record, y the time step t of the BPTT window
 *   grad_profile     per (layer, carry): ||dL/dh_t|| against the lag T-1-t (log y) at the
 *                    first, middle and last diag record: the vanishing-gradient curve
 *   gate_saturation  per (layer, probe): the fraction of saturated units (plain probes, whose
 *                    saturation is null, are left out)
 *   gate_mean        per (layer, probe): the mean, with the p5..p95 band when at most 4
 *                    series are shown (more bands cover each other)
 *   spectral_rho     per (param, block): the spectral radius of the recurrent weights (rho = 1
 *                    dashed), and spectral_sigma: the largest singular value per param
 *   param_grad_norm  per param: the gradient norm (log y); update_ratio: |update| / |weight|
 *   attention        per run and distribution probe (a "dist" matrix in its gate entries; only
 *                    when some run has one): batch row 0's weights at the last diag record,
 *                    rows = output steps top to bottom, columns = source positions, a
 *                    <title> per cell, up to 4 earlier records small under it in the same
 *                    colours; attention_entropy: each such probe's mean row entropy, ln S dashed
 * and a summary table, one column per run. A chart with nothing to show says "no data" and
 * draws no data marks; the page's script (svg_drawn_script) then leaves its data-drawn at 0.
 *
 * Not here: the CSV files beside diag.jsonl (the same numbers; `gexec plot` draws any CSV), the
 * per-time-step "states" records, and any live refresh. A last line without its newline (a run
 * still writing) is skipped with a note; any other malformed line is an error with its number.
 */
#define _POSIX_C_SOURCE 200809L   /* getline */
#include "cli.h"
#include "svg-chart.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DIAG_VERSION 1
#define MAX_BANDS    4      /* gate_mean draws p5..p95 bands for at most this many series */

/* ---- the runs ---- */

typedef struct dvec {
    double *v;
    int     n, cap;
} dvec;

typedef struct run {
    const char *dir;
    char       *label;          /* the directory's name, or all of DIR when names collide */
    cJSON      *meta;
    dvec        tr_step, tr_loss, tr_gn;      /* every train record                      */
    dvec        clip_step, clip_gn;           /* the train records with clipped true     */
    dvec        val_step, val_loss;
    double      last_elapsed;
    cJSON     **diag;                         /* the diag records, whole, in file order  */
    int         n_diag, cap_diag;
    int         n_nan;
    char        first_nan[200];
    cJSON      *done;
} run;

typedef struct report {
    run  *runs;
    int   n_runs;
    FILE *f;
    int   charts, drawn;    /* charts written, and those with data marks */
} report;

static void dvec_push(dvec *d, double x) {
    if (d->n == d->cap) {
        d->cap = d->cap ? 2 * d->cap : 256;
        d->v = svg_xrealloc(d->v, sizeof(double) * (size_t)d->cap);
    }
    d->v[d->n++] = x;
}

/* a number field; NaN when absent, null or not a number (the writer puts null for non-finite) */
static double num(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static const char *str(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const cJSON *arr(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsArray(v) ? v : NULL;
}

static void run_free(run *r) {
    free(r->label);
    cJSON_Delete(r->meta);
    cJSON_Delete(r->done);
    for (int i = 0; i < r->n_diag; i++) cJSON_Delete(r->diag[i]);
    free(r->diag);
    dvec *vs[] = {&r->tr_step, &r->tr_loss, &r->tr_gn, &r->clip_step, &r->clip_gn, &r->val_step,
                  &r->val_loss};
    for (size_t i = 0; i < sizeof vs / sizeof vs[0]; i++) free(vs[i]->v);
}

static int line_fail(const char *path, long line, const char *fmt, ...) GX_PRINTF(3, 4);
static int line_fail(const char *path, long line, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "gexec: %s:%ld: error: ", path, line);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return 1;
}

/* One record into the run; 0, or 1 after printing the error. The run takes `rec`. */
static int run_add(run *r, cJSON *rec, const char *type, const char *path, long line) {
    if (r->meta == NULL && strcmp(type, "meta") != 0) {
        cJSON_Delete(rec);
        return line_fail(path, line, "the first record is \"%s\", not \"meta\" (is this a "
                         "directory written by gexec train --diag?)", type);
    }
    if (strcmp(type, "meta") == 0) {
        double v = num(rec, "version");
        if (isnan(v)) {
            cJSON_Delete(rec);
            return line_fail(path, line, "the meta record has no number \"version\"");
        }
        if (v != DIAG_VERSION) {
            cJSON_Delete(rec);
            return line_fail(path, line, "diagnostics version %g is not supported (this gexec "
                             "reads version %d)", v, DIAG_VERSION);
        }
        if (r->meta) cJSON_Delete(rec);   /* a resumed run appends a second meta: keep the first */
        else r->meta = rec;
        return 0;
    }
    int known = strcmp(type, "train") == 0 || strcmp(type, "val") == 0 ||
                strcmp(type, "diag") == 0 || strcmp(type, "nan") == 0;
    double step = num(rec, "step");
    if (known && isnan(step)) {
        cJSON_Delete(rec);
        return line_fail(path, line, "a \"%s\" record without a number \"step\"", type);
    }
    if (strcmp(type, "train") == 0) {
        dvec_push(&r->tr_step, step);
        dvec_push(&r->tr_loss, num(rec, "loss"));
        dvec_push(&r->tr_gn, num(rec, "grad_norm"));
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rec, "clipped"))) {
            dvec_push(&r->clip_step, step);
            dvec_push(&r->clip_gn, num(rec, "grad_norm"));
        }
        double el = num(rec, "elapsed_s");
        if (!isnan(el)) r->last_elapsed = el;
    } else if (strcmp(type, "val") == 0) {
        dvec_push(&r->val_step, step);
        dvec_push(&r->val_loss, num(rec, "loss"));
    } else if (strcmp(type, "diag") == 0) {
        if (r->n_diag == r->cap_diag) {
            r->cap_diag = r->cap_diag ? 2 * r->cap_diag : 64;
            r->diag = svg_xrealloc(r->diag, sizeof(cJSON *) * (size_t)r->cap_diag);
        }
        r->diag[r->n_diag++] = rec;
        return 0;
    } else if (strcmp(type, "nan") == 0) {
        if (r->n_nan++ == 0) {
            const char *op = str(rec, "op"), *where = str(rec, "where"), *ph = str(rec, "phase");
            snprintf(r->first_nan, sizeof r->first_nan, "step %g: %s at %s (%s)", step,
                     op ? op : "?", where ? where : "?", ph ? ph : "?");
        }
    } else if (strcmp(type, "done") == 0) {
        cJSON_Delete(r->done);
        r->done = rec;
        return 0;
    }
    /* unknown types: a newer writer's extra records, ignored */
    cJSON_Delete(rec);
    return 0;
}

static int blank(const char *s) {
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n') return 0;
    return 1;
}

/* Read DIR/diag.jsonl into r; 0, or 1 after printing one line. */
static int run_load(run *r, const char *dir) {
    memset(r, 0, sizeof *r);
    r->dir = dir;
    r->last_elapsed = NAN;
    struct stat sb;
    if (stat(dir, &sb) != 0)
        return cli_failf("%s: %s (gexec report wants the directory gexec train --diag wrote)",
                         dir, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return cli_failf("%s: not a directory (gexec report wants the directory gexec train "
                         "--diag wrote)", dir);
    size_t n = strlen(dir);
    char *path = svg_xrealloc(NULL, n + 16);
    snprintf(path, n + 16, "%s%sdiag.jsonl", dir, n && dir[n - 1] == '/' ? "" : "/");
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        int rc = cli_failf("%s: cannot open: %s (gexec train --diag DIR writes it)", path,
                           strerror(errno));
        free(path);
        return rc;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 0;
    int rc = 0;
    while (rc == 0 && (len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if (blank(line)) continue;
        if ((size_t)len != strlen(line)) {
            rc = line_fail(path, lineno, "a NUL byte in the line");
            break;
        }
        cJSON *rec = cJSON_ParseWithOpts(line, NULL, 1);
        if (rec == NULL) {
            if (line[len - 1] != '\n' && feof(f)) {
                /* a run still writing: its last line is not finished yet */
                fprintf(stderr, "gexec: note: %s:%ld: unfinished last line skipped\n", path, lineno);
                break;
            }
            const char *at = cJSON_GetErrorPtr();
            char col[48] = "";
            if (at && at >= line && at <= line + len)
                snprintf(col, sizeof col, " at column %ld", (long)(at - line) + 1);
            rc = line_fail(path, lineno, "malformed JSON%s", col);
            break;
        }
        const char *type = cJSON_IsObject(rec) ? str(rec, "type") : NULL;
        if (type == NULL) {
            cJSON_Delete(rec);
            rc = line_fail(path, lineno, "a record must be a JSON object with a string \"type\"");
            break;
        }
        char tbuf[64];
        snprintf(tbuf, sizeof tbuf, "%s", type);   /* run_add may free rec */
        rc = run_add(r, rec, tbuf, path, lineno);
    }
    if (rc == 0 && ferror(f)) rc = cli_failf("%s: read error: %s", path, strerror(errno));
    if (rc == 0 && r->meta == NULL)
        rc = cli_failf("%s: no records (the first line of a diagnostics file is its \"meta\" "
                       "record)", path);
    free(line);
    fclose(f);
    free(path);
    return rc;
}

/* the directory's last name ("runs/lstm/" -> "lstm") */
static char *dir_name(const char *dir) {
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    size_t b = n;
    while (b > 0 && dir[b - 1] != '/') b--;
    char *s = svg_xrealloc(NULL, n - b + 1);
    memcpy(s, dir + b, n - b);
    s[n - b] = '\0';
    return s;
}

static void label_runs(report *rp) {
    for (int i = 0; i < rp->n_runs; i++) rp->runs[i].label = dir_name(rp->runs[i].dir);
    for (int i = 0; i < rp->n_runs; i++)
        for (int j = 0; j < rp->n_runs; j++) {
            if (i == j || strcmp(rp->runs[i].label, rp->runs[j].label) != 0) continue;
            /* two directories of one name: the whole paths tell them apart (and a directory
             * given twice gets its position) */
            size_t n = strlen(rp->runs[i].dir) + 16;
            free(rp->runs[i].label);
            rp->runs[i].label = svg_xrealloc(NULL, n);
            if (strcmp(rp->runs[i].dir, rp->runs[j].dir) == 0)
                snprintf(rp->runs[i].label, n, "%s #%d", rp->runs[i].dir, i + 1);
            else
                snprintf(rp->runs[i].label, n, "%s", rp->runs[i].dir);
            break;
        }
}

/* ---- series keyed by name across runs: one colour per key, one dash per run ---- */

typedef struct keyed {
    svg_chart *c;
    int        style;
    char     **keys;
    int        n_keys;
    struct kent { int run, key; svg_series *s; } *e;
    int        n;
} keyed;

static svg_series *keyed_get(keyed *k, const report *rp, int run_i, const char *key) {
    int ki = -1;
    for (int i = 0; i < k->n_keys; i++)
        if (strcmp(k->keys[i], key) == 0) ki = i;
    if (ki < 0) {
        k->keys = svg_xrealloc(k->keys, sizeof(char *) * (size_t)(k->n_keys + 1));
        size_t n = strlen(key) + 1;
        k->keys[k->n_keys] = memcpy(svg_xrealloc(NULL, n), key, n);
        ki = k->n_keys++;
    }
    for (int i = 0; i < k->n; i++)
        if (k->e[i].run == run_i && k->e[i].key == ki) return k->e[i].s;
    char label[256];
    if (rp->n_runs > 1) snprintf(label, sizeof label, "%s: %s", rp->runs[run_i].label, key);
    else snprintf(label, sizeof label, "%s", key);
    k->e = svg_xrealloc(k->e, sizeof *k->e * (size_t)(k->n + 1));
    k->e[k->n].run = run_i;
    k->e[k->n].key = ki;
    k->e[k->n].s = svg_chart_series(k->c, label, ki, k->style, run_i % 3);
    return k->e[k->n++].s;
}

static void keyed_free(keyed *k) {
    for (int i = 0; i < k->n_keys; i++) free(k->keys[i]);
    free(k->keys);
    free(k->e);
}

/* ---- page ---- */

static void emit_chart(report *rp, svg_chart *c) {
    int marks = svg_chart_write(c, rp->f, 0);
    rp->charts++;
    rp->drawn += marks > 0;
    svg_chart_free(c);
}

static void heading(report *rp, const char *h, const char *help) {
    fprintf(rp->f, "<h2>%s</h2>\n", h);
    if (help) fprintf(rp->f, "<p class=\"help\">%s</p>\n", help);
}

static const char *prefix(const report *rp, int i, char *buf, size_t n, const char *what) {
    if (rp->n_runs > 1) snprintf(buf, n, "%s: %s", rp->runs[i].label, what);
    else snprintf(buf, n, "%s", what);
    return buf;
}

static void chart_loss(report *rp) {
    svg_chart *c = svg_chart_new("loss", "Loss", "step", "loss (nats)");
    char lab[256];
    for (int i = 0; i < rp->n_runs; i++) {
        const run *r = &rp->runs[i];
        if (r->tr_step.n) {
            svg_series *s = svg_chart_series(c, prefix(rp, i, lab, sizeof lab, "train"), i,
                                             SVG_LINE, SVG_SOLID);
            for (int k = 0; k < r->tr_step.n; k++) svg_series_add(s, r->tr_step.v[k], r->tr_loss.v[k]);
        }
        if (r->val_step.n) {
            svg_series *s = svg_chart_series(c, prefix(rp, i, lab, sizeof lab, "validation"), i,
                                             SVG_LINE | SVG_MARKERS, SVG_DASHED);
            for (int k = 0; k < r->val_step.n; k++) svg_series_add(s, r->val_step.v[k], r->val_loss.v[k]);
        }
    }
    emit_chart(rp, c);
}

static void chart_grad_norm(report *rp) {
    svg_chart *c = svg_chart_new("grad_norm", "Global gradient norm (before clipping)", "step",
                                 "||g||");
    char lab[256], what[64];
    int clips = 0;
    for (int i = 0; i < rp->n_runs; i++) {
        const run *r = &rp->runs[i];
        if (r->tr_step.n) {
            svg_series *s = svg_chart_series(c, prefix(rp, i, lab, sizeof lab, "grad norm"), i,
                                             SVG_LINE, SVG_SOLID);
            for (int k = 0; k < r->tr_step.n; k++) svg_series_add(s, r->tr_step.v[k], r->tr_gn.v[k]);
        }
        if (r->clip_step.n) {
            snprintf(what, sizeof what, "clipped (%d)", r->clip_step.n);
            svg_series *s = svg_chart_series(c, prefix(rp, i, lab, sizeof lab, what),
                                             rp->n_runs > 1 ? i : 3, SVG_MARKERS, SVG_SOLID);
            for (int k = 0; k < r->clip_step.n; k++) svg_series_add(s, r->clip_step.v[k], r->clip_gn.v[k]);
            clips += r->clip_step.n;
        }
        double clip = num(r->meta, "clip");
        if (clip > 0) {
            snprintf(what, sizeof what, "clip %g", clip);
            svg_chart_hline(c, clip, what);
        }
    }
    if (clips) {
        snprintf(what, sizeof what, "%d clipped step%s marked", clips, clips == 1 ? "" : "s");
        svg_chart_note(c, what);
    }
    emit_chart(rp, c);
}

/* the grad_time entry of (layer, carry) in a diag record, or NULL */
static const cJSON *find_entry(const cJSON *rec, const char *list, const char *k1,
                               const char *v1, const char *k2, const char *v2) {
    const cJSON *e;
    cJSON_ArrayForEach(e, arr(rec, list)) {
        const char *a = str(e, k1), *b = str(e, k2);
        if (a && b && strcmp(a, v1) == 0 && strcmp(b, v2) == 0) return e;
    }
    return NULL;
}

/* the distinct (layer, carry) pairs of every run's grad_time entries, "layer\tcarry" */

/* "a<TAB>b" appended to keys[0 .. n) unless it is there; the new count */
static int add_key(char ***keys, int n, const char *a, const char *b) {
    size_t len = strlen(a) + strlen(b) + 2;
    char *k = svg_xrealloc(NULL, len);
    snprintf(k, len, "%s\t%s", a, b);
    for (int j = 0; j < n; j++)
        if (strcmp((*keys)[j], k) == 0) {
            free(k);
            return n;
        }
    *keys = svg_xrealloc(*keys, sizeof(char *) * (size_t)(n + 1));
    (*keys)[n] = k;
    return n + 1;
}
static int grad_time_keys(const report *rp, char ***keys) {
    int n = 0;
    *keys = NULL;
    for (int i = 0; i < rp->n_runs; i++)
        for (int d = 0; d < rp->runs[i].n_diag; d++) {
            const cJSON *e;
            cJSON_ArrayForEach(e, arr(rp->runs[i].diag[d], "grad_time")) {
                const char *l = str(e, "layer"), *cy = str(e, "carry");
                if (!l || !cy || !arr(e, "norm")) continue;
                n = add_key(keys, n, l, cy);
            }
        }
    return n;
}

static void heatmap_grad_time(report *rp, int ri, const char *layer, const char *carry) {
    const run *r = &rp->runs[ri];
    int ncols = 0, nrows = 0;
    for (int d = 0; d < r->n_diag; d++) {
        const cJSON *e = find_entry(r->diag[d], "grad_time", "layer", layer, "carry", carry);
        if (e == NULL) continue;
        ncols++;
        int t = cJSON_GetArraySize(arr(e, "norm"));
        if (t > nrows) nrows = t;
    }
    if (ncols == 0) return;
    double *x = svg_xrealloc(NULL, sizeof(double) * (size_t)ncols);
    double *v = svg_xrealloc(NULL, sizeof(double) * (size_t)ncols * (size_t)(nrows ? nrows : 1));
    for (size_t i = 0; i < (size_t)ncols * (size_t)nrows; i++) v[i] = NAN;
    int c = 0;
    for (int d = 0; d < r->n_diag; d++) {
        const cJSON *e = find_entry(r->diag[d], "grad_time", "layer", layer, "carry", carry);
        if (e == NULL) continue;
        x[c] = num(r->diag[d], "step");
        int t = 0;
        const cJSON *val;
        cJSON_ArrayForEach(val, arr(e, "norm")) {
            /* zero and null have no logarithm: no cell */
            if (cJSON_IsNumber(val) && val->valuedouble > 0 && isfinite(val->valuedouble))
                v[(size_t)t * (size_t)ncols + (size_t)c] = log10(val->valuedouble);
            t++;
        }
        c++;
    }
    char title[256], note[160], key[256];
    snprintf(title, sizeof title, "||dL/dh_t|| through the window: layer %s, carry %s%s%s",
             layer, carry, rp->n_runs > 1 ? " \xE2\x80\x94 " : "", rp->n_runs > 1 ? r->label : "");
    snprintf(note, sizeof note, "T = %d; the top row (t = T-1) is the end of the window, where "
             "the loss gradient enters", nrows);
    snprintf(key, sizeof key, "%s/%s", layer, carry);
    svg_heatmap h = {.name = "grad_time", .title = title, .note = note,
                     .xlabel = "training step (diag records)", .ylabel = "time step t",
                     .vlabel = "||dL/dh_t|| (log scale)", .x = x, .v = v, .ncols = ncols,
                     .nrows = nrows, .v_is_log10 = 1,
                     .attr_name = {"data-run", "data-key", NULL}, .attr_val = {r->label, key, NULL}};
    int marks = svg_heatmap_write(&h, rp->f, 0);
    rp->charts++;
    rp->drawn += marks > 0;
    free(x);
    free(v);
}

static void chart_grad_profile(report *rp, const char *layer, const char *carry) {
    char title[256], key[256], lab[64];
    snprintf(title, sizeof title, "Vanishing-gradient profile: layer %s, carry %s", layer, carry);
    snprintf(key, sizeof key, "%s/%s", layer, carry);
    svg_chart *c = svg_chart_new("grad_profile", title, "lag (time steps before the window's end)",
                                 "||dL/dh_t||");
    svg_chart_scale(c, SVG_LINEAR, SVG_LOG);
    svg_chart_attr(c, "data-key", key);
    svg_chart_note(c, "at the first, middle and last diag record; a steep fall = vanishing gradients");
    for (int i = 0; i < rp->n_runs; i++) {
        const run *r = &rp->runs[i];
        /* the first, middle and last of the records that have this (layer, carry) */
        int n = 0, k = 0, pick[3] = {-1, -1, -1};
        for (int d = 0; d < r->n_diag; d++)
            n += find_entry(r->diag[d], "grad_time", "layer", layer, "carry", carry) != NULL;
        if (n == 0) continue;
        for (int d = 0; d < r->n_diag; d++) {
            if (!find_entry(r->diag[d], "grad_time", "layer", layer, "carry", carry)) continue;
            if (k == 0) pick[0] = d;
            if (k == n / 2) pick[1] = d;
            if (k == n - 1) pick[2] = d;
            k++;
        }
        for (int p = 0; p < 3; p++) {
            if ((p > 0 && pick[p] == pick[p - 1]) || (p == 2 && pick[2] == pick[0])) continue;
            const cJSON *rec = r->diag[pick[p]];
            const cJSON *norm = arr(find_entry(rec, "grad_time", "layer", layer, "carry", carry), "norm");
            char what[48];
            snprintf(what, sizeof what, "step %g", num(rec, "step"));
            svg_series *s = svg_chart_series(c, prefix(rp, i, lab, sizeof lab, what), p,
                                             SVG_LINE, i % 3);
            int T = cJSON_GetArraySize(norm), t = 0;
            const cJSON *val;
            cJSON_ArrayForEach(val, norm) {
                if (cJSON_IsNumber(val)) svg_series_add(s, T - 1 - t, val->valuedouble);
                t++;
            }
        }
    }
    emit_chart(rp, c);
}

static void section_grad_time(report *rp) {
    heading(rp, "Gradients through time",
            "How much of the loss gradient reaches each time step of the truncated-BPTT window. "
            "Colour is log10 of ||dL/dh_t||; a colour that fades toward t = 0 means the gradient "
            "vanishes over the window (a long-range dependency cannot be learned), a colour that "
            "brightens means it explodes.");
    char **keys;
    int nk = grad_time_keys(rp, &keys);
    if (nk == 0) {
        svg_heatmap h = {.name = "grad_time", .title = "||dL/dh_t|| through the window"};
        svg_heatmap_write(&h, rp->f, 0);
        rp->charts++;
        svg_chart *c = svg_chart_new("grad_profile", "Vanishing-gradient profile",
                                     "lag", "||dL/dh_t||");
        emit_chart(rp, c);
    }
    for (int k = 0; k < nk; k++) {
        char *tab = strchr(keys[k], '\t');
        *tab = '\0';
        for (int i = 0; i < rp->n_runs; i++) heatmap_grad_time(rp, i, keys[k], tab + 1);
        chart_grad_profile(rp, keys[k], tab + 1);
        free(keys[k]);
    }
    free(keys);
}

/* gate_saturation and gate_mean: one series per (run, layer/probe) */
static void chart_gates(report *rp, int means) {
    svg_chart *c = means
        ? svg_chart_new("gate_mean", "Gate activations: mean, with the p5..p95 band", "step", "activation")
        : svg_chart_new("gate_saturation", "Gate saturation", "step", "fraction saturated");
    svg_chart_scale(c, SVG_LINEAR, SVG_LINEAR);
    if (!means) {
        svg_chart_ylim(c, 0, NAN);
        svg_chart_note(c, "the share of units near the flat ends of their sigmoid or tanh, where "
                          "gradients die");
    }
    keyed k = {.c = c, .style = SVG_LINE};
    /* p5..p95 bands of more than a few gates cover each other: then means only */
    int bands = means;
    if (means) {
        keyed probe = {.c = svg_chart_new(NULL, NULL, NULL, NULL), .style = SVG_LINE};
        for (int i = 0; i < rp->n_runs; i++)
            for (int d = 0; d < rp->runs[i].n_diag; d++) {
                const cJSON *g;
                cJSON_ArrayForEach(g, arr(rp->runs[i].diag[d], "gates")) {
                    char key[256];
                    if (!str(g, "layer") || !str(g, "probe") || isnan(num(g, "mean"))) continue;
                    snprintf(key, sizeof key, "%s/%s", str(g, "layer"), str(g, "probe"));
                    keyed_get(&probe, rp, i, key);
                }
            }
        bands = probe.n <= MAX_BANDS;
        svg_chart_free(probe.c);
        keyed_free(&probe);
        if (!bands) {
            char note[96];
            snprintf(note, sizeof note, "the p5..p95 bands are drawn when at most %d gates are "
                     "shown", MAX_BANDS);
            svg_chart_note(c, note);
        }
    }
    for (int i = 0; i < rp->n_runs; i++)
        for (int d = 0; d < rp->runs[i].n_diag; d++) {
            const cJSON *rec = rp->runs[i].diag[d], *g;
            double step = num(rec, "step");
            cJSON_ArrayForEach(g, arr(rec, "gates")) {
                const char *l = str(g, "layer"), *p = str(g, "probe");
                double y = num(g, means ? "mean" : "saturated");
                if (!l || !p || isnan(y)) continue;   /* plain probes: saturation null */
                char key[256];
                snprintf(key, sizeof key, "%s/%s", l, p);
                svg_series *s = keyed_get(&k, rp, i, key);
                if (bands) svg_series_add_band(s, step, y, num(g, "p5"), num(g, "p95"));
                else svg_series_add(s, step, y);
            }
        }
    keyed_free(&k);
    emit_chart(rp, c);
}

static void chart_spectral(report *rp, int sigma) {
    svg_chart *c = sigma
        ? svg_chart_new("spectral_sigma", "Largest singular value of the recurrent weights",
                        "step", "sigma_max")
        : svg_chart_new("spectral_rho", "Spectral radius of the recurrent weights (per gate block)",
                        "step", "rho");
    if (!sigma) {
        svg_chart_hline(c, 1.0, "rho = 1");
        svg_chart_note(c, "rho above 1: the linearised recurrence can explode; well below 1: "
                          "it forgets fast");
    }
    keyed k = {.c = c, .style = SVG_LINE};
    for (int i = 0; i < rp->n_runs; i++)
        for (int d = 0; d < rp->runs[i].n_diag; d++) {
            const cJSON *rec = rp->runs[i].diag[d], *sp;
            double step = num(rec, "step");
            cJSON_ArrayForEach(sp, arr(rec, "spectral")) {
                const char *p = str(sp, "param");
                if (p == NULL) continue;
                char key[256];
                if (sigma) {
                    double y = num(sp, "sigma_max");
                    if (isnan(y)) continue;
                    snprintf(key, sizeof key, "%s", p);
                    svg_series_add(keyed_get(&k, rp, i, key), step, y);
                    continue;
                }
                const cJSON *rho = arr(sp, "rho"), *v;
                int nb = cJSON_GetArraySize(rho), b = 0;
                cJSON_ArrayForEach(v, rho) {
                    if (cJSON_IsNumber(v)) {
                        if (nb > 1) snprintf(key, sizeof key, "%s[%d]", p, b);
                        else snprintf(key, sizeof key, "%s", p);
                        svg_series_add(keyed_get(&k, rp, i, key), step, v->valuedouble);
                    }
                    b++;
                }
            }
        }
    keyed_free(&k);
    emit_chart(rp, c);
}

static void chart_params(report *rp, int ratio) {
    svg_chart *c = ratio
        ? svg_chart_new("update_ratio", "Update-to-weight ratio per parameter", "step",
                        "|update| / |weight|")
        : svg_chart_new("param_grad_norm", "Gradient norm per parameter", "step", "||grad||");
    svg_chart_scale(c, SVG_LINEAR, SVG_LOG);
    if (ratio) svg_chart_note(c, "about 1e-3 is the usual healthy range; far below: the parameter "
                                 "barely moves");
    keyed k = {.c = c, .style = SVG_LINE};
    for (int i = 0; i < rp->n_runs; i++)
        for (int d = 0; d < rp->runs[i].n_diag; d++) {
            const cJSON *rec = rp->runs[i].diag[d], *p;
            double step = num(rec, "step");
            cJSON_ArrayForEach(p, arr(rec, "params")) {
                const char *name = str(p, "name");
                double y = num(p, ratio ? "update_ratio" : "grad_norm");
                if (name == NULL || isnan(y)) continue;
                svg_series_add(keyed_get(&k, rp, i, name), step, y);
            }
        }
    keyed_free(&k);
    emit_chart(rp, c);
}

/* ---- distribution probes: attention maps ---- */

#define MAX_SMALL 4   /* earlier records drawn small under an attention map */

/* the distinct (layer, probe) pairs of gates with a "dist" matrix, "layer\tprobe" */
static int dist_keys(const report *rp, char ***keys) {
    int n = 0;
    *keys = NULL;
    for (int i = 0; i < rp->n_runs; i++)
        for (int d = 0; d < rp->runs[i].n_diag; d++) {
            const cJSON *g;
            cJSON_ArrayForEach(g, arr(rp->runs[i].diag[d], "gates")) {
                const char *l = str(g, "layer"), *p = str(g, "probe");
                if (!l || !p || !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(g, "dist")))
                    continue;
                n = add_key(keys, n, l, p);
            }
        }
    return n;
}

/* the "dist" object of the gate (layer, probe) in a diag record, or NULL */
static const cJSON *find_dist(const cJSON *rec, const char *layer, const char *probe) {
    const cJSON *g = find_entry(rec, "gates", "layer", layer, "probe", probe);
    const cJSON *dist = g ? cJSON_GetObjectItemCaseSensitive(g, "dist") : NULL;
    return cJSON_IsObject(dist) && arr(dist, "weights") ? dist : NULL;
}

/* a stride field: a whole number >= 1, else 1 */
static double stride_of(const cJSON *dist, const char *key) {
    double v = num(dist, key);
    return v >= 1 && v == floor(v) ? v : 1;
}

/* a "dist" object's weights as a matrix (the values into *buf, allocated; null: NaN) */
static svg_matrix dist_matrix(const cJSON *dist, double **buf) {
    const cJSON *w = arr(dist, "weights"), *row, *v;
    svg_matrix m = {.row_step = stride_of(dist, "row_stride"),
                    .col_step = stride_of(dist, "col_stride"), .col_end = num(dist, "S")};
    cJSON_ArrayForEach(row, w) {
        int n = cJSON_GetArraySize(row);
        m.ncols = n > m.ncols ? n : m.ncols;
        m.nrows++;
    }
    *buf = svg_xrealloc(NULL, sizeof(double) * (size_t)(m.nrows ? m.nrows : 1) *
                                  (size_t)(m.ncols ? m.ncols : 1));
    for (size_t i = 0; i < (size_t)m.nrows * (size_t)m.ncols; i++) (*buf)[i] = NAN;
    int r = 0;
    cJSON_ArrayForEach(row, w) {
        int c = 0;
        cJSON_ArrayForEach(v, row) {
            if (cJSON_IsNumber(v)) (*buf)[(size_t)r * (size_t)m.ncols + (size_t)c] = v->valuedouble;
            c++;
        }
        r++;
    }
    m.v = *buf;
    return m;
}

/* Layer `layer` is a loop (its rows are output steps) when the meta record gives it a T. */
static int layer_looped(const run *r, const char *layer) {
    const cJSON *l;
    cJSON_ArrayForEach(l, arr(r->meta, "layers"))
        if (str(l, "name") && strcmp(str(l, "name"), layer) == 0) return num(l, "T") > 0;
    return 0;
}

static void heatmap_dist(report *rp, int ri, const char *layer, const char *probe) {
    const run *r = &rp->runs[ri];
    int n = 0, last = -1;
    for (int d = 0; d < r->n_diag; d++)
        if (find_dist(r->diag[d], layer, probe)) {
            n++;
            last = d;
        }
    if (n == 0) return;
    /* the small multiples: up to MAX_SMALL earlier records, evenly from the first */
    int pick[MAX_SMALL], n_small = n - 1 < MAX_SMALL ? n - 1 : MAX_SMALL, k = 0, seen = 0;
    for (int d = 0; d < r->n_diag && k < n_small; d++) {
        if (!find_dist(r->diag[d], layer, probe)) continue;
        if (seen == (int)((int64_t)k * (n - 1) / n_small)) pick[k++] = d;
        seen++;
    }
    n_small = k;
    double *buf, *sbuf[MAX_SMALL];
    const cJSON *dist = find_dist(r->diag[last], layer, probe);
    svg_matrix small[MAX_SMALL];
    char slab[MAX_SMALL][48];
    for (k = 0; k < n_small; k++) {
        snprintf(slab[k], sizeof slab[k], "step %g", num(r->diag[pick[k]], "step"));
        small[k] = dist_matrix(find_dist(r->diag[pick[k]], layer, probe), &sbuf[k]);
        small[k].label = slab[k];
    }
    int looped = layer_looped(r, layer);
    double step = num(r->diag[last], "step");
    char title[320], note[320], key[256];
    snprintf(title, sizeof title, "Attention weights: layer %s, probe %s%s%s", layer, probe,
             rp->n_runs > 1 ? " \xE2\x80\x94 " : "", rp->n_runs > 1 ? r->label : "");
    svg_matrix m = dist_matrix(dist, &buf);
    int len = snprintf(note, sizeof note, "the batch's first sequence at step %g, the last "
                       "diag record", step);
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(dist, "cut")) && len > 0 &&
        (size_t)len < sizeof note)
        snprintf(note + len, sizeof note - (size_t)len, "; cut from %g x %g: one row in %g, "
                 "%g positions per column", num(dist, "T"), num(dist, "S"), m.row_step,
                 m.col_step);
    snprintf(key, sizeof key, "%s/%s", layer, probe);
    svg_matrix_map h = {.name = "attention", .title = title, .note = note,
                        .xlabel = "source position", .ylabel = looped ? "output step" : "row",
                        .vlabel = "weight", .row_name = looped ? "output step" : "row",
                        .col_name = "source", .main = m, .small = small, .n_small = n_small,
                        .small_note = "earlier diag records, in the same colours (each from "
                                      "its own batch: other sequences)",
                        .attr_name = {"data-run", "data-key", NULL},
                        .attr_val = {r->label, key, NULL}};
    int marks = svg_matrix_write(&h, rp->f, 0);
    rp->charts++;
    rp->drawn += marks > 0;
    free(buf);
    for (k = 0; k < n_small; k++) free(sbuf[k]);
}

/* the mean entropy of every distribution probe's rows, with ln S (uniform weights) dashed */
static void chart_entropy(report *rp) {
    svg_chart *c = svg_chart_new("attention_entropy", "Attention entropy (mean over all rows)",
                                 "step", "entropy (nats)");
    svg_chart_scale(c, SVG_LINEAR, SVG_LINEAR);
    svg_chart_ylim(c, 0, NAN);
    svg_chart_note(c, "0: every row on one position; ln S (dashed): spread evenly over S "
                      "positions");
    keyed k = {.c = c, .style = SVG_LINE | SVG_MARKERS};
    for (int i = 0; i < rp->n_runs; i++)
        for (int d = 0; d < rp->runs[i].n_diag; d++) {
            const cJSON *rec = rp->runs[i].diag[d], *g;
            cJSON_ArrayForEach(g, arr(rec, "gates")) {
                const char *l = str(g, "layer"), *p = str(g, "probe");
                const cJSON *dist = cJSON_GetObjectItemCaseSensitive(g, "dist");
                double y = num(g, "entropy"), S = num(dist, "S");
                if (!l || !p || isnan(y)) continue;
                char key[256], lab[64];
                snprintf(key, sizeof key, "%s/%s", l, p);
                svg_series_add(keyed_get(&k, rp, i, key), num(rec, "step"), y);
                if (S > 1) {
                    snprintf(lab, sizeof lab, "uniform over %g", S);
                    svg_chart_hline(c, log(S), lab);
                }
            }
        }
    keyed_free(&k);
    emit_chart(rp, c);
}

/* Only for runs with distribution probes: most models have none, and an empty section would
 * only say "no data". */
static void section_attention(report *rp) {
    char **keys;
    int nk = dist_keys(rp, &keys);
    if (nk == 0) return;
    heading(rp, "Attention", "Distribution probes (attention weights, any softmax given a "
            "probe name): the weights of the first sequence of the batch at the last diag "
            "record, one row per output step and one column per source position, with earlier "
            "records under it in the same colours. Hover a cell for its weight. A sharp "
            "diagonal is an alignment learned; even rows attend to nothing in particular.");
    for (int k = 0; k < nk; k++) {
        char *tab = strchr(keys[k], '\t');
        *tab = '\0';
        for (int i = 0; i < rp->n_runs; i++) heatmap_dist(rp, i, keys[k], tab + 1);
        free(keys[k]);
    }
    free(keys);
    chart_entropy(rp);
}

/* ---- the summary table ---- */

static void cell_text(FILE *f, const char *s) {
    fputs("<td>", f);
    svg_escape(f, s ? s : "\xE2\x80\x94");
    fputs("</td>", f);
}

static void cell_num(FILE *f, double v, const char *suffix) {
    char b[96];
    if (isnan(v)) snprintf(b, sizeof b, "\xE2\x80\x94");
    else snprintf(b, sizeof b, "%.4g%s", v, suffix ? suffix : "");
    cell_text(f, b);
}

static double last_finite(const dvec *d, int *at) {
    for (int k = d->n - 1; k >= 0; k--)
        if (isfinite(d->v[k])) {
            if (at) *at = k;
            return d->v[k];
        }
    return NAN;
}

/* per param: the largest rho over its blocks at the last diag record with spectral entries */
static void spectral_text(const run *r, char *b, size_t n) {
    b[0] = '\0';
    for (int d = r->n_diag - 1; d >= 0; d--) {
        const cJSON *sp, *list = arr(r->diag[d], "spectral");
        if (cJSON_GetArraySize(list) == 0) continue;
        size_t len = 0;
        cJSON_ArrayForEach(sp, list) {
            const cJSON *v;
            double mx = NAN;
            cJSON_ArrayForEach(v, arr(sp, "rho"))
                if (cJSON_IsNumber(v) && !(v->valuedouble <= mx)) mx = v->valuedouble;
            const char *p = str(sp, "param");
            if (len < n && p)
                len += (size_t)snprintf(b + len, n - len, "%s%s %.3g", len ? ", " : "", p, mx);
        }
        if (len < n) snprintf(b + len, n - len, " (step %g)", num(r->diag[d], "step"));
        return;
    }
}

/* the gate with the largest saturated fraction at the last diag record that has one */
static void saturated_text(const run *r, char *b, size_t n) {
    b[0] = '\0';
    for (int d = r->n_diag - 1; d >= 0; d--) {
        const cJSON *g, *best = NULL;
        double mx = -1;
        cJSON_ArrayForEach(g, arr(r->diag[d], "gates")) {
            double s = num(g, "saturated");
            if (!isnan(s) && s > mx && str(g, "layer") && str(g, "probe")) {
                mx = s;
                best = g;
            }
        }
        if (best) {
            snprintf(b, n, "%s/%s %.1f%% (step %g)", str(best, "layer"), str(best, "probe"),
                     100 * mx, num(r->diag[d], "step"));
            return;
        }
    }
}

static void summary(report *rp) {
    FILE *f = rp->f;
    char b[512];
    fprintf(f, "<h2>Summary</h2>\n<table class=\"summary\">\n<tr><th></th>");
    for (int i = 0; i < rp->n_runs; i++) {
        fputs("<th>", f);
        svg_escape(f, rp->runs[i].label);
        fputs("</th>", f);
    }
    fputs("</tr>\n", f);
    enum { GRAPH, BACKEND, DIMS, STEPS, ELAPSED, TRAIN, BEST_VAL, LAST_VAL, GNORM, CLIPS, NANS,
           DIAGS, SPECTRAL, SATURATED, N_ROWS };
    static const char *const names[N_ROWS] = {
        "graph", "backend", "dims", "steps", "time", "final train loss", "best validation loss",
        "last validation loss", "last gradient norm", "clip events", "NaN/Inf records",
        "diag records", "last spectral radii", "most saturated gate"};
    for (int row = 0; row < N_ROWS; row++) {
        fprintf(f, "<tr><th>%s</th>", names[row]);
        for (int i = 0; i < rp->n_runs; i++) {
            const run *r = &rp->runs[i];
            int at = -1;
            double v;
            switch (row) {
            case GRAPH:
                snprintf(b, sizeof b, "%s (%s)", str(r->meta, "graph") ? str(r->meta, "graph") : "?",
                         str(r->meta, "path") ? str(r->meta, "path") : "?");
                cell_text(f, b);
                break;
            case BACKEND: cell_text(f, str(r->meta, "backend")); break;
            case DIMS: cell_text(f, str(r->meta, "dims")); break;
            case STEPS:
                v = r->tr_step.n ? r->tr_step.v[r->tr_step.n - 1] : 0;
                snprintf(b, sizeof b, "%g of %g%s", v, num(r->meta, "steps"),
                         r->done ? "" : " (no \"done\" record: stopped or still running)");
                cell_text(f, b);
                break;
            case ELAPSED:
                cell_num(f, r->done && !isnan(num(r->done, "elapsed_s")) ? num(r->done, "elapsed_s")
                                                                          : r->last_elapsed, " s");
                break;
            case TRAIN: cell_num(f, last_finite(&r->tr_loss, NULL), NULL); break;
            case BEST_VAL: {
                int best = -1;
                for (int k = 0; k < r->val_loss.n; k++)
                    if (isfinite(r->val_loss.v[k]) && (best < 0 || r->val_loss.v[k] < r->val_loss.v[best]))
                        best = k;
                if (best < 0) cell_text(f, NULL);
                else {
                    snprintf(b, sizeof b, "%.4g (step %g)", r->val_loss.v[best], r->val_step.v[best]);
                    cell_text(f, b);
                }
                break;
            }
            case LAST_VAL:
                v = last_finite(&r->val_loss, &at);
                if (at < 0) cell_text(f, NULL);
                else {
                    snprintf(b, sizeof b, "%.4g (step %g)", v, r->val_step.v[at]);
                    cell_text(f, b);
                }
                break;
            case GNORM: cell_num(f, last_finite(&r->tr_gn, NULL), NULL); break;
            case CLIPS: {
                double clip = num(r->meta, "clip");
                if (clip > 0)
                    snprintf(b, sizeof b, "%d of %d steps (threshold %g)", r->clip_step.n,
                             r->tr_step.n, clip);
                else snprintf(b, sizeof b, "%d (no clipping)", r->clip_step.n);
                cell_text(f, b);
                break;
            }
            case NANS:
                if (r->n_nan) snprintf(b, sizeof b, "%d; first at %s", r->n_nan, r->first_nan);
                else snprintf(b, sizeof b, "0");
                cell_text(f, b);
                break;
            case DIAGS:
                snprintf(b, sizeof b, "%d (every %g steps)", r->n_diag, num(r->meta, "diag_every"));
                cell_text(f, b);
                break;
            case SPECTRAL:
                spectral_text(r, b, sizeof b);
                cell_text(f, b[0] ? b : NULL);
                break;
            case SATURATED:
                saturated_text(r, b, sizeof b);
                cell_text(f, b[0] ? b : NULL);
                break;
            }
        }
        fputs("</tr>\n", f);
    }
    fputs("</table>\n", f);
}

static const char *page_css =
    "body{font-family:sans-serif;margin:24px;color:#222;max-width:1000px}\n"
    "h1{font-size:20px;margin-bottom:4px}\n"
    "h2{font-size:16px;margin-top:30px;border-bottom:1px solid #ddd;padding-bottom:3px}\n"
    "p.help{color:#555;font-size:13px;max-width:760px}\n"
    "p.runs{color:#555;font-size:13px}\n"
    "table.summary{border-collapse:collapse;font-size:13px}\n"
    "table.summary th,table.summary td{border:1px solid #ddd;padding:3px 8px;text-align:left;"
    "vertical-align:top}\n"
    "table.summary th{background:#f5f5f5;font-weight:600}\n";

static void write_page(report *rp) {
    FILE *f = rp->f;
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>gexec report: ");
    for (int i = 0; i < rp->n_runs; i++) {
        if (i) fputs(", ", f);
        svg_escape(f, rp->runs[i].label);
    }
    fprintf(f, "</title>\n<style>\n%s%s</style>\n</head>\n<body>\n", page_css, svg_css());
    fprintf(f, "<h1>gexec training report</h1>\n<p class=\"runs\">");
    for (int i = 0; i < rp->n_runs; i++) {
        fputs(i ? "; " : "", f);
        svg_escape(f, rp->runs[i].dir);
        fputs(": ", f);
        svg_escape(f, str(rp->runs[i].meta, "graph") ? str(rp->runs[i].meta, "graph") : "?");
    }
    fputs("</p>\n", f);
    summary(rp);
    heading(rp, "Loss", NULL);
    chart_loss(rp);
    heading(rp, "Gradient norm", "The global norm of the gradient at every step, before "
            "clipping. Spikes that reach the clip threshold are the exploding-gradient events "
            "clipping tames.");
    chart_grad_norm(rp);
    section_grad_time(rp);
    heading(rp, "Gates", "Probes of the gates and cell activations at each diag record.");
    chart_gates(rp, 0);
    chart_gates(rp, 1);
    section_attention(rp);
    heading(rp, "Recurrent weights", "Spectral radius of each gate block of the recurrent weight "
            "matrices, and their largest singular value.");
    chart_spectral(rp, 0);
    chart_spectral(rp, 1);
    heading(rp, "Parameters", NULL);
    chart_params(rp, 0);
    chart_params(rp, 1);
    fprintf(f, "<script>\n%s</script>\n</body>\n</html>\n", svg_drawn_script());
}

static const char *opt(const cli_opts *o, const char *name) {
    for (int k = 0; k < o->n_extra; k++)
        if (strcmp(o->extra_name[k], name) == 0) return o->extra_val[k] ? o->extra_val[k] : "";
    return NULL;
}

int cmd_report(const cli_opts *o) {
    const char *out = opt(o, "-o") ? opt(o, "-o") : o->out ? o->out : "report.html";
    report rp = {.n_runs = o->n_args};
    rp.runs = svg_xrealloc(NULL, sizeof(run) * (size_t)o->n_args);
    int rc = 0, loaded = 0;
    for (int i = 0; i < o->n_args && rc == 0; i++, loaded++) rc = run_load(&rp.runs[i], o->args[i]);
    if (rc == 0) {
        label_runs(&rp);
        rp.f = fopen(out, "w");
        if (rp.f == NULL) {
            rc = cli_failf("%s: cannot write: %s", out, strerror(errno));
        } else {
            write_page(&rp);
            int bad = ferror(rp.f);
            if (fclose(rp.f) != 0 || bad) {
                rc = cli_failf("%s: write error: %s", out, strerror(errno));
                remove(out);
            }
        }
    }
    if (rc == 0)
        fprintf(stderr, "gexec: wrote %s: %d charts (%d with data) from %d run%s\n", out,
                rp.charts, rp.drawn, rp.n_runs, rp.n_runs == 1 ? "" : "s");
    for (int i = 0; i < loaded; i++) run_free(&rp.runs[i]);
    free(rp.runs);
    return rc;
}
