#version 450
// nn-embedding: table [V, E], idx i32 [P] -> y [P, E], y[q, :] = table[idx[q], :].
// An index outside [0, V) is bad data a GPU kernel cannot report: its row of y is NaN.
layout(local_size_x = 256) in;

layout(std430, set = 0, binding = 0) readonly buffer T_ { float table[]; };
layout(std430, set = 0, binding = 1) readonly buffer I_ { int idx[]; };
layout(std430, set = 0, binding = 2) writeonly buffer Y_ { float y[]; };

layout(push_constant) uniform P {
    uint n, E, V;   // n = P * E
} p;

void main() {
    for (uint i = gl_GlobalInvocationID.x; i < p.n; i += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
        uint q = i / p.E, e = i % p.E;
        int row = idx[q];
        y[i] = row >= 0 && uint(row) < p.V ? table[uint(row) * p.E + e]
                                           : uintBitsToFloat(0x7fc00000u);
    }
}
