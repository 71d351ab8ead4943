/* registry-impl.h: the registry's fields, shared by registry.c and loader.c only. */
#ifndef GX_REGISTRY_IMPL_H
#define GX_REGISTRY_IMPL_H

#include "registry.h"

struct gx_registry {
    gx_plugin_rec *plugins;
    int32_t        n_plugins, cap_plugins;
    gx_op         *ops;
    int32_t        n_ops, cap_ops;
    gx_kernel     *kernels;
    int32_t        n_kernels, cap_kernels;
    gx_backend    *backends;
    int32_t        n_backends, cap_backends;
    gx_log_fn      log;
    void          *log_user;
    char         **once;          /* keys gx_registry_first_time has seen */
    int32_t        n_once, cap_once;
    int32_t        threads;       /* GX_EXT_THREADS: 0 = each backend's default */
    int32_t        device;        /* GX_EXT_DEVICE: -1 = the backend chooses     */
};

/* remove everything plugin `plugin` registered (a failed entry) */
void gx_registry_rollback(gx_registry *r, int plugin);
/* call unload and dlclose for plugin i */
void gx_registry_unload_plugin(gx_registry *r, int i);

#endif
