// The datapath's shared state: ports, bridges, PMD threads and the per-PMD forwarding configs.
// Control (Node's main thread) and librte_vhost's callbacks (its own thread) change it under
// Datapath::mu; PMDs only read immutable PmdConf snapshots published through an RCU handshake.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>
#include <rte_mempool.h>
#include "bridge.h"
#include "limits.h"
#include "offload.h"
#include "ports/port.h"
#include "rcu.h"
#include "stats.h"
#include "vxlan.h"

namespace vhn {

// One polled guest TX vring. PMD-private: the caches are written by the PMD that owns it.
struct alignas(64) RxQueue {
  int vid;
  uint16_t vring;
  uint16_t ethQueue;  // tunnel ports: the underlay ethdev's rx queue
  const Tunnel* tun;  // null for vhost ports
  // Tunnels sharing an underlay: the rx queue is polled once, by its first tunnel's queue, which
  // hands each frame to the tunnel it is for: next = index in PmdConf::rx of the next tunnel's
  // queue on the same ethdev queue (-1: none); follower = polled by an earlier one, not itself.
  int32_t next;
  bool follower;
  uint16_t port;
  Fdb* fdb;
  const uint16_t* members;  // ready ports of the bridge (flood targets)
  uint16_t nMembers;
  QueueCounters* ctr;  // this PMD's row, this port, this queue pair
  // last-hit caches in front of the FDB (valid for one coarse second and one FDB generation)
  uint64_t srcMac;
  uint64_t dstMac;
  uint32_t srcSec, srcGen;
  uint32_t dstSec, dstGen;
  int32_t dstPort;
};

// Where this PMD enqueues for each destination port.
struct TxTarget {
  int vid;                // -1: not ready (no device or no enabled guest RX vring)
  uint16_t vring;         // guest RX vring = 2 * queue pair, when the source queue pair is unknown
  uint16_t nLanes;        // the port's queue pairs (0: not ready)
  QueueCounters* ctr;     // this PMD's row, that port, that queue pair
  QueueCounters* row0;    // this PMD's row, that port, queue pair 0
  const uint16_t* lanes;  // [source queue pair % nLanes] -> guest RX vring (enabled, or a fallback)
  const Tunnel* tun;      // tunnel port: encapsulate and send on its ethdev's queue ethQueue
  uint16_t ethQueue;
  EgressCaps caps;  // what the port takes (MTU, offloads the guest negotiated)
};

struct PmdConf {
  std::vector<RxQueue> rx;
  std::vector<std::vector<uint16_t>> members;  // per bridge id, storage behind RxQueue::members
  // per bridge id, its members that are not split-horizon ports: the flood targets of a queue of one
  std::vector<std::vector<uint16_t>> openMembers;
  TxTarget tx[kMaxPorts];
  std::vector<std::vector<uint16_t>> lanes;  // per port id, storage behind TxTarget::lanes
  // for pmdStats
  std::vector<std::pair<uint16_t, uint16_t>> rxList;  // (port, queue pair)
};

// One republish in progress (config.cpp): the next config of every PMD, which each port's
// kind fills in through these (PortOps::publish).
struct Publisher {
  std::vector<PmdConf*>& next;
  int nPmds;
  int rr = 0;  // the rx queues of all ports go round-robin over the PMDs
  // PMD pmd sends to port p through t, and floods to it.
  void tx(int pmd, const Port& p, const TxTarget& t);
  // Storage behind TxTarget::lanes, in PMD pmd's config.
  std::vector<uint16_t>& lanes(int pmd, const Port& p);
  // The next PMD in turn polls q (its kind's fields set); counted under queue pair qp.
  void rx(const Port& p, RxQueue q, uint16_t qp);
  // An ethdev-backed port (tunnel or uplink): PMD i sends on the ethdev's tx queue i (ethdev tx
  // queues are not thread-safe) and every rx queue is polled, like a guest's vrings.
  void ethQueues(Port& p, const Tunnel& t, const EgressCaps& caps);
  // (ethdev port, rx queue) -> (PMD, index in its rx of the last tunnel queue on it).
  std::map<std::pair<uint16_t, uint16_t>, std::pair<int, size_t>> ethRx;
};

struct alignas(64) Pmd {
  // written by the PMD, read by control
  uint64_t busyCycles = 0, idleCycles = 0, packets = 0;
  alignas(64) std::atomic<PmdConf*> conf{nullptr};
  int wakeFd = -1;  // eventfd: control writes it after publishing a config (pmd.cpp waitForKicks)
  int index = 0;
  unsigned lcore = 0;
  int cpu = 0;
};

struct Datapath {
  // Control + the vhost callbacks that may wait (new_device, destroy_device); never held while
  // calling librte_vhost's socket API (unregistering calls destroy_device synchronously).
  std::mutex mu;
  // Only the path -> port map; taken by vring_state_changed, which librte_vhost calls with the
  // device's vring locks held: there it must neither wait for a PMD nor for mu (whose holder may
  // be waiting for a PMD that spins on one of those locks in rte_vhost_enqueue_burst).
  std::mutex pathMu;
  bool initialised = false, shutDown = false;
  std::string lcores;
  rte_mempool* pool = nullptr;
  bool iommu = false;
  uint64_t tscHz = 1, tscBase = 0;

  std::vector<std::unique_ptr<Pmd>> pmds;
  QsCounter qs[kMaxPmds];
  Qsbr rcu;
  std::atomic<bool> running{false};
  std::atomic<uint32_t> maxSleepUs{0};

  std::unique_ptr<Port> ports[kMaxPorts];
  std::unique_ptr<Bridge> bridges[kMaxBridges];
  std::map<std::string, uint16_t> portByPath;
  int nPorts = 0;

  uint32_t nowSec() const;
  // Recomputes every PMD's config from ports/bridges (each port through its kind's publish),
  // publishes it, wakes PMDs waiting for kicks and waits until the old ones are unused. Caller
  // holds mu.
  void republish();
  // Wakes every PMD that sleeps on its queues' kick eventfds (a new config, or shutdown).
  void wakePmds();

  // A worker thread: deferred republishes, for callbacks that must not wait; the FDBs' aging
  // sweep, every second.
  void requestRepublish();
  void startWorker();
  void stopWorker();
  std::thread worker;
  std::mutex workMu;
  std::condition_variable workCv;
  bool workPending = false, workStop = false;
};

extern Datapath g;

}  // namespace vhn
