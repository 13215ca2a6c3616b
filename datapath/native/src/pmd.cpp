// The packet loop, and nothing else. Per polled vring (or VXLAN underlay rx queue, decapsulated): dequeue a burst from the guest, learn
// the sources, find each packet's destination (last-hit cache, then the FDB), and enqueue
// once per destination port; flooding enqueues the same mbufs to every other ready port
// (rte_vhost_enqueue_burst copies, so no clone is needed), then all mbufs are freed in bulk.
#include "pmd.h"
#include <ctime>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <rte_branch_prediction.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
#include <rte_vhost.h>
#include "datapath.h"
#include "offload.h"

namespace vhn {

namespace {

constexpr int32_t kFlood = -1;
constexpr int32_t kDrop = -2;
constexpr uint32_t kEmptyPollsBeforeSleep = 64;
constexpr uint64_t kIdleUsBeforeWait = 10000;  // no packet for this long: wait for kicks
constexpr int kWaitMs = 100;                   // longest wait without a look (a lost kick costs at most this)
constexpr size_t kMaxWaitQueues = 256;         // more polled vrings than this: back off instead

// MACs as the 6 wire bytes loaded little-endian (one 8-byte load each).
inline uint64_t dstMac(const uint8_t* eth) {
  uint64_t v;
  __builtin_memcpy(&v, eth, 8);
  return v & 0xffffffffffffull;
}
inline uint64_t srcMac(const uint8_t* eth) {
  uint64_t v;
  __builtin_memcpy(&v, eth + 4, 8);
  return v >> 16;
}

inline uint64_t sumBytes(rte_mbuf* const* pkts, uint16_t n) {
  uint64_t b = 0;
  for (uint16_t i = 0; i < n; i++) b += pkts[i]->pkt_len;
  return b;
}

// What the loop learns of a burst while routing it, so sending it whole takes no second pass
// over its mbufs (bytes for the counters, offload flags and the longest frame for egress).
struct BurstSummary {
  uint64_t bytes = 0, ol = 0;
  uint32_t maxLen = 0;
  inline void add(const rte_mbuf* m) {
    bytes += m->pkt_len;
    ol |= m->ol_flags;
    maxLen = m->pkt_len > maxLen ? m->pkt_len : maxLen;
  }
};
inline BurstSummary summarize(rte_mbuf* const* pkts, uint16_t n) {
  BurstSummary s;
  for (uint16_t i = 0; i < n; i++) s.add(pkts[i]);
  return s;
}

// Frames from one burst headed for one port may become more (GSO segments): staged here.
constexpr uint16_t kStage = kBurst + kMaxSegs;

// Uplink port: the frames themselves, in tx bursts. A burst with offload requests or frames too
// long for the port goes through offload.cpp first (checksummed, segmented or dropped: the
// ethdev is opened without TX offloads). The burst's mbufs are shared (flooding) and freed in
// bulk by the loop, so each one sent as it is gains a reference the ethdev then drops; new
// mbufs are the ethdev's.
__attribute__((noinline)) void sendEthdev(const TxTarget& t, rte_mbuf* const* pkts, uint16_t n) {
  rte_mbuf* out[kStage];
  uint16_t k = 0;
  uint64_t sentAll = 0, bytes = 0, failed = 0;
  auto flush = [&] {
    uint16_t sent = k ? rte_eth_tx_burst(t.tun->ethPort, t.ethQueue, out, k) : 0;
    sentAll += sent;
    bytes += sumBytes(out, sent);
    if (unlikely(sent < k)) {
      rte_pktmbuf_free_bulk(out + sent, k - sent);
      failed += k - sent;  // the device's tx ring was full
    }
    k = 0;
  };
  const bool slow = needsEgressWork(pkts, n, t.caps) || t.tun->linear;
  for (uint16_t i = 0; i < n; i++) {
    rte_mbuf* m = pkts[i];
    int r = 0;
    if (unlikely(slow)) {
      if (k + kMaxSegs > kStage) flush();
      DropReason why;
      if ((r = uplinkEgress(m, t.caps, t.tun->linear, out + k, &why)) < 0) {
        countDrop(t.ctr, why, 1);
        continue;
      }
    }
    if (r > 0) {
      k = (uint16_t)(k + r);
      continue;
    }
    for (rte_mbuf* s = m; s != nullptr; s = s->next) rte_mbuf_refcnt_update(s, 1);
    out[k++] = m;
  }
  flush();
  addCounter(t.ctr->txPackets, sentAll);
  addCounter(t.ctr->txBytes, bytes);
  if (unlikely(failed)) countDrop(t.ctr, kDropUnderlay, failed);
}

// VXLAN port: a copy of each frame behind outer headers, tx bursts on the underlay ethdev.
// Frames with an offload request or too long for the tunnel go through offload.cpp.
__attribute__((noinline)) void sendTunnel(const TxTarget& t, rte_mbuf* const* pkts, uint16_t n) {
  if (t.tun->raw) return sendEthdev(t, pkts, n);
  rte_mbuf* out[kStage];
  uint16_t k = 0;
  uint64_t sentAll = 0, bytes = 0, failed = 0;
  auto flush = [&] {
    uint16_t sent = k ? rte_eth_tx_burst(t.tun->ethPort, t.ethQueue, out, k) : 0;
    for (uint16_t i = 0; i < sent; i++) bytes += out[i]->pkt_len - kVxlanOverhead;
    if (unlikely(sent < k)) {
      rte_pktmbuf_free_bulk(out + sent, k - sent);
      failed += k - sent;
    }
    sentAll += sent;
    k = 0;
  };
  for (uint16_t i = 0; i < n; i++) {
    rte_mbuf* m = pkts[i];
    if (likely(!(m->ol_flags & kOffloadFlags) && m->pkt_len <= t.caps.maxFrame)) {
      rte_mbuf* o = vxlanEncap(*t.tun, m, g.pool);
      if (likely(o != nullptr)) out[k++] = o;
      else countDrop(t.ctr, kDropUnderlay, 1);  // no mbuf for the copy
      continue;
    }
    if (k + kMaxSegs > kStage) flush();
    DropReason why;
    int r = tunnelEgress(*t.tun, m, t.caps, out + k, &why);
    if (r < 0) countDrop(t.ctr, why, 1);
    else k = (uint16_t)(k + r);
  }
  flush();
  addCounter(t.ctr->txPackets, sentAll);
  addCounter(t.ctr->txBytes, bytes);
  if (unlikely(failed)) countDrop(t.ctr, kDropUnderlay, failed);
}

// Enqueues out[0..k) (librte_vhost takes at most kBurst per call); the rest is ring-full.
inline void enqueueAll(int vid, uint16_t vring, QueueCounters* ctr, rte_mbuf** out, uint16_t k) {
  uint16_t done = 0;
  while (done < k) {
    uint16_t want = (uint16_t)(k - done) < kBurst ? (uint16_t)(k - done) : (uint16_t)kBurst;
    uint16_t sent = rte_vhost_enqueue_burst(vid, vring, out + done, want);
    addCounter(ctr->txPackets, sent);
    addCounter(ctr->txBytes, sumBytes(out + done, sent));
    done = (uint16_t)(done + sent);
    if (sent < want) break;
  }
  if (unlikely(done != k)) countDrop(ctr, kDropRingFull, k - done);
}

// A burst with offload requests or frames too long for the guest: offload.cpp decides per frame
// (as it is, checksummed copy, GSO segments, or dropped for a reason).
__attribute__((noinline)) void sendVhostSlow(const TxTarget& t, uint16_t vring, QueueCounters* ctr, rte_mbuf* const* pkts, uint16_t n) {
  rte_mbuf* out[kStage];
  rte_mbuf* fresh[kStage];
  uint16_t k = 0, nf = 0;
  auto flush = [&] {
    if (k) enqueueAll(t.vid, vring, ctr, out, k);
    if (nf) rte_pktmbuf_free_bulk(fresh, nf);  // the enqueue copied them
    k = nf = 0;
  };
  for (uint16_t i = 0; i < n; i++) {
    if (k + kMaxSegs > kStage) flush();
    DropReason why;
    int r = vhostEgress(pkts[i], t.caps, out + k, &why);
    if (r == 0) out[k++] = pkts[i];
    else if (r > 0) {
      for (int j = 0; j < r; j++) fresh[nf++] = out[k + j];
      k = (uint16_t)(k + r);
    } else countDrop(ctr, why, 1);
  }
  flush();
}

// srcQp: the queue pair the burst came in on, -1 if it has none (then the PMD's default lane).
// vhost takes the vq's access lock, so PMDs sharing a destination vring stay safe.
// s: the summary of pkts[0..n).
inline void sendTo(const PmdConf* c, int32_t port, rte_mbuf** pkts, uint16_t n, int srcQp, const BurstSummary& s) {
  const TxTarget& t = c->tx[port];
  if (unlikely(t.tun != nullptr)) return sendTunnel(t, pkts, n);
  if (unlikely(t.vid < 0)) {  // destination has no ready guest RX vring
    if (t.ctr) countDrop(t.ctr, kDropRingFull, n);
    return;
  }
  uint16_t vring = t.vring;
  QueueCounters* ctr = t.ctr;
  if (likely(srcQp >= 0)) {
    vring = t.lanes[t.nLanes == 1 ? 0 : (uint16_t)srcQp % t.nLanes];
    ctr = t.row0 + vring / 2;
  }
  if (unlikely((s.ol & kOffloadFlags) || s.maxLen > t.caps.maxFrame)) return sendVhostSlow(t, vring, ctr, pkts, n);
  uint16_t sent = rte_vhost_enqueue_burst(t.vid, vring, pkts, n);
  addCounter(ctr->txPackets, sent);
  addCounter(ctr->txBytes, likely(sent == n) ? s.bytes : sumBytes(pkts, sent));
  if (unlikely(sent != n)) countDrop(ctr, kDropRingFull, n - sent);
}

// Learns the source and returns the destination port, kFlood or kDrop.
inline int32_t route(RxQueue& q, const rte_mbuf* m, uint32_t now) {
  if (unlikely(m->data_len < 14)) return countDrop(q.ctr, kDropMalformed, 1), kDrop;  // not even an Ethernet header
  const uint8_t* eth = rte_pktmbuf_mtod(m, const uint8_t*);
  const uint64_t src = srcMac(eth), dst = dstMac(eth);
  Fdb* f = q.fdb;
  uint32_t gen = f->gen.load(std::memory_order_acquire);
  if (unlikely(src != q.srcMac || now != q.srcSec || gen != q.srcGen)) {
    if (unlikely(src & 1)) return countDrop(q.ctr, kDropMalformed, 1), kDrop;  // multicast source: invalid frame
    if (!f->isCurrent(src, q.port, now) && !f->learn(src, q.port, now)) countDrop(q.ctr, kDropMacLimit, 1);  // not learned, still switched
    q.srcMac = src;
    q.srcSec = now;
    q.srcGen = gen = f->gen.load(std::memory_order_acquire);
  }
  if (dst & 1) return kFlood;  // broadcast / multicast
  if (likely(dst == q.dstMac && now == q.dstSec && gen == q.dstGen)) return q.dstPort;
  int32_t p = f->lookup(dst, now);
  if (p < 0) p = kFlood;
  else if (p == q.port) p = kDrop;  // never back out of the ingress port
  q.dstMac = dst;
  q.dstSec = now;
  q.dstGen = gen;
  q.dstPort = p;
  return p;
}

// Mixed burst: one enqueue per target port, keeping each target's packets in order.
__attribute__((noinline)) void sendMixed(const PmdConf* c, const RxQueue& q, rte_mbuf** pkts, const int32_t* dst, uint16_t n, int srcQp) {
  bool anyFlood = false;
  int32_t targets[kBurst];
  int nt = 0;
  for (uint16_t i = 0; i < n; i++) {
    if (dst[i] == kFlood) {
      anyFlood = true;
      continue;
    }
    if (dst[i] < 0) continue;
    int k = 0;
    while (k < nt && targets[k] != dst[i]) k++;
    if (k == nt) targets[nt++] = dst[i];
  }
  rte_mbuf* sub[kBurst];
  // a unicast target gets the burst's flooded frames too, if it is one of the queue's flood
  // targets (a split-horizon ingress does not flood to another split-horizon port)
  auto floodsTo = [&](int32_t port) {
    for (uint16_t j = 0; j < q.nMembers; j++)
      if (q.members[j] == port) return true;
    return false;
  };
  auto gather = [&](int32_t port) {
    const bool fl = anyFlood && floodsTo(port);
    uint16_t k = 0;
    for (uint16_t i = 0; i < n; i++)
      if (dst[i] == port || (fl && dst[i] == kFlood)) sub[k++] = pkts[i];
    if (k) sendTo(c, port, sub, k, srcQp, summarize(sub, k));
  };
  for (int k = 0; k < nt; k++) gather(targets[k]);
  if (!anyFlood) return;
  for (uint16_t j = 0; j < q.nMembers; j++) {
    int32_t m = q.members[j];
    if (m == q.port) continue;
    int k = 0;
    while (k < nt && targets[k] != m) k++;
    if (k < nt) continue;  // already got its flood packets with its unicast ones
    gather(m);
  }
}

inline void flood(const PmdConf* c, const RxQueue& q, rte_mbuf** pkts, uint16_t n, int srcQp, const BurstSummary& s) {
  for (uint16_t j = 0; j < q.nMembers; j++)
    if (q.members[j] != q.port) sendTo(c, q.members[j], pkts, n, srcQp, s);
}

// Switches one received burst (learn, route, send), then frees it. srcQp as for sendTo.
inline void switchBurst(const PmdConf* c, RxQueue& q, rte_mbuf** pkts, uint16_t n, uint32_t now, int srcQp) {
  int32_t dst[kBurst];
  BurstSummary s;
  bool same = true;
  for (uint16_t i = 0; i < n; i++) {
    if (i + 1 < n) rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void*));
    dst[i] = route(q, pkts[i], now);
    same &= dst[i] == dst[0];
    s.add(pkts[i]);
  }
  addCounter(q.ctr->rxPackets, n);
  addCounter(q.ctr->rxBytes, s.bytes);
  if (likely(same)) {
    if (dst[0] >= 0) sendTo(c, dst[0], pkts, n, srcQp, s);
    else if (dst[0] == kFlood) flood(c, q, pkts, n, srcQp, s);
  } else {
    sendMixed(c, q, pkts, dst, n, srcQp);
  }
  rte_pktmbuf_free_bulk(pkts, n);
}

inline uint16_t pollQueue(const PmdConf* c, RxQueue& q, rte_mempool* pool, uint32_t now) {
  rte_mbuf* pkts[kBurst];
  uint16_t n = rte_vhost_dequeue_burst(q.vid, q.vring, pool, pkts, kBurst);
  if (n == 0) return 0;
  switchBurst(c, q, pkts, n, now, q.vring / 2);
  return n;
}

// Underlay rx queue of a VXLAN port: our tunnel's frames are decapsulated and switched (no
// source queue pair: destinations use the PMD's lane); frames for the other tunnels on the same
// underlay (q.next's chain) are switched by their queues; anything else on the link is freed.
constexpr int kTunnelsPerPoll = 8;  // tunnels sharing one underlay that one poll tells apart

// A burst from an underlay several tunnels share: each frame to the first tunnel of the chain
// whose endpoints and VNI it carries, then one switched burst per tunnel.
__attribute__((noinline)) uint16_t pollSharedUnderlay(const PmdConf* c, RxQueue& q, rte_mbuf** pkts, uint16_t n, uint32_t now) {
  RxQueue* chain[kTunnelsPerPoll];
  int nc = 0;
  for (RxQueue* r = &q; r && nc < kTunnelsPerPoll; r = r->next < 0 ? nullptr : const_cast<RxQueue*>(&c->rx[(size_t)r->next]))
    chain[nc++] = r;
  rte_mbuf* per[kTunnelsPerPoll][kBurst];
  uint16_t cnt[kTunnelsPerPoll] = {};
  rte_mbuf* other[kBurst];
  uint16_t no = 0;
  for (uint16_t i = 0; i < n; i++) {
    int j = 0;
    while (j < nc && !vxlanDecap(*chain[j]->tun, pkts[i])) j++;
    if (j < nc) per[j][cnt[j]++] = pkts[i];
    else other[no++] = pkts[i];
  }
  if (no) rte_pktmbuf_free_bulk(other, no);
  for (int j = 0; j < nc; j++)
    if (cnt[j]) switchBurst(c, *chain[j], per[j], cnt[j], now, -1);
  return n;
}

inline uint16_t pollTunnel(const PmdConf* c, RxQueue& q, uint32_t now) {
  if (q.follower) return 0;  // polled by the chain's first queue
  rte_mbuf* pkts[kBurst];
  rte_mbuf* other[kBurst];
  uint16_t n = rte_eth_rx_burst(q.tun->ethPort, q.ethQueue, pkts, kBurst);
  if (n == 0) return 0;
  if (q.tun->raw) {  // an uplink: every frame on the wire is the bridge's
    switchBurst(c, q, pkts, n, now, -1);
    return n;
  }
  uint16_t k = 0, no = 0;
  if (likely(q.next < 0)) {
    for (uint16_t i = 0; i < n; i++) {
      if (likely(vxlanDecap(*q.tun, pkts[i]))) pkts[k++] = pkts[i];
      else other[no++] = pkts[i];
    }
    if (no) rte_pktmbuf_free_bulk(other, no);
    if (k) switchBurst(c, q, pkts, k, now, -1);
    return n;
  }
  return pollSharedUnderlay(c, q, pkts, n, now);
}

// Notifications on or off for every vring c polls (all guest TX vrings: see waitForKicks).
void setKicks(const PmdConf* c, int on) {
  for (const RxQueue& q : c->rx) rte_vhost_enable_guest_notification(q.vid, q.vring, on);
}

// The adaptive mode (VPP's): a PMD that saw no packet for kIdleUsBeforeWait asks its guests to
// kick again, looks once more (a frame queued before notifications were on kicks nobody), and
// sleeps on the vrings' kick eventfds and its wake eventfd. The first kick, a new config or
// kWaitMs puts it back to polling with notifications off. Returns false, having changed
// nothing, when c polls something that cannot kick (an ethdev: tunnel or uplink) or too much.
// Called online; sleeps offline, so control never waits for a waiting PMD.
bool waitForKicks(Pmd* self, QsCounter& qs, const PmdConf* c) {
  const size_t nrx = c ? c->rx.size() : 0;
  if (nrx > kMaxWaitQueues) return false;
  for (size_t i = 0; i < nrx; i++)
    if (c->rx[i].tun != nullptr) return false;
  int kick[kMaxWaitQueues];
  for (size_t i = 0; i < nrx; i++) {
    rte_vhost_vring vr;
    if (rte_vhost_get_vhost_vring(c->rx[i].vid, c->rx[i].vring, &vr) != 0 || vr.kickfd < 0) return false;
    kick[i] = vr.kickfd;
  }
  if (c) setKicks(c, 1);
  std::atomic_thread_fence(std::memory_order_seq_cst);  // notifications on before the last look (virtio's rule)
  for (size_t i = 0; i < nrx; i++)
    if (rte_vhost_rx_queue_count(c->rx[i].vid, c->rx[i].vring) > 0) {
      setKicks(c, 0);
      return false;
    }
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) {
    if (c) setKicks(c, 0);
    return false;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = UINT64_MAX;
  epoll_ctl(ep, EPOLL_CTL_ADD, self->wakeFd, &ev);
  for (size_t i = 0; i < nrx; i++) {
    ev.data.u64 = i;
    epoll_ctl(ep, EPOLL_CTL_ADD, kick[i], &ev);  // EEXIST: two vrings of one eventfd, fine
  }
  // The kick fds stay valid while no republish completes: one that frees c (or closes a
  // device's fds) bumps the token first, and waits for us once we are back online.
  const uint64_t token = g.rcu.token.load(std::memory_order_acquire);
  g.rcu.offline(qs);
  epoll_event evs[16];
  int n = epoll_wait(ep, evs, 16, kWaitMs);
  g.rcu.online(qs);
  uint64_t v;
  if (read(self->wakeFd, &v, sizeof v) < 0) {
    // EAGAIN: nobody woke us
  }
  const PmdConf* now = self->conf.load(std::memory_order_acquire);
  if (g.rcu.token.load(std::memory_order_acquire) == token) {
    // Only we read the kick eventfds (librte_vhost does not): clear the ones that fired.
    for (int i = 0; i < n; i++)
      if (evs[i].data.u64 != UINT64_MAX && read(kick[evs[i].data.u64], &v, sizeof v) < 0) {
        // cleared through the other vring that shares it
      }
    if (c) setKicks(c, 0);
  } else if (now) {
    setKicks(now, 0);  // c may be gone; its vrings that remain are in now (a new port's are off already)
  }
  close(ep);
  return true;
}

}  // namespace

int pmdMain(void* arg) {
  Pmd* self = static_cast<Pmd*>(arg);
  QsCounter& qs = g.qs[self->index];
  rte_mempool* pool = g.pool;
  prctl(PR_SET_TIMERSLACK, 1000UL);  // 1 us: let short back-off sleeps be short
  uint64_t prev = rte_rdtsc();
  uint64_t lastBusy = prev;
  const uint64_t waitAfter = g.tscHz * kIdleUsBeforeWait / 1000000;
  uint32_t emptyPolls = 0, sleepUs = 0;
  g.rcu.online(qs);
  while (likely(g.running.load(std::memory_order_relaxed))) {
    const PmdConf* c = self->conf.load(std::memory_order_acquire);
    const uint64_t start = prev;
    const uint32_t now = (uint32_t)((start - g.tscBase) / g.tscHz);
    uint32_t moved = 0;
    if (likely(c != nullptr)) {
      RxQueue* rx = const_cast<RxQueue*>(c->rx.data());  // caches are this PMD's own
      const size_t nrx = c->rx.size();
      for (size_t i = 0; i < nrx; i++) moved += likely(rx[i].tun == nullptr) ? pollQueue(c, rx[i], pool, now) : pollTunnel(c, rx[i], now);
    }
    g.rcu.quiescent(qs);
    const uint64_t t = rte_rdtsc();
    prev = t;
    if (moved) {
      addCounter(self->busyCycles, t - start);
      addCounter(self->packets, moved);
      lastBusy = t;
      emptyPolls = 0;
      sleepUs = 0;
      continue;
    }
    addCounter(self->idleCycles, t - start);
    const uint32_t maxSleep = g.maxSleepUs.load(std::memory_order_relaxed);
    if (maxSleep == 0 || ++emptyPolls < kEmptyPollsBeforeSleep) continue;
    if (t - lastBusy >= waitAfter && waitForKicks(self, qs, self->conf.load(std::memory_order_acquire))) {
      const uint64_t w = rte_rdtsc();
      addCounter(self->idleCycles, w - prev);
      prev = w;
      sleepUs = 0;
      continue;
    }
    sleepUs = sleepUs ? (sleepUs * 2 > maxSleep ? maxSleep : sleepUs * 2) : 1;
    g.rcu.offline(qs);  // holds no config while asleep: control need not wait for it
    timespec ts{0, (long)sleepUs * 1000};
    nanosleep(&ts, nullptr);
    g.rcu.online(qs);
    const uint64_t w = rte_rdtsc();
    addCounter(self->idleCycles, w - prev);
    prev = w;
  }
  g.rcu.offline(qs);
  return 0;
}

}  // namespace vhn
