// Uplink ports (ports/ethdev.cpp): a DPDK ethdev on the bridge, as OVS's `dpdk` interface type:
// a PCI NIC bound to vfio-pci, or a kernel interface through net_af_xdp / net_af_packet.
#pragma once
#include <cstdint>
#include <string>

namespace vhn {

struct EthdevSpec {
  int bridge;
  // As OVS options:dpdk-devargs: "0000:01:00.0" (PCI), or "net_af_xdp0,iface=eth0",
  // "net_af_packet0,iface=eth0" (a virtual device over a kernel interface).
  std::string devargs;
  uint16_t mtu;  // 0: leave the device's
};

// The port's id. Throws RangeErr / runtime_error naming the field and the reason.
int createEthdevPort(const EthdevSpec& s);

}  // namespace vhn
