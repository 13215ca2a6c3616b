// Facts read from the host (and the few host changes the agent makes outside the datapath):
// interfaces, neighbours, CPUs, hugepage memory and reservations.
export * from './cpus';
export * from './hugetlb';
export * from './interfaces';
export * from './meminfo';
export * from './neighbours';
export * from './users';
