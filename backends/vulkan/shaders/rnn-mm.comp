#version 450
// rnn-mm: the products of the recurrent cells, with their epilogue fused:
//   C[M, N] = act(A B + bias + D)
// A is [M, K] or stored [K, M] (TA), B is [K, N] or stored [N, K] (TB); bias [N] and D [M, N]
// are optional (BIAS, ADD); act is none, tanh or relu (ACT). With these one shader gives
// gi = x W_ih^T + b_ih, the gates h W_hh^T + b_hh + gi (W_hh, or W_hhT for the steps),
// dx = dg W_ih, dh = dg W_hh + dh_direct and dW = dg^T x. D may be C itself (same range): each
// element is read and then written by the same invocation.
//
// One 16x16 workgroup per 16x16 tile of C, one output per invocation; K is walked in steps of
// 16 through shared memory. Every output's sum runs over k in increasing order in one
// accumulator, so results do not depend on scheduling.
#extension GL_GOOGLE_include_directive : require
#include "rnn-common.glsl"

layout(local_size_x = 16, local_size_y = 16, local_size_z = 1) in;

layout(constant_id = 0) const int TA = 0;    // 1: A is stored [K, M]
layout(constant_id = 1) const int TB = 0;    // 1: B is stored [N, K]
layout(constant_id = 2) const int BIAS = 0;  // 1: add bias[n]
layout(constant_id = 3) const int ADD = 0;   // 1: add D[m, n]
layout(constant_id = 4) const int ACT = 0;   // 0 none, 1 tanh, 2 relu

layout(std430, set = 0, binding = 0) readonly buffer A_ { float a[]; };
layout(std430, set = 0, binding = 1) readonly buffer B_ { float b[]; };
layout(std430, set = 0, binding = 2) readonly buffer Bias_ { float bias[]; };
layout(std430, set = 0, binding = 3) readonly buffer D_ { float d[]; };
layout(std430, set = 0, binding = 4) buffer C_ { float c[]; };

layout(push_constant) uniform P { uint M, N, K; } p;

// As[m][k], Bs[k][n]; +1 column of padding for the transposed fills
shared float As[16][17];
shared float Bs[16][17];

void main() {
    uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y;
    uint tilesM = (p.M + 15u) / 16u, tilesN = (p.N + 15u) / 16u;
    // the loops depend only on workgroup ids, so every barrier is in uniform control flow
    for (uint tm = gl_WorkGroupID.y; tm < tilesM; tm += gl_NumWorkGroups.y) {
        for (uint tn = gl_WorkGroupID.x; tn < tilesN; tn += gl_NumWorkGroups.x) {
            uint m0 = tm * 16u, n0 = tn * 16u;
            float acc = 0.0;
            for (uint k0 = 0u; k0 < p.K; k0 += 16u) {
                // neighbouring invocations (tx) read neighbouring addresses of each operand;
                // outside the matrices the tiles hold 0, which adds nothing
                if (TA == 0) {
                    uint gm = m0 + ty, gk = k0 + tx;
                    As[ty][tx] = (gm < p.M && gk < p.K) ? a[gm * p.K + gk] : 0.0;
                } else {
                    uint gm = m0 + tx, gk = k0 + ty;
                    As[tx][ty] = (gm < p.M && gk < p.K) ? a[gk * p.M + gm] : 0.0;
                }
                if (TB == 0) {
                    uint gk = k0 + ty, gn = n0 + tx;
                    Bs[ty][tx] = (gk < p.K && gn < p.N) ? b[gk * p.N + gn] : 0.0;
                } else {
                    uint gn = n0 + ty, gk = k0 + tx;
                    Bs[tx][ty] = (gk < p.K && gn < p.N) ? b[gn * p.K + gk] : 0.0;
                }
                barrier();
                for (uint kk = 0u; kk < 16u; kk++) acc += As[ty][kk] * Bs[kk][tx];
                barrier();
            }
            uint m = m0 + ty, n = n0 + tx;
            if (m < p.M && n < p.N) {
                uint i = m * p.N + n;
                if (BIAS != 0) acc += bias[n];
                if (ADD != 0) acc += d[i];
                if (ACT == 1) acc = rnn_tanh(acc);
                if (ACT == 2) acc = acc > 0.0 ? acc : 0.0;
                c[i] = acc;
            }
        }
    }
}
