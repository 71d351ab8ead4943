/*
 * tfevents.c: TensorBoard event files (format notes in tfevents.h).
 *
 * The four messages we need (Event, Summary, Summary.Value, HistogramProto) are encoded by hand: a
 * protobuf library would be a large dependency for a dozen fields. Records are built in place
 * in the output buffer: 12 bytes are reserved for the TFRecord header, the Event is encoded
 * after them, and a nested message is encoded first and then shifted right to make room for its
 * key and length (one memmove per nesting level, three at most), so nothing is encoded twice.
 */
#define _POSIX_C_SOURCE 200809L

#include "tfevents.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define TB_FLUSH_BYTES  (64u * 1024u)   /* write the buffer once this much has gathered */
#define TB_NAME_TRIES   100             /* ".1" ... ".99" when the file name is taken   */

// ---- CRC32C ----

/* CRC32C (reflected polynomial 0x82F63B78), one table lookup per byte. Debian 12 packages no
 * plain C CRC32C library (google's crc32c is not packaged; ISA-L's crc32_iscsi would pull in a
 * storage-acceleration library), and event files are a few kilobytes per log step, so a table
 * is fast enough. Entry i is i run through 8 rounds of c = c & 1 ? (c >> 1) ^ poly : c >> 1;
 * test-tfevents re-derives it. */
static const uint32_t crc32c_table[256] = {
    0x00000000, 0xf26b8303, 0xe13b70f7, 0x1350f3f4, 0xc79a971f, 0x35f1141c, 0x26a1e7e8, 0xd4ca64eb,
    0x8ad958cf, 0x78b2dbcc, 0x6be22838, 0x9989ab3b, 0x4d43cfd0, 0xbf284cd3, 0xac78bf27, 0x5e133c24,
    0x105ec76f, 0xe235446c, 0xf165b798, 0x030e349b, 0xd7c45070, 0x25afd373, 0x36ff2087, 0xc494a384,
    0x9a879fa0, 0x68ec1ca3, 0x7bbcef57, 0x89d76c54, 0x5d1d08bf, 0xaf768bbc, 0xbc267848, 0x4e4dfb4b,
    0x20bd8ede, 0xd2d60ddd, 0xc186fe29, 0x33ed7d2a, 0xe72719c1, 0x154c9ac2, 0x061c6936, 0xf477ea35,
    0xaa64d611, 0x580f5512, 0x4b5fa6e6, 0xb93425e5, 0x6dfe410e, 0x9f95c20d, 0x8cc531f9, 0x7eaeb2fa,
    0x30e349b1, 0xc288cab2, 0xd1d83946, 0x23b3ba45, 0xf779deae, 0x05125dad, 0x1642ae59, 0xe4292d5a,
    0xba3a117e, 0x4851927d, 0x5b016189, 0xa96ae28a, 0x7da08661, 0x8fcb0562, 0x9c9bf696, 0x6ef07595,
    0x417b1dbc, 0xb3109ebf, 0xa0406d4b, 0x522bee48, 0x86e18aa3, 0x748a09a0, 0x67dafa54, 0x95b17957,
    0xcba24573, 0x39c9c670, 0x2a993584, 0xd8f2b687, 0x0c38d26c, 0xfe53516f, 0xed03a29b, 0x1f682198,
    0x5125dad3, 0xa34e59d0, 0xb01eaa24, 0x42752927, 0x96bf4dcc, 0x64d4cecf, 0x77843d3b, 0x85efbe38,
    0xdbfc821c, 0x2997011f, 0x3ac7f2eb, 0xc8ac71e8, 0x1c661503, 0xee0d9600, 0xfd5d65f4, 0x0f36e6f7,
    0x61c69362, 0x93ad1061, 0x80fde395, 0x72966096, 0xa65c047d, 0x5437877e, 0x4767748a, 0xb50cf789,
    0xeb1fcbad, 0x197448ae, 0x0a24bb5a, 0xf84f3859, 0x2c855cb2, 0xdeeedfb1, 0xcdbe2c45, 0x3fd5af46,
    0x7198540d, 0x83f3d70e, 0x90a324fa, 0x62c8a7f9, 0xb602c312, 0x44694011, 0x5739b3e5, 0xa55230e6,
    0xfb410cc2, 0x092a8fc1, 0x1a7a7c35, 0xe811ff36, 0x3cdb9bdd, 0xceb018de, 0xdde0eb2a, 0x2f8b6829,
    0x82f63b78, 0x709db87b, 0x63cd4b8f, 0x91a6c88c, 0x456cac67, 0xb7072f64, 0xa457dc90, 0x563c5f93,
    0x082f63b7, 0xfa44e0b4, 0xe9141340, 0x1b7f9043, 0xcfb5f4a8, 0x3dde77ab, 0x2e8e845f, 0xdce5075c,
    0x92a8fc17, 0x60c37f14, 0x73938ce0, 0x81f80fe3, 0x55326b08, 0xa759e80b, 0xb4091bff, 0x466298fc,
    0x1871a4d8, 0xea1a27db, 0xf94ad42f, 0x0b21572c, 0xdfeb33c7, 0x2d80b0c4, 0x3ed04330, 0xccbbc033,
    0xa24bb5a6, 0x502036a5, 0x4370c551, 0xb11b4652, 0x65d122b9, 0x97baa1ba, 0x84ea524e, 0x7681d14d,
    0x2892ed69, 0xdaf96e6a, 0xc9a99d9e, 0x3bc21e9d, 0xef087a76, 0x1d63f975, 0x0e330a81, 0xfc588982,
    0xb21572c9, 0x407ef1ca, 0x532e023e, 0xa145813d, 0x758fe5d6, 0x87e466d5, 0x94b49521, 0x66df1622,
    0x38cc2a06, 0xcaa7a905, 0xd9f75af1, 0x2b9cd9f2, 0xff56bd19, 0x0d3d3e1a, 0x1e6dcdee, 0xec064eed,
    0xc38d26c4, 0x31e6a5c7, 0x22b65633, 0xd0ddd530, 0x0417b1db, 0xf67c32d8, 0xe52cc12c, 0x1747422f,
    0x49547e0b, 0xbb3ffd08, 0xa86f0efc, 0x5a048dff, 0x8ecee914, 0x7ca56a17, 0x6ff599e3, 0x9d9e1ae0,
    0xd3d3e1ab, 0x21b862a8, 0x32e8915c, 0xc083125f, 0x144976b4, 0xe622f5b7, 0xf5720643, 0x07198540,
    0x590ab964, 0xab613a67, 0xb831c993, 0x4a5a4a90, 0x9e902e7b, 0x6cfbad78, 0x7fab5e8c, 0x8dc0dd8f,
    0xe330a81a, 0x115b2b19, 0x020bd8ed, 0xf0605bee, 0x24aa3f05, 0xd6c1bc06, 0xc5914ff2, 0x37faccf1,
    0x69e9f0d5, 0x9b8273d6, 0x88d28022, 0x7ab90321, 0xae7367ca, 0x5c18e4c9, 0x4f48173d, 0xbd23943e,
    0xf36e6f75, 0x0105ec76, 0x12551f82, 0xe03e9c81, 0x34f4f86a, 0xc69f7b69, 0xd5cf889d, 0x27a40b9e,
    0x79b737ba, 0x8bdcb4b9, 0x988c474d, 0x6ae7c44e, 0xbe2da0a5, 0x4c4623a6, 0x5f16d052, 0xad7d5351,
};

uint32_t gx_tb_crc32c(const void *p, size_t n) {
    const unsigned char *b = p;
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) c = crc32c_table[(c ^ b[i]) & 0xffu] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

/* TFRecord stores a rotated CRC, because a CRC of data that itself contains CRCs is weak. */
static uint32_t masked_crc(const void *p, size_t n) {
    uint32_t c = gx_tb_crc32c(p, n);
    return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

// ---- the output buffer and protobuf encoding ----

/* A growing byte buffer. An allocation failure sets oom and makes every later put a no-op, so
 * an encoder checks once at the end instead of after every field. */
typedef struct tb_buf {
    unsigned char *p;
    size_t         len, cap;
    int            oom;
} tb_buf;

static int buf_reserve(tb_buf *b, size_t extra) {
    if (b->oom) return 0;
    if (extra <= b->cap - b->len) return 1;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < extra) {
        if (cap > SIZE_MAX / 2) {
            b->oom = 1;
            return 0;
        }
        cap *= 2;
    }
    unsigned char *p = gx_realloc(b->p, cap);
    if (p == NULL) {
        b->oom = 1;
        return 0;
    }
    b->p = p;
    b->cap = cap;
    return 1;
}

static void buf_put(tb_buf *b, const void *src, size_t n) {
    if (n == 0 || !buf_reserve(b, n)) return;
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

/* Wire types */
enum { PB_VARINT = 0, PB_FIXED64 = 1, PB_LEN = 2, PB_FIXED32 = 5 };

static size_t varint_encode(unsigned char *out, uint64_t v) {
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (unsigned char)v;
    return n;
}

static void pb_varint(tb_buf *b, uint64_t v) {
    unsigned char tmp[10];
    buf_put(b, tmp, varint_encode(tmp, v));
}

static void pb_key(tb_buf *b, uint32_t field, int wire) {
    pb_varint(b, ((uint64_t)field << 3) | (uint64_t)wire);
}

/* Little-endian by shifts, so the host's byte order does not matter. */
static void put_le(unsigned char *out, uint64_t v, int n) {
    for (int i = 0; i < n; i++) out[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t double_bits(double v) {
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

/* proto3 leaves out scalar fields that hold their zero value (all bits zero, so -0.0 is kept);
 * we do the same, so that our bytes equal the protobuf library's. */
static void pb_double(tb_buf *b, uint32_t field, double v) {
    uint64_t u = double_bits(v);
    if (u == 0) return;
    unsigned char tmp[8];
    put_le(tmp, u, 8);
    pb_key(b, field, PB_FIXED64);
    buf_put(b, tmp, 8);
}

/* A member of a oneof (Value.simple_value) has presence: always written, even when 0. */
static void pb_float_always(tb_buf *b, uint32_t field, float v) {
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    unsigned char tmp[4];
    put_le(tmp, u, 4);
    pb_key(b, field, PB_FIXED32);
    buf_put(b, tmp, 4);
}

/* int64 is a plain varint of the two's complement, so a negative step takes 10 bytes. */
static void pb_int64(tb_buf *b, uint32_t field, int64_t v) {
    if (v == 0) return;
    pb_key(b, field, PB_VARINT);
    pb_varint(b, (uint64_t)v);
}

static void pb_bytes(tb_buf *b, uint32_t field, const void *s, size_t n) {
    pb_key(b, field, PB_LEN);
    pb_varint(b, n);
    buf_put(b, s, n);
}

/* Repeated doubles, packed (the proto3 default): one key, one length, the values. */
static void pb_packed_doubles(tb_buf *b, uint32_t field, const double *v, int32_t n) {
    if (n <= 0) return;
    pb_key(b, field, PB_LEN);
    pb_varint(b, (uint64_t)n * 8u);
    if (!buf_reserve(b, (size_t)n * 8u)) return;
    for (int32_t i = 0; i < n; i++) put_le(b->p + b->len + (size_t)i * 8u, double_bits(v[i]), 8);
    b->len += (size_t)n * 8u;
}

/* A nested message: pb_begin marks where its fields start; pb_end shifts them right and writes
 * the key and length in front. */
static size_t pb_begin(const tb_buf *b) {
    return b->len;
}

static void pb_end(tb_buf *b, uint32_t field, size_t start) {
    if (b->oom) return;
    size_t body = b->len - start;
    unsigned char head[16];
    size_t h = varint_encode(head, ((uint64_t)field << 3) | PB_LEN);
    h += varint_encode(head + h, body);
    if (!buf_reserve(b, h)) return;
    memmove(b->p + start + h, b->p + start, body);
    memcpy(b->p + start, head, h);
    b->len += h;
}

// ---- the writer ----

/* TensorFlow's default histogram limits (histogram.cc): +-1e-12 * 1.1^k below 1e20, 0 and
 * +-DBL_MAX. Built by repeated multiplication, as there, so the doubles are identical. */
#define TB_POS_LIMITS 775   /* 774 powers below 1e20, then DBL_MAX */
#define TB_LIMITS     (2 * TB_POS_LIMITS + 1)

struct gx_tb_writer {
    char   *path;
    int     fd;
    int     err;                 /* errno of the first failed write; 0 while all is well */
    tb_buf  out;                 /* complete records not yet written                     */
    double  limits[TB_LIMITS];   /* the default histogram limits, increasing             */
    double  hist[TB_LIMITS];     /* scratch: counts per default bucket                   */
    double  lim_out[TB_LIMITS];  /* scratch: the buckets actually written                */
    double  cnt_out[TB_LIMITS];
};

static void default_limits(double *lim) {
    double pos[TB_POS_LIMITS];
    int k = 0;
    /* the bound only guards the array: the loop itself stops after 774 products */
    for (double v = 1e-12; v < 1e20 && k < TB_POS_LIMITS - 1; v *= 1.1) pos[k++] = v;
    while (k < TB_POS_LIMITS) pos[k++] = DBL_MAX;
    for (int i = 0; i < TB_POS_LIMITS; i++) lim[i] = -pos[TB_POS_LIMITS - 1 - i];
    lim[TB_POS_LIMITS] = 0.0;
    for (int i = 0; i < TB_POS_LIMITS; i++) lim[TB_POS_LIMITS + 1 + i] = pos[i];
}

static double wall_time(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) return (double)time(NULL);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Write everything buffered. The buffer is emptied even on failure: what it held can no longer
 * be placed after a partial record anyway. */
static gx_status write_out(gx_tb_writer *w, gx_diag *d) {
    if (w->err)
        return gx_diag_set(d, GX_ERR_IO, "%s: not written: an earlier write failed (%s)",
                           w->path, strerror(w->err));
    size_t done = 0;
    while (done < w->out.len) {
        ssize_t k = write(w->fd, w->out.p + done, w->out.len - done);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            w->err = k < 0 ? errno : EIO;
            w->out.len = 0;
            return gx_diag_set(d, GX_ERR_IO, "%s: cannot write: %s", w->path, strerror(w->err));
        }
        done += (size_t)k;
    }
    w->out.len = 0;
    return GX_OK;
}

/* Start a record: room for the TFRecord header, then the Event's wall_time and step. */
static size_t record_begin(gx_tb_writer *w, int64_t step) {
    size_t start = w->out.len;
    static const unsigned char zeros[12];
    buf_put(&w->out, zeros, sizeof zeros);
    pb_double(&w->out, 1, wall_time());
    pb_int64(&w->out, 2, step);
    return start;
}

/* Finish the record that starts at `start`: length, CRCs; write out if the buffer is full. */
static gx_status record_end(gx_tb_writer *w, size_t start, gx_diag *d) {
    tb_buf *b = &w->out;
    if (b->oom || !buf_reserve(b, 4)) {
        b->oom = 0;
        b->len = start;
        return gx_diag_set(d, GX_ERR_NOMEM, "%s: out of memory", w->path);
    }
    unsigned char *rec = b->p + start;
    size_t n = b->len - start - 12;
    put_le(rec, n, 8);
    put_le(rec + 8, masked_crc(rec, 8), 4);
    put_le(b->p + b->len, masked_crc(rec + 12, n), 4);
    b->len += 4;
    return b->len >= TB_FLUSH_BYTES ? write_out(w, d) : GX_OK;
}

static gx_status check_call(const gx_tb_writer *w, const char *tag, gx_diag *d) {
    if (w == NULL) return gx_diag_set(d, GX_ERR_INVALID, "tensorboard writer: NULL writer");
    if (tag == NULL || tag[0] == '\0')
        return gx_diag_set(d, GX_ERR_INVALID, "%s: summary tag is NULL or empty", w->path);
    if (w->err)
        return gx_diag_set(d, GX_ERR_IO, "%s: not written: an earlier write failed (%s)",
                           w->path, strerror(w->err));
    return GX_OK;
}

/* Like mkdir -p: every missing component of dir, in order. */
static gx_status make_dirs(const char *dir, gx_diag *d) {
    char *p = gx_strdup(dir);
    if (p == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "%s: out of memory", dir);
    gx_status st = GX_OK;
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0') continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            st = gx_diag_set(d, GX_ERR_IO, "%s: cannot create directory %s: %s", dir, p,
                             strerror(errno));
            break;
        }
        *s = c;
        if (c == '\0') break;
    }
    gx_free(p);
    if (st != GX_OK) return st;
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return gx_diag_set(d, GX_ERR_IO, "%s: not a directory", dir);
    return GX_OK;
}

/* Create a new event file with O_EXCL, so two writers never share (and garble) one file. */
static gx_status create_file(gx_tb_writer *w, const char *dir, gx_diag *d) {
    char host[256];
    if (gethostname(host, sizeof host) != 0 || host[0] == '\0') strcpy(host, "localhost");
    host[sizeof host - 1] = '\0';
    size_t dn = strlen(dir);
    while (dn > 1 && dir[dn - 1] == '/') dn--;   /* "logs/" and "logs" name the same file */
    size_t cap = dn + strlen(host) + 96;
    w->path = gx_malloc(cap);
    if (w->path == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "%s: out of memory", dir);
    long long now = (long long)time(NULL);
    for (int k = 0; k < TB_NAME_TRIES; k++) {
        int m = snprintf(w->path, cap, "%.*s/events.out.tfevents.%lld.%s.%ld", (int)dn, dir,
                         now, host, (long)getpid());
        if (k > 0) snprintf(w->path + m, cap - (size_t)m, ".%d", k);
        w->fd = open(w->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (w->fd >= 0) return GX_OK;
        if (errno != EEXIST) break;
    }
    return gx_diag_set(d, GX_ERR_IO, "%s: cannot create: %s", w->path, strerror(errno));
}

gx_status gx_tb_open(const char *dir, gx_tb_writer **out, gx_diag *d) {
    if (out) *out = NULL;
    if (out == NULL || dir == NULL || dir[0] == '\0')
        return gx_diag_set(d, GX_ERR_INVALID, "tensorboard: no log directory given");
    gx_status st = make_dirs(dir, d);
    if (st != GX_OK) return st;
    gx_tb_writer *w = gx_calloc(1, sizeof *w);
    if (w == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "%s: out of memory", dir);
    w->fd = -1;
    default_limits(w->limits);
    st = create_file(w, dir, d);
    if (st == GX_OK) {
        static const char version[] = "brain.Event:2";
        size_t rec = record_begin(w, 0);
        pb_bytes(&w->out, 3, version, sizeof version - 1);
        st = record_end(w, rec, d);
    }
    /* written at once: an unwritable file should fail here, not at the first log step */
    if (st == GX_OK) st = write_out(w, d);
    if (st != GX_OK) {
        if (w->fd >= 0) {
            close(w->fd);
            unlink(w->path);
        }
        gx_free(w->out.p);
        gx_free(w->path);
        gx_free(w);
        return st;
    }
    *out = w;
    return GX_OK;
}

gx_status gx_tb_scalar(gx_tb_writer *w, const char *tag, int64_t step, double value,
                       gx_diag *d) {
    gx_status st = check_call(w, tag, d);
    if (st != GX_OK) return st;
    tb_buf *b = &w->out;
    size_t rec = record_begin(w, step);
    size_t summary = pb_begin(b);
    size_t val = pb_begin(b);
    pb_bytes(b, 1, tag, strlen(tag));
    pb_float_always(b, 2, (float)value);
    pb_end(b, 1, val);
    pb_end(b, 5, summary);
    return record_end(w, rec, d);
}

gx_status gx_tb_histogram(gx_tb_writer *w, const char *tag, int64_t step, const double *limits,
                          const double *counts, int32_t n, double min, double max, double num,
                          double sum, double sum_sq, gx_diag *d) {
    gx_status st = check_call(w, tag, d);
    if (st != GX_OK) return st;
    if (n < 0 || (n > 0 && (limits == NULL || counts == NULL)))
        return gx_diag_set(d, GX_ERR_INVALID, "%s: histogram %s: bad bucket arrays (n = %d)",
                           w->path, tag, (int)n);
    for (int32_t i = 1; i < n; i++)
        if (!(limits[i - 1] < limits[i]))
            return gx_diag_set(d, GX_ERR_INVALID,
                               "%s: histogram %s: bucket limits do not increase at %d (%g, %g)",
                               w->path, tag, (int)i, limits[i - 1], limits[i]);
    tb_buf *b = &w->out;
    size_t rec = record_begin(w, step);
    size_t summary = pb_begin(b);
    size_t val = pb_begin(b);
    pb_bytes(b, 1, tag, strlen(tag));
    size_t histo = pb_begin(b);
    pb_double(b, 1, min);
    pb_double(b, 2, max);
    pb_double(b, 3, num);
    pb_double(b, 4, sum);
    pb_double(b, 5, sum_sq);
    pb_packed_doubles(b, 6, limits, n);
    pb_packed_doubles(b, 7, counts, n);
    /* Value.histo is in a oneof, so it is written even when every field is zero (length 0) */
    pb_end(b, 5, histo);
    pb_end(b, 1, val);
    pb_end(b, 5, summary);
    return record_end(w, rec, d);
}

/* Index of the first default limit above v: the bucket v falls in. */
static int32_t default_bucket(const double *lim, double v) {
    int32_t lo = 0, hi = TB_LIMITS - 1;   /* v < DBL_MAX = lim[TB_LIMITS - 1] for any float */
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (lim[mid] > v) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

gx_status gx_tb_histogram_f32(gx_tb_writer *w, const char *tag, int64_t step, const float *x,
                              int64_t n, gx_diag *d) {
    gx_status st = check_call(w, tag, d);
    if (st != GX_OK) return st;
    if (n < 0 || (n > 0 && x == NULL))
        return gx_diag_set(d, GX_ERR_INVALID, "%s: histogram %s: bad values (n = %lld)",
                           w->path, tag, (long long)n);
    memset(w->hist, 0, sizeof w->hist);
    double num = 0, sum = 0, sum_sq = 0, mn = 0, mx = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = x[i];
        if (!isfinite(v)) continue;
        if (num == 0 || v < mn) mn = v;
        if (num == 0 || v > mx) mx = v;
        num += 1;
        sum += v;
        sum_sq += v * v;
        w->hist[default_bucket(w->limits, v)] += 1;
    }
    if (num == 0) {
        /* one empty bucket: readers that pair limits with [min, max] need at least one */
        static const double zero = 0.0;
        return gx_tb_histogram(w, tag, step, &zero, &zero, 1, 0, 0, 0, 0, 0, d);
    }
    int32_t first = 0, last = TB_LIMITS - 1, k = 0;
    while (w->hist[first] == 0) first++;
    while (w->hist[last] == 0) last--;
    for (int32_t i = first; i <= last; i++) {
        /* a run of empty buckets becomes one: [start of the run, end of the run) is empty */
        if (w->hist[i] == 0 && k > 0 && w->cnt_out[k - 1] == 0) {
            w->lim_out[k - 1] = w->limits[i];
            continue;
        }
        w->lim_out[k] = w->limits[i];
        w->cnt_out[k] = w->hist[i];
        k++;
    }
    return gx_tb_histogram(w, tag, step, w->lim_out, w->cnt_out, k, mn, mx, num, sum, sum_sq,
                           d);
}

gx_status gx_tb_flush(gx_tb_writer *w, gx_diag *d) {
    if (w == NULL) return gx_diag_set(d, GX_ERR_INVALID, "tensorboard writer: NULL writer");
    return write_out(w, d);
}

void gx_tb_close(gx_tb_writer *w) {
    if (w == NULL) return;
    if (w->out.len > 0) (void)write_out(w, NULL);
    close(w->fd);
    gx_free(w->out.p);
    gx_free(w->path);
    gx_free(w);
}

const char *gx_tb_path(const gx_tb_writer *w) {
    return w ? w->path : NULL;
}
