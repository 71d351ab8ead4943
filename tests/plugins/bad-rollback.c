/* (e) Registers an op, a kernel and a backend, then fails: the registry must drop all three, so
 * a half-initialised plugin leaves nothing behind. */
#include <gexec/plugin.h>

static gx_status id_infer(gx_infer_ctx *c) {
    c->outputs[0] = c->inputs[0];
    return GX_OK;
}

static gx_status id_run(const gx_kernel_args *a) {
    (void)a;
    return GX_OK;
}

static gx_status be_init(const gx_host_api *api, gx_host *host, void **ctx) {
    (void)api;
    (void)host;
    *ctx = NULL;
    return GX_OK;
}
static void be_deinit(void *ctx) { (void)ctx; }
static gx_status be_alloc(void *ctx, uint64_t bytes, void **buf) {
    (void)ctx;
    (void)bytes;
    *buf = NULL;
    return GX_ERR_NOMEM;
}
static void be_free(void *ctx, void *buf) {
    (void)ctx;
    (void)buf;
}
static gx_status be_rw(void *ctx, void *buf, uint64_t off, const void *src, uint64_t n) {
    (void)ctx, (void)buf, (void)off, (void)src, (void)n;
    return GX_ERR_BACKEND;
}
static gx_status be_read(void *ctx, void *buf, uint64_t off, void *dst, uint64_t n) {
    (void)ctx, (void)buf, (void)off, (void)dst, (void)n;
    return GX_ERR_BACKEND;
}
static gx_status be_copy(void *ctx, void *d, uint64_t doff, void *s, uint64_t soff, uint64_t n) {
    (void)ctx, (void)d, (void)doff, (void)s, (void)soff, (void)n;
    return GX_ERR_BACKEND;
}
static gx_status be_sync(void *ctx) {
    (void)ctx;
    return GX_OK;
}

static const gx_op_desc op = {
    .size = sizeof(gx_op_desc), .name = "rollback_op", .min_inputs = 1, .max_inputs = 1,
    .n_outputs = 1, .infer = id_infer, .grad_exempt = "test plugin",
};
static const gx_kernel_desc kernel = {
    .size = sizeof(gx_kernel_desc), .op = "rollback_op", .backend = "cpu-scalar",
    .dtype = GX_DTYPE_F32, .run = id_run,
};
static const gx_backend_desc backend = {
    .size = sizeof(gx_backend_desc), .name = "rollback-backend", .init = be_init,
    .deinit = be_deinit, .buffer_alloc = be_alloc, .buffer_free = be_free, .write = be_rw,
    .read = be_read, .copy = be_copy, .sync = be_sync,
};

GX_PLUGIN_ENTRY(bad_rollback, "0.0.1") {
    gx_status st = api->register_op(host, &op);
    if (st == GX_OK) st = api->register_kernel(host, &kernel);
    if (st == GX_OK) st = api->register_backend(host, &backend);
    if (st != GX_OK) return st;
    return api->set_error(host, GX_ERR_PLUGIN, "initialisation failed after registering");
}
