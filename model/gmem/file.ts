// guest_memfd files: create, bind to memslots, KVM's get_pfn, host faults, mmap, release (current tree), with
// the host-fault gate of the conversion designs (v7's attribute tree, the 2024 RFC's faultability).
import { decodeFlags, GMEM_FLAG_BITS, hasOther, MEMSLOT_FLAG_BITS } from "../../schema/flags.js";
import type { OpOf } from "../../schema/ops.js";
import { BUS_ADRERR } from "../../schema/outcome.js";
import { pagePieces } from "../bytes.js";
import { bound, beyond, outside } from "../bound.js";
import { PAGE_SIZE, isPageAligned } from "../consts.js";
import { fdOf, ioctlTarget, unbindName } from "../fd.js";
import { replaceAt, withEntry, withoutEntry } from "../immutable.js";
import type { Memslot, Vm } from "../kvm/types.js";
import { FAULT_RULES, withMap, type HostFault } from "../mm/fault.js";
import { mapBase } from "../mm/layout.js";
import type { MmapArgs } from "../mm/ops.js";
import { backingIndex, pteOf, readAt, writeAt } from "../mm/pages.js";
import type { Mapping } from "../mm/types.js";
import { EMPTY_RANGES, assign, get, spans } from "../ranges.js";
import { check, rule, validate, type Rule } from "../rules.js";
import { refuse, result, withPassed, type State, type StepResult } from "../state.js";
import { rfc2024 as rfc, v7, v8 } from "../sources.js";
import { gmemOwnsAttributes, rfc2024 } from "./attributes.js";
import { folioPagesOf, getFolio } from "./folio.js";
import { DIRECT_MAP_RULES, prepareFolio, secretFields } from "./direct-map.js";
import { zapBindings } from "./invalidate.js";
import type { GmemInode } from "./types.js";

const G = "virt/kvm/guest_memfd.c";

export const GMEM_RULES = {
  badVm: rule("gmem.create-ebadf", "fs/file.c (fget)", "the vm fd is not open", "EBADF"),
  noGmem: rule("gmem.create-enotty", "virt/kvm/kvm_main.c (kvm_vm_ioctl): no CONFIG_KVM_GUEST_MEMFD", "KVM_CREATE_GUEST_MEMFD is not built in", "ENOTTY"),
  createFlags: rule(
    "gmem.create-flags",
    `${G} (kvm_gmem_create: flags & ~kvm_gmem_get_supported_flags); include/linux/kvm_host.h (kvm_gmem_get_supported_flags)`,
    "a flag this VM does not support (a bit KVM does not know; INIT_SHARED needs a VM without private memory)",
    "EINVAL",
  ),
  createReservedUnread: rule(
    "gmem.create-reserved-unread",
    `${G} (kvm_gmem_create reads size and flags only); virt/kvm/kvm_main.c (kvm_vm_ioctl: KVM_CREATE_GUEST_MEMFD)`,
    "kvm_create_guest_memfd's reserved[6] is never checked: nonzero words change nothing",
  ),
  createSize: rule("gmem.create-size", `${G} (kvm_gmem_create)`, "size is 0, negative as loff_t, or not page aligned", "EINVAL"),
  // The 2024 RFC (14/39, kvm_gmem_hugetlb_setup) rounded the reservation up instead; faultline refuses under every
  // design, since a huge folio reaching past i_size is not modelled (docs/GMEM.md).
  createHugeSize: rule(
    "gmem.create-huge-size",
    "[RFC PATCH v2 29/51] mm: guestmem_hugetlb: Wrap HugeTLB as an allocator for guest_memfd " +
      "(b3c2da681c5bf139e2eaf0ea82c7422f972f6288.1747264138.git.ackerleytng@google.com) (guestmem_hugetlb_setup: IS_ALIGNED)",
    "with huge folios the size must be a multiple of the folio size",
    "EINVAL",
  ),
  create: rule("gmem.create", `${G} (__kvm_gmem_create)`, "a new guest_memfd inode of fixed size"),
  bindBadFd: rule("gmem.bind-ebadf", `${G} (kvm_gmem_bind)`, "guest_memfd is not an open fd", "EBADF"),
  bindNotGmem: rule("gmem.bind-not-gmem", `${G} (kvm_gmem_bind)`, "the fd is not a guest_memfd (or no fd was given)", "EINVAL"),
  bindOtherVm: rule("gmem.bind-other-vm", `${G} (kvm_gmem_bind)`, "the guest_memfd belongs to another VM", "EINVAL"),
  bindRange: rule("gmem.bind-range", `${G} (kvm_gmem_bind)`, "guest_memfd_offset negative, unaligned, or the slot runs past i_size", "EINVAL"),
  bindOverlap: rule("gmem.bind-overlap", `${G} (kvm_gmem_bind)`, "part of the range is already bound to a memslot", "EINVAL"),
  bind: rule("gmem.bind", `${G} (kvm_gmem_bind)`, "the slot is bound; GMEM_ONLY if the file has MMAP"),
  bindFaultable: rule(
    "gmem.bind-faultable",
    `${rfc(28)} (kvm_gmem_bind: kvm_gmem_set_default_faultability_by_vm_type)`,
    "2024 RFC: binding sets the range's faultability by VM type: faultable for a software-protected VM, unfaultable for any other",
  ),
  pfnClosed: rule("gmem.get-pfn-closed", `${G} (kvm_gmem_get_pfn)`, "the guest_memfd was closed: no file behind the slot", "EFAULT"),
  pfn: rule("gmem.get-pfn", `${G} (kvm_gmem_get_pfn, kvm_gmem_get_folio)`, "KVM gets the page, allocating and zeroing it on first use"),
  hostEof: rule("gmem.host-fault-eof", `${G} (kvm_gmem_fault_user_mapping)`, "host fault at or beyond i_size: SIGBUS"),
  hostFolioLock: rule(
    "gmem.rfc-fault-folio-lock",
    `Peter Xu on ${rfc(26)} (Zw7f3YrzqnH-iWwf@x1n): "take the folio lock to modify/lookup the folio's faultability"; ${rfc(27)} (kvm_gmem_fault: kvm_gmem_get_folio returns it locked)`,
    "2024 RFC with gmemFaultLock \"folio\": the host fault grabs the folio (allocating it) and reads faultability under the folio lock; an unfaultable page SIGBUSes with the folio allocated",
  ),
  hostNotShared: rule(
    "gmem.host-fault-private",
    `${G} (kvm_gmem_fault_user_mapping); ${v8(1)}; ${v7(1)}; ${rfc(27)} (kvm_gmem_fault)`,
    "host fault on a page guest_memfd keeps from the host (no INIT_SHARED; in-place conversion: PRIVATE; 2024 RFC: not faultable): SIGBUS",
  ),
  hostFault: rule("gmem.host-fault", `${G} (kvm_gmem_fault_user_mapping)`, "host fault maps the guest_memfd page, allocating it zeroed"),
  mmapBadFd: rule("gmem.mmap-ebadf", "fs/file.c (fget)", "the guest_memfd fd is not open", "EBADF"),
  mmapNoFlag: rule("gmem.mmap-enodev", `${G} (kvm_gmem_mmap)`, "mmap of a guest_memfd created without GUEST_MEMFD_FLAG_MMAP", "ENODEV"),
  mmapPrivate: rule("gmem.mmap-private", `${G} (kvm_gmem_mmap)`, "a guest_memfd mapping must be MAP_SHARED", "EINVAL"),
  mmap: rule("gmem.mmap", `${G} (kvm_gmem_mmap)`, "the guest_memfd is mapped at the map's window"),
  alias: rule("gmem.alias", `${G} (kvm_gmem_fault_user_mapping)`, "an access through a second mapping of the guest_memfd takes the host fault path"),
  release: rule("gmem.release", `${G} (kvm_gmem_release)`, "the last reference goes (close, or munmap of the last mapping after close): every memslot is unbound and its SPTEs zapped; later faults get EFAULT exits"),
  closeMapped: rule("gmem.close-mapped", "fs/file.c (close_fd, fput); mm/mmap.c (vm_file holds a reference)", "closing the fd while a mapping holds the file: nothing is released yet"),
};

export const vmHasPrivateMem = (vm: Vm): boolean => vm.type === 1;

/**
 * kvm_gmem_get_supported_flags; INIT_SHARED for CoCo VMs once attributes live in guest_memfd ([PATCH v8 25/46], v7 19/42).
 * WRITE goes with INIT_SHARED (the write() series v7); NO_DIRECT_MAP with the arch alone (gmem.no-direct-map-flag).
 */
export function supportedGmemFlags(s: State, vm: Vm | undefined): readonly GmemInode["flags"][number][] {
  const always = (f: string): boolean => f === "MMAP" || f === "NO_DIRECT_MAP";
  return s.config.kernel.gmemFlags.filter((f) => always(f) || vm === undefined || !vmHasPrivateMem(vm) || gmemOwnsAttributes(s.config));
}

/** Where a binding ends in the file, against the file's size (kvm_gmem_bind: offset + size > i_size_read). */
const bindExtent = (offset: number, npages: number, inode: GmemInode): { value: number; limit: number } => ({ value: offset + npages * PAGE_SIZE, limit: inode.size });

/** The bounds of guest_memfd creation and binding: the file's size below 2^63, a binding inside the file. */
export const GMEM_BOUNDS = {
  createSize: bound({
    rule: GMEM_RULES.createSize,
    ops: ["create_gmem"],
    unit: PAGE_SIZE,
    unitName: "page",
    limitName: "2^63 (loff_t)",
    accepts: "lt",
    measure: (_s, op) => (op.size > 0 && isPageAligned(op.size) ? { value: op.size, limit: 2 ** 63 } : undefined),
  }),
  bindRange: bound({
    rule: GMEM_RULES.bindRange,
    ops: ["set_memory_region"],
    unit: PAGE_SIZE,
    unitName: "page",
    limitName: "the guest_memfd's size",
    accepts: "le",
    measure: (s, op) => {
      const id = op.guest_memfd === undefined ? undefined : s.gmem.names.get(op.guest_memfd);
      const offset = op.guest_memfd_offset ?? 0;
      // Only a CREATE binds: a request for a slot that exists never reaches kvm_gmem_bind.
      const vmId = s.kvm.names.get(op.vm);
      const exists = vmId !== undefined && s.kvm.vms[vmId]!.slots.some((sl) => sl.slot === op.slot);
      if (!decodeFlags(op.flags, MEMSLOT_FLAG_BITS).names.includes("GUEST_MEMFD") || id === undefined || exists || op.memory_size === 0 || offset >= 2 ** 63 || !isPageAligned(offset)) return undefined;
      return bindExtent(offset, op.memory_size / PAGE_SIZE, s.gmem.inodes[id]!);
    },
  }),
};

export const withInode = (s: State, id: number, inode: GmemInode): State => ({ ...s, gmem: { ...s.gmem, inodes: replaceAt(s.gmem.inodes, id, inode) } });

export function createGmem(s: State, op: OpOf<"create_gmem">): StepResult {
  const r = kvmGmemCreate(s, op);
  return (op.reserved ?? []).some((w) => w !== 0) ? { ...r, fired: [GMEM_RULES.createReservedUnread.id, ...r.fired] } : r;
}

function kvmGmemCreate(s: State, op: OpOf<"create_gmem">): StepResult {
  const target = ioctlTarget(s, op.vm, "vm", GMEM_RULES.badVm);
  if (!target.ok) return refuse(s, target.rule);
  const vmId = target.id;
  const vm = s.kvm.vms[vmId]!;
  const supported = supportedGmemFlags(s, vm);
  const flags = decodeFlags(op.flags, GMEM_FLAG_BITS);
  const folioPages = folioPagesOf(s.config);
  const v = validate([
    check(GMEM_RULES.noGmem, () => !s.config.kernel.guestMemfd),
    check(GMEM_RULES.createFlags, () => hasOther(flags, supported)),
    check(GMEM_RULES.createSize, () => op.size === 0 || !isPageAligned(op.size) || outside(GMEM_BOUNDS.createSize, s, op)),
    check(GMEM_RULES.createHugeSize, () => op.size % (folioPages * PAGE_SIZE) !== 0),
  ]);
  if (v.failure !== undefined) return withPassed(refuse(s, v.failure), v.passed);
  const inode: GmemInode = {
    vm: vmId,
    size: op.size,
    flags: flags.names,
    fd: true,
    open: true,
    folioPages,
    present: EMPTY_RANGES,
    data: new Map(),
    bindings: EMPTY_RANGES,
    shared: flags.names.includes("INIT_SHARED") ? assign(EMPTY_RANGES, 0, op.size / PAGE_SIZE, true) : EMPTY_RANGES,
    split: EMPTY_RANGES,
    pins: EMPTY_RANGES,
    ...secretFields(flags.names),
  };
  const id = s.gmem.inodes.length;
  const t = unbindName(s, op.gmem);
  const secret = flags.names.includes("NO_DIRECT_MAP") ? [DIRECT_MAP_RULES.flag] : [];
  return result({ ...t, gmem: { inodes: [...t.gmem.inodes, inode], names: withEntry(t.gmem.names, op.gmem, id) } }, { result: "ok" }, ...secret, GMEM_RULES.create);
}

export type BindOutcome =
  | { readonly ok: true; readonly state: State; readonly slot: Memslot; readonly fired: readonly Rule[] }
  | { readonly ok: false; readonly rule: Rule };

/** kvm_gmem_bind for a slot being created (its gmem field is filled in here). */
export function gmemBind(s: State, vmId: number, slot: Memslot, name: string | undefined, offset: number): BindOutcome {
  if (name === undefined) return { ok: false, rule: GMEM_RULES.bindNotGmem };
  const ref = fdOf(s, name);
  if (ref === undefined) return { ok: false, rule: GMEM_RULES.bindBadFd };
  if (ref.kind !== "gmem") return { ok: false, rule: GMEM_RULES.bindNotGmem };
  const id = ref.id;
  const inode = s.gmem.inodes[id]!;
  const start = offset / PAGE_SIZE;
  const v = validate([
    check(GMEM_RULES.bindOtherVm, () => inode.vm !== vmId),
    check(GMEM_RULES.bindRange, () => offset >= 2 ** 63 || !isPageAligned(offset) || beyond(GMEM_BOUNDS.bindRange.accepts, bindExtent(offset, slot.npages, inode))),
    check(GMEM_RULES.bindOverlap, () => spans(inode.bindings, start, start + slot.npages).length > 0),
  ]);
  if (v.failure !== undefined) return { ok: false, rule: v.failure };
  const end = start + slot.npages;
  const bound: GmemInode = { ...inode, bindings: assign(inode.bindings, start, end, { vm: vmId, slot: slot.slot }) };
  // The RFC sets the default faultability at bind, by VM type (a CoCo VM's memory starts private).
  const byType = rfc2024(s.config);
  const faultable = vmHasPrivateMem(s.kvm.vms[vmId]!) ? true : undefined;
  const next = byType ? { ...bound, shared: assign(bound.shared, start, end, faultable) } : bound;
  const fired = byType ? [GMEM_RULES.bindFaultable] : [];
  return { ok: true, state: withInode(s, id, next), slot: { ...slot, gmem: { inode: id, pgoff: start }, gmemOnly: inode.flags.includes("MMAP") }, fired };
}

/** kvm_gmem_unbind when a slot is freed. */
export function gmemUnbind(s: State, slot: Memslot): State {
  if (slot.gmem === null) return s;
  const inode = s.gmem.inodes[slot.gmem.inode]!;
  return withInode(s, slot.gmem.inode, { ...inode, bindings: assign(inode.bindings, slot.gmem.pgoff, slot.gmem.pgoff + slot.npages, undefined) });
}

export type PfnOutcome =
  | { readonly ok: true; readonly state: State; readonly inode: number; readonly index: number; readonly fired: readonly Rule[] }
  | { readonly ok: false; readonly rule: Rule };

/** kvm_gmem_get_pfn for gfn of a bound slot. */
export function gmemGetPfn(s: State, slot: Memslot & { gmem: NonNullable<Memslot["gmem"]> }, gfn: number): PfnOutcome {
  const inode = s.gmem.inodes[slot.gmem.inode]!;
  if (!inode.open) return { ok: false, rule: GMEM_RULES.pfnClosed };
  const index = slot.gmem.pgoff + gfn - slot.baseGfn;
  const prepared = prepareFolio(getFolio(inode, index), index, DIRECT_MAP_RULES.zapGetPfn);
  return { ok: true, state: withInode(s, slot.gmem.inode, prepared.inode), inode: slot.gmem.inode, index, fired: prepared.fired };
}

/** kvm_gmem_fault_user_mapping: a host access through a guest_memfd mapping. */
export function gmemHostFault(s: State, map: Mapping, index: number, _write: boolean): HostFault {
  if (map.backing.kind !== "gmem") throw new Error("not a guest_memfd mapping");
  const id = map.backing.inode;
  const inode = s.gmem.inodes[id]!;
  const fileIndex = backingIndex(map, index);
  if (fileIndex * PAGE_SIZE >= inode.size) return { kind: "signal", signal: BUS_ADRERR, fired: [GMEM_RULES.hostEof] };
  // Peter Xu's alternative to the RFC's fault lock: the folio is grabbed (allocated, locked) first and faultability read
  // under its lock, so an unfaultable page SIGBUSes with its folio left in the page cache.
  const folioFirst = rfc2024(s.config) && s.config.gmemFaultLock === "folio";
  if (get(inode.shared, fileIndex) !== true) {
    if (!folioFirst) return { kind: "signal", signal: BUS_ADRERR, fired: [GMEM_RULES.hostNotShared] };
    return { kind: "signal", signal: BUS_ADRERR, fired: [GMEM_RULES.hostFolioLock, GMEM_RULES.hostNotShared], state: withInode(s, id, getFolio(inode, fileIndex)) };
  }
  const prepared = prepareFolio(getFolio(inode, fileIndex), fileIndex, DIRECT_MAP_RULES.zapFault);
  const allocated = withInode(s, id, prepared.inode);
  const writable = map.prot === "rw";
  const state = withMap(allocated, { ...map, ptes: assign(map.ptes, index, index + 1, pteOf(map, index, "file", writable)) });
  return { kind: "mapped", state, ref: { kind: "gmem", inode: id, index: fileIndex }, writable, fired: [FAULT_RULES.fileFault, ...prepared.fired, GMEM_RULES.hostFault] };
}

/** kvm_gmem_mmap, once sys_mmap and do_mmap have checked the offset, the fd, the length and the window (mm/ops.ts mmap). */
export function gmemMmap(s: State, a: MmapArgs, id: number): StepResult {
  const inode = s.gmem.inodes[id]!;
  const v = validate([check(GMEM_RULES.mmapNoFlag, () => !inode.flags.includes("MMAP")), check(GMEM_RULES.mmapPrivate, () => !a.shared)]);
  if (v.failure !== undefined) return withPassed(refuse(s, v.failure), v.passed);
  const pages = Math.ceil(a.length / PAGE_SIZE);
  const map: Mapping = {
    id: a.map,
    base: mapBase(a.map),
    pages,
    backing: { kind: "gmem", inode: id, offset: a.offset },
    shared: true,
    prot: a.prot,
    live: assign(EMPTY_RANGES, 0, pages, true),
    ptes: EMPTY_RANGES,
    anon: EMPTY_RANGES,
    anonData: new Map(),
  };
  return result(withMap(s, map), { result: "ok" }, GMEM_RULES.mmap);
}

/**
 * write_alias / read_alias on a guest_memfd mapping: a second shared mapping faulting through the host path, page
 * by page; a page it may not fault (past EOF, not shared) is a SIGBUS, and the pages stored before it keep the bytes.
 */
export function gmemAlias(s: State, op: OpOf<"write_alias"> | OpOf<"read_alias">, map: Mapping): StepResult {
  if (map.backing.kind !== "gmem") throw new Error("not a guest_memfd mapping");
  const id = map.backing.inode;
  const len = op.op === "write_alias" ? (op.len ?? 1) : 1;
  let next = s;
  for (const p of pagePieces(map.backing.offset + op.offset, len)) {
    const inode = next.gmem.inodes[id]!;
    if (p.index * PAGE_SIZE >= inode.size) return result(next, BUS_ADRERR, GMEM_RULES.alias, GMEM_RULES.hostEof);
    if (get(inode.shared, p.index) !== true) return result(next, BUS_ADRERR, GMEM_RULES.alias, GMEM_RULES.hostNotShared);
    next = withInode(next, id, prepareFolio(getFolio(inode, p.index), p.index, DIRECT_MAP_RULES.zapFault).inode);
    if (op.op === "read_alias") return result(next, { result: "ok", value: readAt(next, { kind: "gmem", inode: id, index: p.index }, p.from) }, GMEM_RULES.alias);
    next = writeAt(next, { kind: "gmem", inode: id, index: p.index }, p.from, p.to, op.op === "write_alias" ? (op.byte ?? 0) : 0);
  }
  return result(next, { result: "ok" }, GMEM_RULES.alias);
}

/** Some mapping still holds the file. */
const mappedBy = (s: State, id: number): boolean => [...s.mm.maps.values()].some((m) => m.backing.kind === "gmem" && m.backing.inode === id);

/** kvm_gmem_release: zap every bound range and unbind it; the file is gone. */
function release(s: State, id: number): State {
  const zapped = zapBindings(s, id, 0, Number.MAX_SAFE_INTEGER);
  return withInode(zapped, id, { ...zapped.gmem.inodes[id]!, open: false, bindings: EMPTY_RANGES });
}

/** close drops the fd; release waits for the last reference, and every mapping of the file holds one (vm_file). */
export function closeGmem(s: State, name: string): StepResult {
  const id = s.gmem.names.get(name)!;
  const unnamed = { ...s, gmem: { ...s.gmem, names: withoutEntry(s.gmem.names, name) } };
  const closed = withInode(unnamed, id, { ...s.gmem.inodes[id]!, fd: false });
  if (mappedBy(s, id)) return result(closed, { result: "ok" }, GMEM_RULES.closeMapped);
  return result(release(closed, id), { result: "ok" }, GMEM_RULES.release);
}

/** After a munmap: a guest_memfd whose fd is closed goes once its last mapping does (the final fput). */
export function releaseUnmapped(s: State, r: StepResult, mapId: string): StepResult {
  const map = s.mm.maps.get(mapId);
  if (map?.backing.kind !== "gmem" || r.state.mm.maps.has(mapId)) return r;
  const id = map.backing.inode;
  const inode = r.state.gmem.inodes[id]!;
  if (inode.fd || mappedBy(r.state, id) || !inode.open) return r;
  return { ...r, state: release(r.state, id), fired: [...r.fired, GMEM_RULES.release.id] };
}
