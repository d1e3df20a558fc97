// Seeded bugs: deliberate mistakes switched on by configuration (config.bugs), never by editing code. The code
// checks `ctx.bugs.has(id)` at the exact place of each mistake. This catalog is the one list of them: what the
// mistake is, where, which suite of the default check must find it and where it comes from. docs/BUGS.md is
// generated from it (npm run docs:bugs); `faultline mutants` hunts every one.
import { DIRTY_LOG_BUGS } from "./kvm/dirty-log-bugs.js";

import { ENOMEM_BUGS } from "./bugs-enomem.js";
import { SECRET_BUGS } from "./bugs-secret.js";
import { CONVERSION_BUGS } from "./bugs-conversion.js";
import { UFFD_DESIGN_BUGS } from "./bugs-uffd-designs.js";

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
  | "gmem-file"
  | "uffd"
  | "postcopy"
  | "dirty-log";

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
  /** For an off-by-one at a numeric bound of the model (model/bounds-index.ts): that bound's rule id. */
  readonly bound?: string;
}

const V2_COVER = "[PATCH v2 00/13] KVM: Introduce KVM Userfault, cover letter (James Houghton, 2025-01-09)";
const V3_04 = "KVM Userfault v3 04/15, 20250618042424.330664-5-jthoughton@google.com";
const RFC_THREAD = "1G page support for guest_memfd RFC, faultability xarray patch: Peter Xu's question and Ackerley Tng's reply (2024-10), bd163de3118b626d1005aa88e71ef2fb72f0be0f.1726009989.git.ackerleytng@google.com";
const V8 = (n: number, subject: string): string => `guest_memfd in-place conversion [PATCH v8 ${String(n).padStart(2, "0")}/46] ${subject}, 20260618-gmem-inplace-conversion-v8-${n}-9d2959357853@google.com`;
const V7 = (n: number): string => `guest_memfd in-place conversion [PATCH v7 ${String(n).padStart(2, "0")}/42], 20260522-gmem-inplace-conversion-v7-${n}-2f0fae496530@google.com`;
const RFC39 = "[RFC PATCH 39/39] 38723c5d5e9b530e52f28b9f9f4a6d862ed69bcd.1726009989.git.ackerleytng@google.com";
const MINOR_V1 = "[PATCH 0/9] userfaultfd: add minor fault handling (Axel Rasmussen, 2021-01-22)";
const EXIT_REVIEW = "Oliver Upton's review of [PATCH v7 08/14] KVM_EXIT_MEMORY_FAULT on stage-2 faults (Anish Moorthy), 20240215235405.368539-9-amoorthy@google.com";
const UFFD_DOC = "Documentation/admin-guide/mm/userfaultfd.rst";
const slip = (where: string): string => `plausible slip (${where})`;
const POISON_THREAD = `the poison discussion in the replies to ${V2_COVER} (James Houghton and Sean Christopherson, 2025-05-28/29, shared/seeds 000)`;

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
    bound: "memslot.overlap",
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
  "userfault-enable-no-sync": {
    description:
      "the USERFAULT 0->1 FLAGS_ONLY change publishes the new flags without synchronize_srcu: a fault that read the old flags maps its page after the zap",
    area: "userfault-bitmap",
    kind: "race",
    file: "impl/kvm/memslot.ts",
    suite: "race-userfault-enable-arm64",
    source: `${V3_04}: kvm_arch_userfault_enabled runs in kvm_commit_memory_region, after kvm_swap_active_memslots waited for SRCU readers; ${slip("the wait skipped for a flags-only change")}`,
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
    suite: "gmem-v8",
    source: `${RFC_THREAD}: "we're using faultability to prevent any future faults before checking that there are no mappings"; ${V7(10)}`,
  },
  "gmem-convert-commit-before-check": {
    description: "to-private conversion commits before the reference check: a pinned page becomes private, and EAGAIN is returned after the fact",
    area: "gmem-conversion",
    kind: "sequential",
    file: "impl/gmem/convert.ts",
    suite: "gmem-v8",
    source: `${RFC_THREAD}: "allows us to disable faulting before committing to changing mem_attr_array"`,
  },
  "gmem-convert-no-unmap": {
    description: "to-private conversion skips unmap_mapping_pages (and so counts no PTE references): a private page stays host-mapped",
    area: "gmem-conversion",
    kind: "sequential",
    file: "impl/gmem/convert.ts",
    suite: "gmem-v8",
    source: `${V7(10)} (__kvm_gmem_set_attributes: unmap_mapping_pages); ${slip("the unmap dropped")}`,
  },
  "gmem-convert-no-zap": {
    description: "conversion skips the SPTE zap of kvm_gmem_invalidate_begin: stage-2 keeps mappings that disagree with the new state",
    area: "gmem-conversion",
    kind: "sequential",
    file: "impl/gmem/convert.ts",
    suite: "gmem-v8",
    source: `${V7(10)} (kvm_gmem_invalidate_begin); ${slip("the zap dropped")}`,
  },
  "gmem-convert-scrubs": {
    description: "to-shared conversion clears the pages as if firmware had scrubbed them: contents are lost",
    area: "gmem-conversion",
    kind: "sequential",
    file: "impl/gmem/convert.ts",
    suite: "gmem-v8",
    source: slip("in-place conversion keeps contents on software-protected VMs; a clear copied from a TDX/SNP path"),
  },
  "attr-private-in-place": {
    description: "KVM_SET_MEMORY_ATTRIBUTES still takes PRIVATE while guest_memfd tracks it: a second home for PRIVATE",
    area: "attributes-mmu",
    kind: "sequential",
    file: "impl/kvm/attributes.ts",
    suite: "gmem-v8-vm-attrs",
    source: `${V8(10, "KVM: guest_memfd: Wire up core private/shared attribute interfaces")}: kvm_supported_vm_mem_attributes returns 0 under gmem_in_place_conversion`,
  },
  "gmem-punch-no-zap": {
    description: "PUNCH_HOLE skips kvm_gmem_invalidate_begin/_end: stage-2 keeps mapping the freed folios",
    area: "gmem-conversion",
    kind: "sequential",
    file: "impl/gmem/fallocate.ts",
    suite: "gmem-v8",
    source: slip("virt/kvm/guest_memfd.c, kvm_gmem_punch_hole: the invalidation dropped"),
  },
  "gmem-merge-mapped": {
    description: "merge checks only the converted part of a huge folio: it merges while a sub-page is still shared and host-mapped",
    area: "huge-folios",
    kind: "sequential",
    file: "impl/gmem/convert.ts",
    suite: "gmem-v8-2m",
    source: `${RFC39} (merge once the whole folio is private and unmapped); ${slip("the check bounded by the conversion's range")}`,
  },
  "gmem-state-ignores-split": {
    description: "gmem_state reports a split huge folio at its allocation size: the query says 2M where the host maps 4 KiB pieces",
    area: "huge-folios",
    kind: "sequential",
    file: "impl/gmem/state-query.ts",
    suite: "gmem-v8-2m",
    source: slip("the folio size read from the allocation order, not from the split state"),
  },
  "gmem-huge-ignores-split": {
    description: "the fault maps a guest_memfd page at its folio's order without checking the folio is unsplit and wholly private",
    area: "huge-folios",
    kind: "sequential",
    file: "impl/gmem/attributes.ts",
    suite: "gmem-v8-2m",
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
  "userfault-exit-cached": {
    description: "kvm_do_userfault remembers each vCPU's last USERFAULT exit gfn and exits again on it without reading the bitmap, as vcpu_cache_mmio_info does for MMIO: the VMM clears the bit and the vCPU exits forever",
    area: "exits",
    kind: "sequential",
    file: "impl/kvm/fault.ts",
    suite: "exit-progress",
    source: slip("a fast path modelled on arch/x86/kvm/x86.h vcpu_cache_mmio_info / vcpu_match_mmio_gpa, without the bitmap re-read"),
  },
  "error-pfn-exit-cached": {
    description:
      "the annotated GUP failure (exit-on-missing's kvm_handle_error_pfn, arm64-memory-fault-info's user_mem_abort) remembers each vCPU's gfn and exits again on it without trying GUP: the VMM fills or remaps the page and the vCPU exits forever",
    area: "exits",
    kind: "sequential",
    file: "impl/kvm/fault.ts",
    suite: "race-exit-progress-exit-on-missing",
    source: slip("the userfault-exit-cached fast path (vcpu_cache_mmio_info style) on the error-pfn exit of the fault-exit variants"),
  },
  "postcopy-kvm-userfault-only": {
    description: "the VMM relies on KVM Userfault alone and registers no userfaultfd on the memslot's mapping: KVM's own accesses (and the VMM's threads) read pages it has not fetched",
    area: "postcopy",
    kind: "sequential",
    file: "props/postcopy/scenario.ts",
    suite: "postcopy",
    source: `${V2_COVER}: "KVM Userfault does not attempt to catch KVM's own accesses to guest memory. That is left up to userfaultfd."`,
  },
  "uaccess-gmem-direct": {
    description: "kvm_read_guest_page / kvm_write_guest_page copy guest_memfd memory through kvm_gmem_get_pfn even for a slot with a userspace address, bypassing the hva and the userfaultfd registered on it",
    area: "postcopy",
    kind: "sequential",
    file: "impl/kvm/uaccess.ts",
    suite: "postcopy",
    source: "[RFC PATCH v1 2/9] KVM: guest_memfd: Add guest_memfd support to kvm_(read|/write)_guest_page(), 20250122152738.1173160-3-tabba@google.com (there only for slots without a userspace address)",
  },
  "postcopy-userfault-off-early": {
    description: "the VMM turns KVM_MEM_USERFAULT off when it starts the last page's fetch, not after it: a guest access in between reads guest_memfd before the page is filled",
    area: "postcopy",
    kind: "race",
    file: "props/postcopy/race.ts",
    suite: "postcopy-kvm-race",
    source: `${V3_04} (api.rst: userspace clears KVM_MEM_USERFAULT once every page is populated); ${slip("the end of post-copy signalled when the last fetch is issued")}`,
  },
  "postcopy-double-fetch": {
    description: "the background fetcher fetches pages again that a demand fault already fetched, overwriting newer guest writes",
    area: "postcopy",
    kind: "race",
    file: "props/postcopy/vmm.ts",
    suite: "postcopy",
    source: `${MINOR_V1}: "The userfaultfd manager can, in the background, also copy over updated pages"; ${slip("the background copy not skipping demand-fetched pages")}`,
  },
  "postcopy-fetch-twice-on-exit": {
    description: "the fault handler answers a vCPU's USERFAULT exit by fetching the page even when the background fetcher already claimed it",
    area: "postcopy",
    kind: "race",
    file: "props/postcopy/vmm.ts",
    suite: "postcopy-shmem",
    source: `${V2_COVER}: demand fetches come from vCPU exits while the rest is fetched in the background; ${slip("the handler not checking what the fetcher claimed")}`,
  },
  "postcopy-eexist-no-wake": {
    description: "on anonymous memory the handler takes UFFDIO_COPY's EEXIST as done without UFFDIO_WAKE: the thread asleep on a page the fetcher placed with DONTWAKE sleeps on",
    area: "postcopy",
    kind: "race",
    file: "props/postcopy/vmm.ts",
    suite: "postcopy-anon",
    source: `${UFFD_DOC}: UFFDIO_COPY_MODE_DONTWAKE leaves the wakeup to a later UFFDIO_WAKE, and fs/userfaultfd.c userfaultfd_copy wakes only after a copy that placed something; ${slip("EEXIST handled as success")}`,
  },
  "postcopy-discard-missed": {
    description: "at the switch-over the VMM does not discard (MADV_DONTNEED) anonymous pages the pre-copy sent stale: they never fault, and the guest reads the stale bytes",
    area: "postcopy",
    kind: "sequential",
    file: "props/postcopy/backing.ts",
    suite: "postcopy-anon",
    source: `QEMU migration/postcopy-ram.c, postcopy_ram_discard_range (pages dirtied after they were sent are discarded before post-copy); ${slip("the discard skipped")}`,
  },
  "postcopy-resend-overwrites": {
    description: "a page the source sends again is written through the alias although the VMM already has it, over the guest's newer stores",
    area: "postcopy",
    kind: "race",
    file: "props/postcopy/vmm.ts",
    suite: "postcopy-shmem",
    source: `${MINOR_V1}: with MINOR faults the VMM writes contents through its second mapping itself (no EEXIST guards it as UFFDIO_COPY's does); ${slip("the received-page check skipped")}`,
  },
  "postcopy-remove-ignored": {
    description: "the VMM ignores UFFD_EVENT_REMOVE from the balloon: a page given back is fetched from the source again on its next fault instead of zero-filled",
    area: "postcopy",
    kind: "race",
    file: "props/postcopy/vmm.ts",
    suite: "postcopy-anon",
    source: `${UFFD_DOC} (UFFD_FEATURE_EVENT_REMOVE: MADV_REMOVE / MADV_DONTNEED are reported so that the manager stops filling the range); ${slip("the event ignored")}`,
  },
  "postcopy-current-no-continue": {
    description: "a pre-copied page that is already current gets no UFFDIO_CONTINUE (nothing to copy, so nothing done): a thread faulting on it sleeps forever",
    area: "postcopy",
    kind: "sequential",
    file: "props/postcopy/vmm.ts",
    suite: "postcopy-shmem",
    source: `${MINOR_V1}: a minor fault on a page whose contents are already right is resolved by UFFDIO_CONTINUE alone; ${slip("the CONTINUE skipped")}`,
  },
  "postcopy-snapshot-hole-zero": {
    description: "restoring a snapshot, the fault handler answers a MISSING fault on a hole of the local snapshot file with UFFDIO_ZEROPAGE, as if the snapshot were sparse, though the page is still to come from the source",
    area: "postcopy",
    kind: "sequential",
    file: "props/postcopy/vmm.ts",
    suite: "postcopy-snapshot-private",
    source: `${UFFD_DOC} (UFFDIO_ZEROPAGE zero-fills the range); ${slip("a hole taken for a zero page")}`,
  },
  "postcopy-huge-clear-one-gfn": {
    description: "after fetching a 2 MiB page the VMM clears the KVM Userfault bit of its first 4 KiB gfn only: a vCPU touching the rest keeps exiting",
    area: "postcopy",
    kind: "sequential",
    file: "props/postcopy/vmm.ts",
    suite: "postcopy-hugetlb-2m",
    source: `${V3_04} (one bit per gfn of the slot); ${slip("npages 1 for a huge page")}`,
  },
  "mfill-copy-eexist-unlocked": {
    description:
      "mfill_atomic_pte_copy reads the destination PTE for its EEXIST check before pte_offset_map_lock, not under the PT lock: two UFFDIO_COPYs of one page (two handlers, or the background fetcher and a handler) both see it none and both install, the second over the first",
    area: "uffd",
    kind: "race",
    file: "impl/uffd/mfill.ts",
    suite: "postcopy-race-anon",
    source: slip("mm/userfaultfd.c, mfill_atomic_install_pte: the pte_none_mostly check moved out of the PT lock, next to mfill_atomic's lockless pmd checks"),
  },
  "postcopy-huge-continue-partial": {
    description:
      "a fault handler asked for a page another VMM thread is filling issues UFFDIO_CONTINUE as soon as the page is in the page cache, without waiting for that thread's copy through the second mapping to finish: on a 2 MiB page the guest reads the part not yet copied",
    area: "postcopy",
    kind: "race",
    file: "props/postcopy/race-shapes.ts",
    suite: "postcopy-race-hugetlb-2m",
    source: `${MINOR_V1}: UFFDIO_CONTINUE tells the kernel "I have ensured the page contents are correct"; ${slip("the page cache's presence taken for the copy's completion")}`,
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
  "memslot-create-bitmap-late": {
    description:
      "a USERFAULT memslot is published by kvm_swap_active_memslots before its userfault bitmap exists: a vCPU fault that finds the new slot in that window gets a bare EFAULT instead of running on",
    area: "userfault-bitmap",
    kind: "race",
    file: "impl/kvm/memslot.ts",
    suite: "race-memslot-create",
    source: `${V3_04}: kvm_set_memory_region sets new->userfault_bitmap before kvm_set_memslot; the defect was in faultline's own impl until issue 23`,
  },
  "memslot-move-flush-new": {
    description:
      "kvm_invalidate_memslot flushes the moved slot's new range instead of its old one: the old gfns keep their SPTEs once the slot is gone from them. x86's slot-zap-all quirk zaps everything and hides it",
    area: "memslots",
    kind: "sequential",
    file: "impl/kvm/memslot.ts",
    suite: "race-memslot-delete-move-nozap",
    source: slip("virt/kvm/kvm_main.c, kvm_invalidate_memslot: kvm_arch_flush_shadow_memslot(kvm, old) given the new slot"),
  },
  "arm64-fault-maps-invalid-slot": {
    description:
      "arm64's user_mem_abort maps through a memslot marked KVM_MEMSLOT_INVALID: a fault that starts after DELETE or MOVE flushed the slot installs an SPTE outside any memslot",
    area: "memslots",
    kind: "race",
    file: "impl/kvm/fault.ts",
    suite: "race-memslot-delete-move-arm64",
    source: slip("virt/kvm/kvm_main.c, __gfn_to_hva_many: the KVM_MEMSLOT_INVALID test that makes user_mem_abort see a bad hva, dropped"),
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
  "gmem-rfc-folio-check-unlocked": {
    description:
      "2024 RFC with Peter Xu's folio-lock serialisation: kvm_gmem_fault reads faultability before kvm_gmem_get_folio locks the folio, so a conversion's faultability update and mapping check pass between the check and the PTE",
    area: "gmem-locks",
    kind: "race",
    file: "impl/gmem/gmem.ts",
    suite: "race-gmem-rfc-2024-folio-lock",
    source: `Peter Xu on the faultability patch (Zw7f3YrzqnH-iWwf@x1n): "kvm_gmem_is_faultable() will need to also be called only after the folio is locked to avoid races"`,
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
  "memslot-slot-id-inclusive": {
    description: "kvm_vm_ioctl_set_memory_region compares (u16)slot with KVM_USER_MEM_SLOTS using >: slot id KVM_USER_MEM_SLOTS is accepted",
    area: "memslots",
    kind: "sequential",
    file: "impl/kvm/memslot.ts",
    suite: "kvm-gmem-x86",
    bound: "memslot.slot-id",
    source: slip("virt/kvm/kvm_main.c, kvm_vm_ioctl_set_memory_region: id >= KVM_USER_MEM_SLOTS written as >"),
  },
  "memslot-hva-end-exclusive": {
    description: "kvm_set_memory_region refuses a slot whose userspace range ends exactly at TASK_SIZE, which access_ok(userspace_addr, memory_size) accepts",
    area: "memslots",
    kind: "sequential",
    file: "impl/kvm/memslot.ts",
    suite: "refusals-kvm",
    bound: "memslot.hva",
    source: slip("virt/kvm/kvm_main.c, kvm_set_memory_region: the inclusive end of access_ok"),
  },
  "memslot-gmem-offset-wrap-inclusive": {
    description: "kvm_set_memory_region accepts guest_memfd_offset + memory_size of exactly 2^64: the sum wraps to 0",
    area: "memslots",
    kind: "sequential",
    file: "impl/kvm/memslot.ts",
    suite: "kvm-gmem-x86",
    bound: "memslot.gmem-offset",
    source: slip("virt/kvm/kvm_main.c, kvm_set_memory_region: the guest_memfd_offset wrap check off by one"),
  },
  "memslot-as-id-inclusive": {
    description: "kvm_set_memory_region compares as_id with kvm_arch_nr_memslot_as_ids using >: one address space too many is accepted (SMM on a VM that has none)",
    area: "memslots",
    kind: "sequential",
    file: "impl/kvm/memslot.ts",
    suite: "kvm-anon-x86",
    bound: "memslot.as-id",
    source: slip("virt/kvm/kvm_main.c, kvm_set_memory_region: as_id >= kvm_arch_nr_memslot_as_ids(kvm) written as >"),
  },
  "memslot-gpa-wrap-inclusive": {
    description: "kvm_set_memory_region accepts guest_phys_addr + memory_size of exactly 2^64: the slot's end wraps to 0",
    area: "memslots",
    kind: "sequential",
    file: "impl/kvm/memslot.ts",
    suite: "kvm-hugetlb-arm64",
    bound: "memslot.gpa-wrap",
    source: slip("virt/kvm/kvm_main.c, kvm_set_memory_region: the guest_phys_addr wrap check off by one"),
  },
  "memslot-max-pages-exclusive": {
    description: "kvm_set_memory_region compares the page count with KVM_MEM_MAX_NR_PAGES using >=: the largest slot allowed is refused",
    area: "memslots",
    kind: "sequential",
    file: "impl/kvm/memslot.ts",
    suite: "kvm-anon-x86",
    bound: "memslot.max-pages",
    source: slip("virt/kvm/kvm_main.c, kvm_set_memory_region: memory_size >> PAGE_SHIFT > KVM_MEM_MAX_NR_PAGES written as >="),
  },
  "userfault-bitmap-words-floor": {
    description: "the userfault bitmap's access_ok length rounds the page count down to whole 64-bit words: a bitmap whose last, partial word crosses TASK_SIZE is accepted",
    area: "userfault-bitmap",
    kind: "sequential",
    file: "impl/kvm/memslot.ts",
    suite: "kvm-anon-x86",
    bound: "memslot.userfault-bitmap",
    source: slip("virt/kvm/kvm_main.c, kvm_set_memory_region: DIV_ROUND_UP(npages, BITS_PER_LONG) written as npages / BITS_PER_LONG"),
  },
  "memslot-max-gfn-exclusive": {
    description: "x86's kvm_arch_prepare_memory_region compares base_gfn + npages, not its last gfn, with kvm_mmu_max_gfn(): a slot ending exactly at the largest gfn is refused",
    area: "memslots",
    kind: "sequential",
    file: "impl/kvm/memslot.ts",
    suite: "refusals-gmem",
    bound: "memslot.max-gfn",
    source: slip("arch/x86/kvm/x86.c, kvm_arch_prepare_memory_region: the - 1 of the slot's last gfn dropped"),
  },
  "vcpu-index-inclusive": {
    description: "a vCPU index equal to the number of vCPUs is taken as a vCPU: KVM_RUN on an fd that names none runs",
    area: "exits",
    kind: "sequential",
    file: "impl/kvm/fault.ts",
    suite: "kvm-anon-x86",
    bound: "vcpu.ebadf",
    source: slip("virt/kvm/kvm_main.c, kvm_vm_ioctl_create_vcpu: the vCPU count compared with >"),
  },
  "attr-range-wrap-inclusive": {
    description: "kvm_vm_ioctl_set_mem_attributes accepts address + size of exactly 2^64: the range's end wraps to 0",
    area: "attributes-mmu",
    kind: "sequential",
    file: "impl/kvm/attributes.ts",
    suite: "kvm-hugetlb-x86",
    bound: "attr.range",
    source: slip("virt/kvm/kvm_main.c, kvm_vm_ioctl_set_mem_attributes: the wrap check off by one"),
  },
  "userfault-write-end-exclusive": {
    description: "the VMM's bitmap write refuses a range that ends at the slot's last page: its last bit can never be set or cleared",
    area: "userfault-bitmap",
    kind: "sequential",
    file: "impl/kvm/userfault.ts",
    suite: "kvm-anon-x86",
    bound: "userfault.no-buffer",
    source: slip("faultline's VMM bitmap buffer, the inclusive end of its bounds check"),
  },
  "gmem-create-size-inclusive": {
    description: "kvm_gmem_create takes a size of exactly 2^63, which does not fit loff_t",
    area: "gmem-file",
    kind: "sequential",
    file: "impl/gmem/gmem.ts",
    suite: "kvm-kernel-6.18",
    bound: "gmem.create-size",
    source: slip("virt/kvm/guest_memfd.c, kvm_gmem_create: size >= 2^63 (negative as loff_t) written as >"),
  },
  "gmem-bind-end-exclusive": {
    description: "kvm_gmem_bind refuses a binding that ends exactly at i_size: the file's last page can never back a memslot",
    area: "gmem-file",
    kind: "sequential",
    file: "impl/gmem/gmem.ts",
    suite: "gmem-v8",
    bound: "gmem.bind-range",
    source: slip("virt/kvm/guest_memfd.c, kvm_gmem_bind: offset + size > i_size_read(inode) written as >="),
  },
  "gmem-convert-end-exclusive": {
    description: "kvm_gmem_set_attributes refuses a range that ends exactly at i_size: the file's last pages can never be converted",
    area: "gmem-conversion",
    kind: "sequential",
    file: "impl/gmem/convert.ts",
    suite: "gmem-v8-2m",
    bound: "gmem.convert-beyond",
    source: slip("guest_memfd in-place conversion v7, the i_size check of the range written with >="),
  },
  "gmem-fallocate-len-inclusive": {
    description: "vfs_fallocate on a guest_memfd takes len of exactly 2^63, negative as loff_t",
    area: "gmem-file",
    kind: "sequential",
    file: "impl/gmem/fallocate.ts",
    suite: "refusals-gmem",
    bound: "gmem.fallocate-args",
    source: slip("fs/open.c, vfs_fallocate: len <= 0 as loff_t compared on the u64"),
  },
  "gmem-fallocate-efbig-inclusive": {
    description: "vfs_fallocate on a guest_memfd takes offset + len of exactly 2^63, past s_maxbytes",
    area: "gmem-file",
    kind: "sequential",
    file: "impl/gmem/fallocate.ts",
    suite: "refusals-gmem",
    bound: "gmem.fallocate-efbig",
    source: slip("fs/open.c, vfs_fallocate: offset + len > s_maxbytes off by one"),
  },
  "gmem-allocate-end-exclusive": {
    description: "kvm_gmem_allocate refuses an allocation that ends exactly at i_size: the file's last folio can never be preallocated",
    area: "gmem-file",
    kind: "sequential",
    file: "impl/gmem/fallocate.ts",
    suite: "gmem-kernel-6.18",
    bound: "gmem.allocate-beyond",
    source: slip("virt/kvm/guest_memfd.c, kvm_gmem_allocate: the i_size check written with >="),
  },
  "mmap-window-exclusive": {
    description: "a mapping that fills its map id's window exactly is refused",
    area: "host-mm",
    kind: "sequential",
    file: "impl/mm/mm.ts",
    suite: "uffd-private-file",
    bound: "faultline.map-window",
    source: slip("faultline's mapping layout (docs/VOCABULARY.md), the window check written with >="),
  },
  "file-fallocate-len-inclusive": {
    description: "vfs_fallocate on a memfd takes len of exactly 2^63, negative as loff_t",
    area: "host-mm",
    kind: "sequential",
    file: "impl/mm/mm.ts",
    suite: "uffd-hugetlb",
    bound: "mm.fallocate-args",
    source: slip("fs/open.c, vfs_fallocate: len <= 0 as loff_t compared on the u64"),
  },
  "file-fallocate-efbig-early": {
    description: "vfs_fallocate on a memfd rounds the range's end up a page before comparing it with s_maxbytes: a range ending one page below 2^63 is refused with EFBIG",
    area: "host-mm",
    kind: "sequential",
    file: "impl/mm/mm.ts",
    suite: "kvm-hugetlb-arm64",
    bound: "mm.fallocate-efbig",
    source: slip("fs/open.c, vfs_fallocate: offset + len > inode->i_sb->s_maxbytes with the end rounded up"),
  },
  "shmem-fault-eof-inclusive": {
    description: "a host fault on the page that starts at i_size maps it instead of raising SIGBUS",
    area: "host-mm",
    kind: "sequential",
    file: "impl/mm/mm.ts",
    suite: "uffd-shmem",
    bound: "mm.sigbus-eof",
    source: slip("mm/shmem.c, shmem_get_folio_gfp: index > DIV_ROUND_UP(i_size, PAGE_SIZE) where >= was meant"),
  },
  "uffd-range-end-exclusive": {
    description: "validate_range refuses a range that ends exactly at TASK_SIZE",
    area: "uffd",
    kind: "sequential",
    file: "impl/uffd/register.ts",
    suite: "uffd-anon",
    bound: "uffd.range",
    source: slip("fs/userfaultfd.c, validate_range: len > task_size - start written as >="),
  },
  "mfill-vma-end-exclusive": {
    description: "mfill_atomic refuses a range that ends exactly at the end of dst's VMA: the VMA's last page can never be filled",
    area: "uffd",
    kind: "sequential",
    file: "impl/uffd/mfill.ts",
    suite: "uffd-anon",
    bound: "uffd.mfill-vma-end",
    source: slip("mm/userfaultfd.c, find_dst_vma: dst_start + len > dst_vma->vm_end written as >="),
  },
  "mfill-eof-inclusive": {
    description: "UFFDIO_COPY fills the page that starts at i_size of a shmem file instead of failing with EFAULT",
    area: "uffd",
    kind: "sequential",
    file: "impl/uffd/mfill.ts",
    suite: "uffd-private-file",
    bound: "uffd.mfill-eof",
    source: slip("mm/userfaultfd.c, mfill_file_over_size: offset >= max_off written as >"),
  },
  "uffd-continue-eof-inclusive": {
    description: "UFFDIO_CONTINUE on the shmem page that starts at i_size goes on instead of failing with EINVAL",
    area: "uffd",
    kind: "sequential",
    file: "impl/uffd/mfill.ts",
    suite: "uffd-private-file",
    bound: "uffd.continue-eof",
    source: slip("mm/shmem.c, shmem_get_folio_gfp (SGP_NOALLOC past i_size): the i_size check off by one"),
  },
  "gmem-convert-busy-highest": {
    description: "a conversion refused for pinned pages reports the highest pinned page of the range as error_offset, not the lowest",
    area: "gmem-conversion",
    kind: "sequential",
    file: "impl/gmem/convert.ts",
    suite: "gmem-v8",
    source: slip("guest_memfd in-place conversion v7, the busy-page scan keeping the last page it finds"),
  },
  "gmem-convert-busy-first-pinned": {
    description: "a conversion refused for pinned pages reports the page pinned first as error_offset: when a lower page was pinned later, the offset is not the lowest busy page",
    area: "gmem-conversion",
    kind: "sequential",
    file: "impl/gmem/convert.ts",
    suite: "gmem-v8",
    source: slip("guest_memfd in-place conversion v7, error_offset taken from the first reference in the order references were taken"),
  },
  "memslot-lookup-past-end": {
    description: "the memslot search treats a slot's end gfn as inside it: a guest access one page past a slot maps the host page behind it instead of exiting",
    area: "memslots",
    kind: "sequential",
    file: "impl/kvm/kvm.ts",
    suite: "kvm-anon-x86",
    source: slip("virt/kvm/kvm_main.c, search_memslots: gfn < base_gfn + npages written as <="),
  },
  "memslot-lookup-misses-last-page": {
    description: "the memslot search misses a slot's last page: an access to it exits as MMIO",
    area: "memslots",
    kind: "sequential",
    file: "impl/kvm/kvm.ts",
    suite: "kvm-anon-x86",
    source: slip("virt/kvm/kvm_main.c, search_memslots: the last gfn of the slot compared as its end"),
  },
  "gmem-split-misses-last-folio": {
    description: "a conversion to shared splits the huge folios of its range rounded down to whole folios: the folio holding the range's end stays huge while part of it becomes shared",
    area: "huge-folios",
    kind: "sequential",
    file: "impl/gmem/convert.ts",
    suite: "gmem-v8-2m",
    source: slip("guest_memfd HugeTLB series, the folios to split counted with a floor where a ceiling was meant"),
  },
  "bitmap-first-word-mask-short": {
    description: "a userfault bitmap write spanning several words masks its first, partial word from one bit too far: its first page's bit is not set or cleared",
    area: "userfault-bitmap",
    kind: "sequential",
    file: "impl/kvm/memslot.ts",
    suite: "kvm-anon-x86",
    source: slip("include/linux/bitmap.h, BITMAP_FIRST_WORD_MASK(start) computed from start + 1 in the multi-word path"),
  },
  "attributes-split-loses-tail": {
    description: "storing an attribute strictly inside a span of the other value keeps the span's head and drops its tail: the pages after the range lose their attribute",
    area: "attributes-mmu",
    kind: "sequential",
    file: "impl/kvm/kvm.ts",
    suite: "kvm-anon-x86",
    source: slip("virt/kvm/kvm_main.c, kvm_vm_set_mem_attributes: an xa_store_range split that loses the entry's right part"),
  },
  "fault-around-next-folio": {
    description: "do_fault_around / filemap_map_pages fills each PTE with the page cache folio one index ahead: the PTEs are present, the pages they map are their neighbours'",
    area: "host-mm",
    kind: "sequential",
    file: "impl/mm/mm.ts",
    suite: "uffd-shmem",
    source: slip("mm/filemap.c, filemap_map_pages: the xarray cursor and the PTE index out of step"),
  },
  "recover-huge-wrong-subpage": {
    description: "kvm_mmu_recover_huge_pages builds the huge leaf from the pfn of the 4 KiB leaf it found, not of the region's first page: the huge mapping is shifted inside the folio",
    area: "huge-folios",
    kind: "sequential",
    file: "impl/kvm/mmu.ts",
    suite: "kvm-hugetlb-x86",
    source: slip("arch/x86/kvm/mmu/tdp_mmu.c, recover_huge_pages_range: the pfn of the huge leaf taken from the small SPTE without aligning it down"),
  },
  ...ENOMEM_BUGS,
  ...SECRET_BUGS,
  ...CONVERSION_BUGS,
  ...UFFD_DESIGN_BUGS,
  ...DIRTY_LOG_BUGS,
  "rescan-no-invalidate": {
    description:
      "the proposed bitmap re-scan ioctl zaps the marked pages without an mmu_invalidate section: a fault that read the bit clear before the VMM set it keeps its mmu_seq and maps the page after the zap",
    area: "userfault-bitmap",
    kind: "race",
    file: "impl/kvm/rescan.ts",
    suite: "race-userfault-set-live",
    source: `${POISON_THREAD}: "some kind of bitmap re-scan ioctl"; ${slip("the zap done like kvm_arch_flush_shadow_memslot, not like the mmu notifier")}`,
  },
  "poison-hole-covers-gfn": {
    description: "the VMM punching a hole for a poisoned page re-creates the right neighbour from the poisoned gfn, not the one after it: the page stays in a memslot",
    area: "memslots",
    kind: "sequential",
    file: "props/poison/vmm.ts",
    suite: "poison",
    source: `${POISON_THREAD}: Sean, "userspace should punch a hole in the memslot in order to emulate a poisoned page"; ${slip("the neighbour's base off by one")}`,
  },
  "poison-hole-shifted-hva": {
    description: "the VMM punching a hole re-creates the right neighbour with its userspace address one page too far: every page after the hole reads its neighbour's contents",
    area: "memslots",
    kind: "sequential",
    file: "props/poison/vmm.ts",
    suite: "poison",
    source: `${POISON_THREAD}; ${slip("userspace_addr computed from the end of the hole instead of its start gfn")}`,
  },
  "poison-live-bit-no-toggle": {
    description:
      "the VMM emulating poison with KVM Userfault on a slot that already has KVM_MEM_USERFAULT only sets the page's bit: an SPTE that maps the page stays, and the guest reads the old contents",
    area: "userfault-bitmap",
    kind: "sequential",
    file: "props/poison/vmm.ts",
    suite: "poison",
    source: `${POISON_THREAD}: James, "If KVM Userfault is already enabled, we have no choice but to toggle KVM Userfault off and on again to unmap the newly poisoned pages"`,
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
