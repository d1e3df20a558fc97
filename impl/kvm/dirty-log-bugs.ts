// The seeded mistakes of dirty logging (impl/kvm/dirty-log.ts and where it meets the fault path, KVM's own writes
// and KVM Userfault), catalogued with the rest in impl/bugs.ts.
import type { SeededBug } from "../bugs.js";

const V3_05 = "KVM Userfault [PATCH v3 05/15] KVM: x86: Add support for KVM userfault exits, 20250618042424.330664-6-jthoughton@google.com";
const INIT_SET = "[PATCH v3 2/2] KVM: x86: Not wr-protect huge page with init_all_set dirty log, 20210429034115.35560-3-zhukeqian1@huawei.com";

export const DIRTY_LOG_BUGS = {
  "dirty-log-clear-first-page-mask": {
    description: "kvm_clear_dirty_log_protect tests first_page & BITS_PER_LONG instead of & (BITS_PER_LONG - 1): a first_page inside a bitmap word is accepted",
    area: "dirty-log",
    kind: "sequential",
    file: "impl/kvm/dirty-log.ts",
    suite: "dirty-log-manual-x86",
    bound: "dirtylog.clear-first-page",
    source: "plausible slip (virt/kvm/kvm_main.c, kvm_clear_dirty_log_protect: the alignment mask off by one)",
  },
  "dirty-log-clear-end-exclusive": {
    description: "kvm_clear_dirty_log_protect refuses num_pages >= npages - first_page: a CLEAR that reaches the slot's last page is refused, so the tail of a slot is never cleared",
    area: "dirty-log",
    kind: "sequential",
    file: "impl/kvm/dirty-log.ts",
    suite: "dirty-log-manual-x86",
    bound: "dirtylog.clear-range",
    source: "plausible slip (virt/kvm/kvm_main.c, kvm_clear_dirty_log_protect: the range check off by one)",
  },
  "dirty-log-clear-no-wp": {
    description: "kvm_clear_dirty_log_protect clears the bits but skips kvm_arch_mmu_enable_log_dirty_pt_masked: the pages stay writable and later writes are never logged",
    area: "dirty-log",
    kind: "sequential",
    file: "impl/kvm/dirty-log.ts",
    suite: "dirty-log-manual-x86",
    source: "plausible slip (virt/kvm/kvm_main.c, kvm_clear_dirty_log_protect: the mask cleared, the write-protect call dropped)",
  },
  "dirty-log-huge-writable": {
    description: "under KVM_DIRTY_LOG_INITIALLY_SET, CLEAR write-protects only 4 KiB SPTEs: the huge mappings logging left writable at enable keep taking writes unlogged",
    area: "dirty-log",
    kind: "sequential",
    file: "impl/kvm/dirty-log.ts",
    suite: "dirty-log-manual-x86",
    source: `${INIT_SET}: huge pages are write-protected lazily in kvm_arch_mmu_enable_log_dirty_pt_masked (kvm_mmu_slot_gfn_write_protect at PG_LEVEL_2M); forgetting that call`,
  },
  "dirty-log-uaccess-unmarked": {
    description: "__kvm_write_guest_page copies into guest memory without mark_page_dirty_in_slot: KVM's own writes (PV clock, emulation) escape dirty logging",
    area: "dirty-log",
    kind: "sequential",
    file: "impl/kvm/uaccess.ts",
    suite: "dirty-log-x86",
    source: "plausible slip (virt/kvm/kvm_main.c, __kvm_write_guest_page; the class of bug behind every kvm_vcpu_mark_page_dirty call site)",
  },
  "dirty-log-off-recover-userfault": {
    description: "turning dirty logging off recovers huge mappings on a slot that keeps KVM_MEM_USERFAULT: kvm_mmu_max_mapping_level does not read the flag, so a 2 MiB mapping covers pages whose userfault bit is set",
    area: "dirty-log",
    kind: "sequential",
    file: "impl/kvm/mmu.ts",
    suite: "dirty-log-x86",
    source: `${V3_05} as posted: only kvm_mmu_hugepage_adjust reads KVM_MEM_USERFAULT, while kvm_mmu_slot_apply_flags still calls kvm_mmu_recover_huge_pages when logging goes off`,
  },
  "dirty-log-get-nonatomic": {
    description: "kvm_get_dirty_log_protect reads a bitmap word and stores 0 afterwards instead of xchg: a page KVM marks dirty in between (its own writes take no mmu_lock) is lost",
    area: "dirty-log",
    kind: "race",
    file: "impl/kvm/dirty-log.ts",
    suite: "race-dirty-log",
    source: "plausible slip (virt/kvm/kvm_main.c, kvm_get_dirty_log_protect: xchg(&dirty_bitmap[i], 0) split into a load and a store)",
  },
  "dirty-log-mark-early": {
    description: "the fault path marks the page dirty when GUP returns, before taking mmu_lock, instead of in make_spte: a KVM_GET_DIRTY_LOG in between harvests the bit, then the fault installs a writable SPTE nobody logged",
    area: "dirty-log",
    kind: "race",
    file: "impl/kvm/fault.ts",
    suite: "race-dirty-log",
    source: "plausible slip (arch/x86/kvm/mmu/spte.c, make_spte: mark_page_dirty_in_slot moved out of mmu_lock)",
  },
  "dirty-log-enable-wp-early": {
    description: "a flags-only update that turns dirty logging on write-protects the slot before kvm_swap_active_memslots: a fault that looked the old slot up in between maps the page writable and unlogged, and it stays so after the ioctl returns",
    area: "dirty-log",
    kind: "race",
    file: "impl/kvm/memslot.ts",
    suite: "race-memslot-changes-arm64",
    source: "plausible slip (virt/kvm/kvm_main.c, kvm_set_memslot: kvm_commit_memory_region moved before the swap; arch/arm64/kvm/mmu.c kvm_arch_commit_memory_region)",
  },
} as const satisfies Readonly<Record<string, SeededBug>>;
