#version 450
// rd-reduce: sum, mean, max of x over a set of axes.
//
// The C side merges x's dims into alternating groups of kept dims (they index y) and reduced dims
// (summed over), each with its element stride. A workgroup of 256 handles OX consecutive outputs
// with RY = 256 / OX invocations each: invocation (lx, ly) folds reduced elements ly, ly + RY, ...
// of output lx serially, then the RY partials meet in a fixed binary tree in shared memory. OX > 1
// when the innermost dim is kept, so that neighbouring invocations read neighbouring elements.
// The order of every sum is fixed by the shapes alone: the result is the same run to run.
layout(local_size_x = 256) in;

layout(constant_id = 0) const int OP = 0;   // 0 sum, 1 mean, 2 max
layout(constant_id = 1) const int OX = 1;   // outputs per workgroup: a power of two <= 256

layout(std430, set = 0, binding = 0) readonly buffer X_ { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Y_ { float y[]; };

layout(push_constant) uniform P {
    uint nout, count, nk, nr;   // outputs, elements per output, kept / reduced groups
    uint kdim[4];
    uint kstr[4];
    uint rdim[4];
    uint rstr[4];
} p;

const uint RY = 256u / uint(OX);

shared float s[256];

float combine(float acc, float v) {
    if (OP == 2) return (v > acc || isnan(v)) ? v : acc;   // once NaN, stays NaN (torch.amax)
    return acc + v;
}

void main() {
    uint lid = gl_LocalInvocationID.x;
    uint lx = lid % uint(OX), ly = lid / uint(OX);
    float ident = OP == 2 ? uintBitsToFloat(0xff800000u) : 0.0;   // -inf for max
    for (uint g = gl_WorkGroupID.x; g * uint(OX) < p.nout; g += gl_NumWorkGroups.x) {
        uint o = g * uint(OX) + lx;
        float acc = ident;
        if (o < p.nout) {
            uint base = 0u, rest = o;
            for (int k = int(p.nk) - 1; k >= 0; k--) {
                base += (rest % p.kdim[k]) * p.kstr[k];
                rest /= p.kdim[k];
            }
            for (uint i = ly; i < p.count; i += RY) {
                uint off = 0u;
                rest = i;
                for (int k = int(p.nr) - 1; k >= 0; k--) {
                    off += (rest % p.rdim[k]) * p.rstr[k];
                    rest /= p.rdim[k];
                }
                acc = combine(acc, x[base + off]);
            }
        }
        s[lid] = acc;
        barrier();
        for (uint st = RY / 2u; st > 0u; st >>= 1) {
            if (ly < st) s[lid] = combine(s[lid], s[lid + st * uint(OX)]);
            barrier();
        }
        if (ly == 0u && o < p.nout) {
            float v = s[lx];
            y[o] = OP == 1 ? v / float(p.count) : v;
        }
        barrier();   // s is rewritten by the next round
    }
}
