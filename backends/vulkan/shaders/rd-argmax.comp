#version 450
// rd-argmax: the first index of the largest value along one axis of x viewed as
// [outer, len, inner]; a NaN counts as the largest (so the first NaN wins). y is i32.
//
// Same layout as rd-softmax: OX lines per workgroup, RY = 256 / OX invocations per line, each
// scanning indices ly, ly + RY, ... in increasing order, then a fixed tree over the partials
// that prefers NaN, then the larger value, then the smaller index: the same answer as a scan.
layout(local_size_x = 256) in;

layout(constant_id = 0) const int OX = 1;   // lines per workgroup: a power of two <= 256

layout(std430, set = 0, binding = 0) readonly buffer X_ { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Y_ { int y[]; };

layout(push_constant) uniform P {
    uint lines, len, inner;
} p;

const uint RY = 256u / uint(OX);

shared float sv[256];
shared uint si[256];

// does candidate (v, i) beat the current best (bv, bi)?
bool beats(float v, uint i, float bv, uint bi) {
    bool vn = isnan(v), bn = isnan(bv);
    if (vn != bn) return vn;
    if (!vn && v != bv) return v > bv;
    return i < bi;   // equal values, or both NaN: the first index
}

void main() {
    uint lid = gl_LocalInvocationID.x;
    uint lx = lid % uint(OX), ly = lid / uint(OX);
    for (uint g = gl_WorkGroupID.x; g * uint(OX) < p.lines; g += gl_NumWorkGroups.x) {
        uint line = g * uint(OX) + lx;
        // an invocation with no element holds (-inf, no index): it never beats a real element
        float bv = uintBitsToFloat(0xff800000u);
        uint bi = 0xffffffffu;
        if (line < p.lines) {
            uint base = (line / p.inner) * p.len * p.inner + line % p.inner;
            for (uint j = ly; j < p.len; j += RY) {
                float v = x[base + j * p.inner];
                if (beats(v, j, bv, bi)) {
                    bv = v;
                    bi = j;
                }
            }
        }
        sv[lid] = bv;
        si[lid] = bi;
        barrier();
        for (uint st = RY / 2u; st > 0u; st >>= 1) {
            if (ly < st) {
                uint o = lid + st * uint(OX);
                if (beats(sv[o], si[o], sv[lid], si[lid])) {
                    sv[lid] = sv[o];
                    si[lid] = si[o];
                }
            }
            barrier();
        }
        if (ly == 0u && line < p.lines) y[line] = int(si[lx]);
        barrier();   // sv, si are rewritten by the next round
    }
}
