#version 450
#extension GL_GOOGLE_include_directive : require
// nn-xent: cross_entropy. logits [P, C], targets i32 [P], mask [P] (optional), y a scalar:
// sum_p w_p (logsumexp(l_p) - l_p[t_p]) / sum_p w_p, or 0 when no position has weight;
// w_p = 0 where t_p == ignore_index, else the mask value (1 without a mask).
//
// One workgroup does it all: teams of TEAM invocations take rows ROWS at a time, each row's max
// and sum(exp(l - max)) by a fixed tree inside the team; the team's first invocation adds the
// row's weighted loss to its running partials, which meet in a 256-wide tree at the end. A target
// outside [0, C) that is not ignored is bad data that a GPU kernel cannot report: the loss is NaN.
layout(local_size_x = 256) in;

layout(constant_id = 0) const int HAS_MASK = 0;
layout(constant_id = 1) const int TEAM_SC = 32;   // invocations per row: a power of two <= 256

layout(std430, set = 0, binding = 0) readonly buffer L_ { float logits[]; };
layout(std430, set = 0, binding = 1) readonly buffer T_ { int targets[]; };
layout(std430, set = 0, binding = 2) readonly buffer M_ { float mask[]; };   // logits without a mask
layout(std430, set = 0, binding = 3) writeonly buffer Y_ { float y[]; };

layout(push_constant) uniform P {
    uint P, C;
    int ignore_index;
    uint has_ignore;   // 0: ignore_index does not fit in i32, so no target can equal it
} p;

const uint TEAM = uint(TEAM_SC);
const uint ROWS = 256u / TEAM;

shared float nn_s[256];
#include "nn-common.glsl"

void main() {
    uint lid = gl_LocalInvocationID.x, team = lid / TEAM, lane = lid % TEAM;
    float ninf = uintBitsToFloat(0xff800000u);
    float loss = 0.0, wsum = 0.0;
    bool bad = false;
    for (uint r0 = 0u; r0 < p.P; r0 += ROWS) {
        uint row = r0 + team;
        float w = 0.0;
        int t = 0;
        if (row < p.P) {
            t = targets[row];
            if (p.has_ignore != 0u && t == p.ignore_index) w = 0.0;
            else if (t < 0 || uint(t) >= p.C) bad = true;
            else w = HAS_MASK != 0 ? mask[row] : 1.0;
        }
        // a row of weight 0 is skipped: garbage logits under a zero weight stay out
        bool live = w != 0.0;
        uint base = row * p.C;
        float m = ninf;
        if (live)
            for (uint c = lane; c < p.C; c += TEAM) m = max(m, logits[base + c]);
        float mx = nn_tree_max(m, lid, TEAM);
        float e = 0.0;
        if (live)
            for (uint c = lane; c < p.C; c += TEAM) e += exp(logits[base + c] - mx);
        float sum = nn_tree_sum(e, lid, TEAM);
        if (live && lane == 0u) {
            loss += w * (mx + log(sum) - logits[base + uint(t)]);
            wsum += w;
        }
    }
    if (bad) loss = uintBitsToFloat(0x7fc00000u);   // NaN
    if (lane != 0u) loss = wsum = 0.0;
    float total_loss = nn_tree_sum(loss, lid, 256u);
    float total_w = nn_tree_sum(wsum, lid, 256u);
    // no weight at all gives 0, unless a bad target made the loss NaN
    if (lid == 0u)
        y[0] = total_w != 0.0 ? total_loss / total_w : (isnan(total_loss) ? total_loss : 0.0);
}
