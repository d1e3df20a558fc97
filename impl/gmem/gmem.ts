// guest_memfd: the inode with its page cache, attribute tree, pins and bindings; create, bind, KVM's get_pfn,
// host faults, mmap, alias accesses and release, with the locking of the design in force.
import { PAGE_SIZE, SIZE_1G, SIZE_2M } from "../../model/consts.js";
import type { Config } from "../../schema/config.js";
import { decodeFlags, GMEM_FLAG_BITS } from "../../schema/flags.js";
import type { GmemFlagName, OpOf } from "../../schema/ops.js";
import { BUS_ADRERR, type Errno, type Outcome } from "../../schema/outcome.js";
import type { Bugs } from "../bugs.js";
import type { Hooks } from "../hooks.js";
import type { Kvm } from "../kvm/kvm.js";
import { RwLock } from "../locks.js";
import { newFolio, pageOf, type Folio } from "../mm/folio.js";
import { Mapping } from "../mm/mapping.js";
import type { FaultResult } from "../mm/mm.js";
import { fillPage, readPage } from "../util/pagedata.js";
import { RangeMap } from "../util/rangemap.js";
import { gmemOwnsAttributes, isInplace, isRfc2024 } from "./design.js";
import { VersionedMap } from "../util/versioned.js";
import { invalidateBegin, invalidateEnd } from "./invalidate.js";

export interface Binding {
  readonly vm: number;
  readonly slot: number;
}

/** A folio in the page cache; a huge one may be split into 4 KiB folios (its pages stay where they are). */
export interface GmemFolio {
  readonly folio: Folio;
  split: boolean;
  /** folio_test_uptodate: cleared by a fault or written by write() ("prepared"); kept on tracked files only. */
  uptodate?: true;
  /** KVM_GMEM_FOLIO_NO_DIRECT_MAP in folio->private: its direct-map entries are not present. */
  noDirectMap?: true;
}

export { gmemOwnsAttributes, isInplace, isRfc2024 };

export const folioPagesOf = (c: Config): number => (c.gmemFolio === "1G" ? SIZE_1G / PAGE_SIZE : c.gmemFolio === "2M" ? SIZE_2M / PAGE_SIZE : 1);

const SIGBUS: FaultResult = { kind: "signal", signal: BUS_ADRERR };
const SIGBUS_OUTCOME: Outcome = BUS_ADRERR;

export class GmemInode {
  /** Folios by folio number (index / folioPages). */
  readonly cache = new VersionedMap<number, GmemFolio>();
  readonly bindings = new RangeMap<Binding>((a, b) => a.vm === b.vm && a.slot === b.slot);
  /** Host-faultable indexes: v7's attribute tree (shared entries), the 2024 RFC's faultability xarray. */
  readonly shared = new RangeMap<true>();
  readonly invalidateLock = new RwLock("filemap_invalidate_lock");
  /** Long-term pins per page index. */
  readonly pins = new Map<number, number>();
  /** References host faults hold between the folio lookup and the PTE install. */
  readonly refs = new Map<number, number>();
  /** Page indexes whose folio a host fault holds locked until its PTE is installed. */
  readonly folioLocks = new Set<number>();
  readonly folioPages: number;
  /** Secret hiding: the uptodate and direct-map state is kept where it is observable (NO_DIRECT_MAP or WRITE). */
  readonly tracksPrepared: boolean;
  /** Pages the kernel touched through a direct-map entry this file removed: an oops, kept for the invariant to see. */
  readonly directMapFaults: number[] = [];
  /** An fd refers to the file (close drops it; a name taken by another object does not). */
  fd = true;
  open = true;

  constructor(
    readonly vm: number,
    /** kvm_arch_has_private_mem of the VM the file was created on. */
    readonly vmHasPrivateMem: boolean,
    readonly size: number,
    readonly flags: readonly GmemFlagName[],
    readonly config: Config,
  ) {
    this.folioPages = folioPagesOf(config);
    this.tracksPrepared = flags.includes("NO_DIRECT_MAP") || flags.includes("WRITE");
    if (flags.includes("INIT_SHARED")) this.shared.set(0, size / PAGE_SIZE, true);
  }

  /** A kernel load or store through the direct map (clear_highpage, write()'s copy, a kmap) of the page at index. */
  touchDirectMap(entry: GmemFolio, index: number): void {
    if (entry.noDirectMap === true) this.directMapFaults.push(index);
  }

  /**
   * What a fault does to the folio it got, holding its lock: clear_highpage unless uptodate, folio_mark_uptodate, then
   * (NO_DIRECT_MAP) kvm_gmem_folio_zap_direct_map; `zap` false is the seeded get_pfn that maps without zapping.
   */
  prepare(index: number, zap = true): void {
    if (!this.tracksPrepared) return;
    const at = this.lookup(index)!;
    if (at.entry.uptodate !== true) {
      this.touchDirectMap(at.entry, index);
      for (const page of at.entry.folio.sub.values()) fillPage(page, 0, PAGE_SIZE, 0);
      at.entry.uptodate = true;
    }
    if (zap && this.flags.includes("NO_DIRECT_MAP")) at.entry.noDirectMap = true;
  }

  lookup(index: number): { entry: GmemFolio; sub: number } | undefined {
    const entry = this.cache.get(Math.floor(index / this.folioPages));
    return entry === undefined ? undefined : { entry, sub: index % this.folioPages };
  }

  /** kvm_gmem_get_folio: allocate on first use, split a huge folio once any of its pages is shared. */
  getFolio(index: number): { folio: Folio; sub: number } {
    const n = Math.floor(index / this.folioPages);
    let entry = this.cache.get(n);
    if (entry === undefined) {
      entry = { folio: newFolio(this.folioPages), split: false };
      this.cache.set(n, entry);
    }
    if (this.folioPages > 1 && !entry.split && this.shared.any(n * this.folioPages, (n + 1) * this.folioPages)) entry.split = true;
    return { folio: entry.folio, sub: index % this.folioPages };
  }

  /** Cached folio numbers touching [start, end): a walk of the cache, never of the range. */
  foliosIn(start: number, end: number): number[] {
    const a = Math.floor(start / this.folioPages);
    const b = Math.ceil(end / this.folioPages);
    // Stryker disable next-line MethodExpression,ArithmeticOperator: the order only orders truncation's per-folio waits; each wait and the deleted set stay the same
    return [...this.cache.keys()].filter((n) => n >= a && n < b).sort((x, y) => x - y);
  }

  /** folio_get / folio_put and pin / unpin bookkeeping. */
  count(what: "refs" | "pins", index: number, delta: number): void {
    const m = this[what];
    const n = (m.get(index) ?? 0) + delta;
    if (n === 0) m.delete(index);
    else m.set(index, n);
  }
}

/** kvm_gmem_get_supported_flags: MMAP and NO_DIRECT_MAP always; INIT_SHARED, and WRITE with it, on VMs that may share. */
export function supportedFlags(kvm: Kvm | undefined, kernelFlags: readonly GmemFlagName[]): GmemFlagName[] {
  return kernelFlags.filter((f) => f === "MMAP" || f === "NO_DIRECT_MAP" || kvm === undefined || !kvm.hasPrivateMem || gmemOwnsAttributes(kvm.config));
}

/** kvm_gmem_create: validation, then a new inode. */
export function gmemCreate(bugs: Bugs, kvm: Kvm, vmId: number, op: OpOf<"create_gmem">): GmemInode | Outcome {
  const k = kvm.config.kernel;
  if (!k.guestMemfd) return { errno: "ENOTTY" };
  // flags & ~kvm_gmem_get_supported_flags(kvm): a u64, so by bit position. reserved[] is never read.
  const flags = decodeFlags(op.flags, GMEM_FLAG_BITS);
  const supported = supportedFlags(kvm, k.gmemFlags);
  if (flags.unknown.length > 0 || flags.names.some((f) => !supported.includes(f))) return { errno: "EINVAL" };
  // gmem.create-size: below 2^63 (loff_t); the seeded slip takes 2^63 itself.
  const tooBig = bugs.has("gmem-create-size-inclusive") ? op.size > 2 ** 63 : op.size >= 2 ** 63;
  if (op.size === 0 || tooBig || op.size % PAGE_SIZE !== 0) return { errno: "EINVAL" };
  if (op.size % (folioPagesOf(kvm.config) * PAGE_SIZE) !== 0) return { errno: "EINVAL" };
  return new GmemInode(vmId, kvm.hasPrivateMem, op.size, flags.names, kvm.config);
}

/** kvm_gmem_bind, under the filemap invalidate lock held exclusive. */
export async function gmemBind(bugs: Bugs, inode: GmemInode, vmId: number, slot: number, npages: number, offset: number, h: Hooks): Promise<"ok" | Outcome> {
  if (inode.vm !== vmId) return { errno: "EINVAL" };
  // Stryker disable next-line ConditionalExpression,LogicalOperator,EqualityOperator: kvm_set_memory_region already refused an unaligned offset, and one of 2^63 or more fails the i_size check below
  if (offset >= 2 ** 63 || offset % PAGE_SIZE !== 0) return { errno: "EINVAL" };
  // gmem.bind-range: the binding may end at i_size; the seeded slip refuses one that does.
  const end = offset + npages * PAGE_SIZE;
  if (bugs.has("gmem-bind-end-exclusive") ? end >= inode.size : end > inode.size) return { errno: "EINVAL" };
  await inode.invalidateLock.write(h);
  try {
    const start = offset / PAGE_SIZE;
    if (inode.bindings.any(start, start + npages)) return { errno: "EINVAL" };
    inode.bindings.set(start, start + npages, { vm: vmId, slot });
    // 2024 RFC patch 28 sets the default faultability at bind, by VM type: a software-protected VM's memory starts
    // faultable (like its all-shared attributes), any other VM's unfaultable.
    if (isRfc2024(inode.config)) inode.shared.set(start, start + npages, inode.vmHasPrivateMem ? true : undefined);
    return "ok";
  } finally {
    inode.invalidateLock.writeUnlock();
  }
}

export function gmemUnbind(inode: GmemInode, pgoff: number, npages: number): void {
  inode.bindings.set(pgoff, pgoff + npages, undefined);
}

/**
 * kvm_gmem_get_pfn: the folio holding index (v7: under the invalidate lock, shared), or the errno KVM reports. On a
 * tracked file the folio lock is taken and the folio prepared under it: zapped from the direct map, then prepared.
 */
export async function gmemGetPfn(inode: GmemInode, index: number, h: Hooks, bugs: Bugs): Promise<{ folio: Folio; sub: number } | { errno: "EFAULT" }> {
  if (!inode.open) return { errno: "EFAULT" };
  const locked = isInplace(inode.config);
  if (locked) await inode.invalidateLock.read(h);
  try {
    if (!inode.tracksPrepared) return inode.getFolio(index);
    await h.yield("kvm_gmem_get_pfn:folio_lock", () => !inode.folioLocks.has(index));
    inode.folioLocks.add(index);
    const got = inode.getFolio(index);
    // The seeded slip maps the folio into the guest without kvm_gmem_folio_zap_direct_map.
    inode.prepare(index, !bugs.has("gmem-get-pfn-no-zap"));
    inode.folioLocks.delete(index);
    return got;
  } finally {
    if (locked) inode.invalidateLock.readUnlock();
  }
}

/**
 * What serialises the host fault's check against a conversion: the invalidate lock (always in v8/v7, by config in the
 * 2024 RFC), the folio lock (Peter Xu's alternative for the RFC), or nothing (the RFC before its last patch, and the
 * current tree, which has no conversion).
 */
function faultLock(inode: GmemInode, bugs: Bugs): "invalidate" | "folio" | "none" {
  if (isInplace(inode.config)) return bugs.has("gmem-host-fault-unlocked") ? "none" : "invalidate";
  if (!isRfc2024(inode.config) || inode.config.gmemFaultLock === false) return "none";
  return inode.config.gmemFaultLock === "folio" ? "folio" : "invalidate";
}

/**
 * kvm_gmem_fault_user_mapping (kvm_gmem_fault in the 2024 RFC): check the page may be host-faulted and look
 * its folio up (locked, referenced) under the invalidate lock if the design takes it; finish_fault then installs
 * the PTE after the lock is dropped, still holding the folio lock and the reference.
 */
export async function gmemHostFault(inode: GmemInode, bugs: Bugs, map: Mapping, index: number, h: Hooks): Promise<FaultResult> {
  const fileIndex = map.backingIndex(index);
  // Stryker disable next-line ConditionalExpression,EqualityOperator,ArithmeticOperator: no page at or past i_size is ever shared, so the shared check below SIGBUSes it anyway
  if (fileIndex * PAGE_SIZE >= inode.size) return SIGBUS;
  const lock = faultLock(inode, bugs);
  const locked = lock === "invalidate";
  // Under the folio lock the check waits until the folio is grabbed; the seeded slip makes it first, unserialised.
  const checkLate = lock === "folio" && !bugs.has("gmem-rfc-folio-check-unlocked");
  if (locked) await inode.invalidateLock.read(h);
  let got: { folio: Folio; sub: number };
  try {
    if (!checkLate && inode.shared.get(fileIndex) !== true) return SIGBUS;
    await h.yield(isRfc2024(inode.config) ? "kvm_gmem_fault:kvm_gmem_get_folio" : "kvm_gmem_fault_user_mapping:kvm_gmem_get_folio");
    await h.yield("folio_lock", () => !inode.folioLocks.has(fileIndex));
    inode.folioLocks.add(fileIndex);
    got = inode.getFolio(fileIndex);
    if (checkLate && inode.shared.get(fileIndex) !== true) {
      inode.folioLocks.delete(fileIndex);
      return SIGBUS;
    }
    inode.prepare(fileIndex);
    inode.count("refs", fileIndex, 1);
  } finally {
    if (locked) inode.invalidateLock.readUnlock();
  }
  await h.yield("finish_fault");
  const writable = map.prot === "rw";
  const folio = inode.folioPages === 1 ? got.folio : splitView(got.folio, got.sub);
  map.ptes.set(index, { kind: "file", writable, folio });
  inode.count("refs", fileIndex, -1);
  inode.folioLocks.delete(fileIndex);
  return { kind: "mapped", folio, sub: 0, writable };
}

/** The 4 KiB folio a split huge folio's page became: it holds that very page, so both see every store. */
const splitView = (huge: Folio, sub: number): Folio => ({ pages: 1, sub: new VersionedMap([[0, pageOf(huge, sub)]]) });

/** kvm_gmem_mmap's refusal, after do_mmap's generic checks (impl/mm/mm.ts mmap makes the mapping). */
export function gmemMmapRefusal(inode: GmemInode, shared: boolean): Errno | undefined {
  if (!inode.flags.includes("MMAP")) return "ENODEV";
  return shared ? undefined : "EINVAL";
}

/** An access through a second shared mapping of the guest_memfd (write_alias / read_alias): fault, access, gone. */
export function gmemAlias(inode: GmemInode, map: Mapping, op: OpOf<"write_alias"> | OpOf<"read_alias">): Outcome {
  const start = (map.backing.kind === "gmem" ? map.backing.offset : 0) + op.offset;
  const len = op.op === "write_alias" ? (op.len ?? 1) : 1;
  for (let pos = start; pos < start + len; ) {
    const index = Math.floor(pos / PAGE_SIZE);
    const to = Math.min((index + 1) * PAGE_SIZE, start + len);
    if (index * PAGE_SIZE >= inode.size || inode.shared.get(index) !== true) return SIGBUS_OUTCOME;
    const at = inode.getFolio(index);
    inode.prepare(index);
    const page = pageOf(at.folio, at.sub);
    if (op.op === "read_alias") return { result: "ok", value: readPage(page, pos % PAGE_SIZE) };
    fillPage(page, pos - index * PAGE_SIZE, to - index * PAGE_SIZE, op.byte ?? 0);
    pos = to;
  }
  return { result: "ok" };
}

/** kvm_gmem_release: under the invalidate lock, zap every bound range in its VM and unbind it. */
export async function gmemRelease(inode: GmemInode, vms: readonly Kvm[], h: Hooks): Promise<void> {
  await inode.invalidateLock.write(h);
  try {
    const hit = await invalidateBegin(vms, inode, 0, Number.MAX_SAFE_INTEGER, h, true);
    await invalidateEnd(hit, h);
    inode.bindings.clear();
    inode.open = false;
  } finally {
    inode.invalidateLock.writeUnlock();
  }
}
