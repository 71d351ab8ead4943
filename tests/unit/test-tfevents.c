/*
 * test-tfevents.c: TensorBoard event files. CRC32C against published vectors and against the
 * bit-by-bit definition; a written file read back with a small independent decoder (TFRecord
 * lengths and both masked CRCs re-checked, every Event field decoded); steps that need 1, 2 and
 * 10 varint bytes; the default histogram buckets; bad arguments; directories that cannot be
 * made; and a write failure (RLIMIT_FSIZE standing in for a full disk) that must end in a clean,
 * sticky GX_ERR_IO.
 *
 *     test-tfevents                run the CMocka cases (files under a mkdtemp directory)
 *     test-tfevents --write DIR    write the known sequence that tests/cli/test-tfevents.sh
 *                                  checks with tb-verify.py, print the file's path
 */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <float.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tfevents.h"

#include "test-tmpdir.h"

static unsigned char *slurp(const char *path, size_t *n) {
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    size_t cap = 1 << 16, len = 0;
    unsigned char *buf = malloc(cap);
    assert_non_null(buf);
    size_t k;
    while ((k = fread(buf + len, 1, cap - len, fp)) > 0) {
        len += k;
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    fclose(fp);
    *n = len;
    return buf;
}

static gx_tb_writer *open_ok(const char *dir) {
    gx_diag d;
    gx_diag_init(&d);
    gx_tb_writer *w = NULL;
    gx_status st = gx_tb_open(dir, &w, &d);
    if (st != GX_OK) print_error("%s\n", d.msg);
    assert_int_equal(st, GX_OK);
    assert_non_null(w);
    return w;
}

static void ok(gx_status st, const gx_diag *d) {
    if (st != GX_OK) print_error("%s\n", d->msg);
    assert_int_equal(st, GX_OK);
}

// ---- an independent decoder ----

/* CRC32C bit by bit, straight from the definition (reflected polynomial 0x82F63B78). */
static uint32_t crc32c_slow(const unsigned char *p, size_t n) {
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c & 1u) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
    }
    return ~c;
}

static uint32_t mask(uint32_t c) {
    return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

static uint64_t le(const unsigned char *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static double le_double(const unsigned char *p) {
    uint64_t u = le(p, 8);
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

#define MAX_BUCKETS 64

typedef struct ev {
    double  wall_time;
    int64_t step;
    int     step_bytes;        /* varint bytes the step took (0 when absent) */
    char    version[32];
    char    tag[64];
    int     has_simple, has_histo;
    float   simple;
    double  hmin, hmax, hnum, hsum, hsq;
    int     nlim, ncnt;
    double  lim[MAX_BUCKETS], cnt[MAX_BUCKETS];
} ev;

typedef struct rd {
    const unsigned char *p, *end;
} rd;

static uint64_t rd_varint(rd *r, int *nbytes) {
    uint64_t v = 0;
    int shift = 0, n = 0;
    for (;;) {
        assert_true(r->p < r->end);
        assert_true(shift < 64);
        unsigned char b = *r->p++;
        n++;
        v |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80)) break;
    }
    if (nbytes) *nbytes = n;
    return v;
}

static rd rd_len(rd *r) {
    uint64_t n = rd_varint(r, NULL);
    assert_true(n <= (uint64_t)(r->end - r->p));
    rd sub = { r->p, r->p + n };
    r->p += n;
    return sub;
}

static double rd_fixed64(rd *r) {
    assert_true(r->end - r->p >= 8);
    double v = le_double(r->p);
    r->p += 8;
    return v;
}

static void rd_packed(rd *r, double *out, int *n) {
    rd sub = rd_len(r);
    assert_int_equal((sub.end - sub.p) % 8, 0);
    while (sub.p < sub.end) {
        assert_true(*n < MAX_BUCKETS);
        out[(*n)++] = le_double(sub.p);
        sub.p += 8;
    }
}

static void rd_string(rd *r, char *out, size_t cap) {
    rd sub = rd_len(r);
    size_t n = (size_t)(sub.end - sub.p);
    assert_true(n < cap);
    memcpy(out, sub.p, n);
    out[n] = '\0';
}

/* Fields must come in increasing order, as the protobuf library writes them; unknown fields
 * and wrong wire types fail. */
static void decode_histo(rd r, ev *e) {
    uint32_t prev = 0;
    while (r.p < r.end) {
        uint64_t key = rd_varint(&r, NULL);
        uint32_t f = (uint32_t)(key >> 3), wt = (uint32_t)(key & 7);
        assert_true(f > prev);
        prev = f;
        if (f >= 1 && f <= 5) {
            assert_int_equal(wt, 1);
            double v = rd_fixed64(&r);
            double *dst[] = { &e->hmin, &e->hmax, &e->hnum, &e->hsum, &e->hsq };
            *dst[f - 1] = v;
        } else if (f == 6 || f == 7) {
            assert_int_equal(wt, 2);   /* packed */
            if (f == 6) rd_packed(&r, e->lim, &e->nlim);
            else rd_packed(&r, e->cnt, &e->ncnt);
        } else {
            fail_msg("HistogramProto: unexpected field %u", f);
        }
    }
}

static void decode_value(rd r, ev *e) {
    uint32_t prev = 0;
    while (r.p < r.end) {
        uint64_t key = rd_varint(&r, NULL);
        uint32_t f = (uint32_t)(key >> 3), wt = (uint32_t)(key & 7);
        assert_true(f > prev);
        prev = f;
        if (f == 1 && wt == 2) {
            rd_string(&r, e->tag, sizeof e->tag);
        } else if (f == 2 && wt == 5) {
            assert_true(r.end - r.p >= 4);
            uint32_t u = (uint32_t)le(r.p, 4);
            memcpy(&e->simple, &u, 4);
            r.p += 4;
            e->has_simple = 1;
        } else if (f == 5 && wt == 2) {
            decode_histo(rd_len(&r), e);
            e->has_histo = 1;
        } else {
            fail_msg("Summary.Value: unexpected field %u wire type %u", f, wt);
        }
    }
}

static void decode_event(rd r, ev *e) {
    memset(e, 0, sizeof *e);
    uint32_t prev = 0;
    while (r.p < r.end) {
        uint64_t key = rd_varint(&r, NULL);
        uint32_t f = (uint32_t)(key >> 3), wt = (uint32_t)(key & 7);
        assert_true(f > prev);
        prev = f;
        if (f == 1 && wt == 1) {
            e->wall_time = rd_fixed64(&r);
        } else if (f == 2 && wt == 0) {
            e->step = (int64_t)rd_varint(&r, &e->step_bytes);
        } else if (f == 3 && wt == 2) {
            rd_string(&r, e->version, sizeof e->version);
        } else if (f == 5 && wt == 2) {
            rd s = rd_len(&r);
            int nvalues = 0;
            while (s.p < s.end) {
                uint64_t k = rd_varint(&s, NULL);
                assert_int_equal(k, (1u << 3) | 2u);   /* Summary.value, length-delimited */
                decode_value(rd_len(&s), e);
                nvalues++;
            }
            assert_int_equal(nvalues, 1);
        } else {
            fail_msg("Event: unexpected field %u wire type %u", f, wt);
        }
    }
}

/* Walk the TFRecords of `path`, checking lengths and both masked CRCs; decode each Event. */
static int read_events(const char *path, ev *out, int max) {
    size_t n;
    unsigned char *b = slurp(path, &n);
    size_t off = 0;
    int k = 0;
    while (off < n) {
        assert_true(n - off >= 12);
        uint64_t len = le(b + off, 8);
        assert_int_equal(le(b + off + 8, 4), mask(crc32c_slow(b + off, 8)));
        assert_true(len <= n - off - 12 && n - off - 12 - len >= 4);
        const unsigned char *data = b + off + 12;
        assert_int_equal(le(data + len, 4), mask(crc32c_slow(data, (size_t)len)));
        assert_true(k < max);
        rd r = { data, data + len };
        decode_event(r, &out[k++]);
        off += 12 + (size_t)len + 4;
    }
    free(b);
    return k;
}

/* The only file in dir whose name contains "tfevents", as a path. */
static const char *only_event_file(const char *dir) {
    static char path[512];
    DIR *dp = opendir(dir);
    assert_non_null(dp);
    int found = 0;
    struct dirent *de;
    while ((de = readdir(dp)) != NULL)
        if (strstr(de->d_name, "tfevents")) {
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            found++;
        }
    closedir(dp);
    assert_int_equal(found, 1);
    return path;
}

// ---- the known sequence (also written by --write for tb-verify.py) ----

static const float raw_values[] = { -2.0f, -0.5f, 0.0f, 0.0f, 1e-3f, 0.25f, 3.0f, NAN, INFINITY };

static gx_status write_known(gx_tb_writer *w, gx_diag *d) {
    static const double limits[] = { -1.0, 0.0, 1.0, 2.0 };
    static const double counts[] = { 1.0, 0.0, 3.0, 2.0 };
    const float losses[] = { 2.5f, 1.25f, 0.625f };
    gx_status st = GX_OK;
    for (int i = 0; i < 3 && st == GX_OK; i++)
        st = gx_tb_scalar(w, "train/loss", i + 1, losses[i], d);
    if (st == GX_OK) st = gx_tb_scalar(w, "train/lr", 3, 0.0, d);
    if (st == GX_OK)
        st = gx_tb_histogram(w, "weights/explicit", 3, limits, counts, 4, -1.5, 1.75, 6.0, 2.0,
                             7.5, d);
    if (st == GX_OK)
        st = gx_tb_histogram_f32(w, "weights/raw", 3, raw_values,
                                 (int64_t)(sizeof raw_values / sizeof raw_values[0]), d);
    if (st == GX_OK) st = gx_tb_scalar(w, "edge/step", -1, -1.0, d);
    if (st == GX_OK) st = gx_tb_scalar(w, "edge/step", INT64_MAX, 1e30, d);
    return st;
}

static int write_mode(const char *dir) {
    gx_diag d;
    gx_diag_init(&d);
    gx_tb_writer *w = NULL;
    gx_status st = gx_tb_open(dir, &w, &d);
    if (st == GX_OK) st = write_known(w, &d);
    if (st == GX_OK) st = gx_tb_flush(w, &d);
    if (st != GX_OK) {
        fprintf(stderr, "test-tfevents: %s\n", d.msg);
        gx_tb_close(w);
        return 1;
    }
    printf("%s\n", gx_tb_path(w));
    gx_tb_close(w);
    return 0;
}

// ---- tests ----

static void test_tfevents_crc32c(void **state) {
    (void)state;
    assert_int_equal(gx_tb_crc32c("123456789", 9), 0xe3069283u);
    unsigned char z[32] = { 0 }, ff[32];
    memset(ff, 0xff, sizeof ff);
    assert_int_equal(gx_tb_crc32c(z, sizeof z), 0x8a9136aau);
    assert_int_equal(gx_tb_crc32c(ff, sizeof ff), 0x62a8ab43u);   /* RFC 3720 B.4 */
    assert_int_equal(gx_tb_crc32c("", 0), 0u);
    /* the table against the definition, on every length up to 300 of pseudo-random bytes */
    unsigned char buf[300];
    uint32_t s = 12345;
    for (size_t i = 0; i < sizeof buf; i++) {
        s = s * 1103515245u + 12345u;
        buf[i] = (unsigned char)(s >> 16);
    }
    for (size_t n = 0; n <= sizeof buf; n++)
        assert_int_equal(gx_tb_crc32c(buf, n), crc32c_slow(buf, n));
}

static void test_tfevents_file(void **state) {
    (void)state;
    const char *dir = path_in("file");
    gx_tb_writer *w = open_ok(dir);
    gx_diag d;
    gx_diag_init(&d);
    ok(write_known(w, &d), &d);
    /* the name TensorBoard looks for: events.out.tfevents.<seconds>.<host>.<pid> */
    const char *base = strrchr(gx_tb_path(w), '/') + 1;
    assert_int_equal(strncmp(base, "events.out.tfevents.", 20), 0);
    char pid[32];
    snprintf(pid, sizeof pid, ".%ld", (long)getpid());
    size_t bl = strlen(base), pl = strlen(pid);
    assert_true(bl > pl && strcmp(base + bl - pl, pid) == 0);
    char path[512];
    snprintf(path, sizeof path, "%s", gx_tb_path(w));
    gx_tb_close(w);

    ev e[16];
    int n = read_events(path, e, 16);
    assert_int_equal(n, 9);
    assert_string_equal(e[0].version, "brain.Event:2");
    assert_int_equal(e[0].step_bytes, 0);   /* step 0: left out, as proto3 does */
    for (int i = 0; i < n; i++) {
        assert_true(e[i].wall_time > 1.5e9);
        if (i > 0) assert_true(e[i].wall_time >= e[i - 1].wall_time);
    }
    const float losses[] = { 2.5f, 1.25f, 0.625f };
    for (int i = 0; i < 3; i++) {
        assert_string_equal(e[1 + i].tag, "train/loss");
        assert_int_equal(e[1 + i].step, i + 1);
        assert_true(e[1 + i].has_simple && !e[1 + i].has_histo);
        assert_true(e[1 + i].simple == losses[i]);
    }
    /* simple_value is in a oneof, so 0 is written, not left out */
    assert_string_equal(e[4].tag, "train/lr");
    assert_true(e[4].has_simple && e[4].simple == 0.0f);

    const ev *h = &e[5];
    assert_string_equal(h->tag, "weights/explicit");
    assert_true(h->has_histo && !h->has_simple);
    assert_int_equal(h->step, 3);
    assert_int_equal(h->nlim, 4);
    assert_int_equal(h->ncnt, 4);
    const double lim[] = { -1, 0, 1, 2 }, cnt[] = { 1, 0, 3, 2 };
    for (int i = 0; i < 4; i++) {
        assert_true(h->lim[i] == lim[i]);
        assert_true(h->cnt[i] == cnt[i]);
    }
    assert_true(h->hmin == -1.5 && h->hmax == 1.75 && h->hnum == 6 && h->hsum == 2 &&
                h->hsq == 7.5);

    /* raw values: the 7 finite ones, each in the bucket [previous limit, limit) */
    h = &e[6];
    assert_string_equal(h->tag, "weights/raw");
    assert_true(h->hnum == 7 && h->hmin == -2 && h->hmax == 3);
    assert_true(fabs(h->hsum - (0.75 + (double)1e-3f)) < 1e-12);
    assert_true(fabs(h->hsq - (4 + 0.25 + 0.0625 + 9 + (double)1e-3f * (double)1e-3f)) < 1e-12);
    assert_int_equal(h->nlim, h->ncnt);
    double total = 0;
    for (int i = 0; i < h->ncnt; i++) {
        total += h->cnt[i];
        if (i > 0) {
            assert_true(h->lim[i - 1] < h->lim[i]);
            assert_false(h->cnt[i] == 0 && h->cnt[i - 1] == 0);   /* empty runs merged */
        }
    }
    assert_true(total == 7);
    assert_true(h->cnt[0] > 0 && h->cnt[h->ncnt - 1] > 0);   /* no empty ends */
    for (size_t v = 0; v < sizeof raw_values / sizeof raw_values[0]; v++) {
        double x = raw_values[v];
        if (!isfinite(x)) continue;
        int b = 0;
        while (b < h->nlim && h->lim[b] <= x) b++;
        assert_true(b < h->nlim && h->cnt[b] > 0);
        assert_true(b == 0 || h->lim[b - 1] <= x);
    }
    /* 0 falls in [0, 1e-12): TensorFlow's bucket just above zero */
    int zb = 0;
    while (h->lim[zb] <= 0.0) zb++;
    assert_true(h->lim[zb] == 1e-12 && h->cnt[zb] == 2);

    assert_string_equal(e[7].tag, "edge/step");
    assert_true(e[7].step == -1 && e[7].simple == -1.0f);
    assert_true(e[8].step == INT64_MAX && e[8].simple == 1e30f);
    remove_tree(dir);
}

/* Steps at the varint boundaries: each is written, read back, and takes the expected bytes. */
static void test_tfevents_steps(void **state) {
    (void)state;
    static const struct {
        int64_t step;
        int     bytes;
    } cases[] = {
        { 1, 1 }, { 127, 1 }, { 128, 2 }, { 16383, 2 }, { 16384, 3 },
        { INT32_MAX, 5 }, { (int64_t)1 << 35, 6 }, { INT64_MAX, 9 },
        { -1, 10 }, { INT64_MIN, 10 }, { -300, 10 },
    };
    const int nc = (int)(sizeof cases / sizeof cases[0]);
    const char *dir = path_in("steps");
    gx_tb_writer *w = open_ok(dir);
    gx_diag d;
    gx_diag_init(&d);
    for (int i = 0; i < nc; i++) ok(gx_tb_scalar(w, "s", cases[i].step, i, &d), &d);
    ok(gx_tb_flush(w, &d), &d);
    ev e[16];
    int n = read_events(gx_tb_path(w), e, 16);
    assert_int_equal(n, nc + 1);
    for (int i = 0; i < nc; i++) {
        assert_true(e[1 + i].step == cases[i].step);
        assert_int_equal(e[1 + i].step_bytes, cases[i].bytes);
        assert_true(e[1 + i].simple == (float)i);
    }
    gx_tb_close(w);
    remove_tree(dir);
}

/* Histograms at the edges: no finite value, NULL with n = 0, a single value, huge and tiny. */
static void test_tfevents_histogram_edges(void **state) {
    (void)state;
    const char *dir = path_in("hedges");
    gx_tb_writer *w = open_ok(dir);
    gx_diag d;
    gx_diag_init(&d);
    const float nan_only[] = { NAN, -INFINITY };
    const float one[] = { 1.0f };
    const float wide[] = { -FLT_MAX, -1e-30f, 1e-30f, FLT_MAX };
    ok(gx_tb_histogram_f32(w, "nan", 1, nan_only, 2, &d), &d);
    ok(gx_tb_histogram_f32(w, "empty", 1, NULL, 0, &d), &d);
    ok(gx_tb_histogram_f32(w, "one", 1, one, 1, &d), &d);
    ok(gx_tb_histogram_f32(w, "wide", 1, wide, 4, &d), &d);
    ok(gx_tb_histogram(w, "nobuckets", 1, NULL, NULL, 0, 0, 0, 0, 0, 0, &d), &d);
    ok(gx_tb_flush(w, &d), &d);
    ev e[8];
    int n = read_events(gx_tb_path(w), e, 8);
    assert_int_equal(n, 6);
    for (int i = 1; i <= 2; i++) {
        assert_true(e[i].has_histo && e[i].hnum == 0);
        assert_int_equal(e[i].nlim, 1);
        assert_true(e[i].lim[0] == 0 && e[i].cnt[0] == 0);
    }
    assert_int_equal(e[3].nlim, 1);   /* one value, one bucket: [1.0, 1.1) */
    assert_true(e[3].cnt[0] == 1 && e[3].lim[0] > 1.0 && e[3].lim[0] < 1.11);
    assert_true(e[3].hmin == 1 && e[3].hmax == 1 && e[3].hsum == 1 && e[3].hsq == 1);
    /* -FLT_MAX, -1e-30 in [-1e-12, 0), 1e-30 in [0, 1e-12), FLT_MAX: four buckets, with one
     * merged empty run on each side of zero */
    assert_true(e[4].hnum == 4 && e[4].hmin == -FLT_MAX && e[4].hmax == FLT_MAX);
    assert_int_equal(e[4].nlim, 6);
    const double wide_cnt[] = { 1, 0, 1, 1, 0, 1 };
    for (int i = 0; i < 6; i++) assert_true(e[4].cnt[i] == wide_cnt[i]);
    assert_true(e[4].lim[2] == 0.0 && e[4].lim[3] == 1e-12 && e[4].lim[5] == DBL_MAX);
    assert_true(e[5].has_histo && e[5].nlim == 0 && e[5].hnum == 0);
    gx_tb_close(w);
    remove_tree(dir);
}

static void test_tfevents_bad_args(void **state) {
    (void)state;
    const char *dir = path_in("args");
    gx_tb_writer *w = open_ok(dir);
    gx_diag d;
    const double lim[] = { 1, 1 }, cnt[] = { 0, 0 };
    float x = 1;
    struct {
        gx_status st;
        const char *sub;
    } got[6];
    gx_diag_init(&d);
    got[0].st = gx_tb_scalar(w, "", 1, 1, &d);
    got[0].sub = "empty";
    gx_diag_init(&d);
    got[1].st = gx_tb_scalar(w, NULL, 1, 1, &d);
    got[1].sub = "empty";
    gx_diag_init(&d);
    got[2].st = gx_tb_histogram(w, "h", 1, lim, cnt, 2, 0, 0, 0, 0, 0, &d);
    assert_non_null(strstr(d.msg, "do not increase"));
    got[3].st = gx_tb_histogram(w, "h", 1, NULL, cnt, 2, 0, 0, 0, 0, 0, &d);
    got[4].st = gx_tb_histogram(w, "h", 1, lim, cnt, -1, 0, 0, 0, 0, 0, &d);
    got[5].st = gx_tb_histogram_f32(w, "h", 1, &x, -1, &d);
    for (int i = 0; i < 6; i++) assert_int_equal(got[i].st, GX_ERR_INVALID);
    assert_int_equal(gx_tb_scalar(NULL, "t", 1, 1, &d), GX_ERR_INVALID);
    assert_int_equal(gx_tb_flush(NULL, &d), GX_ERR_INVALID);
    gx_tb_writer *w2 = (gx_tb_writer *)&d;   /* set to NULL on failure */
    assert_int_equal(gx_tb_open("", &w2, &d), GX_ERR_INVALID);
    assert_null(w2);
    assert_int_equal(gx_tb_open(NULL, &w2, &d), GX_ERR_INVALID);
    assert_null(gx_tb_path(NULL));
    gx_tb_close(NULL);
    /* nothing bad was written: the file still holds only the version record */
    ok(gx_tb_flush(w, &d), &d);
    ev e[2];
    assert_int_equal(read_events(gx_tb_path(w), e, 2), 1);
    gx_tb_close(w);
    remove_tree(dir);
}

/* mkdir -p, trailing slashes, and two writers in one directory in the same second. */
static void test_tfevents_dirs(void **state) {
    (void)state;
    const char *dir = path_in("deep/er/still/");
    gx_tb_writer *a = open_ok(dir);
    gx_tb_writer *b = open_ok(dir);
    assert_string_not_equal(gx_tb_path(a), gx_tb_path(b));
    assert_null(strstr(gx_tb_path(a), "//"));
    gx_tb_close(a);
    gx_tb_close(b);
    remove_tree(path_in("deep"));
}

/* Directories that cannot exist: under a regular file (root included: ENOTDIR), or a file. */
static void test_tfevents_unwritable(void **state) {
    (void)state;
    const char *file = path_in("plainfile");
    FILE *fp = fopen(file, "w");
    assert_non_null(fp);
    fclose(fp);
    const char *dirs[] = { path_in("plainfile/sub"), path_in("plainfile"),
                           path_in("plainfile/a/b") };
    for (int i = 0; i < 3; i++) {
        gx_diag d;
        gx_diag_init(&d);
        gx_tb_writer *w = NULL;
        gx_status st = gx_tb_open(dirs[i], &w, &d);
        assert_int_equal(st, GX_ERR_IO);
        assert_null(w);
        assert_non_null(strstr(d.msg, dirs[i]));
        assert_null(strchr(d.msg, '\n'));
    }
    unlink(file);
}

/* A full disk, simulated with RLIMIT_FSIZE (writes past it fail with EFBIG, which works for
 * root too): a clean GX_ERR_IO naming the file, then every call fails the same way. */
static void test_tfevents_write_error(void **state) {
    (void)state;
    const char *dir = path_in("full");
    gx_tb_writer *w = open_ok(dir);
    char path[512];
    snprintf(path, sizeof path, "%s", gx_tb_path(w));
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = 4096;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);

    /* everything runs before any assertion, so that a failing one cannot leave the limit low
     * for the cases after it */
    gx_diag d, d2, d3;
    gx_diag_init(&d);
    gx_diag_init(&d2);
    gx_diag_init(&d3);
    float x[256];
    for (int i = 0; i < 256; i++) x[i] = (float)(i - 128) * 0.37f;
    gx_status st = GX_OK;
    int step = 0;
    for (; step < 400 && st == GX_OK; step++)   /* > 64 KiB: an automatic write fails */
        st = gx_tb_histogram_f32(w, "h", step, x, 256, &d);
    gx_status st2 = gx_tb_scalar(w, "s", 1, 1, &d2);
    gx_status st3 = gx_tb_flush(w, &d3);
    gx_tb_close(w);
    int restored = setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, old_handler);

    assert_int_equal(restored, 0);
    assert_true(step < 400);
    assert_int_equal(st, GX_ERR_IO);
    assert_non_null(strstr(d.msg, path));
    assert_non_null(strstr(d.msg, "cannot write"));
    assert_int_equal(st2, GX_ERR_IO);
    assert_non_null(strstr(d2.msg, "earlier write failed"));
    assert_int_equal(st3, GX_ERR_IO);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_true(sb.st_size <= 4096);
    remove_tree(dir);
}

/* Many records: the automatic write at 64 KiB keeps records whole across buffer boundaries. */
static void test_tfevents_many(void **state) {
    (void)state;
    const char *dir = path_in("many");
    gx_tb_writer *w = open_ok(dir);
    gx_diag d;
    gx_diag_init(&d);
    for (int i = 0; i < 5000; i++)
        ok(gx_tb_scalar(w, "a/rather/long/tag/name", i, i * 0.5, &d), &d);
    gx_tb_close(w);
    static ev e[5001];
    int n = read_events(only_event_file(dir), e, 5001);
    assert_int_equal(n, 5001);
    for (int i = 0; i < 5000; i++) {
        assert_true(e[1 + i].step == i);
        assert_true(e[1 + i].simple == (float)(i * 0.5));
    }
    remove_tree(dir);
}

// ---- main ----

static int setup(void **state) {
    (void)state;
    return tmpdir_make("/tmp/gexec-tfevents.XXXXXX");
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--write") == 0) return write_mode(argv[2]);
    if (argc != 1) {
        fprintf(stderr, "usage: test-tfevents [--write DIR]\n");
        return 2;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tfevents_crc32c),
        cmocka_unit_test(test_tfevents_file),
        cmocka_unit_test(test_tfevents_steps),
        cmocka_unit_test(test_tfevents_histogram_edges),
        cmocka_unit_test(test_tfevents_bad_args),
        cmocka_unit_test(test_tfevents_dirs),
        cmocka_unit_test(test_tfevents_unwritable),
        cmocka_unit_test(test_tfevents_write_error),
        cmocka_unit_test(test_tfevents_many),
    };
    return cmocka_run_group_tests_name("tfevents", tests, setup, tmpdir_teardown);
}
