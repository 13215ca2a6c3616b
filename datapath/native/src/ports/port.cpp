// The port allocator and the operations common to every kind (ports/port.h).
#include "port.h"
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <ifaddrs.h>
#include <linux/if_link.h>
#include <sys/socket.h>
#include <rte_ethdev.h>
#include "../datapath.h"
#include "../errors.h"

namespace vhn {

namespace {

Port* getPort(int id, const char* fn) {
  if (id < 0 || id >= kMaxPorts || !g.ports[id] || g.ports[id]->dying)
    throw RangeErr(std::string(fn) + ": port " + std::to_string(id) + " does not exist");
  return g.ports[id].get();
}

// Undoes the reservation of addPort (the port is not started, or no longer published). Under mu.
void release(Port& p) {
  const uint16_t id = p.id;
  Bridge* b = g.bridges[p.bridge].get();
  auto& ps = b->ports;
  ps.erase(std::remove(ps.begin(), ps.end(), id), ps.end());
  b->fdb.flushPort(id);
  {
    std::lock_guard<std::mutex> pl(g.pathMu);
    g.portByPath.erase(p.key);
  }
  free(p.ctr.rows);
  g.ports[id].reset();
  g.nPorts--;
}

}  // namespace

int addPort(std::unique_ptr<Port> p, int bridge, const char* fn, const std::function<std::string(uint16_t)>& keyTaken) {
  const std::string f = fn;
  Port* port = p.get();
  {
    std::lock_guard<std::mutex> lk(g.mu);
    if (bridge < 0 || bridge >= kMaxBridges || !g.bridges[bridge])
      throw RangeErr(f + ": spec.bridge: bridge " + std::to_string(bridge) + " does not exist");
    auto it = g.portByPath.find(p->key);
    if (it != g.portByPath.end()) throw RangeErr(f + ": " + keyTaken(it->second));
    int id = -1;
    for (int i = 0; i < kMaxPorts && id < 0; i++)
      if (!g.ports[i]) id = i;
    if (id < 0) throw RangeErr(f + ": too many ports (at most " + std::to_string(kMaxPorts) + ", librte_vhost's device limit)");
    p->id = (uint16_t)id;
    p->bridge = (uint16_t)bridge;
    p->ctr.pmds = (int)g.pmds.size();
    size_t bytes = sizeof(QueueCounters) * kMaxQueuePairs * (size_t)std::max(1, p->ctr.pmds);
    p->ctr.rows = static_cast<QueueCounters*>(aligned_alloc(64, bytes));
    if (!p->ctr.rows) throw std::runtime_error(f + ": out of memory for counters");
    memset(p->ctr.rows, 0, bytes);
    g.ports[id] = std::move(p);
    {
      std::lock_guard<std::mutex> pl(g.pathMu);
      g.portByPath[port->key] = (uint16_t)id;
    }
    g.bridges[bridge]->ports.push_back((uint16_t)id);
    g.nPorts++;
  }
  try {
    port->ops->open(*port);
  } catch (...) {
    std::lock_guard<std::mutex> lk(g.mu);
    release(*port);
    throw;
  }
  std::lock_guard<std::mutex> lk(g.mu);
  port->started = true;
  g.republish();
  return port->id;
}

void destroyPort(int id) {
  Port* p;
  {
    std::lock_guard<std::mutex> lk(g.mu);
    p = getPort(id, "destroyPort");
    p->dying = true;
    g.republish();  // from here on no PMD polls it or sends to it
  }
  // Without mu: unregistering a vhost-user socket calls destroy_device, which takes it. Only
  // control destroys ports, so p stays valid.
  if (p->started) p->ops->close(*p);
  std::lock_guard<std::mutex> lk(g.mu);
  release(*p);
}

void setPortMtu(int id, uint32_t mtu) {
  if (mtu < 68 || mtu > 9710) throw RangeErr("setPortMtu: mtu must be between 68 and 9710");
  std::lock_guard<std::mutex> lk(g.mu);
  Port* p = getPort(id, "setPortMtu");
  if (p->mtu == mtu) return;
  p->mtu = mtu;
  g.republish();
}

void deviceStats(uint16_t ethPort, const std::string& iface, PortInfoView& v) {
  rte_eth_stats s{};
  if (rte_eth_stats_get(ethPort, &s) != 0) return;
  v.hasDevice = true;
  v.devRxMissed = s.imissed;
  v.devRxErrors = s.ierrors;
  v.devRxNoMbuf = s.rx_nombuf;
  v.devTxErrors = s.oerrors;
  // DPDK 22.11's af_xdp counts only a socket's rx_dropped as imissed, not its full rx ring: those
  // frames are the kernel's rx_dropped on the interface (getifaddrs: netlink, this namespace's).
  ifaddrs* all = nullptr;
  if (iface.empty() || getifaddrs(&all) != 0) return;
  for (const ifaddrs* a = all; a != nullptr; a = a->ifa_next)
    if (a->ifa_addr && a->ifa_addr->sa_family == AF_PACKET && a->ifa_data && iface == a->ifa_name) {
      const auto* k = static_cast<const rtnl_link_stats*>(a->ifa_data);
      v.hasKernel = true;
      v.kernelRxDropped = k->rx_dropped;
      v.kernelTxDropped = k->tx_dropped;
      break;
    }
  freeifaddrs(all);
}

PortInfoView portInfo(int id) {
  std::lock_guard<std::mutex> lk(g.mu);
  Port* p = getPort(id, "portInfo");
  PortInfoView v;
  v.mtu = p->mtu;
  p->ops->info(*p, v);
  int nq = std::max<int>(std::max<int>(v.queuePairs, p->maxQueuePairsSeen), 1);  // qp 0 holds drops while never connected
  v.queues.resize(nq);
  for (int pmd = 0; pmd < p->ctr.pmds; pmd++)
    for (int q = 0; q < nq; q++) {
      const QueueCounters* c = p->ctr.at(pmd, q);
      PortStatsView& s = v.queues[q];
      s.rxPackets += readCounter(c->rxPackets);
      s.rxBytes += readCounter(c->rxBytes);
      s.txPackets += readCounter(c->txPackets);
      s.txBytes += readCounter(c->txBytes);
      s.txDrops += readCounter(c->txDrops);
      for (int r = 0; r < kDropReasons; r++) s.drops[r] += readCounter(c->drops[r]);
    }
  for (auto& s : v.queues) {
    v.total.rxPackets += s.rxPackets;
    v.total.rxBytes += s.rxBytes;
    v.total.txPackets += s.txPackets;
    v.total.txBytes += s.txBytes;
    v.total.txDrops += s.txDrops;
    for (int r = 0; r < kDropReasons; r++) v.total.drops[r] += s.drops[r];
  }
  return v;
}

}  // namespace vhn
