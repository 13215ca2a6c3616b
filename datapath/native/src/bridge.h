// A bridge: a set of ports and its MAC learning table (fdb.h).
#pragma once
#include <cstdint>
#include <vector>
#include "fdb.h"

namespace vhn {

struct Bridge {
  uint16_t id = 0;
  std::vector<uint16_t> ports;  // every port of the bridge, connected or not
  Fdb fdb;
};

}  // namespace vhn
