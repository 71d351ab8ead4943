#version 450
/*
 * sh-copy.comp: the one shader of the shape ops (transpose, permute, reshape, broadcast_to,
 * concat, split, slice, pad, index). It walks a "domain" of up to 8 dims in row-major order and
 * copies element (c_0, ..., c_{r-1}) from x[src_off + sum c_k * sstride[k]] to
 * y[dst_off + sum c_k * dstride[k]]. The C side picks dims and strides per op (a permutation of
 * strides, stride 0 for a broadcast axis, an offset for a window) and merges dims that are
 * contiguous in both tensors, so a reshape or a slice is a 1- or 2-dim walk.
 *
 * Data is declared uint and copied as bits: f32 and i32 are both 4 bytes, so this one shader
 * serves both dtypes and never converts (a NaN payload or -0.0 survives).
 *
 * PAD (specialization constant 1): domain dim pad_dim covers y's padded axis; its source
 * coordinate is c - pad_before, and y gets 0 (the bits of 0.0f and of 0) where that is outside
 * [0, pad_len). x is then never read outside its window, so a pad of an empty x may bind y in
 * x's place.
 */
layout(local_size_x = 256) in;

layout(constant_id = 0) const int PAD = 0;

layout(std430, set = 0, binding = 0) readonly buffer B_0 { uint x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer B_1 { uint y[]; };

layout(push_constant) uniform P {
    uint n;            // elements of the domain (product of dims)
    uint ndim;         // 1..8
    uint src_off;      // elements
    uint dst_off;
    uint dims[8];
    uint sstride[8];   // elements of x per step of domain dim k (0: broadcast)
    uint dstride[8];
    uint pad_dim;      // PAD only
    uint pad_before;
    uint pad_len;
} p;

void main() {
    uint step = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint i = gl_GlobalInvocationID.x; i < p.n; i += step) {
        uint rest = i, s = p.src_off, d = p.dst_off;
        bool inside = true;
        for (int k = int(p.ndim) - 1; k >= 0; k--) {
            uint c = rest % p.dims[k];
            rest /= p.dims[k];
            d += c * p.dstride[k];
            if (PAD != 0 && uint(k) == p.pad_dim) {
                // unsigned: c < pad_before wraps to a huge value, also outside
                uint cs = c - p.pad_before;
                if (cs >= p.pad_len) inside = false;
                s += cs * p.sstride[k];
            } else {
                s += c * p.sstride[k];
            }
        }
        // an if, not ?:, which a compiler may turn into a select that reads x[s] regardless
        if (inside)
            y[d] = x[s];
        else
            y[d] = 0u;
    }
}
