/*
 * vk-device.c: the Vulkan loader, instance, device and queue.
 *
 * The loader is opened with dlopen at run time, so the plugin has no link-time dependency on
 * libvulkan: where there is no loader, or no device, score() says 0 and the engine skips the
 * backend with a message, and `--backend vulkan` says why. The device is chosen by index
 * (`--device N`, or GEXEC_VULKAN_DEVICE) or else by type: a discrete GPU over an integrated one
 * over a virtual one over a CPU implementation (lavapipe).
 * GEXEC_VULKAN_VALIDATION=1 turns on the Khronos validation layer with a messenger that prints
 * each message and counts it; sync() then fails the batch, so a test cannot pass with one.
 */
#define _GNU_SOURCE /* RTLD_NODELETE */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk-impl.h"

gx_status vk_check(vk_ctx *c, VkResult r, const char *what) {
    (void)c;
    if (r == VK_SUCCESS) return GX_OK;
    fprintf(stderr, "gexec: vulkan: %s failed (VkResult %d)\n", what, (int)r);
    return r == VK_ERROR_OUT_OF_HOST_MEMORY || r == VK_ERROR_OUT_OF_DEVICE_MEMORY ? GX_ERR_NOMEM
                                                                                 : GX_ERR_BACKEND;
}

static void *open_loader(void) {
    void *h = dlopen("libvulkan.so.1", RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) h = dlopen("libvulkan.so", RTLD_NOW | RTLD_LOCAL);
    return h;
}

static int load_global(vk_fns *f, void *loader) {
    f->GetInstanceProcAddr = (PFN_vkGetInstanceProcAddr)(uintptr_t)dlsym(loader, "vkGetInstanceProcAddr");
    if (f->GetInstanceProcAddr == NULL) return 0;
    f->CreateInstance = (PFN_vkCreateInstance)(uintptr_t)f->GetInstanceProcAddr(NULL, "vkCreateInstance");
    f->EnumerateInstanceLayerProperties = (PFN_vkEnumerateInstanceLayerProperties)(uintptr_t)
        f->GetInstanceProcAddr(NULL, "vkEnumerateInstanceLayerProperties");
    return f->CreateInstance != NULL && f->EnumerateInstanceLayerProperties != NULL;
}

static int load_instance(vk_fns *f, VkInstance in) {
    int ok = 1;
#define VK_LOAD_I(name) \
    ok &= (f->name = (PFN_vk##name)(uintptr_t)f->GetInstanceProcAddr(in, "vk" #name)) != NULL;
    VK_INSTANCE_FNS(VK_LOAD_I)
#undef VK_LOAD_I
    f->CreateDebugUtilsMessengerEXT = (PFN_vkCreateDebugUtilsMessengerEXT)(uintptr_t)
        f->GetInstanceProcAddr(in, "vkCreateDebugUtilsMessengerEXT");
    f->DestroyDebugUtilsMessengerEXT = (PFN_vkDestroyDebugUtilsMessengerEXT)(uintptr_t)
        f->GetInstanceProcAddr(in, "vkDestroyDebugUtilsMessengerEXT");
    return ok;
}

static int load_device(vk_fns *f, VkDevice dev) {
    int ok = 1;
#define VK_LOAD_D(name) \
    ok &= (f->name = (PFN_vk##name)(uintptr_t)f->GetDeviceProcAddr(dev, "vk" #name)) != NULL;
    VK_DEVICE_FNS(VK_LOAD_D)
#undef VK_LOAD_D
    return ok;
}

/* Under LeakSanitizer, lavapipe's one-time allocations look leaked once the loader dlcloses
 * the driver at vkDestroyInstance (the global that holds them is gone): keep it loaded. */
static void pin_driver(void) {
#if defined(__SANITIZE_ADDRESS__)
    dlopen("libvulkan_lvp.so", RTLD_LAZY | RTLD_NOLOAD | RTLD_NODELETE);
#endif
}

static VkResult create_instance(vk_fns *f, int validation, VkInstance *out) {
    VkApplicationInfo app = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
                             .pApplicationName = "gexec", .pEngineName = "gexec",
                             .apiVersion = VK_API_VERSION_1_1};
    const char *layers[] = {"VK_LAYER_KHRONOS_validation"};
    const char *exts[] = {VK_EXT_DEBUG_UTILS_EXTENSION_NAME};
    VkInstanceCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
                               .pApplicationInfo = &app};
    if (validation) {
        ci.enabledLayerCount = 1;
        ci.ppEnabledLayerNames = layers;
        ci.enabledExtensionCount = 1;
        ci.ppEnabledExtensionNames = exts;
    }
    VkResult r = f->CreateInstance(&ci, NULL, out);
    if (r == VK_SUCCESS) pin_driver();
    return r;
}

static int32_t type_score(VkPhysicalDeviceType t) {
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:   return 40;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 30;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:    return 20;
    /* a CPU implementation works, but cpu-sleef (10) is far faster on the same cores */
    case VK_PHYSICAL_DEVICE_TYPE_CPU:            return 5;
    default:                                     return 3;
    }
}

static int has_compute_queue(vk_fns *f, VkPhysicalDevice p, uint32_t *family) {
    uint32_t n = 0;
    f->GetPhysicalDeviceQueueFamilyProperties(p, &n, NULL);
    VkQueueFamilyProperties q[32];
    if (n > 32) n = 32;
    f->GetPhysicalDeviceQueueFamilyProperties(p, &n, q);
    /* a compute queue without graphics first: on GPUs that is the asynchronous compute one */
    for (int pass = 0; pass < 2; pass++)
        for (uint32_t i = 0; i < n; i++)
            if ((q[i].queueFlags & VK_QUEUE_COMPUTE_BIT) &&
                (pass == 1 || !(q[i].queueFlags & VK_QUEUE_GRAPHICS_BIT))) {
                *family = i;
                return 1;
            }
    return 0;
}

/* Pick a device: `want` >= 0 is an index into the instance's list; else the best type. */
static int pick_device(vk_fns *f, VkInstance in, int32_t want, VkPhysicalDevice *out,
                       int32_t *index, int32_t *score) {
    uint32_t n = 0;
    if (f->EnumeratePhysicalDevices(in, &n, NULL) != VK_SUCCESS || n == 0) return 0;
    VkPhysicalDevice devs[16];
    if (n > 16) n = 16;
    if (f->EnumeratePhysicalDevices(in, &n, devs) < 0) return 0;
    int32_t best = -1, best_score = 0;
    for (uint32_t i = 0; i < n; i++) {
        VkPhysicalDeviceProperties p;
        f->GetPhysicalDeviceProperties(devs[i], &p);
        uint32_t fam;
        if (!has_compute_queue(f, devs[i], &fam)) continue;
        int32_t s = type_score(p.deviceType);
        if (want >= 0 ? (int32_t)i == want : s > best_score) {
            best = (int32_t)i;
            best_score = s;
        }
    }
    if (best < 0) return 0;
    *out = devs[best];
    *index = best;
    *score = best_score;
    return 1;
}

static int32_t wanted_device(const gx_host_api *api, gx_host *host) {
    const int32_t *ext = api && api->get_extension ? api->get_extension(host, GX_EXT_DEVICE) : NULL;
    if (ext != NULL && *ext >= 0) return *ext;
    const char *env = getenv("GEXEC_VULKAN_DEVICE");
    if (env != NULL && *env) {
        char *end;
        long v = strtol(env, &end, 10);
        if (*end == '\0' && v >= 0 && v < 1000) return (int32_t)v;
    }
    return -1;
}

/* One probe per process: is there a loader and a device, and how good is the best one? */
int32_t vk_probe_score(void) {
    static int32_t cached = -1;
    if (cached >= 0) return cached;
    cached = 0;
    vk_fns f = {0};
    void *loader = open_loader();
    if (loader == NULL) return 0;
    VkInstance in = VK_NULL_HANDLE;
    if (load_global(&f, loader) && create_instance(&f, 0, &in) == VK_SUCCESS) {
        VkPhysicalDevice p;
        int32_t idx, s;
        if (load_instance(&f, in) && pick_device(&f, in, -1, &p, &idx, &s)) cached = s;
        f.DestroyInstance(in, NULL);
    }
    dlclose(loader);
    return cached;
}

static VKAPI_ATTR VkBool32 VKAPI_CALL on_message(VkDebugUtilsMessageSeverityFlagBitsEXT sev,
                                                 VkDebugUtilsMessageTypeFlagsEXT type,
                                                 const VkDebugUtilsMessengerCallbackDataEXT *data,
                                                 void *user) {
    (void)type;
    vk_ctx *c = user;
    if (sev < VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT) return VK_FALSE;
    c->n_messages++;
    fprintf(stderr, "vulkan validation: %s\n", data && data->pMessage ? data->pMessage : "?");
    return VK_FALSE;
}

static int env_on(const char *name) {
    const char *v = getenv(name);
    return v != NULL && *v && strcmp(v, "0") != 0;
}

static int has_layer(vk_fns *f, const char *name) {
    uint32_t n = 0;
    if (f->EnumerateInstanceLayerProperties(&n, NULL) != VK_SUCCESS) return 0;
    VkLayerProperties *l = calloc(n + 1, sizeof *l);
    int found = 0;
    if (l && f->EnumerateInstanceLayerProperties(&n, l) >= 0)
        for (uint32_t i = 0; i < n; i++) found |= strcmp(l[i].layerName, name) == 0;
    free(l);
    return found;
}

gx_status vk_device_init(vk_ctx *c, const gx_host_api *api, gx_host *host) {
    c->loader = open_loader();
    if (c->loader == NULL)
        return api->set_error(host, GX_ERR_BACKEND, "no Vulkan loader (libvulkan.so.1): install "
                              "libvulkan1 and a driver (mesa-vulkan-drivers for lavapipe)");
    if (!load_global(&c->vk, c->loader))
        return api->set_error(host, GX_ERR_BACKEND, "the Vulkan loader lacks vkGetInstanceProcAddr");
    c->validation = env_on("GEXEC_VULKAN_VALIDATION");
    if (c->validation && !has_layer(&c->vk, "VK_LAYER_KHRONOS_validation"))
        return api->set_error(host, GX_ERR_BACKEND, "GEXEC_VULKAN_VALIDATION is set but the "
                              "validation layer is not installed (vulkan-validationlayers)");
    VkResult r = create_instance(&c->vk, c->validation, &c->instance);
    if (r != VK_SUCCESS)
        return api->set_error(host, GX_ERR_BACKEND, "vkCreateInstance failed (VkResult %d%s)",
                              (int)r, r == VK_ERROR_INCOMPATIBLE_DRIVER ? ": no Vulkan driver" : "");
    if (!load_instance(&c->vk, c->instance))
        return api->set_error(host, GX_ERR_BACKEND, "the Vulkan loader lacks instance functions");
    if (c->validation && c->vk.CreateDebugUtilsMessengerEXT) {
        VkDebugUtilsMessengerCreateInfoEXT mi = {
            .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
            .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                               VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
            .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
            .pfnUserCallback = on_message, .pUserData = c};
        GX_TRY(vk_check(c, c->vk.CreateDebugUtilsMessengerEXT(c->instance, &mi, NULL, &c->messenger),
                        "vkCreateDebugUtilsMessengerEXT"));
    }
    int32_t want = wanted_device(api, host), score = 0;
    if (!pick_device(&c->vk, c->instance, want, &c->phys, &c->device_index, &score))
        return want >= 0 ? api->set_error(host, GX_ERR_BACKEND, "no Vulkan device %d with a compute "
                                          "queue (see `gexec plugins`)", (int)want)
                         : api->set_error(host, GX_ERR_BACKEND, "no Vulkan device with a compute queue");
    c->vk.GetPhysicalDeviceProperties(c->phys, &c->props);
    c->vk.GetPhysicalDeviceMemoryProperties(c->phys, &c->mem_props);
    VkPhysicalDeviceDriverProperties drv = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &drv};
    c->vk.GetPhysicalDeviceProperties2(c->phys, &p2);
    snprintf(c->driver, sizeof c->driver, "%.60s %.90s", drv.driverName[0] ? drv.driverName : "driver",
             drv.driverInfo);
    has_compute_queue(&c->vk, c->phys, &c->queue_family);
    float prio = 1.0f;
    VkDeviceQueueCreateInfo qi = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
                                  .queueFamilyIndex = c->queue_family, .queueCount = 1,
                                  .pQueuePriorities = &prio};
    VkDeviceCreateInfo di = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
                             .queueCreateInfoCount = 1, .pQueueCreateInfos = &qi};
    GX_TRY(vk_check(c, c->vk.CreateDevice(c->phys, &di, NULL, &c->device), "vkCreateDevice"));
    if (!load_device(&c->vk, c->device))
        return api->set_error(host, GX_ERR_BACKEND, "the Vulkan driver lacks device functions");
    c->vk.GetDeviceQueue(c->device, c->queue_family, 0, &c->queue);
    return GX_OK;
}

void vk_device_deinit(vk_ctx *c) {
    if (c->device) c->vk.DestroyDevice(c->device, NULL);
    if (c->messenger && c->vk.DestroyDebugUtilsMessengerEXT)
        c->vk.DestroyDebugUtilsMessengerEXT(c->instance, c->messenger, NULL);
    if (c->instance) c->vk.DestroyInstance(c->instance, NULL);
    if (c->loader) dlclose(c->loader);
}
