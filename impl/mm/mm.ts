// The host mm: memfd inodes, mappings at fixed windows, page faults, and the mmu notifier chain KVM hangs on.
import { MAP_STRIDE, PAGE_SIZE, SIZE_1G, SIZE_2M } from "../../model/consts.js";
import { FAULT_AROUND_PAGES, PTRS_PER_PTE, mapBase, windowOf } from "../../model/mm/layout.js";
import type { UffdGmemDesign } from "../../schema/config.js";
import type { FallocModeName, FlagList } from "../../schema/flags.js";
import type { OpOf, ProtName } from "../../schema/ops.js";
import { FL, LOFF_LIMIT, modeWord, vfsFallocateArgs } from "./falloc.js";
import { BUS_ADRERR, SEGV_ACCERR, SEGV_MAPERR, type Errno, type Outcome, type SignalOutcome } from "../../schema/outcome.js";
import type { Bugs } from "../bugs.js";
import type { FdTable } from "../fdtable.js";
import type { Hooks } from "../hooks.js";
import { RwLock } from "../locks.js";
import { fillPage, readPage } from "../util/pagedata.js";
import { ZERO_FOLIO, copyFolio, newFolio, pageOf, peekPage, type Folio } from "./folio.js";
import { blockedOutcome, type Waiter } from "../uffd/ctx.js";
import { USER_ORIGIN, handleUserfault, type Origin, type Reason } from "../uffd/fault.js";
import { vmasIn } from "../uffd/register.js";
import type { MemType } from "../../model/uffd/vma.js";
import { Mapping, type ImplBacking, type Pte } from "./mapping.js";
import { MemFile } from "./memfd.js";

export interface MmuNotifier {
  invalidateRangeStart(start: number, end: number, h: Hooks): Promise<void>;
  invalidateRangeEnd(start: number, end: number, h: Hooks): Promise<void>;
}

export type FaultResult =
  | { readonly kind: "mapped"; readonly folio: Folio; readonly sub: number; readonly writable: boolean }
  /** `hwpoison`: VM_FAULT_HWPOISON, which GUP turns into -EHWPOISON for KVM (hva_to_pfn). */
  | { readonly kind: "signal"; readonly signal: SignalOutcome; readonly hwpoison?: true }
  /** The current task went to sleep in handle_userfault. */
  | { readonly kind: "userfault"; readonly waiter: Waiter };

/** Faults and alias accesses on guest_memfd mappings are guest_memfd's business, and so are its vm_uffd_ops. */
export interface GmemMapOps {
  hostFault(map: Mapping, index: number, write: boolean, h: Hooks): Promise<FaultResult>;
  alias(op: OpOf<"write_alias"> | OpOf<"read_alias">, map: Mapping, h: Hooks): Promise<Outcome>;
  /** get_folio_noalloc: the page's folio (a 4 KiB view) if the file has it and the host may map it. */
  getFolioNoalloc(map: Mapping, index: number): Folio | undefined;
  /** alloc_folio refuses pages beyond i_size (and private ones). */
  canAlloc(map: Mapping, index: number): boolean;
  /** alloc_folio + filemap_add at a free page: its new folio (a 4 KiB view). */
  addFolio(map: Mapping, index: number): Folio;
  /** The page lies at or beyond the file's i_size. */
  pastEof(map: Mapping, index: number): boolean;
  /** Which userfaultfd-on-guest_memfd design the kernel follows (config.uffdGmemDesign). */
  readonly uffdDesign: UffdGmemDesign;
  /** Within i_size and shared: where the older designs' ->fault reaches its userfaultfd hook. */
  faultable(map: Mapping, index: number): boolean;
  /** vfs_fallocate(PUNCH_HOLE | KEEP_SIZE) of [offset, offset + len) of the file (madvise_remove). */
  punch(map: Mapping, offset: number, len: number, h: Hooks): Promise<Outcome>;
  /** kvm_gmem_mmap's refusal of a mapping of guest_memfd inode `inode`, if any. */
  mmapRefusal(inode: number, shared: boolean): Errno | undefined;
  /** vfs_fallocate then kvm_gmem_fallocate on guest_memfd inode `inode`. */
  fallocate(inode: number, mode: FlagList<FallocModeName>, offset: number, len: number, h: Hooks, failNth?: number): Promise<Outcome>;
}

/** An mmap(2) call as mmap and gmem_mmap make it: the fd's name (undefined: MAP_ANONYMOUS), defaults resolved. */
export interface MmapCall {
  readonly map: string;
  readonly fd: string | undefined;
  readonly offset: number;
  readonly length: number;
  readonly shared: boolean;
  readonly prot: ProtName;
}

/** A fallocate(2) call as file_fallocate and gmem_fallocate make it. */
export interface FallocateCall {
  readonly fd: string;
  readonly mode: FlagList<FallocModeName>;
  readonly offset: number;
  readonly len: number;
  /** gmem_fallocate's fail_nth: the call's nth allocation attempt fails. */
  readonly failNth?: number;
}

const pagesOf = (bytes: number): number => Math.ceil(bytes / PAGE_SIZE);
const MAPERR: FaultResult = { kind: "signal", signal: SEGV_MAPERR };
const ACCERR: FaultResult = { kind: "signal", signal: SEGV_ACCERR };
const SIGBUS: FaultResult = { kind: "signal", signal: BUS_ADRERR };
type Pass = FaultResult | { readonly kind: "retry" };
const RETRY: Pass = { kind: "retry" };

/** How a zap treats markers and uffd-wp PTEs (zap_details): MADV_DONTNEED or unmap_mapping_range. */
type ZapKind = "dontneed" | "unmap" | "truncate";

export class Mm {
  readonly files: MemFile[] = [];
  readonly maps = new Map<string, Mapping>();
  readonly notifiers: MmuNotifier[] = [];
  /** Taken by the userfaultfd ioctls: exclusive for (un)registration, shared for the fills. */
  readonly mmapLock = new RwLock("mmap_lock");

  constructor(
    readonly bugs: Bugs,
    readonly gmem: GmemMapOps,
    /** The process's fd table: memfds are installed here, and every fd argument is looked up here. */
    readonly fds: FdTable,
    /** The SIGBUS a poisoned page raises (arch fault.c do_sigbus, by CONFIG_MEMORY_FAILURE). */
    readonly hwpoison: SignalOutcome = BUS_ADRERR,
  ) {}

  locate(hva: number): { map: Mapping; index: number } | undefined {
    const w = windowOf(hva);
    const map = w === undefined ? undefined : this.maps.get(w.id);
    if (w === undefined || map === undefined) return undefined;
    const index = Math.floor(w.offset / PAGE_SIZE);
    return map.isLive(index) ? { map, index } : undefined;
  }

  /** mmu_notifier_invalidate_range_start / _end around a change of the host PTEs of [start, end). */
  async invalidate(start: number, end: number, h: Hooks, change: () => void): Promise<void> {
    for (const n of this.notifiers) await n.invalidateRangeStart(start, end, h);
    change();
    for (const n of this.notifiers) await n.invalidateRangeEnd(start, end, h);
  }

  /** The memfd a pread/pwrite names: EBADF when no fd has the name, ESPIPE for a pseudo file (no FMODE_PREAD). */
  private preadFile(name: string): { id: number; file: MemFile; mode: "r" | "w" | "rw" } | { errno: Errno } {
    const e = this.fds.get(name);
    if (e === undefined) return { errno: "EBADF" };
    return e.kind === "file" ? { id: e.id, file: this.files[e.id]!, mode: e.mode ?? "rw" } : { errno: "ESPIPE" };
  }

  /** open("/proc/self/fd/N"): a memfd opens again with the mode asked for; an anon inode has no open (no_open). */
  reopen(op: OpOf<"reopen">): Outcome {
    const e = this.fds.get(op.from);
    if (e === undefined) return { errno: "ENOENT" };
    if (e.kind !== "file") return { errno: "ENXIO" };
    this.fds.install(op.file, "file", e.id, op.mode === "rw" ? undefined : op.mode);
    return { result: "ok" };
  }

  memfd(op: OpOf<"memfd">): Outcome {
    const folioPages = op.hugetlb === "1G" ? SIZE_1G / PAGE_SIZE : op.hugetlb === true || op.hugetlb === "2M" ? SIZE_2M / PAGE_SIZE : 1;
    if (folioPages > 1 && op.size % (folioPages * PAGE_SIZE) !== 0) return { errno: "EINVAL" };
    this.fds.install(op.file, "file", this.files.length);
    this.files.push(new MemFile(folioPages > 1 ? "hugetlb" : "shmem", op.size, folioPages));
    return { result: "ok" };
  }

  /**
   * sys_mmap's offset check, ksys_mmap_pgoff's fget, do_mmap (generic checks, then FMODE_WRITE for a writable
   * shared mapping and an mmap hook), then the file's mmap: hugetlbfs_file_mmap's offset check or kvm_gmem_mmap.
   */
  mmap(op: MmapCall): Outcome {
    const anon = op.fd === undefined;
    if (op.offset % PAGE_SIZE !== 0) return { errno: "EINVAL" };
    const e = op.fd === undefined ? undefined : this.fds.get(op.fd);
    if (!anon && e === undefined) return { errno: "EBADF" };
    const f = e?.kind === "file" ? { id: e.id, file: this.files[e.id]! } : undefined;
    const fp = f?.file.folioPages ?? 1;
    const pages = Math.ceil(pagesOf(op.length) / fp) * fp;
    // faultline.map-window: a mapping may fill its window; the seeded slip refuses one that does.
    if (op.length === 0 || (this.bugs.has("mmap-window-exclusive") ? pages * PAGE_SIZE >= MAP_STRIDE : pages * PAGE_SIZE > MAP_STRIDE)) return { errno: "EINVAL" };
    if (this.maps.has(op.map)) return { errno: "EEXIST" };
    // A userfaultfd is O_RDONLY, a memfd as it was opened; neither a userfaultfd nor a VM fd has an mmap hook.
    const mode = e?.kind === "uffd" ? "r" : e?.kind === "file" ? (e.mode ?? "rw") : "rw";
    if (mode === "r" && op.shared && op.prot === "rw") return { errno: "EACCES" };
    if (mode === "w") return { errno: "EACCES" };
    if (e?.kind === "uffd" || e?.kind === "vm") return { errno: "ENODEV" };
    if (op.offset % (fp * PAGE_SIZE) !== 0) return { errno: "EINVAL" };
    if (e?.kind === "gmem") {
      const refusal = this.gmem.mmapRefusal(e.id, op.shared);
      if (refusal !== undefined) return { errno: refusal };
      this.maps.set(op.map, new Mapping(op.map, mapBase(op.map), pages, { kind: "gmem", inode: e.id, offset: op.offset }, true, op.prot, 1));
      return { result: "ok" };
    }
    const shared = op.shared;
    let backing: ImplBacking = f === undefined ? { kind: "anon" } : { kind: "memfd", file: f.id, offset: op.offset };
    if (anon && shared) {
      // shmem_zero_setup: an unnamed shmem file of the mapping's size.
      backing = { kind: "memfd", file: this.files.length, offset: 0 };
      this.files.push(new MemFile("shmem", pages * PAGE_SIZE, 1, true));
    }
    this.maps.set(op.map, new Mapping(op.map, mapBase(op.map), pages, backing, shared, op.prot, fp, shared && mode === "r"));
    return { result: "ok" };
  }

  /** The memory type userfaultfd sees in a VMA. */
  memType(map: Mapping): MemType {
    return map.backing.kind === "memfd" ? this.files[map.backing.file]!.kind : map.backing.kind;
  }

  /**
   * zap_pte_range over [start, end): PTEs and private folios go. Markers stay on file memory after MADV_DONTNEED
   * (poison ones excepted), unmap_mapping_range and truncation (all); a uffd-wp PTE of a WP VMA also leaves one,
   * except under truncation's ZAP_FLAG_DROP_MARKER (unmap_mapping_folio).
   */
  dropPages(map: Mapping, start: number, end: number, how: ZapKind): void {
    const keepMarkers = map.backing.kind !== "anon";
    const kept = keepMarkers ? [...map.markers.spans(start, end)].filter((m) => how !== "dontneed" || m.value === "wp") : [];
    map.markers.set(start, end, undefined);
    for (const m of kept) map.markers.set(m.start, m.end, m.value);
    for (const [key, pte] of [...map.ptes]) {
      if (key < start || key >= end) continue;
      if (keepMarkers && how !== "truncate" && pte.uffdWp === true && this.regHas(map, key, "WP")) map.markers.set(key, key + (pte.kind === "zero" ? 1 : map.folioPages), "wp");
      map.ptes.delete(key);
    }
    for (const key of [...map.anon.keys()]) if (key >= start && key < end) map.anon.delete(key);
  }

  private regHas(map: Mapping, index: number, mode: "MISSING" | "WP" | "MINOR"): boolean {
    return map.uffd.get(index)?.modes.includes(mode) === true;
  }

  /** userfaultfd_unmap_prep / userfaultfd_remove would queue an event: not modeled (docs/VOCABULARY.md). */
  private raisesEvent(map: Mapping, start: number, end: number, feature: "EVENT_REMOVE" | "EVENT_UNMAP"): boolean {
    return [...map.uffd.spans(start, end)].some((r) => r.value.ctx.has(feature));
  }

  async munmap(op: OpOf<"munmap">, h: Hooks): Promise<Outcome> {
    const map = this.maps.get(op.map);
    const offset = op.offset ?? 0;
    const len = op.len ?? (map === undefined ? PAGE_SIZE : map.pages * PAGE_SIZE - offset);
    if (offset % PAGE_SIZE !== 0 || len === 0) return { errno: "EINVAL" };
    if (map === undefined) return { result: "ok" };
    const start = offset / PAGE_SIZE;
    const wanted = start + pagesOf(len);
    const fp = map.folioPages;
    if (fp > 1 && start < map.pages && (start % fp !== 0 || (wanted < map.pages && wanted % fp !== 0))) return { errno: "EINVAL" };
    const end = Math.min(map.pages, wanted);
    if (this.raisesEvent(map, start, end, "EVENT_UNMAP")) return { errno: "ENOTTY" };
    if (start >= end) return { result: "ok" };
    const change = (): void => {
      map.live.set(start, end, undefined);
      this.dropPages(map, start, end, "unmap");
      map.markers.set(start, end, undefined);
      map.uffd.set(start, end, undefined);
      if (map.live.size === 0) this.maps.delete(map.id);
    };
    if (this.bugs.has("munmap-no-notify")) change();
    else await this.invalidate(map.base + start * PAGE_SIZE, map.base + end * PAGE_SIZE, h, change);
    return { result: "ok" };
  }

  /**
   * handle_mm_fault (and GUP's faultin_page) for page `index` of a mapping, retried as the CPU retries the
   * access: a fault through a uffd-wp marker maps the page write-protected and the write faults again, a fault
   * whose PTE changed before it could install one returns to retry, and so does handle_userfault when woken
   * before it slept.
   */
  async fault(map: Mapping, index: number, write: boolean, h: Hooks, origin: Origin = USER_ORIGIN): Promise<FaultResult> {
    if (!map.isLive(index)) return MAPERR;
    if (map.prot === "none" || (write && map.prot === "r")) return ACCERR;
    for (let pass = 0; pass < 8; pass++) {
      // vmf->orig_pte, read without the PT lock: what the fault acts on is re-checked under the lock (pteChanged).
      const orig = map.pte(index);
      if (orig !== undefined && (!write || orig.pte.writable)) return { kind: "mapped", folio: orig.pte.folio, sub: orig.sub, writable: orig.pte.writable };
      await h.yield("handle_mm_fault");
      // A PTE that appeared meanwhile restarts the fault before it classifies the page for userfaultfd: the kernel
      // decides on its lockless read, a window the model's atomic fault cannot express (docs/UFFD.md, limits).
      if (orig === undefined && this.pteChanged(map, index, undefined)) continue;
      const r = orig === undefined ? await this.noneFault(map, index, write, h, origin) : await this.wpFault(map, index, orig.pte, h, origin);
      if (r.kind === "retry") continue;
      if (r.kind !== "mapped" || !write || r.writable) return r;
    }
    throw new Error(`fault on ${map.id} page ${index} made no progress`);
  }

  /**
   * vmf_pte_changed / !pte_same, under the PT lock right before a fault installs its PTE (do_anonymous_page,
   * finish_fault, wp_page_copy) or acts on a present one (handle_pte_fault): the PTE is not the one the fault
   * started from, so it backs off and the access is retried.
   */
  private pteChanged(map: Mapping, index: number, orig: Pte | undefined): boolean {
    return !this.bugs.has("fault-no-pte-recheck") && map.pte(index)?.pte !== orig;
  }

  /** The message a fault on a none PTE raises, if its VMA asks for one (the folio lookup comes before allocation). */
  private noneReason(map: Mapping, index: number): "MISSING" | "MINOR" | undefined {
    const reg = map.uffd.get(index);
    if (reg === undefined) return undefined;
    const b = map.backing;
    if (b.kind === "anon") return reg.modes.includes("MISSING") ? "MISSING" : undefined;
    if (b.kind === "gmem" && this.gmem.uffdDesign !== "vm-uffd-ops") return this.gmemDesignReason(map, index, reg.modes);
    const cached = b.kind === "memfd" ? this.files[b.file]!.lookup(map.backingIndex(index)) !== undefined : this.gmem.getFolioNoalloc(map, index) !== undefined;
    if (cached && reg.modes.includes("MINOR") && !this.bugs.has("uffd-minor-ignored")) return "MINOR";
    if (!cached && reg.modes.includes("MISSING")) return "MISSING";
    return undefined;
  }

  /**
   * The older designs' hook inside guest_memfd's ->fault, past its i_size and private checks: v1 (kvm_gmem_fault)
   * raises MISSING on a hole and maps a folio it finds; v2/v3 (kvm_gmem_fault) and guestmem v6
   * (guestmem_fault_user_mapping) grab the folio first, allocating it, then raise MINOR.
   */
  private gmemDesignReason(map: Mapping, index: number, modes: readonly string[]): "MISSING" | "MINOR" | undefined {
    if (!this.gmem.faultable(map, index)) return undefined;
    const present = this.gmem.getFolioNoalloc(map, index) !== undefined;
    if (this.gmem.uffdDesign === "v1-hybrid") return !present && modes.includes("MISSING") ? "MISSING" : undefined;
    if (!modes.includes("MINOR")) return undefined;
    if (!present && !this.bugs.has("uffd-gmem-minor-first-noalloc")) this.gmem.addFolio(map, index);
    return "MINOR";
  }

  private async userfault(map: Mapping, index: number, reason: Reason, write: boolean, origin: Origin, h: Hooks, mustWait: () => boolean): Promise<Pass> {
    const r = await handleUserfault(this.bugs, map, index, map.folioPages, reason, write, origin, mustWait, h);
    if (r.kind === "sigbus") return SIGBUS;
    return r.kind === "retry" ? r : { kind: "userfault", waiter: r.waiter };
  }

  /**
   * do_fault_around -> filemap_map_pages for a read fault on a shmem mapping (hugetlbfs faults elsewhere,
   * guest_memfd has no ->map_pages), unless the VMA is MINOR- or WP-registered: the uptodate page-cache pages of
   * the fault_around_bytes window, clipped to the VMA, the page table and i_size, get PTEs where theirs are none.
   * Under the PT lock, so in one step; the faulting page is left to the fault itself.
   */
  private faultAround(map: Mapping, index: number): void {
    const b = map.backing;
    const file = b.kind === "memfd" ? this.files[b.file]! : undefined;
    const vma = vmasIn(map, index, index + 1)[0];
    if (file === undefined || file.kind !== "shmem" || vma === undefined || vma.reg?.modes.some((m) => m === "MINOR" || m === "WP") === true) return;
    const from = Math.max(index - (index % FAULT_AROUND_PAGES), vma.start);
    const to = Math.min(from + FAULT_AROUND_PAGES, index - (index % PTRS_PER_PTE) + PTRS_PER_PTE, vma.end);
    const fileEnd = Math.ceil(file.size / PAGE_SIZE);
    for (let i = from; i < to; i++) {
      const f = map.backingIndex(i);
      if (i === index || f >= fileEnd || map.ptes.has(i) || map.markers.get(i) !== undefined || !file.uptodate(f)) continue;
      // The seeded slip reads the page cache one index ahead of the PTE it fills.
      const at = (this.bugs.has("fault-around-next-folio") ? file.lookup(f + 1) : undefined) ?? file.lookup(f)!;
      map.ptes.set(i, { kind: "file", writable: map.shared && map.prot === "rw", folio: at.folio });
    }
  }

  /** A none PTE (or a marker): read fault-around, then userfaultfd's MISSING / MINOR hook, else the memory type's fault handler. */
  private async noneFault(map: Mapping, index: number, write: boolean, h: Hooks, origin: Origin): Promise<Pass> {
    const marker = map.markers.get(index);
    // VM_FAULT_HWPOISON: do_sigbus says BUS_MCEERR_AR on arm64, and on x86 only with CONFIG_MEMORY_FAILURE.
    if (marker === "poison") return { kind: "signal", signal: this.hwpoison, hwpoison: true };
    if (!write) this.faultAround(map, index);
    const b = map.backing;
    if (b.kind === "memfd" && this.pastEof(this.files[b.file]!, map.backingIndex(index))) return SIGBUS;
    const reason = this.noneReason(map, index);
    if (reason !== undefined) return this.userfault(map, index, reason, write, origin, h, () => map.pte(index) === undefined);
    const r = b.kind === "gmem" ? await this.gmem.hostFault(map, index, write, h) : b.kind === "anon" ? await this.anonFault(map, index, write, undefined, h) : await this.fileFault(map, this.files[b.file]!, index, write, undefined, h);
    if (r.kind !== "mapped" || marker === undefined) return r;
    const key = map.keyOf(index);
    map.markers.set(key, key + (b.kind === "memfd" ? map.folioPages : 1), undefined);
    const pte = map.ptes.get(key);
    if (marker !== "wp" || !this.regHas(map, index, "WP") || pte === undefined) return r;
    map.ptes.set(key, { ...pte, writable: false, uffdWp: true });
    return { ...r, writable: false };
  }

  /** do_wp_page: a write to a present read-only PTE (`orig`), checked under the PT lock first. */
  private async wpFault(map: Mapping, index: number, orig: Pte, h: Hooks, origin: Origin): Promise<Pass> {
    if (this.pteChanged(map, index, orig)) return RETRY;
    const key = map.keyOf(index);
    let pte = orig;
    if (pte.uffdWp === true && this.regHas(map, index, "WP")) {
      const ctx = map.uffd.get(index)!.ctx;
      if (!ctx.has("WP_ASYNC")) return this.userfault(map, index, "WP", true, origin, h, () => map.ptes.get(key)?.uffdWp === true);
      pte = { kind: pte.kind, writable: pte.writable, folio: pte.folio };
      map.ptes.set(key, pte);
    }
    const b = map.backing;
    if (pte.kind === "anon") {
      map.ptes.set(key, { kind: "anon", writable: true, folio: pte.folio });
      return { kind: "mapped", folio: pte.folio, sub: index - key, writable: true };
    }
    if (pte.kind === "zero" && b.kind !== "anon") {
      const folio = newFolio(1);
      const set = await this.replacePte(map, index, pte, h, () => {
        map.anon.set(index, folio);
        map.ptes.set(index, { kind: "anon", writable: true, folio });
      });
      return set ? { kind: "mapped", folio, sub: 0, writable: true } : RETRY;
    }
    // Stryker disable next-line BooleanLiteral: the guest_memfd host fault ignores the write flag (kvm_gmem_fault_user_mapping; the VMA gives the PTE's write bit)
    if (b.kind === "gmem") return this.gmem.hostFault(map, index, true, h);
    if (b.kind === "anon") return this.anonFault(map, index, true, pte, h);
    return this.fileFault(map, this.files[b.file]!, index, true, pte, h);
  }

  /**
   * Installs a PTE where `orig` was, under the PT lock (`set` runs only if the PTE is still `orig`); replacing a
   * present PTE goes through the mmu notifiers first, as wp_page_copy does. Whether it was installed.
   */
  private async replacePte(map: Mapping, key: number, orig: Pte | undefined, h: Hooks, set: () => void): Promise<boolean> {
    let done = false;
    const install = (): void => {
      if (this.pteChanged(map, key, orig)) return;
      set();
      done = true;
    };
    if (orig === undefined) install();
    else await this.invalidate(map.base + key * PAGE_SIZE, map.base + (key + map.folioPages) * PAGE_SIZE, h, install);
    return done;
  }

  /** do_anonymous_page (orig none), or wp_page_copy of the zero page (orig the zero PTE). */
  private async anonFault(map: Mapping, index: number, write: boolean, orig: Pte | undefined, h: Hooks): Promise<Pass> {
    if (!write) {
      const set = await this.replacePte(map, index, orig, h, () => map.ptes.set(index, { kind: "zero", writable: false, folio: ZERO_FOLIO }));
      return set ? { kind: "mapped", folio: ZERO_FOLIO, sub: 0, writable: false } : RETRY;
    }
    const folio = newFolio(1);
    const set = await this.replacePte(map, index, orig, h, () => {
      map.anon.set(index, folio);
      map.ptes.set(index, { kind: "anon", writable: true, folio });
    });
    if (!set) return RETRY;
    const target = this.bugs.has("anon-write-to-old-page") ? newFolio(1) : folio;
    return { kind: "mapped", folio: target, sub: 0, writable: true };
  }

  /** mm.sigbus-eof: a fault at or past i_size (shmem_get_folio_gfp, hugetlb_no_page); the seeded slip maps the page at i_size. */
  private pastEof(file: MemFile, fileIndex: number): boolean {
    return this.bugs.has("shmem-fault-eof-inclusive") ? fileIndex * PAGE_SIZE > file.size : fileIndex * PAGE_SIZE >= file.size;
  }

  /** shmem_fault / hugetlb_no_page, then finish_fault (orig none), or the COW of do_cow_fault / wp_page_copy. */
  private async fileFault(map: Mapping, file: MemFile, index: number, write: boolean, orig: Pte | undefined, h: Hooks): Promise<Pass> {
    const fileIndex = map.backingIndex(index);
    if (this.pastEof(file, fileIndex)) return SIGBUS;
    const cached = file.getOrAlloc(fileIndex);
    const key = map.keyOf(index);
    if (map.shared || !write) {
      const writable = map.shared && map.prot === "rw";
      // do_wp_page -> wp_page_shared -> wp_page_reuse: the PTE's own page made writable in place, no mmu notifier.
      if (orig?.folio === cached.folio) {
        map.ptes.set(key, { kind: "file", writable, folio: cached.folio });
        return { kind: "mapped", folio: cached.folio, sub: cached.sub, writable };
      }
      const set = await this.replacePte(map, key, orig, h, () => map.ptes.set(key, { kind: "file", writable, folio: cached.folio }));
      return set ? { kind: "mapped", folio: cached.folio, sub: cached.sub, writable } : RETRY;
    }
    const copy = copyFolio(cached.folio);
    const set = await this.replacePte(map, key, orig, h, () => {
      map.anon.set(key, copy);
      map.ptes.set(key, { kind: "anon", writable: true, folio: copy });
    });
    return set ? { kind: "mapped", folio: copy, sub: index - key, writable: true } : RETRY;
  }

  async access(op: OpOf<"access">, h: Hooks): Promise<Outcome> {
    const map = this.maps.get(op.map);
    const index = Math.floor(op.offset / PAGE_SIZE);
    if (map === undefined || index >= map.pages) return SEGV_MAPERR;
    const write = op.kind === "write";
    const inPage = op.offset % PAGE_SIZE;
    const r = await this.fault(map, index, write, h, { inPage, user: true });
    if (r.kind === "signal") return r.signal;
    if (r.kind === "userfault") return blockedOutcome(r.waiter);
    if (write) {
      fillPage(pageOf(r.folio, r.sub), inPage, inPage + 1, op.byte ?? 0);
      return { result: "ok" };
    }
    const page = peekPage(r.folio, r.sub);
    return { result: "ok", value: page === undefined ? 0 : readPage(page, inPage) };
  }

  async alias(op: OpOf<"write_alias"> | OpOf<"read_alias">, h: Hooks): Promise<Outcome> {
    const map = this.maps.get(op.map);
    if (map === undefined) return SEGV_MAPERR;
    if (map.backing.kind === "anon" || (map.backing.kind === "memfd" && this.files[map.backing.file]!.anon)) return { errno: "EINVAL" };
    if (map.backing.kind === "gmem") return this.gmem.alias(op, map, h);
    const file = this.files[map.backing.file]!;
    const start = map.backing.offset + op.offset;
    const len = op.op === "write_alias" ? (op.len ?? 1) : 1;
    for (let pos = start; pos < start + len; ) {
      // Each page of the alias is its own fault and copy: other threads may run in between.
      await h.yield("shmem_fault(alias)");
      const index = Math.floor(pos / PAGE_SIZE);
      if (index * PAGE_SIZE >= file.size) return BUS_ADRERR;
      const at = file.getOrAlloc(index);
      if (op.op === "read_alias") {
        const page = peekPage(at.folio, at.sub);
        return { result: "ok", value: page === undefined ? 0 : readPage(page, pos % PAGE_SIZE) };
      }
      const to = Math.min((index + 1) * PAGE_SIZE, start + len);
      fillPage(pageOf(at.folio, at.sub), pos - index * PAGE_SIZE, to - index * PAGE_SIZE, op.byte ?? 0);
      if (this.bugs.has("alias-write-first-page-only")) break;
      pos = to;
    }
    return { result: "ok" };
  }

  private writeFile(file: MemFile, offset: number, len: number, byte: number): void {
    for (let pos = offset; pos < offset + len; ) {
      const index = Math.floor(pos / PAGE_SIZE);
      const to = Math.min((index + 1) * PAGE_SIZE, offset + len);
      const at = file.getOrAlloc(index);
      fillPage(pageOf(at.folio, at.sub), pos - index * PAGE_SIZE, to - index * PAGE_SIZE, byte);
      pos = to;
    }
  }

  pwrite(op: OpOf<"pwrite">): Outcome {
    const f = this.preadFile(op.file);
    if ("errno" in f) return f;
    if (f.mode === "r") return { errno: "EBADF" };
    if (f.file.kind === "hugetlb") return { errno: "EINVAL" };
    if (op.len > 0) f.file.size = Math.max(f.file.size, op.offset + op.len);
    this.writeFile(f.file, op.offset, op.len, op.byte);
    return { result: "ok" };
  }

  pread(op: OpOf<"pread">): Outcome {
    const f = this.preadFile(op.file);
    if ("errno" in f) return f;
    if (f.mode === "w") return { errno: "EBADF" };
    if (op.offset >= f.file.size || op.len === 0) return { result: "ok", value: null };
    const at = f.file.lookup(Math.floor(op.offset / PAGE_SIZE));
    const page = at === undefined ? undefined : peekPage(at.folio, at.sub);
    return { result: "ok", value: page === undefined ? 0 : readPage(page, op.offset % PAGE_SIZE) };
  }

  /**
   * unmap_mapping_range, then truncate_inode_pages_range on pages [start, end) of a file: the PTEs mapping its folios
   * are zapped (through the MMU notifiers, which may wait) while the folios are still cached, and a folio leaves the
   * page cache only once no PTE maps it; one a fault or CONTINUE mapped again while a notifier waited is unmapped
   * again first, as the kernel does under the folio lock.
   */
  private async truncate(fileId: number, start: number, end: number, h: Hooks): Promise<void> {
    const file = this.files[fileId]!;
    const maps = [...this.maps.values()].filter((m) => m.backing.kind === "memfd" && m.backing.file === fileId);
    for (const map of maps) {
      // hugetlbfs_punch_hole zaps through __unmap_hugepage_range (zap_flags 0): a poison marker goes, a uffd-wp one stays.
      const b = map.backing;
      if (b.kind !== "memfd" || file.kind !== "hugetlb") continue;
      const first = b.offset / PAGE_SIZE;
      for (const m of [...map.markers.spans(start - first, end - first)]) if (m.value === "poison") map.markers.set(m.start, m.end, undefined);
    }
    const mappedKeys = (map: Mapping): number[] => {
      const inside = file.foliosIn(start, end);
      return [...map.ptes].filter(([, pte]) => pte.kind === "file" && inside.has(pte.folio)).map(([k]) => k);
    };
    for (let again = true; again; ) {
      again = false;
      for (const map of maps) {
        const keys = mappedKeys(map);
        if (keys.length === 0) continue;
        again = true;
        const lo = Math.min(...keys);
        const hi = Math.max(...keys) + map.folioPages;
        await this.invalidate(map.base + lo * PAGE_SIZE, map.base + hi * PAGE_SIZE, h, () => {
          for (const k of mappedKeys(map).filter((x) => x >= lo && x < hi)) {
            // unmap_mapping_range keeps markers, and a uffd-wp PTE of a WP VMA leaves one (zap_install_uffd_wp_if_needed).
            if (map.ptes.get(k)!.uffdWp === true && this.regHas(map, k, "WP")) map.markers.set(k, k + map.folioPages, "wp");
            map.ptes.delete(k);
          }
        });
      }
    }
    file.removeFolios(start, end);
  }

  private async punchHole(fileId: number, offset: number, len: number, h: Hooks): Promise<void> {
    const file = this.files[fileId]!;
    const folio = file.folioPages * PAGE_SIZE;
    const end = Math.min(offset + len, file.size);
    const wholeStart = Math.ceil(offset / folio) * folio;
    const wholeEnd = Math.max(wholeStart, Math.floor(end / folio) * folio);
    for (const [a, b] of [[offset, Math.min(wholeStart, end)], [Math.max(wholeEnd, offset), end]] as const) {
      for (let pos = a; pos < b; ) {
        const index = Math.floor(pos / PAGE_SIZE);
        const to = Math.min((index + 1) * PAGE_SIZE, b);
        const at = file.lookup(index);
        if (at !== undefined) fillPage(pageOf(at.folio, at.sub), pos - index * PAGE_SIZE, to - index * PAGE_SIZE, 0);
        pos = to;
      }
    }
    if (wholeEnd > wholeStart) await this.truncate(fileId, wholeStart / PAGE_SIZE, wholeEnd / PAGE_SIZE, h);
  }

  /** madvise_vma_behavior's refusal of the VMA starting at page `start` (dontneed_free_valid_vma, madvise_remove). */
  private madviseRefusal(map: Mapping, advice: OpOf<"madvise">["advice"], start: number): Outcome | undefined {
    if (advice === "DONTNEED") return start % map.folioPages !== 0 ? { errno: "EINVAL" } : undefined;
    if (map.backing.kind === "anon") return { errno: "EINVAL" };
    return map.shared && !map.fdReadOnly ? undefined : { errno: "EACCES" };
  }

  /** madvise_walk_vmas: VMA by VMA; the first refusal ends the walk, a hole makes a good walk ENOMEM. */
  async madvise(op: OpOf<"madvise">, h: Hooks): Promise<Outcome> {
    if (op.offset % PAGE_SIZE !== 0) return { errno: "EINVAL" };
    if (op.len === 0) return { result: "ok" };
    const map = this.maps.get(op.map);
    const start = op.offset / PAGE_SIZE;
    const end = start + pagesOf(op.len);
    const vmas = map === undefined ? [] : [...map.live.spans(start, Math.min(end, map.pages))];
    if (map === undefined || vmas.length === 0) return { errno: "ENOMEM" };
    const hole = vmas.reduce((n, sp) => n + sp.end - sp.start, 0) < end - start;
    for (const v of vmas) {
      if (this.madviseRefusal(map, op.advice, v.start) !== undefined) break;
      if (this.raisesEvent(map, v.start, v.end, "EVENT_REMOVE")) return { errno: "ENOTTY" };
    }
    const fp = map.folioPages;
    for (const v of vmas) {
      const refusal = this.madviseRefusal(map, op.advice, v.start);
      if (refusal !== undefined) return refusal;
      const b = map.backing;
      if (op.advice === "DONTNEED") {
        const e = fp > 1 ? Math.max(v.start, Math.floor(v.end / fp) * fp) : v.end;
        if (e > v.start) await this.invalidate(map.base + v.start * PAGE_SIZE, map.base + e * PAGE_SIZE, h, () => this.dropPages(map, v.start, e, "dontneed"));
      } else if (b.kind === "gmem") {
        const r = await this.gmem.punch(map, b.offset + v.start * PAGE_SIZE, (v.end - v.start) * PAGE_SIZE, h);
        if ("errno" in r) return r;
      } else if (b.kind === "memfd") {
        await this.punchHole(b.file, b.offset + v.start * PAGE_SIZE, (v.end - v.start) * PAGE_SIZE, h);
      }
    }
    return hole ? { errno: "ENOMEM" } : { result: "ok" };
  }

  /**
   * ksys_fallocate's fget, vfs_fallocate's argument and mode checks, then by what the fd is: a userfaultfd is not
   * open for writing (EBADF), a VM fd is no regular file (ENODEV), a guest_memfd goes to kvm_gmem_fallocate, a memfd
   * on to s_maxbytes and shmem_fallocate / hugetlbfs_fallocate.
   */
  async fallocate(op: FallocateCall, h: Hooks): Promise<Outcome> {
    const e = this.fds.get(op.fd);
    if (e === undefined) return { errno: "EBADF" };
    if (e.kind === "gmem") return this.gmem.fallocate(e.id, op.mode, op.offset, op.len, h, op.failNth);
    const mode = modeWord(op.mode);
    const vfs = vfsFallocateArgs(mode, op.offset, op.len, this.bugs.has("file-fallocate-len-inclusive"));
    if (vfs !== undefined) return { errno: vfs };
    if (e.kind === "uffd" || e.mode === "r") return { errno: "EBADF" };
    if (e.kind === "vm") return { errno: "ENODEV" };
    const f = { id: e.id, file: this.files[e.id]! };
    // The seeded slip rounds the end up a page before comparing: a range ending one page below s_maxbytes is refused.
    if (op.offset + op.len + (this.bugs.has("file-fallocate-efbig-early") ? PAGE_SIZE : 0) >= LOFF_LIMIT) return { errno: "EFBIG" };
    // shmem_fallocate, hugetlbfs_fallocate: only KEEP_SIZE and PUNCH_HOLE.
    if (mode & ~(FL.KEEP_SIZE | FL.PUNCH_HOLE)) return { errno: "EOPNOTSUPP" };
    const punch = (mode & FL.PUNCH_HOLE) !== 0;
    const keep = (mode & FL.KEEP_SIZE) !== 0;
    if (punch) {
      await this.punchHole(f.id, op.offset, op.len, h);
      return { result: "ok" };
    }
    if (!keep) f.file.size = Math.max(f.file.size, op.offset + op.len);
    // SGP_FALLOC has no i_size check: with KEEP_SIZE the folios past EOF are allocated too.
    const folio = f.file.folioPages * PAGE_SIZE;
    const end = Math.ceil((op.offset + op.len) / folio) * folio;
    for (let pos = Math.floor(op.offset / folio) * folio; pos < end; pos += folio) f.file.fallocate(pos / PAGE_SIZE);
    return { result: "ok" };
  }
}
