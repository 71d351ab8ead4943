/*
 * checkpoint.c: reading gexec checkpoints (train.c writes them) and rebuilding their model.
 *
 * A checkpoint is a safetensors file: tensors "param.NAME", "optim.NAME.STATE",
 * "state.INPUT" (the carried states for the next step) and "vocab" (i32 code points or
 * bytes), and metadata "gexec.*": format, graph name, path, text and hash, bound dims, step,
 * seed, optimizer, plugins, data source. The graph text travels inside, so `gexec sample` and
 * `gexec eval` need nothing but the checkpoint.
 */
#include "train.h"

#include "exec.h"
#include "lower.h"
#include "safetensors.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gx_graph_hash(const char *text, size_t len, char out[17]) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)text[i];
        h *= 1099511628211ull;
    }
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

void gx_checkpoint_free(gx_checkpoint *ck) {
    if (ck == NULL) return;
    gx_st_free(ck->file);
    gx_free(ck->vocab.syms);
    gx_free((char *)ck->path);
    gx_free(ck);
}

static gx_status need_meta(gx_checkpoint *ck, const char *key, const char **out, gx_diag *d) {
    *out = gx_st_meta(ck->file, key);
    if (*out == NULL)
        return gx_diag_set(d, GX_ERR_FORMAT, "%s: error: not a gexec checkpoint (no '%s' in its "
                           "metadata)", ck->path, key);
    return GX_OK;
}

static gx_status meta_int(gx_checkpoint *ck, const char *key, int64_t *v, gx_diag *d) {
    const char *s;
    gx_status st = need_meta(ck, key, &s, d);
    if (st != GX_OK) return st;
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || end == s || *end || x < 0)
        return gx_diag_set(d, GX_ERR_FORMAT, "%s: error: metadata '%s' is '%s', not a count",
                           ck->path, key, s);
    *v = x;
    return GX_OK;
}

gx_status gx_checkpoint_read(const char *path, gx_checkpoint **out, gx_diag *d) {
    *out = NULL;
    gx_checkpoint *ck = gx_calloc(1, sizeof *ck);
    if (ck == NULL || (ck->path = gx_strdup(path)) == NULL) {
        gx_free(ck);
        return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    }
    gx_status st = gx_st_read_file(path, &ck->file, d);
    const char *fmt = NULL;
    if (st == GX_OK) st = need_meta(ck, "gexec.format", &fmt, d);
    if (st == GX_OK && strcmp(fmt, "checkpoint-1") != 0)
        st = gx_diag_set(d, GX_ERR_FORMAT, "%s: error: checkpoint format '%s' is not one this "
                         "gexec reads (checkpoint-1)", path, fmt);
    if (st == GX_OK) st = need_meta(ck, "gexec.graph", &ck->graph_name, d);
    if (st == GX_OK) st = need_meta(ck, "gexec.graph_path", &ck->graph_path, d);
    if (st == GX_OK) st = need_meta(ck, "gexec.graph_text", &ck->graph_text, d);
    if (st == GX_OK) st = need_meta(ck, "gexec.graph_hash", &ck->graph_hash, d);
    if (st == GX_OK) st = need_meta(ck, "gexec.dims", &ck->dims, d);
    if (st == GX_OK) st = meta_int(ck, "gexec.step", &ck->step, d);
    int64_t seed = 0;
    if (st == GX_OK) st = meta_int(ck, "gexec.seed", &seed, d);
    ck->seed = (uint64_t)seed;
    const char *vf = NULL;
    if (st == GX_OK) st = need_meta(ck, "gexec.val_frac", &vf, d);
    if (st == GX_OK) ck->val_frac = strtod(vf, NULL);
    if (st == GX_OK) {
        char h[17];
        gx_graph_hash(ck->graph_text, strlen(ck->graph_text), h);
        if (strcmp(h, ck->graph_hash) != 0)
            st = gx_diag_set(d, GX_ERR_FORMAT, "%s: error: the graph text stored in the checkpoint "
                             "does not match its hash (the file is corrupt)", path);
    }
    const gx_st_tensor *v = st == GX_OK ? gx_st_find(ck->file, "vocab") : NULL;
    if (v) {
        if (v->dtype != GX_DTYPE_I32 || v->shape.ndim != 1 || v->shape.dims[0] < 1)
            st = gx_diag_set(d, GX_ERR_FORMAT, "%s: error: 'vocab' must be i32[n]", path);
        else {
            ck->vocab.n = (int32_t)v->shape.dims[0];
            ck->vocab.syms = gx_malloc(sizeof(uint32_t) * (size_t)ck->vocab.n);
            if (ck->vocab.syms == NULL) st = gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
            for (int32_t i = 0; st == GX_OK && i < ck->vocab.n; i++) {
                int32_t s = ((const int32_t *)v->data)[i];
                if (s < 0 || s > 0x10FFFF || (i > 0 && (uint32_t)s <= ck->vocab.syms[i - 1]))
                    st = gx_diag_set(d, GX_ERR_FORMAT, "%s: error: 'vocab' is not a sorted list "
                                     "of code points", path);
                else ck->vocab.syms[i] = (uint32_t)s;
            }
            const char *b = gx_st_meta(ck->file, "gexec.vocab_bytes");
            ck->vocab.bytes = b && strcmp(b, "1") == 0;
        }
    }
    if (st != GX_OK) {
        gx_checkpoint_free(ck);
        return st;
    }
    *out = ck;
    return GX_OK;
}

/* "V=65,B=32" into bindings, then the overrides replace or add */
static gx_status parse_dims(const gx_checkpoint *ck, const gx_dim_binding *over, int n_over,
                            gx_dim_binding *b, char names[][64], int max, int *n, gx_diag *d) {
    *n = 0;
    const char *p = ck->dims;
    while (*p) {
        const char *eq = strchr(p, '=');
        if (eq == NULL || eq == p || eq - p >= 64 || *n >= max)
            return gx_diag_set(d, GX_ERR_FORMAT, "%s: error: bad gexec.dims '%s'", ck->path, ck->dims);
        memcpy(names[*n], p, (size_t)(eq - p));
        names[*n][eq - p] = '\0';
        char *end;
        long long v = strtoll(eq + 1, &end, 10);
        if (end == eq + 1 || (*end != ',' && *end != '\0') || v < 0)
            return gx_diag_set(d, GX_ERR_FORMAT, "%s: error: bad gexec.dims '%s'", ck->path, ck->dims);
        b[*n] = (gx_dim_binding){.name = names[*n], .value = v};
        (*n)++;
        p = *end ? end + 1 : end;
    }
    for (int i = 0; i < n_over; i++) {
        int k = 0;
        while (k < *n && strcmp(b[k].name, over[i].name) != 0) k++;
        if (k == *n) {
            if (*n >= max) return gx_diag_set(d, GX_ERR_INVALID, "too many dims");
            (*n)++;
        }
        b[k] = over[i];
    }
    return GX_OK;
}

gx_status gx_checkpoint_graph(const gx_checkpoint *ck, gx_registry *reg,
                              const gx_dim_binding *over, int n_over, gx_graph **out,
                              gx_diag *d) {
    enum { MAX = 64 };
    gx_dim_binding b[MAX];
    char names[MAX][64];
    int n = 0;
    gx_status st = parse_dims(ck, over, n_over, b, names, MAX, &n, d);
    if (st != GX_OK) return st;
    gx_ast_module *m = NULL;
    /* positions and imports refer to the file the graph was trained from */
    st = gx_parse(ck->graph_text, strlen(ck->graph_text), ck->graph_path, &m, d);
    if (st != GX_OK) return st;
    gx_lower_opts o = {.binds = b, .n_binds = n, .unroll = -1, .train = 0};
    st = gx_lower_with(m, reg, &o, out, d);
    if (st != GX_OK) gx_ast_free(m);
    return st;
}

gx_status gx_checkpoint_feed_params(const gx_checkpoint *ck, const gx_graph *g, gx_exec *e,
                                    gx_diag *d) {
    for (int32_t i = 0; i < g->n_params; i++) {
        char key[256];
        snprintf(key, sizeof key, "param.%s", g->params[i].name);
        const gx_st_tensor *t = gx_st_find(ck->file, key);
        const gx_value *v = &g->values[g->params[i].val];
        if (t == NULL)
            return gx_diag_set(d, GX_ERR_FORMAT, "%s: error: no tensor '%s' for param '%s'",
                               ck->path, key, g->params[i].name);
        if (t->dtype != v->info.dtype || gx_shape_numel(&t->shape) != gx_shape_numel(&v->info.shape)) {
            char a[96], b2[96];
            return gx_diag_set(d, GX_ERR_SHAPE, "%s: error: '%s' is %s%s, the graph wants %s%s",
                               ck->path, key, gx_dtype_name(t->dtype), gx_shape_str(&t->shape, a, sizeof a),
                               gx_dtype_name(v->info.dtype), gx_shape_str(&v->info.shape, b2, sizeof b2));
        }
        gx_status st = gx_exec_write(e, g->params[i].val, t->data, t->nbytes, d);
        if (st != GX_OK) return st;
    }
    return GX_OK;
}
