/*
 * data-task.c: synthetic sequence tasks for testing recurrent models, generated on the fly.
 *
 *   copy    (Hochreiter & Schmidhuber 1997; Arjovsky et al. 2016) remember `length` symbols
 *           over a gap: tokens = s_1..s_L, gap-1 blanks, the go marker, L blanks; targets = -1
 *           (ignored) except the last L positions, which hold s_1..s_L; mask = 1 there.
 *           Ids: 0 blank, 1..K symbols, K+1 go. T = 2L + gap, V = K + 2.
 *   parity  temporal parity: `length` random bits, one per step; targets[t] = XOR of bits 0..t
 *           (the running parity, a target at every step), label = XOR of all bits (the
 *           many-to-one form: targets' last step). I = 1.
 *   adding  (Hochreiter & Schmidhuber 1997) channel 0 uniform [0, 1), channel 1 marks one step
 *           in the first half and one in the second; y = the sum of the two marked values. I = 2.
 *   reverse, sort  sequence to sequence over digit strings: the source is L digits, the target
 *           the same digits reversed (or sorted ascending), then EOS. Training draws L uniformly
 *           in [min, max]; validation in [eval_min, eval_max] (default: max, and the 4 longest
 *           lengths), so the held-out score is on sequences longer than most training ones.
 *           Ids: digit d is d, PAD 10, BOS 11, EOS 12 (V = 13); S = max(max, eval_max) source
 *           positions, T = S + 1 target positions. Fields: src i32[B, S] (digits, then PAD),
 *           mask f32[B, S] (1 on the digits), dec_in i32[B, T] (BOS, then the target shifted
 *           right, then PAD), targets i32[B, T] (the target, EOS, then -1 = ignored) and force
 *           i32[B, T], the teacher-forcing switch: all 1 in training batches (the decoder
 *           reads dec_in); in validation batches 1 at t = 0 only, so from t = 1 on the graph
 *           feeds back its own argmax and the validation metrics score greedy decoding.
 *
 * Every value is a hash of (seed, split, batch index, row, position) through splitmix64, so any
 * batch is rebuilt from its index alone, in any order, with no state. An "epoch" is a fixed
 * 1000 training batches (a reporting unit only: training indices past it draw new examples,
 * so the data never repeats); validation is the same 8 batches every time.
 * opts->bptt is ignored: each task has its own T.
 */
#include "data-impl.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TASK_TRAIN_BATCHES 1000
#define TASK_VAL_BATCHES   8
#define TASK_S2S_VAL_BATCHES 16   /* more held-out sequences: exact match is a coarse score */
#define TASK_MAX_KEYS      4
#define TASK_MAX_VALUE     (1 << 20)   /* keeps T and V far from int32 limits */
#define TASK_MAX_FIELDS    5

enum { TASK_COPY, TASK_PARITY, TASK_ADDING, TASK_REVERSE, TASK_SORT };

/* the vocabulary of the seq2seq tasks: digits are their own ids, then three markers */
enum { S2S_DIGITS = 10, S2S_PAD = 10, S2S_BOS = 11, S2S_EOS = 12, S2S_V = 13 };
enum { S2S_MIN, S2S_MAX, S2S_EVAL_MIN, S2S_EVAL_MAX };

typedef struct task_def {
    const char *name;
    int32_t     n_keys;
    const char *keys[TASK_MAX_KEYS];
    int64_t     dflt[TASK_MAX_KEYS];
    int64_t     min[TASK_MAX_KEYS];
} task_def;

static const task_def task_defs[] = {
    [TASK_COPY] = {"copy", 3, {"length", "symbols", "gap"}, {5, 8, 20}, {1, 1, 1}},
    [TASK_PARITY] = {"parity", 1, {"length"}, {10}, {1}},
    [TASK_ADDING] = {"adding", 1, {"length"}, {50}, {2}},   /* a marker in each half */
    /* eval_min, eval_max: 0 = derived from max (see derive_s2s) */
    [TASK_REVERSE] = {"reverse", 4, {"min", "max", "eval_min", "eval_max"}, {1, 12, 0, 0},
                      {1, 1, 1, 1}},
    [TASK_SORT] = {"sort", 4, {"min", "max", "eval_min", "eval_max"}, {1, 12, 0, 0},
                   {1, 1, 1, 1}},
};
#define N_TASKS ((int)(sizeof task_defs / sizeof task_defs[0]))

typedef struct task_ds {
    gx_dataset base;
    int        kind;
    int64_t    v[TASK_MAX_KEYS];   /* key values in task_def order */
    int64_t    T, B;
    int64_t    S;                  /* seq2seq: source positions */
    uint64_t   seed;
} task_ds;

static int is_s2s(const task_ds *t) {
    return t->kind == TASK_REVERSE || t->kind == TASK_SORT;
}

typedef struct task_field_def {
    const char *name;
    gx_dtype    dtype;
    int32_t     ndim;   /* [B], [B, T] or [B, T, I]; [B, S] when inner is 0 (seq2seq sources) */
    int64_t     inner;
} task_field_def;

#define S2S_FIELDS                                                                        \
    {{"src", GX_DTYPE_I32, 2, 0}, {"mask", GX_DTYPE_F32, 2, 0}, {"dec_in", GX_DTYPE_I32, 2, 1}, \
     {"targets", GX_DTYPE_I32, 2, 1}, {"force", GX_DTYPE_I32, 2, 1}}

static const task_field_def task_fields[][TASK_MAX_FIELDS] = {
    [TASK_COPY] = {{"tokens", GX_DTYPE_I32, 2, 1}, {"targets", GX_DTYPE_I32, 2, 1},
                   {"mask", GX_DTYPE_F32, 2, 1}},
    [TASK_PARITY] = {{"x", GX_DTYPE_F32, 3, 1}, {"label", GX_DTYPE_I32, 1, 1},
                     {"targets", GX_DTYPE_I32, 2, 1}},
    [TASK_ADDING] = {{"x", GX_DTYPE_F32, 3, 2}, {"y", GX_DTYPE_F32, 1, 1}},
    [TASK_REVERSE] = S2S_FIELDS,
    [TASK_SORT] = S2S_FIELDS,
};

// ---- generation ----

/* The i-th draw of an example: splitmix64's i-th output from state `key`. */
static uint64_t draw(uint64_t key, uint64_t i) {
    return gx_mix64(key + i * 0x9E3779B97F4A7C15ull);
}

/* Uniform in [0, 1) on a 2^-23 grid: the sum of two is then exact in f32, so the adding
 * task's y equals x[p1] + x[p2] bit for bit whatever dtype the graph reads. */
static double unif23(uint64_t r) {
    return (double)(r >> 41) * (1.0 / 8388608.0);
}

/* Hashes are chained rather than xor-ed together so that no two (seed, split, index, row)
 * tuples share a key by cancellation. */
static uint64_t example_key(const task_ds *t, gx_split split, uint64_t index, int64_t b) {
    uint64_t h = gx_mix64(t->seed ^ 0x7461736B64617461ull);   /* "taskdata" */
    h = gx_mix64(h ^ (uint64_t)split);
    h = gx_mix64(h ^ index);
    return gx_mix64(h ^ (uint64_t)b);
}

static void gen_copy(const task_ds *t, uint64_t key, int which, void *dst, gx_dtype dt,
                     size_t row) {
    int64_t L = t->v[0], K = t->v[1], gap = t->v[2];
    for (int64_t p = 0; p < t->T; p++) {
        double v;
        if (which == 0) {   /* tokens */
            v = p < L ? (double)(1 + draw(key, (uint64_t)p) % (uint64_t)K)
                : p == L + gap - 1 ? (double)(K + 1) : 0.0;
        } else {
            int scored = p >= L + gap;
            if (which == 1)
                v = scored ? (double)(1 + draw(key, (uint64_t)(p - L - gap)) % (uint64_t)K) : -1.0;
            else
                v = scored ? 1.0 : 0.0;
        }
        gx_data_store(dst, dt, row + (size_t)p, v);
    }
}

static void gen_parity(const task_ds *t, uint64_t key, int which, void *dst, gx_dtype dt,
                       int64_t b) {
    uint64_t x = 0;
    for (int64_t p = 0; p < t->T; p++) {
        uint64_t bit = draw(key, (uint64_t)p) >> 63;
        x ^= bit;
        if (which == 0) gx_data_store(dst, dt, (size_t)(b * t->T + p), (double)bit);
        if (which == 2) gx_data_store(dst, dt, (size_t)(b * t->T + p), (double)x);
    }
    if (which == 1) gx_data_store(dst, dt, (size_t)b, (double)x);
}

static void gen_adding(const task_ds *t, uint64_t key, int which, void *dst, gx_dtype dt,
                       int64_t b) {
    int64_t T = t->T, half = T / 2;
    int64_t p1 = (int64_t)(draw(key, (uint64_t)T) % (uint64_t)half);
    int64_t p2 = half + (int64_t)(draw(key, (uint64_t)T + 1) % (uint64_t)(T - half));
    double y = 0.0;
    for (int64_t p = 0; p < T; p++) {
        double v = unif23(draw(key, (uint64_t)p)), m = p == p1 || p == p2;
        y += v * m;
        if (which == 0) {
            gx_data_store(dst, dt, (size_t)((b * T + p) * 2), v);
            gx_data_store(dst, dt, (size_t)((b * T + p) * 2 + 1), m);
        }
    }
    if (which == 1) gx_data_store(dst, dt, (size_t)b, y);
}

// ---- sequence to sequence ----

/* One example of reverse or sort: its length and where its digits come from (the example's
 * hash, or the text of a prompt for gexec sample). */
typedef struct s2s_example {
    int64_t     L;
    uint64_t    key;
    const char *text;   /* NULL: digits drawn from key */
} s2s_example;

static int32_t s2s_digit(const s2s_example *e, int64_t p) {
    return e->text ? e->text[p] - '0' : (int32_t)(draw(e->key, (uint64_t)p) % S2S_DIGITS);
}

/* uniform in the split's length range; the draw index lies past any digit's, so the digits of
 * an example do not depend on how its length was drawn */
static int64_t s2s_length(const task_ds *t, gx_split split, uint64_t key) {
    int64_t lo = t->v[split == GX_SPLIT_VAL ? S2S_EVAL_MIN : S2S_MIN];
    int64_t hi = t->v[split == GX_SPLIT_VAL ? S2S_EVAL_MAX : S2S_MAX];
    return lo + (int64_t)(draw(key, 1ull << 40) % (uint64_t)(hi - lo + 1));
}

/* target symbol p < L: the source reversed, or sorted (the digit whose running count passes p,
 * from the digit counts, so no copy of the source is needed however long it is) */
static int32_t s2s_target(const task_ds *t, const s2s_example *e, const int64_t *count,
                          int64_t p) {
    if (t->kind == TASK_REVERSE) return s2s_digit(e, e->L - 1 - p);
    int64_t c = 0;
    for (int32_t d = 0; d < S2S_DIGITS; d++)
        if (p < (c += count[d])) return d;
    return S2S_EOS;   /* not reached: the counts sum to L */
}

/* Field `which` (src, mask, dec_in, targets, force) of one example into row b. greedy: force
 * only t = 0 (validation, prompts), so the decoder feeds back its own predictions after it. */
static void gen_s2s(const task_ds *t, const s2s_example *e, int which, int greedy, void *dst,
                    gx_dtype dt, int64_t b) {
    int64_t count[S2S_DIGITS] = {0};
    if (t->kind == TASK_SORT && (which == 2 || which == 3))
        for (int64_t p = 0; p < e->L; p++) count[s2s_digit(e, p)]++;
    int64_t n = which < 2 ? t->S : t->T, L = e->L;
    for (int64_t p = 0; p < n; p++) {
        double v;
        if (which == 0) v = p < L ? s2s_digit(e, p) : S2S_PAD;
        else if (which == 1) v = p < L;
        else if (which == 2)
            v = p == 0 ? S2S_BOS : p <= L ? s2s_target(t, e, count, p - 1) : S2S_PAD;
        else if (which == 3) v = p < L ? s2s_target(t, e, count, p) : p == L ? S2S_EOS : -1;
        else v = !greedy || p == 0;
        gx_data_store(dst, dt, (size_t)(b * n + p), v);
    }
}

/* the derived keys and the sizes of a seq2seq task, after its spec is parsed */
static gx_status derive_s2s(task_ds *t, gx_diag *d) {
    int64_t *v = t->v;
    const char *name = task_defs[t->kind].name;
    if (v[S2S_MIN] > v[S2S_MAX])
        return gx_diag_set(d, GX_ERR_INVALID, "task %s: min (%lld) is larger than max (%lld)",
                           name, (long long)v[S2S_MIN], (long long)v[S2S_MAX]);
    if (v[S2S_EVAL_MAX] == 0) v[S2S_EVAL_MAX] = v[S2S_MAX];
    if (v[S2S_EVAL_MIN] == 0) {
        /* the 4 longest lengths, or fewer when the range is shorter */
        int64_t lo = v[S2S_MIN] < v[S2S_EVAL_MAX] ? v[S2S_MIN] : v[S2S_EVAL_MAX];
        v[S2S_EVAL_MIN] = v[S2S_EVAL_MAX] - 3 > lo ? v[S2S_EVAL_MAX] - 3 : lo;
    }
    if (v[S2S_EVAL_MIN] > v[S2S_EVAL_MAX])
        return gx_diag_set(d, GX_ERR_INVALID, "task %s: eval_min (%lld) is larger than eval_max "
                           "(%lld)", name, (long long)v[S2S_EVAL_MIN], (long long)v[S2S_EVAL_MAX]);
    t->S = v[S2S_MAX] > v[S2S_EVAL_MAX] ? v[S2S_MAX] : v[S2S_EVAL_MAX];
    t->T = t->S + 1;
    return GX_OK;
}

// ---- the vtable ----

static int32_t task_n_binds(const gx_dataset *ds) {
    return is_s2s((const task_ds *)ds) ? 3 : 2;
}

static gx_dim_binding task_bind(const gx_dataset *ds, int32_t i) {
    const task_ds *t = (const task_ds *)ds;
    if (i == 0) return (gx_dim_binding){"T", t->T};
    if (is_s2s(t)) return i == 1 ? (gx_dim_binding){"S", t->S} : (gx_dim_binding){"V", S2S_V};
    if (t->kind == TASK_COPY) return (gx_dim_binding){"V", t->v[1] + 2};
    return (gx_dim_binding){"I", t->kind == TASK_PARITY ? 1 : 2};
}

static int32_t task_n_fields(const gx_dataset *ds) {
    const task_ds *t = (const task_ds *)ds;
    int32_t n = 0;
    while (n < TASK_MAX_FIELDS && task_fields[t->kind][n].name) n++;
    return n;
}

static gx_data_field task_field(const gx_dataset *ds, int32_t i) {
    const task_ds *t = (const task_ds *)ds;
    const task_field_def *f = &task_fields[t->kind][i];
    gx_data_field r = {f->name, f->dtype, {f->ndim, {t->B, f->inner ? t->T : t->S, f->inner}}};
    return r;
}

static uint64_t task_n_batches(const gx_dataset *ds, gx_split split) {
    if (split == GX_SPLIT_TRAIN) return TASK_TRAIN_BATCHES;
    return is_s2s((const task_ds *)ds) ? TASK_S2S_VAL_BATCHES : TASK_VAL_BATCHES;
}

static int task_stateful(const gx_dataset *ds) {
    (void)ds;
    return 0;
}

/* The index of field `name` in *which, after checking that the graph input (info) can take it. */
static gx_status task_match(const gx_dataset *ds, const char *name, const gx_tensor_info *info,
                            int32_t *which_out, gx_diag *d) {
    const task_ds *t = (const task_ds *)ds;
    int32_t n = task_n_fields(ds), which = -1;
    for (int32_t i = 0; i < n; i++)
        if (strcmp(task_fields[t->kind][i].name, name) == 0) which = i;
    if (which < 0) {
        char list[128] = "";
        for (int32_t i = 0; i < n; i++) {
            size_t l = strlen(list);
            snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "", task_fields[t->kind][i].name);
        }
        return gx_diag_set(d, GX_ERR_NOT_FOUND, "task %s has no field '%s' (it gives %s)",
                           task_defs[t->kind].name, name, list);
    }
    gx_data_field f = task_field(ds, which);
    int want_int = f.dtype == GX_DTYPE_I32;
    int dtype_ok = want_int ? info->dtype == GX_DTYPE_I32
                            : info->dtype == GX_DTYPE_F32 || info->dtype == GX_DTYPE_F64;
    int shape_ok = info->shape.ndim == f.shape.ndim;
    for (int32_t k = 0; shape_ok && k < f.shape.ndim; k++)
        shape_ok = info->shape.dims[k] == f.shape.dims[k];
    if (!dtype_ok || !shape_ok) {
        char a[128], b[128];
        return gx_diag_set(d, dtype_ok ? GX_ERR_SHAPE : GX_ERR_DTYPE,
                           "graph input '%s' is %s%s, but task %s gives %s%s", name,
                           gx_dtype_name(info->dtype), gx_shape_str(&info->shape, a, sizeof a),
                           task_defs[t->kind].name, gx_dtype_name(f.dtype),
                           gx_shape_str(&f.shape, b, sizeof b));
    }
    *which_out = which;
    return GX_OK;
}

static gx_status task_fill(gx_dataset *ds, gx_split split, uint64_t index, const char *name,
                           const gx_tensor_info *info, void *dst, gx_diag *d) {
    const task_ds *t = (const task_ds *)ds;
    int32_t which;
    gx_status st = task_match(ds, name, info, &which, d);
    if (st != GX_OK) return st;
    /* validation repeats its few batches; training indices are used whole (fresh data) */
    if (split == GX_SPLIT_VAL) index %= task_n_batches(ds, split);
    for (int64_t b = 0; b < t->B; b++) {
        uint64_t key = example_key(t, split, index, b);
        if (is_s2s(t)) {
            s2s_example e = {.L = s2s_length(t, split, key), .key = key};
            gen_s2s(t, &e, which, split == GX_SPLIT_VAL, dst, info->dtype, b);
        } else if (t->kind == TASK_COPY)
            gen_copy(t, key, which, dst, info->dtype, (size_t)(b * t->T));
        else if (t->kind == TASK_PARITY)
            gen_parity(t, key, which, dst, info->dtype, b);
        else
            gen_adding(t, key, which, dst, info->dtype, b);
    }
    return GX_OK;
}

static void task_free(gx_dataset *ds) {
    gx_free(ds);
}

static const gx_data_vt task_vt = {
    .kind = "task",
    .n_binds = task_n_binds,
    .bind = task_bind,
    .n_fields = task_n_fields,
    .field = task_field,
    .n_batches = task_n_batches,
    .stateful = task_stateful,
    .fill = task_fill,
    .free = task_free,
};

// ---- the spec ----

static void join_names(char *buf, size_t n, const char *const *names, int count) {
    buf[0] = '\0';
    for (int i = 0; i < count; i++) {
        size_t l = strlen(buf);
        snprintf(buf + l, n - l, "%s%s", i ? ", " : "", names[i]);
    }
}

/* "name" or "name:key=value,key=value" into t->kind and t->v. */
static gx_status parse_spec(const char *spec, task_ds *t, gx_diag *d) {
    const char *names[N_TASKS];
    char list[128];
    for (int i = 0; i < N_TASKS; i++) names[i] = task_defs[i].name;
    join_names(list, sizeof list, names, N_TASKS);
    size_t nl = strcspn(spec, ":");
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(nl < 63 ? nl : 63), spec);
    t->kind = -1;
    for (int i = 0; i < N_TASKS; i++)
        if (nl == strlen(names[i]) && strncmp(spec, names[i], nl) == 0) t->kind = i;
    if (t->kind < 0) {
        const char *near = gx_nearest_name(name, names, N_TASKS);
        if (near)
            return gx_diag_set(d, GX_ERR_NOT_FOUND, "unknown task '%s' (did you mean '%s'?); "
                               "the tasks are %s", name, near, list);
        return gx_diag_set(d, GX_ERR_NOT_FOUND, "unknown task '%s'; the tasks are %s", name,
                           list);
    }
    const task_def *def = &task_defs[t->kind];
    int given[TASK_MAX_KEYS] = {0};
    for (int32_t k = 0; k < def->n_keys; k++) t->v[k] = def->dflt[k];
    join_names(list, sizeof list, def->keys, def->n_keys);
    const char *p = spec[nl] == ':' ? spec + nl + 1 : spec + nl;
    while (*p) {
        size_t il = strcspn(p, ","), kl = strcspn(p, "=,");
        char key[64], val[64];
        snprintf(key, sizeof key, "%.*s", (int)(kl < 63 ? kl : 63), p);
        if (kl >= il)
            return gx_diag_set(d, GX_ERR_INVALID, "task %s: '%s' needs a value (key=value; the "
                               "keys are %s)", def->name, key, list);
        snprintf(val, sizeof val, "%.*s", (int)(il - kl - 1 < 63 ? il - kl - 1 : 63), p + kl + 1);
        int32_t k = 0;
        while (k < def->n_keys && strcmp(def->keys[k], key) != 0) k++;
        if (k == def->n_keys) {
            const char *near = gx_nearest_name(key, def->keys, def->n_keys);
            return gx_diag_set(d, GX_ERR_NOT_FOUND, "task %s has no key '%s'%s%s%s; its keys "
                               "are %s", def->name, key, near ? " (did you mean '" : "",
                               near ? near : "", near ? "'?)" : "", list);
        }
        if (given[k]++)
            return gx_diag_set(d, GX_ERR_INVALID, "task %s: key '%s' is given twice", def->name,
                               key);
        char *end = NULL;
        long long v = strtoll(val, &end, 10);
        if (val[0] == '\0' || *end != '\0' || v < def->min[k] || v > TASK_MAX_VALUE)
            return gx_diag_set(d, GX_ERR_INVALID, "task %s: %s must be an integer in [%lld, %d], "
                               "got '%s'", def->name, key, (long long)def->min[k],
                               TASK_MAX_VALUE, val);
        t->v[k] = v;
        p += il;
        if (*p == ',') p++;
    }
    return GX_OK;
}

gx_status gx_data_task(const char *spec, const gx_data_opts *o, gx_dataset **out, gx_diag *d) {
    *out = NULL;
    if (spec == NULL || spec[0] == '\0')
        return gx_diag_set(d, GX_ERR_INVALID, "no task given; the tasks are copy, parity, adding, "
                           "reverse, sort");
    if (o == NULL || o->batch < 1)
        return gx_diag_set(d, GX_ERR_INVALID, "task %s: batch size must be at least 1", spec);
    task_ds *t = gx_calloc(1, sizeof *t);
    if (t == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    gx_status st = parse_spec(spec, t, d);
    if (st == GX_OK && is_s2s(t)) st = derive_s2s(t, d);
    if (st == GX_OK && (t->base.source = gx_strdup(spec)) == NULL)
        st = gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    if (st != GX_OK) {
        gx_free(t);
        return st;
    }
    t->base.vt = &task_vt;
    t->B = o->batch;
    t->seed = o->seed;
    if (!is_s2s(t)) t->T = t->kind == TASK_COPY ? 2 * t->v[0] + t->v[2] : t->v[0];
    *out = &t->base;
    return GX_OK;
}

// ---- prompts: gexec sample on a seq2seq model ----

int gx_data_task_codec(const gx_dataset *ds, gx_task_codec *out) {
    if (ds == NULL || strcmp(ds->vt->kind, "task") != 0 || !is_s2s((const task_ds *)ds)) return 0;
    const task_ds *t = (const task_ds *)ds;
    *out = (gx_task_codec){.n_symbols = S2S_DIGITS, .pad = S2S_PAD, .bos = S2S_BOS,
                           .eos = S2S_EOS, .max_len = t->S};
    return 1;
}

gx_status gx_data_task_prompt(gx_dataset *ds, const char *text, const char *name,
                              const gx_tensor_info *info, void *dst, gx_diag *d) {
    gx_task_codec c;
    if (!gx_data_task_codec(ds, &c))
        return gx_diag_set(d, GX_ERR_INVALID, "data %s is not a sequence-to-sequence task",
                           ds ? ds->source : "(none)");
    const task_ds *t = (const task_ds *)ds;
    size_t len = strlen(text);
    for (size_t i = 0; i < len; i++)
        if (text[i] < '0' || text[i] > '9')
            return gx_diag_set(d, GX_ERR_INVALID, "prompt '%s': '%c' (byte %zu) is not in the "
                               "vocabulary of task %s (the digits 0-9)", text, text[i], i,
                               task_defs[t->kind].name);
    if (len == 0)
        return gx_diag_set(d, GX_ERR_INVALID, "the prompt is empty: give the digits to %s",
                           task_defs[t->kind].name);
    if ((int64_t)len > t->S)
        return gx_diag_set(d, GX_ERR_INVALID, "prompt '%s' has %zu digits, more than the %lld "
                           "source positions (S) the model was built for", text, len,
                           (long long)t->S);
    int32_t which;
    gx_status st = task_match(ds, name, info, &which, d);
    if (st != GX_OK) return st;
    s2s_example e = {.L = (int64_t)len, .text = text};
    for (int64_t b = 0; b < t->B; b++) gen_s2s(t, &e, which, 1, dst, info->dtype, b);
    return GX_OK;
}

size_t gx_data_task_decode(const gx_dataset *ds, const int32_t *ids, int64_t n, char *out,
                           size_t cap) {
    gx_task_codec c;
    size_t len = 0;
    if (cap == 0) return 0;
    out[0] = '\0';
    if (!gx_data_task_codec(ds, &c)) return 0;
    for (int64_t i = 0; i < n && ids[i] != c.eos; i++) {
        const char *sym = ids[i] == c.pad ? "<pad>" : ids[i] == c.bos ? "<bos>" : "<?>";
        char digit[2] = {(char)('0' + ids[i]), '\0'};
        if (ids[i] >= 0 && ids[i] < c.n_symbols) sym = digit;
        size_t k = strlen(sym);
        if (len + k >= cap) break;
        memcpy(out + len, sym, k + 1);
        len += k;
    }
    return len;
}
