/*
 * ew-bcast.glsl: NumPy broadcasting for the element-wise shaders (ew-binary, ew-where).
 *
 * The kernel coalesces the output shape on the host (dims of 1 dropped, neighbours that every
 * input treats alike merged) and passes, per input, a bitmask of the dims it is broadcast along
 * (bit d set: stride 0 along output dim d, d = 0 the outermost). An input's stride along a dim it
 * is not broadcast along is the product of the extents of the later dims it is not broadcast
 * along, so masks and dims are all the shader needs (no per-input strides: three inputs of rank
 * 8 would not fit in 128 bytes of push constants).
 *
 * The including shader declares its push constant block as `p` with members `uint ndim` and
 * `uint dims[8]`.
 */

/* the linear index into each of up to three inputs (masks.x, .y, .z) feeding output element i */
uvec3 ew_bcast_index(uint i, uvec3 masks) {
    uvec3 idx = uvec3(0u), stride = uvec3(1u);
    for (int d = int(p.ndim) - 1; d >= 0; d--) {
        uint n = p.dims[d];
        uint c = i % n;
        i /= n;
        uint bit = 1u << uint(d);
        if ((masks.x & bit) == 0u) { idx.x += c * stride.x; stride.x *= n; }
        if ((masks.y & bit) == 0u) { idx.y += c * stride.y; stride.y *= n; }
        if ((masks.z & bit) == 0u) { idx.z += c * stride.z; stride.z *= n; }
    }
    return idx;
}
