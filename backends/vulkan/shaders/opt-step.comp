#version 450
// optim_step: one parameter's optimizer update (gexec/optim-step.h), element by element, after
// global-norm clipping (the factor comes from gsq, the sum of squares of every gradient) and
// value clamping. A non-finite gsq leaves everything as it was. The rule is a specialization
// constant, so each optimizer gets its own pipeline without branches on the hot path.
layout(local_size_x = 256) in;
layout(constant_id = 0) const int KIND = 1;       // 0 sgd, 1 adam, 2 adamw, 3 rmsprop
layout(constant_id = 1) const int NESTEROV = 0;
layout(std430, set = 0, binding = 0) readonly buffer Wp { float w_in[]; };
layout(std430, set = 0, binding = 1) readonly buffer G { float g_in[]; };
layout(std430, set = 0, binding = 2) readonly buffer S1 { float s1_in[]; };
layout(std430, set = 0, binding = 3) readonly buffer S2 { float s2_in[]; };
layout(std430, set = 0, binding = 4) readonly buffer H { float h[]; };
layout(std430, set = 0, binding = 5) readonly buffer Q { float gsq[]; };
layout(std430, set = 0, binding = 6) writeonly buffer Wo { float w_out[]; };
layout(std430, set = 0, binding = 7) writeonly buffer S1o { float s1_out[]; };
layout(std430, set = 0, binding = 8) writeonly buffer S2o { float s2_out[]; };
layout(push_constant) uniform P { uint n; } p;

// indices into h (gexec/optim-step.h)
const int LR = 0, MOMENTUM = 1, DAMPENING = 2, BETA1 = 3, BETA2 = 4, ALPHA = 5, EPS = 6,
          WD = 7, BC1 = 8, BC2 = 9, CLIP = 10, CLIP_VALUE = 11, FIRST = 12;

void main() {
    float q = gsq[0];
    bool live = !(isnan(q) || isinf(q));
    float norm = sqrt(q), clip = h[CLIP];
    float scale = clip > 0.0 && norm > clip ? clip / (norm + 1e-6) : 1.0;
    float lr = h[LR], wd = h[WD], mom = h[MOMENTUM], eps = h[EPS], cv = h[CLIP_VALUE];
    for (uint i = gl_GlobalInvocationID.x; i < p.n; i += gl_NumWorkGroups.x * 256u) {
        float w = w_in[i], m = s1_in[i], v = s2_in[i];
        if (live) {
            float g = g_in[i] * scale;
            if (cv > 0.0) g = clamp(g, -cv, cv);
            if (KIND == 0) {
                if (wd != 0.0) g += wd * w;
                if (mom != 0.0) {
                    m = h[FIRST] > 0.5 ? g : mom * m + (1.0 - h[DAMPENING]) * g;
                    g = NESTEROV != 0 ? g + mom * m : m;
                }
                w -= lr * g;
            } else if (KIND == 1 || KIND == 2) {
                float b1 = h[BETA1], b2 = h[BETA2];
                if (KIND == 2) w *= 1.0 - lr * wd;
                else if (wd != 0.0) g += wd * w;
                m = b1 * m + (1.0 - b1) * g;
                v = b2 * v + (1.0 - b2) * g * g;
                float denom = sqrt(v) / sqrt(h[BC2]) + eps;
                w -= (lr / h[BC1]) * m / denom;
            } else {
                float a = h[ALPHA];
                if (wd != 0.0) g += wd * w;
                m = a * m + (1.0 - a) * g * g;
                float avg = sqrt(m) + eps;
                if (mom != 0.0) {
                    v = mom * v + g / avg;
                    w -= lr * v;
                } else {
                    w -= lr * g / avg;
                }
            }
        }
        w_out[i] = w;
        s1_out[i] = m;
        s2_out[i] = v;
    }
}
