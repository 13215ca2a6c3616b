// The N-API bindings, one file per object of the datapath; each adds its functions to exports.
#pragma once
#include <napi.h>

namespace vhn {

void defineDatapath(Napi::Env env, Napi::Object exports);  // bindings/datapath.cpp: init, pmdStats, setPmdMaxSleep, shutdown
void defineBridges(Napi::Env env,
                   Napi::Object exports);  // bindings/bridge.cpp: createBridge, destroyBridge, setFdbAging, setFdbPortLimit, fdb, fdbStats
void definePorts(Napi::Env env, Napi::Object exports);  // bindings/port.cpp: createPort, createTunnel, destroyPort, portInfo

}  // namespace vhn
