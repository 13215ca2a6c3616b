// Bridges and PMD queries, all under Datapath::mu.
#include "control.h"
#include "datapath.h"
#include "errors.h"
#include "stats.h"

namespace vhn {

static Bridge* getBridge(int id, const char* fn) {
  if (id < 0 || id >= kMaxBridges || !g.bridges[id]) throw RangeErr(std::string(fn) + ": bridge " + std::to_string(id) + " does not exist");
  return g.bridges[id].get();
}

int createBridge() {
  std::lock_guard<std::mutex> lk(g.mu);
  for (int i = 0; i < kMaxBridges; i++)
    if (!g.bridges[i]) {
      g.bridges[i] = std::make_unique<Bridge>();
      g.bridges[i]->id = (uint16_t)i;
      return i;
    }
  throw RangeErr("createBridge: too many bridges (at most " + std::to_string(kMaxBridges) + ")");
}

void destroyBridge(int id) {
  std::lock_guard<std::mutex> lk(g.mu);
  Bridge* b = getBridge(id, "destroyBridge");
  if (!b->ports.empty())
    throw std::runtime_error("destroyBridge: bridge " + std::to_string(id) + " still has " + std::to_string(b->ports.size()) +
                             " port(s); destroy them first");
  g.republish();  // no config may still point at its FDB
  g.bridges[id].reset();
}

void setFdbAging(int id, uint32_t seconds) {
  std::lock_guard<std::mutex> lk(g.mu);
  getBridge(id, "setFdbAging")->fdb.agingSec.store(seconds, std::memory_order_relaxed);
}

void setFdbPortLimit(int id, uint32_t max, int port) {
  std::lock_guard<std::mutex> lk(g.mu);
  Bridge* b = getBridge(id, "setFdbPortLimit");
  if (port < 0) return b->fdb.portLimit.store(max, std::memory_order_relaxed);
  if (port >= kMaxPorts || !g.ports[port] || g.ports[port]->dying || g.ports[port]->bridge != id)
    throw RangeErr("setFdbPortLimit: port " + std::to_string(port) + " is not a port of bridge " + std::to_string(id));
  b->fdb.setPortLimit((uint16_t)port, max);
}

void setFdbTableSize(int id, uint32_t entries) {
  std::lock_guard<std::mutex> lk(g.mu);
  getBridge(id, "setFdbTableSize")->fdb.setTableSize(entries);
}

std::vector<Fdb::Entry> fdbEntries(int id) {
  std::lock_guard<std::mutex> lk(g.mu);
  return getBridge(id, "fdb")->fdb.snapshot(g.nowSec());
}

FdbStats fdbStats(int id) {
  std::lock_guard<std::mutex> lk(g.mu);
  return getBridge(id, "fdbStats")->fdb.stats();
}

std::vector<PmdStatsView> pmdStats() {
  std::lock_guard<std::mutex> lk(g.mu);
  std::vector<PmdStatsView> out;
  for (auto& p : g.pmds) {
    PmdStatsView v{p->cpu, p->lcore, readCounter(p->busyCycles), readCounter(p->idleCycles), readCounter(p->packets), {}};
    if (PmdConf* c = p->conf.load(std::memory_order_acquire)) v.rxQueues = c->rxList;  // stable under mu
    out.push_back(std::move(v));
  }
  return out;
}

void setPmdMaxSleep(uint32_t us) { g.maxSleepUs.store(us, std::memory_order_relaxed); }

}  // namespace vhn
