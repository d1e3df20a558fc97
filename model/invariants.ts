// Named invariants over states (and over single steps), each saying whether it held and whether it was
// exercised for real (non-vacuous) in the state it checked.
import { match } from "ts-pattern";
import type { Op } from "../schema/ops.js";
import type { Outcome } from "../schema/outcome.js";
import { LEVEL_PAGES, PAGE_SIZE, gfnOf } from "./consts.js";
import { sameCanonical } from "./canonical.js";
import { memIsPrivate, privateSpans } from "./gmem/attributes.js";
import { ALLOC_STEP_INVARIANTS } from "./gmem/alloc-invariants.js";
import { DIRECT_MAP_STATE_INVARIANTS, DIRECT_MAP_STEP_INVARIANTS } from "./gmem/direct-map-invariants.js";
import { vmHasPrivateMem } from "./gmem/file.js";
import { GMEM_STATE_INVARIANTS, GMEM_STEP_INVARIANTS } from "./gmem/invariants.js";
import { DIRTY_STATE_INVARIANTS, DIRTY_STEP_INVARIANTS } from "./kvm/dirty-invariants.js";
import { findSlot } from "./kvm/memslot.js";
import { hvaOf, spteAt } from "./kvm/mmu.js";
import type { Vm } from "./kvm/types.js";
import { userfaultBitSet } from "./kvm/userfault.js";
import { backingIndex, locate, pointerTo, pteTarget, readAt, type PageRef } from "./mm/pages.js";
import { held, hostPointers, stalePte } from "./mm/pointers.js";
import type { Mapping } from "./mm/types.js";
import { get, spans } from "./ranges.js";
import type { State } from "./state.js";
import { UFFD_STEP_INVARIANTS } from "./uffd/invariants.js";

export interface Verdict {
  readonly holds: boolean;
  readonly nonVacuous: boolean;
  readonly detail?: string;
}

export interface StateInvariant {
  readonly name: string;
  readonly kind: "state";
  /** "always": holds at every yield point; "quiescent": only when no operation is in flight. */
  readonly when: "always" | "quiescent";
  readonly description: string;
  readonly check: (s: State) => Verdict;
}

export interface StepInvariant {
  readonly name: string;
  readonly kind: "step";
  readonly description: string;
  readonly check: (pre: State, op: Op, outcome: Outcome, post: State) => Verdict;
}

export type Invariant = StateInvariant | StepInvariant;

const ok = (nonVacuous: boolean): Verdict => ({ holds: true, nonVacuous });
const broken = (detail: string): Verdict => ({ holds: false, nonVacuous: true, detail });

const vmsWithNames = (s: State): [string, Vm][] => s.kvm.vms.map((vm, i) => [[...s.kvm.names].find(([, id]) => id === i)?.[0] ?? `vm#${i}`, vm]);

const memslotsDisjoint: StateInvariant = {
  name: "memslots-disjoint",
  kind: "state",
  when: "always",
  description: "no two memslots of one address space overlap",
  check: (s) => {
    let pairs = false;
    for (const [name, vm] of vmsWithNames(s)) {
      for (const a of vm.slots) {
        for (const b of vm.slots) {
          if (a.slot >= b.slot || a.as !== b.as) continue;
          pairs = true;
          if (a.baseGfn < b.baseGfn + b.npages && b.baseGfn < a.baseGfn + a.npages) return broken(`${name}: slots ${a.slot} and ${b.slot} overlap`);
        }
      }
    }
    return ok(pairs);
  },
};

const stage2InSlot: StateInvariant = {
  name: "stage2-in-slot",
  kind: "state",
  when: "always",
  description: "every stage-2 mapping lies inside one live memslot of its address space and agrees with the PRIVATE attribute (on VMs with private memory)",
  check: (s) => {
    let any = false;
    for (const [name, vm] of vmsWithNames(s)) {
      for (const [as, s2] of vm.stage2.entries()) {
        for (const span of s2) {
          any = true;
          const n = LEVEL_PAGES[span.value.level];
          for (let g = span.start; g < span.end; g += n) {
            const slot = findSlot(vm, as, g);
            if (slot === undefined || g + n > slot.baseGfn + slot.npages) return broken(`${name}: as ${as} gfn ${g} (${n} pages) is mapped outside any memslot`);
            // A VM without private memory never faults privately: attributes (or guest_memfd's tree) do not apply.
            const attr = vmHasPrivateMem(vm) ? privateSpans(s, vm, g, g + n, as) : [];
            const uniform = span.value.private ? attr.length === 1 && attr[0]!.start === g && attr[0]!.end === g + n : attr.length === 0;
            if (!uniform) return broken(`${name}: gfn ${g} is mapped ${span.value.private ? "private" : "shared"} against its attributes`);
          }
        }
      }
    }
    return ok(any);
  },
};

const userfault4K: StateInvariant = {
  name: "userfault-4k",
  kind: "state",
  // kvm_commit_memory_region zaps only after the new flags are published, so huge leaves outlive the flip briefly.
  when: "quiescent",
  description: "while USERFAULT is on, every mapping in the slot is 4 KiB",
  check: (s) => {
    let any = false;
    for (const [name, vm] of vmsWithNames(s)) {
      for (const slot of vm.slots) {
        if (!slot.flags.includes("USERFAULT")) continue;
        for (const span of spans(vm.stage2[slot.as] ?? [], slot.baseGfn, slot.baseGfn + slot.npages)) {
          any = true;
          if (span.value.level !== 0) return broken(`${name}: slot ${slot.slot} has USERFAULT but maps gfn ${span.start} at level ${span.value.level}`);
        }
      }
    }
    return ok(any);
  },
};

const ptesMapTheirPage: StateInvariant = {
  name: "ptes-map-their-page",
  kind: "state",
  when: "always",
  description: "every present host PTE points at the page now at its index: the backing file's cached page, the mapping's own private page, or the zero page",
  check: (s) => {
    let any = false;
    for (const m of s.mm.maps.values()) {
      any ||= m.ptes.length > 0;
      const stale = stalePte(s, m);
      if (stale !== undefined) return broken(stale);
    }
    return ok(any);
  },
};

const stage2MapsCurrentPage: StateInvariant = {
  name: "stage2-maps-current-page",
  kind: "state",
  when: "always",
  description: "every stage-2 leaf points at the page its memslot reaches now: the bound guest_memfd's page, or the page the host PTE at the slot's hva maps",
  check: (s) => {
    let any = false;
    for (const [name, vm] of vmsWithNames(s)) {
      // Slot by slot: adjacent leaves of two slots (two zero-page leaves, say) merge into one span of stage 2.
      for (const slot of vm.slots) {
        for (const span of spans(vm.stage2[slot.as] ?? [], slot.baseGfn, slot.baseGfn + slot.npages)) {
          any = true;
          const where = `${name}: as ${slot.as} gfn ${span.start}`;
          const page = span.value.page;
          if (slot.gmem !== null && (span.value.private || slot.gmemOnly || s.config.arch === "arm64")) {
            const want = pointerTo({ kind: "gmem", inode: slot.gmem.inode, index: slot.gmem.pgoff + span.start - slot.baseGfn }, span.start);
            if (JSON.stringify(page) !== JSON.stringify(want)) return broken(`${where} points at ${JSON.stringify(page)}, not its guest_memfd page ${JSON.stringify(want)}`);
            const d = slot.gmem.pgoff - slot.baseGfn;
            if (!held(s, page, undefined, span.start + d, span.end + d)) return broken(`${where} points at a guest_memfd page the file no longer holds`);
            continue;
          }
          const at = locate(s, hvaOf(slot, span.start));
          if (at === undefined) return broken(`${where} is mapped through an hva no mapping covers`);
          for (const h of hostPointers(at.map, at.index, at.index + span.end - span.start, span.start)) {
            if (h === undefined) return broken(`${where} maps a host page no PTE of ${at.map.id} maps`);
            if (JSON.stringify(h.page) !== JSON.stringify(page)) return broken(`${where} points at ${JSON.stringify(page)} where the host PTE points at ${JSON.stringify(h.page)}`);
          }
        }
      }
    }
    return ok(any);
  },
};

/** The page a mapping page reaches now, without faulting anything in. */
function hostPage(map: Mapping, index: number): PageRef {
  const pte = get(map.ptes, index);
  if (pte !== undefined) return pteTarget(map, index, pte);
  if (get(map.anon, index) === true) return { kind: "anon", map: map.id, index };
  return match(map.backing)
    .returnType<PageRef>()
    .with({ kind: "anon" }, () => ({ kind: "anon", map: map.id, index }))
    .with({ kind: "memfd" }, (b) => ({ kind: "file", file: b.file, index: backingIndex(map, index) }))
    .with({ kind: "gmem" }, (b) => ({ kind: "gmem", inode: b.inode, index: backingIndex(map, index) }))
    .exhaustive();
}

/** Where an access op lands in a state, with the byte offset in the page. */
export function accessTarget(s: State, op: Op): { ref: PageRef; offset: number } | undefined {
  if (op.op === "access") {
    const map = s.mm.maps.get(op.map);
    return map === undefined ? undefined : { ref: hostPage(map, Math.floor(op.offset / PAGE_SIZE)), offset: op.offset % PAGE_SIZE };
  }
  if (op.op !== "vcpu_access" && op.op !== "kvm_access") return undefined;
  const vmId = s.kvm.names.get(op.vm);
  const vm = vmId === undefined ? undefined : s.kvm.vms[vmId];
  const gfn = gfnOf(op.gpa);
  const slot = vm === undefined ? undefined : findSlot(vm, 0, gfn);
  if (vm === undefined || slot === undefined) return undefined;
  // KVM's own accesses always go through the hva (model/kvm/uaccess.ts).
  const isPrivate = op.op === "vcpu_access" && vmHasPrivateMem(vm) && (op.private ?? memIsPrivate(s, vm, gfn));
  if (op.op === "vcpu_access" && slot.gmem !== null && (slot.gmemOnly || isPrivate || s.config.arch === "arm64")) {
    return { ref: { kind: "gmem", inode: slot.gmem.inode, index: slot.gmem.pgoff + gfn - slot.baseGfn }, offset: op.gpa % PAGE_SIZE };
  }
  const at = locate(s, hvaOf(slot, gfn));
  return at === undefined ? undefined : { ref: hostPage(at.map, at.index), offset: op.gpa % PAGE_SIZE };
}

const isRead = (op: Op): boolean => (op.op === "access" && op.kind === "read") || ((op.op === "vcpu_access" || op.op === "kvm_access") && op.kind !== "write");
const isWrite = (op: Op): boolean => (op.op === "access" || op.op === "vcpu_access" || op.op === "kvm_access") && op.kind === "write";
const succeeded = (o: Outcome): boolean => "result" in o && o.result === "ok";

const readsLastWrite: StepInvariant = {
  name: "reads-last-write",
  kind: "step",
  description: "a successful read returns the byte last stored at that location",
  check: (pre, op, outcome) => {
    if (!isRead(op) || !succeeded(outcome)) return ok(false);
    const target = accessTarget(pre, op);
    if (target === undefined) return broken(`${op.op} read succeeded but no page backs that address`);
    const expected = readAt(pre, target.ref, target.offset);
    const got = "value" in outcome ? outcome.value : undefined;
    return got === expected ? ok(expected !== 0) : broken(`${op.op} read ${String(got)} where ${expected} was stored`);
  },
};

const writesStick: StepInvariant = {
  name: "writes-stick",
  kind: "step",
  description: "after a successful write, the location holds the byte written",
  check: (_pre, op, outcome, post) => {
    if (!isWrite(op) || !succeeded(outcome)) return ok(false);
    const target = accessTarget(post, op);
    const byte = "byte" in op ? (op.byte ?? 0) : 0;
    if (target === undefined) return broken(`${op.op} succeeded but reaches no page`);
    const held = readAt(post, target.ref, target.offset);
    return held === byte ? ok(true) : broken(`${op.op} wrote ${byte} but the page holds ${held}`);
  },
};

const CONTROL_OPS = new Set<Op["op"]>(["set_memory_region", "set_memory_attributes", "userfault_set", "userfault_clear", "check_extension", "create_vm"]);
/**
 * Every page's contents, wherever it lives: the state without what a control op may change. Shallow copies, so
 * parts a step left alone stay `===` and compare without a walk (sameCanonical).
 */
const contents = (s: State): unknown => ({
  inodes: s.gmem.inodes.map((g) => ({ ...g, bindings: [], present: [], shared: [], split: [], pins: [] })),
  files: s.mm.files.map((f) => ({ ...f, present: [] })),
  maps: new Map([...s.mm.maps].map(([k, m]) => [k, { ...m, ptes: [] }])),
  uffd: s.uffd,
});

const zapKeepsContents: StepInvariant = {
  name: "zap-keeps-contents",
  kind: "step",
  description: "memslot, attribute and userfault changes (and the zaps they cause) never change page contents",
  check: (pre, op, _outcome, post) => {
    if (!CONTROL_OPS.has(op.op)) return ok(false);
    const zapped = post.kvm.vms.some((vm, i) => !sameCanonical(vm.stage2, pre.kvm.vms[i]?.stage2 ?? vm.stage2));
    if (!sameCanonical(contents(pre), contents(post))) return broken(`${op.op} changed page contents`);
    return ok(zapped && (pre.mm.files.some((f) => f.data.size > 0) || [...pre.mm.maps.values()].some((m) => m.anonData.size > 0) || pre.gmem.inodes.some((g) => g.data.size > 0)));
  },
};

const userfaultExits: StepInvariant = {
  name: "userfault-exits",
  kind: "step",
  description: "a vCPU access to a page whose userfault bit is set never completes without an exit, unless it was already mapped",
  check: (pre, op, outcome) => {
    if (op.op !== "vcpu_access") return ok(false);
    const vmId = pre.kvm.names.get(op.vm);
    const vm = vmId === undefined ? undefined : pre.kvm.vms[vmId];
    const gfn = gfnOf(op.gpa);
    const slot = vm === undefined ? undefined : findSlot(vm, 0, gfn);
    if (vm === undefined || slot === undefined || !userfaultBitSet(vm, slot, gfn)) return ok(false);
    const spte = spteAt(vm, 0, gfn);
    const premapped = spte !== undefined && (op.kind !== "write" || spte.writable);
    if (succeeded(outcome) && !premapped) return broken(`vcpu_access to gfn ${gfn} completed although its userfault bit is set`);
    return ok(true);
  },
};

/**
 * The USERFAULT 0->1 toggle is how a VMM that did not start with KVM_MEM_USERFAULT (a poisoned page, a late
 * post-copy) makes KVM see its bits: after it, no stage-2 mapping of the slot may reach a page whose bit is set.
 */
const userfaultEnableUnmaps: StepInvariant = {
  name: "userfault-enable-unmaps",
  kind: "step",
  description: "after KVM_MEM_USERFAULT is turned on, no stage-2 mapping of the slot reaches a page whose userfault bit is set",
  check: (pre, op, outcome, post) => {
    if (op.op !== "set_memory_region" || !succeeded(outcome)) return ok(false);
    const vmId = post.kvm.names.get(op.vm);
    const vm = vmId === undefined ? undefined : post.kvm.vms[vmId];
    const slot = vm?.slots.find((sl) => sl.slot === op.slot);
    const before = vmId === undefined ? undefined : pre.kvm.vms[vmId]?.slots.find((sl) => sl.slot === op.slot);
    if (vm === undefined || slot === undefined || !slot.flags.includes("USERFAULT") || before === undefined || before.flags.includes("USERFAULT")) return ok(false);
    for (const span of spans(vm.stage2[slot.as] ?? [], slot.baseGfn, slot.baseGfn + slot.npages)) {
      for (let gfn = span.start; gfn < span.end; gfn++) {
        if (userfaultBitSet(vm, slot, gfn)) return broken(`gfn ${gfn} is still mapped after KVM_MEM_USERFAULT was turned on with its bit set`);
      }
    }
    return ok(true);
  },
};

export const STATE_INVARIANTS: readonly StateInvariant[] = [
  memslotsDisjoint, stage2InSlot, userfault4K, ...GMEM_STATE_INVARIANTS, ptesMapTheirPage, stage2MapsCurrentPage, ...DIRTY_STATE_INVARIANTS,
  ...DIRECT_MAP_STATE_INVARIANTS,
];
export const STEP_INVARIANTS: readonly StepInvariant[] = [
  readsLastWrite, writesStick, zapKeepsContents, userfaultExits, userfaultEnableUnmaps,
  ...DIRTY_STEP_INVARIANTS, ...GMEM_STEP_INVARIANTS, ...ALLOC_STEP_INVARIANTS, ...UFFD_STEP_INVARIANTS,
  ...DIRECT_MAP_STEP_INVARIANTS,
];
export const INVARIANTS: readonly Invariant[] = [...STATE_INVARIANTS, ...STEP_INVARIANTS];
