// Argument helpers of the N-API bindings (util/args.h).
#include "args.h"
#include <cmath>
#include <cstdio>
#include <set>
#include <arpa/inet.h>
#include <unistd.h>
#include "../datapath.h"

namespace vhn {

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

std::string strField(Napi::Env env, const Napi::Object& o, const std::string& key, const std::string& name) {
  Napi::Value v = o.Get(key);
  if (!v.IsString()) typeErr(env, name + " must be a string");
  return v.As<Napi::String>().Utf8Value();
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

Napi::Object objectArg(const Napi::CallbackInfo& info, size_t i, const std::string& name) {
  if (info.Length() <= i || !info[i].IsObject() || info[i].IsArray()) typeErr(info.Env(), name + " must be an object");
  return info[i].As<Napi::Object>();
}

int idArg(const Napi::CallbackInfo& info, size_t i, const std::string& name, int max) {
  if (info.Length() <= i) typeErr(info.Env(), name + " is required (an integer id)");
  return (int)intIn(info.Env(), info[i], name, 0, max - 1);
}

}  // namespace vhn
