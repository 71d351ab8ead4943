#version 450
/*
 * ew-sequence-mask.comp: mask[r, t] = t < lengths[r] ? 1 : 0 (f32), rows r over every element of
 * the i32 lengths, t over the trailing axis of length T.
 */
layout(local_size_x = 256) in;

layout(std430, set = 0, binding = 0) readonly buffer L { int len[]; };
layout(std430, set = 0, binding = 1) writeonly buffer M { float m[]; };

layout(push_constant) uniform P { uint n; uint T; } p;

void main() {
    for (uint i = gl_GlobalInvocationID.x; i < p.n; i += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
        int L = len[i / p.T];
        /* a negative length masks everything; compare unsigned only once L is known positive */
        m[i] = (L > 0 && (i % p.T) < uint(L)) ? 1.0 : 0.0;
    }
}
