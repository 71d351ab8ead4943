/* (c) An entry point that fails with a message of its own (say, a device library is missing);
 * the refusal line must carry that message. */
#include <gexec/plugin.h>

GX_PLUGIN_ENTRY(bad_fails, "0.0.1") {
    return api->set_error(host, GX_ERR_UNSUPPORTED, "libfrobnicate.so.3 not found");
}
