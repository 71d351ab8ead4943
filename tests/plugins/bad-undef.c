/* A plugin with an unresolved symbol (built without -z defs on purpose): dlopen with RTLD_NOW
 * fails, and the loader must report dlerror's reason as a "cannot load" refusal. */
#include <gexec/plugin.h>

/* defined nowhere */
extern int gx_test_symbol_that_does_not_exist(void);

GX_PLUGIN_ENTRY(bad_undef, "0.0.1") {
    (void)api;
    (void)host;
    return gx_test_symbol_that_does_not_exist() ? GX_OK : GX_ERR_PLUGIN;
}
