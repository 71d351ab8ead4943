#version 450
// rnn-colsum: the bias gradients of the cells' backward ops, two column sums at once:
//   s0[r] = sum_b x0[b, r],  s1[r] = sum_b x1[b, r]   (x0, x1 [rows, cols])
// One invocation per column, summing rows in increasing order (deterministic).
layout(local_size_x = 256) in;

layout(std430, set = 0, binding = 0) readonly buffer X0 { float x0[]; };
layout(std430, set = 0, binding = 1) readonly buffer X1 { float x1[]; };
layout(std430, set = 0, binding = 2) writeonly buffer S0 { float s0[]; };
layout(std430, set = 0, binding = 3) writeonly buffer S1 { float s1[]; };

layout(push_constant) uniform P { uint rows, cols; } p;

void main() {
    for (uint j = gl_GlobalInvocationID.x; j < p.cols; j += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
        float a = 0.0, b = 0.0;
        for (uint r = 0u; r < p.rows; r++) {
            a += x0[r * p.cols + j];
            b += x1[r * p.cols + j];
        }
        s0[j] = a;
        s1[j] = b;
    }
}
