// VXLAN tunnel ports: the underlay ethdev (DPDK's af_packet PMD, or its af_xdp PMD when asked and
// the interface takes it, over a kernel interface of the agent's network namespace) and the outer
// header template. The PMDs poll the ethdev's rx queues like vrings and encapsulate / decapsulate
// inline (vxlan.h).
#include "tunnel.h"
#include <atomic>
#include <cstring>
#include <map>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <rte_bus_vdev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include "../datapath.h"
#include "../errors.h"
#include "../vxlan.h"

namespace vhn {

namespace {
std::atomic<uint32_t> vdevSeq{0};

struct TunnelPort : Port {
  TunnelSpec spec;
  Tunnel t;
};

std::string ifaceState(const std::string& iface) {
  unsigned idx = if_nametoindex(iface.c_str());
  return idx ? "" : "spec.iface: interface " + iface + " does not exist in the agent's network namespace";
}

// The interface's MTU (SIOCGIFMTU), 1500 if it cannot be read.
uint32_t ifaceMtu(const std::string& iface) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  ifreq r{};
  strncpy(r.ifr_name, iface.c_str(), IFNAMSIZ - 1);
  int ok = fd >= 0 ? ioctl(fd, SIOCGIFMTU, &r) : -1;
  if (fd >= 0) close(fd);
  return ok == 0 && r.ifr_mtu > 0 ? (uint32_t)r.ifr_mtu : 1500;
}

// The longest inner frame a tunnel sends: its MTU, what the underlay's MTU leaves after the outer
// IPv4/UDP/VXLAN headers and the inner Ethernet header, and the af_packet ring's 2016-byte frames
// (af_xdp's umem frames, an mbuf's data room, are longer).
uint32_t tunnelMaxFrame(const Port& p, const Tunnel& t) {
  uint32_t m = p.mtu + 18;
  if (t.underlayMtu > 36 && t.underlayMtu - 36 < m) m = t.underlayMtu - 36;
  return m < 2016 - kVxlanOverhead ? m : 2016 - kVxlanOverhead;
}
}  // namespace

// Creates vdev name over iface with args, configures and starts it with one queue pair per PMD.
// "" on success (t.ethPort set), else why not, with nothing of it left.
static std::string openUnderlay(Tunnel& t, const std::string& name, const std::string& args, uint16_t queues) {
  int r = rte_vdev_init(name.c_str(), args.c_str());
  if (r != 0) return "cannot open " + t.iface + " (" + name + "," + args + "): " + rte_strerror(-r) + " (see the EAL log)";
  uint16_t pid;
  if (rte_eth_dev_get_port_by_name(name.c_str(), &pid) != 0) {
    rte_vdev_uninit(name.c_str());
    return "device " + name + " has no ethdev port";
  }
  auto fail = [&](const std::string& what, int err) {
    rte_eth_dev_close(pid);
    rte_vdev_uninit(name.c_str());
    return t.iface + ": " + what + ": " + rte_strerror(err < 0 ? -err : err);
  };
  rte_eth_dev_info di{};
  if ((r = rte_eth_dev_info_get(pid, &di)) != 0) return fail("rte_eth_dev_info_get", r);
  rte_eth_conf conf{};
  if ((r = rte_eth_dev_configure(pid, queues, queues, &conf)) != 0) return fail("rte_eth_dev_configure", r);
  const int sock = rte_eth_dev_socket_id(pid);
  for (uint16_t q = 0; q < queues; q++) {
    if ((r = rte_eth_rx_queue_setup(pid, q, kEthRing, sock < 0 ? 0 : sock, nullptr, g.pool)) != 0) return fail("rx queue setup", r);
    if ((r = rte_eth_tx_queue_setup(pid, q, kEthRing, sock < 0 ? 0 : sock, nullptr)) != 0) return fail("tx queue setup", r);
  }
  if ((r = rte_eth_dev_start(pid)) != 0) return fail("rte_eth_dev_start", r);
  t.ethPort = pid;
  t.vdevName = name;
  // af_xdp (22.11) copies only a chained mbuf's first segment into its umem frame.
  t.linear = !(di.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS);
  return "";
}

static void openDevice(Tunnel& t, const TunnelSpec& s, uint16_t queues) {
  std::string why = ifaceState(s.iface);
  if (!why.empty()) throw RangeErr("createTunnel: " + why);
  t.iface = s.iface;
  t.queues = queues;
  t.underlayMtu = ifaceMtu(s.iface);
  const std::string seq = std::to_string(vdevSeq++);
  if (s.afXdp) {
    // One AF_XDP socket per PMD, on the interface's queues 0..queues-1.
    why = openUnderlay(t, "net_af_xdp_vhn" + seq, "iface=" + s.iface + ",queue_count=" + std::to_string(queues), queues);
    if (why.empty()) {
      t.driver = "af_xdp";
      return;
    }
    t.fallback = why;
  }
  // a deeper ring absorbs the PMD being descheduled; qdisc bypass saves the tx path a qdisc
  why = openUnderlay(t, "net_af_packet_vhn" + seq,
                     "iface=" + s.iface + ",qpairs=" + std::to_string(queues) + ",framecnt=4096,qdisc_bypass=1", queues);
  if (!why.empty()) throw std::runtime_error("createTunnel: " + why);
  t.driver = "af_packet";
}

static void closeDevice(Tunnel& t) {
  rte_eth_dev_stop(t.ethPort);
  rte_eth_dev_close(t.ethPort);
  rte_vdev_uninit(t.vdevName.c_str());
}

// Tunnels over one interface (other remote addresses or VNIs) share its underlay ethdev: opened
// by the first, with its driver, closed with the last. Control's thread only.
struct SharedUnderlay {
  Tunnel dev;  // the ethdev fields
  bool afXdpAsked;
  int users = 0;
};
std::map<std::string, SharedUnderlay> underlays;  // by interface

static void openTunnel(Tunnel& t, const TunnelSpec& s, uint16_t queues) {
  auto it = underlays.find(s.iface);
  if (it == underlays.end()) {
    SharedUnderlay u;
    openDevice(u.dev, s, queues);
    u.afXdpAsked = s.afXdp;
    it = underlays.emplace(s.iface, u).first;
  } else if (it->second.afXdpAsked != s.afXdp) {
    throw RangeErr("createTunnel: spec.driver: " + s.iface + " is the underlay of another tunnel, opened with " + it->second.dev.driver +
                   ": tunnels sharing an interface share its driver");
  }
  SharedUnderlay& u = it->second;
  u.users++;
  t.iface = s.iface;
  t.ethPort = u.dev.ethPort;
  t.queues = u.dev.queues;
  t.underlayMtu = u.dev.underlayMtu;
  t.vdevName = u.dev.vdevName;
  t.driver = u.dev.driver;
  t.fallback = u.dev.fallback;
  t.linear = u.dev.linear;
}

static void closeTunnel(Tunnel& t) {
  auto it = underlays.find(t.iface);
  if (it == underlays.end() || --it->second.users > 0) return;
  closeDevice(it->second.dev);
  underlays.erase(it);
}

namespace {

// Opens the underlay ethdev (vdev net_af_xdp / net_af_packet, one queue pair per PMD), starts it.
void tunnelOpen(Port& base) {
  auto& p = static_cast<TunnelPort&>(base);
  openTunnel(p.t, p.spec, (uint16_t)std::max<size_t>(1, g.pmds.size()));
  p.maxQueuePairsSeen = p.t.queues;
  p.mtu = p.t.underlayMtu > 50 + 68 ? p.t.underlayMtu - 50 : 68;  // the bridge's frames must fit in the underlay's
}

void tunnelClose(Port& p) { closeTunnel(static_cast<TunnelPort&>(p).t); }

void tunnelInfo(const Port& base, PortInfoView& v) {
  auto& p = static_cast<const TunnelPort&>(base);
  v.connected = p.started && !p.dying;
  v.queuePairs = p.t.queues;  // one underlay queue pair per PMD
  v.underlayMtu = p.t.underlayMtu;
  v.underlayDriver = p.t.driver;
  v.underlayFallback = p.t.fallback;
  if (p.started && !p.dying) deviceStats(p.t.ethPort, p.t.iface, v);  // the underlay's: shared by its tunnels
}

// PMD i sends on the ethdev's tx queue i (af_packet queues are not thread-safe); the rx queues
// are polled like guest TX vrings.
void tunnelPublish(Port& base, Publisher& pub) {
  auto& p = static_cast<TunnelPort&>(base);
  if (!p.started) return;
  pub.ethQueues(p, p.t, {tunnelMaxFrame(p, p.t), 0, 0, 0, 0});
}

const PortOps kTunnelOps = {"vxlan", tunnelOpen, tunnelClose, tunnelInfo, tunnelPublish};

}  // namespace

int createTunnel(const TunnelSpec& s) {
  if (s.iface.empty() || s.iface.size() >= IFNAMSIZ)
    throw RangeErr("createTunnel: spec.iface must be 1.." + std::to_string(IFNAMSIZ - 1) + " characters");
  if (s.vni < 1 || s.vni > 0xffffff) throw RangeErr("createTunnel: spec.vni must be between 1 and 16777215");
  if (s.udpPort == 0) throw RangeErr("createTunnel: spec.udpPort must be between 1 and 65535");
  // Tunnels may share an interface; the underlay tells them apart by remote address, VNI and port.
  const std::string key =
      "vxlan:" + s.iface + ":" + std::to_string(s.remoteIp) + ":" + std::to_string(s.vni) + ":" + std::to_string(s.udpPort);
  auto p = std::make_unique<TunnelPort>();
  p->ops = &kTunnelOps;
  p->key = key;
  p->spec = s;
  p->splitHorizon = s.splitHorizon;
  Tunnel* t = &p->t;
  t->localIp = s.localIp;
  t->remoteIp = s.remoteIp;
  t->vniWord = rte_cpu_to_be_32(s.vni << 8);
  t->udpPort = rte_cpu_to_be_16(s.udpPort);
  uint8_t* o = t->outer;
  memset(o, 0, kVxlanOverhead);
  memcpy(o, s.remoteMac, 6);
  memcpy(o + 6, s.localMac, 6);
  o[12] = 0x08;  // IPv4
  uint8_t* ip = o + 14;
  ip[0] = 0x45;
  ip[6] = 0x40;  // DF: the underlay must carry the frame whole (no fragments to reassemble)
  ip[8] = 64;    // TTL
  ip[9] = 17;    // UDP
  memcpy(ip + 12, &s.localIp, 4);
  memcpy(ip + 16, &s.remoteIp, 4);
  uint8_t* udp = o + 34;
  memcpy(udp + 2, &t->udpPort, 2);  // checksum stays 0 (allowed for UDP over IPv4, RFC 7348)
  uint8_t* vx = o + 42;
  vx[0] = 0x08;  // I flag: VNI valid
  memcpy(vx + 4, &t->vniWord, 4);

  return addPort(std::move(p), s.bridge, "createTunnel", [&](uint16_t other) {
    return "spec.vni: port " + std::to_string(other) + " is already the tunnel over " + s.iface +
           " to that remote address with that VNI and UDP port";
  });
}

}  // namespace vhn
