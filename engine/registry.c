/*
 * registry.c: op schemas, kernels and backends registered by plugins, and the host table
 * (gx_host_api) plugins call. Loading itself (dlopen, ABI checks) is in loader.c.
 */
#include "registry.h"

#include "graph.h"
#include "registry-impl.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void default_log(void *user, gx_log_level level, const char *msg) {
    (void)user;
    if (level < GX_LOG_WARN) return;
    fprintf(stderr, "gexec: %s: %s\n", level == GX_LOG_WARN ? "warning" : "error", msg);
}

gx_registry *gx_registry_new(void) {
    gx_registry *r = gx_calloc(1, sizeof *r);
    if (r == NULL) return NULL;
    r->log = default_log;
    r->device = -1;
    return r;
}

void gx_registry_set_log(gx_registry *r, gx_log_fn fn, void *user) {
    r->log = fn ? fn : default_log;
    r->log_user = user;
}

void gx_registry_log(gx_registry *r, gx_log_level level, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    r->log(r->log_user, level, buf);
}

void gx_registry_free(gx_registry *r) {
    if (r == NULL) return;
    for (int i = 0; i < r->n_backends; i++) {
        gx_backend *b = &r->backends[i];
        if (b->ctx && b->desc.deinit) b->desc.deinit(b->ctx);
        gx_free(b->name);
    }
    for (int i = 0; i < r->n_ops; i++) gx_free(r->ops[i].name);
    for (int i = r->n_plugins - 1; i >= 0; i--) gx_registry_unload_plugin(r, i);
    for (int i = 0; i < r->n_plugins; i++) {
        gx_free(r->plugins[i].path);
        gx_free(r->plugins[i].name);
        gx_free(r->plugins[i].version);
    }
    for (int i = 0; i < r->n_once; i++) gx_free(r->once[i]);
    gx_free(r->once);
    gx_free(r->backends);
    gx_free(r->kernels);
    gx_free(r->ops);
    gx_free(r->plugins);
    gx_free(r);
}

int gx_registry_first_time(gx_registry *r, const char *key) {
    for (int i = 0; i < r->n_once; i++)
        if (strcmp(r->once[i], key) == 0) return 0;
    char **p = gx_grow(r->once, &r->cap_once, r->n_once + 1, sizeof *p);
    char *k = gx_strdup(key);
    if (p == NULL || k == NULL) {
        gx_free(k);
        return 1;   /* out of memory: say it again rather than never */
    }
    r->once = p;
    r->once[r->n_once++] = k;
    return 1;
}

void gx_registry_rollback(gx_registry *r, int plugin) {
    int w = 0;
    for (int i = 0; i < r->n_ops; i++) {
        if (r->ops[i].plugin == plugin) gx_free(r->ops[i].name);
        else r->ops[w++] = r->ops[i];
    }
    r->n_ops = w;
    /* ops moved: re-point desc.name at the owned copies */
    for (int i = 0; i < r->n_ops; i++) r->ops[i].desc.name = r->ops[i].name;
    w = 0;
    for (int i = 0; i < r->n_kernels; i++)
        if (r->kernels[i].plugin != plugin) r->kernels[w++] = r->kernels[i];
    r->n_kernels = w;
    w = 0;
    for (int i = 0; i < r->n_backends; i++) {
        if (r->backends[i].plugin == plugin) {
            if (r->backends[i].ctx && r->backends[i].desc.deinit)
                r->backends[i].desc.deinit(r->backends[i].ctx);
            gx_free(r->backends[i].name);
        } else {
            r->backends[w++] = r->backends[i];
        }
    }
    r->n_backends = w;
    for (int i = 0; i < r->n_backends; i++) r->backends[i].desc.name = r->backends[i].name;
}

void gx_host_init(gx_host *h, gx_registry *r, gx_diag *d, gx_srcpos pos) {
    h->reg = r;
    h->plugin = -1;
    h->diag = d;
    h->pos = pos;
}

/* ---- registration ---- */

/* A descriptor struct starting with `size`: copy what the plugin has, zero the rest, so a
 * plugin built against an older (smaller) struct reads as "members absent". */
static void copy_sized(void *dst, size_t dst_size, const void *src) {
    uint32_t n = *(const uint32_t *)src;
    memset(dst, 0, dst_size);
    memcpy(dst, src, n < dst_size ? n : dst_size);
}

static int valid_name(const char *s) {
    if (s == NULL || *s == '\0' || strlen(s) > 63) return 0;
    for (const char *p = s; *p; p++)
        if (!(*p == '_' || *p == '-' || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9')))
            return 0;
    return 1;
}

static gx_status host_set_error(gx_host *h, gx_status st, const char *fmt, ...);

static gx_status register_op(gx_host *h, const gx_op_desc *desc) {
    gx_registry *r = h->reg;
    if (desc == NULL || desc->size < offsetof(gx_op_desc, vjp))
        return host_set_error(h, GX_ERR_INVALID, "register_op: descriptor too small");
    gx_op op;
    copy_sized(&op.desc, sizeof op.desc, desc);
    if (!valid_name(op.desc.name))
        return host_set_error(h, GX_ERR_INVALID, "register_op: bad op name");
    if (op.desc.infer == NULL)
        return host_set_error(h, GX_ERR_INVALID, "op '%s' has no infer function", op.desc.name);
    if (op.desc.min_inputs < 0 || (op.desc.max_inputs >= 0 && op.desc.max_inputs < op.desc.min_inputs))
        return host_set_error(h, GX_ERR_INVALID, "op '%s': bad input counts", op.desc.name);
    if (op.desc.vjp && op.desc.examples == NULL && op.desc.grad_exempt == NULL)
        return host_set_error(h, GX_ERR_INVALID,
                              "op '%s' has a VJP but no gradient-check examples and no grad_exempt "
                              "reason", op.desc.name);
    if (op.desc.decompose && op.desc.examples == NULL && op.desc.grad_exempt == NULL)
        return host_set_error(h, GX_ERR_INVALID,
                              "op '%s' has a decomposition but no gradient-check examples and no "
                              "grad_exempt reason", op.desc.name);
    const gx_op *dup = gx_registry_find_op(r, op.desc.name);
    if (dup) {
        /* the plugin being loaded has no name on record until its entry returns, and an op
         * registered outside any plugin (plugin -1) has no record at all */
        if (dup->plugin >= 0 && dup->plugin == h->plugin)
            return host_set_error(h, GX_ERR_DUPLICATE, "op '%s' is already registered by this "
                                  "plugin", op.desc.name);
        if (dup->plugin < 0 || dup->plugin >= r->n_plugins || r->plugins[dup->plugin].name == NULL)
            return host_set_error(h, GX_ERR_DUPLICATE, "op '%s' is already registered",
                                  op.desc.name);
        return host_set_error(h, GX_ERR_DUPLICATE, "op '%s' is already registered by plugin '%s'",
                              op.desc.name, r->plugins[dup->plugin].name);
    }
    op.n_attrs = 0;
    if (op.desc.attrs)
        while (op.desc.attrs[op.n_attrs].name) {
            if (op.n_attrs >= 64)
                return host_set_error(h, GX_ERR_INVALID, "op '%s': too many attributes",
                                      op.desc.name);
            op.n_attrs++;
        }
    if (op.desc.flags & GX_OP_RANDOM) {
        int has_key = 0;
        for (int32_t i = 0; i < op.n_attrs; i++)
            has_key |= strcmp(op.desc.attrs[i].name, "key") == 0 && op.desc.attrs[i].type == GX_ATTR_INT;
        if (!has_key || op.desc.min_inputs < 1)
            return host_set_error(h, GX_ERR_INVALID, "op '%s' is random (GX_OP_RANDOM) but has no "
                                  "INT attribute 'key' or no input for the random key", op.desc.name);
    }
    op.plugin = h->plugin;
    op.name = gx_strdup(op.desc.name);
    gx_op *ops = op.name ? gx_grow(r->ops, &r->cap_ops, r->n_ops + 1, sizeof op) : NULL;
    if (ops == NULL) {
        gx_free(op.name);
        return GX_ERR_NOMEM;
    }
    r->ops = ops;
    op.desc.name = op.name;
    r->ops[r->n_ops++] = op;
    return GX_OK;
}

static gx_status register_kernel(gx_host *h, const gx_kernel_desc *desc) {
    gx_registry *r = h->reg;
    if (desc == NULL || desc->size < offsetof(gx_kernel_desc, workspace))
        return host_set_error(h, GX_ERR_INVALID, "register_kernel: descriptor too small");
    gx_kernel k;
    copy_sized(&k.desc, sizeof k.desc, desc);
    if (k.desc.op == NULL || k.desc.backend == NULL || k.desc.run == NULL ||
        gx_dtype_size(k.desc.dtype) == 0)
        return host_set_error(h, GX_ERR_INVALID, "register_kernel: incomplete descriptor");
    /* the kernel's op and backend may come from other plugins, loaded before or after; names
     * are resolved when a graph is planned, but the strings must outlive the plugin: they are
     * static in the plugin, which stays loaded as long as the registry. */
    if (gx_registry_find_kernel(r, k.desc.op, k.desc.backend, k.desc.dtype))
        return host_set_error(h, GX_ERR_DUPLICATE,
                              "kernel for op '%s' on backend '%s' (%s) is already registered",
                              k.desc.op, k.desc.backend, gx_dtype_name(k.desc.dtype));
    k.plugin = h->plugin;
    gx_kernel *ks = gx_grow(r->kernels, &r->cap_kernels, r->n_kernels + 1, sizeof k);
    if (ks == NULL) return GX_ERR_NOMEM;
    r->kernels = ks;
    r->kernels[r->n_kernels++] = k;
    return GX_OK;
}

static gx_status register_backend(gx_host *h, const gx_backend_desc *desc) {
    gx_registry *r = h->reg;
    if (desc == NULL || desc->size < offsetof(gx_backend_desc, sync) + sizeof desc->sync)
        return host_set_error(h, GX_ERR_INVALID, "register_backend: descriptor too small");
    gx_backend b;
    memset(&b, 0, sizeof b);
    copy_sized(&b.desc, sizeof b.desc, desc);
    if (!valid_name(b.desc.name))
        return host_set_error(h, GX_ERR_INVALID, "register_backend: bad backend name");
    if (!b.desc.init || !b.desc.buffer_alloc || !b.desc.buffer_free || !b.desc.write ||
        !b.desc.read || !b.desc.copy || !b.desc.sync)
        return host_set_error(h, GX_ERR_INVALID, "backend '%s': missing functions", b.desc.name);
    if (gx_registry_find_backend(r, b.desc.name))
        return host_set_error(h, GX_ERR_DUPLICATE, "backend '%s' is already registered",
                              b.desc.name);
    b.plugin = h->plugin;
    b.name = gx_strdup(b.desc.name);
    gx_backend *bs = b.name ? gx_grow(r->backends, &r->cap_backends, r->n_backends + 1, sizeof b)
                            : NULL;
    if (bs == NULL) {
        gx_free(b.name);
        return GX_ERR_NOMEM;
    }
    r->backends = bs;
    b.desc.name = b.name;
    r->backends[r->n_backends++] = b;
    return GX_OK;
}

/* ---- services ---- */

static void host_log(gx_host *h, gx_log_level level, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (h && h->reg) h->reg->log(h->reg->log_user, level, buf);
}

static gx_status host_set_error(gx_host *h, gx_status st, const char *fmt, ...) {
    if (h == NULL || h->diag == NULL) return st;
    va_list ap;
    va_start(ap, fmt);
    gx_diag_vat(h->diag, st, h->pos, fmt, ap);
    va_end(ap);
    return st;
}

static void *host_alloc(gx_host *h, size_t n) {
    (void)h;
    return gx_malloc(n ? n : 1);
}

static void host_free(gx_host *h, void *p) {
    (void)h;
    gx_free(p);
}

static const void *host_get_extension(gx_host *h, const char *id) {
    if (id != NULL && h != NULL && h->reg != NULL && strcmp(id, GX_EXT_THREADS) == 0)
        return &h->reg->threads;
    if (id != NULL && h != NULL && h->reg != NULL && strcmp(id, GX_EXT_DEVICE) == 0)
        return &h->reg->device;
    return NULL;
}

void gx_registry_set_threads(gx_registry *r, int32_t threads) {
    r->threads = threads > 0 ? threads : 0;
}

void gx_registry_set_device(gx_registry *r, int32_t device) {
    r->device = device >= 0 ? device : -1;
}

static const gx_host_api host_api = {
    .abi_version = GX_ABI_VERSION,
    .size = sizeof(gx_host_api),
    .register_op = register_op,
    .register_kernel = register_kernel,
    .register_backend = register_backend,
    .log = host_log,
    .set_error = host_set_error,
    .alloc = host_alloc,
    .free = host_free,
    .get_extension = host_get_extension,
    .emit = gx_builder_emit,
    .value_info = gx_builder_value_info,
    .emit_constant = gx_builder_emit_constant,
    .emit_sum_to = gx_builder_emit_sum_to,
};

const gx_host_api *gx_registry_api(void) { return &host_api; }

/* ---- lookup ---- */

const gx_op *gx_registry_find_op(const gx_registry *r, const char *name) {
    for (int i = 0; i < r->n_ops; i++)
        if (strcmp(r->ops[i].name, name) == 0) return &r->ops[i];
    return NULL;
}

const gx_kernel *gx_registry_find_kernel(const gx_registry *r, const char *op, const char *backend,
                                         gx_dtype dtype) {
    for (int i = 0; i < r->n_kernels; i++) {
        const gx_kernel *k = &r->kernels[i];
        if (k->desc.dtype == dtype && strcmp(k->desc.op, op) == 0 &&
            strcmp(k->desc.backend, backend) == 0)
            return k;
    }
    return NULL;
}

gx_backend *gx_registry_find_backend(gx_registry *r, const char *name) {
    for (int i = 0; i < r->n_backends; i++)
        if (strcmp(r->backends[i].name, name) == 0) return &r->backends[i];
    return NULL;
}

gx_status gx_registry_backend_ctx(gx_registry *r, gx_backend *b, void **ctx, gx_diag *d) {
    if (!b->init_tried) {
        gx_host h;
        gx_diag local;
        gx_diag_init(&local);
        gx_host_init(&h, r, &local, (gx_srcpos){0});
        h.plugin = b->plugin;
        b->init_tried = true;
        if (b->desc.score && b->desc.score(&host_api, &h) <= 0) {
            b->init_status = GX_ERR_BACKEND;
            return gx_diag_set(d, GX_ERR_BACKEND, "backend '%s' is not usable on this machine",
                               b->name);
        }
        b->init_status = b->desc.init(&host_api, &h, &b->ctx);
        if (b->init_status != GX_OK)
            return gx_diag_set(d, b->init_status, "backend '%s' failed to initialise: %s", b->name,
                               local.status ? local.msg : gx_status_name(b->init_status));
    }
    if (b->init_status != GX_OK)
        return gx_diag_set(d, b->init_status, "backend '%s' is not available", b->name);
    *ctx = b->ctx;
    return GX_OK;
}

int32_t gx_registry_backend_score(gx_registry *r, gx_backend *b) {
    gx_host h;
    gx_host_init(&h, r, NULL, (gx_srcpos){0});
    return b->desc.score ? b->desc.score(&host_api, &h) : 1;
}

gx_backend *gx_registry_default_backend(gx_registry *r) {
    gx_backend *best = NULL;
    int32_t best_score = 0;
    for (int i = 0; i < r->n_backends; i++) {
        gx_backend *b = &r->backends[i];
        int32_t s = gx_registry_backend_score(r, b);
        if (s > best_score) {
            best_score = s;
            best = b;
        }
    }
    return best;
}

int gx_registry_n_ops(const gx_registry *r) { return r->n_ops; }
const gx_op *gx_registry_op_at(const gx_registry *r, int i) { return &r->ops[i]; }
int gx_registry_n_kernels(const gx_registry *r) { return r->n_kernels; }
const gx_kernel *gx_registry_kernel_at(const gx_registry *r, int i) { return &r->kernels[i]; }
int gx_registry_n_backends(const gx_registry *r) { return r->n_backends; }
gx_backend *gx_registry_backend_at(gx_registry *r, int i) { return &r->backends[i]; }
int gx_registry_n_plugins(const gx_registry *r) { return r->n_plugins; }
const gx_plugin_rec *gx_registry_plugin_at(const gx_registry *r, int i) { return &r->plugins[i]; }

int gx_registry_op_expands(const gx_registry *r, const gx_op *op) {
    if (!GX_HAS_MEMBER(&op->desc, gx_op_desc, decompose) || op->desc.decompose == NULL) return 0;
    for (int i = 0; i < r->n_kernels; i++)
        if (strcmp(r->kernels[i].desc.op, op->name) == 0) return 0;
    return 1;
}

int gx_op_attr_index(const gx_op *op, const char *name) {
    for (int i = 0; i < op->n_attrs; i++)
        if (strcmp(op->desc.attrs[i].name, name) == 0) return i;
    return -1;
}
