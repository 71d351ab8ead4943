#version 450
/*
 * ew-cast.comp: y = x converted to f32 or i32, moved as 32-bit words.
 * MODE (spec 0): 0 copies the bits (same dtype), 1 is i32 -> f32 (rounded to nearest), 2 is
 * f32 -> i32 (truncated towards zero, as C's (int32_t) and GLSL's int() do), 3 is f64 -> f32 and
 * 4 is f64 -> i32. Kernels are chosen by the output dtype, so an f64 input can reach this shader
 * (an f64 value made by another backend's kernel, e.g. the gradient of a cast to f64); devices
 * need not have shaderFloat64, so f64 is decoded from its two words with integer arithmetic:
 * round to nearest even into f32 (subnormals, overflow to inf, NaN kept a NaN), truncation into
 * i32 (|x| >= 2^31, inf and NaN give INT_MIN, what x86's cvttsd2si gives cpu-scalar).
 */
layout(local_size_x = 256) in;

layout(constant_id = 0) const int MODE = 0;

layout(std430, set = 0, binding = 0) readonly buffer X { uint x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Y { uint y[]; };

layout(push_constant) uniform P { uint n; } p;

/* the 53-bit significand (hi: top 21 bits, lo: low 32) shifted right by s in [0, 63], rounded to
 * nearest even */
uint shift_round(uint hi, uint lo, uint s) {
    if (s >= 55u) return 0u;  /* below half of the last unit (the significand is < 2^53) */
    uint q = s == 0u ? lo : s < 32u ? (lo >> s) | (hi << (32u - s)) : hi >> (s - 32u);
    if (s == 0u) return q;
    uint k = s - 1u;                       /* the round bit */
    uint rbit = k < 32u ? (lo >> k) & 1u : (hi >> (k - 32u)) & 1u;
    bool sticky = k == 0u ? false
                : k < 32u ? (lo & ((1u << k) - 1u)) != 0u
                : lo != 0u || (hi & ((1u << (k - 32u)) - 1u)) != 0u;
    return q + ((rbit != 0u && (sticky || (q & 1u) != 0u)) ? 1u : 0u);
}

uint f64_to_f32(uint lo, uint hi) {
    uint sign = hi & 0x80000000u;
    uint e = (hi >> 20) & 0x7ffu;
    uint m = hi & 0xfffffu;
    if (e == 0x7ffu)  /* inf, or a NaN kept quiet with the top of its payload */
        return sign | 0x7f800000u | ((m | lo) != 0u ? 0x400000u | (m << 2) | (lo >> 30) : 0u);
    if (e == 0u) return sign;  /* zero or a double subnormal: far below f32's smallest */
    int E = int(e) - 896;      /* the f32 biased exponent */
    if (E >= 255) return sign | 0x7f800000u;
    /* a normal keeps 24 bits (shift 29) and adds its exponent less the implicit bit, which the
     * shifted significand carries (so a rounding carry moves into the exponent by itself); a
     * subnormal shifts further and has no exponent */
    uint s = E >= 1 ? 29u : uint(30 - E);
    uint base = E >= 1 ? uint(E - 1) << 23 : 0u;
    return sign | (base + shift_round(m | 0x100000u, lo, s));
}

uint f64_to_i32(uint lo, uint hi) {
    uint e = (hi >> 20) & 0x7ffu;
    if (e < 1023u) return 0u;                    /* |x| < 1 */
    if (e >= 1054u) return 0x80000000u;          /* |x| >= 2^31, inf, NaN */
    uint mh = (hi & 0xfffffu) | 0x100000u;
    uint s = 1075u - e;                          /* in [22, 52]: the integer part fits */
    uint q = s < 32u ? (lo >> s) | (mh << (32u - s)) : mh >> (s - 32u);
    return (hi & 0x80000000u) != 0u ? uint(-int(q)) : q;
}

void main() {
    for (uint i = gl_GlobalInvocationID.x; i < p.n; i += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
        if (MODE == 3) { y[i] = f64_to_f32(x[2u * i], x[2u * i + 1u]); continue; }
        if (MODE == 4) { y[i] = f64_to_i32(x[2u * i], x[2u * i + 1u]); continue; }
        uint v = x[i];
        if (MODE == 1) v = floatBitsToUint(float(int(v)));
        else if (MODE == 2) v = uint(int(uintBitsToFloat(v)));
        y[i] = v;
    }
}
