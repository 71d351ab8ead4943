/*
 * exec.c: the planner (kernel choice, liveness, memory offsets) and the executor.
 * Memory: one device buffer. Persistent values (inputs, params, wanted values) are laid out
 * first; intermediates get first-fit offsets in the rest, freed after their last reader, so
 * the arena is about the size of the widest point of the graph, not the sum of all values.
 */
#include "exec.h"
#include "memlimit.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN 64u
#define NO_OFFSET UINT64_MAX

typedef struct step {
    int32_t          node;
    const gx_kernel *kernel;     /* NULL for a loop node                  */
    void            *kctx;       /* the context of the kernel's backend (the exec's, or the
                                    host-memory backend a missing kernel falls back to) */
    gx_exec         *body;       /* a loop node's planned body            */
    gx_tensor       *in, *out;   /* into exec->tensors */
    gx_tensor        workspace;
    /* a host kernel standing in on a device backend: it runs on host copies (host_in, host_out,
     * host_ws in one block at host_mem) moved by read and write around the call */
    int              on_host;
    void            *host_mem;
    gx_tensor       *host_in, *host_out;
    gx_tensor        host_ws;
} step;

struct gx_exec {
    gx_graph    *g;
    gx_backend  *backend;
    void        *ctx;
    void        *buf;
    uint64_t     arena_bytes;
    uint64_t    *offset;   /* per value */
    step        *steps;
    int32_t      n_steps;
    gx_tensor   *tensors;
    int          check;    /* gx_exec_set_check */
    gx_exec_fault fault;
    gx_val      *upd_dst, *upd_src;   /* gx_exec_set_updates */
    int32_t      n_upd;
    gx_exec_step_fn hook;             /* gx_exec_set_step_hook */
    void        *hook_user;
};

/* ---- a first-fit allocator over offsets (no memory behind it) ---- */

typedef struct block { uint64_t off, size; } block;
typedef struct fit {
    block   *free;
    int32_t  n, cap;
    uint64_t top;   /* high-water mark */
} fit;

static uint64_t round_up(uint64_t n) { return (n + ALIGN - 1) & ~(uint64_t)(ALIGN - 1); }

static int fit_alloc(fit *f, uint64_t size, uint64_t *off) {
    size = round_up(size ? size : 1);
    for (int32_t i = 0; i < f->n; i++) {
        if (f->free[i].size >= size) {
            *off = f->free[i].off;
            f->free[i].off += size;
            f->free[i].size -= size;
            if (f->free[i].size == 0) {
                memmove(&f->free[i], &f->free[i + 1], sizeof(block) * (size_t)(f->n - i - 1));
                f->n--;
            }
            return 1;
        }
    }
    /* grow at the top, merging with a free block that ends there */
    if (f->n > 0 && f->free[f->n - 1].off + f->free[f->n - 1].size == f->top) {
        *off = f->free[f->n - 1].off;
        f->top = *off + size;
        f->n--;
        return 1;
    }
    *off = f->top;
    f->top += size;
    return 1;
}

static int fit_release(fit *f, uint64_t off, uint64_t size) {
    size = round_up(size ? size : 1);
    int32_t i = 0;
    while (i < f->n && f->free[i].off < off) i++;
    if (f->n == f->cap) {
        int32_t nc = f->cap ? f->cap * 2 : 32;
        block *p = gx_realloc(f->free, sizeof(block) * (size_t)nc);
        if (p == NULL) return 0;
        f->free = p;
        f->cap = nc;
    }
    memmove(&f->free[i + 1], &f->free[i], sizeof(block) * (size_t)(f->n - i));
    f->free[i] = (block){off, size};
    f->n++;
    /* coalesce with neighbours */
    if (i + 1 < f->n && f->free[i].off + f->free[i].size == f->free[i + 1].off) {
        f->free[i].size += f->free[i + 1].size;
        memmove(&f->free[i + 1], &f->free[i + 2], sizeof(block) * (size_t)(f->n - i - 2));
        f->n--;
    }
    if (i > 0 && f->free[i - 1].off + f->free[i - 1].size == f->free[i].off) {
        f->free[i - 1].size += f->free[i].size;
        memmove(&f->free[i], &f->free[i + 1], sizeof(block) * (size_t)(f->n - i - 1));
        f->n--;
    }
    return 1;
}


/* ---- planning ---- */

/* A loop node's body gets its own plan on the same backend, producing per step the new
 * carries, the yields and the residuals. */
static gx_status exec_plan(gx_graph *g, gx_backend *be, const gx_val *wanted, int32_t n_wanted,
                           gx_exec **out, gx_diag *d);

static gx_status plan_loop(gx_exec *e, step *sp, const gx_node *nd, gx_diag *d) {
    const gx_loop *l = nd->loop;
    for (int32_t k = 0; k < l->n_carry; k++)
        for (int32_t j = 0; j < l->n_carry; j++)
            if (j != k && l->carry_out[k] == l->carry_in[j])
                return gx_diag_at(d, GX_ERR_UNSUPPORTED, nd->pos,
                                  "a loop body that swaps carried values is not supported");
    int32_t n = l->n_carry + l->n_yield + l->n_res;
    gx_val *wanted = gx_malloc(sizeof(gx_val) * (size_t)(n + 1));
    if (wanted == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    int32_t w = 0;
    for (int32_t k = 0; k < l->n_carry; k++) wanted[w++] = l->carry_out[k];
    for (int32_t j = 0; j < l->n_yield; j++) wanted[w++] = l->yield_out[j];
    for (int32_t r = 0; r < l->n_res; r++) wanted[w++] = l->res_out[r];
    gx_status st = exec_plan(l->body, e->backend, wanted, n, &sp->body, d);
    gx_free(wanted);
    return st;
}

/* A kernel for a node the backend has none for: the kernel of a host-memory backend
 * (cpu-scalar first: it has the most). On a host-memory backend it runs on the same memory; on
 * a device backend on host copies of its inputs and outputs (*on_host = 1). */
static const gx_kernel *fallback_kernel(gx_exec *e, const gx_node *nd, gx_dtype dt, void **kctx,
                                        int *on_host, gx_diag *d) {
    *on_host = !(e->backend->desc.flags & GX_BACKEND_HOST_MEMORY);
    gx_registry *r = e->g->reg;
    const gx_kernel *k = NULL;
    gx_backend *kb = NULL;
    for (int i = -1; i < gx_registry_n_backends(r) && k == NULL; i++) {
        gx_backend *b = i < 0 ? gx_registry_find_backend(r, "cpu-scalar") : gx_registry_backend_at(r, i);
        if (b == NULL || b == e->backend || !(b->desc.flags & GX_BACKEND_HOST_MEMORY)) continue;
        k = gx_registry_find_kernel(r, nd->op->name, b->name, dt);
        kb = b;
    }
    if (k == NULL || gx_registry_backend_ctx(r, kb, kctx, d) != GX_OK) return NULL;
    char key[160];
    snprintf(key, sizeof key, "fallback %s %s %s", nd->op->name, gx_dtype_name(dt), e->backend->name);
    if (gx_registry_first_time(r, key))
        gx_registry_log(r, GX_LOG_WARN, "op '%s' (%s) has no kernel on '%s'; it runs on '%s'%s",
                        nd->op->name, gx_dtype_name(dt), e->backend->name, kb->name,
                        *on_host ? ", with its inputs and outputs copied through the host" : "");
    return k;
}

void gx_exec_free(gx_exec *e) {
    if (e == NULL) return;
    for (int32_t s = 0; e->steps && s < e->n_steps; s++) {
        gx_exec_free(e->steps[s].body);
        gx_free(e->steps[s].host_mem);
    }
    if (e->buf) e->backend->desc.buffer_free(e->ctx, e->buf);
    gx_free(e->offset);
    gx_free(e->upd_dst);
    gx_free(e->steps);
    gx_free(e->tensors);
    gx_free(e);
}

static gx_tensor make_tensor(const gx_exec *e, gx_val v, void *host_base) {
    const gx_value *val = &e->g->values[v];
    gx_tensor t = {.dtype = val->info.dtype, .shape = val->info.shape, .buf = e->buf,
                   .offset = e->offset[v]};
    t.data = host_base ? (char *)host_base + t.offset : NULL;
    return t;
}

/* the dtype of the graph's floating-point math: its first float param, else input, else value */
static gx_dtype graph_float_dtype(const gx_graph *g) {
    for (int32_t i = 0; i < g->n_params; i++)
        if (g->values[g->params[i].val].info.dtype != GX_DTYPE_I32) return g->values[g->params[i].val].info.dtype;
    for (int32_t v = 0; v < g->n_values; v++)
        if (g->values[v].info.dtype != GX_DTYPE_I32) return g->values[v].info.dtype;
    return GX_DTYPE_INVALID;
}

static int backend_has_dtype(gx_registry *r, const gx_backend *b, gx_dtype dt) {
    for (int i = 0; i < gx_registry_n_kernels(r); i++) {
        const gx_kernel *k = gx_registry_kernel_at(r, i);
        if (k->desc.dtype == dt && strcmp(k->desc.backend, b->name) == 0) return 1;
    }
    return 0;
}

gx_status gx_exec_new(gx_graph *g, const char *backend_name, const gx_val *wanted,
                      int32_t n_wanted, gx_exec **out, gx_diag *d) {
    *out = NULL;
    if (backend_name == NULL) {
        /* the best-scoring backend that computes in the graph's float dtype (an f64 graph goes
         * to cpu-scalar even where a faster f32-only backend is loaded); an op it lacks falls
         * back to another host-memory backend with a warning */
        gx_registry *r = g->reg;
        gx_dtype dt = graph_float_dtype(g);
        gx_backend *best = NULL;
        int32_t best_score = 0;
        for (int i = 0; i < gx_registry_n_backends(r); i++) {
            gx_backend *b = gx_registry_backend_at(r, i);
            int32_t sc = gx_registry_backend_score(r, b);
            if (sc > best_score && (dt == GX_DTYPE_INVALID || backend_has_dtype(r, b, dt))) {
                best_score = sc;
                best = b;
            }
        }
        if (best == NULL) best = gx_registry_default_backend(r);
        if (best == NULL) return gx_diag_set(d, GX_ERR_NOT_FOUND, "no usable backend is loaded");
        return exec_plan(g, best, wanted, n_wanted, out, d);
    }
    gx_backend *be = gx_registry_find_backend(g->reg, backend_name);
    if (be == NULL) {
        {
        const char *names[64];
        int n = gx_registry_n_backends(g->reg);
        if (n > 64) n = 64;
        for (int i = 0; i < n; i++) names[i] = gx_registry_backend_at(g->reg, i)->name;
        const char *near = gx_nearest_name(backend_name, names, n);
        return gx_diag_set(d, GX_ERR_NOT_FOUND, "unknown backend '%s'%s%s%s", backend_name,
                           near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "");
        }
    }
    return exec_plan(g, be, wanted, n_wanted, out, d);
}

/* An element-wise add/sub/mul whose first input is an intermediate read for the last time here
 * and shaped like the output writes its output over that input (element i is read before it
 * is written, in every kernel): the bias add after a large product then needs no second
 * buffer. Returns the input to share, or NONE. */
static gx_val in_place_input(const gx_graph *g, const gx_node *nd, int32_t s,
                             const int32_t *last_use, const unsigned char *pinned,
                             const uint64_t *offset) {
    static const char *const ops[] = {"add", "sub", "mul"};
    if (nd->loop || nd->n_out != 1 || nd->n_in < 1) return GX_VAL_NONE;
    int known = 0;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) known |= strcmp(nd->op->name, ops[i]) == 0;
    gx_val a = nd->in[0], y = nd->out[0];
    if (!known || pinned[a] || pinned[y] || last_use[a] != s || offset[a] == NO_OFFSET ||
        g->values[a].kind != GX_VALUE_NODE || offset[y] != NO_OFFSET)
        return GX_VAL_NONE;
    const gx_tensor_info *ia = &g->values[a].info, *iy = &g->values[y].info;
    if (ia->dtype != iy->dtype || ia->shape.ndim != iy->shape.ndim) return GX_VAL_NONE;
    for (int32_t k = 0; k < ia->shape.ndim; k++)
        if (ia->shape.dims[k] != iy->shape.dims[k]) return GX_VAL_NONE;
    for (int32_t i = 1; i < nd->n_in; i++)
        if (nd->in[i] == a) return GX_VAL_NONE;
    return a;
}

/* Host memory for a step whose kernel runs on the host while the graph runs on a device: one
 * block holding the tensors and their data, laid out like the device's. */
static gx_status plan_host_copies(gx_exec *e, step *sp, const gx_node *nd, gx_diag *d) {
    int32_t nt = nd->n_in + nd->n_out;
    uint64_t bytes = sizeof(gx_tensor) * (uint64_t)nt + ALIGN;
    for (int32_t i = 0; i < nt; i++)
        bytes += round_up(gx_value_bytes(&e->g->values[i < nd->n_in ? nd->in[i] : nd->out[i - nd->n_in]]));
    bytes += round_up((uint64_t)sp->workspace.shape.dims[0]);
    char *mem = sp->host_mem = gx_calloc(1, (size_t)bytes);
    if (mem == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    sp->host_in = (gx_tensor *)(void *)mem;
    sp->host_out = sp->host_in + nd->n_in;
    char *data = (char *)(((uintptr_t)(mem + sizeof(gx_tensor) * (size_t)nt) + ALIGN - 1) & ~(uintptr_t)(ALIGN - 1));
    for (int32_t i = 0; i < nt; i++) {
        gx_tensor *t = i < nd->n_in ? &sp->host_in[i] : &sp->host_out[i - nd->n_in];
        *t = i < nd->n_in ? sp->in[i] : sp->out[i - nd->n_in];
        t->buf = t->data = data;
        t->offset = 0;
        data += round_up(gx_value_bytes(&e->g->values[i < nd->n_in ? nd->in[i] : nd->out[i - nd->n_in]]));
    }
    sp->host_ws = sp->workspace;
    sp->host_ws.buf = sp->host_ws.data = sp->workspace.shape.dims[0] ? data : NULL;
    sp->host_ws.offset = 0;
    return GX_OK;
}

/* Run a host kernel for a device graph: finish the device's work, read the inputs, run, write
 * the outputs back (the writes join the next batch), and open the batch again. */
static gx_status run_on_host(gx_exec *e, const step *sp, const gx_node *nd, gx_kernel_args *a) {
    const gx_backend_desc *bd = &e->backend->desc;
    gx_status st = bd->submit ? bd->submit(e->ctx) : GX_OK;
    if (st == GX_OK) st = bd->sync(e->ctx);
    for (int32_t i = 0; i < nd->n_in && st == GX_OK; i++)
        st = bd->read(e->ctx, e->buf, sp->in[i].offset, sp->host_in[i].data,
                      gx_value_bytes(&e->g->values[nd->in[i]]));
    if (st != GX_OK) return st;
    a->inputs = sp->host_in;
    a->outputs = sp->host_out;
    a->workspace = sp->host_ws;
    st = sp->kernel->desc.run(a);
    if (st != GX_OK) return st;
    for (int32_t j = 0; j < nd->n_out && st == GX_OK; j++)
        st = bd->write(e->ctx, e->buf, sp->out[j].offset, sp->host_out[j].data,
                       gx_value_bytes(&e->g->values[nd->out[j]]));
    if (st == GX_OK && bd->begin) st = bd->begin(e->ctx);
    return st;
}

static gx_status exec_plan(gx_graph *g, gx_backend *be, const gx_val *wanted, int32_t n_wanted,
                           gx_exec **out, gx_diag *d) {
    *out = NULL;
    gx_exec *e = gx_calloc(1, sizeof *e);
    if (e == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    e->g = g;
    e->backend = be;
    gx_status st = gx_registry_backend_ctx(g->reg, be, &e->ctx, d);
    if (st != GX_OK) {
        gx_free(e);
        return st;
    }

    int32_t nv = g->n_values, nn = g->n_nodes;
    unsigned char *live_v = gx_calloc((size_t)nv + 1, 1), *live_n = gx_calloc((size_t)nn + 1, 1),
                  *pinned = gx_calloc((size_t)nv + 1, 1);
    int32_t *last_use = gx_malloc(sizeof(int32_t) * ((size_t)nv + 1));
    e->offset = gx_malloc(sizeof(uint64_t) * ((size_t)nv + 1));
    fit f = {0};
    if (!live_v || !live_n || !pinned || !last_use || !e->offset) {
        st = gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
        goto done;
    }
    /* what is wanted and what it needs */
    if (wanted == NULL)
        for (int32_t i = 0; i < g->n_outputs; i++) live_v[g->outputs[i].val] = pinned[g->outputs[i].val] = 1;
    else
        for (int32_t i = 0; i < n_wanted; i++) live_v[wanted[i]] = pinned[wanted[i]] = 1;
    for (int32_t i = 0; i < g->n_inputs; i++) pinned[g->inputs[i].val] = 1;
    for (int32_t i = 0; i < g->n_params; i++) pinned[g->params[i].val] = 1;
    for (int32_t n = nn - 1; n >= 0; n--) {
        const gx_node *nd = &g->nodes[n];
        for (int32_t j = 0; j < nd->n_out && !live_n[n]; j++) live_n[n] = live_v[nd->out[j]];
        if (live_n[n])
            for (int32_t i = 0; i < nd->n_in; i++) live_v[nd->in[i]] = 1;
    }
    int32_t n_steps = 0, n_tensors = 0;
    for (int32_t v = 0; v < nv; v++) {
        last_use[v] = -1;
        e->offset[v] = NO_OFFSET;
    }
    for (int32_t n = 0; n < nn; n++)
        if (live_n[n]) {
            n_steps++;
            n_tensors += g->nodes[n].n_in + g->nodes[n].n_out;
        }
    e->steps = gx_calloc((size_t)n_steps + 1, sizeof(step));
    e->tensors = gx_calloc((size_t)n_tensors + 1, sizeof(gx_tensor));
    /* all of them from now on, so that a failure part way frees the loop bodies planned */
    if (e->steps) e->n_steps = n_steps;
    if (!e->steps || !e->tensors) {
        st = gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
        goto done;
    }
    /* kernels, and the last step that reads each value */
    int32_t s = 0;
    for (int32_t n = 0; n < nn; n++) {
        if (!live_n[n]) continue;
        const gx_node *nd = &g->nodes[n];
        e->steps[s].node = n;
        for (int32_t i = 0; i < nd->n_in; i++) last_use[nd->in[i]] = s;
        if (nd->loop) {
            st = plan_loop(e, &e->steps[s], nd, d);
            if (st != GX_OK) goto done;
            s++;
            continue;
        }
        gx_dtype dt = g->values[nd->out[0]].info.dtype;
        const gx_kernel *k = gx_registry_find_kernel(g->reg, nd->op->name, be->name, dt);
        e->steps[s].kctx = e->ctx;
        int on_host = 0;
        if (k == NULL) k = fallback_kernel(e, nd, dt, &e->steps[s].kctx, &on_host, d);
        if (k == NULL) {
            st = gx_diag_at(d, GX_ERR_UNSUPPORTED, nd->pos, "no kernel for op '%s' (%s) on backend '%s'",
                            nd->op->name, gx_dtype_name(dt), be->name);
            goto done;
        }
        e->steps[s].kernel = k;
        e->steps[s].on_host = on_host;   /* its host copies are planned with the offsets */
        s++;
    }
    e->n_steps = n_steps;

    /* offsets: persistent values first, then intermediates by lifetime */
    for (int32_t v = 0; v < nv; v++)
        if (pinned[v] && (live_v[v] || g->values[v].kind != GX_VALUE_NODE))
            fit_alloc(&f, gx_value_bytes(&g->values[v]), &e->offset[v]);
    for (s = 0; s < n_steps; s++) {
        step *sp = &e->steps[s];
        const gx_node *nd = &g->nodes[sp->node];
        gx_val alias = in_place_input(g, nd, s, last_use, pinned, e->offset);
        if (alias != GX_VAL_NONE) e->offset[nd->out[0]] = e->offset[alias];
        for (int32_t j = 0; j < nd->n_out; j++) {
            gx_val v = nd->out[j];
            if (e->offset[v] == NO_OFFSET) fit_alloc(&f, gx_value_bytes(&g->values[v]), &e->offset[v]);
        }
        uint64_t ws = 0;
        if (sp->kernel && sp->kernel->desc.workspace) {
            gx_tensor_info ii[64], oi[64];
            int32_t ni = nd->n_in < 64 ? nd->n_in : 64, no = nd->n_out < 64 ? nd->n_out : 64;
            for (int32_t i = 0; i < ni; i++) ii[i] = g->values[nd->in[i]].info;
            for (int32_t j = 0; j < no; j++) oi[j] = g->values[nd->out[j]].info;
            ws = sp->kernel->desc.workspace(ni, ii, no, oi, nd->attrs);
        }
        sp->workspace.shape.ndim = 1;
        sp->workspace.shape.dims[0] = (int64_t)ws;
        if (ws) fit_alloc(&f, ws, &sp->workspace.offset);
        /* free what is read for the last time here, and the workspace */
        if (ws && !fit_release(&f, sp->workspace.offset, ws)) goto nomem;
        for (int32_t i = 0; i < nd->n_in; i++) {
            gx_val v = nd->in[i];
            int dup = 0;
            for (int32_t k2 = 0; k2 < i; k2++) dup |= nd->in[k2] == v;
            if (!dup && v != alias && last_use[v] == s && !pinned[v] &&
                !fit_release(&f, e->offset[v], gx_value_bytes(&g->values[v])))
                goto nomem;
        }
        /* outputs nobody reads (dead extra outputs of a live node) */
        for (int32_t j = 0; j < nd->n_out; j++) {
            gx_val v = nd->out[j];
            if (last_use[v] < 0 && !pinned[v] &&
                !fit_release(&f, e->offset[v], gx_value_bytes(&g->values[v])))
                goto nomem;
        }
    }
    e->arena_bytes = f.top;
    if (e->arena_bytes > gx_memory_limit()) {
        char s1[32], s2[32];
        st = gx_diag_set(d, GX_ERR_NOMEM, "the plan of graph '%s' on '%s' needs %s, more than the "
                         "memory limit of %s (--max-memory)", g->name ? g->name : "?", be->name,
                         gx_bytes_text(e->arena_bytes, s1, sizeof s1),
                         gx_bytes_text(gx_memory_limit(), s2, sizeof s2));
        goto done;
    }
    st = be->desc.buffer_alloc(e->ctx, e->arena_bytes ? e->arena_bytes : ALIGN, &e->buf);
    if (st != GX_OK) {
        e->buf = NULL;
        gx_diag_set(d, st, "backend '%s' could not allocate %llu bytes", be->name,
                    (unsigned long long)e->arena_bytes);
        goto done;
    }
    void *host = (be->desc.flags & GX_BACKEND_HOST_MEMORY) && be->desc.buffer_host_ptr
                     ? be->desc.buffer_host_ptr(e->ctx, e->buf)
                     : NULL;
    gx_tensor *t = e->tensors;
    for (s = 0; s < n_steps; s++) {
        step *sp = &e->steps[s];
        const gx_node *nd = &g->nodes[sp->node];
        sp->in = t;
        for (int32_t i = 0; i < nd->n_in; i++) *t++ = make_tensor(e, nd->in[i], host);
        sp->out = t;
        for (int32_t j = 0; j < nd->n_out; j++) *t++ = make_tensor(e, nd->out[j], host);
        sp->workspace.buf = e->buf;
        sp->workspace.data = host && sp->workspace.shape.dims[0] ? (char *)host + sp->workspace.offset : NULL;
        if (sp->on_host && (st = plan_host_copies(e, sp, nd, d)) != GX_OK) goto done;
    }
    goto done;
nomem:
    st = gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
done:
    gx_free(f.free);
    gx_free(live_v);
    gx_free(live_n);
    gx_free(pinned);
    gx_free(last_use);
    if (st != GX_OK) {
        gx_exec_free(e);
        return st;
    }
    *out = e;
    return GX_OK;
}

/* ---- running ---- */

static gx_status check_io(gx_exec *e, gx_val v, uint64_t bytes, gx_diag *d) {
    if (v < 0 || v >= e->g->n_values || e->offset[v] == NO_OFFSET)
        return gx_diag_set(d, GX_ERR_INVALID, "value %d is not part of this plan", (int)v);
    uint64_t want = gx_value_bytes(&e->g->values[v]);
    if (bytes != want)
        return gx_diag_set(d, GX_ERR_INVALID, "value '%s' holds %llu bytes, got %llu",
                           e->g->values[v].name ? e->g->values[v].name : "?",
                           (unsigned long long)want, (unsigned long long)bytes);
    return GX_OK;
}

gx_status gx_exec_write(gx_exec *e, gx_val v, const void *src, uint64_t bytes, gx_diag *d) {
    gx_status st = check_io(e, v, bytes, d);
    if (st != GX_OK || bytes == 0) return st;
    st = e->backend->desc.write(e->ctx, e->buf, e->offset[v], src, bytes);
    return st == GX_OK ? GX_OK : gx_diag_set(d, st, "backend '%s': write failed", e->backend->name);
}

gx_status gx_exec_read(gx_exec *e, gx_val v, void *dst, uint64_t bytes, gx_diag *d) {
    gx_status st = check_io(e, v, bytes, d);
    if (st != GX_OK || bytes == 0) return st;
    st = e->backend->desc.read(e->ctx, e->buf, e->offset[v], dst, bytes);
    return st == GX_OK ? GX_OK : gx_diag_set(d, st, "backend '%s': read failed", e->backend->name);
}

gx_status gx_exec_read_many(gx_exec *e, int32_t n, const gx_val *v, void *const *dst, gx_diag *d) {
    const gx_backend_desc *bd = &e->backend->desc;
    int many = GX_HAS_MEMBER(bd, gx_backend_desc, read_many) && bd->read_many != NULL;
    /* in chunks of 64, on the stack: a step's reads allocate nothing */
    for (int32_t at = 0; at < n; at += 64) {
        int32_t m = n - at < 64 ? n - at : 64;
        void *bufs[64];
        uint64_t offs[64], bytes[64];
        for (int32_t i = 0; i < m; i++) {
            bytes[i] = gx_value_bytes(&e->g->values[v[at + i]]);
            gx_status st = many ? check_io(e, v[at + i], bytes[i], d)
                                : gx_exec_read(e, v[at + i], dst[at + i], bytes[i], d);
            if (st != GX_OK) return st;
            bufs[i] = e->buf;
            offs[i] = e->offset[v[at + i]];
        }
        gx_status st = many ? bd->read_many(e->ctx, m, bufs, offs, dst + at, bytes) : GX_OK;
        if (st != GX_OK) return gx_diag_set(d, st, "backend '%s': read failed", e->backend->name);
    }
    return GX_OK;
}

/* ---- loops ---- */

static gx_status copy_bytes(gx_exec *dst, uint64_t dst_off, gx_exec *src, uint64_t src_off,
                            uint64_t n) {
    if (n == 0) return GX_OK;
    return dst->backend->desc.copy(dst->ctx, dst->buf, dst_off, src->buf, src_off, n);
}

/* Move slice t of a stacked value (shape `stacked`, time axis `axis`) to or from a contiguous
 * slice buffer: prod(dims before axis) runs of prod(dims after axis) elements. */
static gx_status copy_slice(gx_exec *stack_e, gx_val stack_v, gx_exec *slice_e, gx_val slice_v,
                            int32_t axis, int64_t t, int to_stack) {
    const gx_value *sv = &stack_e->g->values[stack_v];
    const gx_shape *sh = &sv->info.shape;
    uint64_t outer = 1, inner = gx_dtype_size(sv->info.dtype);
    for (int32_t i = 0; i < axis; i++) outer *= (uint64_t)sh->dims[i];
    for (int32_t i = axis + 1; i < sh->ndim; i++) inner *= (uint64_t)sh->dims[i];
    uint64_t T = (uint64_t)sh->dims[axis];
    uint64_t base_stack = stack_e->offset[stack_v], base_slice = slice_e->offset[slice_v];
    for (uint64_t o = 0; o < outer; o++) {
        uint64_t so = base_stack + (o * T + (uint64_t)t) * inner, lo = base_slice + o * inner;
        gx_status st = to_stack ? copy_bytes(stack_e, so, slice_e, lo, inner)
                                : copy_bytes(slice_e, lo, stack_e, so, inner);
        if (st != GX_OK) return st;
    }
    return GX_OK;
}

static gx_status copy_value(gx_exec *dst, gx_val dv, gx_exec *src, gx_val sv) {
    return copy_bytes(dst, dst->offset[dv], src, src->offset[sv], gx_value_bytes(&src->g->values[sv]));
}

static gx_status exec_run(gx_exec *e, int top, gx_diag *d);

/* One loop node: carries and invariants in, then per step the sequences' slices in, the body,
 * the yields and residuals out, the new carries back; finally the carries out. */
static gx_status run_loop(gx_exec *e, const step *sp, const gx_node *nd, gx_diag *d) {
    const gx_loop *l = nd->loop;
    gx_exec *b = sp->body;
    gx_status st = GX_OK;
    for (int32_t k = 0; k < l->n_carry && st == GX_OK; k++) st = copy_value(b, l->carry_in[k], e, nd->in[k]);
    for (int32_t k = 0; k < l->n_inv && st == GX_OK; k++)
        st = copy_value(b, l->inv_in[k], e, nd->in[l->n_carry + l->n_seq + k]);
    for (int64_t s = 0; s < l->T && st == GX_OK; s++) {
        int64_t t = l->reverse ? l->T - 1 - s : s;
        for (int32_t k = 0; k < l->n_seq && st == GX_OK; k++)
            st = copy_slice(e, nd->in[l->n_carry + k], b, l->seq_in[k], l->seq_axis[k], t, 0);
        if (st == GX_OK) st = exec_run(b, 0, d);
        if (st != GX_OK && b->fault.found) {
            e->fault = b->fault;
            if (e->fault.time_step < 0) {   /* the innermost loop names the step */
                e->fault.time_step = t;
                e->fault.loop_pos = nd->pos;
            }
            return st;
        }
        for (int32_t j = 0; j < l->n_yield && st == GX_OK; j++)
            st = copy_slice(e, nd->out[j], b, l->yield_out[j], l->yield_axis[j], t, 1);
        for (int32_t r = 0; r < l->n_res && st == GX_OK; r++)
            st = copy_slice(e, nd->out[l->n_yield + l->n_carry + r], b, l->res_out[r], 0, t, 1);
        for (int32_t k = 0; k < l->n_carry && st == GX_OK; k++)
            if (l->carry_out[k] != l->carry_in[k]) st = copy_value(b, l->carry_in[k], b, l->carry_out[k]);
    }
    for (int32_t k = 0; k < l->n_carry && st == GX_OK; k++)
        st = copy_value(e, nd->out[l->n_yield + k], b, l->carry_in[k]);
    if (st != GX_OK && d && d->status == GX_OK)
        gx_diag_at(d, st, nd->pos, "loop: backend '%s' failed to move data (%s)",
                   e->backend->name, gx_status_name(st));
    return st;
}

// ---- checking for NaN and Inf ---------------------------------------------------------------

void gx_exec_set_check(gx_exec *e, int on) {
    e->check = on;
    memset(&e->fault, 0, sizeof e->fault);
    for (int32_t s = 0; s < e->n_steps; s++)
        if (e->steps[s].body) gx_exec_set_check(e->steps[s].body, on);
}

const gx_exec_fault *gx_exec_fault_of(const gx_exec *e) { return &e->fault; }

/* the first non-finite element of value v (after the backend finished), or 0 */
static int nonfinite(gx_exec *e, gx_val v, double *bad) {
    const gx_value *x = &e->g->values[v];
    gx_dtype dt = x->info.dtype;
    if ((dt != GX_DTYPE_F32 && dt != GX_DTYPE_F64) || e->offset[v] == NO_OFFSET) return 0;
    const gx_backend_desc *bd = &e->backend->desc;
    uint64_t bytes = gx_value_bytes(x);
    void *h = gx_malloc(bytes + 8);
    if (h == NULL) return 0;
    if ((bd->submit && bd->submit(e->ctx) != GX_OK) || bd->sync(e->ctx) != GX_OK ||
        bd->read(e->ctx, e->buf, e->offset[v], h, bytes) != GX_OK) {
        gx_free(h);
        return 0;
    }
    int64_t n = gx_shape_numel(&x->info.shape);
    int found = 0;
    for (int64_t i = 0; i < n && !found; i++) {
        double y = dt == GX_DTYPE_F64 ? ((double *)h)[i] : (double)((float *)h)[i];
        if (!isfinite(y)) {
            *bad = y;
            found = 1;
        }
    }
    gx_free(h);
    return found;
}

static gx_status fault_at(gx_exec *e, const char *what, const char *name, const char *op,
                          gx_srcpos pos, int32_t output, int backward, double bad, gx_diag *d) {
    e->fault = (gx_exec_fault){.found = 1, .what = what, .name = name, .op = op, .pos = pos,
                               .output = output, .time_step = -1, .backward = backward,
                               .value = bad};
    (void)d;
    return GX_ERR_INVALID;
}

/* before a checked run: every param and input of the graph */
static gx_status check_leaves(gx_exec *e, gx_diag *d) {
    const gx_graph *g = e->g;
    double bad;
    for (int32_t i = 0; i < g->n_params; i++)
        if (nonfinite(e, g->params[i].val, &bad))
            return fault_at(e, "param", g->params[i].name, NULL, g->params[i].pos, 0, 0, bad, d);
    for (int32_t i = 0; i < g->n_inputs; i++)
        if (nonfinite(e, g->inputs[i].val, &bad))
            return fault_at(e, "input", g->inputs[i].name, NULL, g->inputs[i].pos, 0, 0, bad, d);
    return GX_OK;
}

static gx_status check_node(gx_exec *e, const gx_node *nd, gx_diag *d) {
    double bad;
    for (int32_t j = 0; j < nd->n_out; j++)
        if (nonfinite(e, nd->out[j], &bad))
            return fault_at(e, "output", e->g->values[nd->out[j]].name, nd->op->name, nd->pos, j,
                            nd->backward, bad, d);
    return GX_OK;
}

gx_status gx_exec_run(gx_exec *e, gx_diag *d) { return exec_run(e, 1, d); }
gx_status gx_exec_record(gx_exec *e, gx_diag *d) { return exec_run(e, 2, d); }

/* A loop body's run (top = 0) records into the batch its caller opened: a whole step, every
 * time step included, is one batch, submitted and waited on once. top = 2 (gx_exec_record)
 * leaves the batch open for the reads that follow. */
static gx_status exec_run(gx_exec *e, int top, gx_diag *d) {
    const gx_backend_desc *bd = &e->backend->desc;
    gx_status st = top && bd->begin ? bd->begin(e->ctx) : GX_OK;
    if (st != GX_OK) return gx_diag_set(d, st, "backend '%s': begin failed", e->backend->name);
    if (e->check && top) {
        memset(&e->fault, 0, sizeof e->fault);
        if (check_leaves(e, d) != GX_OK) return GX_ERR_INVALID;
    }
    for (int32_t s = 0; s < e->n_steps; s++) {
        const step *sp = &e->steps[s];
        const gx_node *nd = &e->g->nodes[sp->node];
        if (nd->loop) {
            st = run_loop(e, sp, nd, d);
            if (st != GX_OK) return st;
            if (e->check && check_node(e, nd, d) != GX_OK) return GX_ERR_INVALID;
            if (top && e->hook && (st = e->hook(e->hook_user, s, d)) != GX_OK) return st;
            continue;
        }
        gx_host host;
        gx_host_init(&host, e->g->reg, d, nd->pos);
        gx_kernel_args a = {
            .size = sizeof a,
            .api = gx_registry_api(),
            .host = &host,
            .backend_ctx = sp->kctx,
            .n_inputs = nd->n_in,
            .inputs = sp->in,
            .n_outputs = nd->n_out,
            .outputs = sp->out,
            .attrs = nd->attrs,
            .ith = 0,
            .nth = 1,
            .workspace = sp->workspace,
        };
        st = sp->on_host ? run_on_host(e, sp, nd, &a) : sp->kernel->desc.run(&a);
        if (st != GX_OK) {
            if (d && d->status == GX_OK)
                gx_diag_at(d, st, nd->pos, "kernel '%s' on '%s' failed (%s)", nd->op->name,
                           e->backend->name, gx_status_name(st));
            return st;
        }
        if (e->check && check_node(e, nd, d) != GX_OK) return GX_ERR_INVALID;
        if (top && e->hook && (st = e->hook(e->hook_user, s, d)) != GX_OK) return st;
    }
    if (!top) return GX_OK;
    for (int32_t u = 0; u < e->n_upd && st == GX_OK; u++)
        st = copy_value(e, e->upd_dst[u], e, e->upd_src[u]);
    if (top == 2 && st == GX_OK) return GX_OK;
    if (st == GX_OK) st = bd->submit ? bd->submit(e->ctx) : GX_OK;
    if (st == GX_OK) st = bd->sync(e->ctx);
    return st == GX_OK ? GX_OK : gx_diag_set(d, st, "backend '%s': sync failed", e->backend->name);
}

gx_status gx_exec_set_updates(gx_exec *e, const gx_val *dst, const gx_val *src, int32_t n,
                              gx_diag *d) {
    for (int32_t u = 0; u < n; u++) {
        const gx_value *a = &e->g->values[dst[u]], *b = &e->g->values[src[u]];
        if (a->kind == GX_VALUE_NODE || e->offset[dst[u]] == NO_OFFSET || e->offset[src[u]] == NO_OFFSET ||
            gx_value_bytes(a) != gx_value_bytes(b))
            return gx_diag_set(d, GX_ERR_INVALID, "update %d: '%s' cannot take the value of '%s'",
                               (int)u, a->name ? a->name : "?", b->name ? b->name : "?");
    }
    gx_val *p = gx_malloc(sizeof(gx_val) * (size_t)(2 * n + 1));
    if (p == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    memcpy(p, dst, sizeof(gx_val) * (size_t)n);
    memcpy(p + n, src, sizeof(gx_val) * (size_t)n);
    gx_free(e->upd_dst);
    e->upd_dst = p;
    e->upd_src = p + n;
    e->n_upd = n;
    return GX_OK;
}

gx_status gx_exec_set_step_hook(gx_exec *e, gx_exec_step_fn fn, void *user, gx_diag *d) {
    if (fn && !gx_exec_host_memory(e))
        return gx_diag_set(d, GX_ERR_UNSUPPORTED, "backend '%s': a step hook needs host memory "
                           "(a device runs the steps later, in one batch)", e->backend->name);
    e->hook = fn;
    e->hook_user = user;
    return GX_OK;
}

gx_status gx_exec_ready_steps(const gx_exec *e, const gx_val *v, int32_t n, int32_t *at,
                              gx_diag *d) {
    for (int32_t i = 0; i < n; i++) {
        if (v[i] < 0 || v[i] >= e->g->n_values)
            return gx_diag_set(d, GX_ERR_INVALID, "value %d is not in the graph", (int)v[i]);
        at[i] = -1;   /* inputs and params: ready before the first step */
        for (int32_t s = 0; s < e->n_steps && at[i] < 0; s++) {
            const gx_node *nd = &e->g->nodes[e->steps[s].node];
            for (int32_t o = 0; o < nd->n_out; o++)
                if (nd->out[o] == v[i]) at[i] = s;
        }
    }
    return GX_OK;
}

int gx_exec_host_memory(const gx_exec *e) {
    return (e->backend->desc.flags & GX_BACKEND_HOST_MEMORY) != 0;
}

uint64_t gx_exec_arena_bytes(const gx_exec *e) {
    uint64_t n = e->arena_bytes;
    for (int32_t s = 0; s < e->n_steps; s++)
        if (e->steps[s].body) n += gx_exec_arena_bytes(e->steps[s].body);
    return n;
}
int32_t gx_exec_n_steps(const gx_exec *e) { return e->n_steps; }
const char *gx_exec_backend_name(const gx_exec *e) { return e->backend->name; }
