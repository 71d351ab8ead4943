/* (d) Registers "tanh", which the core op library already has: op names are global, so the
 * whole plugin is refused as a duplicate. */
#include <gexec/plugin.h>

static gx_status id_infer(gx_infer_ctx *c) {
    c->outputs[0] = c->inputs[0];
    return GX_OK;
}

static const gx_op_desc ops[] = {
    /* a unique op first, so the refusal must also roll it back */
    {.size = sizeof(gx_op_desc), .name = "bad_dup_first", .min_inputs = 1, .max_inputs = 1,
     .n_outputs = 1, .infer = id_infer, .grad_exempt = "test plugin"},
    {.size = sizeof(gx_op_desc), .name = "tanh", .min_inputs = 1, .max_inputs = 1,
     .n_outputs = 1, .infer = id_infer, .grad_exempt = "test plugin"},
};

GX_PLUGIN_ENTRY(bad_dup, "0.0.1") {
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        gx_status st = api->register_op(host, &ops[i]);
        if (st != GX_OK) return st;
    }
    return GX_OK;
}
