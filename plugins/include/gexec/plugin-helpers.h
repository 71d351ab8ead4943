/*
 * gexec/plugin-helpers.h: conveniences for plugin authors, built only on gexec/plugin.h (no
 * link-back, nothing to export). Optional: plugin.h alone is the ABI; this header adds what
 * every op or backend library otherwise writes for itself:
 *
 *     static const gx_op_desc ops[] = { ... };
 *     GX_PLUGIN_ENTRY(my_ops, "1.0") { return gx_register_ops(api, host, ops, GX_COUNT(ops)); }
 *
 *     static gx_status my_infer(gx_infer_ctx *c) {
 *         if (c->inputs[0].shape.ndim != 2)
 *             return gx_infer_fail(c, GX_ERR_SHAPE, "my_op", "x must be 2-D, got %s",
 *                                  GX_SHAPE(&c->inputs[0].shape));
 *         ...
 *     }
 */
#ifndef GEXEC_PLUGIN_HELPERS_H
#define GEXEC_PLUGIN_HELPERS_H

#include <gexec/plugin.h>

#include <stdarg.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GX_COUNT(arr) (sizeof(arr) / sizeof((arr)[0]))

/* Return any non-OK status at once (every emit can fail: the host infers shapes at once). */
#define GX_TRY(expr)                                   \
    do {                                               \
        gx_status gx_try_st_ = (expr);                 \
        if (gx_try_st_ != GX_OK) return gx_try_st_;    \
    } while (0)

/* Register a table of op descriptors / kernel descriptors, stopping at the first refusal. */
static inline gx_status gx_register_ops(const gx_host_api *api, gx_host *host,
                                        const gx_op_desc *ops, size_t n) {
    for (size_t i = 0; i < n; i++) {
        gx_status st = api->register_op(host, &ops[i]);
        if (st != GX_OK) return st;
    }
    return GX_OK;
}

static inline gx_status gx_register_kernels(const gx_host_api *api, gx_host *host,
                                            const gx_kernel_desc *kernels, size_t n) {
    for (size_t i = 0; i < n; i++) {
        gx_status st = api->register_kernel(host, &kernels[i]);
        if (st != GX_OK) return st;
    }
    return GX_OK;
}

/* A shape as text, "[2, 3]", returned by value so that it can sit in an argument list
 * (the returned struct's array lives until the end of the full expression). 8 dims of at most
 * 20 characters plus separators fit. */
typedef struct gx_text {
    char s[200];
} gx_text;

static inline gx_text gx_shape_text(const gx_shape *shape) {
    gx_text t;
    size_t n = 0;
    t.s[n++] = '[';
    t.s[n] = '\0';
    if (shape->ndim < 0 || shape->ndim > GX_MAX_DIMS) {
        snprintf(t.s, sizeof t.s, "<rank %d>", (int)shape->ndim);
        return t;
    }
    for (int32_t i = 0; i < shape->ndim; i++) {
        int w = snprintf(t.s + n, sizeof t.s - n, i ? ", %lld" : "%lld", (long long)shape->dims[i]);
        if (w < 0 || (size_t)w >= sizeof t.s - n) return t;
        n += (size_t)w;
    }
    if (n + 1 < sizeof t.s) {
        t.s[n++] = ']';
        t.s[n] = '\0';
    }
    return t;
}

#define GX_SHAPE(shape_ptr) (gx_shape_text(shape_ptr).s)

/* An infer error reading "<op>: <message>"; the host adds the source position. The op name is
 * passed explicitly because several ops may share one infer function. */
static inline gx_status gx_infer_fail(const gx_infer_ctx *c, gx_status st, const char *op,
                                      const char *fmt, ...) GX_PRINTF(4, 5);
static inline gx_status gx_infer_fail(const gx_infer_ctx *c, gx_status st, const char *op,
                                      const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return c->api->set_error(c->host, st, "%s: %s", op, msg);
}

#ifdef __cplusplus
}
#endif

#endif /* GEXEC_PLUGIN_HELPERS_H */
