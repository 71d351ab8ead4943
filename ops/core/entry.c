/*
 * entry.c: the entry point of gx-op-core.so, the core op library.
 *
 * Registers the op schemas of every family (one file each, see core.h); the op semantics are
 * specified in ops/README.md. This plugin brings schemas only: shape inference, VJPs and
 * gradient-check examples. Kernels come from the backend plugins.
 */
#include "core.h"

/* Registration order does not matter: VJPs name ops by string, resolved when they are emitted. */
static gx_status (*const core_families[])(const gx_host_api *api, gx_host *host) = {
    gx_core_register_elementwise,
    gx_core_register_matmul,
    gx_core_register_shape,
    gx_core_register_reduce,
    gx_core_register_nn,
    gx_core_register_masks,
    gx_core_register_optim,
};

GX_PLUGIN_ENTRY(core_ops, "0.1.0") {
    for (size_t i = 0; i < GX_COUNT(core_families); i++) {
        gx_status st = core_families[i](api, host);
        if (st != GX_OK) return st;
    }
    return GX_OK;
}
