#version 450
/*
 * ew-where.comp: y = cond != 0 ? a : b with NumPy broadcasting over all three.
 * Everything is moved as raw 32-bit words: a and b are copied bit for bit, and cond (i32 or f32)
 * is tested through cond_bits: ~0 for an i32 cond (any set bit is non-zero), 0x7fffffff for an
 * f32 cond (so -0.0 is false and NaN is true, as `c != 0.0` is in C).
 */
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 256) in;

layout(constant_id = 0) const int BCAST = 1;   /* 0: cond, a, b and y have one shape */

layout(std430, set = 0, binding = 0) readonly buffer C { uint c[]; };
layout(std430, set = 0, binding = 1) readonly buffer A { uint a[]; };
layout(std430, set = 0, binding = 2) readonly buffer B { uint b[]; };
layout(std430, set = 0, binding = 3) writeonly buffer Y { uint y[]; };

layout(push_constant) uniform P {
    uint n;
    uint ndim;
    uint mask_c;
    uint mask_a;
    uint mask_b;
    uint cond_bits;
    uint dims[8];
} p;

#include "ew-bcast.glsl"

void main() {
    for (uint i = gl_GlobalInvocationID.x; i < p.n; i += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
        uint ic = i, ia = i, ib = i;
        if (BCAST != 0) {
            uvec3 k = ew_bcast_index(i, uvec3(p.mask_c, p.mask_a, p.mask_b));
            ic = k.x; ia = k.y; ib = k.z;
        }
        y[i] = (c[ic] & p.cond_bits) != 0u ? a[ia] : b[ib];
    }
}
