/*
 * kernels-optim.c: cpu-sleef kernels of sumsq and optim_step (gexec/optim-step.h). The trainer
 * updates on the host on this backend, so these serve graphs that name the ops and the
 * cross-backend test; per element in double through the SDK's reference formula, one thread
 * (the sum is a single ordered pass, so the result does not depend on the thread count).
 */
#include <gexec/optim-step.h>

#include "cpu-sleef.h"

static gx_status sumsq_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const float *x = csl_f32(&a->inputs[0]);
    double s = 0;
    for (int64_t i = 0, n = csl_numel(&a->inputs[0]); i < n; i++) s += (double)x[i] * x[i];
    csl_f32(&a->outputs[0])[0] = (float)s;
    return GX_OK;
}

static gx_status optim_step_run(const gx_kernel_args *a) {
    if (a->ith != 0) return GX_OK;
    const float *p = csl_f32(&a->inputs[0]), *g = csl_f32(&a->inputs[1]),
                *s1 = csl_f32(&a->inputs[2]), *s2 = csl_f32(&a->inputs[3]),
                *hy = csl_f32(&a->inputs[4]);
    float *po = csl_f32(&a->outputs[0]), *s1o = csl_f32(&a->outputs[1]), *s2o = csl_f32(&a->outputs[2]);
    double h[GX_OPTIM_HYPER_N], scale;
    for (int k = 0; k < GX_OPTIM_HYPER_N; k++) h[k] = hy[k];
    int kind = (int)a->attrs[0].i, nesterov = (int)a->attrs[1].i;
    int live = gx_optim_clip_scale(h, csl_f32(&a->inputs[5])[0], &scale);
    double cv = h[GX_OPTIM_HYPER_CLIP_VALUE];
    for (int64_t i = 0, n = csl_numel(&a->inputs[0]); i < n; i++) {
        double w = p[i], m = s1[i], v = s2[i];
        if (live) {
            double gi = g[i] * scale;
            if (cv > 0) gi = gi > cv ? cv : gi < -cv ? -cv : gi;
            gx_optim_step_elem(kind, nesterov, h, gi, &w, &m, &v);
        }
        po[i] = (float)w;
        s1o[i] = (float)m;
        s2o[i] = (float)v;
    }
    return GX_OK;
}

static const gx_kernel_desc csl_optim_kernels[] = {
    CSL_F32("sumsq", sumsq_run),
    CSL_F32("optim_step", optim_step_run),
};

gx_status csl_register_optim(const gx_host_api *api, gx_host *host) {
    return gx_register_kernels(api, host, csl_optim_kernels, GX_COUNT(csl_optim_kernels));
}
