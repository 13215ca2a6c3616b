// Quiescent-state handshake between control (writer of PMD configs) and the PMDs (readers),
// the same scheme as librte_rcu's QSBR: a PMD reports the global token it has seen after each
// loop iteration, or 0 while offline (sleeping / stopped), and control waits until every PMD
// has reported a token at least as new as the one it published after swapping a pointer.
#pragma once
#include <atomic>
#include <cstdint>
#include <sched.h>

namespace vhn {

struct alignas(64) QsCounter {
  std::atomic<uint64_t> seen{0};  // 0 = offline
};

class Qsbr {
 public:
  std::atomic<uint64_t> token{1};

  // PMD, at the end of every iteration: the config it used may now be freed.
  inline void quiescent(QsCounter& c) const { c.seen.store(token.load(std::memory_order_acquire), std::memory_order_release); }
  inline void offline(QsCounter& c) const { c.seen.store(0, std::memory_order_release); }
  // Full fence: the PMD's following load of its config must not pass this store.
  inline void online(QsCounter& c) const {
    c.seen.store(token.load(std::memory_order_acquire), std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }

  // Control, after publishing new pointers: returns once no PMD can hold an old one.
  void synchronize(QsCounter* counters, int n) {
    uint64_t t = token.fetch_add(1, std::memory_order_seq_cst) + 1;
    for (int i = 0; i < n; i++) {
      for (;;) {
        uint64_t v = counters[i].seen.load(std::memory_order_acquire);
        if (v == 0 || v >= t) break;
        sched_yield();
      }
    }
  }
};

}  // namespace vhn
