/*
 * kernels-optim.c: cpu-scalar kernels of sumsq and optim_step (gexec/optim-step.h), the
 * reference the device kernels are compared with. In double, like every cpu-scalar kernel.
 */
#include <gexec/optim-step.h>

#include "cpu-scalar.h"

static gx_status sumsq_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *x = &a->inputs[0];
    double s = 0;
    for (int64_t i = 0, n = cs_numel(x); i < n; i++) s += cs_load(x, i) * cs_load(x, i);
    cs_store(&a->outputs[0], 0, s);
    return GX_OK;
}

static gx_status optim_step_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const gx_tensor *p = &a->inputs[0], *g = &a->inputs[1], *s1 = &a->inputs[2],
                    *s2 = &a->inputs[3], *hy = &a->inputs[4];
    double h[GX_OPTIM_HYPER_N], scale;
    for (int k = 0; k < GX_OPTIM_HYPER_N; k++) h[k] = cs_load(hy, k);
    int kind = (int)a->attrs[0].i, nesterov = (int)a->attrs[1].i;
    int live = gx_optim_clip_scale(h, cs_load(&a->inputs[5], 0), &scale);
    double cv = h[GX_OPTIM_HYPER_CLIP_VALUE];
    for (int64_t i = 0, n = cs_numel(p); i < n; i++) {
        double w = cs_load(p, i), m = cs_load(s1, i), v = cs_load(s2, i);
        if (live) {
            double gi = cs_load(g, i) * scale;
            if (cv > 0) gi = gi > cv ? cv : gi < -cv ? -cv : gi;
            gx_optim_step_elem(kind, nesterov, h, gi, &w, &m, &v);
        }
        cs_store(&a->outputs[0], i, w);
        cs_store(&a->outputs[1], i, m);
        cs_store(&a->outputs[2], i, v);
    }
    return GX_OK;
}

static const gx_kernel_desc cs_optim_kernels[] = {
    CS_KERNELS_FLOAT("sumsq", sumsq_run),
    CS_KERNELS_FLOAT("optim_step", optim_step_run),
};

gx_status cs_register_optim(const gx_host_api *api, gx_host *host) {
    return gx_register_kernels(api, host, cs_optim_kernels, GX_COUNT(cs_optim_kernels));
}
