/*
 * vk-record.c: recording work into batches.
 *
 * A batch is one command buffer: the executor opens it (begin), every kernel and copy of a step
 * (the loop's T time steps included) records into it, and it is submitted once and waited on
 * once. Between two commands the recorder puts a barrier only when the later one reads bytes the
 * earlier wrote, or writes bytes the earlier read or wrote (the accesses since the last barrier
 * are kept as byte ranges); independent kernels are left free to overlap on a GPU.
 *
 * Pipelines are created on first use, one per (shader, specialization constants), through a
 * VkPipelineCache. Descriptor sets are made once per distinct tuple of (buffer, offset, range)
 * bindings and found again by hash on later steps, so a step records without updating any
 * descriptor after the first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk-impl.h"

#define SETS_PER_POOL 1024u
#define WAIT_NS       (600ull * 1000000000ull)   /* ten minutes: a device that hangs longer is lost */

gx_status vk_record_init(vk_ctx *c) {
    VkCommandPoolCreateInfo pi = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                  .flags = VK_COMMAND_POOL_CREATE_TRANSIENT_BIT,
                                  .queueFamilyIndex = c->queue_family};
    GX_TRY(vk_check(c, c->vk.CreateCommandPool(c->device, &pi, NULL, &c->cmd_pool), "vkCreateCommandPool"));
    VkCommandBufferAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                      .commandPool = c->cmd_pool,
                                      .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY, .commandBufferCount = 1};
    GX_TRY(vk_check(c, c->vk.AllocateCommandBuffers(c->device, &ai, &c->cmd), "vkAllocateCommandBuffers"));
    VkFenceCreateInfo fi = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    GX_TRY(vk_check(c, c->vk.CreateFence(c->device, &fi, NULL, &c->fence), "vkCreateFence"));
    VkPipelineCacheCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
    GX_TRY(vk_check(c, c->vk.CreatePipelineCache(c->device, &ci, NULL, &c->pipeline_cache), "vkCreatePipelineCache"));
    /* one set layout and pipeline layout per binding count, all storage buffers, 128 bytes of
     * push constants */
    for (uint32_t n = 0; n <= VK_MAX_BINDINGS; n++) {
        VkDescriptorSetLayoutBinding b[VK_MAX_BINDINGS];
        for (uint32_t i = 0; i < n; i++)
            b[i] = (VkDescriptorSetLayoutBinding){.binding = i,
                                                  .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                                  .descriptorCount = 1,
                                                  .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT};
        VkDescriptorSetLayoutCreateInfo li = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
                                              .bindingCount = n, .pBindings = b};
        GX_TRY(vk_check(c, c->vk.CreateDescriptorSetLayout(c->device, &li, NULL, &c->set_layout[n]),
                        "vkCreateDescriptorSetLayout"));
        VkPushConstantRange pr = {.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .offset = 0,
                                  .size = VK_MAX_PUSH};
        VkPipelineLayoutCreateInfo pl = {.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
                                         .setLayoutCount = 1, .pSetLayouts = &c->set_layout[n],
                                         .pushConstantRangeCount = 1, .pPushConstantRanges = &pr};
        GX_TRY(vk_check(c, c->vk.CreatePipelineLayout(c->device, &pl, NULL, &c->pipe_layout[n]),
                        "vkCreatePipelineLayout"));
    }
    const char *prof = getenv("GEXEC_VULKAN_PROFILE");
    if (prof != NULL && *prof && strcmp(prof, "0") != 0) {
        uint32_t nf = 0;
        c->vk.GetPhysicalDeviceQueueFamilyProperties(c->phys, &nf, NULL);
        VkQueueFamilyProperties q[32];
        if (nf > 32) nf = 32;
        c->vk.GetPhysicalDeviceQueueFamilyProperties(c->phys, &nf, q);
        if (c->queue_family >= nf || q[c->queue_family].timestampValidBits == 0) {
            fprintf(stderr, "gexec: vulkan: GEXEC_VULKAN_PROFILE: the queue has no timestamps\n");
        } else if ((c->prof = calloc(1, sizeof *c->prof)) != NULL) {
            VkQueryPoolCreateInfo qi = {.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
                                        .queryType = VK_QUERY_TYPE_TIMESTAMP,
                                        .queryCount = VK_PROF_QUERIES};
            GX_TRY(vk_check(c, c->vk.CreateQueryPool(c->device, &qi, NULL, &c->prof->pool),
                            "vkCreateQueryPool"));
            c->prof->period_ns = c->props.limits.timestampPeriod;
            c->prof->mask = q[c->queue_family].timestampValidBits >= 64
                                ? ~0ull : (1ull << q[c->queue_family].timestampValidBits) - 1;
        }
    }
    return GX_OK;
}

/* ---- GEXEC_VULKAN_PROFILE ---- */

void vk_prof_mark(vk_ctx *c, const char *name, uint32_t groups) {
    vk_prof *p = c->prof;
    if (p == NULL || !c->recording) return;
    if (p->n_q >= VK_PROF_QUERIES) {
        p->dropped++;
        return;
    }
    c->vk.CmdWriteTimestamp(c->cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, p->pool, p->n_q);
    p->label[p->n_q] = name;
    p->label_groups[p->n_q] = groups;
    p->n_q++;
}

static vk_prof_row *prof_row(vk_prof *p, const char *name, uint32_t groups) {
    for (int32_t i = 0; i < p->n_row; i++)
        if (p->row[i].name == name && p->row[i].groups == groups) return &p->row[i];
    if (p->n_row == VK_PROF_ROWS) return &p->row[VK_PROF_ROWS - 1];   /* full: the last one */
    vk_prof_row *r = &p->row[p->n_row++];
    r->name = name;
    r->groups = groups;
    return r;
}

/* the batch completed: its timestamps, as deltas, into the table */
static void prof_collect(vk_ctx *c) {
    vk_prof *p = c->prof;
    if (p == NULL || p->n_q < 2) return;
    uint64_t *ts = p->ts;
    if (c->vk.GetQueryPoolResults(c->device, p->pool, 0, p->n_q, sizeof p->ts, ts, sizeof ts[0],
                                  VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT) != VK_SUCCESS)
        return;
    for (uint32_t i = 1; i < p->n_q; i++) {
        vk_prof_row *r = prof_row(p, p->label[i], p->label_groups[i]);
        r->count++;
        r->ns += (double)((ts[i] - ts[i - 1]) & p->mask) * p->period_ns;
    }
    p->busy_ns += (double)((ts[p->n_q - 1] - ts[0]) & p->mask) * p->period_ns;
    p->n_batches++;
    p->n_q = 0;
}

static int prof_by_ns(const void *a, const void *b) {
    double x = ((const vk_prof_row *)a)->ns, y = ((const vk_prof_row *)b)->ns;
    return x < y ? 1 : x > y ? -1 : 0;
}

void vk_prof_report(vk_ctx *c) {
    vk_prof *p = c->prof;
    if (p == NULL) return;
    uint64_t n = 0;
    for (int32_t i = 0; i < p->n_row; i++) n += p->row[i].count;
    fprintf(stderr, "gexec: vulkan profile: %llu batches, %.3f ms GPU time over %llu commands "
            "(each after a barrier, so serialized)%s\n", (unsigned long long)p->n_batches,
            p->busy_ns * 1e-6, (unsigned long long)n, p->dropped ? "; some not timed" : "");
    /* by shader, then by (shader, workgroups) */
    vk_prof_row by[VK_PROF_ROWS];
    int32_t nb = 0;
    for (int32_t i = 0; i < p->n_row; i++) {
        int32_t k = 0;
        while (k < nb && by[k].name != p->row[i].name) k++;
        if (k == nb) by[nb++] = (vk_prof_row){.name = p->row[i].name};
        by[k].count += p->row[i].count;
        by[k].ns += p->row[i].ns;
    }
    qsort(by, (size_t)nb, sizeof by[0], prof_by_ns);
    fprintf(stderr, "  %-26s %10s %12s %10s %6s\n", "shader", "count", "total ms", "mean us", "%");
    for (int32_t i = 0; i < nb; i++)
        fprintf(stderr, "  %-26s %10llu %12.3f %10.2f %6.1f\n", by[i].name,
                (unsigned long long)by[i].count, by[i].ns * 1e-6, by[i].ns * 1e-3 / (double)by[i].count,
                100.0 * by[i].ns / (p->busy_ns > 0 ? p->busy_ns : 1));
    qsort(p->row, (size_t)p->n_row, sizeof p->row[0], prof_by_ns);
    fprintf(stderr, "  %-26s %9s %10s %12s %10s %6s\n", "shader", "groups", "count", "total ms",
            "mean us", "%");
    for (int32_t i = 0; i < p->n_row && i < 40; i++)
        fprintf(stderr, "  %-26s %9u %10llu %12.3f %10.2f %6.1f\n", p->row[i].name, p->row[i].groups,
                (unsigned long long)p->row[i].count, p->row[i].ns * 1e-6,
                p->row[i].ns * 1e-3 / (double)p->row[i].count,
                100.0 * p->row[i].ns / (p->busy_ns > 0 ? p->busy_ns : 1));
}

void vk_record_deinit(vk_ctx *c) {
    if (c->device == VK_NULL_HANDLE) return;
    if (c->in_flight) c->vk.WaitForFences(c->device, 1, &c->fence, VK_TRUE, WAIT_NS);
    for (int32_t i = 0; i < c->n_pipes; i++) c->vk.DestroyPipeline(c->device, c->pipes[i].pipeline, NULL);
    free(c->pipes);
    for (int32_t i = 0; i < c->n_pools; i++) c->vk.DestroyDescriptorPool(c->device, c->pools[i], NULL);
    free(c->pools);
    free(c->dsets);
    for (uint32_t n = 0; n <= VK_MAX_BINDINGS; n++) {
        if (c->pipe_layout[n]) c->vk.DestroyPipelineLayout(c->device, c->pipe_layout[n], NULL);
        if (c->set_layout[n]) c->vk.DestroyDescriptorSetLayout(c->device, c->set_layout[n], NULL);
    }
    if (c->pipeline_cache) c->vk.DestroyPipelineCache(c->device, c->pipeline_cache, NULL);
    if (c->prof) {
        if (c->prof->pool) c->vk.DestroyQueryPool(c->device, c->prof->pool, NULL);
        free(c->prof);
        c->prof = NULL;
    }
    free(c->pend);
    c->pend = NULL;
    if (c->fence) c->vk.DestroyFence(c->device, c->fence, NULL);
    if (c->cmd_pool) c->vk.DestroyCommandPool(c->device, c->cmd_pool, NULL);
}

/* ---- batches ---- */

static void flush_copies(vk_ctx *c);

static gx_status wait_idle(vk_ctx *c) {
    if (!c->in_flight) return GX_OK;
    VkResult r = c->vk.WaitForFences(c->device, 1, &c->fence, VK_TRUE, WAIT_NS);
    if (r == VK_TIMEOUT) {
        fprintf(stderr, "gexec: vulkan: the device did not finish a batch in 10 minutes\n");
        return GX_ERR_BACKEND;
    }
    GX_TRY(vk_check(c, r, "vkWaitForFences"));
    GX_TRY(vk_check(c, c->vk.ResetFences(c->device, 1, &c->fence), "vkResetFences"));
    c->in_flight = 0;
    prof_collect(c);
    vk_stage_reset(c);
    return GX_OK;
}

gx_status vk_open(vk_ctx *c) {
    if (c->recording) return GX_OK;
    GX_TRY(wait_idle(c));
    GX_TRY(vk_check(c, c->vk.ResetCommandPool(c->device, c->cmd_pool, 0), "vkResetCommandPool"));
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                   .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    GX_TRY(vk_check(c, c->vk.BeginCommandBuffer(c->cmd, &bi), "vkBeginCommandBuffer"));
    c->recording = 1;
    c->n_commands = 0;
    c->n_access = 0;
    if (c->prof) {
        c->vk.CmdResetQueryPool(c->cmd, c->prof->pool, 0, VK_PROF_QUERIES);
        c->prof->n_q = 0;
        vk_prof_mark(c, "(start)", 0);
    }
    return GX_OK;
}

gx_status vk_begin(void *ctx) { return vk_open(ctx); }

gx_status vk_submit(void *ctx) {
    vk_ctx *c = ctx;
    if (!c->recording) return GX_OK;
    flush_copies(c);
    GX_TRY(vk_check(c, c->vk.EndCommandBuffer(c->cmd), "vkEndCommandBuffer"));
    c->recording = 0;
    if (c->n_commands == 0) return GX_OK;   /* nothing to run: the next open resets it */
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1,
                       .pCommandBuffers = &c->cmd};
    GX_TRY(vk_check(c, c->vk.QueueSubmit(c->queue, 1, &si, c->fence), "vkQueueSubmit"));
    c->in_flight = 1;
    c->n_submits++;
    return GX_OK;
}

gx_status vk_sync(void *ctx) {
    vk_ctx *c = ctx;
    GX_TRY(wait_idle(c));
    if (c->n_messages != c->n_messages_seen) {
        int n = c->n_messages - c->n_messages_seen;
        c->n_messages_seen = c->n_messages;
        fprintf(stderr, "gexec: vulkan: the validation layer reported %d message%s (above)\n", n,
                n == 1 ? "" : "s");
        return GX_ERR_BACKEND;
    }
    return GX_OK;
}

/* ---- hazards ---- */

static int overlaps(const vk_access *a, const vk_access *b) {
    return a->buffer == b->buffer && a->lo < b->hi && b->lo < a->hi && (a->write || b->write);
}

static int conflicts(const vk_ctx *c, const vk_access *acc, int32_t n) {
    if (c->n_access + n > VK_MAX_ACCESS) return 1;
    for (int32_t i = 0; i < n; i++)
        for (int32_t j = c->n_access - 1; j >= 0; j--)
            if (overlaps(&acc[i], &c->access[j])) return 1;
    return 0;
}

/* one more access since the last barrier; a range that continues one of the last two of the
 * same kind extends it (a slice's rows, copied one after another, are one range) */
static void add_access(vk_ctx *c, const vk_access *a) {
    for (int32_t j = c->n_access - 1; j >= 0 && j >= c->n_access - 2; j--) {
        vk_access *b = &c->access[j];
        if (b->buffer == a->buffer && b->write == a->write && b->hi == a->lo) {
            b->hi = a->hi;
            return;
        }
    }
    c->access[c->n_access++] = *a;
}

static gx_status get_pipeline(vk_ctx *c, const vk_launch *l, VkPipeline *out);
static gx_status get_set(vk_ctx *c, vk_dset *key, VkDescriptorSet *out);

/* Regions r[0..n) of one size at equal strides on both sides (a loop's slice of a [B, T, ...]
 * value: B rows; or one region) as one dispatch of sh-copy.comp over [rows, words]. Measured on
 * an H100 (NVIDIA 580, GEXEC_VULKAN_PROFILE): a vkCmdCopyBuffer between dispatches took 35-50 us
 * and each extra region a few more; this dispatch takes 4-7 us. 0 when the device cannot bind
 * them (then vkCmdCopyBuffer does). */
static int copy_rows(vk_ctx *c, const VkBufferCopy *r, int32_t n) {
    VkDeviceSize size = r[0].size;
    VkDeviceSize ss = n > 1 ? r[1].srcOffset - r[0].srcOffset : size;
    VkDeviceSize ds = n > 1 ? r[1].dstOffset - r[0].dstOffset : size;
    if (size == 0 || ((size | ss | ds | r[0].srcOffset | r[0].dstOffset) & 3)) return 0;
    VkDeviceSize align = c->props.limits.minStorageBufferOffsetAlignment, words = size / 4;
    if (align == 0) align = 1;
    VkDeviceSize slo = r[0].srcOffset / align * align, dlo = r[0].dstOffset / align * align;
    VkDeviceSize shi = r[n - 1].srcOffset + size, dhi = r[n - 1].dstOffset + size;
    if (shi - slo > c->props.limits.maxStorageBufferRange ||
        dhi - dlo > c->props.limits.maxStorageBufferRange || words * (VkDeviceSize)n >= INT32_MAX)
        return 0;
    struct {   /* sh-copy.comp's push constants */
        uint32_t n, ndim, src_off, dst_off;
        uint32_t dims[GX_MAX_DIMS], sstride[GX_MAX_DIMS], dstride[GX_MAX_DIMS];
        uint32_t pad_dim, pad_before, pad_len;
    } p = {.n = (uint32_t)(words * (VkDeviceSize)n), .ndim = 2,
           .src_off = (uint32_t)((r[0].srcOffset - slo) / 4),
           .dst_off = (uint32_t)((r[0].dstOffset - dlo) / 4),
           .dims = {(uint32_t)n, (uint32_t)words}, .sstride = {(uint32_t)(ss / 4), 1},
           .dstride = {(uint32_t)(ds / 4), 1}};
    vk_launch l = {.shader = &vk_sh_copy, .n_spec = 1, .n_bind = 2};
    vk_dset key = {.n_bind = 2, .buffer = {c->pend_src, c->pend_dst}, .off = {slo, dlo},
                   .range = {shi - slo, dhi - dlo}};
    VkPipeline pipe;
    VkDescriptorSet set;
    if (get_pipeline(c, &l, &pipe) != GX_OK || get_set(c, &key, &set) != GX_OK) return 0;
    uint32_t groups = vk_groups(c, p.n, 256);
    c->vk.CmdBindPipeline(c->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipe);
    c->vk.CmdBindDescriptorSets(c->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, c->pipe_layout[2], 0, 1,
                                &set, 0, NULL);
    c->vk.CmdPushConstants(c->cmd, c->pipe_layout[2], VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof p, &p);
    c->vk.CmdDispatch(c->cmd, groups, 1, 1);
    c->n_dispatches++;
    vk_prof_mark(c, "(copy rows)", groups);
    return 1;
}

/* the length of the run of regions from r[0] at one size and equal, increasing strides */
static int32_t run_length(const VkBufferCopy *r, int32_t n) {
    if (n < 2 || r[1].size != r[0].size || r[1].srcOffset <= r[0].srcOffset ||
        r[1].dstOffset <= r[0].dstOffset)
        return 1;
    VkDeviceSize ss = r[1].srcOffset - r[0].srcOffset, ds = r[1].dstOffset - r[0].dstOffset;
    int32_t k = 2;
    while (k < n && r[k].size == r[0].size && r[k].srcOffset == r[k - 1].srcOffset + ss &&
           r[k].dstOffset == r[k - 1].dstOffset + ds)
        k++;
    return k;
}

/* the pending copies, a dispatch per run of rows (they touch disjoint bytes: no barriers
 * between them; the barrier before them covers compute and transfer alike) */
static void flush_copies(vk_ctx *c) {
    for (int32_t i = 0, len; i < c->n_pend; i += len) {
        len = run_length(c->pend + i, c->n_pend - i);
        if (!copy_rows(c, c->pend + i, len)) {
            c->vk.CmdCopyBuffer(c->cmd, c->pend_src, c->pend_dst, (uint32_t)len, c->pend + i);
            vk_prof_mark(c, "(copy)", 0);
        }
        c->n_commands++;
    }
    c->n_pend = 0;
}

gx_status vk_record_copy(vk_ctx *c, VkBuffer src, VkBuffer dst, const VkBufferCopy *region,
                         const vk_access acc[2]) {
    /* joined: it needs no barrier against anything since the last one, the pending regions
     * included (so no region's source overlaps another's destination, as Vulkan requires) */
    int join = c->n_pend > 0 && c->pend_src == src && c->pend_dst == dst && !conflicts(c, acc, 2);
    if (!join) vk_order(c, acc, 2);   /* records the pending copies first, then orders this one */
    if (c->n_pend == c->cap_pend) {
        int32_t nc = c->cap_pend * 2 + 64;
        VkBufferCopy *p = realloc(c->pend, sizeof *p * (size_t)nc);
        if (p == NULL) {   /* no room to wait: record it alone */
            flush_copies(c);
            c->vk.CmdCopyBuffer(c->cmd, src, dst, 1, region);
            c->n_commands++;
            if (join) for (int32_t i = 0; i < 2; i++) add_access(c, &acc[i]);
            return GX_OK;
        }
        c->pend = p;
        c->cap_pend = nc;
    }
    if (join) for (int32_t i = 0; i < 2; i++) add_access(c, &acc[i]);
    c->pend_src = src;
    c->pend_dst = dst;
    c->pend[c->n_pend++] = *region;
    return GX_OK;
}

void vk_order(vk_ctx *c, const vk_access *acc, int32_t n) {
    flush_copies(c);   /* the pending copies come before the command being ordered */
    /* profiling: a barrier before every command, so each timestamp delta is one command's time */
    int conflict = c->prof != NULL || conflicts(c, acc, n);
    if (conflict) {
        VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                              .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
                              .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                                               VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT};
        const VkPipelineStageFlags stages = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
        c->vk.CmdPipelineBarrier(c->cmd, stages, stages, 0, 1, &mb, 0, NULL, 0, NULL);
        c->n_barriers++;
        c->n_access = 0;
    }
    for (int32_t i = 0; i < n; i++) add_access(c, &acc[i]);
}

/* ---- pipelines ---- */

static gx_status get_pipeline(vk_ctx *c, const vk_launch *l, VkPipeline *out) {
    for (int32_t i = c->n_pipes - 1; i >= 0; i--) {
        const vk_pipe *p = &c->pipes[i];
        if (p->code == l->shader->code && p->n_spec == l->n_spec && p->n_bind == l->n_bind &&
            memcmp(p->spec, l->spec, sizeof(int32_t) * l->n_spec) == 0) {
            *out = p->pipeline;
            return GX_OK;
        }
    }
    if (c->n_pipes == c->cap_pipes) {
        int32_t nc = c->cap_pipes * 2 + 32;
        vk_pipe *p = realloc(c->pipes, sizeof *p * (size_t)nc);
        if (p == NULL) return GX_ERR_NOMEM;
        c->pipes = p;
        c->cap_pipes = nc;
    }
    VkShaderModuleCreateInfo mi = {.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
                                   .codeSize = l->shader->code_bytes, .pCode = l->shader->code};
    VkShaderModule mod;
    GX_TRY(vk_check(c, c->vk.CreateShaderModule(c->device, &mi, NULL, &mod), "vkCreateShaderModule"));
    VkSpecializationMapEntry me[VK_MAX_SPEC];
    for (uint32_t i = 0; i < l->n_spec; i++)
        me[i] = (VkSpecializationMapEntry){.constantID = i, .offset = 4 * i, .size = 4};
    VkSpecializationInfo si = {.mapEntryCount = l->n_spec, .pMapEntries = me,
                               .dataSize = 4u * l->n_spec, .pData = l->spec};
    VkComputePipelineCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage = {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                  .stage = VK_SHADER_STAGE_COMPUTE_BIT, .module = mod, .pName = "main",
                  .pSpecializationInfo = l->n_spec ? &si : NULL},
        .layout = c->pipe_layout[l->n_bind]};
    vk_pipe *p = &c->pipes[c->n_pipes];
    gx_status st = vk_check(c, c->vk.CreateComputePipelines(c->device, c->pipeline_cache, 1, &ci, NULL,
                                                            &p->pipeline), "vkCreateComputePipelines");
    c->vk.DestroyShaderModule(c->device, mod, NULL);
    if (st != GX_OK) return st;
    p->code = l->shader->code;
    p->n_spec = l->n_spec;
    memset(p->spec, 0, sizeof p->spec);
    memcpy(p->spec, l->spec, sizeof(int32_t) * l->n_spec);
    p->n_bind = l->n_bind;
    c->n_pipes++;
    *out = p->pipeline;
    return GX_OK;
}

/* ---- descriptor sets, by hash of their bindings ---- */

static uint64_t dset_hash(const vk_dset *k) {
    uint64_t h = 1469598103934665603ull ^ k->n_bind;
    for (uint32_t i = 0; i < k->n_bind; i++) {
        h = (h ^ (uint64_t)(uintptr_t)k->buffer[i]) * 1099511628211ull;
        h = (h ^ k->off[i]) * 1099511628211ull;
        h = (h ^ k->range[i]) * 1099511628211ull;
    }
    return h ^ (h >> 29);
}

static int dset_same(const vk_dset *a, const vk_dset *b) {
    if (a->n_bind != b->n_bind) return 0;
    for (uint32_t i = 0; i < a->n_bind; i++)
        if (a->buffer[i] != b->buffer[i] || a->off[i] != b->off[i] || a->range[i] != b->range[i]) return 0;
    return 1;
}

static gx_status dset_insert(vk_ctx *c, const vk_dset *e);

static gx_status dset_grow(vk_ctx *c) {
    vk_dset *old = c->dsets;
    int32_t old_cap = c->cap_dsets;
    int32_t nc = old_cap ? old_cap * 2 : 1024;
    c->dsets = calloc((size_t)nc, sizeof *c->dsets);
    if (c->dsets == NULL) {
        c->dsets = old;
        return GX_ERR_NOMEM;
    }
    c->cap_dsets = nc;
    c->n_dsets = 0;
    for (int32_t i = 0; i < old_cap; i++)
        if (old[i].n_bind) dset_insert(c, &old[i]);
    free(old);
    return GX_OK;
}

static gx_status dset_insert(vk_ctx *c, const vk_dset *e) {
    if (2 * (c->n_dsets + 1) > c->cap_dsets) GX_TRY(dset_grow(c));
    uint64_t mask = (uint64_t)c->cap_dsets - 1;
    for (uint64_t i = dset_hash(e) & mask;; i = (i + 1) & mask)
        if (c->dsets[i].n_bind == 0) {
            c->dsets[i] = *e;
            c->n_dsets++;
            return GX_OK;
        }
}

static gx_status new_set(vk_ctx *c, uint32_t n_bind, VkDescriptorSet *set, int32_t *pool) {
    if (c->n_pools == 0 || c->pool_left == 0) {
        if (c->n_pools == c->cap_pools) {
            int32_t nc = c->cap_pools * 2 + 4;
            VkDescriptorPool *p = realloc(c->pools, sizeof *p * (size_t)nc);
            if (p == NULL) return GX_ERR_NOMEM;
            c->pools = p;
            c->cap_pools = nc;
        }
        VkDescriptorPoolSize ps = {.type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                   .descriptorCount = SETS_PER_POOL * VK_MAX_BINDINGS};
        VkDescriptorPoolCreateInfo pi = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
                                         .flags = VK_DESCRIPTOR_POOL_CREATE_FREE_DESCRIPTOR_SET_BIT,
                                         .maxSets = SETS_PER_POOL, .poolSizeCount = 1, .pPoolSizes = &ps};
        GX_TRY(vk_check(c, c->vk.CreateDescriptorPool(c->device, &pi, NULL, &c->pools[c->n_pools]),
                        "vkCreateDescriptorPool"));
        c->n_pools++;
        c->pool_left = SETS_PER_POOL;
    }
    VkDescriptorSetAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                      .descriptorPool = c->pools[c->n_pools - 1],
                                      .descriptorSetCount = 1, .pSetLayouts = &c->set_layout[n_bind]};
    GX_TRY(vk_check(c, c->vk.AllocateDescriptorSets(c->device, &ai, set), "vkAllocateDescriptorSets"));
    c->pool_left--;
    *pool = c->n_pools - 1;
    return GX_OK;
}

static gx_status get_set(vk_ctx *c, vk_dset *key, VkDescriptorSet *out) {
    if (c->cap_dsets) {
        uint64_t mask = (uint64_t)c->cap_dsets - 1;
        for (uint64_t i = dset_hash(key) & mask; c->dsets[i].n_bind; i = (i + 1) & mask)
            if (dset_same(&c->dsets[i], key)) {
                *out = c->dsets[i].set;
                return GX_OK;
            }
    }
    GX_TRY(new_set(c, key->n_bind, &key->set, &key->pool));
    VkDescriptorBufferInfo bi[VK_MAX_BINDINGS];
    VkWriteDescriptorSet w[VK_MAX_BINDINGS];
    for (uint32_t i = 0; i < key->n_bind; i++) {
        bi[i] = (VkDescriptorBufferInfo){.buffer = key->buffer[i], .offset = key->off[i],
                                         .range = key->range[i]};
        w[i] = (VkWriteDescriptorSet){.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
                                      .dstSet = key->set, .dstBinding = i, .descriptorCount = 1,
                                      .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                      .pBufferInfo = &bi[i]};
    }
    c->vk.UpdateDescriptorSets(c->device, key->n_bind, w, 0, NULL);
    GX_TRY(dset_insert(c, key));
    *out = key->set;
    return GX_OK;
}

/* A buffer is going away: its descriptor sets go back to their pools, and the table is rebuilt
 * without them (a later buffer may reuse the handle's value). */
void vk_forget_buffer(vk_ctx *c, VkBuffer buffer) {
    if (c->cap_dsets == 0) return;
    vk_dset *old = c->dsets;
    int32_t old_cap = c->cap_dsets, dropped = 0;
    for (int32_t i = 0; i < old_cap; i++) {
        int uses = 0;
        for (uint32_t k = 0; k < old[i].n_bind; k++) uses |= old[i].buffer[k] == buffer;
        if (uses) {
            c->vk.FreeDescriptorSets(c->device, c->pools[old[i].pool], 1, &old[i].set);
            old[i].n_bind = 0;
            dropped++;
        }
    }
    if (dropped == 0) return;
    vk_dset *fresh = calloc((size_t)old_cap, sizeof *fresh);
    if (fresh == NULL) return;   /* the table stays valid: the dropped slots are just empty */
    c->dsets = fresh;
    c->n_dsets = 0;
    for (int32_t i = 0; i < old_cap; i++)
        if (old[i].n_bind) dset_insert(c, &old[i]);
    free(old);
}

/* ---- dispatch ---- */

uint32_t vk_groups(void *backend_ctx, uint64_t n, uint32_t per_group) {
    vk_ctx *c = backend_ctx;
    uint64_t g = (n + per_group - 1) / (per_group ? per_group : 1);
    uint64_t lim = c->props.limits.maxComputeWorkGroupCount[0];
    if (g > lim) g = lim;
    return g ? (uint32_t)g : 1;
}

gx_status vk_launch_run(void *backend_ctx, const gx_host_api *api, gx_host *host,
                        const vk_launch *l) {
    vk_ctx *c = backend_ctx;
    if (l->n_bind > VK_MAX_BINDINGS || l->n_spec > VK_MAX_SPEC || l->push_bytes > VK_MAX_PUSH ||
        (l->push_bytes & 3))
        return api->set_error(host, GX_ERR_INVALID, "vulkan: bad launch of shader '%s'", l->shader->name);
    vk_dset key = {.n_bind = l->n_bind};
    vk_access acc[VK_MAX_BINDINGS];
    VkDeviceSize align = c->props.limits.minStorageBufferOffsetAlignment;
    for (uint32_t i = 0; i < l->n_bind; i++) {
        const gx_tensor *t = l->bind[i];
        const vk_buf *vb = t->buf;
        size_t es = gx_dtype_size(t->dtype);
        uint64_t bytes = (uint64_t)gx_shape_numel(&t->shape) * (es ? es : 1);
        bytes = bytes < 4 ? 4 : (bytes + 3) & ~(uint64_t)3;
        if (bytes > c->props.limits.maxStorageBufferRange)
            return api->set_error(host, GX_ERR_UNSUPPORTED, "vulkan: shader '%s' binding %u: a "
                                  "%llu-byte tensor exceeds the device's storage buffer range (%u)",
                                  l->shader->name, i, (unsigned long long)bytes,
                                  c->props.limits.maxStorageBufferRange);
        if (vb == NULL || t->offset % align != 0 || t->offset + bytes > vb->size)
            return api->set_error(host, GX_ERR_INVALID, "vulkan: shader '%s' binding %u: a tensor at "
                                  "byte %llu the device cannot bind", l->shader->name, i,
                                  (unsigned long long)t->offset);
        key.buffer[i] = vb->buffer;
        key.off[i] = t->offset;
        key.range[i] = bytes;
        acc[i] = (vk_access){vb->buffer, t->offset, t->offset + bytes, (int)((l->writes >> i) & 1u)};
    }
    gx_status st = vk_open(c);
    VkPipeline pipe = VK_NULL_HANDLE;
    VkDescriptorSet set = VK_NULL_HANDLE;
    if (st == GX_OK) st = get_pipeline(c, l, &pipe);
    if (st == GX_OK && l->n_bind) st = get_set(c, &key, &set);
    if (st != GX_OK)
        return api->set_error(host, st, "vulkan: could not prepare shader '%s'", l->shader->name);
    vk_order(c, acc, (int32_t)l->n_bind);
    c->vk.CmdBindPipeline(c->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipe);
    if (l->n_bind)
        c->vk.CmdBindDescriptorSets(c->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, c->pipe_layout[l->n_bind],
                                    0, 1, &set, 0, NULL);
    if (l->push_bytes)
        c->vk.CmdPushConstants(c->cmd, c->pipe_layout[l->n_bind], VK_SHADER_STAGE_COMPUTE_BIT, 0,
                               l->push_bytes, l->push);
    uint32_t gx = l->groups[0] ? l->groups[0] : 1, gy = l->groups[1] ? l->groups[1] : 1,
             gz = l->groups[2] ? l->groups[2] : 1;
    c->vk.CmdDispatch(c->cmd, gx, gy, gz);
    c->n_commands++;
    c->n_dispatches++;
    vk_prof_mark(c, l->shader->name, gx * gy * gz);
    return GX_OK;
}
