// Seeded bugs of the conversion protocol end to end (issue 20, item 1): what the VMM serving a guest's
// KVM_HC_MAP_GPA_RANGE relies on from guest_memfd (error_offset naming the busy page, contents kept through a split,
// a folio merged once the range completes it). Spread into impl/bugs.ts's catalog, which checks their shape.

const V8_14 = "guest_memfd in-place conversion [PATCH v8 14/46], 20260618-gmem-inplace-conversion-v8-14-9d2959357853@google.com";
const V5_05 = "Fuad Tabba, [RFC PATCH v5 05/15] KVM: guest_memfd: Folio mappability states, 20250117163001.2326672-6-tabba@google.com";
const RFC39 = "[RFC PATCH 39/39] 38723c5d5e9b530e52f28b9f9f4a6d862ed69bcd.1726009989.git.ackerleytng@google.com";

export const CONVERSION_BUGS = {
  "gmem-convert-error-offset-start": {
    description:
      "KVM_SET_MEMORY_ATTRIBUTES2 fails with EAGAIN but reports the range's start as error_offset, not the first page with an extra reference: the VMM releases the wrong page and retries for ever",
    area: "gmem-conversion",
    kind: "sequential",
    file: "impl/gmem/convert.ts",
    suite: "conversion-protocol-v8",
    source: `plausible slip (${V8_14}: *err_index set from the range's start instead of the folio kvm_gmem_is_safe_for_conversion stopped at)`,
  },
  "gmem-split-drops-outside-range": {
    description:
      "splitting a huge folio on the way to shared builds the 4 KiB folios from the converted pages only: the contents of the folio's other pages are lost, so a shared->private->shared round trip of part of a folio loses data",
    area: "huge-folios",
    kind: "sequential",
    file: "impl/gmem/convert.ts",
    suite: "conversion-protocol-v8-2m",
    source: `plausible slip (${RFC39}, kvm_gmem_split_folio: the split bounded by the conversion's range, not the folio's)`,
  },
  "gmem-merge-range-only": {
    description:
      "a conversion to private merges only the split folios its range covers whole: a range that completes a folio (the rest already private) leaves it split, so the folio never merges back",
    area: "huge-folios",
    kind: "sequential",
    file: "impl/gmem/convert.ts",
    suite: "conversion-protocol-v8-2m",
    source: `plausible slip (${RFC39}, kvm_gmem_try_reconstruct_folios_range: folios taken from the range rounded inward)`,
  },
  "pkvm-unshare-counts-cache-ref": {
    description:
      "pKVM: the guest-mappable check counts the page cache's own folio reference as the host's, so every page the guest unshared stays KVM_GMEM_NONE_MAPPABLE: the guest faults with EAGAIN for ever after the host let go",
    area: "gmem-conversion",
    kind: "sequential",
    file: "impl/gmem/pkvm.ts",
    suite: "conversion-protocol-pkvm",
    source: `plausible slip (${V5_05}, gmem_clear_mappable: "+1 references are expected because of filemap_lock_folio()")`,
  },
} as const;
