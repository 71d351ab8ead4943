#version 450
// nn-embedding-backward: dy [P, E], idx i32 [P] -> dtable [rows, E]: zeros, then dy[q, :] added
// into row idx[q] for q = 0, 1, ... in order, so repeated indices accumulate.
//
// No atomics: each invocation owns one element (r, e) of dtable and scans every index in
// position order, adding dy[q, e] where idx[q] == r, so the sum's order is fixed (and the same as
// cpu-scalar's). A workgroup holds RPW rows x EX columns; indices come through shared memory 256
// at a time. Out-of-range indices match no row (cpu-scalar reports them; a GPU kernel cannot).
layout(local_size_x = 256) in;

layout(constant_id = 0) const int EX_SC = 256;   // columns per workgroup: a power of two <= 256

layout(std430, set = 0, binding = 0) readonly buffer D_ { float dy[]; };
layout(std430, set = 0, binding = 1) readonly buffer I_ { int idx[]; };
layout(std430, set = 0, binding = 2) writeonly buffer T_ { float dt[]; };

layout(push_constant) uniform P {
    uint P, E, rows;
} p;

const uint EX = uint(EX_SC);
const uint RPW = 256u / EX;

shared int sidx[256];

void main() {
    uint lid = gl_LocalInvocationID.x, lx = lid % EX, ly = lid / EX;
    uint row_blocks = (p.rows + RPW - 1u) / RPW;
    // every loop bound below is uniform in the workgroup, so the barriers are too
    for (uint rb = gl_WorkGroupID.x; rb < row_blocks; rb += gl_NumWorkGroups.x) {
        uint r = rb * RPW + ly;
        for (uint e0 = 0u; e0 < p.E; e0 += EX) {
            uint e = e0 + lx;
            bool mine = r < p.rows && e < p.E;
            float acc = 0.0;
            for (uint q0 = 0u; q0 < p.P; q0 += 256u) {
                sidx[lid] = q0 + lid < p.P ? idx[q0 + lid] : -1;
                barrier();
                uint n = min(256u, p.P - q0);
                if (mine)
                    for (uint j = 0u; j < n; j++)
                        if (sidx[j] == int(r)) acc += dy[(q0 + j) * p.E + e];
                barrier();   // sidx is rewritten by the next chunk
            }
            if (mine) dt[r * p.E + e] = acc;
        }
    }
}
