// A bridge's MAC learning table (FDB), as it holds under abuse.
// Open addressing with linear probing. Each slot is one 64-bit word (MAC << 16 | port + 1), so
// PMDs read it lock-free and always see a consistent entry; writers (learning PMDs, the aging
// sweep, control) serialise on a per-bridge spinlock and only write when an entry is new, moved,
// or its coarse (1 s) timestamp is stale. Deleted slots become tombstones so lock-free probes
// never lose their chain; inserts reuse tombstones and expired slots.
// Live entries are kept in a list by last sighting (oldest first), so the aging sweep (run by
// the datapath's worker every second, never by a read) and eviction of the oldest entry when the
// table is full (tableSize entries, at most kFdbCapacity) cost O(1) per entry. A port may hold at
// most its limit (its own, else the bridge's portLimit): beyond it its new source MACs are not
// learned (their frames are still switched, to unknown destinations flooded). Reads copy the
// table under the lock and filter the copy.
#pragma once
#include <atomic>
#include <cstdint>
#include <vector>
#include <rte_spinlock.h>
#include "limits.h"

namespace vhn {

constexpr uint64_t kSlotEmpty = 0;
constexpr uint64_t kSlotTomb = ~0ull;             // MAC ff:ff:ff:ff:ff:ff is never learned (multicast)
constexpr uint32_t kFdbCapacity = kFdbSlots / 2;  // entries (load <= 0.5)
constexpr uint32_t kFdbInherit = ~0u;             // a port's limit: the bridge's portLimit

// MACs are the 6 wire bytes loaded little-endian into the low 48 bits.
inline uint32_t macHash(uint64_t mac) { return (uint32_t)((mac * 0x9E3779B97F4A7C15ull) >> 40); }

// Seconds since a sighting. PMDs' coarse clocks may differ by a second, so a sighting can be
// "later" than now: age 0, not 2^32 - 1.
inline uint32_t fdbAge(uint32_t now, uint32_t seen) {
  int32_t d = (int32_t)(now - seen);
  return d < 0 ? 0 : (uint32_t)d;
}

struct FdbStats {
  uint64_t learned = 0;   // new entries
  uint64_t expired = 0;   // aged out (sweep, or a slot reused after its entry aged out)
  uint64_t evicted = 0;   // removed, oldest first, to make room for a new MAC in a full table
  uint64_t moved = 0;     // a known MAC seen on another port
  uint64_t limited = 0;   // not learned: its port holds portLimit entries already
  uint32_t entries = 0;   // live entries (aged-out ones not yet swept included)
  uint32_t capacity = 0;  // the table size: most entries kept
};

class Fdb {
 public:
  // read by every PMD on every lookup
  alignas(64) std::atomic<uint64_t>* slots = nullptr;
  std::atomic<uint32_t>* seen = nullptr;  // coarse seconds of last sighting, per slot
  uint32_t mask = kFdbSlots - 1;
  std::atomic<uint32_t> agingSec{kDefaultAgingSec};
  std::atomic<uint32_t> portLimit{kFdbDefaultPortLimit};  // learned MACs per port, 0: no limit
  std::atomic<uint32_t>* portOwnLimit = nullptr;          // per port: its own limit, or kFdbInherit
  // bumped whenever a MAC -> port mapping appears, moves or goes: invalidates last-hit caches
  alignas(64) std::atomic<uint32_t> gen{1};

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
        if (fdbAge(now, seen[i].load(std::memory_order_relaxed)) > agingSec.load(std::memory_order_relaxed)) return -1;
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

  // Records that mac was seen on port at time now (PMDs). False: not learned, the port is at
  // its limit (counted in limited).
  bool learn(uint64_t mac, uint16_t port, uint32_t now);
  // Removes every entry of a port and forgets its own limit (port destroyed).
  void flushPort(uint16_t port);
  // Most entries the table keeps (1..kFdbCapacity); lowering it evicts the oldest at once.
  void setTableSize(uint32_t n);
  uint32_t tableSize() const { return size.load(std::memory_order_relaxed); }
  // A port's own limit (0: none), or kFdbInherit for the bridge's. Entries beyond a lowered
  // limit stay until they age out; only new MACs are refused.
  void setPortLimit(uint16_t port, uint32_t max) { portOwnLimit[port].store(max, std::memory_order_relaxed); }
  uint32_t limitOf(uint16_t port) const {
    uint32_t own = portOwnLimit[port].load(std::memory_order_relaxed);
    return own == kFdbInherit ? portLimit.load(std::memory_order_relaxed) : own;
  }
  // Removes the entries not seen for longer than the aging time (the datapath's worker).
  void sweep(uint32_t now);

  struct Entry {
    uint64_t mac;
    uint16_t port;
    uint32_t age;
  };
  // The live entries; changes nothing, holds the lock only to copy the table.
  std::vector<Entry> snapshot(uint32_t now) const;
  FdbStats stats() const;

 private:
  static constexpr uint16_t kNil = 0xffff;  // kFdbSlots <= 0xffff
  void unlink(uint32_t i);
  void append(uint32_t i);
  void remove(uint32_t i);  // live entry -> tombstone
  void clearTombstones();
  void evictOldest();

  // writers only (under lock)
  alignas(64) mutable rte_spinlock_t lock;
  uint32_t entries = 0;
  std::atomic<uint32_t> size{kFdbCapacity};
  uint16_t head = kNil, tail = kNil;                                       // by last sighting, oldest at head
  uint16_t* prev = nullptr;                                                // per slot
  uint16_t* next = nullptr;                                                // per slot
  uint16_t* perPort = nullptr;                                             // live entries per port, [kMaxPorts]
  uint64_t learned = 0, expired = 0, evicted = 0, moved = 0, limited = 0;  // read relaxed by stats()
};

}  // namespace vhn
