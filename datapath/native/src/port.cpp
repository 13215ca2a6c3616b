// vhost-user ports. librte_vhost calls new_device / destroy_device / vring_state_changed on
// its own thread; they only record the device's state and republish the PMD configs:
// destroy_device synchronously (it returns only once no PMD can still use the vid),
// vring_state_changed through the worker (it runs with the device's vring locks held).
// librte_vhost's socket API is never called with Datapath::mu held: unregistering calls
// destroy_device synchronously.
#include "port.h"
#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <rte_vhost.h>
#include "datapath.h"
#include "errors.h"

namespace vhn {

namespace {

// The port a vid belongs to. Ports are freed only after rte_vhost_driver_unregister, which
// waits for running callbacks, so the pointer stays valid for the callback's duration.
Port* portOfVid(int vid) {
  char name[PATH_MAX];
  if (rte_vhost_get_ifname(vid, name, sizeof name) != 0) return nullptr;
  std::lock_guard<std::mutex> lk(g.pathMu);
  auto it = g.portByPath.find(name);
  return it == g.portByPath.end() ? nullptr : g.ports[it->second].get();
}

int onNewDevice(int vid) {
  std::lock_guard<std::mutex> lk(g.mu);
  Port* p = portOfVid(vid);
  if (!p) return -1;
  p->vid = vid;
  p->nrVrings = rte_vhost_get_vring_num(vid);
  if (p->nrVrings > kMaxVrings) p->nrVrings = kMaxVrings;
  if (p->nrVrings / 2 > p->maxQueuePairsSeen) p->maxQueuePairsSeen = p->nrVrings / 2;
  memset(p->kicksOff, 0, sizeof p->kicksOff);
  for (uint16_t v = 0; v < p->nrVrings; v++)  // we poll: no guest kicks (see republish)
    if (rte_vhost_enable_guest_notification(vid, v, 0) == 0) p->kicksOff[v] = 1;
  g.republish();
  return 0;
}

void onDestroyDevice(int vid) {
  std::lock_guard<std::mutex> lk(g.mu);
  Port* p = portOfVid(vid);
  if (!p || p->vid != vid) return;
  p->vid = -1;
  p->nrVrings = 0;
  for (auto& e : p->vringEnabled) e.store(0, std::memory_order_relaxed);
  memset(p->kicksOff, 0, sizeof p->kicksOff);
  g.republish();  // waits for the PMDs: librte_vhost frees the device after we return
}

// Called with the device's vring locks held: record and defer (see Datapath::pathMu).
int onVringStateChanged(int vid, uint16_t vring, int enable) {
  Port* p = portOfVid(vid);
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

Port* getPort(int id, const char* fn) {
  if (id < 0 || id >= kMaxPorts || !g.ports[id] || g.ports[id]->dying)
    throw RangeErr(std::string(fn) + ": port " + std::to_string(id) + " does not exist");
  return g.ports[id].get();
}

}  // namespace

int createPort(int bridge, bool client, const std::string& path) {
  if (path.empty() || path.size() >= sizeof(sockaddr_un::sun_path))
    throw RangeErr("createPort: spec.path must be 1.." + std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes long");
  int id = -1;
  {
    std::lock_guard<std::mutex> lk(g.mu);
    if (bridge < 0 || bridge >= kMaxBridges || !g.bridges[bridge])
      throw RangeErr("createPort: spec.bridge: bridge " + std::to_string(bridge) + " does not exist");
    auto it = g.portByPath.find(path);
    if (it != g.portByPath.end())
      throw RangeErr("createPort: spec.path: " + path + " is already used by port " + std::to_string(it->second));
    for (int i = 0; i < kMaxPorts; i++)
      if (!g.ports[i]) {
        id = i;
        break;
      }
    if (id < 0) throw RangeErr("createPort: too many ports (librte_vhost allows at most " + std::to_string(kMaxPorts) + ")");
    if (!client) prepareServerPath(path);
    auto p = std::make_unique<Port>();
    p->id = (uint16_t)id;
    p->bridge = (uint16_t)bridge;
    p->client = client;
    p->path = path;
    p->ctr.pmds = (int)g.pmds.size();
    size_t bytes = sizeof(QueueCounters) * kMaxQueuePairs * (size_t)std::max(1, p->ctr.pmds);
    p->ctr.rows = static_cast<QueueCounters*>(aligned_alloc(64, bytes));
    if (!p->ctr.rows) throw std::runtime_error("createPort: out of memory for counters");
    memset(p->ctr.rows, 0, bytes);
    g.ports[id] = std::move(p);
    std::lock_guard<std::mutex> pl(g.pathMu);
    g.portByPath[path] = (uint16_t)id;
    g.bridges[bridge]->ports.push_back((uint16_t)id);
    g.nPorts++;
  }
  auto undo = [&] {
    std::lock_guard<std::mutex> lk(g.mu);
    auto& ps = g.bridges[bridge]->ports;
    for (size_t i = 0; i < ps.size(); i++)
      if (ps[i] == id) {
        ps.erase(ps.begin() + i);
        break;
      }
    {
      std::lock_guard<std::mutex> pl(g.pathMu);
      g.portByPath.erase(path);
    }
    free(g.ports[id]->ctr.rows);
    g.ports[id].reset();
    g.nPorts--;
  };
  // client: librte_vhost reconnects by default (waits for a missing socket, follows restarts)
  uint64_t flags = client ? RTE_VHOST_USER_CLIENT : 0;
  if (g.iommu) flags |= RTE_VHOST_USER_IOMMU_SUPPORT;
  if (rte_vhost_driver_register(path.c_str(), flags) != 0) {
    undo();
    throw std::runtime_error("createPort: rte_vhost_driver_register(" + path + ") failed (see the EAL log)");
  }
  uint64_t proto = 0;  // no inflight tracking (see preMsg)
  bool protoOk = rte_vhost_driver_get_protocol_features(path.c_str(), &proto) == 0 &&
                 rte_vhost_driver_set_protocol_features(path.c_str(), proto & ~(1ull << VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD)) == 0;
  if (!protoOk || rte_vhost_driver_callback_register(path.c_str(), &kOps) != 0 || rte_vhost_driver_start(path.c_str()) != 0) {
    int e = errno;
    rte_vhost_driver_unregister(path.c_str());
    undo();
    throw std::runtime_error("createPort: cannot start vhost-user socket " + path + ": " + errnoText(e));
  }
  std::lock_guard<std::mutex> lk(g.mu);
  g.ports[id]->started = true;
  return id;
}

void destroyPort(int id) {
  std::string path;
  bool started;
  {
    std::lock_guard<std::mutex> lk(g.mu);
    Port* p = getPort(id, "destroyPort");
    p->dying = true;
    path = p->path;
    started = p->started;
    g.republish();  // from here on no PMD polls it or sends to it
  }
  std::lock_guard<std::mutex> lk(g.mu);
  Port* p = g.ports[id].get();
  if (p->tun) closeTunnel(*p->tun);  // no PMD uses the ethdev any more (republished above)
  else if (started) {
    g.mu.unlock();  // unregistering may call onDestroyDevice, which takes mu
    rte_vhost_driver_unregister(path.c_str());
    g.mu.lock();
    p = g.ports[id].get();
  }
  Bridge* b = g.bridges[p->bridge].get();
  auto& ps = b->ports;
  for (size_t i = 0; i < ps.size(); i++)
    if (ps[i] == id) {
      ps.erase(ps.begin() + i);
      break;
    }
  b->fdb.flushPort((uint16_t)id);
  {
    std::lock_guard<std::mutex> pl(g.pathMu);
    g.portByPath.erase(path);
  }
  free(p->ctr.rows);
  g.ports[id].reset();
  g.nPorts--;
}

PortInfoView portInfo(int id) {
  std::lock_guard<std::mutex> lk(g.mu);
  Port* p = getPort(id, "portInfo");
  PortInfoView v;
  v.connected = p->connected();
  if (p->started) {
    if (p->client) v.socketReady = true;
    else {
      struct stat st;
      v.socketReady = stat(p->path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
    }
  }
  if (!p->tun) rte_vhost_driver_get_features(p->path.c_str(), &v.offered);
  if (p->tun) v.queuePairs = p->tun->queues;  // one underlay queue pair per PMD
  else if (p->connected()) {
    v.vringsTotal = p->nrVrings;
    for (int i = 0; i < p->nrVrings; i++) v.vringsEnabled += p->vringEnabled[i].load(std::memory_order_relaxed);
    v.queuePairs = p->nrVrings / 2;
    rte_vhost_get_negotiated_features(p->vid, &v.negotiated);
  }
  int nq = std::max<int>(std::max<int>(v.queuePairs, p->maxQueuePairsSeen), 1);  // qp 0 holds drops while never connected
  v.queues.resize(nq);
  for (int pmd = 0; pmd < p->ctr.pmds; pmd++)
    for (int q = 0; q < nq; q++) {
      const QueueCounters* c = p->ctr.at(pmd, q);
      PortStatsView& s = v.queues[q];
      s.rxPackets += readCounter(c->rxPackets);
      s.rxBytes += readCounter(c->rxBytes);
      s.txPackets += readCounter(c->txPackets);
      s.txBytes += readCounter(c->txBytes);
      s.txDrops += readCounter(c->txDrops);
    }
  for (auto& s : v.queues) {
    v.total.rxPackets += s.rxPackets;
    v.total.rxBytes += s.rxBytes;
    v.total.txPackets += s.txPackets;
    v.total.txBytes += s.txBytes;
    v.total.txDrops += s.txDrops;
  }
  return v;
}

}  // namespace vhn
