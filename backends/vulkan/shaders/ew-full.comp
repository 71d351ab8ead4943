#version 450
/*
 * ew-full.comp: y[i] = value for every element. The value arrives as its 32-bit pattern (the
 * kernel converts it to f32 or i32 on the host), so one shader fills either dtype.
 */
layout(local_size_x = 256) in;

layout(std430, set = 0, binding = 0) writeonly buffer Y { uint y[]; };

layout(push_constant) uniform P { uint n; uint bits; } p;

void main() {
    for (uint i = gl_GlobalInvocationID.x; i < p.n; i += gl_NumWorkGroups.x * gl_WorkGroupSize.x)
        y[i] = p.bits;
}
