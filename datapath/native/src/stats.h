// Per-queue counters. Each PMD owns a row of them per port, so the fast path increments plain
// memory with no atomics and no shared cache lines; control sums the rows when asked.
#pragma once
#include <cstdint>
#include "limits.h"

namespace vhn {

// Why a frame was dropped. Every drop is counted under one reason (and egress drops in txDrops).
enum DropReason : uint8_t {
  kDropRingFull,   // the guest had no descriptors (or no RX vring ready)
  kDropMtu,        // longer than the egress port carries
  kDropOffload,    // an offload the port cannot take and we cannot do in software
  kDropUnderlay,   // the tunnel's underlay refused it (tx ring full, no mbuf for the copy)
  kDropMacLimit,   // the ingress port reached its learned-MAC limit
  kDropMalformed,  // on ingress: shorter than an Ethernet header, multicast source, bad headers
  kDropReasons
};

struct alignas(64) QueueCounters {
  uint64_t rxPackets, rxBytes, txPackets, txBytes, txDrops;
  uint64_t drops[kDropReasons];
};

// Reader side: one relaxed load per field (the writer is another thread).
inline uint64_t readCounter(const uint64_t& c) { return __atomic_load_n(&c, __ATOMIC_RELAXED); }

// Writer side: only the owning PMD writes, so load+store is enough (no lock prefix).
inline void addCounter(uint64_t& c, uint64_t v) { __atomic_store_n(&c, c + v, __ATOMIC_RELAXED); }

inline void countDrop(QueueCounters* c, DropReason r, uint64_t n) {
  addCounter(c->drops[r], n);
  if (r != kDropMalformed && r != kDropMacLimit) addCounter(c->txDrops, n);
}

// Counters of one port: [pmd][queue pair].
struct PortCounters {
  QueueCounters* rows = nullptr;
  int pmds = 0;
  QueueCounters* at(int pmd, int qp) const { return &rows[pmd * kMaxQueuePairs + qp]; }
};

}  // namespace vhn
