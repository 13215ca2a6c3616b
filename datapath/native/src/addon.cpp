// N-API bindings: argument checks (TypeError for a wrong type, RangeError for a value out of
// range, each naming the argument and the rule) and conversion to/from the core's types.
#include <cmath>
#include <cstdio>
#include <set>
#include <arpa/inet.h>
#include <unistd.h>
#include <napi.h>
#include "control.h"
#include "datapath.h"
#include "eal.h"
#include "errors.h"
#include "port.h"
#include "tunnel.h"

using namespace vhn;

namespace {

[[noreturn]] void typeErr(Napi::Env env, const std::string& m) { throw Napi::TypeError::New(env, m); }
[[noreturn]] void rangeErr(Napi::Env env, const std::string& m) { throw Napi::RangeError::New(env, m); }

// Runs a core call, mapping its errors onto JS error classes.
template <typename F>
auto guarded(Napi::Env env, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const RangeErr& e) {
    rangeErr(env, e.what());
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

void requireReady(Napi::Env env, const char* fn) {
  if (!g.initialised) throw Napi::Error::New(env, std::string(fn) + ": init() has not been called");
  if (g.shutDown) throw Napi::Error::New(env, std::string(fn) + ": the datapath has been shut down");
}

int64_t intIn(Napi::Env env, const Napi::Value& v, const std::string& name, int64_t lo, int64_t hi) {
  if (!v.IsNumber()) typeErr(env, name + " must be an integer");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d) typeErr(env, name + " must be an integer");
  if (d < (double)lo || d > (double)hi)
    rangeErr(env,
             name + " must be between " + std::to_string(lo) + " and " + std::to_string(hi) + " (got " + std::to_string((int64_t)d) + ")");
  return (int64_t)d;
}

bool boolField(Napi::Env env, const Napi::Object& o, const std::string& key, const std::string& name) {
  Napi::Value v = o.Get(key);
  if (!v.IsBoolean()) typeErr(env, name + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

std::vector<int> cpuArray(Napi::Env env, const Napi::Object& o, const std::string& key, const std::string& name) {
  Napi::Value v = o.Get(key);
  if (!v.IsArray()) typeErr(env, name + " must be a non-empty array of CPU numbers");
  Napi::Array a = v.As<Napi::Array>();
  if (a.Length() == 0) rangeErr(env, name + " must list at least one CPU");
  long ncpu = sysconf(_SC_NPROCESSORS_CONF);
  std::vector<int> out;
  std::set<int> seen;
  for (uint32_t i = 0; i < a.Length(); i++) {
    int c = (int)intIn(env, a.Get(i), name + "[" + std::to_string(i) + "]", 0, ncpu - 1);
    if (!seen.insert(c).second) rangeErr(env, name + "[" + std::to_string(i) + "]: CPU " + std::to_string(c) + " is listed twice");
    out.push_back(c);
  }
  return out;
}

Napi::Object objectArg(const Napi::CallbackInfo& info, size_t i, const std::string& name) {
  if (info.Length() <= i || !info[i].IsObject() || info[i].IsArray()) typeErr(info.Env(), name + " must be an object");
  return info[i].As<Napi::Object>();
}

int idArg(const Napi::CallbackInfo& info, size_t i, const std::string& name, int max) {
  if (info.Length() <= i) typeErr(info.Env(), name + " is required (an integer id)");
  return (int)intIn(info.Env(), info[i], name, 0, max - 1);
}

Napi::Value InitEal(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = objectArg(info, 0, "init: opts");
  EalOptions e;
  Napi::Value fp = o.Get("filePrefix");
  if (!fp.IsString()) typeErr(env, "init: opts.filePrefix must be a string");
  e.filePrefix = fp.As<Napi::String>().Utf8Value();
  if (e.filePrefix.empty() || e.filePrefix.size() > 64 ||
      e.filePrefix.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != std::string::npos)
    rangeErr(env, "init: opts.filePrefix must be 1..64 characters of [A-Za-z0-9_.-]");
  e.mainCpus = cpuArray(env, o, "mainCpus", "init: opts.mainCpus");
  e.pmdCpus = cpuArray(env, o, "pmdCpus", "init: opts.pmdCpus");
  if (e.pmdCpus.size() > (size_t)kMaxPmds - 1)
    rangeErr(env, "init: opts.pmdCpus must list at most " + std::to_string(kMaxPmds - 1) + " CPUs");
  e.hugepages = boolField(env, o, "hugepages", "init: opts.hugepages");
  e.memoryMb = (uint32_t)intIn(env, o.Get("memoryMb"), "init: opts.memoryMb", 32, 1 << 20);
  e.iommuSupport = boolField(env, o, "iommuSupport", "init: opts.iommuSupport");
  e.pmdMaxSleepUs = (uint32_t)intIn(env, o.Get("pmdMaxSleepUs"), "init: opts.pmdMaxSleepUs", 0, 10000);
  Napi::Value x = o.Get("extraArgs");
  if (!x.IsUndefined()) {
    if (!x.IsArray()) typeErr(env, "init: opts.extraArgs must be an array of strings");
    Napi::Array a = x.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) {
      Napi::Value s = a.Get(i);
      if (!s.IsString()) typeErr(env, "init: opts.extraArgs[" + std::to_string(i) + "] must be a string");
      e.extraArgs.push_back(s.As<Napi::String>().Utf8Value());
    }
  }
  InitResult r = guarded(env, [&] { return ealInit(e); });
  Napi::Object out = Napi::Object::New(env);
  out.Set("lcores", r.lcores);
  out.Set("pmds", r.pmds);
  out.Set("tscHz", (double)r.tscHz);
  return out;
}

Napi::Value CreateBridge(const Napi::CallbackInfo& info) {
  requireReady(info.Env(), "createBridge");
  return Napi::Number::New(info.Env(), guarded(info.Env(), [] { return createBridge(); }));
}

Napi::Value DestroyBridge(const Napi::CallbackInfo& info) {
  requireReady(info.Env(), "destroyBridge");
  int b = idArg(info, 0, "destroyBridge: bridge", kMaxBridges);
  guarded(info.Env(), [&] { destroyBridge(b); });
  return info.Env().Undefined();
}

Napi::Value SetFdbAging(const Napi::CallbackInfo& info) {
  requireReady(info.Env(), "setFdbAging");
  int b = idArg(info, 0, "setFdbAging: bridge", kMaxBridges);
  if (info.Length() < 2) typeErr(info.Env(), "setFdbAging: seconds is required (an integer)");
  uint32_t s = (uint32_t)intIn(info.Env(), info[1], "setFdbAging: seconds", 1, 1000000);
  guarded(info.Env(), [&] { setFdbAging(b, s); });
  return info.Env().Undefined();
}

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
  return Napi::Number::New(env, guarded(env, [&] { return createPort(bridge, mode == "client", path); }));
}

std::string strField(Napi::Env env, const Napi::Object& o, const std::string& key, const std::string& name) {
  Napi::Value v = o.Get(key);
  if (!v.IsString()) typeErr(env, name + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

uint32_t ipv4Field(Napi::Env env, const Napi::Object& o, const std::string& key, const std::string& name) {
  std::string s = strField(env, o, key, name);
  in_addr a{};
  if (inet_pton(AF_INET, s.c_str(), &a) != 1) rangeErr(env, name + " must be an IPv4 address like 192.0.2.1 (got '" + s + "')");
  return a.s_addr;  // network order
}

void macField(Napi::Env env, const Napi::Object& o, const std::string& key, const std::string& name, uint8_t out[6]) {
  std::string s = strField(env, o, key, name);
  unsigned b[6];
  char tail;
  if (sscanf(s.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &tail) != 6 || s.size() != 17)
    rangeErr(env, name + " must be a MAC address like 02:00:00:00:00:01 (got '" + s + "')");
  if (b[0] & 1) rangeErr(env, name + " must be a unicast MAC (got '" + s + "')");
  for (int i = 0; i < 6; i++) out[i] = (uint8_t)b[i];
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
  return Napi::Number::New(env, guarded(env, [&] { return createTunnel(s); }));
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
  return o;
}

std::string hex(uint64_t v) {
  char b[24];
  snprintf(b, sizeof b, "0x%llx", (unsigned long long)v);
  return b;
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
  o.Set("stats", statsObject(env, v.total));
  Napi::Array qs = Napi::Array::New(env, v.queues.size());
  for (size_t i = 0; i < v.queues.size(); i++) qs.Set((uint32_t)i, statsObject(env, v.queues[i]));
  o.Set("queues", qs);
  return o;
}

Napi::Value Fdb(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  requireReady(env, "fdb");
  int b = idArg(info, 0, "fdb: bridge", kMaxBridges);
  auto entries = guarded(env, [&] { return fdbEntries(b); });
  Napi::Array a = Napi::Array::New(env, entries.size());
  for (size_t i = 0; i < entries.size(); i++) {
    char mac[18];
    uint64_t m = entries[i].mac;  // wire bytes, little-endian
    snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", (unsigned)(m & 0xff), (unsigned)(m >> 8 & 0xff), (unsigned)(m >> 16 & 0xff),
             (unsigned)(m >> 24 & 0xff), (unsigned)(m >> 32 & 0xff), (unsigned)(m >> 40 & 0xff));
    Napi::Object e = Napi::Object::New(env);
    e.Set("mac", mac);
    e.Set("port", entries[i].port);
    e.Set("ageSeconds", entries[i].age);
    a.Set((uint32_t)i, e);
  }
  return a;
}

Napi::Value PmdStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  requireReady(env, "pmdStats");
  auto v = pmdStats();
  Napi::Array a = Napi::Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("cpu", v[i].cpu);
    o.Set("lcore", v[i].lcore);
    o.Set("busyCycles", (double)v[i].busyCycles);
    o.Set("idleCycles", (double)v[i].idleCycles);
    o.Set("packets", (double)v[i].packets);
    Napi::Array q = Napi::Array::New(env, v[i].rxQueues.size());
    for (size_t j = 0; j < v[i].rxQueues.size(); j++) {
      Napi::Object r = Napi::Object::New(env);
      r.Set("port", v[i].rxQueues[j].first);
      r.Set("queue", v[i].rxQueues[j].second);
      q.Set((uint32_t)j, r);
    }
    o.Set("rxQueues", q);
    a.Set((uint32_t)i, o);
  }
  return a;
}

Napi::Value SetPmdMaxSleep(const Napi::CallbackInfo& info) {
  requireReady(info.Env(), "setPmdMaxSleep");
  if (info.Length() < 1) typeErr(info.Env(), "setPmdMaxSleep: us is required (an integer)");
  setPmdMaxSleep((uint32_t)intIn(info.Env(), info[0], "setPmdMaxSleep: us", 0, 10000));
  return info.Env().Undefined();
}

Napi::Value Shutdown(const Napi::CallbackInfo& info) {
  guarded(info.Env(), [] { datapathShutdown(); });
  return info.Env().Undefined();
}

// PMD threads must not outlive the environment (they would run into freed state at exit).
void cleanupHook(void*) { datapathShutdown(); }

Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  exports.Set("init", Napi::Function::New(env, InitEal, "init"));
  exports.Set("createBridge", Napi::Function::New(env, CreateBridge, "createBridge"));
  exports.Set("destroyBridge", Napi::Function::New(env, DestroyBridge, "destroyBridge"));
  exports.Set("setFdbAging", Napi::Function::New(env, SetFdbAging, "setFdbAging"));
  exports.Set("createPort", Napi::Function::New(env, CreatePort, "createPort"));
  exports.Set("createTunnel", Napi::Function::New(env, CreateTunnel, "createTunnel"));
  exports.Set("destroyPort", Napi::Function::New(env, DestroyPort, "destroyPort"));
  exports.Set("portInfo", Napi::Function::New(env, PortInfo, "portInfo"));
  exports.Set("fdb", Napi::Function::New(env, Fdb, "fdb"));
  exports.Set("pmdStats", Napi::Function::New(env, PmdStats, "pmdStats"));
  exports.Set("setPmdMaxSleep", Napi::Function::New(env, SetPmdMaxSleep, "setPmdMaxSleep"));
  exports.Set("shutdown", Napi::Function::New(env, Shutdown, "shutdown"));
  napi_add_env_cleanup_hook(env, cleanupHook, nullptr);
  return exports;
}

}  // namespace

NODE_API_MODULE(vhostnet_datapath, InitModule)
