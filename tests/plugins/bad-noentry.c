/* (a) A shared object that looks like a plugin but exports no gx_plugin_entry: the loader must
 * refuse it by name ("no entry point") instead of crashing on a NULL function pointer. */
#include <gexec/plugin.h>

/* a near miss of the real name: a typo in a hand-written plugin is the likely cause */
GX_PLUGIN_EXPORT gx_status gx_plugin_entrypoint(const gx_host_api *api, gx_host *host,
                                                gx_plugin_info *info);
GX_PLUGIN_EXPORT gx_status gx_plugin_entrypoint(const gx_host_api *api, gx_host *host,
                                                gx_plugin_info *info) {
    (void)api;
    (void)host;
    (void)info;
    return GX_OK;
}
