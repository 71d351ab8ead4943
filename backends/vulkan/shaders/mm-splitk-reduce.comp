#version 450
// mm-splitk-reduce: the second pass of a split-K product (mm-gemm.comp with splits > 1):
//   c[i] = ws[i] + ws[total + i] + ... + ws[(splits - 1) total + i]
// the partial products added in split order, one invocation per output, so the result is the
// same on every run (no atomics).
layout(local_size_x = 256) in;

layout(std430, set = 0, binding = 0) readonly buffer W_ { float ws[]; };
layout(std430, set = 0, binding = 1) writeonly buffer C_ { float c[]; };

layout(push_constant) uniform P { uint total, splits; } p;

void main() {
    for (uint i = gl_GlobalInvocationID.x; i < p.total; i += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
        float acc = ws[i];
        for (uint s = 1u; s < p.splits; s++) acc += ws[s * p.total + i];
        c[i] = acc;
    }
}
