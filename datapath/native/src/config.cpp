// Builds the PMD configs: every port's kind adds its destinations (one TxTarget per PMD) and the
// queues the PMDs poll (spread round-robin over the PMDs), then the configs are published
// RCU-style. The worker: deferred republishes (for callbacks that must not wait), FDB aging.
#include <chrono>
#include <unistd.h>
#include <rte_cycles.h>
#include "datapath.h"

namespace vhn {

Datapath g;

uint32_t Datapath::nowSec() const { return (uint32_t)((rte_rdtsc() - tscBase) / tscHz); }

void Publisher::tx(int pmd, const Port& p, const TxTarget& t) {
  next[pmd]->tx[p.id] = t;
  next[pmd]->members[p.bridge].push_back(p.id);
}

std::vector<uint16_t>& Publisher::lanes(int pmd, const Port& p) { return next[pmd]->lanes[p.id]; }

void Publisher::ethQueues(Port& p, const Tunnel& t, const EgressCaps& caps) {
  for (int i = 0; i < nPmds; i++) {
    uint16_t tq = (uint16_t)(i % t.queues);
    tx(i, p, {-1, 0, 0, p.ctr.at(i, tq), p.ctr.at(i, 0), nullptr, &t, tq, caps});
  }
  for (uint16_t tq = 0; tq < t.queues; tq++) {
    RxQueue q{};
    q.vid = -1;
    q.tun = &t;
    q.ethQueue = tq;
    q.next = -1;
    auto shared = ethRx.find({t.ethPort, tq});
    if (shared == ethRx.end()) {
      rx(p, q, tq);
      ethRx[{t.ethPort, tq}] = {(rr - 1) % nPmds, next[(rr - 1) % nPmds]->rx.size() - 1};
      continue;
    }
    // Another tunnel's queue polls this ethdev queue: this one joins its chain, on its PMD.
    auto [pmd, last] = shared->second;
    q.follower = true;
    q.port = p.id;
    q.fdb = &g.bridges[p.bridge]->fdb;
    q.ctr = p.ctr.at(pmd, tq);
    q.dstPort = -1;
    next[pmd]->rx[last].next = (int32_t)next[pmd]->rx.size();
    next[pmd]->rx.push_back(q);
    next[pmd]->rxList.push_back({p.id, tq});
    shared->second.second = next[pmd]->rx.size() - 1;
  }
}

void Publisher::rx(const Port& p, RxQueue q, uint16_t qp) {
  int i = rr++ % nPmds;
  q.port = p.id;
  q.fdb = &g.bridges[p.bridge]->fdb;
  q.ctr = p.ctr.at(i, qp);
  q.dstPort = -1;
  next[i]->rx.push_back(q);
  next[i]->rxList.push_back({p.id, qp});
}

void Datapath::republish() {
  const int n = (int)pmds.size();
  if (n == 0) return;
  std::vector<PmdConf*> next(n);
  for (int i = 0; i < n; i++) {
    next[i] = new PmdConf();
    next[i]->members.resize(kMaxBridges);
    next[i]->lanes.resize(kMaxPorts);
    for (int p = 0; p < kMaxPorts; p++) next[i]->tx[p] = {-1, 0, 0, nullptr, nullptr, nullptr, nullptr, 0, {}};
  }
  // Ports in id order, each adding its destinations, flood-list entries and polled queues.
  Publisher pub{next, n};
  for (int id = 0; id < kMaxPorts; id++) {
    Port* p = ports[id].get();
    if (!p || p->dying) continue;
    for (int i = 0; i < n; i++) next[i]->tx[id].ctr = p->ctr.at(i, 0);  // drops while not ready
    p->ops->publish(*p, pub);
  }
  for (int i = 0; i < n; i++) {
    next[i]->openMembers.resize(kMaxBridges);
    for (int b = 0; b < kMaxBridges; b++)
      for (uint16_t m : next[i]->members[b])
        if (!ports[m]->splitHorizon) next[i]->openMembers[b].push_back(m);
    for (auto& q : next[i]->rx) {  // after all push_backs: member vectors no longer move
      const Port& from = *ports[q.port];
      auto& m = (from.splitHorizon ? next[i]->openMembers : next[i]->members)[from.bridge];
      q.members = m.data();
      q.nMembers = (uint16_t)m.size();
    }
  }
  std::vector<PmdConf*> old(n);
  for (int i = 0; i < n; i++) old[i] = pmds[i]->conf.exchange(next[i], std::memory_order_acq_rel);
  wakePmds();  // one sleeping on kicks polls the new config's queues now (offline: not waited for)
  rcu.synchronize(qs, n);
  for (auto* c : old) delete c;
}

void Datapath::wakePmds() {
  const uint64_t one = 1;
  for (auto& p : pmds)
    if (p->wakeFd >= 0 && write(p->wakeFd, &one, sizeof one) < 0) {
      // EAGAIN: the counter is already non-zero, so the PMD wakes anyway
    }
}

void Datapath::requestRepublish() {
  {
    std::lock_guard<std::mutex> lk(workMu);
    workPending = true;
  }
  workCv.notify_one();
}

void Datapath::startWorker() {
  worker = std::thread([this] {
    std::unique_lock<std::mutex> lk(workMu);
    for (;;) {
      // a republish when asked; the FDBs' aging sweep every second (reads never sweep)
      workCv.wait_for(lk, std::chrono::seconds(1), [this] { return workPending || workStop; });
      if (workStop) return;
      const bool again = workPending;
      workPending = false;
      lk.unlock();
      {
        std::lock_guard<std::mutex> m(mu);
        if (again) republish();
        const uint32_t now = nowSec();
        for (auto& b : bridges)
          if (b) b->fdb.sweep(now);
      }
      lk.lock();
    }
  });
}

void Datapath::stopWorker() {
  {
    std::lock_guard<std::mutex> lk(workMu);
    workStop = true;
  }
  workCv.notify_one();
  if (worker.joinable()) worker.join();
}

}  // namespace vhn
