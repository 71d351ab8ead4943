#version 450
// sumsq: y = sum of x[i]^2 over every element, in one workgroup: each invocation sums a strided
// share in order, then a fixed shared-memory tree adds the 256 partial sums, so the result is
// the same bits on every run (no atomics).
layout(local_size_x = 256) in;
layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P { uint n; } p;
shared float part[256];
void main() {
    uint t = gl_LocalInvocationID.x;
    float s = 0.0;
    for (uint i = t; i < p.n; i += 256u) s += x[i] * x[i];
    part[t] = s;
    barrier();
    for (uint w = 128u; w > 0u; w >>= 1) {
        if (t < w) part[t] += part[t + w];
        barrier();
    }
    if (t == 0u) y[0] = part[0];
}
