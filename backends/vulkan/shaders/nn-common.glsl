// nn-common.glsl: fixed-shape tree reductions in shared memory for the nn-* shaders.
//
// The including shader declares `shared float nn_s[256];` and runs 256 invocations. A "team" is
// `width` consecutive invocations (a power of two dividing 256); every invocation passes its
// partial and gets the team's total back. The tree's shape depends only on `width`, so results
// are the same run to run. Call these from uniform control flow only (they contain barriers).

float nn_tree_sum(float v, uint lid, uint width) {
    uint lane = lid % width;
    nn_s[lid] = v;
    barrier();
    for (uint st = width / 2u; st > 0u; st >>= 1) {
        if (lane < st) nn_s[lid] += nn_s[lid + st];
        barrier();
    }
    float r = nn_s[lid - lane];
    barrier();   // nn_s is rewritten by the next call
    return r;
}

float nn_tree_max(float v, uint lid, uint width) {
    uint lane = lid % width;
    nn_s[lid] = v;
    barrier();
    for (uint st = width / 2u; st > 0u; st >>= 1) {
        if (lane < st) nn_s[lid] = max(nn_s[lid], nn_s[lid + st]);
        barrier();
    }
    float r = nn_s[lid - lane];
    barrier();
    return r;
}
