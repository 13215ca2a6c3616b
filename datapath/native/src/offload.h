// Checksums and segmentation at egress. We register vhost sockets without
// RTE_VHOST_USER_NET_COMPLIANT_OL_FLAGS, so DPDK 22.11's dequeue turns a guest's virtio-net
// header into TX mbuf flags (the "legacy" mode): NEEDS_CSUM -> RTE_MBUF_F_TX_{TCP,UDP,SCTP}_CKSUM
// with RTE_MBUF_F_TX_IPV4/IPV6 and l2_len/l3_len; a GSO frame -> RTE_MBUF_F_TX_TCP_SEG /
// UDP_SEG with tso_segsz and l4_len. Its enqueue writes those flags back into the destination's
// header whatever that guest negotiated, and the tunnel's underlay knows nothing of them. So a
// frame leaves a port as it came only if that port can take it; otherwise it is checksummed and
// segmented here, in software, with librte_gso and rte_ip's checksum helpers.
#pragma once
#include <cstdint>
#include <rte_mbuf.h>
#include "stats.h"

namespace vhn {

struct Tunnel;

// What an egress port can take.
struct EgressCaps {
  uint32_t maxFrame;        // longest frame, no FCS (MTU + Ethernet header + one VLAN tag for guests)
  uint8_t csum;             // partial checksums (VIRTIO_NET_F_GUEST_CSUM)
  uint8_t tso4, tso6, ufo;  // GSO frames of that kind (VIRTIO_NET_F_GUEST_TSO4 / TSO6 / UFO)
};

constexpr uint64_t kOffloadFlags = RTE_MBUF_F_TX_L4_MASK | RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_UDP_SEG;
constexpr uint16_t kMaxSegs = 128;  // frames one GSO frame may become (64 KiB at an MSS of 512)

// True if some frame of the burst is too long for the port or carries an offload request: the
// loop then takes the slow path (plain frames of a plain burst never do).
inline bool needsEgressWork(rte_mbuf* const* pkts, uint16_t n, const EgressCaps& c) {
  uint64_t ol = 0;
  uint32_t len = 0;
  for (uint16_t i = 0; i < n; i++) {
    ol |= pkts[i]->ol_flags;
    len = pkts[i]->pkt_len > len ? pkts[i]->pkt_len : len;
  }
  return (ol & kOffloadFlags) || len > c.maxFrame;
}

// Creates the pool of indirect mbufs that carry GSO segments' payloads. Once, after the EAL.
void offloadInit(int socket);

// A frame for a vhost port: 0 = enqueue m as it is; k > 0 = enqueue out[0..k) instead (new
// mbufs, the caller frees them after the enqueue copied them); -1 = dropped for *why.
// m is never changed: the burst's other destinations still use it.
int vhostEgress(rte_mbuf* m, const EgressCaps& c, rte_mbuf** out, DropReason* why);

// A frame for a tunnel port: k > 0 = out[0..k) are encapsulated frames for the underlay (new
// mbufs, owned by the caller); -1 = dropped for *why. For frames with an offload request or too
// long for c.maxFrame (the fast path encapsulates the others itself).
int tunnelEgress(const Tunnel& t, rte_mbuf* m, const EgressCaps& c, rte_mbuf** out, DropReason* why);

// A frame for an uplink port (an ethdev opened without TX offloads): as vhostEgress for a guest
// that negotiated none (0 = send m as it is, k > 0 = send out[0..k) instead, -1 = dropped for
// *why), and with linear set every frame sent is one segment (a copy when m is chained).
int uplinkEgress(rte_mbuf* m, const EgressCaps& c, bool linear, rte_mbuf** out, DropReason* why);

}  // namespace vhn
