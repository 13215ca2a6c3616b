// EAL start-up and tear-down, the mbuf pool and the PMD threads.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace vhn {

struct EalOptions {
  std::string filePrefix;
  std::vector<int> mainCpus, pmdCpus;
  bool hugepages = true;
  uint32_t memoryMb = 0;
  bool iommuSupport = false;
  uint32_t pmdMaxSleepUs = 0;
  std::vector<std::string> extraArgs;
};

struct InitResult {
  std::string lcores;
  int pmds;
  uint64_t tscHz;
  std::string dpdkVersion;  // rte_version(): the library actually loaded
};

InitResult ealInit(const EalOptions& o);
void datapathShutdown();  // idempotent

}  // namespace vhn
