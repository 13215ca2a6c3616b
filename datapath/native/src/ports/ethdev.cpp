// Uplink ports: a DPDK ethdev named by its devargs, one rx/tx queue pair per PMD. The PMDs poll
// its rx queues like guest vrings and send to it on their own tx queue (ethdev tx queues are not
// thread-safe): the fast path is the tunnel's with no encapsulation (Tunnel::raw), so it stays
// one branch in pmd.cpp. The device is opened without TX offloads: a guest's TSO and partial-
// checksum frames are segmented and checksummed in software on their way out (offload.cpp), and
// frames longer than the port's MTU (the interface's, or spec.mtu) are dropped as mtuExceeded.
#include "ethdev.h"
#include <atomic>
#include <cstring>
#include <regex>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <rte_bus_vdev.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include "../datapath.h"
#include "../errors.h"
#include "../vxlan.h"

namespace vhn {

namespace {

struct EthdevPort : Port {
  EthdevSpec spec;
  Tunnel t;             // raw: the ethdev and its queues; no outer header
  std::string devName;  // what rte_eth_dev_get_port_by_name knows it as
  bool pci = false;
};

// The kernel interface's MTU (SIOCGIFMTU), 0 if it cannot be read.
uint32_t ifaceMtu(const std::string& iface) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  ifreq r{};
  strncpy(r.ifr_name, iface.c_str(), IFNAMSIZ - 1);
  int ok = fd >= 0 ? ioctl(fd, SIOCGIFMTU, &r) : -1;
  if (fd >= 0) close(fd);
  return ok == 0 && r.ifr_mtu > 0 ? (uint32_t)r.ifr_mtu : 0;
}

// The value of key= in devargs ("net_af_xdp0,iface=eth0"), "" if absent.
std::string devarg(const std::string& da, const std::string& key) {
  size_t at = da.find("," + key + "=");
  if (at == std::string::npos) return "";
  at += key.size() + 2;
  return da.substr(at, da.find(',', at) - at);
}

const std::regex kPci("^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\\.[0-7]$");

// A PCI NIC must be bound to vfio-pci for a DPDK process to own it; say how when it is not.
void checkPciBinding(const std::string& bdf) {
  const std::string dev = "/sys/bus/pci/devices/" + bdf;
  if (access(dev.c_str(), F_OK) != 0) throw RangeErr("createEthdevPort: spec.devargs: no PCI device " + bdf + " on this host");
  char buf[512];
  ssize_t n = readlink((dev + "/driver").c_str(), buf, sizeof buf - 1);
  std::string driver = n > 0 ? std::string(buf, (size_t)n) : "";
  driver = driver.substr(driver.find_last_of('/') + 1);
  if (driver != "vfio-pci")
    throw RangeErr("createEthdevPort: spec.devargs: PCI device " + bdf + " is " +
                   (driver.empty() ? "bound to no driver" : "bound to " + driver) +
                   ", not vfio-pci: bind it with `dpdk-devbind.py --bind=vfio-pci " + bdf + "` (modprobe vfio-pci first)");
}

void ethdevOpen(Port& base) {
  auto& p = static_cast<EthdevPort&>(base);
  const std::string& da = p.spec.devargs;
  const uint16_t queues = (uint16_t)std::max<size_t>(1, g.pmds.size());
  p.t.raw = true;
  p.t.queues = queues;
  p.pci = std::regex_match(da.substr(0, da.find(',')), kPci);
  if (p.pci) {
    p.devName = da.substr(0, da.find(','));
    checkPciBinding(p.devName);
    int r = rte_dev_probe(da.c_str());
    if (r == -EEXIST) r = 0;  // probed at EAL start (every vfio-pci device is)
    if (r != 0)
      throw std::runtime_error("createEthdevPort: spec.devargs: cannot probe " + da + ": " + rte_strerror(-r) + " (see the EAL log)");
  } else {
    const size_t comma = da.find(',');
    p.devName = da.substr(0, comma);
    std::string args = comma == std::string::npos ? "" : da.substr(comma + 1);
    // af_packet: a deeper ring absorbs the PMD being descheduled; one queue pair per PMD either way.
    if (p.devName.rfind("net_af_packet", 0) == 0)
      args += (args.empty() ? "" : ",") + std::string("qpairs=") + std::to_string(queues) + ",framecnt=4096,qdisc_bypass=1";
    else if (p.devName.rfind("net_af_xdp", 0) == 0)
      args += (args.empty() ? "" : ",") + std::string("queue_count=") + std::to_string(queues);
    int r = rte_vdev_init(p.devName.c_str(), args.c_str());
    if (r != 0)
      throw std::runtime_error("createEthdevPort: spec.devargs: cannot create " + p.devName + " (" + args + "): " + rte_strerror(-r) +
                               " (see the EAL log)");
  }
  uint16_t pid;
  if (rte_eth_dev_get_port_by_name(p.devName.c_str(), &pid) != 0) {
    if (!p.pci) rte_vdev_uninit(p.devName.c_str());
    throw std::runtime_error("createEthdevPort: spec.devargs: " + p.devName + " made no ethdev port");
  }
  p.t.ethPort = pid;
  auto fail = [&](const std::string& what, int err) {
    rte_eth_dev_close(pid);
    if (!p.pci) rte_vdev_uninit(p.devName.c_str());
    throw std::runtime_error("createEthdevPort: " + p.devName + ": " + what + ": " + rte_strerror(err < 0 ? -err : err));
  };
  rte_eth_dev_info di{};
  int r = rte_eth_dev_info_get(pid, &di);
  if (r != 0) fail("rte_eth_dev_info_get", r);
  if (di.max_rx_queues < queues || di.max_tx_queues < queues)
    fail("the device has " + std::to_string(di.max_rx_queues) + " rx / " + std::to_string(di.max_tx_queues) +
             " tx queues, the datapath needs " + std::to_string(queues) + " (one per PMD)",
         EINVAL);
  // af_xdp (22.11) copies only a chained mbuf's first segment into its umem frame.
  p.t.linear = !(di.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS);
  rte_eth_conf conf{};
  if ((r = rte_eth_dev_configure(pid, queues, queues, &conf)) != 0) fail("rte_eth_dev_configure", r);
  if (p.spec.mtu && (r = rte_eth_dev_set_mtu(pid, p.spec.mtu)) != 0)
    fail("spec.mtu: rte_eth_dev_set_mtu(" + std::to_string(p.spec.mtu) + ")", r);
  // The frames the port sends stop at the device's MTU: spec.mtu, else the kernel interface's
  // (what a vdev's socket carries), else what the ethdev says.
  uint16_t devMtu = 0;
  const std::string iface = devarg(da, "iface");
  if (p.spec.mtu) p.mtu = p.spec.mtu;
  else if (!iface.empty() && ifaceMtu(iface)) p.mtu = ifaceMtu(iface);
  else if (rte_eth_dev_get_mtu(pid, &devMtu) == 0 && devMtu) p.mtu = devMtu;
  const int sock = rte_eth_dev_socket_id(pid);
  const uint16_t nrx = di.rx_desc_lim.nb_max && di.rx_desc_lim.nb_max < kEthRing ? di.rx_desc_lim.nb_max : kEthRing;
  const uint16_t ntx = di.tx_desc_lim.nb_max && di.tx_desc_lim.nb_max < kEthRing ? di.tx_desc_lim.nb_max : kEthRing;
  for (uint16_t q = 0; q < queues; q++) {
    if ((r = rte_eth_rx_queue_setup(pid, q, nrx, sock < 0 ? 0 : sock, nullptr, g.pool)) != 0) fail("rx queue setup", r);
    if ((r = rte_eth_tx_queue_setup(pid, q, ntx, sock < 0 ? 0 : sock, nullptr)) != 0) fail("tx queue setup", r);
  }
  // A switch port sees every frame on the wire, not only those to the NIC's own MAC.
  rte_eth_promiscuous_enable(pid);
  if ((r = rte_eth_dev_start(pid)) != 0) fail("rte_eth_dev_start", r);
  p.maxQueuePairsSeen = queues;
}

void ethdevClose(Port& base) {
  auto& p = static_cast<EthdevPort&>(base);
  rte_eth_dev_info di{};
  rte_eth_dev_info_get(p.t.ethPort, &di);
  rte_eth_dev_stop(p.t.ethPort);
  rte_eth_dev_close(p.t.ethPort);
  if (p.pci) {
    if (di.device) rte_dev_remove(di.device);
  } else {
    rte_vdev_uninit(p.devName.c_str());
  }
}

void ethdevInfo(const Port& base, PortInfoView& v) {
  auto& p = static_cast<const EthdevPort&>(base);
  rte_eth_link link{};
  bool up = p.started && !p.dying && rte_eth_link_get_nowait(p.t.ethPort, &link) == 0 && link.link_status == RTE_ETH_LINK_UP;
  v.connected = up;
  v.socketReady = p.started;
  v.queuePairs = p.t.queues;
  if (p.started && !p.dying) deviceStats(p.t.ethPort, p.pci ? "" : devarg(p.spec.devargs, "iface"), v);
}

void ethdevPublish(Port& base, Publisher& pub) {
  auto& p = static_cast<EthdevPort&>(base);
  if (!p.started) return;
  pub.ethQueues(p, p.t, {p.mtu + 18, 0, 0, 0, 0});  // no TX offloads: software checksums and GSO
}

const PortOps kEthdevOps = {"dpdk", ethdevOpen, ethdevClose, ethdevInfo, ethdevPublish};

}  // namespace

int createEthdevPort(const EthdevSpec& s) {
  if (s.devargs.empty() || s.devargs.size() > 512) throw RangeErr("createEthdevPort: spec.devargs must be 1..512 characters");
  auto p = std::make_unique<EthdevPort>();
  p->ops = &kEthdevOps;
  p->spec = s;
  // One port per device: the name before the first comma is what DPDK keys the device by.
  p->key = "dpdk:" + s.devargs.substr(0, s.devargs.find(','));
  return addPort(std::move(p), s.bridge, "createEthdevPort", [&](uint16_t other) {
    return "spec.devargs: " + s.devargs.substr(0, s.devargs.find(',')) + " is already port " + std::to_string(other);
  });
}

}  // namespace vhn
