/* (b) A plugin built for another ABI. The entry is written by hand (GX_PLUGIN_ENTRY would refuse
 * the host itself): it reports GX_ABI_VERSION + 1, does not check the host's version, registers
 * an op anyway and returns OK. The engine must still refuse it, and roll back the op. */
#include <gexec/plugin.h>

static gx_status id_infer(gx_infer_ctx *c) {
    c->outputs[0] = c->inputs[0];
    return GX_OK;
}

static const gx_op_desc abi_op = {
    .size = sizeof(gx_op_desc), .name = "bad_abi_op", .doc = "identity from a wrong-ABI plugin",
    .min_inputs = 1, .max_inputs = 1, .n_outputs = 1, .infer = id_infer,
    .grad_exempt = "test plugin",
};

GX_PLUGIN_EXPORT gx_status gx_plugin_entry(const gx_host_api *api, gx_host *host,
                                           gx_plugin_info *info);
GX_PLUGIN_EXPORT gx_status gx_plugin_entry(const gx_host_api *api, gx_host *host,
                                           gx_plugin_info *info) {
    info->abi_version = GX_ABI_VERSION + 1;
    info->name = "bad_abi";
    info->version = "9.9.9";
    return api->register_op(host, &abi_op);
}
