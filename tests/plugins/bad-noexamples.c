/* (g) An op with a VJP but neither gradient-check examples nor a grad_exempt reason: an
 * unchecked gradient is refused at registration, not discovered wrong in training. */
#include <gexec/plugin.h>

static gx_status id_infer(gx_infer_ctx *c) {
    c->outputs[0] = c->inputs[0];
    return GX_OK;
}

static gx_status id_vjp(gx_builder *b, const gx_vjp_args *a) {
    (void)b;
    a->d_inputs[0] = a->d_outputs[0];
    return GX_OK;
}

static const gx_op_desc op = {
    .size = sizeof(gx_op_desc), .name = "unchecked_id", .min_inputs = 1, .max_inputs = 1,
    .n_outputs = 1, .infer = id_infer, .vjp = id_vjp,
};

GX_PLUGIN_ENTRY(bad_noexamples, "0.0.1") { return api->register_op(host, &op); }
