#version 450
// mm-gemm: tiled matrix product C[b] = A[b] B[b] for matmul (batched, broadcast batch dims) and
// matmul_tn (A stored transposed, the leading axes flattened into K).
//
// One 16x16 workgroup computes a 64x64 tile of C; each invocation keeps a 4x4 block of it in
// registers (rows ty + 16 i, columns tx + 16 j, so neighbouring invocations touch neighbouring
// columns and shared reads do not conflict). K is walked in steps of 16 through shared memory.
// Every output's sum runs over k in increasing order in one accumulator, so results do not
// depend on scheduling.
//
// Split-K (kernels-matmul.c decides from the shape alone): with p.splits > 1, K is cut into
// p.splits chunks of p.kchunk (a multiple of TK) and workgroup z walks (split, batch) pairs;
// each writes its chunk's partial product to C = the workspace laid out [splits][batches][M][N],
// and mm-splitk-reduce.comp then adds the partials in split order (no atomics: deterministic).
// With p.splits = 1 and p.kchunk = K this is the plain product, summed exactly as before.
layout(local_size_x = 16, local_size_y = 16, local_size_z = 1) in;

// 0: A is [M, K] (matmul); 1: A is stored [K, M] and read transposed (matmul_tn)
layout(constant_id = 0) const int TRANS_A = 0;

layout(std430, set = 0, binding = 0) readonly buffer A_ { float a[]; };
layout(std430, set = 0, binding = 1) readonly buffer B_ { float b[]; };
layout(std430, set = 0, binding = 2) writeonly buffer C_ { float c[]; };

// batch dims of C (ydim) and, per dim, how many matrices of A / B one step along it moves
// (0 where that operand is broadcast along the dim)
layout(push_constant) uniform P {
    uint M, N, K, batches, nbd;
    uint ydim[6];
    uint astr[6];
    uint bstr[6];
    uint splits, kchunk;
} p;

const uint TM = 64u, TN = 64u, TK = 16u;

// +1 column of padding: the A tile is written down columns (k fastest)
shared float As[TK][TM + 1u];
shared float Bs[TK][TN];

void main() {
    uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y;
    uint tid = ty * 16u + tx;
    uint tilesM = (p.M + TM - 1u) / TM, tilesN = (p.N + TN - 1u) / TN;

    // the loops below depend only on workgroup ids, so every barrier is in uniform control flow
    for (uint sz = gl_WorkGroupID.z; sz < p.batches * p.splits; sz += gl_NumWorkGroups.z) {
        uint bz = sz % p.batches, split = sz / p.batches;
        uint kbeg = split * p.kchunk, kend = min(p.K, kbeg + p.kchunk);
        uint ai = 0u, bi = 0u, rest = bz;
        for (int d = int(p.nbd) - 1; d >= 0; d--) {
            uint coord = rest % p.ydim[d];
            rest /= p.ydim[d];
            ai += coord * p.astr[d];
            bi += coord * p.bstr[d];
        }
        uint aoff = ai * p.M * p.K, boff = bi * p.K * p.N, coff = sz * p.M * p.N;

        for (uint tm = gl_WorkGroupID.y; tm < tilesM; tm += gl_NumWorkGroups.y) {
            for (uint tn = gl_WorkGroupID.x; tn < tilesN; tn += gl_NumWorkGroups.x) {
                uint m0 = tm * TM, n0 = tn * TN;
                float acc[4][4];
                for (uint i = 0u; i < 4u; i++)
                    for (uint j = 0u; j < 4u; j++) acc[i][j] = 0.0;

                for (uint k0 = kbeg; k0 < kend; k0 += TK) {
                    // 1024 elements of each tile, 4 per invocation, read along the operand's
                    // contiguous axis; outside the matrix (or this split's chunk of K) they
                    // are 0 (adds nothing)
                    for (uint e = 0u; e < 4u; e++) {
                        uint idx = tid + 256u * e;
                        uint mm, kk;
                        if (TRANS_A == 0) {
                            mm = idx / TK;
                            kk = idx % TK;
                        } else {
                            mm = idx % TM;
                            kk = idx / TM;
                        }
                        uint gm = m0 + mm, gk = k0 + kk;
                        float v = 0.0;
                        if (gm < p.M && gk < kend) {
                            if (TRANS_A == 0) v = a[aoff + gm * p.K + gk];
                            else v = a[aoff + gk * p.M + gm];
                        }
                        As[kk][mm] = v;

                        uint nn = idx % TN;
                        kk = idx / TN;
                        uint gn = n0 + nn;
                        gk = k0 + kk;
                        float w = 0.0;
                        if (gn < p.N && gk < kend) w = b[boff + gk * p.N + gn];
                        Bs[kk][nn] = w;
                    }
                    barrier();
                    for (uint kk = 0u; kk < TK; kk++) {
                        float av[4], bv[4];
                        for (uint i = 0u; i < 4u; i++) av[i] = As[kk][ty + 16u * i];
                        for (uint j = 0u; j < 4u; j++) bv[j] = Bs[kk][tx + 16u * j];
                        for (uint i = 0u; i < 4u; i++)
                            for (uint j = 0u; j < 4u; j++) acc[i][j] = fma(av[i], bv[j], acc[i][j]);
                    }
                    barrier();
                }

                for (uint i = 0u; i < 4u; i++) {
                    uint gm = m0 + ty + 16u * i;
                    if (gm >= p.M) continue;
                    for (uint j = 0u; j < 4u; j++) {
                        uint gn = n0 + tx + 16u * j;
                        if (gn < p.N) c[coff + gm * p.N + gn] = acc[i][j];
                    }
                }
            }
        }
    }
}
