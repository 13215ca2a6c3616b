// A bridge: a set of ports and its MAC learning table (FDB).
// The FDB is open addressing with linear probing. Each slot is one 64-bit word
// (MAC << 16 | port + 1), so PMDs read it lock-free and always see a consistent entry;
// writers (learning PMDs, control) serialise on a per-bridge spinlock and only write when an
// entry is new, moved, or its coarse (1 s) timestamp is stale. Deleted slots become tombstones
// so lock-free probes never lose their chain; inserts reuse tombstones and expired slots.
#pragma once
#include <atomic>
#include <cstdint>
#include <vector>
#include <rte_spinlock.h>
#include "limits.h"

namespace vhn {

constexpr uint64_t kSlotEmpty = 0;
constexpr uint64_t kSlotTomb = ~0ull;  // MAC ff:ff:ff:ff:ff:ff is never learned (multicast)

// MACs are the 6 wire bytes loaded little-endian into the low 48 bits.
inline uint32_t macHash(uint64_t mac) { return (uint32_t)((mac * 0x9E3779B97F4A7C15ull) >> 40); }

struct Fdb {
  // read by every PMD on every lookup
  alignas(64) std::atomic<uint64_t>* slots = nullptr;
  std::atomic<uint32_t>* seen = nullptr;  // coarse seconds of last sighting, per slot
  uint32_t mask = kFdbSlots - 1;
  std::atomic<uint32_t> agingSec{kDefaultAgingSec};
  // bumped whenever a MAC -> port mapping appears, moves or goes: invalidates last-hit caches
  alignas(64) std::atomic<uint32_t> gen{1};
  // writers only
  alignas(64) rte_spinlock_t lock;
  uint32_t entries = 0;

  Fdb();
  ~Fdb();
  Fdb(const Fdb&) = delete;
  Fdb& operator=(const Fdb&) = delete;

  // Port the MAC is behind, or -1 (unknown or aged out). Lock-free.
  inline int lookup(uint64_t mac, uint32_t now) const {
    uint32_t i = macHash(mac) & mask;
    for (uint32_t p = 0; p < kFdbMaxProbe; p++, i = (i + 1) & mask) {
      uint64_t w = slots[i].load(std::memory_order_acquire);
      if (w == kSlotEmpty) return -1;
      if ((w >> 16) == mac && w != kSlotTomb) {
        if (now - seen[i].load(std::memory_order_relaxed) > agingSec.load(std::memory_order_relaxed)) return -1;
        return (int)(w & 0xffff) - 1;
      }
    }
    return -1;
  }

  // True if mac is already recorded on port with timestamp now: learning would write nothing.
  inline bool isCurrent(uint64_t mac, uint16_t port, uint32_t now) const {
    const uint64_t want = (mac << 16) | (uint64_t)(port + 1);
    uint32_t i = macHash(mac) & mask;
    for (uint32_t p = 0; p < kFdbMaxProbe; p++, i = (i + 1) & mask) {
      uint64_t w = slots[i].load(std::memory_order_acquire);
      if (w == kSlotEmpty) return false;
      if (w == want) return seen[i].load(std::memory_order_relaxed) == now;
    }
    return false;
  }

  // Records that mac was seen on port at time now (PMD or control).
  void learn(uint64_t mac, uint16_t port, uint32_t now);
  // Removes every entry of a port (port destroyed).
  void flushPort(uint16_t port);
  // Turns aged-out entries into tombstones and returns the live ones (control).
  struct Entry {
    uint64_t mac;
    uint16_t port;
    uint32_t age;
  };
  std::vector<Entry> snapshot(uint32_t now);

 private:
  void clearTombstones();
};

struct Bridge {
  uint16_t id = 0;
  std::vector<uint16_t> ports;  // every port of the bridge, connected or not
  Fdb fdb;
};

}  // namespace vhn
