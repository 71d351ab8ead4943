/* A plugin that registers the same op twice: the duplicate is within the plugin being loaded,
 * which has no recorded name yet, so the message must not print a NULL name. */
#include <gexec/plugin.h>

static gx_status id_infer(gx_infer_ctx *c) {
    c->outputs[0] = c->inputs[0];
    return GX_OK;
}

static const gx_op_desc op = {
    .size = sizeof(gx_op_desc), .name = "self_dup", .min_inputs = 1, .max_inputs = 1,
    .n_outputs = 1, .infer = id_infer, .grad_exempt = "test plugin",
};

GX_PLUGIN_ENTRY(bad_dupself, "0.0.1") {
    gx_status st = api->register_op(host, &op);
    if (st != GX_OK) return st;
    return api->register_op(host, &op);
}
