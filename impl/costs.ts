// The cost model (issue 19): what a run made the kernel do, counted where the work happens. Counters only: nothing
// reads them to decide anything and the abstraction never sees them, so a run is the same whether anyone looks.
import type { Kernel } from "./system.js";

/** Every counter, in report order: kernel work, then each lock's acquisitions and how many waited under the schedule. */
export const COST_NAMES = [
  "uffd.messages",
  "uffd.wakeups",
  "kvm.memory_fault_exits",
  "kvm.sptes_zapped",
  "kvm.huge_sptes_zapped",
  "kvm.tlb_flushes",
  "kvm.memslot_updates",
  "lock.mmap_lock.acquired",
  "lock.mmap_lock.contended",
  "lock.mmu_lock.acquired",
  "lock.mmu_lock.contended",
] as const;

export type CostName = (typeof COST_NAMES)[number];
export type CostCounts = Readonly<Record<CostName, number>>;

/** The kernel's counters now, summed over its VMs. */
export function costsOf(k: Kernel): CostCounts {
  let zapped = 0;
  let huge = 0;
  let flushes = 0;
  let mmuAcquired = 0;
  let mmuContended = 0;
  for (const vm of k.vms) {
    for (const s of vm.stage2) {
      zapped += s.zapped;
      huge += s.hugeZapped;
      flushes += s.flushes;
    }
    mmuAcquired += vm.mmuLock.acquired;
    mmuContended += vm.mmuLock.contended;
  }
  return {
    "uffd.messages": k.uffd.messages,
    "uffd.wakeups": k.uffd.wakeups,
    "kvm.memory_fault_exits": k.memoryFaultExits,
    "kvm.sptes_zapped": zapped,
    "kvm.huge_sptes_zapped": huge,
    "kvm.tlb_flushes": flushes,
    "kvm.memslot_updates": k.memslotUpdates,
    "lock.mmap_lock.acquired": k.mm.mmapLock.acquired,
    "lock.mmap_lock.contended": k.mm.mmapLock.contended,
    "lock.mmu_lock.acquired": mmuAcquired,
    "lock.mmu_lock.contended": mmuContended,
  };
}
