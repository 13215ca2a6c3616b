// FDB writers (learning, flush, the aging sweep) and its reads. The lock-free lookups are
// inline in fdb.h.
#include "fdb.h"
#include <cstdlib>
#include <new>
#include "stats.h"

namespace vhn {

Fdb::Fdb() {
  rte_spinlock_init(&lock);
  // Plain heap memory: PMDs only read/write it from the CPU, nothing does DMA on it.
  slots = static_cast<std::atomic<uint64_t>*>(aligned_alloc(64, sizeof(uint64_t) * kFdbSlots));
  seen = static_cast<std::atomic<uint32_t>*>(aligned_alloc(64, sizeof(uint32_t) * kFdbSlots));
  prev = static_cast<uint16_t*>(calloc(kFdbSlots, sizeof(uint16_t)));
  next = static_cast<uint16_t*>(calloc(kFdbSlots, sizeof(uint16_t)));
  perPort = static_cast<uint16_t*>(calloc(kMaxPorts, sizeof(uint16_t)));
  portOwnLimit = static_cast<std::atomic<uint32_t>*>(calloc(kMaxPorts, sizeof(uint32_t)));
  if (!slots || !seen || !prev || !next || !perPort || !portOwnLimit) {
    free(portOwnLimit);
    free(slots);
    free(seen);
    free(prev);
    free(next);
    free(perPort);
    throw std::bad_alloc();
  }
  for (uint32_t i = 0; i < kFdbSlots; i++) {
    new (&slots[i]) std::atomic<uint64_t>(kSlotEmpty);
    new (&seen[i]) std::atomic<uint32_t>(0);
  }
  for (int p = 0; p < kMaxPorts; p++) new (&portOwnLimit[p]) std::atomic<uint32_t>(kFdbInherit);
}

Fdb::~Fdb() {
  free(slots);
  free(seen);
  free(prev);
  free(next);
  free(perPort);
  free(portOwnLimit);
}

void Fdb::unlink(uint32_t i) {
  if (prev[i] == kNil) head = next[i];
  else next[prev[i]] = next[i];
  if (next[i] == kNil) tail = prev[i];
  else prev[next[i]] = prev[i];
}

void Fdb::append(uint32_t i) {
  prev[i] = tail;
  next[i] = kNil;
  if (tail == kNil) head = (uint16_t)i;
  else next[tail] = (uint16_t)i;
  tail = (uint16_t)i;
}

void Fdb::remove(uint32_t i) {
  uint64_t w = slots[i].load(std::memory_order_relaxed);
  unlink(i);
  perPort[(w & 0xffff) - 1]--;
  slots[i].store(kSlotTomb, std::memory_order_release);
  entries--;
}

void Fdb::evictOldest() {
  remove(head);
  addCounter(evicted, 1);
}

bool Fdb::learn(uint64_t mac, uint16_t port, uint32_t now) {
  const uint64_t want = (mac << 16) | (uint64_t)(port + 1);
  const uint32_t aging = agingSec.load(std::memory_order_relaxed);
  const uint32_t limit = limitOf(port);
  const uint32_t cap = size.load(std::memory_order_relaxed);
  rte_spinlock_lock(&lock);
  uint32_t i = macHash(mac) & mask;
  int64_t reuse = -1, oldest = -1;
  uint32_t oldestAge = 0;
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
      unlink(i);
      if (w != want) {  // moved to another port
        perPort[(w & 0xffff) - 1]--;
        addCounter(moved, 1);
        if (limit && perPort[port] >= limit) {
          // its new port is full: forgotten rather than left behind the old one (floods until relearned)
          slots[i].store(kSlotTomb, std::memory_order_release);
          entries--;
          addCounter(limited, 1);
          gen.fetch_add(1, std::memory_order_release);
          rte_spinlock_unlock(&lock);
          return false;
        }
        seen[i].store(now, std::memory_order_relaxed);  // before the word: readers see both fresh
        slots[i].store(want, std::memory_order_release);
        perPort[port]++;
        gen.fetch_add(1, std::memory_order_release);
      } else {
        seen[i].store(now, std::memory_order_relaxed);
      }
      append(i);
      rte_spinlock_unlock(&lock);
      return true;
    }
    uint32_t age = fdbAge(now, seen[i].load(std::memory_order_relaxed));
    if (reuse < 0 && age > aging) reuse = i;  // expired: reusable
    if (oldest < 0 || age > oldestAge) oldest = i, oldestAge = age;
  }
  // Not present.
  if (limit && perPort[port] >= limit) {
    addCounter(limited, 1);
    rte_spinlock_unlock(&lock);
    return false;
  }
  if (reuse >= 0) {
    uint64_t old = slots[reuse].load(std::memory_order_relaxed);
    if (old != kSlotEmpty && old != kSlotTomb) {  // an aged-out entry the sweep has not reached
      remove(reuse);
      addCounter(expired, 1);
    }
    while (entries >= cap && head != kNil) evictOldest();  // full: the oldest entries of the table go
  } else {                                                 // the probe window holds live entries only: its oldest goes
    reuse = oldest;
    remove(reuse);
    addCounter(evicted, 1);
    while (entries >= cap && head != kNil) evictOldest();
  }
  seen[reuse].store(now, std::memory_order_relaxed);
  slots[reuse].store(want, std::memory_order_release);
  append(reuse);
  perPort[port]++;
  entries++;
  addCounter(learned, 1);
  gen.fetch_add(1, std::memory_order_release);
  rte_spinlock_unlock(&lock);
  return true;
}

void Fdb::setTableSize(uint32_t n) {
  rte_spinlock_lock(&lock);
  size.store(n, std::memory_order_relaxed);
  bool changed = false;
  while (entries > n && head != kNil) evictOldest(), changed = true;
  if (changed) gen.fetch_add(1, std::memory_order_release);
  rte_spinlock_unlock(&lock);
}

void Fdb::flushPort(uint16_t port) {
  portOwnLimit[port].store(kFdbInherit, std::memory_order_relaxed);
  rte_spinlock_lock(&lock);
  for (uint32_t i = 0; i < kFdbSlots; i++) {
    uint64_t w = slots[i].load(std::memory_order_relaxed);
    if (w != kSlotEmpty && w != kSlotTomb && (w & 0xffff) == (uint64_t)(port + 1)) remove(i);
  }
  if (entries == 0) clearTombstones();
  gen.fetch_add(1, std::memory_order_release);
  rte_spinlock_unlock(&lock);
}

void Fdb::sweep(uint32_t now) {
  const uint32_t aging = agingSec.load(std::memory_order_relaxed);
  bool changed = false;
  for (bool more = true; more;) {
    rte_spinlock_lock(&lock);
    // The list is in order of sighting; PMDs' clocks may differ by a second, so an entry can go
    // up to a second late, never early.
    uint32_t n = 0;
    while (head != kNil && fdbAge(now, seen[head].load(std::memory_order_relaxed)) > aging && n < 256) {
      remove(head);
      addCounter(expired, 1);
      n++;
    }
    more = n == 256;  // let learning PMDs in between batches
    if (n) changed = true;
    if (!more && changed && entries == 0) clearTombstones();
    if (!more && changed) gen.fetch_add(1, std::memory_order_release);
    rte_spinlock_unlock(&lock);
  }
}

// With no live entry left no probe chain can be cut short, so tombstones can go (lock held).
void Fdb::clearTombstones() {
  for (uint32_t i = 0; i < kFdbSlots; i++) slots[i].store(kSlotEmpty, std::memory_order_release);
}

std::vector<Fdb::Entry> Fdb::snapshot(uint32_t now) const {
  std::vector<uint64_t> w(kFdbSlots);
  std::vector<uint32_t> s(kFdbSlots);
  rte_spinlock_lock(&lock);
  for (uint32_t i = 0; i < kFdbSlots; i++) {
    w[i] = slots[i].load(std::memory_order_relaxed);
    s[i] = seen[i].load(std::memory_order_relaxed);
  }
  rte_spinlock_unlock(&lock);
  const uint32_t aging = agingSec.load(std::memory_order_relaxed);
  std::vector<Entry> out;
  for (uint32_t i = 0; i < kFdbSlots; i++) {
    if (w[i] == kSlotEmpty || w[i] == kSlotTomb) continue;
    uint32_t age = fdbAge(now, s[i]);
    if (age <= aging) out.push_back({w[i] >> 16, (uint16_t)((w[i] & 0xffff) - 1), age});
  }
  return out;
}

FdbStats Fdb::stats() const {
  FdbStats v;
  v.learned = readCounter(learned);
  v.expired = readCounter(expired);
  v.evicted = readCounter(evicted);
  v.moved = readCounter(moved);
  v.limited = readCounter(limited);
  v.entries = __atomic_load_n(&entries, __ATOMIC_RELAXED);
  v.capacity = size.load(std::memory_order_relaxed);
  return v;
}

}  // namespace vhn
