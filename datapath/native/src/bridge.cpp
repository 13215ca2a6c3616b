// FDB writers (learning, flush, aging sweep). The lock-free reader is inline in bridge.h.
#include "bridge.h"
#include <cstdlib>
#include <new>
#include <rte_malloc.h>

namespace vhn {

Fdb::Fdb() {
  rte_spinlock_init(&lock);
  // Plain heap memory: PMDs only read/write it from the CPU, nothing does DMA on it.
  slots = static_cast<std::atomic<uint64_t>*>(aligned_alloc(64, sizeof(uint64_t) * kFdbSlots));
  seen = static_cast<std::atomic<uint32_t>*>(aligned_alloc(64, sizeof(uint32_t) * kFdbSlots));
  if (!slots || !seen) throw std::bad_alloc();
  for (uint32_t i = 0; i < kFdbSlots; i++) {
    new (&slots[i]) std::atomic<uint64_t>(kSlotEmpty);
    new (&seen[i]) std::atomic<uint32_t>(0);
  }
}

Fdb::~Fdb() {
  free(slots);
  free(seen);
}

void Fdb::learn(uint64_t mac, uint16_t port, uint32_t now) {
  const uint64_t want = (mac << 16) | (uint64_t)(port + 1);
  const uint32_t aging = agingSec.load(std::memory_order_relaxed);
  rte_spinlock_lock(&lock);
  uint32_t i = macHash(mac) & mask;
  int64_t reuse = -1;
  for (uint32_t p = 0; p < kFdbMaxProbe; p++, i = (i + 1) & mask) {
    uint64_t w = slots[i].load(std::memory_order_relaxed);
    if (w == kSlotEmpty) {
      if (reuse < 0) reuse = i;
      break;
    }
    if (w == kSlotTomb) {
      if (reuse < 0) reuse = i;
      continue;
    }
    if ((w >> 16) == mac) {
      seen[i].store(now, std::memory_order_relaxed);
      if (w != want) {  // moved to another port
        slots[i].store(want, std::memory_order_release);
        gen.fetch_add(1, std::memory_order_release);
      }
      rte_spinlock_unlock(&lock);
      return;
    }
    if (reuse < 0 && now - seen[i].load(std::memory_order_relaxed) > aging) reuse = i;  // expired: reusable
  }
  // Not present: insert if there is room within the probe window and under the load limit.
  if (reuse >= 0) {
    uint64_t old = slots[reuse].load(std::memory_order_relaxed);
    bool counted = old != kSlotEmpty && old != kSlotTomb;  // replacing an expired entry
    if (counted || entries < kFdbSlots / 2) {
      seen[reuse].store(now, std::memory_order_relaxed);
      slots[reuse].store(want, std::memory_order_release);
      if (!counted) entries++;
      gen.fetch_add(1, std::memory_order_release);
    }
  }
  rte_spinlock_unlock(&lock);
}

void Fdb::flushPort(uint16_t port) {
  rte_spinlock_lock(&lock);
  for (uint32_t i = 0; i < kFdbSlots; i++) {
    uint64_t w = slots[i].load(std::memory_order_relaxed);
    if (w != kSlotEmpty && w != kSlotTomb && (w & 0xffff) == (uint64_t)(port + 1)) {
      slots[i].store(kSlotTomb, std::memory_order_release);
      entries--;
    }
  }
  if (entries == 0) clearTombstones();
  gen.fetch_add(1, std::memory_order_release);
  rte_spinlock_unlock(&lock);
}

// With no live entry left no probe chain can be cut short, so tombstones can go (lock held).
void Fdb::clearTombstones() {
  for (uint32_t i = 0; i < kFdbSlots; i++) slots[i].store(kSlotEmpty, std::memory_order_release);
}

std::vector<Fdb::Entry> Fdb::snapshot(uint32_t now) {
  std::vector<Entry> out;
  const uint32_t aging = agingSec.load(std::memory_order_relaxed);
  rte_spinlock_lock(&lock);
  bool changed = false;
  for (uint32_t i = 0; i < kFdbSlots; i++) {
    uint64_t w = slots[i].load(std::memory_order_relaxed);
    if (w == kSlotEmpty || w == kSlotTomb) continue;
    uint32_t age = now - seen[i].load(std::memory_order_relaxed);
    if (age > aging) {
      slots[i].store(kSlotTomb, std::memory_order_release);
      entries--;
      changed = true;
      continue;
    }
    out.push_back({w >> 16, (uint16_t)((w & 0xffff) - 1), age});
  }
  if (entries == 0) clearTombstones();
  if (changed) gen.fetch_add(1, std::memory_order_release);
  rte_spinlock_unlock(&lock);
  return out;
}

}  // namespace vhn
