// Checksums and segmentation at egress (see offload.h for where the mbuf flags come from).
// librte_gso segments TCP/IPv4 and UDP/IPv4 GSO frames into a header mbuf per segment chained to
// indirect mbufs over the original payload, so the payload is not copied and the original (shared
// with the burst's other destinations) is not changed; rte_ip's *_udptcp_cksum_mbuf helpers
// checksum chained mbufs. rte_net_intel_cksum_prepare is not needed: it writes the pseudo-header
// sum a NIC (or librte_vhost's enqueue, which calls it itself) completes; here the sum is final.
#define ALLOW_EXPERIMENTAL_API 1  // rte_ipv{4,6}_udptcp_cksum_mbuf are experimental in 22.11
#include "offload.h"
#include <stdexcept>
#include <rte_ethdev.h>
#include <rte_gso.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>
#include <rte_udp.h>
#include "datapath.h"
#include "vxlan.h"

namespace vhn {

namespace {

rte_mempool* indirectPool = nullptr;

constexpr uint64_t kSegFlags = RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_UDP_SEG;

void freeAll(rte_mbuf** m, int n) {
  for (int i = 0; i < n; i++) rte_pktmbuf_free(m[i]);
}

// Completes the IPv4 header checksum and the TCP/UDP checksum the sender left to the device, and
// clears the requests. m's headers must be in its first segment and writable (a copy or a GSO
// header segment). False for what cannot be done here (SCTP's CRC) or headers that do not add up.
bool fillChecksums(rte_mbuf* m) {
  const uint64_t ol = m->ol_flags;
  uint64_t l4 = ol & RTE_MBUF_F_TX_L4_MASK;
  if (ol & RTE_MBUF_F_TX_TCP_SEG) l4 = RTE_MBUF_F_TX_TCP_CKSUM;  // GSO implies the L4 checksum
  const uint32_t l3off = m->l2_len, l4off = l3off + m->l3_len;
  uint32_t field;
  if (l4 == RTE_MBUF_F_TX_TCP_CKSUM) field = offsetof(rte_tcp_hdr, cksum);
  else if (l4 == RTE_MBUF_F_TX_UDP_CKSUM) field = offsetof(rte_udp_hdr, dgram_cksum);
  else if (l4 == 0) field = 0;
  else return false;  // SCTP
  if (m->data_len < l4off + field + 2) return false;
  uint8_t* b = rte_pktmbuf_mtod(m, uint8_t*);
  const bool v4 = ol & RTE_MBUF_F_TX_IPV4;
  if (!v4 && !(ol & RTE_MBUF_F_TX_IPV6)) return l4 == 0;
  auto* ip4 = reinterpret_cast<rte_ipv4_hdr*>(b + l3off);
  auto* ip6 = reinterpret_cast<rte_ipv6_hdr*>(b + l3off);
  const uint32_t ipLen = v4 ? rte_be_to_cpu_16(ip4->total_length) : 40u + rte_be_to_cpu_16(ip6->payload_len);
  if (l3off + ipLen > m->pkt_len || ipLen < m->l3_len) return false;
  if (v4) {
    ip4->hdr_checksum = 0;
    ip4->hdr_checksum = rte_ipv4_cksum(ip4);
  }
  if (l4) {
    uint16_t zero = 0, sum;
    memcpy(b + l4off + field, &zero, 2);
    sum = v4 ? rte_ipv4_udptcp_cksum_mbuf(m, ip4, (uint16_t)l4off) : rte_ipv6_udptcp_cksum_mbuf(m, ip6, (uint16_t)l4off);
    memcpy(b + l4off + field, &sum, 2);
  }
  m->ol_flags &= ~(RTE_MBUF_F_TX_L4_MASK | RTE_MBUF_F_TX_IP_CKSUM | kSegFlags);
  return true;
}

// Only the IPv4 header checksum (GSO changed its length and id): for a port that takes partial
// L4 checksums, where librte_vhost's enqueue sets NEEDS_CSUM from the L4 flag.
void fillIpv4Checksum(rte_mbuf* m) {
  if (!(m->ol_flags & RTE_MBUF_F_TX_IPV4)) return;
  auto* ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr*, m->l2_len);
  ip->hdr_checksum = 0;
  ip->hdr_checksum = rte_ipv4_cksum(ip);
  m->ol_flags &= ~RTE_MBUF_F_TX_IP_CKSUM;
}

// Segments a GSO frame into frames of at most maxFrame bytes (its own segment size when that is
// smaller). Returns the number of segments (0: one frame already, m stays as it is) or -1.
// The segments still carry m's L4 checksum request; m's flags are as before.
int segment(rte_mbuf* m, uint32_t maxFrame, rte_mbuf** out, DropReason* why) {
  const uint64_t ol = m->ol_flags;
  const uint32_t hdr = m->l2_len + m->l3_len + m->l4_len;
  if (m->tso_segsz == 0 || hdr > m->data_len) {
    *why = kDropMalformed;
    return -1;
  }
  if (!(ol & RTE_MBUF_F_TX_IPV4)) {  // librte_gso 22.11 segments IPv4 only
    *why = kDropOffload;
    return -1;
  }
  uint32_t seg = hdr + m->tso_segsz;
  if (seg > maxFrame) seg = maxFrame;
  if (seg < RTE_GSO_SEG_SIZE_MIN) seg = RTE_GSO_SEG_SIZE_MIN;
  rte_gso_ctx ctx{};
  ctx.direct_pool = g.pool;
  ctx.indirect_pool = indirectPool;
  ctx.gso_types = RTE_ETH_TX_OFFLOAD_TCP_TSO | RTE_ETH_TX_OFFLOAD_UDP_TSO;
  ctx.gso_size = (uint16_t)seg;
  ctx.flag = 0;  // incrementing IPv4 ids, as the sender's NIC would
  int r = rte_gso_segment(m, &ctx, out, kMaxSegs);
  m->ol_flags = ol;  // rte_gso_segment clears the GSO request on its input
  if (r < 0) {
    *why = kDropOffload;  // no mbufs, or more than kMaxSegs segments
    return -1;
  }
  if (r == 1) {  // one segment: m itself will do
    rte_pktmbuf_free(out[0]);
    return 0;
  }
  return r;
}

// A copy of m the caller may change (headers in the first segment, headroom for outer headers).
rte_mbuf* writableCopy(const rte_mbuf* m, DropReason* why, DropReason noMbuf) {
  rte_mbuf* c = rte_pktmbuf_copy(m, g.pool, 0, UINT32_MAX);
  if (unlikely(!c)) *why = noMbuf;
  return c;
}

}  // namespace

void offloadInit(int socket) {
  // Indirect mbufs have no data room; each GSO segment takes one or two, briefly.
  indirectPool = rte_pktmbuf_pool_create("vhostnet_gso_ind", 8191, 256, 0, 0, socket);
  if (!indirectPool) throw std::runtime_error("init: cannot create the GSO indirect mbuf pool (raise opts.memoryMb)");
}

int vhostEgress(rte_mbuf* m, const EgressCaps& c, rte_mbuf** out, DropReason* why) {
  const uint64_t ol = m->ol_flags;
  if (ol & kSegFlags) {
    const bool tcp = ol & RTE_MBUF_F_TX_TCP_SEG;
    const bool takes = c.csum && (tcp ? ((ol & RTE_MBUF_F_TX_IPV4) ? c.tso4 : c.tso6) : c.ufo);
    if (takes && (uint32_t)(m->l2_len + m->l3_len + m->l4_len + m->tso_segsz) <= c.maxFrame) return 0;
    int n = segment(m, c.maxFrame, out, why);
    if (n < 0) return -1;
    if (n > 0) {
      for (int i = 0; i < n; i++) {
        if (c.csum) fillIpv4Checksum(out[i]);
        else if (!fillChecksums(out[i])) {
          freeAll(out, n);
          *why = kDropOffload;
          return -1;
        }
      }
      return n;
    }
    // one frame already: below, as a frame with a checksum request (without the GSO one)
  }
  if (m->pkt_len > c.maxFrame) {
    *why = kDropMtu;
    return -1;
  }
  if (!(ol & kSegFlags) && (c.csum || !(ol & RTE_MBUF_F_TX_L4_MASK))) return 0;
  rte_mbuf* o = writableCopy(m, why, kDropOffload);
  if (!o) return -1;
  o->ol_flags &= ~kSegFlags;
  if (ol & RTE_MBUF_F_TX_TCP_SEG) o->ol_flags |= RTE_MBUF_F_TX_TCP_CKSUM;
  if (!c.csum && !fillChecksums(o)) {
    rte_pktmbuf_free(o);
    *why = kDropOffload;
    return -1;
  }
  out[0] = o;
  return 1;
}

int tunnelEgress(const Tunnel& t, rte_mbuf* m, const EgressCaps& c, rte_mbuf** out, DropReason* why) {
  const uint64_t ol = m->ol_flags;
  if (ol & kSegFlags) {
    int n = segment(m, c.maxFrame, out, why);
    if (n < 0) return -1;
    for (int i = 0; i < n; i++) {
      if (!fillChecksums(out[i])) {
        freeAll(out, n);
        *why = kDropOffload;
        return -1;
      }
      if (!vxlanPrepend(t, out[i])) {
        freeAll(out, n);
        *why = kDropUnderlay;
        return -1;
      }
      out[i]->ol_flags = 0;  // the underlay must not act on the inner frame's lengths
      if (t.linear && out[i]->nb_segs > 1 && rte_pktmbuf_linearize(out[i]) != 0) {  // af_xdp sends one segment
        freeAll(out, n);
        *why = kDropUnderlay;
        return -1;
      }
    }
    if (n > 0) return n;
  }
  if (m->pkt_len > c.maxFrame) {
    *why = kDropMtu;
    return -1;
  }
  rte_mbuf* o = writableCopy(m, why, kDropUnderlay);
  if (!o) return -1;
  if (ol & RTE_MBUF_F_TX_TCP_SEG) o->ol_flags |= RTE_MBUF_F_TX_TCP_CKSUM;
  if (!fillChecksums(o)) {
    rte_pktmbuf_free(o);
    *why = kDropOffload;
    return -1;
  }
  if (!vxlanPrepend(t, o)) {
    rte_pktmbuf_free(o);
    *why = kDropUnderlay;
    return -1;
  }
  o->ol_flags = 0;  // the underlay must not act on the inner frame's lengths
  out[0] = o;
  return 1;
}

int uplinkEgress(rte_mbuf* m, const EgressCaps& c, bool linear, rte_mbuf** out, DropReason* why) {
  const EgressCaps none{c.maxFrame, 0, 0, 0, 0};
  int n = vhostEgress(m, none, out, why);
  if (n < 0 || !linear) return n;
  if (n == 0) {
    if (m->nb_segs == 1) return 0;
    if (!(out[0] = writableCopy(m, why, kDropOffload))) return -1;
    n = 1;
  }
  // GSO segments are a header mbuf chained to indirect mbufs over the payload: fold them into the
  // header mbuf (a frame of at most maxFrame bytes fits its data room).
  for (int i = 0; i < n; i++)
    if (out[i]->nb_segs > 1 && rte_pktmbuf_linearize(out[i]) != 0) {
      freeAll(out, n);
      *why = kDropOffload;
      return -1;
    }
  return n;
}

}  // namespace vhn
