// Bindings of the datapath as a whole: EAL start-up, PMD statistics and tuning, shut-down.
#include "../datapath.h"
#include "../control.h"
#include "../eal.h"
#include "../util/args.h"
#include "bindings.h"

namespace vhn {

namespace {

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
  out.Set("dpdkVersion", r.dpdkVersion);
  return out;
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

}  // namespace

void defineDatapath(Napi::Env env, Napi::Object exports) {
  exports.Set("init", Napi::Function::New(env, InitEal, "init"));
  exports.Set("pmdStats", Napi::Function::New(env, PmdStats, "pmdStats"));
  exports.Set("setPmdMaxSleep", Napi::Function::New(env, SetPmdMaxSleep, "setPmdMaxSleep"));
  exports.Set("shutdown", Napi::Function::New(env, Shutdown, "shutdown"));
}

}  // namespace vhn
