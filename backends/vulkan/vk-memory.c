/*
 * vk-memory.c: device memory and moving bytes to and from it.
 *
 * Buffers: the engine allocates one arena per planned graph (and one per loop body), so
 * requests are few and large. Each becomes a VkBuffer bound to a range of a big memory block
 * (256 MiB, or the request's size when larger), first fit over the block's free ranges, so a
 * run makes a handful of vkAllocateMemory calls however many graphs it plans.
 *
 * Transfers go through host-visible staging buffers and are recorded into the open batch, in
 * order with the kernels: write() copies the bytes into upload staging at once and records the
 * copy, so a step's inputs ride in the same submission as the step; read() records a copy into
 * download staging, submits, waits, and copies out (it is the only call that waits).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk-impl.h"

#define BLOCK_BYTES  ((VkDeviceSize)256 << 20)
#define STAGE_BYTES  ((VkDeviceSize)16 << 20)

static int find_type(const vk_ctx *c, uint32_t bits, VkMemoryPropertyFlags want,
                     VkMemoryPropertyFlags avoid, uint32_t *out) {
    for (uint32_t i = 0; i < c->mem_props.memoryTypeCount; i++) {
        VkMemoryPropertyFlags f = c->mem_props.memoryTypes[i].propertyFlags;
        if ((bits & (1u << i)) && (f & want) == want && !(f & avoid)) {
            *out = i;
            return 1;
        }
    }
    return 0;
}

/* a throwaway buffer's requirements tell which memory types storage buffers may use */
static gx_status buffer_type_bits(vk_ctx *c, VkBufferUsageFlags usage, uint32_t *bits) {
    VkBufferCreateInfo bi = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, .size = 256,
                             .usage = usage, .sharingMode = VK_SHARING_MODE_EXCLUSIVE};
    VkBuffer b;
    GX_TRY(vk_check(c, c->vk.CreateBuffer(c->device, &bi, NULL, &b), "vkCreateBuffer"));
    VkMemoryRequirements mr;
    c->vk.GetBufferMemoryRequirements(c->device, b, &mr);
    c->vk.DestroyBuffer(c->device, b, NULL);
    *bits = mr.memoryTypeBits;
    return GX_OK;
}

#define USAGE_DEVICE (VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | \
                      VK_BUFFER_USAGE_TRANSFER_DST_BIT)
#define USAGE_STAGE  (VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT)

gx_status vk_memory_init(vk_ctx *c) {
    uint32_t bits = 0, sbits = 0;
    GX_TRY(buffer_type_bits(c, USAGE_DEVICE, &bits));
    GX_TRY(buffer_type_bits(c, USAGE_STAGE, &sbits));
    const VkMemoryPropertyFlags local = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT,
        host = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    /* device-local memory the host cannot see is the fast kind on a discrete GPU; any
     * device-local type next (integrated GPUs, lavapipe); any type at all last */
    if (!find_type(c, bits, local, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, &c->device_type) &&
        !find_type(c, bits, local, 0, &c->device_type) && !find_type(c, bits, 0, 0, &c->device_type))
        return GX_ERR_BACKEND;
    if (!find_type(c, sbits, host, 0, &c->upload_type)) return GX_ERR_BACKEND;
    /* reads from cached memory are much faster on the host */
    if (!find_type(c, sbits, host | VK_MEMORY_PROPERTY_HOST_CACHED_BIT, 0, &c->download_type))
        c->download_type = c->upload_type;
    return GX_OK;
}

static void stage_free(vk_ctx *c, vk_stage *s) {
    if (s->map) c->vk.UnmapMemory(c->device, s->mem);
    if (s->buffer) c->vk.DestroyBuffer(c->device, s->buffer, NULL);
    if (s->mem) c->vk.FreeMemory(c->device, s->mem, NULL);
    memset(s, 0, sizeof *s);
}

static gx_status stage_new(vk_ctx *c, VkDeviceSize bytes, uint32_t type, vk_stage *s) {
    memset(s, 0, sizeof *s);
    VkBufferCreateInfo bi = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, .size = bytes,
                             .usage = USAGE_STAGE, .sharingMode = VK_SHARING_MODE_EXCLUSIVE};
    gx_status st = vk_check(c, c->vk.CreateBuffer(c->device, &bi, NULL, &s->buffer), "vkCreateBuffer");
    VkMemoryRequirements mr;
    if (st == GX_OK) {
        c->vk.GetBufferMemoryRequirements(c->device, s->buffer, &mr);
        VkMemoryAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
                                   .allocationSize = mr.size, .memoryTypeIndex = type};
        st = vk_check(c, c->vk.AllocateMemory(c->device, &ai, NULL, &s->mem), "vkAllocateMemory (staging)");
    }
    if (st == GX_OK) st = vk_check(c, c->vk.BindBufferMemory(c->device, s->buffer, s->mem, 0), "vkBindBufferMemory");
    if (st == GX_OK) st = vk_check(c, c->vk.MapMemory(c->device, s->mem, 0, VK_WHOLE_SIZE, 0, &s->map), "vkMapMemory");
    if (st != GX_OK) {
        stage_free(c, s);
        return st;
    }
    s->size = bytes;
    return GX_OK;
}

void vk_stage_reset(vk_ctx *c) {
    for (int32_t i = 0; i < c->n_uploads; i++) c->uploads[i].used = 0;
}

void vk_memory_deinit(vk_ctx *c) {
    for (int32_t i = 0; i < c->n_uploads; i++) stage_free(c, &c->uploads[i]);
    free(c->uploads);
    stage_free(c, &c->download);
    for (int32_t i = 0; i < c->n_blocks; i++) {
        if (c->blocks[i].mem) c->vk.FreeMemory(c->device, c->blocks[i].mem, NULL);
        free(c->blocks[i].free);
    }
    free(c->blocks);
}

/* ---- blocks: first fit over sorted, coalesced free ranges ---- */

/* room for one more free range */
static int range_room(vk_block *b) {
    if (b->n_free < b->cap_free) return 1;
    int32_t nc = b->cap_free * 2 + 8;
    vk_range *p = realloc(b->free, sizeof *p * (size_t)nc);
    if (p == NULL) return 0;
    b->free = p;
    b->cap_free = nc;
    return 1;
}

static int range_take(vk_block *b, VkDeviceSize size, VkDeviceSize align, VkDeviceSize *off) {
    for (int32_t i = 0; i < b->n_free; i++) {
        vk_range *r = &b->free[i];
        VkDeviceSize start = (r->off + align - 1) / align * align;
        if (start + size > r->off + r->size) continue;
        VkDeviceSize end = r->off + r->size;
        /* the free range splits into [r->off, start) and [start + size, end) */
        if (start > r->off && start + size < end) {
            if (!range_room(b)) return 0;
            r = &b->free[i];
            memmove(&b->free[i + 2], &b->free[i + 1], sizeof *r * (size_t)(b->n_free - i - 1));
            b->free[i + 1] = (vk_range){start + size, end - start - size};
            r->size = start - r->off;
            b->n_free++;
        } else if (start > r->off) {
            r->size = start - r->off;
        } else if (start + size < end) {
            r->off = start + size;
            r->size = end - r->off;
        } else {
            memmove(r, r + 1, sizeof *r * (size_t)(b->n_free - i - 1));
            b->n_free--;
        }
        *off = start;
        return 1;
    }
    return 0;
}

static int range_give(vk_block *b, VkDeviceSize off, VkDeviceSize size) {
    int32_t i = 0;
    while (i < b->n_free && b->free[i].off < off) i++;
    if (!range_room(b)) return 0;
    memmove(&b->free[i + 1], &b->free[i], sizeof(vk_range) * (size_t)(b->n_free - i));
    b->free[i] = (vk_range){off, size};
    b->n_free++;
    if (i + 1 < b->n_free && b->free[i].off + b->free[i].size == b->free[i + 1].off) {
        b->free[i].size += b->free[i + 1].size;
        memmove(&b->free[i + 1], &b->free[i + 2], sizeof(vk_range) * (size_t)(b->n_free - i - 2));
        b->n_free--;
    }
    if (i > 0 && b->free[i - 1].off + b->free[i - 1].size == b->free[i].off) {
        b->free[i - 1].size += b->free[i].size;
        memmove(&b->free[i], &b->free[i + 1], sizeof(vk_range) * (size_t)(b->n_free - i - 1));
        b->n_free--;
    }
    return 1;
}

static gx_status block_new(vk_ctx *c, VkDeviceSize size, int32_t *index) {
    int32_t slot = -1;
    for (int32_t i = 0; i < c->n_blocks && slot < 0; i++)
        if (c->blocks[i].mem == VK_NULL_HANDLE) slot = i;
    if (slot < 0) {
        if (c->n_blocks == c->cap_blocks) {
            int32_t nc = c->cap_blocks * 2 + 4;
            vk_block *p = realloc(c->blocks, sizeof *p * (size_t)nc);
            if (p == NULL) return GX_ERR_NOMEM;
            c->blocks = p;
            c->cap_blocks = nc;
        }
        slot = c->n_blocks++;
        memset(&c->blocks[slot], 0, sizeof c->blocks[slot]);
    }
    vk_block *b = &c->blocks[slot];
    VkMemoryAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
                               .allocationSize = size, .memoryTypeIndex = c->device_type};
    VkResult r = c->vk.AllocateMemory(c->device, &ai, NULL, &b->mem);
    if (r != VK_SUCCESS) {
        b->mem = VK_NULL_HANDLE;
        return r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY ? GX_ERR_NOMEM
                                                                                    : GX_ERR_BACKEND;
    }
    b->size = size;
    b->n_free = 0;
    b->n_live = 0;
    if (!range_give(b, 0, size)) return GX_ERR_NOMEM;
    *index = slot;
    return GX_OK;
}

gx_status vk_buffer_alloc(void *ctx, uint64_t bytes, void **out) {
    vk_ctx *c = ctx;
    *out = NULL;
    if (bytes == 0) bytes = 4;
    vk_buf *vb = calloc(1, sizeof *vb);
    if (vb == NULL) return GX_ERR_NOMEM;
    VkBufferCreateInfo bi = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, .size = bytes,
                             .usage = USAGE_DEVICE, .sharingMode = VK_SHARING_MODE_EXCLUSIVE};
    gx_status st = vk_check(c, c->vk.CreateBuffer(c->device, &bi, NULL, &vb->buffer), "vkCreateBuffer");
    if (st != GX_OK) {
        free(vb);
        return st;
    }
    VkMemoryRequirements mr;
    c->vk.GetBufferMemoryRequirements(c->device, vb->buffer, &mr);
    vb->block = -1;
    for (int32_t i = 0; i < c->n_blocks && vb->block < 0; i++)
        if (c->blocks[i].mem && range_take(&c->blocks[i], mr.size, mr.alignment, &vb->offset))
            vb->block = i;
    if (vb->block < 0) {
        VkDeviceSize size = mr.size > BLOCK_BYTES ? mr.size : BLOCK_BYTES;
        st = block_new(c, size, &vb->block);
        if (st != GX_OK && size > mr.size) st = block_new(c, mr.size, &vb->block);   /* tight */
        if (st == GX_OK && !range_take(&c->blocks[vb->block], mr.size, mr.alignment, &vb->offset))
            st = GX_ERR_NOMEM;
    }
    if (st == GX_OK)
        st = vk_check(c, c->vk.BindBufferMemory(c->device, vb->buffer, c->blocks[vb->block].mem,
                                                vb->offset), "vkBindBufferMemory");
    if (st != GX_OK) {
        c->vk.DestroyBuffer(c->device, vb->buffer, NULL);
        free(vb);
        return st;
    }
    vb->size = mr.size;
    c->blocks[vb->block].n_live++;
    *out = vb;
    return GX_OK;
}

void vk_buffer_free(void *ctx, void *buf) {
    vk_ctx *c = ctx;
    vk_buf *vb = buf;
    if (vb == NULL) return;
    /* commands in the open or submitted batch may still use it */
    if (c->recording && (c->n_commands > 0 || c->n_pend > 0)) vk_submit(c);
    vk_sync(c);
    vk_forget_buffer(c, vb->buffer);
    c->vk.DestroyBuffer(c->device, vb->buffer, NULL);
    vk_block *b = &c->blocks[vb->block];
    range_give(b, vb->offset, vb->size);
    /* an empty block goes back to the driver, so a long run's memory follows its plans */
    if (--b->n_live == 0) {
        c->vk.FreeMemory(c->device, b->mem, NULL);
        b->mem = VK_NULL_HANDLE;
        free(b->free);
        b->free = NULL;
        b->n_free = b->cap_free = 0;
    }
    free(vb);
}

/* ---- transfers ---- */

/* upload space for `bytes` that stays valid until the open batch completes */
static gx_status upload_space(vk_ctx *c, VkDeviceSize bytes, vk_stage **s, VkDeviceSize *off) {
    bytes = (bytes + 15) & ~(VkDeviceSize)15;
    for (int32_t i = 0; i < c->n_uploads; i++)
        if (c->uploads[i].size - c->uploads[i].used >= bytes) {
            *s = &c->uploads[i];
            *off = c->uploads[i].used;
            c->uploads[i].used += bytes;
            return GX_OK;
        }
    if (c->n_uploads == c->cap_uploads) {
        int32_t nc = c->cap_uploads * 2 + 4;
        vk_stage *p = realloc(c->uploads, sizeof *p * (size_t)nc);
        if (p == NULL) return GX_ERR_NOMEM;
        c->uploads = p;
        c->cap_uploads = nc;
    }
    GX_TRY(stage_new(c, bytes > STAGE_BYTES ? bytes : STAGE_BYTES, c->upload_type,
                     &c->uploads[c->n_uploads]));
    *s = &c->uploads[c->n_uploads++];
    *off = 0;
    (*s)->used = bytes;
    return GX_OK;
}

gx_status vk_write(void *ctx, void *buf, uint64_t offset, const void *src, uint64_t bytes) {
    vk_ctx *c = ctx;
    vk_buf *vb = buf;
    if (bytes == 0) return GX_OK;
    if (offset + bytes > vb->size) return GX_ERR_INVALID;
    GX_TRY(vk_open(c));
    vk_stage *s;
    VkDeviceSize so;
    GX_TRY(upload_space(c, bytes, &s, &so));
    memcpy((char *)s->map + so, src, (size_t)bytes);
    vk_access acc = {vb->buffer, offset, offset + bytes, 1};
    vk_order(c, &acc, 1);
    VkBufferCopy region = {.srcOffset = so, .dstOffset = offset, .size = bytes};
    c->vk.CmdCopyBuffer(c->cmd, s->buffer, vb->buffer, 1, &region);
    c->n_commands++;
    vk_prof_mark(c, "(upload)", 0);
    return GX_OK;
}

/* Several reads in one round trip: every copy lands in the download buffer, one submit, one
 * wait (a training step's loss, gradient norm, states and metrics). */
gx_status vk_read_many(void *ctx, int32_t n, void *const *bufs, const uint64_t *offsets,
                       void *const *dsts, const uint64_t *bytes) {
    vk_ctx *c = ctx;
    VkDeviceSize total = 0;
    for (int32_t i = 0; i < n; i++) {
        const vk_buf *vb = bufs[i];
        if (offsets[i] + bytes[i] > vb->size) return GX_ERR_INVALID;
        total += (bytes[i] + 15) & ~(VkDeviceSize)15;
    }
    if (total == 0) return GX_OK;
    if (c->download.size < total) {
        stage_free(c, &c->download);
        GX_TRY(stage_new(c, total > STAGE_BYTES / 4 ? total : STAGE_BYTES / 4, c->download_type,
                         &c->download));
    }
    GX_TRY(vk_open(c));
    VkDeviceSize at = 0;
    for (int32_t i = 0; i < n; i++) {
        if (bytes[i] == 0) continue;
        const vk_buf *vb = bufs[i];
        vk_access acc = {vb->buffer, offsets[i], offsets[i] + bytes[i], 0};
        vk_order(c, &acc, 1);
        VkBufferCopy region = {.srcOffset = offsets[i], .dstOffset = at, .size = bytes[i]};
        c->vk.CmdCopyBuffer(c->cmd, vb->buffer, c->download.buffer, 1, &region);
        vk_prof_mark(c, "(download)", 0);
        at += (bytes[i] + 15) & ~(VkDeviceSize)15;
    }
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                          .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
                          .dstAccessMask = VK_ACCESS_HOST_READ_BIT};
    c->vk.CmdPipelineBarrier(c->cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0,
                             1, &mb, 0, NULL, 0, NULL);
    c->n_commands++;
    GX_TRY(vk_submit(c));
    GX_TRY(vk_sync(c));
    at = 0;
    for (int32_t i = 0; i < n; i++) {
        if (bytes[i] == 0) continue;
        memcpy(dsts[i], (char *)c->download.map + at, (size_t)bytes[i]);
        at += (bytes[i] + 15) & ~(VkDeviceSize)15;
    }
    return GX_OK;
}

gx_status vk_read(void *ctx, void *buf, uint64_t offset, void *dst, uint64_t bytes) {
    return vk_read_many(ctx, 1, &buf, &offset, &dst, &bytes);
}

gx_status vk_copy(void *ctx, void *dst, uint64_t dst_offset, void *src, uint64_t src_offset,
                  uint64_t bytes) {
    vk_ctx *c = ctx;
    vk_buf *d = dst, *s = src;
    if (bytes == 0) return GX_OK;
    if (dst_offset + bytes > d->size || src_offset + bytes > s->size) return GX_ERR_INVALID;
    GX_TRY(vk_open(c));
    vk_access acc[2] = {{s->buffer, src_offset, src_offset + bytes, 0},
                        {d->buffer, dst_offset, dst_offset + bytes, 1}};
    VkBufferCopy region = {.srcOffset = src_offset, .dstOffset = dst_offset, .size = bytes};
    return vk_record_copy(c, s->buffer, d->buffer, &region, acc);
}
