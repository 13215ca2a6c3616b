// Builds the PMD configs: which guest TX vrings each PMD polls (round-robin over PMDs) and,
// per destination port, which guest RX vring a PMD enqueues to (the source queue pair modulo
// the port's queue pairs; the PMD's index modulo them when the source has no queue pair).
// Published RCU-style.
#include <rte_cycles.h>
#include <rte_vhost.h>
#include "datapath.h"

namespace vhn {

Datapath g;

uint32_t Datapath::nowSec() const { return (uint32_t)((rte_rdtsc() - tscBase) / tscHz); }

// Guest RX vring for PMD `pmd` on port p, or -1 when none is enabled.
static int pickTxVring(const Port& p, int pmd) {
  int qps = p.nrVrings / 2;
  if (qps <= 0) return -1;
  int want = 2 * (pmd % qps);
  if (p.vringEnabled[want]) return want;
  for (int v = 0; v < p.nrVrings; v += 2)
    if (p.vringEnabled[v]) return v;
  return -1;
}

void Datapath::republish() {
  const int n = (int)pmds.size();
  if (n == 0) return;
  for (auto& p : ports)  // the guest may have added vrings since new_device (vid is live under mu)
    if (p && !p->tun && p->connected()) {
      uint16_t nr = rte_vhost_get_vring_num(p->vid);
      p->nrVrings = nr > kMaxVrings ? kMaxVrings : nr;
      if (p->nrVrings / 2 > p->maxQueuePairsSeen) p->maxQueuePairsSeen = p->nrVrings / 2;
      // We poll: ask the guest not to kick us (a kick is a syscall per burst on the guest
      // side), also on vrings enabled after new_device (multiqueue guests enable them later).
      for (uint16_t v = 0; v < p->nrVrings; v++)
        if (!p->kicksOff[v] && p->vringEnabled[v] && rte_vhost_enable_guest_notification(p->vid, v, 0) == 0) p->kicksOff[v] = 1;
    }
  std::vector<PmdConf*> next(n);
  for (int i = 0; i < n; i++) {
    next[i] = new PmdConf();
    next[i]->members.resize(kMaxBridges);
    next[i]->lanes.resize(kMaxPorts);
    for (int p = 0; p < kMaxPorts; p++) next[i]->tx[p] = {-1, 0, 0, nullptr, nullptr, nullptr, nullptr, 0};
  }
  // destinations, and flood lists of the ready ports per bridge
  for (int id = 0; id < kMaxPorts; id++) {
    Port* p = ports[id].get();
    if (!p || p->dying) continue;
    for (int i = 0; i < n; i++) next[i]->tx[id].ctr = p->ctr.at(i, 0);  // drops while not ready
    if (!p->connected()) continue;
    if (p->tun) {  // one ethdev tx queue per PMD: af_packet queues are not thread-safe
      for (int i = 0; i < n; i++) {
        uint16_t tq = (uint16_t)(i % p->tun->queues);
        next[i]->tx[id] = {-1, 0, 0, p->ctr.at(i, tq), p->ctr.at(i, 0), nullptr, p->tun.get(), tq};
        next[i]->members[p->bridge].push_back((uint16_t)id);
      }
      continue;
    }
    for (int i = 0; i < n; i++) {
      int v = pickTxVring(*p, i);
      if (v < 0) continue;
      // Egress queue pair follows the ingress one (mod the destination's), so one PMD still
      // feeds every queue pair of a multiqueue guest; lanes whose vring is off fall back.
      auto& lanes = next[i]->lanes[id];
      for (int k = 0; k < p->nrVrings / 2; k++) lanes.push_back(p->vringEnabled[2 * k] ? (uint16_t)(2 * k) : (uint16_t)v);
      next[i]->tx[id] = {p->vid, (uint16_t)v, (uint16_t)lanes.size(), p->ctr.at(i, v / 2), p->ctr.at(i, 0), lanes.data(), nullptr, 0};
      next[i]->members[p->bridge].push_back((uint16_t)id);
    }
  }
  // sources: every enabled guest TX vring, spread round-robin
  int rr = 0;
  for (int id = 0; id < kMaxPorts; id++) {
    Port* p = ports[id].get();
    if (!p || p->dying || !p->connected()) continue;
    Bridge* b = bridges[p->bridge].get();
    if (p->tun) {  // the underlay's rx queues, polled like guest TX vrings
      for (uint16_t tq = 0; tq < p->tun->queues; tq++) {
        int i = rr++ % n;
        RxQueue q{};
        q.vid = -1;
        q.tun = p->tun.get();
        q.ethQueue = tq;
        q.port = (uint16_t)id;
        q.fdb = &b->fdb;
        q.ctr = p->ctr.at(i, tq);
        q.dstPort = -1;
        next[i]->rx.push_back(q);
        next[i]->rxList.push_back({(uint16_t)id, tq});
      }
      continue;
    }
    for (int v = 1; v < p->nrVrings; v += 2) {
      if (!p->vringEnabled[v]) continue;
      int i = rr++ % n;
      RxQueue q{};
      q.vid = p->vid;
      q.vring = (uint16_t)v;
      q.port = (uint16_t)id;
      q.fdb = &b->fdb;
      q.ctr = p->ctr.at(i, v / 2);
      q.dstPort = -1;
      next[i]->rx.push_back(q);
      next[i]->rxList.push_back({(uint16_t)id, (uint16_t)(v / 2)});
    }
  }
  for (int i = 0; i < n; i++)
    for (auto& q : next[i]->rx) {  // after all push_backs: member vectors no longer move
      auto& m = next[i]->members[ports[q.port]->bridge];
      q.members = m.data();
      q.nMembers = (uint16_t)m.size();
    }
  std::vector<PmdConf*> old(n);
  for (int i = 0; i < n; i++) old[i] = pmds[i]->conf.exchange(next[i], std::memory_order_acq_rel);
  rcu.synchronize(qs, n);
  for (auto* c : old) delete c;
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
      workCv.wait(lk, [this] { return workPending || workStop; });
      if (workStop) return;
      workPending = false;
      lk.unlock();
      {
        std::lock_guard<std::mutex> m(mu);
        republish();
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
