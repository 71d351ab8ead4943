#version 450
// rnn-rnn-bwd: the gate gradient of the plain rnn, dg = dy act'(pre), element by element.
//   rnn_cell_backward (FROM_PRE = 1): src is the pre-activation, recomputed by the kernel;
//   rnn_step_backward (FROM_PRE = 0): src is the step's output h' = act(pre).
// tanh: 1 - y^2 with y = tanh(pre); relu: 1 where y > 0 (pre > 0), else 0.
#extension GL_GOOGLE_include_directive : require
#include "rnn-common.glsl"

layout(local_size_x = 256) in;

layout(constant_id = 0) const int RELU = 0;
layout(constant_id = 1) const int FROM_PRE = 0;

layout(std430, set = 0, binding = 0) readonly buffer DY { float dy[]; };
layout(std430, set = 0, binding = 1) readonly buffer S { float src[]; };
layout(std430, set = 0, binding = 2) writeonly buffer DG { float dg[]; };

layout(push_constant) uniform P { uint n; } p;

void main() {
    for (uint i = gl_GlobalInvocationID.x; i < p.n; i += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
        float g = dy[i], y = src[i];
        if (FROM_PRE != 0) y = RELU != 0 ? (y > 0.0 ? y : 0.0) : rnn_tanh(y);
        dg[i] = RELU != 0 ? (y > 0.0 ? g : 0.0) : g * (1.0 - y * y);
    }
}
