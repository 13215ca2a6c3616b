// VXLAN on the fast path: a tunnel's outer header template and the per-packet encapsulation /
// decapsulation the PMDs run (inline: they are on the hot path). The tunnel port kind, which
// opens the underlay and fills the template, is ports/tunnel.cpp.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

namespace vhn {

constexpr uint32_t kVxlanOverhead = 14 + 20 + 8 + 8;  // outer Ethernet + IPv4 + UDP + VXLAN

// Written by the port's open, immutable once it is started (PMDs read it without locks).
struct Tunnel {
  uint8_t outer[kVxlanOverhead];  // template: MACs, IPs, ports, VNI; lengths/csum/src port per packet
  uint32_t localIp, remoteIp;     // network order
  uint32_t vniWord;               // network order, VNI << 8 (the VXLAN header's second word)
  uint16_t udpPort;               // network order
  uint16_t ethPort;               // the underlay ethdev (af_packet or af_xdp)
  uint16_t queues;                // ethdev queue pairs (one per PMD: tx queues are not shared)
  bool raw = false;               // an uplink port (ports/ethdev.cpp): frames as they are, no outer header
  bool linear = false;            // the ethdev sends only the first segment of a chained mbuf (af_xdp)
  uint32_t underlayMtu = 0;       // the interface's MTU when the port was made
  std::string vdevName, iface;
  std::string driver;    // "af_packet" / "af_xdp": how the underlay is driven
  std::string fallback;  // why af_xdp was asked for and not used, "" otherwise
};

// Flow entropy for the outer UDP source port (RFC 7348: 49152..65535): inner MACs, and the
// IPv4 addresses and ports when there are some, so one flow keeps one underlay path.
inline uint16_t vxlanSrcPort(const uint8_t* in, uint32_t len) {
  uint64_t a, b;
  memcpy(&a, in, 8);
  uint32_t c;
  memcpy(&c, in + 8, 4);
  b = c;
  if (len >= 38 && in[12] == 0x08 && in[13] == 0x00) {
    uint64_t ips;
    uint32_t ports;
    memcpy(&ips, in + 26, 8);
    memcpy(&ports, in + 34, 4);
    b ^= ips * 0x9E3779B97F4A7C15ull ^ ports;
  }
  uint64_t h = (a ^ (b * 0xC2B2AE3D27D4EB4Full)) * 0x9E3779B97F4A7C15ull;
  return (uint16_t)(49152 + ((h >> 40) & 0x3fff));
}

// Writes the outer headers at d for an inner frame of len bytes whose first `seen` bytes are at in.
inline void vxlanFillOuter(const Tunnel& t, uint8_t* d, const uint8_t* in, uint32_t len, uint32_t seen) {
  memcpy(d, t.outer, kVxlanOverhead);
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(d + 14);
  ip->total_length = rte_cpu_to_be_16((uint16_t)(20 + 8 + 8 + len));
  ip->hdr_checksum = 0;
  ip->hdr_checksum = rte_ipv4_cksum(ip);
  uint16_t* udp = reinterpret_cast<uint16_t*>(d + 34);
  udp[0] = rte_cpu_to_be_16(vxlanSrcPort(in, seen));
  udp[2] = rte_cpu_to_be_16((uint16_t)(8 + 8 + len));
}

// Returns a new mbuf holding outer headers + a copy of m (the burst's mbufs are shared by
// flooding and freed in bulk by the loop, so they cannot be handed to the ethdev), or nullptr.
inline rte_mbuf* vxlanEncap(const Tunnel& t, const rte_mbuf* m, rte_mempool* pool) {
  const uint32_t len = m->pkt_len;
  rte_mbuf* o = rte_pktmbuf_alloc(pool);
  if (unlikely(!o)) return nullptr;
  uint8_t* d = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(o, (uint16_t)(kVxlanOverhead + len)));
  if (unlikely(!d || kVxlanOverhead + len > 0xffff)) {
    rte_pktmbuf_free(o);
    return nullptr;
  }
  uint8_t* in = d + kVxlanOverhead;
  const void* src = rte_pktmbuf_read(m, 0, len, in);
  if (src != in) memcpy(in, src, len);
  vxlanFillOuter(t, d, in, len, len);
  return o;
}

// Puts the outer headers in front of m, in its headroom (m is ours: a copy or a GSO segment,
// possibly chained: the underlay's af_packet PMD copies chains). False if there is no room.
inline bool vxlanPrepend(const Tunnel& t, rte_mbuf* m) {
  const uint32_t len = m->pkt_len, seen = m->data_len;
  if (unlikely(len + 36 > 0xffff)) return false;
  uint8_t* d = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, (uint16_t)kVxlanOverhead));
  if (unlikely(!d)) return false;
  vxlanFillOuter(t, d, d + kVxlanOverhead, len, seen);
  return true;
}

// True (and m adjusted to the inner frame) if m is IPv4/UDP from remoteIp to localIp:udpPort
// carrying our VNI; false for anything else on the underlay (ARP, other traffic).
inline bool vxlanDecap(const Tunnel& t, rte_mbuf* m) {
  if (unlikely(m->data_len < kVxlanOverhead + 14)) return false;
  const uint8_t* e = rte_pktmbuf_mtod(m, const uint8_t*);
  if (e[12] != 0x08 || e[13] != 0x00) return false;
  const uint8_t* ip = e + 14;
  const uint32_t ihl = (ip[0] & 0x0f) * 4u;
  if ((ip[0] & 0xf0) != 0x40 || ihl < 20 || ip[9] != 17) return false;
  if ((ip[6] & 0x3f) || ip[7]) return false;  // a fragment: not reassembled (DF is what we send)
  uint32_t src, dst;
  memcpy(&src, ip + 12, 4);
  memcpy(&dst, ip + 16, 4);
  if (dst != t.localIp || src != t.remoteIp) return false;
  const uint32_t hdrs = 14 + ihl + 8 + 8;
  if (m->data_len < hdrs + 14) return false;
  const uint8_t* udp = ip + ihl;
  uint16_t dport;
  memcpy(&dport, udp + 2, 2);
  if (dport != t.udpPort) return false;
  const uint8_t* vx = udp + 8;
  uint32_t w;
  memcpy(&w, vx + 4, 4);
  if (!(vx[0] & 0x08) || (w & rte_cpu_to_be_32(0xffffff00)) != t.vniWord) return false;
  rte_pktmbuf_adj(m, (uint16_t)hdrs);
  return true;
}

}  // namespace vhn
