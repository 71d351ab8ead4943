#version 450
/*
 * ew-unary.comp: y = f(x) element by element, f32 (neg tanh sigmoid relu exp log).
 * OP (spec 0) picks f; each value gets its own pipeline, so the branch on OP compiles away.
 */
layout(local_size_x = 256) in;

layout(constant_id = 0) const int OP = 0;  /* 0 neg, 1 tanh, 2 sigmoid, 3 relu, 4 exp, 5 log */

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Y { float y[]; };

layout(push_constant) uniform P { uint n; } p;

/* GLSL's tanh is often (e^2x - 1) / (e^2x + 1), whose relative error blows up near 0 (the
 * difference cancels). Near 0 the Taylor series through x^17 (truncation error < 3e-9 at 0.55,
 * i.e. below float rounding); elsewhere 1 - 2 / (e^2|x| + 1), which has no cancellation there
 * (the result is >= 0.5) and tends to 1 without overflow trouble (e^2|x| = inf gives exactly 1). */
float careful_tanh(float v) {
    float a = abs(v), r;
    if (a < 0.55) {
        float z = a * a;
        float q = 6404582.0 / 10854718875.0;
        q = q * z - 929569.0 / 638512875.0;
        q = q * z + 21844.0 / 6081075.0;
        q = q * z - 1382.0 / 155925.0;
        q = q * z + 62.0 / 2835.0;
        q = q * z - 17.0 / 315.0;
        q = q * z + 2.0 / 15.0;
        q = q * z - 1.0 / 3.0;
        r = a + a * z * q;
    } else {
        r = 1.0 - 2.0 / (exp(2.0 * a) + 1.0);
    }
    /* tanh is odd: v's sign bit on tanh(|v|), so tanh(-0.0) is -0.0 as in C */
    return uintBitsToFloat(floatBitsToUint(r) | (floatBitsToUint(v) & 0x80000000u));
}

/* two branches so exp never overflows (as cpu-scalar): exp(-|x|) is at most 1 */
float careful_sigmoid(float v) {
    if (v >= 0.0) return 1.0 / (1.0 + exp(-v));
    float e = exp(v);
    return e / (1.0 + e);
}

float f(float v) {
    if (OP == 0) return -v;
    if (OP == 1) return careful_tanh(v);
    if (OP == 2) return careful_sigmoid(v);
    if (OP == 3) return v > 0.0 ? v : 0.0;   /* NaN and -0.0 give +0.0, as in C */
    if (OP == 4) return exp(v);
    return log(v);
}

void main() {
    for (uint i = gl_GlobalInvocationID.x; i < p.n; i += gl_NumWorkGroups.x * gl_WorkGroupSize.x)
        y[i] = f(x[i]);
}
