#version 450
// rnn-lstm-bwd: the element-wise half of lstm_cell_backward and lstm_step_backward, one
// invocation per (b, j). The activated gates (i f g o) and t = tanh(c') come from
//   FROM_PRE = 1 (cell): the pre-activations [B, 4H] the kernel recomputed (c' recomputed too);
//   FROM_PRE = 0 (step): act [B, 4H] and c' saved by lstm_step.
// Then dct = dc' + dh' o (1 - t^2), dc = dct f and, with d = (dct g, dct c, dct i, dh' t)
// (+ dact when HAS_ACT), dg = (d_i i (1 - i), d_f f (1 - f), d_g (1 - g^2), d_o o (1 - o)).
#extension GL_GOOGLE_include_directive : require
#include "rnn-common.glsl"

layout(local_size_x = 256) in;

layout(constant_id = 0) const int FROM_PRE = 0;
layout(constant_id = 1) const int HAS_DACT = 0;

layout(std430, set = 0, binding = 0) readonly buffer DHN { float dhn[]; };
layout(std430, set = 0, binding = 1) readonly buffer DCN { float dcn[]; };
layout(std430, set = 0, binding = 2) readonly buffer Gates { float gates[]; };  // pre or act
layout(std430, set = 0, binding = 3) readonly buffer C { float c[]; };
layout(std430, set = 0, binding = 4) readonly buffer CN { float cn[]; };         // step only
layout(std430, set = 0, binding = 5) readonly buffer DAct { float dact[]; };     // HAS_DACT
layout(std430, set = 0, binding = 6) writeonly buffer DG { float dg[]; };
layout(std430, set = 0, binding = 7) writeonly buffer DC { float dc[]; };

layout(push_constant) uniform P { uint B, H; } p;

void main() {
    uint n = p.B * p.H;
    for (uint k = gl_GlobalInvocationID.x; k < n; k += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
        uint b = k / p.H, j = k % p.H, o = b * 4u * p.H + j;
        float ig = gates[o], fg = gates[o + p.H], gg = gates[o + 2u * p.H];
        float og = gates[o + 3u * p.H];
        float cv = c[k], t;
        if (FROM_PRE != 0) {
            ig = rnn_sigmoid(ig);
            fg = rnn_sigmoid(fg);
            gg = rnn_tanh(gg);
            og = rnn_sigmoid(og);
            t = rnn_tanh(fg * cv + ig * gg);
        } else {
            t = rnn_tanh(cn[k]);
        }
        float gh = dhn[k];
        float dct = dcn[k] + gh * og * (1.0 - t * t);
        float d0 = dct * gg, d1 = dct * cv, d2 = dct * ig, d3 = gh * t;
        if (HAS_DACT != 0) {
            d0 += dact[o];
            d1 += dact[o + p.H];
            d2 += dact[o + 2u * p.H];
            d3 += dact[o + 3u * p.H];
        }
        dc[k] = dct * fg;
        dg[o] = d0 * ig * (1.0 - ig);
        dg[o + p.H] = d1 * fg * (1.0 - fg);
        dg[o + 2u * p.H] = d2 * (1.0 - gg * gg);
        dg[o + 3u * p.H] = d3 * og * (1.0 - og);
    }
}
