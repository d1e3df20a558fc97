// Seeded bugs: deliberate mistakes switched on by configuration (config.bugs), never by editing code. The code
// checks `ctx.bugs.has(id)` at the exact place of each mistake. This catalog is the one list of them: what the
// mistake is, where, which suite of the default check must find it and where it comes from. docs/BUGS.md is
// generated from it (npm run docs:bugs); `faultline mutants` hunts every one.

/** The area of the interfaces a mistake is in. */
export type BugArea =
  | "memslots"
  | "userfault-bitmap"
  | "exits"
  | "attributes-mmu"
  | "host-mm"
  | "gmem-conversion"
  | "gmem-locks"
  | "huge-folios"
  | "uffd"
  | "postcopy";

export interface SeededBug {
  /** The mistake as a kernel developer would say it in a review. */
  readonly description: string;
  readonly area: BugArea;
  /**
   * race: only an interleaving of two threads exposes it (at the kernel's yield points, or of the post-copy
   * VMM's actors); sequential: one thread's operations do.
   */
  readonly kind: "sequential" | "race";
  /** The file holding the switch. */
  readonly file: string;
  /** The suite of the default check (props/registry.ts) expected to find it. */
  readonly suite: string;
  /** Where the mistake comes from: a patch or review comment (with its Message-ID or series), or a plausible slip. */
  readonly source: string;
}

const V2_COVER = "[PATCH v2 00/13] KVM: Introduce KVM Userfault, cover letter (James Houghton, 2025-01-09)";
const V3_04 = "KVM Userfault v3 04/15, 20250618042424.330664-5-jthoughton@google.com";
const RFC_THREAD = "1G page support for guest_memfd RFC, faultability xarray patch: Peter Xu's question and Ackerley Tng's reply (2024-10), bd163de3118b626d1005aa88e71ef2fb72f0be0f.1726009989.git.ackerleytng@google.com";
const V7 = (n: number): string => `guest_memfd in-place conversion [PATCH v7 ${String(n).padStart(2, "0")}/42], 20260522-gmem-inplace-conversion-v7-${n}-2f0fae496530@google.com`;
const RFC39 = "[RFC PATCH 39/39] 38723c5d5e9b530e52f28b9f9f4a6d862ed69bcd.1726009989.git.ackerleytng@google.com";
const MINOR_V1 = "[PATCH 0/9] userfaultfd: add minor fault handling (Axel Rasmussen, 2021-01-22)";
const EXIT_REVIEW = "Oliver Upton's review of [PATCH v7 08/14] KVM_EXIT_MEMORY_FAULT on stage-2 faults (Anish Moorthy), 20240215235405.368539-9-amoorthy@google.com";
const slip = (where: string): string => `plausible slip (${where})`;

export const BUGS = {
  "userfault-enable-no-zap": {
    description: "kvm_commit_memory_region does not call kvm_arch_userfault_enabled: enabling USERFAULT keeps old mappings",
    area: "userfault-bitmap",
    kind: "sequential",
    file: "impl/kvm/memslot.ts",
    suite: "kvm-anon-x86",
    source: `${V2_COVER}: "When enabling KVM_MEM_USERFAULT for a memslot, the second-stage mappings are zapped"; ${V3_04}`,
  },
  "userfault-huge": {
    description: "kvm_mmu_hugepage_adjust ignores KVM_MEM_USERFAULT: huge mappings while USERFAULT is on",
    area: "huge-folios",
    kind: "sequential",
    file: "impl/kvm/mmu.ts",
    suite: "kvm-hugetlb-x86",
    source: `${V2_COVER}: "When KVM_MEM_USERFAULT is enabled, only PAGE_SIZE mappings are permitted"`,
  },
  "userfault-bitmap-ignored": {
    description: "the fault path never calls kvm_do_userfault: set bits do not exit",
    area: "userfault-bitmap",
    kind: "sequential",
    file: "impl/kvm/fault.ts",
    suite: "kvm-anon-x86",
    source: `${V2_COVER}: "new faults will check userfault_bitmap to see if the fault should exit to userspace"`,
  },
  "memslot-overlap-off-by-one": {
    description: "kvm_check_memslot_overlap misses a slot that starts on the last page of another",
    area: "memslots",
    kind: "sequential",
    file: "impl/kvm/memslot.ts",
    suite: "kvm-anon-x86",
    source: slip("virt/kvm/kvm_main.c, kvm_check_memslot_overlap: the inclusive/exclusive end of an interval"),
  },
  "attr-no-zap": {
    description: "kvm_vm_set_mem_attributes skips the pre-set zap: mappings disagree with the new attributes",
    area: "attributes-mmu",
    kind: "sequential",
    file: "impl/kvm/attributes.ts",
    suite: "kvm-gmem-x86",
    source: slip("virt/kvm/kvm_main.c, kvm_vm_set_mem_attributes: kvm_pre_set_memory_attributes dropped"),
  },
  "delete-no-zap": {
    description: "DELETE does not flush the slot: mappings outlive their memslot",
    area: "memslots",
    kind: "sequential",
    file: "impl/kvm/memslot.ts",
    suite: "kvm-anon-x86",
    source: slip("virt/kvm/kvm_main.c, kvm_invalidate_memslot: kvm_arch_flush_shadow_memslot dropped"),
  },
  "munmap-no-notify": {
    description: "munmap does not call the mmu notifier: KVM keeps mapping the freed page",
    area: "host-mm",
    kind: "sequential",
    file: "impl/mm/mm.ts",
    suite: "kvm-anon-x86",
    source: slip("mm/vma.c, an unmap path without mmu_notifier_invalidate_range_start"),
  },
  "anon-write-to-old-page": {
    description: "the write after a COW fault goes to the old page: the write is lost",
    area: "host-mm",
    kind: "sequential",
    file: "impl/mm/mm.ts",
    suite: "kvm-anon-x86",
    source: slip("mm/memory.c, wp_page_copy: the store done through the old PTE"),
  },
  "zap-frees-contents": {
    description: "zapping an SPTE also frees the host page's contents",
    area: "attributes-mmu",
    kind: "sequential",
    file: "impl/kvm/mmu.ts",
    suite: "kvm-anon-x86",
    source: slip("kvm_unmap_gfn_range confused with truncation: dropping a translation is not freeing the page"),
  },
  "userfault-enable-zap-early": {
    description:
      "kvm_set_memslot calls kvm_arch_userfault_enabled before kvm_swap_active_memslots publishes the new flags: a fault that read the old flags maps the page after the zap",
    area: "userfault-bitmap",
    kind: "race",
    file: "impl/kvm/memslot.ts",
    suite: "race-userfault-enable",
    source: `${V3_04}: the zap is in kvm_commit_memory_region, after the swap; ${slip("the zap moved before the publication")}`,
  },
  "userfault-double-fetch": {
    description:
      "kvm_do_userfault fetches the bitmap word again to fill the exit flags: a bit cleared between the two __get_user calls exits without KVM_MEMORY_EXIT_FLAG_USERFAULT",
    area: "exits",
    kind: "race",
    file: "impl/kvm/fault.ts",
    suite: "race-userfault-clear",
    source: `${V3_04} (kvm_do_userfault reads the bit once); ${slip("a double fetch of userspace memory")}`,
  },
  "memslot-lookup-outside-srcu": {
    description:
      "the fault path looks the memslot up before srcu_read_lock: DELETE/MOVE's synchronize_srcu does not wait for it, and it maps through the old slot after the flush",
    area: "memslots",
    kind: "race",
    file: "impl/kvm/fault.ts",
    suite: "race-memslot-delete-move",
    source: slip("Documentation/virt/kvm/locking.rst: kvm->srcu protects kvm->memslots; the lookup hoisted out of the read section"),
  },
  "memslot-invalidate-no-sync": {
    description:
      "kvm_invalidate_memslot flushes without waiting in synchronize_srcu for faults that still use the old slot: one maps after the flush",
    area: "memslots",
    kind: "race",
    file: "impl/kvm/memslot.ts",
    suite: "race-memslot-delete-move",
    source: slip("virt/kvm/kvm_main.c, kvm_swap_active_memslots: synchronize_srcu_expedited dropped as an optimization"),
  },
  "attr-store-before-invalidate": {
    description:
      "kvm_vm_set_mem_attributes stores the attributes before kvm_mmu_invalidate_begin and the zap: a fault in between maps the page against its new attribute",
    area: "attributes-mmu",
    kind: "race",
    file: "impl/kvm/attributes.ts",
    suite: "race-attributes",
    source: slip("virt/kvm/kvm_main.c, kvm_vm_set_mem_attributes: xa_store moved before kvm_handle_gfn_range(pre_set_range)"),
  },
  "fault-no-invalidate-recheck": {
    description:
      "is_page_fault_stale skips mmu_invalidate_retry_gfn under mmu_lock: an invalidation that ran during faultin leaves a stale mapping",
    area: "attributes-mmu",
    kind: "race",
    file: "impl/kvm/fault.ts",
    suite: "race-attributes",
    source: slip("arch/x86/kvm/mmu/mmu.c, is_page_fault_stale: the fault path does not re-check mmu_invalidate_seq under mmu_lock"),
  },
  "gmem-host-fault-unlocked": {
    description:
      "v7 host fault checks the page is shared without the filemap invalidate lock: a conversion in between leaves a private page host-mapped",
    area: "gmem-locks",
    kind: "race",
    file: "impl/gmem/gmem.ts",
    suite: "race-gmem-convert-host",
    source: `${RFC_THREAD}; ${RFC39} adds the lock to kvm_gmem_fault`,
  },
  "gmem-convert-check-before-unmap": {
    description: "to-private conversion checks references before unmap_mapping_pages: a host-mapped page fails with EAGAIN",
    area: "gmem-conversion",
    kind: "sequential",
    file: "impl/gmem/convert.ts",
    suite: "gmem-v7",
    source: `${RFC_THREAD}: "we're using faultability to prevent any future faults before checking that there are no mappings"; ${V7(10)}`,
  },
  "gmem-convert-commit-before-check": {
    description: "to-private conversion commits before the reference check: a pinned page becomes private, and EAGAIN is returned after the fact",
    area: "gmem-conversion",
    kind: "sequential",
    file: "impl/gmem/convert.ts",
    suite: "gmem-v7",
    source: `${RFC_THREAD}: "allows us to disable faulting before committing to changing mem_attr_array"`,
  },
  "gmem-convert-no-unmap": {
    description: "to-private conversion skips unmap_mapping_pages (and so counts no PTE references): a private page stays host-mapped",
    area: "gmem-conversion",
    kind: "sequential",
    file: "impl/gmem/convert.ts",
    suite: "gmem-v7",
    source: `${V7(10)} (__kvm_gmem_set_attributes: unmap_mapping_pages); ${slip("the unmap dropped")}`,
  },
  "gmem-convert-no-zap": {
    description: "conversion skips the SPTE zap of kvm_gmem_invalidate_begin: stage-2 keeps mappings that disagree with the new state",
    area: "gmem-conversion",
    kind: "sequential",
    file: "impl/gmem/convert.ts",
    suite: "gmem-v7",
    source: `${V7(10)} (kvm_gmem_invalidate_begin); ${slip("the zap dropped")}`,
  },
  "gmem-convert-scrubs": {
    description: "to-shared conversion clears the pages as if firmware had scrubbed them: contents are lost",
    area: "gmem-conversion",
    kind: "sequential",
    file: "impl/gmem/convert.ts",
    suite: "gmem-v7",
    source: slip("in-place conversion keeps contents on software-protected VMs; a clear copied from a TDX/SNP path"),
  },
  "gmem-punch-no-zap": {
    description: "PUNCH_HOLE skips kvm_gmem_invalidate_begin/_end: stage-2 keeps mapping the freed folios",
    area: "gmem-conversion",
    kind: "sequential",
    file: "impl/gmem/fallocate.ts",
    suite: "gmem-v7",
    source: slip("virt/kvm/guest_memfd.c, kvm_gmem_punch_hole: the invalidation dropped"),
  },
  "gmem-merge-mapped": {
    description: "merge checks only the converted part of a huge folio: it merges while a sub-page is still shared and host-mapped",
    area: "huge-folios",
    kind: "sequential",
    file: "impl/gmem/convert.ts",
    suite: "gmem-v7-2m",
    source: `${RFC39} (merge once the whole folio is private and unmapped); ${slip("the check bounded by the conversion's range")}`,
  },
  "gmem-huge-ignores-split": {
    description: "the fault maps a guest_memfd page at its folio's order without checking the folio is unsplit and wholly private",
    area: "huge-folios",
    kind: "sequential",
    file: "impl/gmem/attributes.ts",
    suite: "gmem-v7-2m",
    source: slip("kvm_gmem_max_mapping_level: the folio order taken without the split state"),
  },
  "uffd-minor-ignored": {
    description: "the shmem/hugetlbfs/guest_memfd fault maps a page-cache page without the MINOR check: a MINOR-registered mapping shows the page before CONTINUE",
    area: "uffd",
    kind: "sequential",
    file: "impl/mm/mm.ts",
    suite: "uffd-shmem",
    source: `${MINOR_V1}: the UFFD mapping's first touch of a cached page is a "minor" fault that userspace intercepts`,
  },
  "uffd-no-must-wait": {
    description:
      "handle_userfault sleeps without its checks after queueing (the task state set too late, no userfaultfd_must_wait): a CONTINUE between the queueing and the sleep leaves the thread asleep on a mapped page",
    area: "uffd",
    kind: "race",
    file: "impl/uffd/fault.ts",
    suite: "race-uffd-shmem",
    source: slip("fs/userfaultfd.c, handle_userfault: set_current_state and userfaultfd_must_wait after the queueing"),
  },
  "uffd-wake-short": {
    description: "the resolving ioctls wake [start, start + len - PAGE_SIZE): a sleeper on the last page of the range is never woken",
    area: "uffd",
    kind: "sequential",
    file: "impl/uffd/uffd.ts",
    suite: "uffd-anon",
    source: slip("fs/userfaultfd.c, wake_userfault: an inclusive end computed as exclusive"),
  },
  "uffd-continue-fresh-page": {
    description: "CONTINUE maps a newly allocated zero page instead of the page-cache page: the thread reads zeros, not what the alias wrote",
    area: "uffd",
    kind: "sequential",
    file: "impl/uffd/mfill.ts",
    suite: "uffd-shmem",
    source: `${MINOR_V1}, changelog: "Fixed a bug in the hugetlb_mcopy_atomic_pte retry case ... We're doing a CONTINUE op, we need to look up an existing page instead of allocating a new one"`,
  },
  "uffd-continue-clears-page": {
    description: "CONTINUE clears the page-cache page before mapping it, as if it were new: the alias write is lost",
    area: "uffd",
    kind: "sequential",
    file: "impl/uffd/mfill.ts",
    suite: "uffd-shmem",
    source: `${MINOR_V1}, changelog: COPY "need[s] to allocate a page, add to cache, etc.", CONTINUE must not; ${slip("COPY's initialization on the CONTINUE path")}`,
  },
  "uffd-move-keeps-src": {
    description: "UFFDIO_MOVE installs the page at dst but leaves the src PTE in place: one page mapped twice, a write through either shows at both",
    area: "uffd",
    kind: "sequential",
    file: "impl/uffd/move.ts",
    suite: "refusals-vocab",
    source: slip("mm/userfaultfd.c, move_present_pte: the ptep_clear_flush of the src PTE dropped"),
  },
  "alias-write-first-page-only": {
    description: "a write through the alias mapping that crosses a page boundary stops after the first page",
    area: "host-mm",
    kind: "sequential",
    file: "impl/mm/mm.ts",
    suite: "uffd-shmem",
    source: slip("a copy loop bounded by the first page"),
  },
  "postcopy-clear-before-write": {
    description: "the VMM clears the page's KVM Userfault bit before writing the fetched contents through its alias",
    area: "postcopy",
    kind: "race",
    file: "props/postcopy/vmm.ts",
    suite: "postcopy",
    source: `${V3_04} (api.rst: userspace populates the page, then clears its bit); ${slip("the two steps of a fetch swapped")}`,
  },
  "postcopy-continue-before-write": {
    description: "the VMM resolves its own MINOR/MISSING fault with CONTINUE before writing the fetched contents through its alias",
    area: "postcopy",
    kind: "race",
    file: "props/postcopy/vmm.ts",
    suite: "postcopy",
    source: `${MINOR_V1}: userspace issues UFFDIO_CONTINUE "to tell the kernel 'I have ensured the page contents are correct'"`,
  },
  "postcopy-double-fetch": {
    description: "the background fetcher fetches pages again that a demand fault already fetched, overwriting newer guest writes",
    area: "postcopy",
    kind: "race",
    file: "props/postcopy/vmm.ts",
    suite: "postcopy",
    source: `${MINOR_V1}: "The userfaultfd manager can, in the background, also copy over updated pages"; ${slip("the background copy not skipping demand-fetched pages")}`,
  },
  "fault-no-pte-recheck": {
    description: "the host fault installs its PTE without the vmf_pte_changed / pte_same re-check under the PT lock: a read fault maps the zero page over the private page a concurrent write fault installed",
    area: "host-mm",
    kind: "race",
    file: "impl/mm/mm.ts",
    suite: "race-host-fault",
    source: slip("mm/memory.c do_anonymous_page and finish_fault without their vmf_pte_changed check"),
  },
  "exit-private-flag-dropped": {
    description:
      "the private/shared mismatch exit is prepared with is_private false: KVM_EXIT_MEMORY_FAULT of a private access lacks KVM_MEMORY_EXIT_FLAG_PRIVATE",
    area: "exits",
    kind: "sequential",
    file: "impl/kvm/fault.ts",
    suite: "kvm-anon-x86",
    source: `${EXIT_REVIEW}: kvm_prepare_memory_fault_exit(vcpu, gfn * PAGE_SIZE, PAGE_SIZE, write_fault, exec_fault, false), the last argument being is_private`,
  },
  "mmio-ro-write-as-read": {
    description: "on x86 a write to a READONLY memslot exits KVM_EXIT_MMIO with is_write clear: the VMM emulates a read",
    area: "exits",
    kind: "sequential",
    file: "impl/kvm/fault.ts",
    suite: "kvm-anon-x86",
    source: slip("arch/x86/kvm/mmu/mmu.c, kvm_handle_error_pfn: KVM_PFN_ERR_RO_FAULT reported without the fault's write bit"),
  },
  "fault-seq-after-faultin": {
    description:
      "kvm_mmu_faultin_pfn snapshots mmu_invalidate_seq after faulting the pfn in, not before: an invalidation that ran during faultin (a conversion while kvm_gmem_get_pfn waited for the invalidate lock) is missed by the re-check under mmu_lock",
    area: "attributes-mmu",
    kind: "race",
    file: "impl/kvm/fault.ts",
    suite: "race-gmem-convert-vcpu",
    source: slip("arch/x86/kvm/mmu/mmu.c, kvm_mmu_faultin_pfn: fault->mmu_seq = kvm->mmu_invalidate_seq; smp_rmb() moved after __kvm_mmu_faultin_pfn"),
  },
  "userfault-bitmap-unchecked": {
    description: "kvm_set_memory_region accepts a USERFAULT memslot whose userfault_bitmap fails access_ok: the bitmap ends past TASK_SIZE",
    area: "userfault-bitmap",
    kind: "sequential",
    file: "impl/kvm/memslot.ts",
    suite: "refusals-kvm",
    source: `${V2_COVER}, changelog v1->v2: "Fix the userfault_bitmap validation and casts (thanks kernel test robot)"`,
  },
  "gmem-convert-unlocked": {
    description:
      "kvm_gmem_set_attributes converts without filemap_invalidate_lock: a host fault that checked the page shared takes its reference after the reference check, and a private page ends up host-mapped",
    area: "gmem-locks",
    kind: "race",
    file: "impl/gmem/convert.ts",
    suite: "race-gmem-convert-host",
    source: `${V7(10)} (__kvm_gmem_set_attributes under filemap_invalidate_lock); ${RFC_THREAD}`,
  },
  "gmem-rfc-no-folio-lock": {
    description:
      "2024 RFC: kvm_gmem_no_mappings_range checks the mapcount without folio_lock: a host fault between its faultability check and finish_fault maps the page after the check, and it becomes private while mapped",
    area: "gmem-locks",
    kind: "race",
    file: "impl/gmem/convert.ts",
    suite: "race-gmem-rfc-2024",
    source: `${RFC_THREAD}: "The folio_lock() is probably important if we need to check mapcount"`,
  },
  "gmem-punch-folio-unlocked": {
    description:
      "kvm_gmem_punch_hole truncates without taking each folio's lock: a host fault still in finish_fault installs its PTE on a folio just removed from the page cache",
    area: "gmem-locks",
    kind: "race",
    file: "impl/gmem/fallocate.ts",
    suite: "race-gmem-punch",
    source: slip("mm/truncate.c, truncate_inode_pages_range: folio_lock on each folio skipped"),
  },
} as const satisfies Readonly<Record<string, SeededBug>>;

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
