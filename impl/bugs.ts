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
  // Races: each is invisible to the sequential suites and found by the concurrent ones (props/concurrent).
  "userfault-enable-zap-early":
    "kvm_set_memslot calls kvm_arch_userfault_enabled before kvm_swap_active_memslots publishes the new flags: a fault that read the old flags maps the page after the zap",
  "userfault-double-fetch":
    "kvm_do_userfault fetches the bitmap word again to fill the exit flags: a bit cleared between the two __get_user calls exits without KVM_MEMORY_EXIT_FLAG_USERFAULT",
  "memslot-lookup-outside-srcu":
    "the fault path looks the memslot up before srcu_read_lock: DELETE/MOVE's synchronize_srcu does not wait for it, and it maps through the old slot after the flush",
  "memslot-invalidate-no-sync":
    "kvm_invalidate_memslot flushes without waiting in synchronize_srcu for faults that still use the old slot: one maps after the flush",
  "attr-store-before-invalidate":
    "kvm_vm_set_mem_attributes stores the attributes before kvm_mmu_invalidate_begin and the zap: a fault in between maps the page against its new attribute",
  "fault-no-invalidate-recheck":
    "is_page_fault_stale skips mmu_invalidate_retry_gfn under mmu_lock: an invalidation that ran during faultin leaves a stale mapping",
  // guest_memfd (docs/GMEM.md): conversion, punch-hole, host faults and huge folios.
  "gmem-host-fault-unlocked":
    "v7 host fault checks the page is shared without the filemap invalidate lock (Peter Xu's question on the 2024 RFC): a conversion in between leaves a private page host-mapped",
  "gmem-convert-check-before-unmap": "to-private conversion checks references before unmap_mapping_pages: a host-mapped page fails with EAGAIN",
  "gmem-convert-commit-before-check": "to-private conversion commits before the reference check: a pinned page becomes private, and EAGAIN is returned after the fact",
  "gmem-convert-no-unmap": "to-private conversion skips unmap_mapping_pages (and so counts no PTE references): a private page stays host-mapped",
  "gmem-convert-no-zap": "conversion skips the SPTE zap of kvm_gmem_invalidate_begin: stage-2 keeps mappings that disagree with the new state",
  "gmem-convert-scrubs": "to-shared conversion clears the pages as if firmware had scrubbed them: contents are lost",
  "gmem-punch-no-zap": "PUNCH_HOLE skips kvm_gmem_invalidate_begin/_end: stage-2 keeps mapping the freed folios",
  "gmem-merge-mapped": "merge checks only the converted part of a huge folio: it merges while a sub-page is still shared and host-mapped",
  "gmem-huge-ignores-split": "the fault maps a guest_memfd page at its folio's order without checking the folio is unsplit and wholly private",
  // userfaultfd (docs/VOCABULARY.md, userfaultfd): kernel mistakes, then the post-copy VMM's (props/postcopy/vmm.ts).
  "uffd-minor-ignored": "the shmem/hugetlbfs/guest_memfd fault maps a page-cache page without the MINOR check: a MINOR-registered mapping shows the page before CONTINUE",
  "uffd-no-must-wait": "handle_userfault sleeps without its checks after queueing (the task state set too late, no userfaultfd_must_wait): a CONTINUE between the queueing and the sleep leaves the thread asleep on a mapped page",
  "uffd-wake-short": "the resolving ioctls wake [start, start + len - PAGE_SIZE): a sleeper on the last page of the range is never woken",
  "uffd-continue-fresh-page": "CONTINUE maps a newly allocated zero page instead of the page-cache page: the thread reads zeros, not what the alias wrote",
  "uffd-continue-clears-page": "CONTINUE clears the page-cache page before mapping it, as if it were new: the alias write is lost",
  "alias-write-first-page-only": "a write through the alias mapping that crosses a page boundary stops after the first page",
  "postcopy-clear-before-write": "the VMM clears the page's KVM Userfault bit before writing the fetched contents through its alias",
  "postcopy-continue-before-write": "the VMM resolves its own MINOR/MISSING fault with CONTINUE before writing the fetched contents through its alias",
  "postcopy-double-fetch": "the background fetcher fetches pages again that a demand fault already fetched, overwriting newer guest writes",
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
