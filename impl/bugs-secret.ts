// Seeded bugs of secret hiding (issue 20, item 5): guest_memfd out of the direct map, write() and the prepared state.
// Spread into impl/bugs.ts's catalog, which checks their shape.

const WRITE_V7 = "[PATCH v7 1/2] KVM: guest_memfd: add generic population via write (20251114151828.98165-2-kalyazin@amazon.com)";
const DM_10 = "[PATCH v12 10/16] KVM: guest_memfd: Add flag to remove from direct map (20260410151746.61150-11-kalyazin@amazon.com)";
const WRITE_SEALED_REPLY = "Nikita Kalyazin in the write() v6 thread (13d2268f-a556-4a04-a473-c595d26dfbd8@amazon.com): write() on a sealed page fails with EEXIST";

export const SECRET_BUGS = {
  "gmem-write-sealed": {
    description:
      "kvm_gmem_write_begin never looks at KVM_GMEM_FOLIO_NO_DIRECT_MAP: write() copies into a folio a fault already took out of the direct map, through the missing direct-map entry (a kernel oops)",
    area: "gmem-file",
    kind: "sequential",
    file: "impl/gmem/write.ts",
    suite: "gmem-secret",
    source: `the two series as posted, applied together: ${WRITE_V7} has no direct-map check; ${WRITE_SEALED_REPLY}`,
  },
  "gmem-write-no-uptodate": {
    description: "kvm_gmem_write_end forgets folio_mark_uptodate: the first fault after write() finds the folio not uptodate and clears what was written",
    area: "gmem-file",
    kind: "sequential",
    file: "impl/gmem/write.ts",
    suite: "gmem-secret",
    source: `plausible slip (${WRITE_V7}, kvm_gmem_write_end: the uptodate test is what keeps kvm_gmem_get_pfn's clear_highpage off written pages)`,
  },
  "gmem-write-unlocked": {
    description:
      "kvm_gmem_write_begin unlocks the folio after its checks: a guest fault between them and the copy clears the folio and takes it out of the direct map, and write() then copies through the removed entry",
    area: "gmem-locks",
    kind: "race",
    file: "impl/gmem/write.ts",
    suite: "race-gmem-secret",
    source: `plausible slip (${WRITE_V7}: kvm_gmem_get_folio returns the folio locked and write_end unlocks it; ${DM_10} zaps only under the folio lock)`,
  },
  "gmem-get-pfn-no-zap": {
    description: "kvm_gmem_get_pfn maps a NO_DIRECT_MAP folio into the guest without kvm_gmem_folio_zap_direct_map: the guest's page stays readable through the direct map",
    area: "gmem-file",
    kind: "sequential",
    file: "impl/gmem/gmem.ts",
    suite: "gmem-secret",
    source: `plausible slip (${DM_10}: "Direct map entries are zapped right before guest or userspace mappings of gmem folios are set up, e.g. in kvm_gmem_fault_user_mapping() or kvm_gmem_get_pfn()")`,
  },
} as const;
