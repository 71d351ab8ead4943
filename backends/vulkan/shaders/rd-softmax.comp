#version 450
// rd-softmax: softmax or log_softmax along one axis of x viewed as [outer, len, inner].
//
// A line is one (outer, inner) pair: len elements at stride inner. A workgroup of 256 handles OX
// consecutive lines with RY = 256 / OX invocations each (OX > 1 when inner > 1, so neighbouring
// invocations read neighbouring elements). Two fixed-shape tree reductions in shared memory give
// the line's max and then sum(exp(x - max)); subtracting the max keeps exp from overflowing and
// leaves the result unchanged. The order of every sum depends only on the shapes.
layout(local_size_x = 256) in;

layout(constant_id = 0) const int LOG = 0;  // 0 softmax, 1 log_softmax
layout(constant_id = 1) const int OX = 1;   // lines per workgroup: a power of two <= 256

layout(std430, set = 0, binding = 0) readonly buffer X_ { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Y_ { float y[]; };

layout(push_constant) uniform P {
    uint lines, len, inner;
} p;

const uint RY = 256u / uint(OX);

shared float s[256];

void main() {
    uint lid = gl_LocalInvocationID.x;
    uint lx = lid % uint(OX), ly = lid / uint(OX);
    float ninf = uintBitsToFloat(0xff800000u);
    for (uint g = gl_WorkGroupID.x; g * uint(OX) < p.lines; g += gl_NumWorkGroups.x) {
        uint line = g * uint(OX) + lx;
        bool live = line < p.lines;
        uint base = 0u;
        if (live) base = (line / p.inner) * p.len * p.inner + line % p.inner;

        float m = ninf;
        if (live)
            for (uint j = ly; j < p.len; j += RY) m = max(m, x[base + j * p.inner]);
        s[lid] = m;
        barrier();
        for (uint st = RY / 2u; st > 0u; st >>= 1) {
            if (ly < st) s[lid] = max(s[lid], s[lid + st * uint(OX)]);
            barrier();
        }
        float mx = s[lx];
        barrier();

        float e = 0.0;
        if (live)
            for (uint j = ly; j < p.len; j += RY) e += exp(x[base + j * p.inner] - mx);
        s[lid] = e;
        barrier();
        for (uint st = RY / 2u; st > 0u; st >>= 1) {
            if (ly < st) s[lid] += s[lid + st * uint(OX)];
            barrier();
        }
        float sum = s[lx];
        barrier();   // s is rewritten by the next round

        if (live) {
            float log_sum = log(sum);
            for (uint j = ly; j < p.len; j += RY) {
                float z = x[base + j * p.inner] - mx;
                y[base + j * p.inner] = LOG == 1 ? z - log_sum : exp(z) / sum;
            }
        }
    }
}
