// Bindings of bridges: create, destroy, and their FDB: aging, table size, per-port limits, entries, counters.
#include <cstdio>
#include "../control.h"
#include "../limits.h"
#include "../util/args.h"
#include "bindings.h"

namespace vhn {

namespace {

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

// (bridge, max): the bridge's limit; (bridge, max, port): that port's own, null for the bridge's.
Napi::Value SetFdbPortLimit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  requireReady(env, "setFdbPortLimit");
  int b = idArg(info, 0, "setFdbPortLimit: bridge", kMaxBridges);
  const bool ofPort = info.Length() > 2 && !info[2].IsUndefined();
  int port = ofPort ? idArg(info, 2, "setFdbPortLimit: port", kMaxPorts) : -1;
  if (info.Length() < 2 || (!ofPort && info[1].IsNull()))
    typeErr(env, std::string("setFdbPortLimit: max is required (an integer, 0 for no limit") + (ofPort ? ", null for the bridge's)" : ")"));
  uint32_t m = info[1].IsNull() ? kFdbInherit : (uint32_t)intIn(env, info[1], "setFdbPortLimit: max", 0, kFdbCapacity);
  guarded(env, [&] { setFdbPortLimit(b, m, port); });
  return env.Undefined();
}

Napi::Value SetFdbTableSize(const Napi::CallbackInfo& info) {
  requireReady(info.Env(), "setFdbTableSize");
  int b = idArg(info, 0, "setFdbTableSize: bridge", kMaxBridges);
  if (info.Length() < 2) typeErr(info.Env(), "setFdbTableSize: entries is required (an integer)");
  uint32_t n = (uint32_t)intIn(info.Env(), info[1], "setFdbTableSize: entries", 1, kFdbCapacity);
  guarded(info.Env(), [&] { setFdbTableSize(b, n); });
  return info.Env().Undefined();
}

Napi::Value FdbStatsOf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  requireReady(env, "fdbStats");
  int b = idArg(info, 0, "fdbStats: bridge", kMaxBridges);
  FdbStats s = guarded(env, [&] { return fdbStats(b); });
  Napi::Object o = Napi::Object::New(env);
  o.Set("entries", s.entries);
  o.Set("capacity", s.capacity);
  o.Set("learned", (double)s.learned);
  o.Set("expired", (double)s.expired);
  o.Set("evicted", (double)s.evicted);
  o.Set("moved", (double)s.moved);
  o.Set("limited", (double)s.limited);
  return o;
}

Napi::Value FdbEntries(const Napi::CallbackInfo& info) {
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

}  // namespace

void defineBridges(Napi::Env env, Napi::Object exports) {
  exports.Set("createBridge", Napi::Function::New(env, CreateBridge, "createBridge"));
  exports.Set("destroyBridge", Napi::Function::New(env, DestroyBridge, "destroyBridge"));
  exports.Set("setFdbAging", Napi::Function::New(env, SetFdbAging, "setFdbAging"));
  exports.Set("setFdbPortLimit", Napi::Function::New(env, SetFdbPortLimit, "setFdbPortLimit"));
  exports.Set("setFdbTableSize", Napi::Function::New(env, SetFdbTableSize, "setFdbTableSize"));
  exports.Set("fdb", Napi::Function::New(env, FdbEntries, "fdb"));
  exports.Set("fdbStats", Napi::Function::New(env, FdbStatsOf, "fdbStats"));
}

}  // namespace vhn
