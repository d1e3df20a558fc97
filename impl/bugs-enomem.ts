// Seeded bugs of allocation failure (issue 20, item 3): where guest_memfd's conversions fail an allocation, and the
// range store the 2024 RFC's TODO warns about. Spread into impl/bugs.ts's catalog, which checks their shape.

const RFC26 = "[RFC PATCH 26/39] bd163de3118b626d1005aa88e71ef2fb72f0be0f.1726009989.git.ackerleytng@google.com";
const V8_13 = "guest_memfd in-place conversion [PATCH v8 13/46], 20260618-gmem-inplace-conversion-v8-13-9d2959357853@google.com";

export const ENOMEM_BUGS = {
  "gmem-rfc-faultability-range-store": {
    description:
      "2024 RFC: kvm_gmem_set_faultable stores the range with one xa_store_range instead of xa_store per index: clearing part of a faultable entry clears the whole entry, so a conversion to private makes its neighbours unfaultable too",
    area: "gmem-conversion",
    kind: "sequential",
    file: "impl/gmem/convert.ts",
    suite: "gmem-rfc-2024",
    source: `${RFC26}, kvm_gmem_set_faultable's TODO: "if we store_range(5, 10, val) and then store_range(7, 12, NULL), the entire range [5, 12] will be NULL"`,
  },
  "gmem-convert-store-before-prealloc": {
    description:
      "KVM_SET_MEMORY_ATTRIBUTES2 stores the new attributes before its allocation can fail: ENOMEM leaves the range converted with nothing zapped or unmapped, and a retry finds it converted and returns 0",
    area: "gmem-conversion",
    kind: "sequential",
    file: "impl/gmem/convert.ts",
    suite: "gmem-v8-enomem",
    source: `plausible slip (${V8_13}: mas_store_gfp in place of mas_preallocate + mas_store_prealloc, ahead of kvm_gmem_invalidate_start)`,
  },
} as const;
