// The addon's module: registers the bindings (src/bindings/, one file per object) and the
// clean-up hook that stops the datapath with the environment.
#include <napi.h>
#include "bindings/bindings.h"
#include "eal.h"

namespace {

// PMD threads must not outlive the environment (they would run into freed state at exit).
void cleanupHook(void*) { vhn::datapathShutdown(); }

Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  vhn::defineDatapath(env, exports);
  vhn::defineBridges(env, exports);
  vhn::definePorts(env, exports);
  napi_add_env_cleanup_hook(env, cleanupHook, nullptr);
  return exports;
}

}  // namespace

NODE_API_MODULE(vhostnet_datapath, InitModule)
