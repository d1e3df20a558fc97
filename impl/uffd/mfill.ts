// The resolving ioctls on the mm: mfill_atomic (CONTINUE, COPY, ZEROPAGE, POISON) page by page under the mmap
// lock, each page installed atomically as under its PT lock, and mwriteprotect_range. Waking is the caller's.
import { PAGE_SIZE } from "../../model/consts.js";
import type { UffdGmemDesign } from "../../schema/config.js";
import type { Errno } from "../../schema/outcome.js";
import type { Bugs } from "../bugs.js";
import type { Hooks } from "../hooks.js";
import { ZERO_FOLIO, newFolio, pageOf, type Folio } from "../mm/folio.js";
import type { Mapping, Pte } from "../mm/mapping.js";
import type { Mm } from "../mm/mm.js";
import { fillPage } from "../util/pagedata.js";
import { vmasIn } from "./register.js";
import { uffdWpRange } from "./wp.js";

export type MfillKind = "continue" | "copy" | "zeropage" | "poison";

export interface MfillRequest {
  readonly kind: MfillKind;
  readonly map: string;
  readonly offset: number;
  readonly len: number;
  readonly wp: boolean;
  /** COPY's source page: every byte this value. */
  readonly byte: number;
}

/** Bytes filled, and the errno of the page that stopped the loop (none when all were filled). */
export interface MfillResult {
  readonly bytes: number;
  readonly errno?: Errno;
}

type Step = Errno | undefined;

function install(map: Mapping, key: number, span: number, kind: Pte["kind"], folio: Folio, wp: boolean): void {
  const writable = map.prot === "rw" && kind !== "zero" && !(kind === "file" && !map.shared) && !wp;
  map.ptes.set(key, wp ? { kind, writable: false, folio, uffdWp: true } : { kind, writable, folio });
  map.markers.set(key, key + span, undefined);
}

function fillAll(folio: Folio, byte: number): Folio {
  if (byte !== 0) for (let j = 0; j < folio.pages; j++) fillPage(pageOf(folio, j), 0, PAGE_SIZE, byte);
  return folio;
}

const allocatesOnContinue = (d: UffdGmemDesign): boolean => d === "v2-minor-first" || d === "guestmem-v6";

class Filler {
  constructor(
    private readonly mm: Mm,
    private readonly bugs: Bugs,
    private readonly map: Mapping,
    private readonly req: MfillRequest,
  ) {}

  /** uffd.mfill-eof and uffd.continue-eof: the page starts at or past i_size; a seeded `slip` lets the page at i_size through. */
  private pastEof(index: number, slip = this.bugs.has("mfill-eof-inclusive")): boolean {
    const b = this.map.backing;
    if (b.kind === "gmem") return this.mm.gmem.pastEof(this.map, index);
    const at = this.map.backingIndex(index) * PAGE_SIZE;
    return b.kind === "memfd" && (slip ? at > this.mm.files[b.file]!.size : at >= this.mm.files[b.file]!.size);
  }

  /** The page-cache folio (shmem / hugetlbfs: the whole folio; guest_memfd: a 4 KiB view) at a page. */
  private cached(index: number): Folio | undefined {
    const b = this.map.backing;
    if (b.kind === "memfd") return this.mm.files[b.file]!.lookup(this.map.backingIndex(index))?.folio;
    return b.kind === "gmem" ? this.mm.gmem.getFolioNoalloc(this.map, index) : undefined;
  }

  /** mfill_atomic_pte_continue: map the page-cache page as it is. */
  private continuePage(index: number, span: number): Step {
    const map = this.map;
    if (this.mm.memType(map) === "shmem" && this.pastEof(index, this.bugs.has("uffd-continue-eof-inclusive"))) return "EINVAL";
    // v2/v3 fault the hole in through ->fault, guestmem v6 grabs it: both allocate (uffd.gmem-continue-alloc).
    const grab = map.backing.kind === "gmem" && this.cached(index) === undefined && allocatesOnContinue(this.mm.gmem.uffdDesign) && this.mm.gmem.faultable(map, index);
    const folio = grab ? this.mm.gmem.addFolio(map, index) : this.cached(index);
    if (folio === undefined) return "EFAULT";
    if (this.mm.memType(map) === "hugetlb" && this.pastEof(index)) return "EFAULT";
    if (map.pte(index) !== undefined) return "EEXIST";
    // shmem_get_folio(SGP_NOALLOC) initializes a falloced folio (marks it uptodate) before it is mapped.
    if (map.backing.kind === "memfd") this.mm.files[map.backing.file]!.getOrAlloc(map.backingIndex(index));
    if (this.bugs.has("uffd-continue-clears-page")) for (const p of folio.sub.values()) fillPage(p, 0, PAGE_SIZE, 0);
    install(map, map.keyOf(index), span, "file", this.bugs.has("uffd-continue-fresh-page") ? newFolio(folio.pages) : folio, this.req.wp);
    return undefined;
  }

  /** COPY / ZEROPAGE into a shared mapping: a new page-cache folio (shmem_mfill_atomic_pte, hugetlb, kvm_gmem ops). */
  private sharedPage(index: number, span: number): Step {
    const map = this.map;
    const b = map.backing;
    if (b.kind === "gmem") {
      if (!this.mm.gmem.canAlloc(map, index)) return "ENOMEM";
      if (this.cached(index) !== undefined) return "EEXIST";
      install(map, index, 1, "file", fillAll(this.mm.gmem.addFolio(map, index), this.req.byte), this.req.wp);
      return undefined;
    }
    if (b.kind !== "memfd") throw new Error("shared fill on anonymous memory");
    if (this.cached(index) !== undefined && span > 1) return "EEXIST";
    if (this.pastEof(index)) return "EFAULT";
    if (this.cached(index) !== undefined) return "EEXIST";
    const at = this.mm.files[b.file]!.getOrAlloc(this.map.backingIndex(index));
    install(map, map.keyOf(index), span, "file", fillAll(at.folio, this.req.kind === "copy" ? this.req.byte : 0), this.req.wp);
    return undefined;
  }

  /**
   * COPY into a private mapping: a new anonymous page, whatever the page cache holds (mfill_atomic_pte_copy). `seen`:
   * what the seeded `mfill-copy-eexist-unlocked` read of the PTE before taking the PT lock (undefined: read it here).
   */
  private privateCopy(index: number, span: number, seen?: boolean): Step {
    if (this.pastEof(index)) return "EFAULT";
    if (seen ?? this.map.pte(index) !== undefined) return "EEXIST";
    const folio = fillAll(newFolio(span), this.req.byte);
    const key = this.map.keyOf(index);
    this.map.anon.set(key, folio);
    install(this.map, key, span, "anon", folio, this.req.wp);
    return undefined;
  }

  /** ZEROPAGE (private) and POISON want a none PTE: a marker counts as present. */
  private nonePage(index: number, span: number): Step {
    const map = this.map;
    if (span === 1 && this.pastEof(index)) return "EFAULT";
    if (map.pte(index) !== undefined || map.markers.get(index) !== undefined) return "EEXIST";
    if (this.req.kind === "zeropage") install(map, index, 1, "zero", ZERO_FOLIO, false);
    else map.markers.set(map.keyOf(index), map.keyOf(index) + span, "poison");
    return undefined;
  }

  /** One page (a huge page on hugetlbfs) of the loop. */
  step(index: number, span: number, seen?: boolean): Step {
    const kind = this.req.kind;
    const map = this.map;
    if (span > 1 && kind !== "continue" && map.pte(index) !== undefined) return "EEXIST";
    if (kind === "continue") return this.continuePage(index, span);
    if (kind === "poison") return this.nonePage(index, span);
    const shared = map.shared && map.backing.kind !== "anon";
    if (kind === "zeropage" && !shared) return this.nonePage(index, span);
    return shared ? this.sharedPage(index, span) : this.privateCopy(index, span, seen);
  }
}

/** mfill_atomic: find_dst_vma and the VMA checks, then page by page until the first failure. */
export async function mfillAtomic(mm: Mm, bugs: Bugs, uffdGuestMemfd: boolean, req: MfillRequest, h: Hooks): Promise<MfillResult> {
  await mm.mmapLock.read(h);
  try {
    const map = mm.maps.get(req.map);
    const start = req.offset / PAGE_SIZE;
    const n = req.len / PAGE_SIZE;
    const vma = map === undefined ? undefined : vmasIn(map, start, start + 1)[0];
    // uffd.mfill-vma-end: the range may end where the VMA does; the seeded slip refuses one that does.
    const pastVma = vma !== undefined && (bugs.has("mfill-vma-end-exclusive") ? start + n >= vma.end : start + n > vma.end);
    if (map === undefined || vma === undefined || pastVma || vma.reg === undefined) return { bytes: 0, errno: "ENOENT" };
    if (req.wp && !vma.reg.modes.includes("WP")) return { bytes: 0, errno: "EINVAL" };
    const type = mm.memType(map);
    const unit = type === "hugetlb" ? map.folioPages : 1;
    if (type === "hugetlb" && (req.kind === "zeropage" || start % unit !== 0 || n % unit !== 0)) return { bytes: 0, errno: "EINVAL" };
    if ((type === "gmem" && !uffdGuestMemfd) || (type === "anon" && req.kind === "continue")) return { bytes: 0, errno: "EINVAL" };
    // faultline.uffd-gmem-fill-unsupported: only vm_uffd_ops fills guest_memfd by COPY or ZEROPAGE.
    if (type === "gmem" && (req.kind === "copy" || req.kind === "zeropage") && mm.gmem.uffdDesign !== "vm-uffd-ops") return { bytes: 0, errno: "EINVAL" };
    const filler = new Filler(mm, bugs, map, req);
    for (let i = start; i < start + n; i += unit) {
      // mfill_atomic_install_pte checks for EEXIST under the PT lock; the seeded slip reads the PTE before taking it,
      // so two COPYs of one page that both read it none both install (the second over the first and what followed).
      const seen = bugs.has("mfill-copy-eexist-unlocked") && req.kind === "copy" ? map.pte(i) !== undefined : undefined;
      await h.yield("mfill_atomic:pte_offset_map_lock");
      const errno = filler.step(i, unit, seen);
      if (errno !== undefined) return { bytes: (i - start) * PAGE_SIZE, errno };
    }
    return { bytes: req.len };
  } finally {
    mm.mmapLock.readUnlock();
  }
}

/** mwriteprotect_range: VMA by VMA, stopping at the first one not registered for WP (earlier ones stay changed). */
export async function mwriteprotectRange(mm: Mm, map: Mapping | undefined, offset: number, len: number, enable: boolean, h: Hooks): Promise<Errno | undefined> {
  await mm.mmapLock.read(h);
  try {
    const start = offset / PAGE_SIZE;
    const end = start + len / PAGE_SIZE;
    const vmas = map === undefined ? [] : vmasIn(map, start, end);
    if (map === undefined || vmas.length === 0) return "ENOENT";
    const unit = mm.memType(map) === "hugetlb" ? map.folioPages : 1;
    for (const v of vmas) {
      if (v.reg === undefined || !v.reg.modes.includes("WP")) return "ENOENT";
      if (unit > 1 && (start % unit !== 0 || (end - start) % unit !== 0)) return "EINVAL";
      await uffdWpRange(mm, map, Math.max(v.start, start), Math.min(v.end, end), enable, v.reg.ctx.has("WP_UNPOPULATED"), h);
    }
    return undefined;
  } finally {
    mm.mmapLock.readUnlock();
  }
}
