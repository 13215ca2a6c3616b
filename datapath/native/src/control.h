// Control-path operations on bridges and PMDs (ports are in port.h).
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>
#include "bridge.h"

namespace vhn {

struct PmdStatsView {
  int cpu;
  unsigned lcore;
  uint64_t busyCycles, idleCycles, packets;
  std::vector<std::pair<uint16_t, uint16_t>> rxQueues;  // (port, queue pair)
};

int createBridge();
void destroyBridge(int bridge);
void setFdbAging(int bridge, uint32_t seconds);
// The bridge's per-port limit (port < 0), or one port's own (kFdbInherit: back to the bridge's).
void setFdbPortLimit(int bridge, uint32_t max, int port);
void setFdbTableSize(int bridge, uint32_t entries);
std::vector<Fdb::Entry> fdbEntries(int bridge);
FdbStats fdbStats(int bridge);
std::vector<PmdStatsView> pmdStats();
void setPmdMaxSleep(uint32_t us);

}  // namespace vhn
