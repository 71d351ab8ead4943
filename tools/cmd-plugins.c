/* cmd-plugins.c: `gexec plugins`: what is loaded, and which (op, backend) pairs have kernels. */
#include "cli.h"

#include <string.h>

int cmd_plugins(const cli_opts *o) {
    (void)o;
    gx_registry *reg = cli_registry();
    if (reg == NULL) return 1;
    printf("plugins (built-in directory %s):\n",
           gx_registry_builtin_dir() ? gx_registry_builtin_dir() : "?");
    for (int i = 0; i < gx_registry_n_plugins(reg); i++) {
        const gx_plugin_rec *p = gx_registry_plugin_at(reg, i);
        printf("  %-16s %-8s %s\n", p->name, p->version, p->path);
    }
    printf("\nbackends:\n");
    int nb = gx_registry_n_backends(reg);
    for (int i = 0; i < nb; i++) {
        gx_backend *b = gx_registry_backend_at(reg, i);
        gx_diag d;
        gx_diag_init(&d);
        void *ctx = NULL;
        char desc[256] = "";
        if (gx_registry_backend_ctx(reg, b, &ctx, &d) == GX_OK) {
            if (b->desc.describe) b->desc.describe(ctx, desc, sizeof desc);
        } else {
            snprintf(desc, sizeof desc, "unavailable: %.200s", d.msg + strlen("error: "));
        }
        printf("  %-16s %s\n", b->name, desc);
    }
    printf("\nops (kernels per backend; f=f32 d=f64 i=i32; 'expands': a decomposition into "
           "other ops, run on any backend):\n");
    int w = 20;   /* the op column fits the longest name */
    for (int k = 0; k < gx_registry_n_ops(reg); k++) {
        int n = (int)strlen(gx_registry_op_at(reg, k)->name);
        if (n > w) w = n;
    }
    printf("  %-*s %-7s", w, "op", "grad");
    for (int i = 0; i < nb; i++) printf(" %-12s", gx_registry_backend_at(reg, i)->name);
    printf("\n");
    for (int k = 0; k < gx_registry_n_ops(reg); k++) {
        const gx_op *op = gx_registry_op_at(reg, k);
        int expands = gx_registry_op_expands(reg, op);
        printf("  %-*s %-7s", w, op->name, op->desc.vjp ? "vjp" : expands ? "expands" : "-");
        for (int i = 0; i < nb && expands; i++) printf(" %-12s", "expands");
        for (int i = 0; i < nb && !expands; i++) {
            const char *bn = gx_registry_backend_at(reg, i)->name;
            char cell[8] = "";
            int c = 0;
            if (gx_registry_find_kernel(reg, op->name, bn, GX_DTYPE_F32)) cell[c++] = 'f';
            if (gx_registry_find_kernel(reg, op->name, bn, GX_DTYPE_F64)) cell[c++] = 'd';
            if (gx_registry_find_kernel(reg, op->name, bn, GX_DTYPE_I32)) cell[c++] = 'i';
            printf(" %-12s", c ? cell : "-");
        }
        printf("\n");
    }
    /* kernels for ops nobody registered are worth knowing about */
    for (int k = 0; k < gx_registry_n_kernels(reg); k++) {
        const gx_kernel *kn = gx_registry_kernel_at(reg, k);
        if (gx_registry_find_op(reg, kn->desc.op) == NULL)
            printf("  (kernel for unknown op '%s' on '%s')\n", kn->desc.op, kn->desc.backend);
    }
    gx_registry_free(reg);
    return 0;
}
