#version 450
/*
 * ew-binary.comp: y = a OP b with NumPy broadcasting (add sub mul div gt eq), f32.
 * OP (spec 0) picks the operation; BCAST (spec 1) is 0 when a, b and y have one shape, so the
 * common same-shape case indexes directly instead of decoding coordinates.
 */
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 256) in;

layout(constant_id = 0) const int OP = 0;      /* 0 add, 1 sub, 2 mul, 3 div, 4 gt, 5 eq */
layout(constant_id = 1) const int BCAST = 1;

layout(std430, set = 0, binding = 0) readonly buffer A { float a[]; };
layout(std430, set = 0, binding = 1) readonly buffer B { float b[]; };
layout(std430, set = 0, binding = 2) writeonly buffer Y { float y[]; };

layout(push_constant) uniform P {
    uint n;          /* elements of y */
    uint ndim;       /* coalesced rank of y */
    uint mask_a;     /* bit d: a is broadcast along dim d */
    uint mask_b;
    uint dims[8];
} p;

#include "ew-bcast.glsl"

float op(float x, float z) {
    if (OP == 0) return x + z;
    if (OP == 1) return x - z;
    if (OP == 2) return x * z;
    if (OP == 3) return x / z;
    if (OP == 4) return x > z ? 1.0 : 0.0;
    return x == z ? 1.0 : 0.0;
}

void main() {
    for (uint i = gl_GlobalInvocationID.x; i < p.n; i += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
        if (BCAST == 0) {
            y[i] = op(a[i], b[i]);
        } else {
            uvec3 k = ew_bcast_index(i, uvec3(p.mask_a, p.mask_b, 0u));
            y[i] = op(a[k.x], b[k.y]);
        }
    }
}
