// Per-queue counters. Each PMD owns a row of them per port, so the fast path increments plain
// memory with no atomics and no shared cache lines; control sums the rows when asked.
#pragma once
#include <cstdint>
#include "limits.h"

namespace vhn {

struct alignas(64) QueueCounters {
  uint64_t rxPackets, rxBytes, txPackets, txBytes, txDrops;
};

// Reader side: one relaxed load per field (the writer is another thread).
inline uint64_t readCounter(const uint64_t& c) { return __atomic_load_n(&c, __ATOMIC_RELAXED); }

// Writer side: only the owning PMD writes, so load+store is enough (no lock prefix).
inline void addCounter(uint64_t& c, uint64_t v) { __atomic_store_n(&c, c + v, __ATOMIC_RELAXED); }

// Counters of one port: [pmd][queue pair].
struct PortCounters {
  QueueCounters* rows = nullptr;
  int pmds = 0;
  QueueCounters* at(int pmd, int qp) const { return &rows[pmd * kMaxQueuePairs + qp]; }
};

}  // namespace vhn
