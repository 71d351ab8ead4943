/*
 * cmd-sample.c: the verbs that use a trained checkpoint of a character model:
 * `gexec sample` (generate text) and `gexec eval` (loss on a text in nats and bits per char).
 * Both rebuild the model from the graph text stored in the checkpoint. `gexec sample` also
 * decodes with a model trained on a sequence-to-sequence task (reverse, sort): the prompt is
 * the source, and the graph decodes greedily in one run (see sample_s2s).
 */
#include "cli.h"
#include "data.h"
#include "init.h"
#include "train.h"
/* the seq2seq prompt hooks only: init.h's gx_rng_next is not data-impl.h's */

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *opt(const cli_opts *o, const char *name) {
    for (int k = 0; k < o->n_extra; k++)
        if (strcmp(o->extra_name[k], name) == 0) return o->extra_val[k] ? o->extra_val[k] : "";
    return NULL;
}

static int num_opt(const cli_opts *o, const char *verb, const char *name, double lo, double hi,
                   double dflt, double *out) {
    const char *s = opt(o, name);
    *out = dflt;
    if (s == NULL) return 1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*s == '\0' || errno || *end || !(v >= lo && v <= hi)) {
        cli_failf("gexec %s: %s wants a number in [%g, %g], got '%s'", verb, name, lo, hi, s);
        return 0;
    }
    *out = v;
    return 1;
}

/* the checkpoint's dims include `name` */
static int ck_has_dim(const gx_checkpoint *ck, const char *name) {
    size_t n = strlen(name);
    for (const char *p = ck->dims; p && *p;) {
        if (strncmp(p, name, n) == 0 && p[n] == '=') return 1;
        p = strchr(p, ',');
        if (p) p++;
    }
    return 0;
}

/* A planned inference graph of a checkpoint, with its states. */
typedef struct model {
    gx_checkpoint *ck;
    gx_graph      *g;
    gx_exec       *e;
    gx_val         logits;
    void         **feed;      /* per input: its host buffer; a state's holds the state for
                                 the next run (the last run's final carry)          */
} model;

static void model_free(model *m) {
    for (int32_t i = 0; m->g && m->feed && i < m->g->n_inputs; i++) free(m->feed[i]);
    free(m->feed);
    gx_exec_free(m->e);
    gx_graph_free(m->g);
    gx_checkpoint_free(m->ck);
}

static size_t value_bytes(const gx_graph *g, gx_val v) {
    return (size_t)gx_shape_numel(&g->values[v].info.shape) * gx_dtype_size(g->values[v].info.dtype);
}

/* Load ck, lower its graph (dims overridden by `over`), plan it for the loss or the logits. */
static gx_status model_open(model *m, gx_registry *reg, const char *path, const gx_dim_binding *over,
                            int n_over, int want_logits, int need_vocab, const char *backend,
                            gx_diag *d) {
    memset(m, 0, sizeof *m);
    m->logits = GX_VAL_NONE;
    gx_status st = gx_checkpoint_read(path, &m->ck, d);
    if (st == GX_OK && need_vocab && m->ck->vocab.n == 0)
        st = gx_diag_set(d, GX_ERR_INVALID, "%s: error: the checkpoint has no vocabulary: it was "
                         "not trained on text (data %s)", path, gx_st_meta(m->ck->file, "gexec.data"));
    if (st == GX_OK) st = gx_checkpoint_graph(m->ck, reg, over, n_over, &m->g, d);
    if (st != GX_OK) return st;
    gx_graph *g = m->g;
    gx_val w[256];
    int32_t n = 0;
    if (want_logits) {
        for (int32_t v = 0; v < g->n_values; v++)
            if (g->values[v].name && strcmp(g->values[v].name, "logits") == 0) m->logits = v;
        if (m->logits == GX_VAL_NONE)
            return gx_diag_set(d, GX_ERR_NOT_FOUND, "%s: error: graph '%s' has no value named "
                               "'logits' to sample from", path, g->name);
        w[n++] = m->logits;
    } else if (g->loss != GX_VAL_NONE) {
        w[n++] = g->loss;
    } else {
        return gx_diag_set(d, GX_ERR_INVALID, "%s: error: graph '%s' has no loss", path, g->name);
    }
    m->feed = calloc((size_t)g->n_inputs + 1, sizeof(void *));
    if (m->feed == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    for (int32_t i = 0; i < g->n_inputs && n < 255; i++) {
        m->feed[i] = calloc(1, value_bytes(g, g->inputs[i].val) + 8);
        if (m->feed[i] == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
        if (g->inputs[i].next != GX_VAL_NONE) w[n++] = g->inputs[i].next;
    }
    st = gx_exec_new(g, backend, w, n, &m->e, d);
    if (st == GX_OK) st = gx_checkpoint_feed_params(m->ck, g, m->e, d);
    return st;
}

/* feed every input (data buffers as filled, states from the last run), run, keep the states */
static gx_status model_run(model *m, gx_diag *d) {
    gx_graph *g = m->g;
    gx_status st = GX_OK;
    for (int32_t i = 0; i < g->n_inputs && st == GX_OK; i++)
        st = gx_exec_write(m->e, g->inputs[i].val, m->feed[i], value_bytes(g, g->inputs[i].val), d);
    if (st == GX_OK) st = gx_exec_run(m->e, d);
    for (int32_t i = 0; i < g->n_inputs && st == GX_OK; i++)
        if (g->inputs[i].next != GX_VAL_NONE)
            st = gx_exec_read(m->e, g->inputs[i].next, m->feed[i], value_bytes(g, g->inputs[i].val), d);
    return st;
}

static int32_t input_index(const gx_graph *g, const char *name) {
    for (int32_t i = 0; i < g->n_inputs; i++)
        if (strcmp(g->inputs[i].name, name) == 0) return i;
    return -1;
}

/* ---- sample: sequence to sequence ---- */

/* The seq2seq task a checkpoint was trained on (its "gexec.data" is a task spec such as
 * "reverse:max=12"), opened for one row; NULL for any other data. */
static gx_dataset *s2s_task(const gx_checkpoint *ck) {
    const char *spec = gx_st_meta(ck->file, "gexec.data");
    gx_data_opts o = {.batch = 1, .seed = ck->seed};
    gx_dataset *ds = NULL;
    gx_diag d;
    gx_diag_init(&d);
    gx_task_codec c;
    if (spec == NULL || gx_data_task(spec, &o, &ds, &d) != GX_OK) return NULL;
    if (!gx_data_task_codec(ds, &c)) {
        gx_data_free(ds);
        return NULL;
    }
    return ds;
}

/* the first index of the largest value, NaN counting as largest (as the argmax op does, so the
 * ids printed are the ids the graph fed back) */
static int32_t argmax_row(const double *x, int32_t n) {
    int32_t best = 0;
    for (int32_t i = 1; i < n; i++)
        if (!isnan(x[best]) && (isnan(x[i]) || x[i] > x[best])) best = i;
    return best;
}

/*
 * gexec sample CKPT --prime 31415 on a seq2seq model: the graph lowered for one row, its data
 * inputs filled by the task from the prompt as a validation batch would be (force 1 at t = 0
 * only, so from then on the graph feeds back its own argmax), one run, then the argmax of
 * `logits` [1, T, V] at every step, printed up to EOS.
 */
static int sample_s2s(const cli_opts *o, gx_registry *reg, const gx_checkpoint *probe,
                      gx_dataset *task) {
    const char *prime = opt(o, "--prime");
    if (prime == NULL)
        return cli_failf("gexec sample: %s is a sequence-to-sequence model (task %s): give the "
                         "source with --prime, e.g. --prime 31415", o->graph, task->source);
    if (opt(o, "--temperature") || opt(o, "--top-k"))
        return cli_failf("gexec sample: %s decodes greedily (a sequence-to-sequence model); "
                         "--temperature and --top-k are for character models", o->graph);
    gx_diag d;
    gx_diag_init(&d);
    gx_dim_binding over[1];
    int n_over = 0;
    if (ck_has_dim(probe, "B")) over[n_over++] = (gx_dim_binding){"B", 1};
    model m;
    gx_status st = model_open(&m, reg, o->graph, over, n_over, 1, 0, o->backend, &d);
    gx_task_codec c;
    gx_data_task_codec(task, &c);
    const gx_tensor_info *li = st == GX_OK ? &m.g->values[m.logits].info : NULL;
    if (li && (li->shape.ndim != 3 || li->shape.dims[0] != 1 || li->shape.dims[2] != c.eos + 1 ||
               li->dtype == GX_DTYPE_I32)) {
        char shape[160];
        st = gx_diag_set(&d, GX_ERR_INVALID, "%s: error: gexec sample needs float 'logits' [B, T, "
                         "V] from a seq2seq graph (V = %d, B = 1 here), got %s%s", o->graph,
                         (int)(c.eos + 1), gx_dtype_name(li->dtype),
                         gx_shape_str(&li->shape, shape, sizeof shape));
    }
    /* data inputs from the prompt; states (none in seq2seq_attention.graph) stay zero */
    for (int32_t i = 0; st == GX_OK && i < m.g->n_inputs; i++) {
        const gx_named *in = &m.g->inputs[i];
        if (in->zero_default || in->next != GX_VAL_NONE) continue;
        st = gx_data_task_prompt(task, prime, in->name, &m.g->values[in->val].info, m.feed[i], &d);
    }
    if (st == GX_OK) st = model_run(&m, &d);
    int64_t T = li ? li->shape.dims[1] : 0, V = li ? li->shape.dims[2] : 0;
    void *raw = st == GX_OK ? malloc(value_bytes(m.g, m.logits) + 1) : NULL;
    double *row = st == GX_OK ? malloc(sizeof(double) * (size_t)(V + 1)) : NULL;
    int32_t *ids = st == GX_OK ? malloc(sizeof(int32_t) * (size_t)(T + 1)) : NULL;
    char *text = st == GX_OK ? malloc((size_t)T * 8 + 1) : NULL;
    if (st == GX_OK && (!raw || !row || !ids || !text))
        st = gx_diag_set(&d, GX_ERR_NOMEM, "out of memory");
    if (st == GX_OK) st = gx_exec_read(m.e, m.logits, raw, value_bytes(m.g, m.logits), &d);
    for (int64_t t = 0; st == GX_OK && t < T; t++) {
        for (int64_t k = 0; k < V; k++)
            row[k] = li->dtype == GX_DTYPE_F64 ? ((double *)raw)[t * V + k]
                                               : ((float *)raw)[t * V + k];
        ids[t] = argmax_row(row, (int32_t)V);
    }
    if (st == GX_OK) {
        gx_data_task_decode(task, ids, T, text, (size_t)T * 8 + 1);
        printf("%s\n", text);
        fflush(stdout);
    }
    free(raw);
    free(row);
    free(ids);
    free(text);
    int rc = st == GX_OK ? 0 : cli_fail(&d);
    model_free(&m);
    return rc;
}

/* ---- sample ---- */

/* draw from softmax(logits / temperature) over the top_k largest (0: all) */
static int32_t draw(const float *logits, int32_t V, double temperature, int32_t top_k,
                    double *p, gx_rng *rng) {
    double mx = -INFINITY;
    for (int32_t i = 0; i < V; i++) mx = fmax(mx, logits[i]);
    double cut = -INFINITY;
    if (top_k > 0 && top_k < V) {
        /* the k-th largest logit: count how many are above each candidate (V is small) */
        for (int32_t i = 0; i < V; i++) {
            int32_t above = 0;
            for (int32_t j = 0; j < V; j++) above += logits[j] > logits[i];
            if (above < top_k && (cut == -INFINITY || logits[i] < cut)) cut = logits[i];
        }
    }
    double sum = 0;
    for (int32_t i = 0; i < V; i++) {
        p[i] = logits[i] >= cut ? exp((logits[i] - mx) / temperature) : 0.0;
        sum += p[i];
    }
    double u = gx_rng_uniform(rng) * sum;
    for (int32_t i = 0; i < V; i++) {
        u -= p[i];
        if (u < 0) return i;
    }
    for (int32_t i = V - 1; i >= 0; i--)
        if (p[i] > 0) return i;
    return 0;
}

int cmd_sample(const cli_opts *o) {
    double length, temperature, top_k;
    if (!num_opt(o, "sample", "--length", 0, 1e9, 500, &length) ||
        !num_opt(o, "sample", "--temperature", 1e-3, 100, 1.0, &temperature) ||
        !num_opt(o, "sample", "--top-k", 0, 1e9, 0, &top_k))
        return 2;
    gx_registry *reg = cli_registry();
    if (reg == NULL) return 1;
    gx_diag d;
    gx_diag_init(&d);
    model m;
    /* one stream, one step at a time */
    gx_checkpoint *probe = NULL;
    gx_status st = gx_checkpoint_read(o->graph, &probe, &d);
    gx_dataset *task = st == GX_OK && probe->vocab.n == 0 ? s2s_task(probe) : NULL;
    if (task) {
        int rc = sample_s2s(o, reg, probe, task);
        gx_data_free(task);
        gx_checkpoint_free(probe);
        gx_registry_free(reg);
        return rc;
    }
    gx_dim_binding over[2];
    int n_over = 0;
    if (st == GX_OK && ck_has_dim(probe, "B")) over[n_over++] = (gx_dim_binding){"B", 1};
    if (st == GX_OK && ck_has_dim(probe, "T")) over[n_over++] = (gx_dim_binding){"T", 1};
    gx_checkpoint_free(probe);
    if (st == GX_OK) st = model_open(&m, reg, o->graph, over, n_over, 1, 1, o->backend, &d);
    else memset(&m, 0, sizeof m);
    int32_t tok = -1;
    const gx_vocab *v = st == GX_OK ? &m.ck->vocab : NULL;
    if (st == GX_OK) {
        tok = input_index(m.g, "tokens");
        const gx_value *tv = tok >= 0 ? &m.g->values[m.g->inputs[tok].val] : NULL;
        if (tv == NULL || tv->info.dtype != GX_DTYPE_I32 || gx_shape_numel(&tv->info.shape) != 1 ||
            gx_shape_numel(&m.g->values[m.logits].info.shape) != v->n ||
            m.g->values[m.logits].info.dtype != GX_DTYPE_F32)
            st = gx_diag_set(&d, GX_ERR_INVALID, "%s: error: gexec sample needs a character model: "
                             "an input 'tokens' i32[B, T] and f32 'logits' [B, T, V] (with B = T = "
                             "1 here)", o->graph);
    }
    /* the prime: given, else a newline when the vocabulary has one, else the first symbol */
    const char *prime = opt(o, "--prime");
    size_t plen = prime ? strlen(prime) : 0;
    int32_t *ids = st == GX_OK ? malloc(sizeof(int32_t) * (plen + 1)) : NULL;
    size_t n_ids = 0;
    if (st == GX_OK && ids == NULL) st = gx_diag_set(&d, GX_ERR_NOMEM, "out of memory");
    if (st == GX_OK && plen > 0) st = gx_vocab_encode(v, prime, plen, ids, &n_ids, &d);
    if (st == GX_OK && n_ids == 0) {
        int32_t nl = gx_vocab_id(v, '\n');
        ids[n_ids++] = nl >= 0 ? nl : 0;
    }
    float *logits = NULL;
    double *p = NULL;
    if (st == GX_OK) {
        logits = malloc(sizeof(float) * (size_t)v->n);
        p = malloc(sizeof(double) * (size_t)v->n);
        if (!logits || !p) st = gx_diag_set(&d, GX_ERR_NOMEM, "out of memory");
    }
    if (st == GX_OK && prime) fputs(prime, stdout);
    gx_rng rng;
    gx_rng_seed(&rng, o->seed);
    for (size_t i = 0; st == GX_OK && i < n_ids; i++) {
        *(int32_t *)m.feed[tok] = ids[i];
        st = model_run(&m, &d);
    }
    for (int64_t k = 0; st == GX_OK && k < (int64_t)length; k++) {
        st = gx_exec_read(m.e, m.logits, logits, sizeof(float) * (size_t)v->n, &d);
        if (st != GX_OK) break;
        int32_t id = draw(logits, v->n, temperature, (int32_t)top_k, p, &rng);
        char out[4];
        int nb = gx_vocab_decode(v, id, out);
        fwrite(out, 1, (size_t)nb, stdout);
        if (out[0] == '\n') fflush(stdout);
        *(int32_t *)m.feed[tok] = id;
        if (k + 1 < (int64_t)length) st = model_run(&m, &d);
    }
    if (st == GX_OK) {
        fputc('\n', stdout);
        fflush(stdout);
    }
    free(ids);
    free(logits);
    free(p);
    int rc = st == GX_OK ? 0 : cli_fail(&d);
    model_free(&m);
    gx_registry_free(reg);
    return rc;
}

/* ---- eval ---- */

int cmd_eval(const cli_opts *o) {
    const char *file = opt(o, "--data");
    if (file == NULL || *file == '\0') return cli_failf("gexec eval: --data FILE is required");
    int all = opt(o, "--all") != NULL;
    gx_registry *reg = cli_registry();
    if (reg == NULL) return 1;
    gx_diag d;
    gx_diag_init(&d);
    model m;
    gx_dataset *ds = NULL;
    gx_status st = model_open(&m, reg, o->graph, NULL, 0, 0, 1, o->backend, &d);
    int32_t itok = -1, itgt = -1;
    if (st == GX_OK) {
        itok = input_index(m.g, "tokens");
        itgt = input_index(m.g, "targets");
        if (itok < 0 || itgt < 0)
            st = gx_diag_set(&d, GX_ERR_INVALID, "%s: error: gexec eval needs a character model with "
                             "inputs 'tokens' and 'targets'", o->graph);
    }
    if (st == GX_OK) {
        const gx_shape *s = &m.g->values[m.g->inputs[itok].val].info.shape;
        if (s->ndim != 2)
            st = gx_diag_set(&d, GX_ERR_SHAPE, "%s: error: 'tokens' must be [B, T]", o->graph);
        gx_data_opts dop = {.val_frac = all ? 1.0 : m.ck->val_frac, .bytes = m.ck->vocab.bytes,
                            .seed = m.ck->seed, .batch = s->dims[0], .bptt = s->dims[1],
                            .vocab = &m.ck->vocab};
        if (st == GX_OK) st = gx_data_open(file, &dop, &ds, &d);
    }
    double loss = 0;
    int64_t nb = 0;
    if (st == GX_OK) {
        nb = (int64_t)ds->vt->n_batches(ds, GX_SPLIT_VAL);
        if (nb <= 0)
            st = gx_diag_set(&d, GX_ERR_INVALID, "%s: error: too short to evaluate: its held-out "
                             "part does not fill one batch%s", file, all ? "" : " (try --all)");
    }
    for (int64_t k = 0; st == GX_OK && k < nb; k++) {
        st = ds->vt->fill(ds, GX_SPLIT_VAL, (uint64_t)k, "tokens", &m.g->values[m.g->inputs[itok].val].info,
                          m.feed[itok], &d);
        if (st == GX_OK)
            st = ds->vt->fill(ds, GX_SPLIT_VAL, (uint64_t)k, "targets",
                              &m.g->values[m.g->inputs[itgt].val].info, m.feed[itgt], &d);
        if (st == GX_OK) st = model_run(&m, &d);
        float l32 = 0;
        double l64 = 0;
        int f64 = m.g->values[m.g->loss].info.dtype == GX_DTYPE_F64;
        if (st == GX_OK) st = gx_exec_read(m.e, m.g->loss, f64 ? (void *)&l64 : (void *)&l32,
                                           f64 ? 8 : 4, &d);
        loss += f64 ? l64 : l32;
    }
    if (st == GX_OK) {
        const gx_shape *s = &m.g->values[m.g->inputs[itok].val].info.shape;
        double mean = loss / (double)nb;
        printf("%s on %s%s: %.4f nats/char, %.4f bits/char over %lld characters (%lld batches "
               "of %lldx%lld)\n", o->graph, file, all ? "" : " (held-out part)", mean,
               mean / log(2.0), (long long)(nb * s->dims[0] * s->dims[1]), (long long)nb,
               (long long)s->dims[0], (long long)s->dims[1]);
    }
    int rc = st == GX_OK ? 0 : cli_fail(&d);
    gx_data_free(ds);
    model_free(&m);
    gx_registry_free(reg);
    return rc;
}
