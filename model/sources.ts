// The patch series faultline models: every version found in the mailing-list archives, the one the model follows,
// the newest known, and the searches that found them. docs/SOURCES.md is generated from this ledger
// (`npm run docs:sources`); test/sources.test.ts fails when a rule cites a Message-ID or a patch tag of a version
// the ledger does not list as modelled. Rules take their patch citations from the helpers below, so a patch reads
// the same wherever it is cited.

/** How the model uses a version: the default design, a configuration variant, or the merged code it became. */
export type Use = "default" | "variant" | "modelled" | "merged" | "not modelled";

export interface SeriesVersion {
  readonly version: string;
  /** Date of the cover letter (or of the single patch), YYYY-MM-DD. */
  readonly posted: string;
  /** Message-ID of the cover letter, or of the patch when the version is one patch. */
  readonly cover: string;
  /** Every Message-ID of this version's patches. */
  readonly ids: RegExp;
  /** The subject tag of its patches as rules write it, e.g. "[PATCH v8 13/46]". */
  readonly tag?: RegExp;
  readonly use: Use;
  readonly note?: string;
}

export interface Series {
  readonly id: string;
  readonly title: string;
  readonly versions: readonly SeriesVersion[];
  /** The newest version known, and where it is known from (its patches may not be in the archives). */
  readonly newest: { readonly version: string; readonly posted: string; readonly cover: string; readonly where: string };
  /** When the archives were last searched for newer versions. */
  readonly checked: string;
  /** The searches (the search tool's find_string) that establish the versions above. */
  readonly searches: readonly string[];
}

export const modelled = (v: SeriesVersion): boolean => v.use !== "not modelled";

const pad = (n: number): string => String(n).padStart(2, "0");

export const INPLACE_V8_COVER = "20260618-gmem-inplace-conversion-v8-0-9d2959357853@google.com";

/** The v8 patches faultline cites, by number, with their subjects. */
const V8_SUBJECTS: Readonly<Record<number, string>> = {
  1: "KVM: guest_memfd: Introduce per-gmem attributes, use to guard user mappings",
  6: "KVM: Enumerate support for PRIVATE memory iff kvm_arch_has_private_mem is defined",
  9: "KVM: guest_memfd: Introduce function to check GFN private/shared status",
  10: "KVM: guest_memfd: Wire up core private/shared attribute interfaces",
  12: "KVM: guest_memfd: Only prepare folios for private pages",
  13: "KVM: guest_memfd: Add base support for KVM_SET_MEMORY_ATTRIBUTES2",
  14: "KVM: guest_memfd: Ensure pages are not in use before conversion",
  15: "KVM: guest_memfd: Call arch invalidate hooks on conversion",
  16: "KVM: guest_memfd: Return early if range already has requested attributes",
  17: "KVM: guest_memfd: Advertise KVM_SET_MEMORY_ATTRIBUTES2 ioctl",
  18: "KVM: guest_memfd: Handle lru_add fbatch refcounts during conversion safety check",
  19: "KVM: guest_memfd: Use actual size for invalidation in kvm_gmem_release()",
  20: "KVM: guest_memfd: Determine invalidation filter from memory attributes",
  21: "KVM: guest_memfd: Zero page while getting pfn",
  24: "KVM: guest_memfd: Make in-place conversion the default",
  25: "KVM: guest_memfd: Enable INIT_SHARED on guest_memfd for x86 Coco VMs",
};

/** "[PATCH v8 13/46] <subject> (<Message-ID>)": a patch of in-place conversion v8. */
export function v8(n: number): string {
  const subject = V8_SUBJECTS[n];
  if (subject === undefined) throw new Error(`v8 patch ${n} is not in the ledger's subject table`);
  return `[PATCH v8 ${pad(n)}/46] ${subject} (20260618-gmem-inplace-conversion-v8-${n}-9d2959357853@google.com)`;
}

/** "[PATCH v7 09/42] <Message-ID>": a patch of in-place conversion v7, the variant. */
export const v7 = (n: number): string => `[PATCH v7 ${pad(n)}/42] 20260522-gmem-inplace-conversion-v7-${n}-2f0fae496530@google.com`;

/** A patch of KVM Userfault v3 (the Message-ID numbers from 1: patch 04/15 is -5-). */
export const userfaultV3 = (n: number, subject: string): string => `[PATCH v3 ${pad(n)}/15] ${subject} (20250618042424.330664-${n + 1}-jthoughton@google.com)`;

const RFC_2024_IDS: Readonly<Record<number, string>> = {
  15: "768488c67540aa18c200d7ee16e75a3a087022d4",
  26: "bd163de3118b626d1005aa88e71ef2fb72f0be0f",
  27: "5a05eb947cf7aa21f00b94171ca818cc3d5bdfee",
  28: "bf66353ee3338f11283a3f4b7ed1f06bd0b268a6",
  29: "f4ca1711a477a3b56406c05d125dce3d7403b936",
  39: "38723c5d5e9b530e52f28b9f9f4a6d862ed69bcd",
};

/** "[RFC PATCH 29/39] <Message-ID>": a patch of the 2024 RFC, "1G page support for guest_memfd". */
export function rfc2024(n: number): string {
  const id = RFC_2024_IDS[n];
  if (id === undefined) throw new Error(`RFC patch ${n} is not in the ledger`);
  return `[RFC PATCH ${pad(n)}/39] ${id}.1726009989.git.ackerleytng@google.com`;
}

/** A patch of "mm, kvm: allow uffd support in guest_memfd" v2 (Message-ID numbers from 1: patch 13/15 is -14-). */
export const uffdGmemV2 = (n: number, subject: string): string => `[PATCH v2 ${pad(n)}/15] ${subject} (20260306171815.3160826-${n + 1}-rppt@kernel.org)`;

/** The direct map removal v12 patches faultline cites, with their subjects. */
const DIRECT_MAP_V12_SUBJECTS: Readonly<Record<number, string>> = {
  6: "mm: introduce AS_NO_DIRECT_MAP",
  8: "KVM: x86: define kvm_arch_gmem_supports_no_direct_map()",
  9: "KVM: arm64: define kvm_arch_gmem_supports_no_direct_map()",
  10: "KVM: guest_memfd: Add flag to remove from direct map",
};

/** "[PATCH v12 10/16] <subject> (<Message-ID>)": a patch of "Direct Map Removal Support for guest_memfd" v12. */
export function directMapV12(n: number): string {
  const subject = DIRECT_MAP_V12_SUBJECTS[n];
  if (subject === undefined) throw new Error(`direct map removal v12 patch ${n} is not in the ledger's subject table`);
  return `[PATCH v12 ${pad(n)}/16] ${subject} (20260410151746.61150-${n + 1}-kalyazin@amazon.com)`;
}

/** "[PATCH v7 1/2] KVM: guest_memfd: add generic population via write (<Message-ID>)": the write() series. */
export const WRITE_V7 = "[PATCH v7 1/2] KVM: guest_memfd: add generic population via write (20251114151828.98165-2-kalyazin@amazon.com)";

/** Nikita Kalyazin on how write() and direct map removal meet (a reply in the write() v6 thread). */
export const WRITE_SEALED_REPLY =
  "Nikita Kalyazin in the write() v6 thread (13d2268f-a556-4a04-a473-c595d26dfbd8@amazon.com): both write() and the fault handler " +
  "write a page they allocate and seal it by removing it from the direct map; \"If write() faces an already 'sealed' page, it will fail (with EEXIST)\"";

/**
 * A patch of Nikita Kalyazin's userfaultfd-on-guest_memfd iterations: "KVM: guest_memfd: support for uffd missing" RFC v1,
 * "... uffd minor" v2 and v3, and the guestmem library RFC v6 (the Message-ID numbers from 1: patch 2/5 is -3-).
 */
const KALYAZIN: Readonly<Record<"v1" | "v2" | "v3" | "v6", { readonly tag: string; readonly of: number; readonly id: string }>> = {
  v1: { tag: "RFC PATCH", of: 5, id: "20250303133011.44095" },
  v2: { tag: "PATCH v2", of: 5, id: "20250402160721.97596" },
  v3: { tag: "PATCH v3", of: 6, id: "20250404154352.23078" },
  v6: { tag: "RFC PATCH v6", of: 2, id: "20250915161815.40729" },
};
export function kalyazinUffd(v: keyof typeof KALYAZIN, n: number, subject: string): string {
  const k = KALYAZIN[v];
  return `[${k.tag} ${n}/${k.of}] ${subject} (${k.id}-${n + 1}-kalyazin@amazon.com)`;
}

const CHECKED = "2026-12-07";

export const SERIES: readonly Series[] = [
  {
    id: "kvm-userfault",
    title: "KVM: Introduce KVM Userfault (James Houghton)",
    versions: [
      {
        version: "v1",
        posted: "2024-12-04",
        cover: "20241204191349.1730936-1-jthoughton@google.com",
        ids: /^20241204191349\.1730936-\d+-jthoughton@google\.com$/,
        use: "variant",
        note: 'faultExit "userfault-v1": arm64 zaps stage 2 when KVM_MEM_USERFAULT is turned off',
      },
      { version: "v2", posted: "2025-01-09", cover: "20250109204929.1106563-1-jthoughton@google.com", ids: /^20250109204929\.1106563-\d+-jthoughton@google\.com$/, tag: /\[PATCH v2 \d\d\/13\]/, use: "not modelled", note: "its review is the source of seeded bugs" },
      {
        version: "v3",
        posted: "2025-06-18",
        cover: "20250618042424.330664-1-jthoughton@google.com",
        ids: /^20250618042424\.330664-\d+-jthoughton@google\.com$/,
        tag: /\[PATCH v3 \d\d\/15\]/,
        use: "default",
        note: "kernel.userfault: KVM_MEM_USERFAULT, the per-slot bitmap, the userfault exit",
      },
      {
        version: "v3 05/15 fix (reply)",
        posted: "2025-07-30",
        cover: "20250730211120.4163536-1-jthoughton@google.com",
        ids: /^20250730211120\.4163536-1-jthoughton@google\.com$/,
        use: "modelled",
        note: "the author's fix to v3 05/15 for its next version: recover_huge_pages_range returns, without the WARN, while dirty logging is on",
      },
    ],
    newest: { version: "v3", posted: "2025-06-18", cover: "20250618042424.330664-1-jthoughton@google.com", where: "the archives (29 messages in its thread)" },
    checked: CHECKED,
    searches: ['"KVM: Introduce KVM Userfault" (v1, v2, v3 only)', '"v4 00/15] KVM: Introduce KVM Userfault" (nothing)'],
  },
  {
    id: "gmem-inplace-conversion",
    title: "guest_memfd: In-place conversion support (Ackerley Tng, Sean Christopherson)",
    versions: [
      { version: "RFC v1", posted: "2025-10-17", cover: "cover.1760731772.git.ackerleytng@google.com", ids: /^[0-9a-f]{40}\.1760731772\.git\.ackerleytng@google\.com$|^cover\.1760731772\.git\.ackerleytng@google\.com$/, use: "not modelled" },
      { version: "RFC v2", posted: "2026-01-29", cover: "cover.1769725905.git.ackerleytng@google.com", ids: /^[0-9a-f]{40}\.1769725905\.git\.ackerleytng@google\.com$|^cover\.1769725905\.git\.ackerleytng@google\.com$/, use: "not modelled" },
      { version: "RFC v3", posted: "2026-03-13", cover: "20260313-gmem-inplace-conversion-v3-0-5fc12a70ec89@google.com", ids: /^20260313-gmem-inplace-conversion-v3-\d+-5fc12a70ec89@google\.com$/, use: "not modelled" },
      { version: "RFC v4", posted: "2026-03-26", cover: "20260326-gmem-inplace-conversion-v4-0-e202fe950ffd@google.com", ids: /^20260326-gmem-inplace-conversion-v4-\d+-e202fe950ffd@google\.com$/, use: "not modelled" },
      { version: "RFC v5", posted: "2026-04-28", cover: "20260428-gmem-inplace-conversion-v5-0-d8608ccfca22@google.com", ids: /^20260428-gmem-inplace-conversion-v5-\d+-d8608ccfca22@google\.com$/, use: "not modelled" },
      { version: "v6", posted: "2026-05-07", cover: "20260507-gmem-inplace-conversion-v6-0-91ab5a8b19a4@google.com", ids: /^20260507-gmem-inplace-conversion-v6-\d+-91ab5a8b19a4@google\.com$/, use: "not modelled" },
      {
        version: "v7",
        posted: "2026-05-22",
        cover: "20260522-gmem-inplace-conversion-v7-0-2f0fae496530@google.com",
        ids: /^20260522-gmem-inplace-conversion-v7-\d+-2f0fae496530@google\.com$/,
        tag: /\[PATCH v7 \d\d\/42\]/,
        use: "variant",
        note: 'gmemDesign "v7" (preset gmem-v7): vm_memory_attributes, KVM_SET_MEMORY_ATTRIBUTES2',
      },
      {
        version: "v8",
        posted: "2026-06-18",
        cover: INPLACE_V8_COVER,
        ids: /^20260618-gmem-inplace-conversion-v8-\d+-9d2959357853@google\.com$/,
        tag: /\[PATCH v8 \d\d\/46\]/,
        use: "default",
        note: 'gmemDesign "v8" (every preset; gmem-v8 with in-place conversion on): gmem_in_place_conversion',
      },
      {
        version: "v10, v12, v13",
        posted: "2026-08-07",
        cover: "20260910-gmem-inplace-conversion-v13-0-dd6fbf94f4e1@google.com",
        ids: /^2026(0807|0830|0910)-gmem-inplace-conversion-v1[0-3]-\d+-[0-9a-f]{12}@google\.com$/,
        use: "not modelled",
        note: "named only in third-party digests stored in the archives (v10 20260807, v12 20260830, v13 20260910); none of their patches is stored",
      },
    ],
    newest: {
      version: "v13",
      posted: "2026-09-10",
      cover: "20260910-gmem-inplace-conversion-v13-0-dd6fbf94f4e1@google.com",
      where: "a mailing-list digest (a b4 'applied' notice of 2026-09-25 for [PATCH v13 00/44]); the patches of v9-v13 are not in the archives, so v8 is the newest modelled",
    },
    checked: CHECKED,
    searches: [
      '"guest_memfd: In-place conversion support" (RFC v1, RFC v2, RFC v4, v6, v7, and digests naming v10, v12, v13)',
      '"gmem-inplace-conversion-v8" (the v8 thread: 46 patches and replies, 2026-06-18 to 06-25)',
      '"gmem-inplace-conversion-v9" (nothing)',
      '"gmem-inplace-conversion-v10", "v12-0-85e5fd25252a", "v13-0-dd6fbf94f4e1" (digests only)',
    ],
  },
  {
    id: "uffd-guest-memfd",
    title: "mm, kvm: allow uffd support in guest_memfd (Mike Rapoport, Nikita Kalyazin)",
    versions: [
      {
        version: "v2",
        posted: "2026-03-06",
        cover: "20260306171815.3160826-1-rppt@kernel.org",
        ids: /^20260306171815\.3160826-\d+-rppt@kernel\.org$/,
        tag: /\[PATCH v2 \d\d\/15\]/,
        use: "default",
        note: "kernel.uffdGuestMemfd: vm_uffd_ops, MISSING and MINOR faults on guest_memfd",
      },
    ],
    newest: {
      version: "v2",
      posted: "2026-03-06",
      cover: "20260306171815.3160826-1-rppt@kernel.org",
      where: "the archives; a digest says the series reached mainline around v7.1-rc1 (no merged text is stored)",
    },
    checked: CHECKED,
    searches: ['"allow uffd support in guest_memfd" (v2 only)', '"20260306171815.3160826-1-rppt@kernel.org" (its 15 patches)'],
  },
  {
    id: "uffd-gmem-kalyazin",
    title: "userfaultfd on guest_memfd before vm_uffd_ops: KVM: guest_memfd: support for uffd missing / minor, and the guestmem library RFC v6 (Nikita Kalyazin)",
    versions: [
      {
        version: "RFC v1",
        posted: "2025-03-03",
        cover: "20250303133011.44095-1-kalyazin@amazon.com",
        ids: /^20250303133011\.44095-\d+-kalyazin@amazon\.com$/,
        tag: /\[RFC PATCH \d\/5\]/,
        use: "variant",
        note: 'uffdGmemDesign "v1-hybrid": MISSING on a hole, filled by write() then CONTINUE; a folio in the file is mapped without a message',
      },
      {
        version: "v2",
        posted: "2025-04-02",
        cover: "20250402160721.97596-1-kalyazin@amazon.com",
        ids: /^20250402160721\.97596-\d+-kalyazin@amazon\.com$/,
        tag: /\[PATCH v2 \d\/5\]/,
        use: "variant",
        note: 'uffdGmemDesign "v2-minor-first": kvm_gmem_fault allocates, then MINOR; CONTINUE through vm_ops->fault()',
      },
      {
        version: "v3",
        posted: "2025-04-04",
        cover: "20250404154352.23078-1-kalyazin@amazon.com",
        ids: /^20250404154352\.23078-\d+-kalyazin@amazon\.com$/,
        tag: /\[PATCH v3 \d\/6\]/,
        use: "variant",
        note: 'uffdGmemDesign "v2-minor-first": v2 with the can_userfault VMA operation (MINOR only, per the hunk the author posted in reply to the review of 4/6)',
      },
      {
        version: "guestmem RFC v6",
        posted: "2025-09-15",
        cover: "20250915161815.40729-1-kalyazin@amazon.com",
        ids: /^20250915161815\.40729-\d+-kalyazin@amazon\.com$/,
        tag: /\[RFC PATCH v6 \d\/2\]/,
        use: "variant",
        note: 'uffdGmemDesign "guestmem-v6": UFFD_FEATURE_MINOR_GUESTMEM, the fault grabs the folio then MINOR, CONTINUE through guestmem_grab_folio',
      },
    ],
    newest: {
      version: "guestmem RFC v6",
      posted: "2025-09-15",
      cover: "20250915161815.40729-1-kalyazin@amazon.com",
      where: "the archives (seed 003 is its cover letter); the work went on as the vm_uffd_ops series above",
    },
    checked: CHECKED,
    searches: [
      '"userfaulfd: add minor mode for guestmem" (v6 2/2)',
      '"20250303133011.44095", "20250402160721.97596", "20250404154352.23078" (the iterations the v6 cover letter lists)',
      '"kvm_gmem_can_userfault" (the v3 review hunk)',
    ],
  },
  {
    id: "gmem-1g-rfc-2024",
    title: "1G page support for guest_memfd (Ackerley Tng), the 2024 RFC",
    versions: [
      {
        version: "RFC v1",
        posted: "2024-09-10",
        cover: "cover.1726009989.git.ackerleytng@google.com",
        ids: /^([0-9a-f]{40}|cover)\.1726009989\.git\.ackerleytng@google\.com$/,
        tag: /\[RFC PATCH \d\d\/39\]/,
        use: "variant",
        note: 'gmemDesign "rfc-2024": faultability, conversion inside KVM_SET_MEMORY_ATTRIBUTES, HugeTLB folios',
      },
      {
        version: "RFC v2",
        posted: "2025-05-14",
        cover: "cover.1747264138.git.ackerleytng@google.com",
        ids: /^([0-9a-f]{40}|cover)\.1747264138\.git\.ackerleytng@google\.com$/,
        tag: /\[RFC PATCH v2 \d\d\/51\]/,
        use: "modelled",
        note: "cited for two things: folios merged back (guestmem_hugetlb) once a range is private again; a huge-folio size check (29/51)",
      },
    ],
    newest: {
      version: "RFC v2",
      posted: "2025-05-14",
      cover: "cover.1747264138.git.ackerleytng@google.com",
      where: "the archives; its conversion half continued as the in-place conversion series above",
    },
    checked: CHECKED,
    searches: ['"1G page support for guest_memfd"', 'the v8 cover letter\'s history links [1]-[3]'],
  },
  {
    id: "uffd-minor-2021",
    title: "userfaultfd: add minor fault handling (Axel Rasmussen), hugetlbfs then shmem",
    versions: [
      {
        version: "v1",
        posted: "2021-01-15",
        cover: "20210115190451.3135416-1-axelrasmussen@google.com",
        ids: /^20210115190451\.3135416-\d+-axelrasmussen@google\.com$/,
        tag: /\[PATCH \d\/9\]/,
        use: "merged",
        note: "the model follows the merged code (Linux 5.12 hugetlbfs, 5.13 shmem); the first posting is cited for the design's intent",
      },
      { version: "v4", posted: "2021-02-04", cover: "20210204183433.1431202-1-axelrasmussen@google.com", ids: /^20210204183433\.1431202-\d+-axelrasmussen@google\.com$/, use: "not modelled" },
      { version: "shmem v3", posted: "2021-04-15", cover: "20210415184732.3410521-1-axelrasmussen@google.com", ids: /^20210415184732\.3410521-\d+-axelrasmussen@google\.com$/, use: "not modelled" },
    ],
    newest: { version: "shmem v6", posted: "2021-04-30", cover: "(not recorded)", where: "the archives; merged in Linux 5.13" },
    checked: CHECKED,
    searches: ['"userfaultfd: add minor fault handling"', '"00/10] userfaultfd: add minor fault handling" (v4, shmem v3, shmem v6)'],
  },
  {
    id: "gmem-kvm-uaccess-rfc",
    title: "KVM: guest_memfd: KVM's own accesses to guest_memfd without a userspace address (Fuad Tabba, RFC)",
    versions: [
      {
        version: "RFC v1",
        posted: "2025-01-22",
        cover: "20250122152738.1173160-1-tabba@google.com",
        ids: /^20250122152738\.1173160-\d+-tabba@google\.com$/,
        tag: /\[RFC PATCH v1 \d\/9\]/,
        use: "modelled",
        note: "only as the seeded bug uaccess-gmem-direct: its kvm_gmem_get_pfn copy applied to slots that have an hva",
      },
    ],
    newest: { version: "RFC v1", posted: "2025-01-22", cover: "20250122152738.1173160-1-tabba@google.com", where: "the archives" },
    checked: CHECKED,
    searches: ['"Add guest_memfd support to kvm_(read|/write)_guest_page" (RFC v1 2/9)'],
  },
  {
    id: "gmem-direct-map-removal",
    title: "Direct Map Removal Support for guest_memfd (Patrick Roy, Nikita Kalyazin)",
    versions: [
      { version: "v6", posted: "2025-09-12", cover: "20250912091708.17502-1-roypat@amazon.co.uk", ids: /^20250912091708\.17502-\d+-roypat@amazon\.co\.uk$/, use: "not modelled" },
      { version: "v7", posted: "2025-09-24", cover: "20250924151101.2225820-1-patrick.roy@campus.lmu.de", ids: /^20250924151101\.2225820-\d+-patrick\.roy@campus\.lmu\.de$/, use: "not modelled" },
      { version: "v8", posted: "2025-12-05", cover: "20251205165743.9341-1-kalyazin@amazon.com", ids: /^20251205165743\.9341-\d+-kalyazin@amazon\.com$/, use: "not modelled" },
      {
        version: "v11",
        posted: "2026-03-17",
        cover: "20260317141031.514-1-kalyazin@amazon.com",
        ids: /^20260317141031\.514-\d+-kalyazin@amazon\.com$/,
        use: "not modelled",
        note: "kvm_gmem_get_pfn prepared, then zapped; v12 swapped the order after review (Ackerley Tng, Sashiko)",
      },
      {
        version: "v12",
        posted: "2026-04-10",
        cover: "20260410151746.61150-1-kalyazin@amazon.com",
        ids: /^20260410151746\.61150-\d+-kalyazin@amazon\.com$/,
        tag: /\[PATCH v12 \d\d\/16\]/,
        use: "default",
        note: 'kernel.gmemFlags "NO_DIRECT_MAP": the flag, zap at fault and get_pfn, restore at free, AS_NO_DIRECT_MAP refusing GUP',
      },
    ],
    newest: { version: "v12", posted: "2026-04-10", cover: "20260410151746.61150-1-kalyazin@amazon.com", where: "the archives (replies to 2026-06-26)" },
    checked: CHECKED,
    searches: ['"GUEST_MEMFD_FLAG_NO_DIRECT_MAP"', '"Direct Map Removal Support for guest_memfd" (v5-v8, v12)', '"v13 00/16] Direct Map Removal" (nothing)', '"kvm_gmem_folio_zap_direct_map"'],
  },
  {
    id: "gmem-write",
    title: "KVM: guest_memfd: add generic population via write (Nikita Kalyazin)",
    versions: [
      { version: "v3", posted: "2025-03-03", cover: "20250303130838.28812-1-kalyazin@amazon.com", ids: /^20250303130838\.28812-\d+-kalyazin@amazon\.com$/, use: "not modelled" },
      { version: "v6", posted: "2025-10-20", cover: "20251020161352.69257-1-kalyazin@amazon.com", ids: /^20251020161352\.69257-\d+-kalyazin@amazon\.com$/, use: "not modelled" },
      {
        version: "v6 reply (the direct map plan)",
        posted: "2025-11-07",
        cover: "13d2268f-a556-4a04-a473-c595d26dfbd8@amazon.com",
        ids: /^13d2268f-a556-4a04-a473-c595d26dfbd8@amazon\.com$/,
        use: "modelled",
        note: "write() on a folio already out of the direct map fails with EEXIST; write() takes what it wrote out of it",
      },
      {
        version: "v7",
        posted: "2025-11-14",
        cover: "20251114151828.98165-1-kalyazin@amazon.com",
        ids: /^20251114151828\.98165-\d+-kalyazin@amazon\.com$/,
        tag: /\[PATCH v7 \d\/2\]/,
        use: "default",
        note: 'kernel.gmemFlags "WRITE": GUEST_MEMFD_FLAG_WRITE, kvm_gmem_write_begin / kvm_gmem_write_end, op gmem_write',
      },
    ],
    newest: { version: "v7", posted: "2025-11-14", cover: "20251114151828.98165-1-kalyazin@amazon.com", where: "the archives; in david/linux guestmemfd-preview (2025-09-24) with direct map removal" },
    checked: CHECKED,
    searches: ['"add generic population via write" (v3-v7)', '"v8 1/2] KVM: guest_memfd: add generic" (nothing)', '"kvm_gmem_write_begin"', '"GUEST_MEMFD_FLAG_WRITE"'],
  },
  {
    id: "gmem-mappable-pkvm",
    title: "KVM: Restricted mapping of guest_memfd at the host and arm64 support (Fuad Tabba, RFC): pKVM's guest-decided mappability",
    versions: [
      {
        version: "RFC v4",
        posted: "2024-12-13",
        cover: "20241213164811.2006197-1-tabba@google.com",
        ids: /^20241213164811\.2006197-\d+-tabba@google\.com$/,
        tag: /\[RFC PATCH v4 \d\d\/14\]/,
        use: "modelled",
        note: "pkvm.guest-fault-eagain: guest_memfd_abort's -EAGAIN on a page not mappable by the guest (13/14)",
      },
      {
        version: "RFC v5",
        posted: "2025-01-17",
        cover: "20250117163001.2326672-1-tabba@google.com",
        ids: /^20250117163001\.2326672-\d+-tabba@google\.com$/,
        tag: /\[RFC PATCH v5 \d\d\/15\]/,
        use: "modelled",
        note: "pKVM's mode (model/gmem/pkvm.ts): gmem_set_mappable / gmem_clear_mappable (05/15), kvm_gmem_handle_folio_put (06/15)",
      },
    ],
    newest: { version: "RFC v5", posted: "2025-01-17", cover: "20250117163001.2326672-1-tabba@google.com", where: "the archives (the newest found with the mappability states)" },
    checked: CHECKED,
    searches: ['"[RFC PATCH v5 00/15] KVM: Restricted mapping"', '"kvm_gmem_set_mappable" (v3, v4, v5)', '"kvm_slot_gmem_is_guest_mappable("'],
  },
  {
    id: "cited-merged-patches",
    title: "Single merged patches cited for the history of a merged rule",
    versions: [
      {
        version: "KVM_X86_QUIRK_SLOT_ZAP_ALL",
        posted: "2024-06-13",
        cover: "20240613060946.11806-1-yan.y.zhao@intel.com",
        ids: /^20240613060946\.11806-\d+-yan\.y\.zhao@intel\.com$/,
        use: "merged",
        note: "mmu.zap-all-quirk",
      },
      {
        version: "uffd fixes v1",
        posted: "2025-06-03",
        cover: "20250603-uffd-fixes-v1-0-9c638c73f047@columbia.edu",
        ids: /^20250603-uffd-fixes-v1-\d+-9c638c73f047@columbia\.edu$/,
        use: "merged",
        note: "uffd.unregister-other-ctx",
      },
      {
        version: "KVM_EXIT_MEMORY_FAULT on stage-2 faults v7",
        posted: "2024-02-15",
        cover: "20240215235405.368539-1-amoorthy@google.com",
        ids: /^20240215235405\.368539-\d+-amoorthy@google\.com$/,
        tag: /\[PATCH v7 \d\d\/14\]/,
        use: "merged",
        note: "merged in part (the memory-fault exit); KVM_CAP_EXIT_ON_MISSING and the arm64 annotation are faultExit variants",
      },
    ],
    newest: { version: "-", posted: "-", cover: "-", where: "merged" },
    checked: CHECKED,
    searches: ["each Message-ID by find_string"],
  },
  {
    id: "x86-init-all-set-huge",
    title: "KVM: x86: Not wr-protect huge page with init_all_set dirty log (Keqian Zhu)",
    versions: [
      {
        version: "v3",
        posted: "2021-04-29",
        cover: "20210429034115.35560-1-zhukeqian1@huawei.com",
        ids: /^20210429034115\.35560-\d+-zhukeqian1@huawei\.com$/,
        tag: /\[PATCH v3 \d\/2\]/,
        use: "merged",
        note: "dirtylog.init-set-no-wp, dirtylog.clear: huge pages write-protected lazily by kvm_arch_mmu_enable_log_dirty_pt_masked",
      },
    ],
    newest: { version: "-", posted: "-", cover: "-", where: "merged" },
    checked: CHECKED,
    searches: ['"Not wr-protect huge page with init_all_set" (RFC v2 and v3)'],
  },
];

/** The version a Message-ID belongs to, if the ledger knows it. */
export function versionOfMessageId(id: string): { series: Series; version: SeriesVersion } | undefined {
  for (const series of SERIES) for (const version of series.versions) if (version.ids.test(id)) return { series, version };
  return undefined;
}

/** Message-IDs in a citation: anything of the form local@domain whose local part is not a plain word. */
export const messageIdsIn = (text: string): string[] => [...text.matchAll(/[A-Za-z0-9][A-Za-z0-9._+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+/g)].map((m) => m[0]);

/** Patch tags in a citation: "[PATCH v8 13/46]", "[RFC PATCH 29/39]", "[PATCH v3 04/15]". */
export const patchTagsIn = (text: string): string[] => [...text.matchAll(/\[(?:RFC )?PATCH(?: v\d+)? \d+\/\d+\]/g)].map((m) => m[0]);
