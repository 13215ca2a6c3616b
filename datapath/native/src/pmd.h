// The PMD thread's entry point (rte_eal_remote_launch).
#pragma once

namespace vhn {
int pmdMain(void* arg);  // arg: Pmd*
}
