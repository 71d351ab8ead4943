/*
 * registry.h: what the loaded plugins brought: op schemas, kernels, backends.
 *
 * Plugins are loaded with gx_registry_load_*; each registration is copied into the registry and
 * tagged with its plugin, so a plugin whose entry fails is rolled back whole (transactional).
 * The registry owns the dlopen handles and closes them in gx_registry_free, after every
 * backend context has been released.
 */
#ifndef GX_REGISTRY_H
#define GX_REGISTRY_H

#include "diag.h"

#include <stdbool.h>

typedef struct gx_registry gx_registry;

typedef struct gx_op {
    gx_op_desc desc;       /* copy; desc.name points at `name` */
    char      *name;
    int        n_attrs;    /* entries in desc.attrs before the NULL terminator */
    int        plugin;     /* index into the registry's plugins */
} gx_op;

typedef struct gx_kernel {
    gx_kernel_desc desc;
    int            plugin;
} gx_kernel;

typedef struct gx_backend {
    gx_backend_desc desc;
    char           *name;
    int             plugin;
    void           *ctx;      /* made by desc.init on first use                    */
    bool            init_tried;
    gx_status       init_status;
} gx_backend;

typedef struct gx_plugin_rec {
    char *path;
    char *name;
    char *version;
    void *handle;
    void (*unload)(void);
} gx_plugin_rec;

typedef void (*gx_log_fn)(void *user, gx_log_level level, const char *msg);

gx_registry *gx_registry_new(void);
void         gx_registry_free(gx_registry *r);
void         gx_registry_set_log(gx_registry *r, gx_log_fn fn, void *user);
void         gx_registry_log(gx_registry *r, gx_log_level level, const char *fmt, ...) GX_PRINTF(3, 4);
/* The worker threads CPU backends should use (GX_EXT_THREADS); 0, the default, lets each
 * backend pick (all cores). Set it before the first plan: a backend reads it when it starts. */
void         gx_registry_set_threads(gx_registry *r, int32_t threads);
/* The device a GPU backend should open (GX_EXT_DEVICE, `--device N`); -1, the default, lets the
 * backend choose. Set it before the first plan. */
void         gx_registry_set_device(gx_registry *r, int32_t device);
/* 1 the first time `key` is asked for in this registry, 0 after (one-time warnings) */
int          gx_registry_first_time(gx_registry *r, const char *key);

/* Load one plugin. A refusal (not a shared object, no entry point, other ABI, failing entry,
 * duplicate name) returns an error with one line in d naming the file and the reason; the
 * registry is unchanged then. */
gx_status gx_registry_load_file(gx_registry *r, const char *path, gx_diag *d);
/* Load every gx-*.so in dir in alphabetical order. Refusals are logged as warnings (one line
 * each) and do not stop the others; the count of refusals goes to *n_refused (may be NULL).
 * A missing directory is not an error. */
gx_status gx_registry_load_dir(gx_registry *r, const char *dir, int *n_refused, gx_diag *d);
/* The built-in plugins (lib/gexec/plugins beside libgexec, in the build and the install tree),
 * then each directory of $GEXEC_PLUGIN_PATH (colon-separated). */
gx_status gx_registry_load_default(gx_registry *r, int *n_refused, gx_diag *d);
/* The directory of the built-in plugins, as found from libgexec's own location. */
const char *gx_registry_builtin_dir(void);

/* The table handed to plugins; built-in code (tests) may use it too. */
const gx_host_api *gx_registry_api(void);

const gx_op      *gx_registry_find_op(const gx_registry *r, const char *name);
const gx_kernel  *gx_registry_find_kernel(const gx_registry *r, const char *op,
                                          const char *backend, gx_dtype dtype);
gx_backend       *gx_registry_find_backend(gx_registry *r, const char *name);
/* The backend's context, initialising it on first use; errors (no device) go to d. */
gx_status         gx_registry_backend_ctx(gx_registry *r, gx_backend *b, void **ctx, gx_diag *d);
/* The preferred usable backend: highest score. */
gx_backend       *gx_registry_default_backend(gx_registry *r);
/* 0: unusable here; higher is preferred */
int32_t           gx_registry_backend_score(gx_registry *r, gx_backend *b);

int                  gx_registry_n_ops(const gx_registry *r);
const gx_op         *gx_registry_op_at(const gx_registry *r, int i);
int                  gx_registry_n_kernels(const gx_registry *r);
const gx_kernel     *gx_registry_kernel_at(const gx_registry *r, int i);
int                  gx_registry_n_backends(const gx_registry *r);
gx_backend          *gx_registry_backend_at(gx_registry *r, int i);
int                  gx_registry_n_plugins(const gx_registry *r);
const gx_plugin_rec *gx_registry_plugin_at(const gx_registry *r, int i);
/* An op that brings a decomposition and no kernel on any backend is expanded into its
 * decomposition wherever it is called (graph.c); an op with kernels runs them. */
int                  gx_registry_op_expands(const gx_registry *r, const gx_op *op);
/* index of an attribute in an op's table, -1 if absent */
int                  gx_op_attr_index(const gx_op *op, const char *name);

/* ---- gx_host: the opaque handle plugins get; defined here for the engine only ---- */
typedef struct gx_graph gx_graph;

struct gx_host {
    gx_registry *reg;
    int          plugin;     /* registering plugin, -1 outside loading             */
    gx_diag     *diag;       /* where set_error goes                              */
    gx_srcpos    pos;        /* source position prefixed to plugin messages        */
};

void gx_host_init(gx_host *h, gx_registry *r, gx_diag *d, gx_srcpos pos);

#endif
