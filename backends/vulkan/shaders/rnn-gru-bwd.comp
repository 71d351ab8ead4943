#version 450
// rnn-gru-bwd: the element-wise half of gru_cell_backward and gru_step_backward, one invocation
// per (b, j). r, z, n and gh_n come from
//   FROM_PRE = 1 (cell): gi and gh [B, 3H] the kernel recomputed (as rnn-gru-fwd does);
//   FROM_PRE = 0 (step): act [B, 4H] = (r, z, n, gh_n) saved by gru_step (+ dact, HAS_DACT).
// With dn = dh' (1 - z) + dact_n, dz = dh' (h - n) + dact_z, dpn = dn (1 - n^2),
// dpr = (dpn gh_n + dact_r) r (1 - r), dpz = dz z (1 - z):
//   dgi = (dpr, dpz, dpn), dgh = (dpr, dpz, dpn r + dact_ghn), dh_direct = dh' z.
#extension GL_GOOGLE_include_directive : require
#include "rnn-common.glsl"

layout(local_size_x = 256) in;

layout(constant_id = 0) const int FROM_PRE = 0;
layout(constant_id = 1) const int HAS_DACT = 0;

layout(std430, set = 0, binding = 0) readonly buffer DHN { float dhn[]; };
layout(std430, set = 0, binding = 1) readonly buffer G0 { float g0[]; };   // gi or act
layout(std430, set = 0, binding = 2) readonly buffer G1 { float g1[]; };   // gh (cell only)
layout(std430, set = 0, binding = 3) readonly buffer Hp { float h[]; };
layout(std430, set = 0, binding = 4) readonly buffer DAct { float dact[]; };
layout(std430, set = 0, binding = 5) writeonly buffer DGI { float dgi[]; };
layout(std430, set = 0, binding = 6) writeonly buffer DGH { float dgh[]; };
layout(std430, set = 0, binding = 7) writeonly buffer DHD { float dhd[]; };

layout(push_constant) uniform P { uint B, H; } p;

void main() {
    uint n = p.B * p.H;
    for (uint k = gl_GlobalInvocationID.x; k < n; k += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
        uint b = k / p.H, j = k % p.H, o = b * 3u * p.H + j, q = b * 4u * p.H + j;
        float r, z, nv, ghn;
        if (FROM_PRE != 0) {
            r = rnn_sigmoid(g0[o] + g1[o]);
            z = rnn_sigmoid(g0[o + p.H] + g1[o + p.H]);
            ghn = g1[o + 2u * p.H];
            nv = rnn_tanh(g0[o + 2u * p.H] + r * ghn);
        } else {
            r = g0[q];
            z = g0[q + p.H];
            nv = g0[q + 2u * p.H];
            ghn = g0[q + 3u * p.H];
        }
        float da_r = 0.0, da_z = 0.0, da_n = 0.0, da_ghn = 0.0;
        if (HAS_DACT != 0) {
            da_r = dact[q];
            da_z = dact[q + p.H];
            da_n = dact[q + 2u * p.H];
            da_ghn = dact[q + 3u * p.H];
        }
        float g = dhn[k];
        float dn = g * (1.0 - z) + da_n;
        float dz = g * (h[k] - nv) + da_z;
        float dpn = dn * (1.0 - nv * nv);
        float dpr = (dpn * ghn + da_r) * r * (1.0 - r);
        float dpz = dz * z * (1.0 - z);
        dgi[o] = dpr;
        dgh[o] = dpr;
        dgi[o + p.H] = dpz;
        dgh[o + p.H] = dpz;
        dgi[o + 2u * p.H] = dpn;
        dgh[o + 2u * p.H] = dpn * r + da_ghn;
        dhd[k] = g * z;
    }
}
