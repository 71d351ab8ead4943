#version 450
// rnn-gru-fwd: the element-wise half of gru_cell and gru_step, one invocation per (b, j).
// gi [B, 3H] = x W_ih^T + b_ih and gh [B, 3H] = h W_hh^T + b_hh (blocks r z n), kept apart
// because the n gate scales only the recurrent part:
//   r = sigmoid(gi_r + gh_r), z = sigmoid(gi_z + gh_z), n = tanh(gi_n + r gh_n),
//   h' = (1 - z) n + z h;  for gru_step (HAS_ACT = 1) act [B, 4H] = (r, z, n, gh_n).
#extension GL_GOOGLE_include_directive : require
#include "rnn-common.glsl"

layout(local_size_x = 256) in;

layout(constant_id = 0) const int HAS_ACT = 0;

layout(std430, set = 0, binding = 0) readonly buffer GI { float gi[]; };
layout(std430, set = 0, binding = 1) readonly buffer GH { float gh[]; };
layout(std430, set = 0, binding = 2) readonly buffer Hp { float h[]; };
layout(std430, set = 0, binding = 3) writeonly buffer Y { float y[]; };
layout(std430, set = 0, binding = 4) writeonly buffer Act { float act[]; };

layout(push_constant) uniform P { uint B, H; } p;

void main() {
    uint n = p.B * p.H;
    for (uint k = gl_GlobalInvocationID.x; k < n; k += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
        uint b = k / p.H, j = k % p.H, o = b * 3u * p.H + j;
        float r = rnn_sigmoid(gi[o] + gh[o]);
        float z = rnn_sigmoid(gi[o + p.H] + gh[o + p.H]);
        float ghn = gh[o + 2u * p.H];
        float nv = rnn_tanh(gi[o + 2u * p.H] + r * ghn);
        y[k] = (1.0 - z) * nv + z * h[k];
        if (HAS_ACT != 0) {
            uint q = b * 4u * p.H + j;
            act[q] = r;
            act[q + p.H] = z;
            act[q + 2u * p.H] = nv;
            act[q + 3u * p.H] = ghn;
        }
    }
}
