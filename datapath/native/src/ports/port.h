// A port of a bridge, whatever its kind, and the table of operations each kind implements
// (as Open vSwitch's netdev classes): ports/vhost.cpp (vhost-user sockets), ports/tunnel.cpp
// (VXLAN over an af_packet underlay). One allocator (addPort) gives every kind its id, counters,
// key and bridge membership; destroyPort and portInfo work on any kind through its table.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>
#include "../stats.h"

namespace vhn {

struct PortStatsView {
  uint64_t rxPackets = 0, rxBytes = 0, txPackets = 0, txBytes = 0, txDrops = 0;
  uint64_t drops[kDropReasons] = {};  // by DropReason
};

struct PortInfoView {
  bool connected = false, socketReady = false;
  int vringsEnabled = 0, vringsTotal = 0, queuePairs = 0;
  uint64_t offered = 0, negotiated = 0;
  uint32_t mtu = 0;                              // the port's (setPortMtu, or its default)
  uint32_t guestMtu = 0;                         // what the guest's virtio-net took (VIRTIO_NET_F_MTU), 0 if it did not
  uint32_t underlayMtu = 0;                      // tunnel ports: the underlay interface's
  std::string underlayDriver, underlayFallback;  // tunnel ports: Tunnel::driver, Tunnel::fallback
  // Ethdev-backed ports (tunnel underlay, uplink): what the device itself counted (rte_eth_stats):
  // frames it dropped before any PMD saw them (rx ring full, no mbuf, bad frames) and tx errors.
  bool hasDevice = false;
  uint64_t devRxMissed = 0, devRxErrors = 0, devRxNoMbuf = 0, devTxErrors = 0;
  // Over a kernel interface (af_xdp, af_packet): what the kernel dropped there itself. Under
  // AF_XDP, rx drops are frames XDP could not put on the socket's ring (the PMD fell behind).
  bool hasKernel = false;
  uint64_t kernelRxDropped = 0, kernelTxDropped = 0;
  PortStatsView total;
  std::vector<PortStatsView> queues;
};

struct PortOps;
struct Publisher;

// The part every kind shares; a kind derives its own record from it (VhostPort, TunnelPort),
// which only its operations touch. Fields are guarded by Datapath::mu.
struct Port {
  virtual ~Port() = default;
  const PortOps* ops = nullptr;
  uint16_t id = 0;
  uint16_t bridge = 0;
  std::string key;                 // unique among ports: the socket path, "vxlan:IFACE" for a tunnel
  bool started = false;            // open succeeded
  bool dying = false;              // destroyPort in progress: excluded from every PMD config
  uint16_t maxQueuePairsSeen = 0;  // stats are kept per queue pair across reconnects
  uint32_t mtu = 1500;             // setPortMtu; a tunnel's starts at its underlay's MTU - 50
  // Frames flooded in from this port are not flooded out of another split-horizon port (the
  // tunnels of a full mesh: each remote host floods to the others itself). Unicast is not limited.
  bool splitHorizon = false;
  PortCounters ctr;
};

// What a port kind does. Every call is made by control (Node's main thread).
struct PortOps {
  const char* kind;
  // Acquires what the port runs on (a vhost-user socket, an underlay ethdev). Called without
  // Datapath::mu (librte_vhost's callbacks take it): the port is already reserved (in
  // Datapath::ports and portByPath, so the callbacks find it) but not started, and no config
  // publishes it. On failure it releases what it took and throws, naming the field.
  void (*open)(Port& p);
  // Releases it; called without mu, once no PMD config refers to the port (it is dying and has
  // been republished) or the PMDs have stopped, and only if open succeeded.
  void (*close)(Port& p);
  // Fills the kind's part of portInfo: connected, socketReady, vrings, queuePairs, features.
  // Under mu.
  void (*info)(const Port& p, PortInfoView& v);
  // Adds the port's tx targets (one per PMD) and polled queues to the configs being built,
  // if it is ready. Under mu; never called for a dying port.
  void (*publish)(Port& p, Publisher& pub);
};

// Reserves an id for p on bridge (which must exist; p->key must be free: else the error is
// fn + ": " + keyTaken(id of the port holding it)), opens it and publishes it. Returns the id;
// on failure nothing of it remains.
int addPort(std::unique_ptr<Port> p, int bridge, const char* fn, const std::function<std::string(uint16_t)>& keyTaken);
void destroyPort(int port);
PortInfoView portInfo(int port);
// Descriptors per ethdev queue (tunnel underlays, uplinks; less if the device has fewer): an
// AF_XDP rx ring must hold what arrives while its PMD is off the CPU, sharing it with other
// PMDs or guests. At 512 the kernel dropped 44% of bench:tunnel's frames, at 2048 0.2%.
constexpr uint16_t kEthRing = 2048;
// Fills v's device counters from the ethdev's statistics, and from the kernel's of iface (the
// interface under an af_xdp / af_packet device in the agent's network namespace; "" for none).
void deviceStats(uint16_t ethPort, const std::string& iface, PortInfoView& v);
// Frames longer than mtu + 18 (Ethernet header, one VLAN tag) are not sent to the port; a
// tunnel also stops at what its underlay carries. 68..9710, as OVS's mtu_request.
void setPortMtu(int port, uint32_t mtu);

}  // namespace vhn
