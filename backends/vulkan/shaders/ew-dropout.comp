#version 450
/*
 * ew-dropout.comp: y = u >= prob ? x * scale : 0 with u = gx_random_u01(seed, step, key, i), the
 * counter-based draw of plugins/include/gexec/plugin.h ported word for word (32-bit wrapping
 * multiplies, the same constants), so the mask matches every other backend's bit for bit.
 * (seed, step) is the engine's i32[2] random key, read here because it lives on the device.
 */
layout(local_size_x = 256) in;

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) readonly buffer R { uint rng[]; };
layout(std430, set = 0, binding = 2) writeonly buffer Y { float y[]; };

layout(push_constant) uniform P {
    uint n;
    uint key;
    float prob;     /* the drop probability, rounded to f32 as cpu-scalar compares it */
    float scale;    /* 1 / (1 - p) */
} p;

uint mix32(uint v) {
    v ^= v >> 16;
    v *= 0x7feb352du;
    v ^= v >> 15;
    v *= 0x846ca68bu;
    v ^= v >> 16;
    return v;
}

void main() {
    /* everything before the index is the same for all elements */
    uint h0 = mix32(mix32(mix32(rng[0] ^ 0x9e3779b9u) ^ rng[1]) ^ p.key);
    for (uint i = gl_GlobalInvocationID.x; i < p.n; i += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
        /* (h >> 8) < 2^24 converts exactly, and the scale by 2^-24 is exact */
        float u = float(mix32(h0 ^ i) >> 8) * (1.0 / 16777216.0);
        y[i] = u >= p.prob ? x[i] * p.scale : 0.0;
    }
}
