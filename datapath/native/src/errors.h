// Errors the core throws; addon.cpp turns them into JS TypeError / RangeError / Error.
#pragma once
#include <stdexcept>
#include <string>

namespace vhn {

struct RangeErr : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace vhn
