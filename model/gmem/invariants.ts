// guest_memfd invariants: private pages stay off host page tables, pins block conversion, stage-2 agrees
// with folios and pages, contents survive conversion and punched pages read as zero.
import { fallocMode } from "../mm/falloc.js";
import type { Op } from "../../schema/ops.js";
import type { Outcome } from "../../schema/outcome.js";
import { LEVEL_PAGES, PAGE_SIZE } from "../consts.js";
import type { StateInvariant, StepInvariant, Verdict } from "../invariants.js";
import type { Memslot, Spte } from "../kvm/types.js";
import { covers, some, spans } from "../ranges.js";
import type { State } from "../state.js";
import { gmemOwnsAttributes, rfc2024 } from "./attributes.js";
import { folioRange, inUnsplitHugeFolio } from "./folio.js";
import type { GmemInode } from "./types.js";
import { pkvmMode } from "./pkvm.js";

const ok = (nonVacuous: boolean): Verdict => ({ holds: true, nonVacuous });
const broken = (detail: string): Verdict => ({ holds: false, nonVacuous: true, detail });
const succeeded = (o: Outcome): boolean => "result" in o && o.result === "ok";

/** Every host PTE span over a guest_memfd page: the inode and the file index range it maps. */
export function hostPtes(s: State): { map: string; inode: number; start: number; end: number }[] {
  const out: { map: string; inode: number; start: number; end: number }[] = [];
  for (const map of s.mm.maps.values()) {
    if (map.backing.kind !== "gmem") continue;
    const first = map.backing.offset / PAGE_SIZE;
    for (const p of map.ptes) out.push({ map: map.id, inode: map.backing.inode, start: first + p.start, end: first + p.end });
  }
  return out;
}

const privateNotHostMapped: StateInvariant = {
  name: "gmem-private-not-host-mapped",
  kind: "state",
  // The 2024 RFC makes a range unfaultable before it checks for mappings, and rolls back if there are some.
  when: "quiescent",
  description: "no host page table maps a guest_memfd page the host may not fault (private with in-place conversion, not faultable in the 2024 RFC)",
  check: (s) => {
    const ptes = hostPtes(s);
    // pKVM: a page the guest unshared while the host mapped it waits for the host (KVM_GMEM_NONE_MAPPABLE, model/gmem/pkvm.ts).
    if (pkvmMode(s.config)) return ok(false);
    for (const p of ptes) {
      const inode = s.gmem.inodes[p.inode]!;
      if (!covers(inode.shared, p.start, p.end)) return broken(`${p.map} maps private page(s) of guest_memfd #${p.inode} in [${p.start}, ${p.end})`);
    }
    return ok(ptes.length > 0 && s.gmem.inodes.some((g) => !covers(g.shared, 0, g.size / PAGE_SIZE)));
  },
};

const pinnedShared: StateInvariant = {
  name: "gmem-pinned-shared",
  kind: "state",
  // As above: the RFC's range is briefly unfaultable while a pin makes it roll back.
  when: "quiescent",
  description: "every pinned guest_memfd page is shared: no conversion takes a pinned page private",
  check: (s) => {
    let any = false;
    // As above: pKVM's unshare leaves a pinned page waiting for its last pin.
    if (pkvmMode(s.config)) return ok(false);
    for (const [id, inode] of s.gmem.inodes.entries()) {
      for (const p of inode.pins) {
        any = true;
        if (!covers(inode.shared, p.start, p.end)) return broken(`guest_memfd #${id} page ${p.start} is pinned but private`);
      }
    }
    return ok(any);
  },
};

/** The guest_memfd ranges a conversion op touches: the gmem_convert range, or every bound range of the VM's. */
function convertedRanges(s: State, op: Op): { inode: number; start: number; end: number; toPrivate: boolean }[] {
  if (op.op === "gmem_convert") {
    const id = s.gmem.names.get(op.gmem);
    return id === undefined ? [] : [{ inode: id, start: op.offset / PAGE_SIZE, end: (op.offset + op.size) / PAGE_SIZE, toPrivate: op.to === "private" }];
  }
  if (op.op !== "set_memory_attributes" || !rfc2024(s.config)) return [];
  const vmId = s.kvm.names.get(op.vm);
  const vm = vmId === undefined ? undefined : s.kvm.vms[vmId];
  const gStart = op.address / PAGE_SIZE;
  const gEnd = gStart + op.size / PAGE_SIZE;
  // KVM's no-op shortcut never reaches guest_memfd.
  if (vm === undefined || covers(vm.attributes, gStart, gEnd)) return [];
  return vm.slots.flatMap((slot) => {
    const a = Math.max(gStart, slot.baseGfn);
    const b = Math.min(gEnd, slot.baseGfn + slot.npages);
    if (a >= b || slot.gmem === null || !s.gmem.inodes[slot.gmem.inode]!.open) return [];
    const i0 = slot.gmem.pgoff + a - slot.baseGfn;
    return [{ inode: slot.gmem.inode, start: i0, end: i0 + b - a, toPrivate: op.attributes.includes("PRIVATE") }];
  });
}

const convertRespectsPins: StepInvariant = {
  name: "gmem-convert-pins",
  kind: "step",
  description: "a conversion to private never succeeds while a page of its range is pinned, and a failed one makes no page private",
  check: (pre, op, outcome, post) => {
    const ranges = convertedRanges(pre, op).filter((r) => r.toPrivate);
    let nonVacuous = false;
    for (const r of ranges) {
      const before = pre.gmem.inodes[r.inode];
      const after = post.gmem.inodes[r.inode];
      if (before === undefined || after === undefined) continue;
      const pinned = spans(before.pins, r.start, r.end)[0];
      nonVacuous ||= pinned !== undefined;
      if (succeeded(outcome) && pinned !== undefined) return broken(`${op.op} succeeded with page ${pinned.start} of guest_memfd #${r.inode} pinned`);
      if (!succeeded(outcome) && spans(before.shared, r.start, r.end).some((sp) => !covers(after.shared, sp.start, sp.end))) {
        return broken(`${op.op} failed but made page(s) of guest_memfd #${r.inode} private`);
      }
    }
    return ok(nonVacuous);
  },
};

const noHostMapOfUnsplitFolio: StateInvariant = {
  name: "gmem-host-map-split",
  kind: "state",
  when: "always",
  description: "no host page table maps a page of a huge guest_memfd folio that is not split",
  check: (s) => {
    let any = false;
    for (const p of hostPtes(s)) {
      const inode = s.gmem.inodes[p.inode]!;
      if (inode.folioPages === 1) continue;
      any = true;
      for (let i = p.start; i < p.end; i++) if (inUnsplitHugeFolio(inode, i)) return broken(`host page table maps page ${i} of an unsplit huge folio of guest_memfd #${p.inode}`);
    }
    return ok(any);
  },
};

/** Stage-2 leaves that map guest_memfd pages, with the file index range each covers. */
export function gmemLeaves(s: State): { vm: number; gfn: number; spte: Spte; slot: Memslot; inode: GmemInode; start: number; end: number }[] {
  const out: ReturnType<typeof gmemLeaves> = [];
  for (const [vmId, vm] of s.kvm.vms.entries()) {
    for (const [as, s2] of vm.stage2.entries()) {
      for (const span of s2) {
        const n = LEVEL_PAGES[span.value.level];
        for (let g = span.start; g < span.end; g += n) {
          const slot = vm.slots.find((sl) => sl.as === as && g >= sl.baseGfn && g < sl.baseGfn + sl.npages);
          if (slot === undefined || slot.gmem === null || !(span.value.private || slot.gmemOnly || s.config.arch === "arm64")) continue;
          const start = slot.gmem.pgoff + g - slot.baseGfn;
          out.push({ vm: vmId, gfn: g, spte: span.value, slot, inode: s.gmem.inodes[slot.gmem.inode]!, start, end: start + n });
        }
      }
    }
  }
  return out;
}

const hugeStage2: StateInvariant = {
  name: "gmem-huge-stage2",
  kind: "state",
  when: "always",
  description: "a huge stage-2 mapping of guest_memfd memory covers part of one unsplit, wholly private folio",
  check: (s) => {
    let any = false;
    for (const l of gmemLeaves(s)) {
      if (l.spte.level === 0) continue;
      any = true;
      const f = folioRange(l.inode, l.start);
      if (l.end > f.end || !inUnsplitHugeFolio(l.inode, l.start) || some(l.inode.shared, l.start, l.end)) {
        return broken(`vm #${l.vm} maps gfn ${l.gfn} at level ${l.spte.level} over guest_memfd pages [${l.start}, ${l.end}) that are not one unsplit private folio`);
      }
    }
    return ok(any);
  },
};

const stage2Backed: StateInvariant = {
  name: "gmem-stage2-backed",
  kind: "state",
  when: "always",
  description: "every stage-2 mapping of guest_memfd memory maps pages the file still has (punched pages are unmapped)",
  check: (s) => {
    const leaves = gmemLeaves(s);
    for (const l of leaves) {
      if (!covers(l.inode.present, l.start, l.end)) return broken(`vm #${l.vm} maps gfn ${l.gfn} to guest_memfd pages [${l.start}, ${l.end}) that are not in the file`);
    }
    return ok(leaves.length > 0);
  },
};

const contents: StepInvariant = {
  name: "gmem-contents",
  kind: "step",
  description: "a conversion keeps every guest_memfd page's contents; PUNCH_HOLE empties its range (reads as zero) and keeps every other page",
  check: (pre, op, outcome, post) => {
    if (op.op === "gmem_convert" || (op.op === "set_memory_attributes" && rfc2024(pre.config))) {
      const changed = pre.gmem.inodes.findIndex((g, i) => JSON.stringify([...g.data]) !== JSON.stringify([...post.gmem.inodes[i]!.data]));
      if (changed >= 0) return broken(`${op.op} changed the contents of guest_memfd #${changed}`);
      return ok(succeeded(outcome) && pre.gmem.inodes.some((g) => g.data.size > 0));
    }
    if (op.op !== "gmem_fallocate" || !fallocMode(op.mode).punch || !succeeded(outcome)) return ok(false);
    const id = pre.gmem.names.get(op.gmem)!;
    const start = op.offset / PAGE_SIZE;
    const end = start + op.len / PAGE_SIZE;
    const after = post.gmem.inodes[id]!;
    const left = [...after.data.keys()].find((i) => i >= start && i < end);
    if (left !== undefined || some(after.present, start, end)) return broken(`page ${left ?? spans(after.present, start, end)[0]!.start} of guest_memfd #${id} survived PUNCH_HOLE`);
    // truncate_inode_pages_range frees only the hole: every other page keeps its contents.
    const kept = (g: GmemInode, i: number): string => JSON.stringify([...g.data].filter(([k]) => i !== id || k < start || k >= end));
    const touched = pre.gmem.inodes.findIndex((g, i) => kept(g, i) !== kept(post.gmem.inodes[i]!, i));
    if (touched >= 0) return broken(`PUNCH_HOLE changed contents of guest_memfd #${touched} outside [${start}, ${end})`);
    return ok(some(pre.gmem.inodes[id]!.present, start, end));
  },
};

/**
 * v8 keeps the per-VM attribute ioctl but moves PRIVATE out of it ([PATCH v8 10/46], 17/46): while guest_memfd tracks
 * PRIVATE, a PRIVATE left in a VM's array would be a second home that hugepage and populate paths still read.
 */
const vmPrivateNotInPlace: StateInvariant = {
  name: "vm-attributes-no-private-in-place",
  kind: "state",
  when: "always",
  description: "while guest_memfd tracks PRIVATE (in-place conversion on), no VM's attribute array holds PRIVATE",
  check: (s) => {
    if (!gmemOwnsAttributes(s.config)) return ok(false);
    for (const [id, vm] of s.kvm.vms.entries()) {
      const first = vm.attributes[0];
      if (first !== undefined) return broken(`VM #${id} holds PRIVATE at gfn ${first.start} while guest_memfd tracks it`);
    }
    // Only where the per-VM ioctl exists could anything put PRIVATE there.
    return ok(s.config.kernel.memoryAttributes && s.kvm.vms.length > 0);
  },
};

export const GMEM_STATE_INVARIANTS: readonly StateInvariant[] = [privateNotHostMapped, pinnedShared, noHostMapOfUnsplitFolio, hugeStage2, stage2Backed, vmPrivateNotInPlace];
export const GMEM_STEP_INVARIANTS: readonly StepInvariant[] = [convertRespectsPins, contents];
