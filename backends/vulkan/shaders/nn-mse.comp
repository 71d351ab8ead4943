#version 450
#extension GL_GOOGLE_include_directive : require
// nn-mse: y = mean((pred - target)^2) over N elements (0 when N = 0), a scalar.
// One workgroup: invocation i sums elements i, i + 256, ... serially, then a fixed 256-wide tree.
layout(local_size_x = 256) in;

layout(std430, set = 0, binding = 0) readonly buffer A_ { float pred[]; };
layout(std430, set = 0, binding = 1) readonly buffer B_ { float target[]; };
layout(std430, set = 0, binding = 2) writeonly buffer Y_ { float y[]; };

layout(push_constant) uniform P {
    uint N;
} p;

shared float nn_s[256];
#include "nn-common.glsl"

void main() {
    uint lid = gl_LocalInvocationID.x;
    float acc = 0.0;
    for (uint i = lid; i < p.N; i += 256u) {
        float d = pred[i] - target[i];
        acc = fma(d, d, acc);
    }
    float sum = nn_tree_sum(acc, lid, 256u);
    if (lid == 0u) y[0] = p.N > 0u ? sum / float(p.N) : 0.0;
}
