// Bindings of ports, every kind: vhost-user (createPort), VXLAN (createTunnel), uplink
// (createEthdevPort); destroy and info
// work on any kind.
#include "../ports/port.h"
#include <cstdio>
#include "../limits.h"
#include "../ports/ethdev.h"
#include "../ports/tunnel.h"
#include "../ports/vhost.h"
#include "../util/args.h"
#include "bindings.h"

namespace vhn {

namespace {

Napi::Value CreatePort(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  requireReady(env, "createPort");
  Napi::Object s = objectArg(info, 0, "createPort: spec");
  int bridge = (int)intIn(env, s.Get("bridge"), "createPort: spec.bridge", 0, kMaxBridges - 1);
  Napi::Value m = s.Get("mode");
  if (!m.IsString()) typeErr(env, "createPort: spec.mode must be the string 'client' or 'server'");
  std::string mode = m.As<Napi::String>().Utf8Value();
  if (mode != "client" && mode != "server") rangeErr(env, "createPort: spec.mode must be 'client' or 'server' (got '" + mode + "')");
  Napi::Value p = s.Get("path");
  if (!p.IsString()) typeErr(env, "createPort: spec.path must be a string");
  std::string path = p.As<Napi::String>().Utf8Value();
  return Napi::Number::New(env, guarded(env, [&] { return createVhostPort(bridge, mode == "client", path); }));
}

Napi::Value CreateTunnel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  requireReady(env, "createTunnel");
  Napi::Object o = objectArg(info, 0, "createTunnel: spec");
  TunnelSpec s{};
  s.bridge = (int)intIn(env, o.Get("bridge"), "createTunnel: spec.bridge", 0, kMaxBridges - 1);
  s.iface = strField(env, o, "iface", "createTunnel: spec.iface");
  s.localIp = ipv4Field(env, o, "localIp", "createTunnel: spec.localIp");
  s.remoteIp = ipv4Field(env, o, "remoteIp", "createTunnel: spec.remoteIp");
  macField(env, o, "localMac", "createTunnel: spec.localMac", s.localMac);
  macField(env, o, "remoteMac", "createTunnel: spec.remoteMac", s.remoteMac);
  s.vni = (uint32_t)intIn(env, o.Get("vni"), "createTunnel: spec.vni", 1, 16777215);
  s.udpPort = (uint16_t)intIn(env, o.Get("udpPort"), "createTunnel: spec.udpPort", 1, 65535);
  s.afXdp = o.Get("driver").IsString() && o.Get("driver").As<Napi::String>().Utf8Value() == "af_xdp";
  s.splitHorizon = o.Get("splitHorizon").IsUndefined() || boolField(env, o, "splitHorizon", "createTunnel: spec.splitHorizon");
  return Napi::Number::New(env, guarded(env, [&] { return createTunnel(s); }));
}

Napi::Value CreateEthdevPort(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  requireReady(env, "createEthdevPort");
  Napi::Object o = objectArg(info, 0, "createEthdevPort: spec");
  EthdevSpec s{};
  s.bridge = (int)intIn(env, o.Get("bridge"), "createEthdevPort: spec.bridge", 0, kMaxBridges - 1);
  s.devargs = strField(env, o, "devargs", "createEthdevPort: spec.devargs");
  Napi::Value mtu = o.Get("mtu");
  s.mtu = mtu.IsUndefined() ? 0 : (uint16_t)intIn(env, mtu, "createEthdevPort: spec.mtu", 68, 65535);
  return Napi::Number::New(env, guarded(env, [&] { return createEthdevPort(s); }));
}

Napi::Value DestroyPort(const Napi::CallbackInfo& info) {
  requireReady(info.Env(), "destroyPort");
  int port = idArg(info, 0, "destroyPort: port", kMaxPorts);
  guarded(info.Env(), [&] { destroyPort(port); });
  return info.Env().Undefined();
}

Napi::Object statsObject(Napi::Env env, const PortStatsView& s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("rxPackets", (double)s.rxPackets);
  o.Set("rxBytes", (double)s.rxBytes);
  o.Set("txPackets", (double)s.txPackets);
  o.Set("txBytes", (double)s.txBytes);
  o.Set("txDrops", (double)s.txDrops);
  static const char* const kReasonNames[kDropReasons] = {"ringFull", "mtuExceeded", "offloadUnsupported", "underlaySendFailure",
                                                         "macLimit", "malformed"};
  Napi::Object d = Napi::Object::New(env);
  for (int r = 0; r < kDropReasons; r++) d.Set(kReasonNames[r], (double)s.drops[r]);
  o.Set("drops", d);
  return o;
}

std::string hex(uint64_t v) {
  char b[24];
  snprintf(b, sizeof b, "0x%llx", (unsigned long long)v);
  return b;
}

Napi::Value SetPortMtu(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  requireReady(env, "setPortMtu");
  int port = idArg(info, 0, "setPortMtu: port", kMaxPorts);
  if (info.Length() < 2) typeErr(env, "setPortMtu: mtu is required (an integer)");
  uint32_t mtu = (uint32_t)intIn(env, info[1], "setPortMtu: mtu", 68, 9710);
  guarded(env, [&] { setPortMtu(port, mtu); });
  return env.Undefined();
}

Napi::Value PortInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  requireReady(env, "portInfo");
  int port = idArg(info, 0, "portInfo: port", kMaxPorts);
  PortInfoView v = guarded(env, [&] { return portInfo(port); });
  Napi::Object o = Napi::Object::New(env);
  o.Set("connected", v.connected);
  o.Set("socketReady", v.socketReady);
  o.Set("vringsEnabled", v.vringsEnabled);
  o.Set("vringsTotal", v.vringsTotal);
  o.Set("queuePairs", v.queuePairs);
  o.Set("offeredFeatures", hex(v.offered));
  o.Set("negotiatedFeatures", hex(v.negotiated));
  o.Set("mtu", v.mtu);
  if (v.guestMtu) o.Set("guestMtu", v.guestMtu);
  if (v.underlayMtu) o.Set("underlayMtu", v.underlayMtu);
  if (!v.underlayDriver.empty()) o.Set("underlayDriver", v.underlayDriver);
  if (!v.underlayFallback.empty()) o.Set("underlayFallback", v.underlayFallback);
  if (v.hasDevice) {
    Napi::Object d = Napi::Object::New(env);
    d.Set("rxMissed", (double)v.devRxMissed);
    d.Set("rxErrors", (double)v.devRxErrors);
    d.Set("rxNoMbuf", (double)v.devRxNoMbuf);
    d.Set("txErrors", (double)v.devTxErrors);
    if (v.hasKernel) {
      d.Set("kernelRxDropped", (double)v.kernelRxDropped);
      d.Set("kernelTxDropped", (double)v.kernelTxDropped);
    }
    o.Set("device", d);
  }
  o.Set("stats", statsObject(env, v.total));
  Napi::Array qs = Napi::Array::New(env, v.queues.size());
  for (size_t i = 0; i < v.queues.size(); i++) qs.Set((uint32_t)i, statsObject(env, v.queues[i]));
  o.Set("queues", qs);
  return o;
}

}  // namespace

void definePorts(Napi::Env env, Napi::Object exports) {
  exports.Set("createPort", Napi::Function::New(env, CreatePort, "createPort"));
  exports.Set("createTunnel", Napi::Function::New(env, CreateTunnel, "createTunnel"));
  exports.Set("createEthdevPort", Napi::Function::New(env, CreateEthdevPort, "createEthdevPort"));
  exports.Set("destroyPort", Napi::Function::New(env, DestroyPort, "destroyPort"));
  exports.Set("portInfo", Napi::Function::New(env, PortInfo, "portInfo"));
  exports.Set("setPortMtu", Napi::Function::New(env, SetPortMtu, "setPortMtu"));
}

}  // namespace vhn
