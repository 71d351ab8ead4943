/*
 * loader.c: finding, opening and admitting plugins. Every platform-specific call (dlopen,
 * dladdr, scandir) lives here. Each refusal is one line naming the file and the reason.
 */
#define _GNU_SOURCE /* dladdr */
#include "registry-impl.h"
#include "util.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void gx_registry_unload_plugin(gx_registry *r, int i) {
    gx_plugin_rec *p = &r->plugins[i];
    if (p->unload) p->unload();
    p->unload = NULL;
    /* under AddressSanitizer keep plugins mapped: leak reports then name real symbols */
#if !defined(__SANITIZE_ADDRESS__)
    if (p->handle) dlclose(p->handle);
#endif
    p->handle = NULL;
}

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

gx_status gx_registry_load_file(gx_registry *r, const char *path, gx_diag *d) {
    const char *file = base_name(path);
    struct stat sb;
    if (stat(path, &sb) != 0)
        return gx_diag_set(d, GX_ERR_PLUGIN, "plugin '%s' refused: %s", path, strerror(errno));
    for (int i = 0; i < r->n_plugins; i++)
        if (strcmp(r->plugins[i].path, path) == 0)
            return gx_diag_set(d, GX_ERR_DUPLICATE, "plugin '%s' refused: already loaded", path);

    dlerror();
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        const char *e = dlerror();
        return gx_diag_set(d, GX_ERR_PLUGIN, "plugin '%s' refused: cannot load: %s", file,
                           e ? e : "unknown dlopen error");
    }
    dlerror();
    void *sym = dlsym(h, GX_PLUGIN_ENTRY_SYMBOL);
    const char *e = dlerror();
    if (e != NULL || sym == NULL) {
        dlclose(h);
        return gx_diag_set(d, GX_ERR_PLUGIN, "plugin '%s' refused: no entry point %s", file,
                           GX_PLUGIN_ENTRY_SYMBOL);
    }
    gx_plugin_entry_fn entry;
    memcpy(&entry, &sym, sizeof entry); /* object pointer to function pointer, POSIX-style */

    gx_plugin_rec *recs = gx_grow(r->plugins, &r->cap_plugins, r->n_plugins + 1, sizeof *recs);
    if (recs == NULL) {
        dlclose(h);
        return gx_diag_set(d, GX_ERR_NOMEM, "plugin '%s' refused: out of memory", file);
    }
    r->plugins = recs;
    int idx = r->n_plugins;
    gx_plugin_rec *rec = &r->plugins[idx];
    memset(rec, 0, sizeof *rec);
    rec->path = gx_strdup(path);
    rec->handle = h;
    r->n_plugins++;

    gx_diag local;
    gx_diag_init(&local);
    gx_host host;
    gx_host_init(&host, r, &local, (gx_srcpos){0});
    host.plugin = idx;
    gx_plugin_info info;
    memset(&info, 0, sizeof info);
    gx_status st_entry = entry(gx_registry_api(), &host, &info);

    gx_status st = GX_OK;
    if (info.abi_version != GX_ABI_VERSION) {
        st = gx_diag_set(d, GX_ERR_ABI, "plugin '%s' refused: built for ABI %u, engine has ABI %u",
                         file, (unsigned)info.abi_version, (unsigned)GX_ABI_VERSION);
    } else if (st_entry != GX_OK) {
        st = gx_diag_set(d, st_entry == GX_ERR_DUPLICATE ? GX_ERR_DUPLICATE : GX_ERR_PLUGIN,
                         "plugin '%s' refused: its entry point failed (%s)%s%s", file,
                         gx_status_name(st_entry), local.status ? ": " : "",
                         local.status ? local.msg + strlen("error: ") : "");
    } else if (rec->path == NULL) {
        st = gx_diag_set(d, GX_ERR_NOMEM, "plugin '%s' refused: out of memory", file);
    }
    if (st != GX_OK) {
        gx_registry_rollback(r, idx);
        /* info.unload is not called: the plugin's entry did not complete */
        dlclose(h);
        gx_free(rec->path);
        r->n_plugins--;
        return st;
    }
    rec->name = gx_strdup(info.name ? info.name : file);
    rec->version = gx_strdup(info.version ? info.version : "?");
    rec->unload = info.unload;
    if (rec->name == NULL || rec->version == NULL) {
        gx_registry_rollback(r, idx);
        gx_free(rec->name);
        gx_free(rec->version);
        gx_registry_unload_plugin(r, idx);
        gx_free(rec->path);
        r->n_plugins--;
        return gx_diag_set(d, GX_ERR_NOMEM, "plugin '%s' refused: out of memory", file);
    }
    return GX_OK;
}

static int plugin_filter(const struct dirent *e) {
    size_t n = strlen(e->d_name);
    return n > 6 && strncmp(e->d_name, "gx-", 3) == 0 && strcmp(e->d_name + n - 3, ".so") == 0;
}

gx_status gx_registry_load_dir(gx_registry *r, const char *dir, int *n_refused, gx_diag *d) {
    struct dirent **list = NULL;
    int n = scandir(dir, &list, plugin_filter, alphasort);
    if (n < 0) return GX_OK; /* a missing directory just has no plugins */
    int refused = 0;
    for (int i = 0; i < n; i++) {
        char path[PATH_MAX];
        int k = snprintf(path, sizeof path, "%s/%s", dir, list[i]->d_name);
        free(list[i]);   /* scandir allocates with malloc */
        if (k <= 0 || (size_t)k >= sizeof path) continue;
        gx_diag one;
        gx_diag_init(&one);
        if (gx_registry_load_file(r, path, &one) != GX_OK) {
            refused++;
            gx_registry_log(r, GX_LOG_WARN, "%s", one.msg + strlen("error: "));
        }
    }
    free(list);
    if (n_refused) *n_refused += refused;
    (void)d;
    return GX_OK;
}

const char *gx_registry_builtin_dir(void) {
    static char dir[PATH_MAX];
    if (dir[0]) return dir;
    Dl_info info;
    /* libgexec's own file: plugins sit in gexec/plugins beside it, in the build tree and the
     * install tree alike (see CMakeLists.txt) */
    if (dladdr((void *)&gx_registry_builtin_dir, &info) == 0 || info.dli_fname == NULL) return NULL;
    char self[PATH_MAX];
    if (realpath(info.dli_fname, self) == NULL) return NULL;
    char *slash = strrchr(self, '/');
    if (slash == NULL) return NULL;
    *slash = '\0';
    static const char suffix[] = "/gexec/plugins";
    size_t len = strlen(self);
    if (len + sizeof suffix > sizeof dir) return NULL;
    memcpy(dir, self, len);
    memcpy(dir + len, suffix, sizeof suffix);
    return dir;
}

gx_status gx_registry_load_default(gx_registry *r, int *n_refused, gx_diag *d) {
    const char *builtin = gx_registry_builtin_dir();
    gx_status st = GX_OK;
    if (builtin) st = gx_registry_load_dir(r, builtin, n_refused, d);
    if (st != GX_OK) return st;
    const char *env = getenv("GEXEC_PLUGIN_PATH");
    if (env == NULL || *env == '\0') return GX_OK;
    char *copy = gx_strdup(env);
    if (copy == NULL) return gx_diag_set(d, GX_ERR_NOMEM, "out of memory");
    char *save = NULL;
    for (char *tok = strtok_r(copy, ":", &save); tok; tok = strtok_r(NULL, ":", &save)) {
        struct stat sb;
        if (stat(tok, &sb) == 0 && S_ISREG(sb.st_mode)) {
            /* a file in the path is loaded as one plugin */
            gx_diag one;
            gx_diag_init(&one);
            if (gx_registry_load_file(r, tok, &one) != GX_OK) {
                if (n_refused) (*n_refused)++;
                gx_registry_log(r, GX_LOG_WARN, "%s", one.msg + strlen("error: "));
            }
        } else {
            st = gx_registry_load_dir(r, tok, n_refused, d);
            if (st != GX_OK) break;
        }
    }
    gx_free(copy);
    return st;
}
