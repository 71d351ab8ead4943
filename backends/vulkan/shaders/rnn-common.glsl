// rnn-common.glsl: the activations of the recurrent-cell shaders (rnn-*.comp), written so their
// relative error stays near float rounding over the whole range, as the cells' outputs are
// compared with cpu-scalar's double results at rel 1e-4.

// GLSL's tanh is often (e^2x - 1) / (e^2x + 1), whose relative error blows up near 0 (the
// difference cancels). Near 0: the Taylor series through x^17 (truncation error < 1e-8 relative
// at 0.55). Elsewhere 1 - 2 / (e^2|x| + 1), which does not cancel there (the result is >= 0.5).
// Past 9 tanh rounds to +-1 in float; returning it keeps exp and the division in their accurate
// ranges (a division by infinity is undefined in Vulkan's precision rules).
float rnn_tanh(float v) {
    float a = abs(v);
    if (a < 0.55) {
        float z = v * v;
        float q = 6404582.0 / 10854718875.0;
        q = q * z - 929569.0 / 638512875.0;
        q = q * z + 21844.0 / 6081075.0;
        q = q * z - 1382.0 / 155925.0;
        q = q * z + 62.0 / 2835.0;
        q = q * z - 17.0 / 315.0;
        q = q * z + 2.0 / 15.0;
        q = q * z - 1.0 / 3.0;
        return v + v * z * q;
    }
    float r = a >= 9.0 ? 1.0 : 1.0 - 2.0 / (exp(2.0 * a) + 1.0);
    return v < 0.0 ? -r : r;
}

// two branches, as cpu-scalar, so exp never overflows: its argument is always <= 0
float rnn_sigmoid(float v) {
    if (v >= 0.0) return 1.0 / (1.0 + exp(-v));
    float e = exp(v);
    return e / (1.0 + e);
}
