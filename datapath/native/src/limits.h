// Fixed sizes of the datapath, in one place.
#pragma once
#include <cstdint>

namespace vhn {

constexpr int kMaxPorts = 1024;  // librte_vhost's MAX_VHOST_DEVICE: vids are < 1024
constexpr int kMaxBridges = 1024;
constexpr int kMaxPmds = 64;
constexpr int kMaxQueuePairs = 128;  // librte_vhost's VHOST_MAX_QUEUE_PAIRS
constexpr int kMaxVrings = 2 * kMaxQueuePairs;
constexpr int kBurst = 32;             // librte_vhost dequeues at most 32 per call (MAX_PKT_BURST)
constexpr uint32_t kFdbSlots = 8192;   // per bridge, power of two; half of it usable (load <= 0.5)
constexpr uint32_t kFdbMaxProbe = 64;  // bounded probing keeps the PMD's worst case short
constexpr uint32_t kDefaultAgingSec = 300;
// Learned MACs per port: half the table, so one port spraying source MACs leaves the other half
// to the rest of the bridge (setFdbPortLimit; 0: no limit).
constexpr uint32_t kFdbDefaultPortLimit = kFdbSlots / 4;

}  // namespace vhn
