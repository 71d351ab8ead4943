#version 450
#extension GL_GOOGLE_include_directive : require
// nn-xent-grad: cross_entropy_grad. dy a scalar, logits [P, C], targets i32 [P], mask [P]
// (optional) -> dx [P, C] = (softmax(l_p) - onehot(t_p)) * w_p / sum w * dy; rows of weight 0
// are 0, and everything is 0 when sum w = 0 (w as in nn-xent).
//
// Every workgroup first sums all P weights with the same fixed tree (so all agree on the total,
// bit for bit), then takes rows ROWS at a time (grid-stride), each row's max and sum(exp) by a
// tree inside a team of TEAM invocations. A target outside [0, C) that is not ignored is bad data
// a GPU kernel cannot report: dx is NaN everywhere then.
layout(local_size_x = 256) in;

layout(constant_id = 0) const int HAS_MASK = 0;
layout(constant_id = 1) const int TEAM_SC = 32;   // invocations per row: a power of two <= 256

layout(std430, set = 0, binding = 0) readonly buffer D_ { float dy[]; };
layout(std430, set = 0, binding = 1) readonly buffer L_ { float logits[]; };
layout(std430, set = 0, binding = 2) readonly buffer T_ { int targets[]; };
layout(std430, set = 0, binding = 3) readonly buffer M_ { float mask[]; };   // logits without a mask
layout(std430, set = 0, binding = 4) writeonly buffer X_ { float dx[]; };

layout(push_constant) uniform P {
    uint P, C;
    int ignore_index;
    uint has_ignore;   // 0: ignore_index does not fit in i32, so no target can equal it
} p;

const uint TEAM = uint(TEAM_SC);
const uint ROWS = 256u / TEAM;

shared float nn_s[256];
#include "nn-common.glsl"

// the weight of row `row` (< P) and its target; bad: the target is out of range
float weight(uint row, out int t, inout bool bad) {
    t = targets[row];
    if (p.has_ignore != 0u && t == p.ignore_index) return 0.0;
    if (t < 0 || uint(t) >= p.C) {
        bad = true;
        return 0.0;
    }
    return HAS_MASK != 0 ? mask[row] : 1.0;
}

void main() {
    uint lid = gl_LocalInvocationID.x, team = lid / TEAM, lane = lid % TEAM;
    float ninf = uintBitsToFloat(0xff800000u), qnan = uintBitsToFloat(0x7fc00000u);

    bool bad = false;
    float wpart = 0.0;
    int t;
    for (uint q = lid; q < p.P; q += 256u) wpart += weight(q, t, bad);
    float total = nn_tree_sum(wpart, lid, 256u);
    bool any_bad = nn_tree_max(bad ? 1.0 : 0.0, lid, 256u) != 0.0;
    float g = dy[0];

    for (uint r0 = gl_WorkGroupID.x * ROWS; r0 < p.P; r0 += gl_NumWorkGroups.x * ROWS) {
        uint row = r0 + team;
        float w = 0.0;
        t = 0;
        if (row < p.P) w = weight(row, t, bad);
        bool live = w != 0.0 && total != 0.0;
        uint base = row * p.C;
        float m = ninf;
        if (live)
            for (uint c = lane; c < p.C; c += TEAM) m = max(m, logits[base + c]);
        float mx = nn_tree_max(m, lid, TEAM);
        float e = 0.0;
        if (live)
            for (uint c = lane; c < p.C; c += TEAM) e += exp(logits[base + c] - mx);
        float log_sum = log(nn_tree_sum(e, lid, TEAM));
        if (row < p.P) {
            float scale = w / total * g;
            for (uint c = lane; c < p.C; c += TEAM) {
                float v = 0.0;
                if (any_bad) {
                    v = qnan;
                } else if (live) {
                    float prob = exp(logits[base + c] - mx - log_sum);
                    v = (prob - (c == uint(t) ? 1.0 : 0.0)) * scale;
                }
                dx[base + c] = v;
            }
        }
    }
}
