/*
 * vk-impl.h: the Vulkan backend's context and the functions its files share (not for kernels:
 * kernels use vk.h only).
 *
 * The plugin does not link libvulkan: vk-device.c dlopens the loader and fills a table of
 * function pointers (vk_fns, one per context), so calls read c->vk.CmdDispatch(...).
 */
#ifndef GX_VK_IMPL_H
#define GX_VK_IMPL_H

#define VK_NO_PROTOTYPES
#include <vulkan/vulkan.h>

#include "vk.h"

/* every Vulkan function the backend calls: X(name without the vk prefix) */
#define VK_INSTANCE_FNS(X)                                                                       \
    X(DestroyInstance) X(EnumeratePhysicalDevices) X(GetPhysicalDeviceProperties)                \
    X(GetPhysicalDeviceProperties2) X(GetPhysicalDeviceQueueFamilyProperties)                    \
    X(GetPhysicalDeviceMemoryProperties) X(CreateDevice) X(GetDeviceProcAddr)
#define VK_DEVICE_FNS(X)                                                                         \
    X(DestroyDevice) X(GetDeviceQueue) X(DeviceWaitIdle) X(CreateBuffer) X(DestroyBuffer)        \
    X(GetBufferMemoryRequirements) X(AllocateMemory) X(FreeMemory) X(BindBufferMemory)           \
    X(MapMemory) X(UnmapMemory) X(CreateCommandPool) X(DestroyCommandPool)                       \
    X(AllocateCommandBuffers) X(ResetCommandPool) X(BeginCommandBuffer) X(EndCommandBuffer)      \
    X(CmdCopyBuffer) X(CmdPipelineBarrier) X(CmdBindPipeline) X(CmdBindDescriptorSets)           \
    X(CmdPushConstants) X(CmdDispatch) X(CmdFillBuffer) X(QueueSubmit) X(CreateFence)            \
    X(DestroyFence) X(WaitForFences) X(ResetFences) X(CreateShaderModule)                        \
    X(DestroyShaderModule) X(CreateComputePipelines) X(DestroyPipeline)                          \
    X(CreatePipelineLayout) X(DestroyPipelineLayout) X(CreateDescriptorSetLayout)                \
    X(DestroyDescriptorSetLayout) X(CreateDescriptorPool) X(DestroyDescriptorPool)               \
    X(AllocateDescriptorSets) X(FreeDescriptorSets) X(UpdateDescriptorSets)                      \
    X(CreatePipelineCache) X(DestroyPipelineCache) X(CreateQueryPool) X(DestroyQueryPool)        \
    X(CmdResetQueryPool) X(CmdWriteTimestamp) X(GetQueryPoolResults)

typedef struct vk_fns {
    PFN_vkGetInstanceProcAddr GetInstanceProcAddr;
    PFN_vkCreateInstance CreateInstance;
    PFN_vkEnumerateInstanceLayerProperties EnumerateInstanceLayerProperties;
    PFN_vkCreateDebugUtilsMessengerEXT CreateDebugUtilsMessengerEXT;
    PFN_vkDestroyDebugUtilsMessengerEXT DestroyDebugUtilsMessengerEXT;
#define VK_FN_MEMBER(name) PFN_vk##name name;
    VK_INSTANCE_FNS(VK_FN_MEMBER)
    VK_DEVICE_FNS(VK_FN_MEMBER)
#undef VK_FN_MEMBER
} vk_fns;

/* A buffer handed to the engine: a VkBuffer bound to a range of one memory block. */
typedef struct vk_buf {
    VkBuffer     buffer;
    int32_t      block;
    VkDeviceSize offset, size;
} vk_buf;

/* One device-memory block and its free ranges (sorted by offset, coalesced). */
typedef struct vk_range { VkDeviceSize off, size; } vk_range;
typedef struct vk_block {
    VkDeviceMemory mem;
    VkDeviceSize   size;
    vk_range      *free;
    int32_t        n_free, cap_free;
    int32_t        n_live;
} vk_block;

/* A host-visible staging buffer (uploads are sub-allocated until the batch completes). */
typedef struct vk_stage {
    VkBuffer       buffer;
    VkDeviceMemory mem;
    void          *map;
    VkDeviceSize   size, used;
} vk_stage;

/* Bytes some command of the open batch reads or writes since the last barrier. */
typedef struct vk_access {
    VkBuffer     buffer;
    VkDeviceSize lo, hi;
    int          write;
} vk_access;

typedef struct vk_pipe {
    const uint32_t *code;
    uint32_t        n_spec;
    int32_t         spec[VK_MAX_SPEC];
    uint32_t        n_bind;
    VkPipeline      pipeline;
} vk_pipe;

typedef struct vk_dset {
    uint32_t        n_bind;     /* 0: empty slot */
    VkBuffer        buffer[VK_MAX_BINDINGS];
    VkDeviceSize    off[VK_MAX_BINDINGS], range[VK_MAX_BINDINGS];
    VkDescriptorSet set;
    int32_t         pool;
} vk_dset;

#define VK_MAX_ACCESS 512

/* GEXEC_VULKAN_PROFILE: GPU time per (shader, workgroup count), from a timestamp after every
 * command of a batch (commands are then serialized by a barrier each) */
#define VK_PROF_QUERIES 16384
#define VK_PROF_ROWS    512
typedef struct vk_prof_row {
    const char *name;
    uint32_t    groups;
    uint64_t    count;
    double      ns;
} vk_prof_row;
typedef struct vk_prof {
    VkQueryPool  pool;
    double       period_ns;          /* ns per timestamp tick                                */
    uint64_t     mask;               /* the queue's valid timestamp bits                      */
    uint32_t     n_q;                /* timestamps written in the open batch (0: the start)   */
    uint32_t     dropped;            /* commands past VK_PROF_QUERIES (not timed)             */
    const char  *label[VK_PROF_QUERIES];
    uint32_t     label_groups[VK_PROF_QUERIES];
    vk_prof_row  row[VK_PROF_ROWS];
    int32_t      n_row;
    uint64_t     n_batches;
    double       busy_ns;            /* first to last timestamp, summed over batches          */
    uint64_t     ts[VK_PROF_QUERIES]; /* a completed batch's timestamps                      */
} vk_prof;

typedef struct vk_ctx {
    const gx_host_api *api;
    vk_fns             vk;
    void              *loader;        /* dlopen handle of libvulkan.so.1 */
    VkInstance         instance;
    VkDebugUtilsMessengerEXT messenger;
    int                validation;
    volatile int       n_messages;    /* validation messages so far                         */
    int                n_messages_seen;
    VkPhysicalDevice   phys;
    VkPhysicalDeviceProperties props;
    VkPhysicalDeviceMemoryProperties mem_props;
    char               driver[160];
    int32_t            device_index;
    VkDevice           device;
    uint32_t           queue_family;
    VkQueue            queue;
    VkCommandPool      cmd_pool;
    VkCommandBuffer    cmd;
    VkFence            fence;
    VkPipelineCache    pipeline_cache;

    /* memory */
    uint32_t           device_type;   /* memory type index for buffers                     */
    uint32_t           upload_type, download_type;
    vk_block          *blocks;
    int32_t            n_blocks, cap_blocks;
    vk_stage          *uploads;
    int32_t            n_uploads, cap_uploads;
    vk_stage           download;

    /* recording */
    int                recording;     /* the command buffer is open                         */
    int                in_flight;     /* submitted, fence not yet waited on                 */
    int32_t            n_commands;    /* recorded into the open batch                       */
    vk_access          access[VK_MAX_ACCESS];
    int32_t            n_access;
    /* copies not yet recorded: consecutive vk_copy calls between the same two buffers that need
     * no barrier wait here, and are recorded together (vk-record.c, flush_copies): a run of
     * equally strided rows (a loop moves its [B, T, ...] slices row by row) as one dispatch */
    VkBuffer           pend_src, pend_dst;
    VkBufferCopy      *pend;
    int32_t            n_pend, cap_pend;
    uint64_t           n_barriers, n_dispatches, n_submits;
    vk_prof           *prof;          /* GEXEC_VULKAN_PROFILE, else NULL                    */

    /* pipelines and descriptors */
    VkDescriptorSetLayout set_layout[VK_MAX_BINDINGS + 1];
    VkPipelineLayout      pipe_layout[VK_MAX_BINDINGS + 1];
    vk_pipe           *pipes;
    int32_t            n_pipes, cap_pipes;
    vk_dset           *dsets;         /* open-addressing hash table                         */
    int32_t            n_dsets, cap_dsets;
    VkDescriptorPool  *pools;
    int32_t            n_pools, cap_pools, pool_left;
} vk_ctx;

/* vk-device.c */
int32_t   vk_probe_score(void);
gx_status vk_device_init(vk_ctx *c, const gx_host_api *api, gx_host *host);
void      vk_device_deinit(vk_ctx *c);
gx_status vk_check(vk_ctx *c, VkResult r, const char *what);   /* VK_SUCCESS -> GX_OK */

/* vk-memory.c */
gx_status vk_memory_init(vk_ctx *c);
void      vk_memory_deinit(vk_ctx *c);
gx_status vk_buffer_alloc(void *ctx, uint64_t bytes, void **buf);
void      vk_buffer_free(void *ctx, void *buf);
gx_status vk_write(void *ctx, void *buf, uint64_t offset, const void *src, uint64_t bytes);
gx_status vk_read(void *ctx, void *buf, uint64_t offset, void *dst, uint64_t bytes);
gx_status vk_read_many(void *ctx, int32_t n, void *const *bufs, const uint64_t *offsets,
                       void *const *dsts, const uint64_t *bytes);
gx_status vk_copy(void *ctx, void *dst, uint64_t dst_offset, void *src, uint64_t src_offset,
                  uint64_t bytes);
void      vk_stage_reset(vk_ctx *c);   /* the batch completed: staging space is free again */

/* vk-record.c */
gx_status vk_record_init(vk_ctx *c);
void      vk_record_deinit(vk_ctx *c);
gx_status vk_open(vk_ctx *c);          /* make sure a batch is recording                    */
gx_status vk_submit(void *ctx);
gx_status vk_sync(void *ctx);
gx_status vk_begin(void *ctx);
/* order a command with these accesses after the batch's earlier conflicting ones (a barrier
 * when one reads what an earlier one wrote, or writes what an earlier one read or wrote) */
void      vk_order(vk_ctx *c, const vk_access *acc, int32_t n);
/* record a buffer-to-buffer copy, joined with the pending ones when it can be */
gx_status vk_record_copy(vk_ctx *c, VkBuffer src, VkBuffer dst, const VkBufferCopy *region,
                         const vk_access acc[2]);
void      vk_forget_buffer(vk_ctx *c, VkBuffer buffer);   /* drop cached descriptor sets */
/* GEXEC_VULKAN_PROFILE: a timestamp after the command just recorded, labelled (name, groups) */
void      vk_prof_mark(vk_ctx *c, const char *name, uint32_t groups);
void      vk_prof_report(vk_ctx *c);   /* the table, on stderr */

#endif
