// guest_memfd (current tree): the inode with its page cache and bindings, KVM's get_pfn, host faults, release.
import { MAP_STRIDE, PAGE_SIZE } from "../../model/consts.js";
import { mapBase } from "../../model/mm/layout.js";
import type { GmemFlagName, OpOf } from "../../schema/ops.js";
import type { Outcome } from "../../schema/outcome.js";
import type { Hooks } from "../hooks.js";
import type { Kvm } from "../kvm/kvm.js";
import { RwLock } from "../locks.js";
import { newFolio, pageOf, type Folio } from "../mm/folio.js";
import { Mapping } from "../mm/mapping.js";
import type { FaultResult } from "../mm/mm.js";
import { fillPage, readPage } from "../util/pagedata.js";
import { RangeMap } from "../util/rangemap.js";

export interface Binding {
  readonly vm: number;
  readonly slot: number;
}

export class GmemInode {
  /** Order-0 folios by page index. */
  readonly cache = new Map<number, Folio>();
  readonly bindings = new RangeMap<Binding>((a, b) => a.vm === b.vm && a.slot === b.slot);
  readonly invalidateLock = new RwLock("filemap_invalidate_lock");
  open = true;

  constructor(
    readonly vm: number,
    readonly size: number,
    readonly flags: readonly GmemFlagName[],
  ) {}

  getOrAlloc(index: number): Folio {
    let f = this.cache.get(index);
    if (f === undefined) {
      f = newFolio(1);
      this.cache.set(index, f);
    }
    return f;
  }
}

export function supportedFlags(kvm: Kvm | undefined, kernelFlags: readonly GmemFlagName[]): GmemFlagName[] {
  return kernelFlags.filter((f) => f === "MMAP" || kvm === undefined || !kvm.hasPrivateMem);
}

/** kvm_gmem_create: validation, then a new inode. */
export function gmemCreate(kvm: Kvm, vmId: number, op: OpOf<"create_gmem">): GmemInode | Outcome {
  const k = kvm.config.kernel;
  if (!k.guestMemfd) return { errno: "ENOTTY" };
  const supported = supportedFlags(kvm, k.gmemFlags);
  if (op.flags.some((f) => !supported.includes(f))) return { errno: "EINVAL" };
  if (op.size === 0 || op.size >= 2 ** 63 || op.size % PAGE_SIZE !== 0) return { errno: "EINVAL" };
  return new GmemInode(vmId, op.size, (["MMAP", "INIT_SHARED"] as const).filter((f) => op.flags.includes(f)));
}

/** kvm_gmem_bind, under the filemap invalidate lock held exclusive. */
export async function gmemBind(inode: GmemInode, vmId: number, slot: number, npages: number, offset: number, h: Hooks): Promise<"ok" | Outcome> {
  if (inode.vm !== vmId) return { errno: "EINVAL" };
  if (offset >= 2 ** 63 || offset % PAGE_SIZE !== 0 || offset + npages * PAGE_SIZE > inode.size) return { errno: "EINVAL" };
  await inode.invalidateLock.write(h);
  try {
    const start = offset / PAGE_SIZE;
    if (inode.bindings.any(start, start + npages)) return { errno: "EINVAL" };
    inode.bindings.set(start, start + npages, { vm: vmId, slot });
    return "ok";
  } finally {
    inode.invalidateLock.writeUnlock();
  }
}

export function gmemUnbind(inode: GmemInode, pgoff: number, npages: number): void {
  inode.bindings.set(pgoff, pgoff + npages, undefined);
}

/** kvm_gmem_get_pfn: the folio for index, or the errno KVM reports. */
export function gmemGetPfn(inode: GmemInode, index: number): { folio: Folio } | { errno: "EFAULT" } {
  if (!inode.open) return { errno: "EFAULT" };
  return { folio: inode.getOrAlloc(index) };
}

/** kvm_gmem_fault_user_mapping. */
export async function gmemHostFault(inode: GmemInode, map: Mapping, index: number, h: Hooks): Promise<FaultResult> {
  const fileIndex = map.backingIndex(index);
  if (fileIndex * PAGE_SIZE >= inode.size || !inode.flags.includes("INIT_SHARED")) return { kind: "signal", signal: "SIGBUS" };
  await h.yield("kvm_gmem_fault_user_mapping");
  const folio = inode.getOrAlloc(fileIndex);
  const writable = map.prot === "rw";
  map.ptes.set(index, { kind: "file", writable, folio });
  return { kind: "mapped", folio, sub: 0, writable };
}

/** do_mmap's generic checks, then kvm_gmem_mmap: MMAP flag and MAP_SHARED required. */
export function gmemMmap(inode: GmemInode, inodeId: number, maps: Map<string, Mapping>, op: OpOf<"gmem_mmap">): Outcome {
  const pages = Math.ceil(op.length / PAGE_SIZE);
  if (op.length === 0 || op.offset % PAGE_SIZE !== 0 || pages * PAGE_SIZE > MAP_STRIDE) return { errno: "EINVAL" };
  if (maps.has(op.map)) return { errno: "EEXIST" };
  if (!inode.flags.includes("MMAP")) return { errno: "ENODEV" };
  if (op.shared === false) return { errno: "EINVAL" };
  maps.set(op.map, new Mapping(op.map, mapBase(op.map), pages, { kind: "gmem", inode: inodeId, offset: op.offset }, true, "rw", 1));
  return { result: "ok" };
}

/** An access through a second shared mapping of the guest_memfd (write_alias / read_alias). */
export function gmemAlias(inode: GmemInode, map: Mapping, op: OpOf<"write_alias"> | OpOf<"read_alias">): Outcome {
  const start = (map.backing.kind === "gmem" ? map.backing.offset : 0) + op.offset;
  const len = op.op === "write_alias" ? (op.len ?? 1) : 1;
  for (let pos = start; pos < start + len; ) {
    const index = Math.floor(pos / PAGE_SIZE);
    const to = Math.min((index + 1) * PAGE_SIZE, start + len);
    if (index * PAGE_SIZE >= inode.size || !inode.flags.includes("INIT_SHARED")) return { result: "SIGBUS" };
    const page = pageOf(inode.getOrAlloc(index), 0);
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
    for (const b of [...inode.bindings.spans()]) {
      const kvm = vms[b.value.vm]!;
      const slot = kvm.memslots.map((m) => m.get(b.value.slot)).find((s) => s !== undefined);
      if (slot === undefined || slot.gmem === null) continue;
      const g0 = slot.baseGfn + b.start - slot.gmem.pgoff;
      await kvm.mmuLock.write(h);
      kvm.invalidateBegin();
      kvm.invalidateRangeAdd(g0, g0 + b.end - b.start);
      kvm.stage2[slot.as]!.zap(g0, g0 + b.end - b.start);
      kvm.invalidateEnd();
      kvm.mmuLock.writeUnlock();
    }
    inode.bindings.clear();
    inode.open = false;
  } finally {
    inode.invalidateLock.writeUnlock();
  }
}
