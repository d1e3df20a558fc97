// Seeded bugs: deliberate mistakes switched on by configuration (config.bugs), never by editing code.
// docs/BUGS.md explains each; the suites must find every one.

export const BUGS = {
  "userfault-enable-no-zap": "kvm_commit_memory_region does not call kvm_arch_userfault_enabled: enabling USERFAULT keeps old mappings",
  "userfault-huge": "kvm_mmu_hugepage_adjust ignores KVM_MEM_USERFAULT: huge mappings while USERFAULT is on",
  "userfault-bitmap-ignored": "the fault path never calls kvm_do_userfault: set bits do not exit",
  "memslot-overlap-off-by-one": "kvm_check_memslot_overlap misses a slot that starts on the last page of another",
  "attr-no-zap": "kvm_vm_set_mem_attributes skips the pre-set zap: mappings disagree with the new attributes",
  "delete-no-zap": "DELETE does not flush the slot: mappings outlive their memslot",
  "munmap-no-notify": "munmap does not call the mmu notifier: KVM keeps mapping the freed page",
  "anon-write-to-old-page": "the write after a COW fault goes to the old page: the write is lost",
  "zap-frees-contents": "zapping an SPTE also frees the host page's contents",
} as const;

export type BugId = keyof typeof BUGS;
export const BUG_IDS = Object.keys(BUGS) as BugId[];

export interface Bugs {
  has(id: BugId): boolean;
}

export function bugsOf(ids: readonly string[]): Bugs {
  for (const id of ids) if (!(id in BUGS)) throw new Error(`unknown seeded bug "${id}"; known: ${BUG_IDS.join(", ")}`);
  const on = new Set(ids);
  return { has: (id) => on.has(id) };
}
