// vhost-user ports: a socket registered with librte_vhost (server or client mode) and the
// device a guest attaches through it. librte_vhost calls new_device / destroy_device /
// vring_state_changed on its own thread; they only record the device's state and republish the
// PMD configs: destroy_device synchronously (it returns only once no PMD can still use the vid),
// vring_state_changed through the worker (it runs with the device's vring locks held).
// librte_vhost's socket API is never called with Datapath::mu held: unregistering calls
// destroy_device synchronously.
#include "vhost.h"
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <rte_vhost.h>
#include "../datapath.h"
#include "../errors.h"

namespace vhn {

namespace {

struct VhostPort : Port {
  bool client = false;
  int vid = -1;  // attached vhost device, -1 if none
  uint16_t nrVrings = 0;
  std::atomic<uint8_t> vringEnabled[kMaxVrings] = {};  // written by vring_state_changed without mu
  uint8_t kicksOff[kMaxVrings] = {};                   // guest kicks already switched off on this vring
};

extern const PortOps kVhostOps;

// The port a vid belongs to. Ports are freed only after rte_vhost_driver_unregister, which
// waits for running callbacks, so the pointer stays valid for the callback's duration.
// Only vhost-user ports register their key (the socket path) with librte_vhost.
VhostPort* portOfVid(int vid) {
  char name[PATH_MAX];
  if (rte_vhost_get_ifname(vid, name, sizeof name) != 0) return nullptr;
  std::lock_guard<std::mutex> lk(g.pathMu);
  auto it = g.portByPath.find(name);
  if (it == g.portByPath.end() || g.ports[it->second]->ops != &kVhostOps) return nullptr;
  return static_cast<VhostPort*>(g.ports[it->second].get());
}

int onNewDevice(int vid) {
  std::lock_guard<std::mutex> lk(g.mu);
  VhostPort* p = portOfVid(vid);
  if (!p) return -1;
  p->vid = vid;
  p->nrVrings = rte_vhost_get_vring_num(vid);
  if (p->nrVrings > kMaxVrings) p->nrVrings = kMaxVrings;
  if (p->nrVrings / 2 > p->maxQueuePairsSeen) p->maxQueuePairsSeen = p->nrVrings / 2;
  memset(p->kicksOff, 0, sizeof p->kicksOff);
  for (uint16_t v = 0; v < p->nrVrings; v++)  // we poll: no guest kicks (see vhostPublish)
    if (rte_vhost_enable_guest_notification(vid, v, 0) == 0) p->kicksOff[v] = 1;
  g.republish();
  return 0;
}

void onDestroyDevice(int vid) {
  std::lock_guard<std::mutex> lk(g.mu);
  VhostPort* p = portOfVid(vid);
  if (!p || p->vid != vid) return;
  p->vid = -1;
  p->nrVrings = 0;
  for (auto& e : p->vringEnabled) e.store(0, std::memory_order_relaxed);
  memset(p->kicksOff, 0, sizeof p->kicksOff);
  g.republish();  // waits for the PMDs: librte_vhost frees the device after we return
}

// Called with the device's vring locks held: record and defer (see Datapath::pathMu).
int onVringStateChanged(int vid, uint16_t vring, int enable) {
  VhostPort* p = portOfVid(vid);
  if (!p || vring >= kMaxVrings) return 0;
  p->vringEnabled[vring].store(enable ? 1 : 0, std::memory_order_relaxed);
  g.requestRepublish();
  return 0;
}

// DPDK 22.11 sizes GET_INFLIGHT_FD's shared memory from the peer's u16s with no bound (up to
// ~35 GB, zeroed on the vhost-events thread). We never negotiate inflight tracking, so both
// inflight requests are refused before librte_vhost sees them (ERR closes the connection).
constexpr uint32_t kReqGetInflightFd = 31;  // VHOST_USER_GET_INFLIGHT_FD (lib/vhost/vhost_user.h)
constexpr uint32_t kReqSetInflightFd = 32;  // VHOST_USER_SET_INFLIGHT_FD

rte_vhost_msg_result preMsg(int, void* msg) {
  uint32_t req;
  memcpy(&req, msg, sizeof req);  // vhu_msg_context starts with the message, which starts with request
  if (req == kReqGetInflightFd || req == kReqSetInflightFd) return RTE_VHOST_MSG_RESULT_ERR;
  return RTE_VHOST_MSG_RESULT_NOT_HANDLED;
}

const rte_vhost_user_extern_ops kExternOps = {.pre_msg_handle = preMsg, .post_msg_handle = nullptr};

int onNewConnection(int vid) { return rte_vhost_extern_callback_register(vid, &kExternOps, nullptr) == 0 ? 0 : -1; }

const rte_vhost_device_ops kOps = {
    .new_device = onNewDevice,
    .destroy_device = onDestroyDevice,
    .vring_state_changed = onVringStateChanged,
    .features_changed = nullptr,
    .new_connection = onNewConnection,
    .destroy_connection = nullptr,
    .guest_notified = nullptr,
    .reserved = {},
};

std::string errnoText(int e) { return std::string(strerror(e)); }

// Server mode: a leftover socket nobody listens on is removed; anything else at path is an error.
void prepareServerPath(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) throw std::runtime_error("createPort: spec.path: cannot stat " + path + ": " + errnoText(errno));
    std::string dir = path.substr(0, path.rfind('/') == std::string::npos ? 0 : path.rfind('/'));
    if (!dir.empty() && access(dir.c_str(), W_OK) != 0)
      throw std::runtime_error("createPort: spec.path: directory " + dir + " is not writable: " + errnoText(errno));
    return;
  }
  if (!S_ISSOCK(st.st_mode)) throw std::runtime_error("createPort: spec.path: " + path + " exists and is not a socket");
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  bool live = connect(fd, (sockaddr*)&a, sizeof a) == 0;
  close(fd);
  if (live) throw std::runtime_error("createPort: spec.path: " + path + " is a socket another process listens on");
  unlink(path.c_str());
}

// Guest RX vring for PMD `pmd` on port p, or -1 when none is enabled.
int pickTxVring(const VhostPort& p, int pmd) {
  int qps = p.nrVrings / 2;
  if (qps <= 0) return -1;
  int want = 2 * (pmd % qps);
  if (p.vringEnabled[want]) return want;
  for (int v = 0; v < p.nrVrings; v += 2)
    if (p.vringEnabled[v]) return v;
  return -1;
}

void vhostOpen(Port& base) {
  auto& p = static_cast<VhostPort&>(base);
  const std::string& path = p.key;
  if (!p.client) prepareServerPath(path);
  // client: librte_vhost reconnects by default (waits for a missing socket, follows restarts)
  uint64_t flags = p.client ? RTE_VHOST_USER_CLIENT : 0;
  if (g.iommu) flags |= RTE_VHOST_USER_IOMMU_SUPPORT;
  if (rte_vhost_driver_register(path.c_str(), flags) != 0)
    throw std::runtime_error("createPort: rte_vhost_driver_register(" + path + ") failed (see the EAL log)");
  uint64_t proto = 0;  // no inflight tracking (see preMsg)
  bool protoOk = rte_vhost_driver_get_protocol_features(path.c_str(), &proto) == 0 &&
                 rte_vhost_driver_set_protocol_features(path.c_str(), proto & ~(1ull << VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD)) == 0;
  if (!protoOk || rte_vhost_driver_callback_register(path.c_str(), &kOps) != 0 || rte_vhost_driver_start(path.c_str()) != 0) {
    int e = errno;
    rte_vhost_driver_unregister(path.c_str());
    throw std::runtime_error("createPort: cannot start vhost-user socket " + path + ": " + errnoText(e));
  }
}

void vhostClose(Port& p) { rte_vhost_driver_unregister(p.key.c_str()); }

void vhostInfo(const Port& base, PortInfoView& v) {
  auto& p = static_cast<const VhostPort&>(base);
  v.connected = p.vid >= 0;
  if (p.started) {
    if (p.client) v.socketReady = true;
    else {
      struct stat st;
      v.socketReady = stat(p.key.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
    }
  }
  rte_vhost_driver_get_features(p.key.c_str(), &v.offered);
  if (v.connected) {
    v.vringsTotal = p.nrVrings;
    for (int i = 0; i < p.nrVrings; i++) v.vringsEnabled += p.vringEnabled[i].load(std::memory_order_relaxed);
    v.queuePairs = p.nrVrings / 2;
    rte_vhost_get_negotiated_features(p.vid, &v.negotiated);
    uint16_t mtu = 0;
    if (rte_vhost_get_mtu(p.vid, &mtu) == 0) v.guestMtu = mtu;
  }
}

// virtio-net feature bits (virtio 1.2, 5.1.3)
constexpr int kGuestCsum = 1, kGuestTso4 = 7, kGuestTso6 = 8, kGuestUfo = 10;

// What the guest takes: its MTU (+ Ethernet header and a VLAN tag) and the offloads it negotiated.
EgressCaps vhostCaps(const VhostPort& p) {
  uint64_t f = 0;
  rte_vhost_get_negotiated_features(p.vid, &f);
  auto has = [f](int bit) { return (uint8_t)((f >> bit) & 1); };
  return {p.mtu + 18, has(kGuestCsum), has(kGuestTso4), has(kGuestTso6), has(kGuestUfo)};
}

// Destinations: per PMD, the guest RX vring of its lane. Sources: every enabled guest TX vring.
void vhostPublish(Port& base, Publisher& pub) {
  auto& p = static_cast<VhostPort&>(base);
  if (p.vid < 0) return;
  // The guest may have added vrings since new_device (the vid is live under mu).
  uint16_t nr = rte_vhost_get_vring_num(p.vid);
  p.nrVrings = nr > kMaxVrings ? kMaxVrings : nr;
  if (p.nrVrings / 2 > p.maxQueuePairsSeen) p.maxQueuePairsSeen = p.nrVrings / 2;
  // We poll: ask the guest not to kick us (a kick is a syscall per burst on the guest
  // side), also on vrings enabled after new_device (multiqueue guests enable them later).
  for (uint16_t v = 0; v < p.nrVrings; v++)
    if (!p.kicksOff[v] && p.vringEnabled[v] && rte_vhost_enable_guest_notification(p.vid, v, 0) == 0) p.kicksOff[v] = 1;
  for (int i = 0; i < pub.nPmds; i++) {
    int v = pickTxVring(p, i);
    if (v < 0) continue;
    // Egress queue pair follows the ingress one (mod the destination's), so one PMD still
    // feeds every queue pair of a multiqueue guest; lanes whose vring is off fall back.
    auto& lanes = pub.lanes(i, p);
    for (int k = 0; k < p.nrVrings / 2; k++) lanes.push_back(p.vringEnabled[2 * k] ? (uint16_t)(2 * k) : (uint16_t)v);
    pub.tx(i, p, {p.vid, (uint16_t)v, (uint16_t)lanes.size(), p.ctr.at(i, v / 2), p.ctr.at(i, 0), lanes.data(), nullptr, 0, vhostCaps(p)});
  }
  for (int v = 1; v < p.nrVrings; v += 2) {
    if (!p.vringEnabled[v]) continue;
    RxQueue q{};
    q.vid = p.vid;
    q.vring = (uint16_t)v;
    pub.rx(p, q, (uint16_t)(v / 2));
  }
}

const PortOps kVhostOps = {"vhost-user", vhostOpen, vhostClose, vhostInfo, vhostPublish};

}  // namespace

int createVhostPort(int bridge, bool client, const std::string& path) {
  if (path.empty() || path.size() >= sizeof(sockaddr_un::sun_path))
    throw RangeErr("createPort: spec.path must be 1.." + std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes long");
  auto p = std::make_unique<VhostPort>();
  p->ops = &kVhostOps;
  p->client = client;
  p->key = path;
  return addPort(std::move(p), bridge, "createPort",
                 [&](uint16_t other) { return "spec.path: " + path + " is already used by port " + std::to_string(other); });
}

}  // namespace vhn
