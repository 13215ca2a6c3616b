// VXLAN tunnel ports (ports/tunnel.cpp): a bridge's frames encapsulated over an underlay kernel
// interface, opened with DPDK's af_packet PMD, or its af_xdp PMD when asked (af_packet if the
// interface refuses AF_XDP).
#pragma once
#include <cstdint>
#include <string>

namespace vhn {

struct TunnelSpec {
  int bridge;
  std::string iface;
  uint32_t localIp, remoteIp;  // network order
  uint8_t localMac[6], remoteMac[6];
  uint32_t vni;
  uint16_t udpPort;          // host order
  bool afXdp;                // try AF_XDP on the underlay first
  bool splitHorizon = true;  // Port::splitHorizon
};

// The port's id. Throws RangeErr / runtime_error naming the field and the reason.
int createTunnel(const TunnelSpec& s);

}  // namespace vhn
