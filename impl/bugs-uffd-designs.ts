// Seeded bugs of the userfaultfd-on-guest_memfd designs (issue 20, item 4): mistakes in the variants' own paths.
// Spread into impl/bugs.ts's catalog, which checks their shape.

const V6_1 = "[RFC PATCH v6 1/2] mm: guestmem: introduce guestmem library, 20250915161815.40729-2-kalyazin@amazon.com";

export const UFFD_DESIGN_BUGS = {
  "uffd-gmem-minor-first-noalloc": {
    description:
      "guestmem v6 / v2: the fault looks the folio up instead of grabbing it before its MINOR hook, so a first touch raises MINOR with no folio in the file (v1's lookup kept where the design allocates first)",
    area: "uffd",
    kind: "sequential",
    file: "impl/mm/mm.ts",
    suite: "postcopy-uffd-gmem-guestmem-v6",
    source: `plausible slip (${V6_1}: guestmem_fault_user_mapping calls guestmem_grab_folio, which allocates, before userfaultfd_minor)`,
  },
} as const;
