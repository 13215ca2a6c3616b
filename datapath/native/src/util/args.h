// Argument helpers of the N-API bindings: each check throws a TypeError (wrong type) or a
// RangeError (value out of range) whose message names the argument and the rule, before any
// core code runs; guarded() maps the core's errors onto JS error classes.
#pragma once
#include <cstdint>
#include <string>
#include <vector>
#include <napi.h>
#include "../errors.h"

namespace vhn {

[[noreturn]] inline void typeErr(Napi::Env env, const std::string& m) { throw Napi::TypeError::New(env, m); }
[[noreturn]] inline void rangeErr(Napi::Env env, const std::string& m) { throw Napi::RangeError::New(env, m); }

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

// Throws unless init() succeeded and shutdown() has not run; fn names the call.
void requireReady(Napi::Env env, const char* fn);

// Integer in lo..hi.
int64_t intIn(Napi::Env env, const Napi::Value& v, const std::string& name, int64_t lo, int64_t hi);
// Field key of o; name is how messages call it (e.g. "init: opts.hugepages").
bool boolField(Napi::Env env, const Napi::Object& o, const std::string& key, const std::string& name);
std::string strField(Napi::Env env, const Napi::Object& o, const std::string& key, const std::string& name);
// Non-empty array of distinct CPU numbers of this machine.
std::vector<int> cpuArray(Napi::Env env, const Napi::Object& o, const std::string& key, const std::string& name);
// Dotted-quad IPv4 address, network order.
uint32_t ipv4Field(Napi::Env env, const Napi::Object& o, const std::string& key, const std::string& name);
// Unicast MAC aa:bb:cc:dd:ee:ff.
void macField(Napi::Env env, const Napi::Object& o, const std::string& key, const std::string& name, uint8_t out[6]);

// Argument i: a plain object; an id in 0..max-1.
Napi::Object objectArg(const Napi::CallbackInfo& info, size_t i, const std::string& name);
int idArg(const Napi::CallbackInfo& info, size_t i, const std::string& name, int max);

}  // namespace vhn
