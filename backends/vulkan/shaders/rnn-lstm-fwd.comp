#version 450
// rnn-lstm-fwd: the element-wise half of lstm_cell and lstm_step, one invocation per (b, j):
// from the gate pre-activations pre [B, 4H] (blocks i f g o, the products already summed)
//   i, f, o = sigmoid, g = tanh;  c' = f c + i g;  h' = o tanh(c')
// and, for lstm_step (HAS_ACT = 1), act [B, 4H] = the activated gates.
#extension GL_GOOGLE_include_directive : require
#include "rnn-common.glsl"

layout(local_size_x = 256) in;

layout(constant_id = 0) const int HAS_ACT = 0;

layout(std430, set = 0, binding = 0) readonly buffer Pre { float pre[]; };
layout(std430, set = 0, binding = 1) readonly buffer C { float c[]; };
layout(std430, set = 0, binding = 2) writeonly buffer HN { float hn[]; };
layout(std430, set = 0, binding = 3) writeonly buffer CN { float cn[]; };
layout(std430, set = 0, binding = 4) writeonly buffer Act { float act[]; };

layout(push_constant) uniform P { uint B, H; } p;

void main() {
    uint n = p.B * p.H;
    for (uint k = gl_GlobalInvocationID.x; k < n; k += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
        uint b = k / p.H, j = k % p.H, o = b * 4u * p.H + j;
        float ig = rnn_sigmoid(pre[o]);
        float fg = rnn_sigmoid(pre[o + p.H]);
        float gg = rnn_tanh(pre[o + 2u * p.H]);
        float og = rnn_sigmoid(pre[o + 3u * p.H]);
        float cv = fg * c[k] + ig * gg;
        cn[k] = cv;
        hn[k] = og * rnn_tanh(cv);
        if (HAS_ACT != 0) {
            act[o] = ig;
            act[o + p.H] = fg;
            act[o + 2u * p.H] = gg;
            act[o + 3u * p.H] = og;
        }
    }
}
