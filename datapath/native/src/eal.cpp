// rte_eal_init inside the agent process, the mbuf pool, and the PMD lcores.
#include "eal.h"
#include <cerrno>
#include <cstring>
#include <sys/eventfd.h>
#include <unistd.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_version.h>
#include "datapath.h"
#include "errors.h"
#include "offload.h"
#include "pmd.h"

namespace vhn {

static std::string cpuList(const std::vector<int>& cpus) {
  std::string s;
  for (size_t i = 0; i < cpus.size(); i++) s += (i ? "," : "") + std::to_string(cpus[i]);
  return s;
}

// Pool size: mbufs are only held for one burst (vhost copies on enqueue, we free at once), so
// what matters is the per-lcore caches plus bursts in flight; 1024 ports with many queues do
// not hold more. Ethdevs hold more: an AF_XDP queue's umem is this pool, with 2048 mbufs on its
// fill ring and up to a tx ring of 2048 waiting for completion. Scaled to the memory given,
// capped so -m stays the limit.
static unsigned poolSize(uint32_t memoryMb, int pmds) {
  const unsigned perMbuf = RTE_MBUF_DEFAULT_BUF_SIZE + sizeof(rte_mbuf) + 64;
  unsigned fit = (unsigned)((uint64_t)memoryMb * 1024 * 1024 / 2 / perMbuf);  // half of -m
  unsigned want = (unsigned)(pmds + 1) * (2048 * 3 + 1024 * kBurst / 8) + 8192;
  unsigned n = want < fit ? want : fit;
  unsigned p = 1;
  while (p * 2 - 1 <= n) p *= 2;  // 2^k - 1 fills the backing ring exactly
  return p - 1;
}

InitResult ealInit(const EalOptions& o) {
  if (g.initialised) throw std::runtime_error("init: the EAL is already initialised in this process (init may be called once)");
  if ((int)o.pmdCpus.size() > kMaxPmds - 1)
    throw RangeErr("init: opts.pmdCpus must list at most " + std::to_string(kMaxPmds - 1) + " CPUs");
  // lcore 0 = Node's main thread over mainCpus; lcore i+1 = PMD i pinned to pmdCpus[i]
  std::string lcores = "0@(" + cpuList(o.mainCpus) + ")";
  for (size_t i = 0; i < o.pmdCpus.size(); i++) lcores += "," + std::to_string(i + 1) + "@" + std::to_string(o.pmdCpus[i]);

  // The PCI bus is scanned (no --no-pci) so that uplink ports can take NICs bound to vfio-pci;
  // devices bound to kernel drivers are left alone, as they are by OVS.
  std::vector<std::string> args = {
      "vhostnet-agent",          "--file-prefix=" + o.filePrefix, "--no-telemetry", "--lcores=" + lcores, "--main-lcore=0", "-m",
      std::to_string(o.memoryMb)};
  // Nothing of ours must outlive a SIGKILL: --in-memory keeps hugepages off the filesystem;
  // --no-huge implies legacy memory, which refuses --in-memory, so drop the shared config instead.
  if (o.hugepages) args.push_back("--in-memory");
  else {
    args.push_back("--no-huge");
    args.push_back("--no-shconf");
  }
  for (auto& a : o.extraArgs) args.push_back(a);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(strdup(a.c_str()));  // EAL may keep pointers into argv
  argv.push_back(nullptr);
  int ret = rte_eal_init((int)args.size(), argv.data());
  if (ret < 0) {
    int e = rte_errno;
    std::string all;
    for (auto& a : args) all += a + " ";
    throw std::runtime_error(std::string("init: rte_eal_init failed: ") + rte_strerror(e) + " (EAL arguments: " + all + ")");
  }
  g.initialised = true;
  g.lcores = lcores;
  g.tscHz = rte_get_tsc_hz();
  g.tscBase = rte_rdtsc() - g.tscHz * 100000ull;  // coarse clock starts far from 0: "never seen" is old
  g.iommu = o.iommuSupport;
  g.maxSleepUs.store(o.pmdMaxSleepUs);

  const int n = (int)o.pmdCpus.size();
  unsigned nb = poolSize(o.memoryMb, n);
  g.pool = rte_pktmbuf_pool_create("vhostnet_mbuf", nb, 512, 0, RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
  if (!g.pool) {
    int e = rte_errno;
    rte_eal_cleanup();
    g.shutDown = true;
    throw std::runtime_error("init: cannot create the mbuf pool of " + std::to_string(nb) + " mbufs: " + rte_strerror(e) +
                             " (raise opts.memoryMb)");
  }
  try {
    offloadInit((int)rte_socket_id());
  } catch (...) {
    rte_eal_cleanup();
    g.shutDown = true;
    throw;
  }
  g.running.store(true);
  for (int i = 0; i < n; i++) {
    auto p = std::make_unique<Pmd>();
    p->index = i;
    p->lcore = (unsigned)(i + 1);
    p->cpu = o.pmdCpus[i];
    p->conf.store(new PmdConf());
    p->wakeFd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->wakeFd < 0) throw std::runtime_error(std::string("init: eventfd for a PMD: ") + strerror(errno));
    g.pmds.push_back(std::move(p));
  }
  {
    std::lock_guard<std::mutex> lk(g.mu);
    g.republish();
  }
  g.startWorker();
  for (auto& p : g.pmds) {
    int r = rte_eal_remote_launch(pmdMain, p.get(), p->lcore);
    if (r != 0) throw std::runtime_error("init: cannot launch PMD on lcore " + std::to_string(p->lcore) + ": " + strerror(-r));
  }
  return {lcores, n, g.tscHz, rte_version()};
}

void datapathShutdown() {
  if (!g.initialised || g.shutDown) return;
  g.shutDown = true;
  g.stopWorker();
  g.running.store(false);
  g.wakePmds();
  for (auto& p : g.pmds) rte_eal_wait_lcore(p->lcore);
  for (auto& p : g.pmds) close(p->wakeFd);
  std::vector<Port*> open;
  {
    std::lock_guard<std::mutex> lk(g.mu);
    for (auto& p : g.ports)
      if (p && p->started) {
        p->dying = true;
        open.push_back(p.get());
      }
  }
  // The PMDs have stopped. Outside the lock: unregistering a socket calls destroy_device here.
  for (Port* p : open) p->ops->close(*p);
  {
    std::lock_guard<std::mutex> lk(g.mu);
    for (auto& p : g.ports)
      if (p) {
        free(p->ctr.rows);
        p.reset();
      }
    {
      std::lock_guard<std::mutex> pl(g.pathMu);
      g.portByPath.clear();
    }
    for (auto& p : g.pmds) {
      delete p->conf.exchange(nullptr);
    }
  }
  std::string runDir = rte_eal_get_runtime_dir();
  rte_eal_cleanup();
  rmdir(runDir.c_str());  // EAL leaves its (by now empty) runtime directory behind
}

}  // namespace vhn
