// vhost-user ports: registration with librte_vhost, its device callbacks, and port queries.
#pragma once
#include <cstdint>
#include <string>
#include <vector>
#include "stats.h"

namespace vhn {

struct PortStatsView {
  uint64_t rxPackets = 0, rxBytes = 0, txPackets = 0, txBytes = 0, txDrops = 0;
};

struct PortInfoView {
  bool connected = false, socketReady = false;
  int vringsEnabled = 0, vringsTotal = 0, queuePairs = 0;
  uint64_t offered = 0, negotiated = 0;
  PortStatsView total;
  std::vector<PortStatsView> queues;
};

int createPort(int bridge, bool client, const std::string& path);
void destroyPort(int port);
PortInfoView portInfo(int port);

}  // namespace vhn
